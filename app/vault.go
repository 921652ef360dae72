package app

import (
	"context"
	"fmt"
	"time"
)

// Store is the vault: Carnet's encrypted local cache of patient records, the
// outbox of documents written in Carnet, the sync cursors, the settings and the
// audit log. It is implemented by package app/vault.
//
// Its record ports are declared beside their nouns and embedded here:
// PatientStore (patient.go), RecordStore (record.go), DeclarationStore
// (declaration.go), PreopStore (preopsaved.go), AuditLog (audit.go).
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

	// The records, each port beside its nouns.
	PatientStore     // the patient directory (patient.go)
	RecordStore      // manifests, documents, cursors, outbox (record.go)
	DeclarationStore // medications declared by patients (declaration.go)
	PreopStore       // saved pre-operative decisions (preopsaved.go)
	AuditLog         // the append-only audit log (audit.go)

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

	// Settings returns the vault's settings (defaults when never saved).
	Settings(ctx context.Context) (Settings, error)
	// SaveSettings stores the settings.
	SaveSettings(ctx context.Context, s Settings) error

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

// Passphrase policy.
const (
	MinPassphraseLength = 12 // characters
)

// Strength grades a passphrase for the hint shown while typing.
type Strength int

// The grades.
const (
	StrengthTooShort Strength = iota // refused
	StrengthWeak                     // accepted, but the hint says to lengthen it
	StrengthGood
	StrengthStrong
)

// PassphraseStrength grades p from its length and variety: a rough estimate
// of the bits an attacker must guess, not a promise.
func PassphraseStrength(p []byte) Strength {
	n := 0
	var lower, upper, digit, other bool
	for _, r := range string(p) {
		n++
		switch {
		case r >= 'a' && r <= 'z':
			lower = true
		case r >= 'A' && r <= 'Z':
			upper = true
		case r >= '0' && r <= '9':
			digit = true
		default:
			other = true
		}
	}
	if n < MinPassphraseLength {
		return StrengthTooShort
	}
	classes := 0
	for _, c := range []bool{lower, upper, digit, other} {
		if c {
			classes++
		}
	}
	switch {
	case n >= 20 || (n >= 16 && classes >= 3):
		return StrengthStrong
	case n >= 14 || classes >= 3:
		return StrengthGood
	}
	return StrengthWeak
}

// CheckPassphrase refuses a passphrase shorter than MinPassphraseLength.
func CheckPassphrase(p []byte) error {
	if PassphraseStrength(p) == StrengthTooShort {
		return fmt.Errorf("passphrase: fewer than %d characters: %w", MinPassphraseLength, ErrWeakPassphrase)
	}
	return nil
}
