// Package engine is Carnet's sync loop (offline-crypto.md §7): one per
// vault, it pushes the outbox, then pulls the watched patients' records from
// the central record service, then purges what must go. It knows only the
// ports of package app: the vault arrives as an app.Store, the central
// service as an app.RecordService.
//
// # Push
//
// Outbox items move pending → sending → acked | conflict | rejected |
// retry(n, next attempt); every transition is written to the Store before
// (sending) and after the request. Before an item that may already have
// landed is sent again (it was left sending, or an earlier attempt failed
// on the network), the service is searched by the item's uniqueId: found
// means acknowledged, so no document is ever created twice (the client's
// lookup reads by remembered id, then searches by identifier, then lists
// the patient: it needs no search feature to work). An item the service
// accepted but whose read-back did not confirm it (app.NotConfirmedError)
// stays as unconfirmed, "sent, not confirmed": never counted as pushed,
// looked up again next cycle before anything is re-sent. Replacements
// carry relatesTo (app.NewDocument.Replaces), metadata changes If-Match on
// the version they were written against. Only acked items leave the outbox;
// a refusal (4xx) leaves the item rejected with its reason; 409/412, or a
// newer version of the target seen during the pull, leaves it in conflict
// with the server's version stored next to the draft, until Resolve.
//
// # Pull
//
// Each watched patient (app.Watched: opened within WatchDays, pinned, or on
// an imported operating list ahead of its date; ImportOperatingList adds a
// patient not yet in the vault only from a qualified, complete identity of
// the list, once FindPatient by INS found a readable record) is checked (FindPatient:
// access re-validated, or lost and purged), then listed from its cursor:
// server time, queried with "ge" minus app.CursorOverlap, deduplicated by
// (uniqueId, versionId). A first listing covers app.FirstOpenWindow of act
// dates from the server's clock; a full listing (reconciliation, every
// ReconcileEvery or when the cursor is older than MaxCursorAge) also notices
// documents it no longer returns: each is read (app.EntryReader) and leaves
// the vault only when it reads deleted, masked or entered-in-error; an
// omission alone removes nothing (evidence.go).
// Documents are then prefetched, newest first, within PrefetchBudget.
//
// Data and cursors go to the Store in commit units: one Store.Write (one
// bbolt transaction) every CommitResources resources, CommitBytes bytes or
// CommitEvery, whichever comes first. A cursor is only written with, or
// after, the data it covers, so a crash resumes from a consistent point and
// downloads at most one commit unit again.
//
// # Retries
//
// Per request: up to Tries attempts, exponential back-off with jitter from
// FirstBackoff, and a Retry-After (app.WaitError with app.ErrThrottled)
// holds every request of the engine until it has passed. Per job (a cycle
// that could not reach the service, an outbox item): 30 s growing to 15 min.
// One patient's refusal does not stop the others; the network being down
// does.
//
// # A silent or slow network
//
// Every attempt runs under a deadline derived from the measured round trip
// (deadline.go: RFC 6298 estimator, RequestFloor to RequestCeiling,
// doubled after an attempt that ran out of it); a cycle without progress
// for StallAfter is cancelled with ErrFrozen, and Run restarts it once at
// once. Lookups, listings and downloads run in flight together, sized from
// the round trip (inflight.go), halved to at most DefaultWorkers by a 429;
// a patient's downloads start as soon as its listing arrives, with no
// barrier between patients.
//
// # Purge, retention, re-validation
//
// Access lost purges the patient by crypto-shredding (Store.Purge), only
// on evidence: an explicit signal of the service (record closed, blocked,
// authorisation withdrawn, a refusal with one of those DMP reasons) seen on
// two consecutive cycles at least ConfirmAfter apart, and never more than
// MaxPurgeShare of the watch list in one cycle (the cycle then purges
// nothing and says why). A missing extension (authorisation unknown), a
// patient search with zero entries, a bare 404/410 purge nothing; the
// summary says why the patient was not refreshed. Retention
// (app.RetentionDue) purges too. A patient with outbox items is never
// purged: it is flagged. Re-validation is enforced by the Store: a patient
// whose Revalidated is older than Settings.RevalidationDays cannot be read
// until a sync confirms access again (app.RevalidationDue).
package engine
