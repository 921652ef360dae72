package app

import (
	"context"
	"time"
)

// Store is the vault: Carnet's encrypted local cache of patient records, the
// outbox of documents written in Carnet, the sync cursors, the settings and the
// audit log. It is implemented by package app/vault.
//
// A Store starts locked. Every method that touches patient data returns an
// error wrapping ErrLocked until Unlock succeeds, and again after Lock. Lock
// wipes the keys and drops every decrypted cache.
type Store interface {
	// Exists reports whether a vault has been created.
	Exists() bool
	// Create makes a new vault protected by passphrase and leaves it
	// unlocked. It fails with ErrVaultExists when one exists.
	Create(ctx context.Context, passphrase []byte, opt CreateOptions) error
	// Unlock opens the vault's keys with passphrase and loads the patient
	// directory. It fails with ErrWrongPassphrase, ErrDamaged or
	// ErrNewerFormat.
	Unlock(ctx context.Context, passphrase []byte) (UnlockReport, error)
	// Lock wipes the keys and drops the directory and every decrypted cache.
	Lock()
	// Locked reports whether the vault is locked.
	Locked() bool
	// ChangePassphrase rewrites the passphrase key slot, whatever the size
	// of the vault.
	ChangePassphrase(ctx context.Context, old, new []byte) error
	// Recover resets the passphrase with the clinic's recovery private key
	// (armored OpenPGP, itself protected by keyPassphrase), when the vault
	// has a recovery slot. The vault is left unlocked.
	Recover(ctx context.Context, privateKey, keyPassphrase, newPassphrase []byte) error
	// InspectRecoveryKey checks a clinic recovery public key (armored
	// OpenPGP) and describes it, so that the user can compare its
	// fingerprint with the one the clinic's IT published. A private key
	// fails with ErrPrivateKey, anything else unusable with ErrInvalid.
	InspectRecoveryKey(publicKey []byte) (RecoveryKeyInfo, error)

	// SearchPatients searches the directory (see Directory.Search).
	SearchPatients(ctx context.Context, query string, limit int) ([]Patient, error)
	// Patient returns one patient of the directory.
	Patient(ctx context.Context, id PatientID) (Patient, error)
	// Patients returns the whole directory, sorted by name.
	Patients(ctx context.Context) ([]Patient, error)
	// PatientsByINS returns the patients of the directory carrying ins
	// (Directory.ByINS): a lookup by key, none when nobody does.
	PatientsByINS(ctx context.Context, ins INS) ([]Patient, error)

	// Manifest returns a patient's cached document list.
	Manifest(ctx context.Context, id PatientID) (Manifest, error)
	// Document returns the content of a cached document.
	Document(ctx context.Context, id PatientID, doc DocumentID) ([]byte, error)
	// Cursor returns a sync cursor; the zero Cursor when none was stored.
	Cursor(ctx context.Context, id PatientID, stream string) (Cursor, error)
	// Outbox returns every outbox item, oldest first.
	Outbox(ctx context.Context) ([]OutboxItem, error)
	// Declarations returns the medications the patient declared (see
	// declare.go; written through Batch.Declarations), oldest first; none
	// when nothing was declared.
	Declarations(ctx context.Context, id PatientID) ([]Declaration, error)
	// PreopDecisions returns the patient's saved pre-operative inputs and
	// decisions (see preopsaved.go; written through Batch.Preop); an empty
	// record when none was saved.
	PreopDecisions(ctx context.Context, id PatientID) (PreopRecord, error)

	// Secure messaging (see mail.go; written through Batch).
	// MailState returns a mailbox's sync point; the zero state (with
	// Account and Mailbox set) when none was stored.
	MailState(ctx context.Context, account, mailbox string) (MailboxState, error)
	// MailRecord returns the record of a handled message, and whether one
	// exists.
	MailRecord(ctx context.Context, key string) (MailRecord, bool, error)
	// Inbox returns the manual queue and the quarantine, oldest first.
	Inbox(ctx context.Context) ([]InboxItem, error)
	// RawMessage returns a sealed raw message (ErrNotFound when absent or
	// dropped by retention).
	RawMessage(ctx context.Context, key string) (RawMessage, error)
	// MailSecret returns the password or access token sealed for a
	// secure mailbox account (the BAL address); ErrNotFound when none.
	MailSecret(ctx context.Context, account string) ([]byte, error)
	// SaveMailSecret seals the secret of a mailbox account; an empty
	// secret forgets it.
	SaveMailSecret(ctx context.Context, account string, secret []byte) error
	// Write applies a batch in one transaction.
	Write(ctx context.Context, b *Batch) error
	// Purge forgets a patient by crypto-shredding: the patient's data key is
	// destroyed first, then the records and the directory entry. A patient
	// with outbox items is refused (ErrConflict).
	Purge(ctx context.Context, id PatientID) error

	// Settings returns the vault's settings (defaults when never saved).
	Settings(ctx context.Context) (Settings, error)
	// SaveSettings stores the settings.
	SaveSettings(ctx context.Context, s Settings) error

	// Record appends an event to the hash-chained audit log.
	Record(ctx context.Context, e AuditEvent) error
	// Audit returns the audit events matching f, oldest first.
	Audit(ctx context.Context, f AuditFilter) ([]AuditEvent, error)

	// Check opens every record and verifies that manifests, documents and
	// directory agree and that the audit chain is intact.
	Check(ctx context.Context) (CheckReport, error)
	// Compact rewrites the file without its free pages.
	Compact(ctx context.Context) (CompactReport, error)
	// Stats returns the file's size and free space.
	Stats(ctx context.Context) (StoreStats, error)
	// Close closes the file (locking first).
	Close() error
}

// CreateOptions are the choices made when a vault is created.
type CreateOptions struct {
	// RecoveryKey is the clinic's recovery OpenPGP public key (armored), or
	// nil for no recovery slot.
	RecoveryKey []byte
}

// RecoveryKeyInfo describes a clinic recovery public key.
type RecoveryKeyInfo struct {
	UserID      string // "Clinique … <dsi@…>"
	Fingerprint string // hex, upper case, no spaces
}

// UnlockReport says what happened at unlock beside opening the keys.
type UnlockReport struct {
	Patients      int       // patients in the directory
	KDFUpgraded   bool      // the key derivation was below policy and was strengthened
	Warnings      []Warning // conditions the user should know about
	KDFDuration   time.Duration
	HasRecovery   bool // the vault has a recovery slot
	FormatVersion int
}

// Warning is a condition that does not stop Carnet but that the user or the
// clinic's IT should know about.
type Warning string

// The warnings.
const (
	// WarnNoKeyring: no OS keyring answered; the device secret lives in a
	// 0600 file beside the vault, so a copy of the folder is enough to try
	// passphrases offline.
	WarnNoKeyring Warning = "no-keyring"
	// WarnNoRecovery: the vault has no recovery slot; a lost passphrase loses
	// unsynced work.
	WarnNoRecovery Warning = "no-recovery"
	// WarnDamagedRecords: some directory records of the vault are damaged;
	// their patients are left out of the directory until re-synced. Check
	// lists the problems.
	WarnDamagedRecords Warning = "damaged-records"
	// WarnAuditGap: entries of the audit log were cut, wiped or replaced
	// by someone holding the file; the gap is recorded for good and
	// "carnet vault check" lists it.
	WarnAuditGap Warning = "audit-gap"
	// WarnOlderVault: the user chose to open a vault file older than the
	// last one used on this computer (see ErrOlderVault).
	WarnOlderVault Warning = "older-vault"
	// WarnLeftovers: temporary files of an interrupted operation (a
	// compaction copy, a half-built vault, a staged secret) were found
	// beside the vault and removed.
	WarnLeftovers Warning = "leftovers"
)

// OlderVaultAcceptor is implemented by a Store that refuses an older copy
// of itself with ErrOlderVault: AcceptOlderOnce lets the next unlock open
// it anyway (and makes it the reference from then on).
type OlderVaultAcceptor interface {
	AcceptOlderOnce()
}

// Settings are the vault's user-adjustable settings.
type Settings struct {
	AutoLock         time.Duration // idle time before locking; 1 to 60 minutes
	Reauth           time.Duration // full re-authentication at least this often
	RetentionDays    int           // purge patients not consulted for this many days
	RevalidationDays int           // cached records unreadable after this many days without online check
}

// DefaultSettings are the settings of a new vault.
func DefaultSettings() Settings {
	return Settings{AutoLock: 5 * time.Minute, Reauth: 12 * time.Hour, RetentionDays: 30, RevalidationDays: 7}
}

// Validate checks that settings are within the bounds a clinic may choose.
func (s Settings) Validate() error {
	switch {
	case s.AutoLock < time.Minute || s.AutoLock > time.Hour:
		return errorf("settings: auto-lock must be 1 to 60 minutes: %w", ErrInvalid)
	case s.Reauth < time.Hour || s.Reauth > 12*time.Hour:
		return errorf("settings: re-authentication must be 1 to 12 hours: %w", ErrInvalid)
	case s.RetentionDays < 1 || s.RetentionDays > 365:
		return errorf("settings: retention must be 1 to 365 days: %w", ErrInvalid)
	case s.RevalidationDays < 1 || s.RevalidationDays > 30:
		return errorf("settings: re-validation must be 1 to 30 days: %w", ErrInvalid)
	}
	return nil
}

// AccessMode is how a practitioner opens a patient's record.
type AccessMode string

// The access modes of the central record service.
const (
	AccessNormal     AccessMode = "normal"            // with the patient's authorisation
	AccessEmergency  AccessMode = "bris_de_glace"     // break-the-glass, justified, shown on screen
	AccessRegulation AccessMode = "centre_regulation" // SAMU regulation doctor
)

// AuditEvent is one entry of the local audit log.
type AuditEvent struct {
	Seq          uint64 // position in the log, from 1; set by the store
	Time         time.Time
	Practitioner string     // RPPS id; before sign-in LocalOperator ("local:" and the OS user)
	Structure    string     // structure id
	Patient      PatientID  // empty when the action concerns no patient
	Action       string     // "vault.unlock", "dmp.iti67", "mail.import", …
	Mode         AccessMode // for record access
	Result       string     // "ok", or an error kind
	Detail       string     // free text without health data (a justification is health-adjacent: sealed with the rest)
}

// AuditFilter selects audit events; zero fields select everything.
type AuditFilter struct {
	Patient PatientID
	Action  string // prefix
	Since   time.Time
	Limit   int // the newest Limit events; 0 means all
}

// CheckReport is the result of a full vault check.
type CheckReport struct {
	Records   int      // sealed values opened
	Patients  int      // directory entries
	Documents int      // cached documents
	Audit     int      // audit events, chain verified
	Outbox    int      // outbox items
	Declared  int      // medications declared by patients
	Problems  []string // what is wrong, without health data; empty when sound
}

// OK reports whether the check found nothing wrong.
func (r CheckReport) OK() bool { return len(r.Problems) == 0 }

// CompactReport is the result of a compaction.
type CompactReport struct {
	Before, After int64 // file size in bytes
}

// StoreStats describes the vault file.
type StoreStats struct {
	FileSize  int64
	FreeBytes int64 // free and pending pages
}

// FreeRatio returns the share of the file that compaction would give back.
func (s StoreStats) FreeRatio() float64 {
	if s.FileSize == 0 {
		return 0
	}
	return float64(s.FreeBytes) / float64(s.FileSize)
}

// Clock tells the time. Tests inject a fake one.
type Clock interface {
	Now() time.Time
}

// SystemClock is the real clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }
