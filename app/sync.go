package app

import (
	"context"
	"time"
)

// This file holds the vocabulary of synchronisation with the central record
// service: outbox kinds, conflict resolutions, progress and summaries, and
// the re-validation rule. The loop itself is package sync/engine; the UI
// and the command line see it through the Syncer port.

// The cursor streams and conventions shared by OpenPatient and the sync
// engine.
const (
	// StreamDocuments is the cursor stream of a patient's document list.
	StreamDocuments = streamDocuments
	// StreamReconciled is a patient's stream whose Cursor.Time is the
	// server time of the last full listing (masking and deletions are only
	// visible that way: a masked document simply stops being listed).
	StreamReconciled = "reconciled"
	// StreamSync is the global stream (no patient) whose Cursor.Time is the
	// client time of the last successful sync.
	StreamSync = "sync"
	// CursorOverlap is subtracted from a stored cursor before querying with
	// "ge", so that resources stamped with the cursor's own instant are not
	// lost; they are deduplicated by (id, versionId).
	CursorOverlap = cursorOverlap
)

// The kinds of outbox items.
const (
	OutboxProvide  = "provide"  // a new document (ITI-65)
	OutboxReplace  = "replace"  // a new version of a document (ITI-65 with relatesTo replaces)
	OutboxMetadata = "metadata" // a metadata change (PATCH with If-Match)
)

// DeniedRevalidation: the cached record is unreadable because access could
// not be re-validated online for Settings.RevalidationDays; the next
// successful sync makes it readable again.
const DeniedRevalidation DenialReason = "revalidation"

// RevalidationDue reports whether the cached record of p must be unreadable
// at now: the central service last confirmed access more than days days
// ago. A patient never checked by the engine (zero Revalidated) is not
// restricted.
func RevalidationDue(p Patient, days int, now time.Time) bool {
	if p.Revalidated.IsZero() || days <= 0 {
		return false
	}
	return now.Sub(p.Revalidated) > time.Duration(days)*24*time.Hour
}

// Resolution is the practitioner's decision on an outbox item in conflict.
type Resolution string

// The resolutions. A conflict is never resolved automatically.
const (
	// KeepBoth sends the draft as a new document, beside the server's.
	KeepBoth Resolution = "keep-both"
	// ReplaceAfterReview sends the draft as a replacement of (or applies
	// the change to) the server's current version, which the user reviewed.
	ReplaceAfterReview Resolution = "replace"
	// DiscardMine drops the draft; it needs an explicit confirmation.
	DiscardMine Resolution = "discard"
)

// SyncPhase is what a sync is doing.
type SyncPhase string

// The phases, in order.
const (
	PhasePush  SyncPhase = "push"  // sending the outbox
	PhasePull  SyncPhase = "pull"  // reading the watched patients' records
	PhasePurge SyncPhase = "purge" // purge, retention and re-validation
	PhaseMail  SyncPhase = "mail"  // importing the secure mailboxes (desktop cycle)
	PhaseDone  SyncPhase = "done"
)

// SyncProgress is one progress event of a sync. Percent never decreases
// within a sync and never exceeds 100.
type SyncProgress struct {
	Phase         SyncPhase
	Items, ItemsN int // outbox items handled / to handle
	Patient       int // patients pulled so far
	PatientsN     int // patients to pull
	Resources     int // resources received (document entries and contents)
	Bytes         int64
	Percent       float64
	ETA           time.Duration // estimated time left; 0 when unknown
	Online        bool
}

// SyncFailure is one thing a sync could not do, with a reason that carries
// no health data.
type SyncFailure struct {
	Patient PatientID // empty when the failure concerns no patient
	Item    OutboxID  // empty when not about an outbox item
	Reason  string
}

// SyncSummary says what a sync did.
type SyncSummary struct {
	Started, Finished time.Time
	Online            bool
	Pushed            int // outbox items acknowledged
	Conflicts         int // items waiting for a decision
	Rejected          int // items refused for good (still shown)
	Retrying          int // items to send again later
	Patients          int // patients pulled successfully
	Watched           int // patients on the watch list
	Documents         int // document entries added or changed
	Retrieved         int // document contents downloaded
	Bytes             int64
	Removed           int // documents removed (read as masked, deleted or entered-in-error)
	Kept              int // documents a listing omitted, kept for want of evidence
	PurgeHeld         int // patients whose loss of access is not confirmed yet, or held by the purge guard
	Unconfirmed       int // outbox items sent, not confirmed (re-checked next cycle)
	Purged            int // patients purged (access lost, retention)
	Flagged           int // patients to purge kept for their pending outbox items
	Unreadable        int // patients unreadable until re-validated
	ToIdentify        []Scheduled
	Failures          []SyncFailure
	Mail              ImportSummary // the mailboxes imported in the cycle (desktop application)
}

// OK reports whether everything that was to be done was done.
func (s SyncSummary) OK() bool {
	return s.Online && len(s.Failures) == 0 && s.Conflicts == 0 && s.Rejected == 0 && s.Retrying == 0 && len(s.ToIdentify) == 0
}

// SyncStatus is what the status bar shows.
type SyncStatus struct {
	Online   bool
	Syncing  bool
	LastSync time.Time // last successful sync; zero if never
	Pending  int       // outbox items not yet acknowledged
	Progress SyncProgress
	// Mailboxes are the last import of each secure mailbox (desktop
	// cycle), in the connection's order; none before the first import.
	Mailboxes []MailboxStatus
}

// MailboxStatus is the outcome of the last import of one secure mailbox.
type MailboxStatus struct {
	Account string    // the BAL address
	At      time.Time // when it ended
	Summary ImportSummary
	Err     error // nil when the import ran; classified (ErrNotConfigured, ErrOffline, ErrAccessDenied…)
}

// Syncer is the sync loop as the UI and the command line see it
// (implemented by package sync/engine).
type Syncer interface {
	// Once runs one sync cycle: push, pull, purge.
	Once(ctx context.Context) (SyncSummary, error)
	// Resolve applies the practitioner's decision on an outbox item in
	// conflict. DiscardMine needs confirmed.
	Resolve(ctx context.Context, id OutboxID, r Resolution, confirmed bool) error
	// Status returns the current state.
	Status() SyncStatus
	// ImportOperatingList marks the listed patients as scheduled, so that
	// their records are prefetched ahead of the date.
	ImportOperatingList(ctx context.Context, list []Scheduled) (OperatingListResult, error)
}

// MailSyncer is implemented by the syncers whose cycle also imports the
// secure mailboxes (the desktop application's).
type MailSyncer interface {
	// ImportMailboxes imports every mailbox of the connection once.
	ImportMailboxes(ctx context.Context) (ImportSummary, error)
}
