package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// This file holds the secure-messaging (MSSanté) vocabulary: the Mailbox
// port that sync/mailbox implements, the messages and reports it delivers,
// and the records the import keeps in the vault (manual queue, quarantine,
// sealed raw messages, sync points). The matching rule is in mailmatch.go,
// the import use case in mail_import_service.go (its engine in
// mail_importer.go, its filing in mail_filing.go).

// Mailbox is a secure mailbox (one BAL, one IMAP folder) seen from Carnet:
// the messages received since a sync point, and a way to mark one as
// imported on the server. It is implemented by package sync/mailbox.
type Mailbox interface {
	// Fetch calls each, in UID order, for every message received since
	// state (UIDVALIDITY, last UID, HIGHESTMODSEQ). When the server's
	// UIDVALIDITY differs from state's, every message is delivered again
	// from UID 1 and the caller deduplicates. Fetch never changes a
	// message on the server (every read is a PEEK). It stops at the first
	// error of each and returns it; the returned state is the sync point
	// reached (the UID of the last message each accepted).
	Fetch(ctx context.Context, state MailboxState, each func(Message) error) (MailboxState, error)
	// MarkImported flags a message as imported on the server: the
	// $CarnetImported keyword where the mailbox permits it, else a MOVE to
	// the configured folder when the server has MOVE or UIDPLUS. It never
	// deletes. Call it only after the vault commit. A mailbox that can
	// mark several messages in one command also implements
	// MailboxSetMarker (mail_importer.go).
	MarkImported(ctx context.Context, ref MessageRef) error
	// Close ends the session.
	Close() error
}

// ImportedKeyword is the IMAP keyword Carnet sets on imported messages.
const ImportedKeyword = "$CarnetImported"

// MailboxState is the sync point of one mailbox of one account.
type MailboxState struct {
	Account       string    // the BAL address (or the account name)
	Mailbox       string    // the IMAP folder, "INBOX"
	UIDValidity   uint32    // UIDVALIDITY the UIDs belong to; 0 before the first sync
	LastUID       uint32    // highest UID handled
	HighestModSeq uint64    // HIGHESTMODSEQ seen, when the server has CONDSTORE
	UpdatedAt     time.Time // when the state was last written
}

// Key returns the key of the state in the vault: account and mailbox.
func (s MailboxState) Key() string { return s.Account + "\x00" + s.Mailbox }

// MessageRef identifies a message on the server.
type MessageRef struct {
	Account     string
	Mailbox     string
	UIDValidity uint32
	UID         uint32
	MessageID   string // Message-ID header without angle brackets; may be empty
}

// Message is a message as the mailbox adapter delivers it: headers of
// interest, the whole raw message (kept sealed in the vault for audit and
// re-processing), the reports found in it and the problems met.
type Message struct {
	Ref        MessageRef
	From       string    // sender address
	Subject    string    // decoded subject (health data: sealed with the rest)
	Date       time.Time // Date header, else INTERNALDATE
	Size       int64     // RFC822.SIZE
	Raw        []byte    // the whole message; nil when over the size cap (see Problems)
	Reports    []IncomingReport
	Problems   []ImportProblem
	NotifyTo   string // Disposition-Notification-To, when a read receipt was requested
	ReturnPath string // Return-Path, to check NotifyTo against (RFC 8098)
	HeaderINS  string // the X-MSS-INS header as received ("O", "N" or empty)
}

// Quarantined reports whether a problem of m forbids any import: the
// message stays untouched on the server and is kept locally with its reason.
func (m Message) Quarantined() bool {
	for _, p := range m.Problems {
		if p.Kind.Quarantines() {
			return true
		}
	}
	return false
}

// Key returns the deduplication key of the message: its Message-ID when it
// has one, else the SHA-256 of the raw message, else its server reference.
// The Message-ID alone does not make two messages the same: the import
// also compares the content hash (ContentHash, kept in the MailRecord), and
// a new message that reuses an earlier Message-ID is kept under
// ReuseKey.
func (m Message) Key() string {
	if id := strings.TrimSpace(m.Ref.MessageID); id != "" {
		return "mid:" + id
	}
	if len(m.Raw) > 0 {
		return "sha256:" + m.ContentHash()
	}
	return m.Ref.positionKey()
}

// positionKey is the key of the message's place in its mailbox.
func (r MessageRef) positionKey() string {
	return "uid:" + r.Account + "/" + r.Mailbox + "/" + strconv.FormatUint(uint64(r.UIDValidity), 10) + "/" + strconv.FormatUint(uint64(r.UID), 10)
}

// SamePlace reports whether r and o name the same message of the same
// mailbox (account, mailbox, UIDVALIDITY and UID; the Message-ID aside).
func (r MessageRef) SamePlace(o MessageRef) bool {
	return r.Account == o.Account && r.Mailbox == o.Mailbox && r.UIDValidity == o.UIDValidity && r.UID == o.UID
}

// ContentHash returns the SHA-256 (hex) of the raw message, "" when the
// raw message was not kept (over the size cap).
func (m Message) ContentHash() string {
	if len(m.Raw) == 0 {
		return ""
	}
	sum := sha256.Sum256(m.Raw)
	return hex.EncodeToString(sum[:])
}

// ReuseKey returns the key of a message whose Message-ID an earlier
// message with other (or unknown) content already used: the Message-ID and
// the content hash, or, when the raw message was not kept (over the size
// cap), the Message-ID and the message's place in its mailbox.
func (m Message) ReuseKey() string {
	if h := m.ContentHash(); h != "" {
		return m.Key() + " sha256:" + h
	}
	return m.Key() + " " + m.Ref.positionKey()
}

// IncomingReport is one document found in a message: a CDA from an IHE XDM
// archive or a bare CDA attachment, or a PDF of a legacy sender.
type IncomingReport struct {
	Meta      DocumentMeta   // from the CDA header (ID, SetID, Version, type, title, date, author)
	Content   []byte         // the document as received
	MediaType string         // text/xml for CDA, application/pdf …
	FileName  string         // attachment or archive entry name, decoded
	Identity  ReportIdentity // who the report is about
	Replaces  DocumentID     // relatedDocument RPLC, when present
	SetID     string         // setId (also in Meta)
	Version   int            // versionNumber (also in Meta)
	// NoAuto forbids automatic filing whatever the match: the archive held
	// several patients or submission sets (ReasonSeveralPatients, unless
	// Hold says otherwise).
	NoAuto bool
	// Hold, when set, sends the report to the manual queue with this
	// reason whatever the match (ReasonRepeatedIdentity,
	// ReasonPartsDisagree, ReasonMessageIDReused …).
	Hold MatchReason
}

// ReportIdentity is the patient identity a report carries: the INS and
// traits of the CDA recordTarget, and the XDM metadata patientId.
type ReportIdentity struct {
	INS        INS    // from the CDA recordTarget, as written (may be invalid)
	XDMPatient INS    // from the XDM metadata patientId (CX.1 and CX.4); zero when absent
	HasXDM     bool   // the report came in an XDM archive
	BirthName  string // nom de naissance
	GivenNames string // prénoms de naissance, space-separated, first one first
	UsedName   string // nom utilisé
	BirthDate  string // YYYY-MM-DD (shorter when partial)
	Sex        Sex
	BirthPlace string // INSEE COG code
	HeaderINS  string // X-MSS-INS header of the message
	// Repeated lists the identity elements the document gives twice under
	// its one recordTarget (cda.Patient.Repeated): it designates no single
	// patient (ReasonRepeatedIdentity).
	Repeated []string
}

// FirstGivenName returns the first birth given name as written.
func (id ReportIdentity) FirstGivenName() string {
	f := strings.Fields(id.GivenNames)
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

// ProblemKind says what went wrong with a message or a part of it.
type ProblemKind string

// The problem kinds. The first group sends the message to the manual
// queue (it is kept in Carnet and marked imported on the server); the
// second quarantines it (left untouched on the server).
const (
	ProblemEncrypted    ProblemKind = "encrypted"     // multipart/encrypted, application/pkcs7-mime enveloped
	ProblemSigned       ProblemKind = "signed"        // multipart/signed, pkcs7 signed-data
	ProblemNoAttachment ProblemKind = "no-attachment" // nothing Carnet can file
	ProblemPDFOnly      ProblemKind = "pdf-only"      // a PDF without structured document
	ProblemNotCDA       ProblemKind = "not-cda"       // an archive document that is not a CDA
	ProblemCDA          ProblemKind = "cda"           // a CDA that cannot be read
	ProblemSeveral      ProblemKind = "several"       // several archives, subsets or patients
	ProblemUnlisted     ProblemKind = "unlisted"      // an archive document not listed in METADATA.XML
	ProblemReusedID     ProblemKind = "reused-id"     // a Message-ID already used by a message with other content

	ProblemArchive  ProblemKind = "archive"   // an IHE XDM archive refused by the reader
	ProblemMIME     ProblemKind = "mime"      // a MIME structure that cannot be read safely
	ProblemTooLarge ProblemKind = "too-large" // over a size cap: open it in webmail
)

// Quarantines reports whether the problem forbids importing the message.
func (k ProblemKind) Quarantines() bool {
	switch k {
	case ProblemArchive, ProblemMIME, ProblemTooLarge:
		return true
	}
	return false
}

// ImportProblem is one problem met while reading a message. Detail never
// contains health data (no name, INS, subject or document text).
type ImportProblem struct {
	Kind   ProblemKind
	Part   string // MIME part path ("2.3") or archive entry, when relevant
	Detail string // a short English reason, for logs and the UI's details
}

// InboxID identifies an item of the manual queue.
type InboxID string

// InboxState is where an inbox item stands.
type InboxState string

// The inbox states.
const (
	InboxPending     InboxState = "pending"     // waits for a person to attach or reject
	InboxQuarantined InboxState = "quarantined" // refused; the message stays on the server
	InboxAttached    InboxState = "attached"    // filed by a person
	InboxRejected    InboxState = "rejected"    // rejected by a person
)

// InboxItem is an entry of the manual queue or of the quarantine: a report
// (or a whole message without report) that was not filed automatically,
// with the reason and the candidate patients.
type InboxItem struct {
	ID         InboxID
	State      InboxState
	Message    MessageRef
	MessageKey string          // Message.Key, to reach the sealed raw message
	From       string          // sender address
	Subject    string          // decoded subject (sealed)
	Received   time.Time       // Date of the message
	Report     *IncomingReport // nil for a message-level item
	Reason     MatchReason     // why it was not filed
	Candidates []Candidate     // patients a person may choose from
	Problems   []ImportProblem // message-level problems
	CreatedAt  time.Time
	// Patient is the patient a person attached the report to (attached
	// items); DecidedAt is when a person attached or rejected it.
	Patient   PatientID
	DecidedAt time.Time
	// Filed is the document the attach added to the patient's record
	// (empty when the record held it already): what an undo removes.
	Filed DocumentID
	// UndoneAt and UndoReason: the attach was undone (the item waits again).
	UndoneAt   time.Time
	UndoReason string
}

// RawMessage is a whole message kept sealed in the vault.
type RawMessage struct {
	Key   string // Message.Key
	Ref   MessageRef
	Bytes []byte
}

// MailOutcome is what became of a message.
type MailOutcome string

// The outcomes of a message.
const (
	OutcomeFiled       MailOutcome = "filed"       // every report filed (or already present)
	OutcomeManual      MailOutcome = "manual"      // at least one item in the manual queue
	OutcomeQuarantined MailOutcome = "quarantined" // refused, left on the server
	OutcomeDuplicate   MailOutcome = "duplicate"   // the same message was handled before
)

// MailRecord remembers that a message was handled, for deduplication
// across deliveries and UIDVALIDITY resets.
type MailRecord struct {
	Key       string // Message.Key
	Ref       MessageRef
	Outcome   MailOutcome
	Documents []DocumentID // documents filed from it
	At        time.Time
	// Hash is the SHA-256 of the raw message (Message.ContentHash): the
	// same Message-ID with another hash is another message. Empty in the
	// records written before it was kept (taken as the same message).
	Hash string
}

// MailStore is what the mail import needs of the vault: the subset of
// Store that ImportMailbox uses, so that its tests can run on a small fake
// (apptest.MailStore). Every Store is a MailStore. A commit unit of
// messages is one Write: the patient documents and manifests, the
// manual-queue items, the sealed raw messages, the deduplication records
// and the new sync point (Batch.Inbox, MailRaw, MailRecords, MailStates).
type MailStore interface {
	// Patients returns the whole directory.
	Patients(ctx context.Context) ([]Patient, error)
	// Manifest returns a patient's cached document list (ErrNotFound when
	// the patient has none yet).
	Manifest(ctx context.Context, id PatientID) (Manifest, error)
	// Record appends an event to the audit log.
	Record(ctx context.Context, e AuditEvent) error
	// MailState returns a mailbox's sync point; the zero state (with
	// Account and Mailbox set) when none was stored.
	MailState(ctx context.Context, account, mailbox string) (MailboxState, error)
	// MailRecord returns the record of a handled message, and whether one
	// exists.
	MailRecord(ctx context.Context, key string) (MailRecord, bool, error)
	// Inbox returns the manual queue and the quarantine, oldest first.
	Inbox(ctx context.Context) ([]InboxItem, error)
	// Write applies a batch in one transaction.
	Write(ctx context.Context, b *Batch) error
}

var _ MailStore = Store(nil)
