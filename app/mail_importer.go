package app

import (
	"context" // #nosec G505 -- SHA-1 is the XDS/DMP document hash, not a security measure
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// ReceiptSender sends a read receipt (an RFC 8098 MDN in the ANS format) for
// a message whose sender asked for one. Implemented by the mailbox adapter's
// SMTP side (mailbox.ReceiptSender); ImportMail calls it only when
// ImportOptions.ReadReceipts is set, once per message.
type ReceiptSender interface {
	SendReceipt(ctx context.Context, r Receipt) error
}

// Receipt is a read receipt to send: the message it answers and what
// became of it.
type Receipt struct {
	// Message is the message answered: its reference (Message-ID), From,
	// Subject, Date, NotifyTo and ReturnPath, and Raw when it was kept
	// (the ANS format re-attaches the original IHE_XDM.zip and PDF; nil
	// for a quarantined message, whose content is not trusted).
	Message Message
	Outcome MailOutcome // OutcomeFiled, OutcomeManual or OutcomeQuarantined
	Reason  MatchReason // MatchAuto when filed; else the reason of the first item made
	// Manual is set when a person asked for the receipt (a message whose
	// Disposition-Notification-To differs from its Return-Path): it is
	// then "manual-action/MDN-sent-manually".
	Manual bool
}

// Failed reports whether the receipt reports an error (ANS
// "processed/Error: code^libellé"): the message, or one of its reports,
// went to the manual queue or to the quarantine.
func (r Receipt) Failed() bool { return r.Outcome != OutcomeFiled }

// ReceiptWanted reports whether m asks for a read receipt that may be sent
// automatically: it has a Disposition-Notification-To, equal (addresses
// compared case-insensitively) to its Return-Path (RFC 8098 §2.1, restated
// by the ANS volet: otherwise a person decides).
func ReceiptWanted(m Message) (asked, automatic bool) {
	to := strings.Trim(m.NotifyTo, "<> \t")
	if to == "" {
		return false, false
	}
	return true, strings.EqualFold(to, strings.Trim(m.ReturnPath, "<> \t"))
}

// ImportOptions tune ImportMailbox.
type ImportOptions struct {
	Account string // the BAL address the mailbox belongs to
	Mailbox string // the IMAP folder, "INBOX" when empty
	// Demo accepts the test and demo INS domains (demo mode only).
	Demo bool
	// ReadReceipts sends read receipts when a message asks for one and its
	// Disposition-Notification-To equals its Return-Path. Off by default.
	ReadReceipts bool
	Receipts     ReceiptSender // used only when ReadReceipts is set
	// Practitioner and Structure are written in the audit events.
	Practitioner string
	Structure    string
	Clock        Clock        // SystemClock when nil
	Log          *slog.Logger // slog.Default() when nil
	// Progress, when set, receives the running summary after each message
	// (progress display of `carnet import`).
	Progress func(ImportSummary)
}

// ImportSummary counts what an import did.
type ImportSummary struct {
	Messages     int // messages delivered by the mailbox
	Duplicates   int // messages handled before (same Message-ID or bytes)
	Filed        int // documents filed into patient records
	Known        int // documents already in the record (same uniqueId or hash)
	Manual       int // items added to the manual queue
	Quarantined  int // messages refused and left untouched on the server
	MarkFailures int // messages committed but not marked on the server (retried next time)
	Receipts     int // read receipts sent
	// Notes say, item by item, what was left for a person or not done:
	// manual-queue items, quarantined messages, failed marks, and read
	// receipts requested but not sent (loop rule, no sender, failure).
	Notes []ImportNote
}

// ImportNote is one thing of an import that was not filed automatically,
// with its reason. It carries no health data (no name, INS or subject).
type ImportNote struct {
	Account string
	UID     uint32
	Item    InboxID    // the inbox item, when one was created
	State   InboxState // pending or quarantined; empty for a failed mark
	Reason  string     // "904 traits-differ", problem kinds and details, or the mark error
}

// Incomplete reports whether something could not be done: a message
// quarantined (left on the server) or not marked imported on the server.
// Items waiting in the manual queue are not failures: they are kept.
func (s ImportSummary) Incomplete() bool { return s.Quarantined > 0 || s.MarkFailures > 0 }

// Commit units: ImportMailbox groups consecutive messages into one vault
// transaction (a unit), closed at unitMessages messages, unitBytes of raw
// messages and documents, or unitAge after its first message. The fsync
// of the commit is the dominant cost of an import (offline-crypto §5.1,
// §7.1): fewer, larger transactions are the lever.
//
// Memory: the message bodies an import holds at any time (the raw messages
// and the documents taken from them) are bounded by ImportBodyBytes, one
// commit unit: at most ImportFetchAheadBytes fetched ahead and being parsed
// (the mailbox adapter's bound), the rest (importerBytes) in the unit being
// gathered and the unit being committed together. A message that would
// take the importer over importerBytes first waits for the commit running
// (its bodies are sealed, written and let go), and the unit gathered is
// closed; the next unit is gathered while it commits. A unit is closed at
// half of importerBytes, so that the fetch goes on during each commit.
const (
	unitMessages = 100
	unitBytes    = importerBytes / 2
	unitAge      = 2 * time.Second
)

// ImportBodyBytes bounds the message bodies (raw messages and the
// documents taken from them) an import holds in memory at once: those
// fetched ahead of the import and being parsed (at most
// ImportFetchAheadBytes, bounded by the mailbox adapter), those of the
// commit unit being gathered and of the one being committed (until sealed
// and written). A single message larger than that is handled alone.
const ImportBodyBytes = 8 << 20

// ImportFetchAheadBytes is the share of ImportBodyBytes a mailbox adapter
// may fetch ahead of the import (downloaded or being parsed, counted as
// twice the raw size: the raw message and its documents).
const ImportFetchAheadBytes = 2 << 20

// importerBytes is the share of ImportBodyBytes held by the importer: the
// unit gathered and the unit being committed, together.
const importerBytes = ImportBodyBytes - ImportFetchAheadBytes

// ImportMailbox is the import engine that Service.ImportMail runs on each
// open mailbox (tests of the stores and of the adapter call it directly).
// It imports the new messages of a mailbox: for each message, in UID
// order, the reports whose patient is identified without doubt (see
// MatchPatient) are filed into the patient's record, deduplicated against
// the documents already there by uniqueId and hash, with versions ordered by
// setId and versionNumber whatever their arrival order; everything else goes
// to the manual queue with its reason and candidates; a refused message is
// quarantined and left untouched on the server.
//
// Messages are handled in commit units (up to unitMessages messages,
// unitBytes or unitAge; see ImportBodyBytes for the memory bound): the raw
// messages are sealed, and the documents,
// manifests, manual-queue items, deduplication records and the sync point
// of the whole unit are written in one transaction; the audit log then gets
// one event per outcome, and only then are the unit's messages marked
// imported on the server, in one command when the mailbox implements
// MailboxSetMarker. A unit's transaction runs while the next unit is
// gathered (fetch and parsing overlap the commit); its messages are
// marked once it succeeded, before the next transaction starts.
//
// The sync point stored with a unit is the last UID fully handled
// (committed and marked) before it, so that a crash between the commit and
// the mark re-delivers the unit's messages, which are then recognised as
// duplicates and marked. A message is never filed twice.
func ImportMailbox(ctx context.Context, store MailStore, mb Mailbox, opt ImportOptions) (ImportSummary, error) {
	if opt.Mailbox == "" {
		opt.Mailbox = "INBOX"
	}
	if opt.Clock == nil {
		opt.Clock = SystemClock{}
	}
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	var sum ImportSummary
	state, err := store.MailState(ctx, opt.Account, opt.Mailbox)
	if err != nil {
		return sum, fmt.Errorf("mail import: sync state: %w", err)
	}
	state.Account, state.Mailbox = opt.Account, opt.Mailbox
	// The vault and the marks are not interrupted half-way by ctx (as
	// before units): Fetch stops between messages, and the unit gathered
	// is committed and marked.
	im := &importer{ctx: context.WithoutCancel(ctx), store: store, mb: mb, opt: opt, sum: &sum, done: state}
	reached, ferr := mb.Fetch(ctx, state, im.message)
	// The unit being committed, if any: its outcome, then its marks.
	if err := im.join(); err != nil && ferr == nil {
		ferr = err
	}
	// The messages accepted since the last commit: committed and marked
	// now, unless the failure came from a commit of this run.
	if !im.failed {
		if err := im.flush(); err != nil && ferr == nil {
			ferr = err
		}
	}
	// The final sync point: everything fully handled, and the server's
	// HIGHESTMODSEQ when the whole range was handled.
	final := im.done
	final.Account, final.Mailbox = opt.Account, opt.Mailbox
	if ferr == nil && reached.UIDValidity != 0 && reached.UIDValidity != final.UIDValidity {
		// UIDVALIDITY changed and no message came under the new one.
		final.UIDValidity, final.LastUID, final.HighestModSeq = reached.UIDValidity, 0, 0
	}
	if ferr == nil && !im.blocked && reached.UIDValidity == final.UIDValidity {
		final.HighestModSeq = reached.HighestModSeq
	}
	if final != state {
		final.UpdatedAt = opt.Clock.Now()
		if err := store.Write(ctx, &Batch{MailStates: []MailboxState{final}}); err != nil && ferr == nil {
			ferr = fmt.Errorf("mail import: sync state: %w", err)
		}
	}
	return sum, ferr
}

// MailboxSetMarker is implemented by mailboxes that can mark several
// messages imported in one server command (one UID STORE of a UID set, or
// one UID MOVE). ImportMailbox uses it to mark a commit unit at once.
type MailboxSetMarker interface {
	// MarkImportedSet marks refs (messages of the same mailbox and
	// UIDVALIDITY) as MarkImported does, in one command. On error, none of
	// them may be taken as marked.
	MarkImportedSet(ctx context.Context, refs []MessageRef) error
}

// BatchReleaser is implemented by stores (the vault) that can write a
// batch its caller lets go of: WriteReleasing is Write, except that the
// bytes of each document and raw message are dropped from the batch as
// soon as they are sealed, so that a commit does not hold the plaintext
// beside the sealed copy. ImportMailbox commits its units so.
type BatchReleaser interface {
	WriteReleasing(ctx context.Context, b *Batch) error
}

// importer is the state of one ImportMailbox run.
type importer struct {
	ctx      context.Context
	store    MailStore
	mb       Mailbox
	opt      ImportOptions
	sum      *ImportSummary
	done     MailboxState // last UID fully handled
	blocked  bool         // a message could not be marked: done stays put
	failed   bool         // an error stopped the run: the unit gathered is dropped
	patients []Patient
	loaded   bool
	pending  map[string]bool // pendingKey of the reports already in the queue (loaded once, kept up to date)
	unit     *unit           // the messages accepted and not yet committed
	// committing is the unit whose transaction runs while the next one is
	// gathered (nil when none): its commit's outcome comes on its done
	// channel, and it is marked on the server only after (join).
	committing *unit
}

// unit is a commit unit being gathered: one vault transaction, then the
// audit events, then one mark of its messages.
type unit struct {
	batch     Batch
	manifests map[PatientID]*Manifest // manifests read or changed in the unit
	order     []PatientID             // the manifests changed, in order
	keys      map[string]MailOutcome  // keys of the new messages of the unit
	prev      map[string]MailRecord   // place and content hash of the new messages of the unit, by key
	msgs      []unitMessage           // every message of the unit, in UID order
	events    []AuditEvent
	bytes     int64
	started   time.Time
	done      chan error // the outcome of the unit's commit, once started
}

// unitMessage is one message of a unit and what became of it.
type unitMessage struct {
	m       Message
	dup     bool // handled before (outcome is then OutcomeDuplicate or OutcomeQuarantined)
	outcome MailOutcome
	reason  MatchReason // of the first inbox item (read receipt); MatchAuto when filed
	items   []InboxItem // inbox items made from it
}

// message handles one message (the Fetch callback): it is added to the
// current unit, which is committed when full. After an error the unit is
// dropped (a message may be half added to it): its messages were neither
// committed nor marked, and come again next time.
func (im *importer) message(m Message) error {
	if err := im.add(m); err != nil {
		im.failed = true
		return err
	}
	return nil
}

func (im *importer) add(m Message) error {
	ctx := im.ctx
	im.sum.Messages++
	if im.opt.Progress != nil {
		defer func() { im.opt.Progress(*im.sum) }()
	}
	if m.Ref.UIDValidity != im.done.UIDValidity {
		// UIDVALIDITY changed: the old UIDs mean nothing any more.
		if err := im.flush(); err != nil {
			return err
		}
		im.done.UIDValidity, im.done.LastUID, im.done.HighestModSeq = m.Ref.UIDValidity, 0, 0
	}
	// The byte bound: the unit committing and the unit gathered, with
	// this message, stay within importerBytes.
	if err := im.room(bodyBytes(m)); err != nil {
		return err
	}
	u := im.current()
	key, hash := m.Key(), m.ContentHash()
	seen, prev, outcome, err := im.handled(u, key)
	if err != nil {
		return err
	}
	// The same Message-ID with other content: a new message that must be
	// neither taken for the first nor lost as its duplicate. It is kept
	// under its own key (the Message-ID and its hash). When a hash is
	// missing on either side (a record written before the hash was kept,
	// a message over the size cap), only the same place in the same
	// mailbox proves the same message: anything else is not dropped as a
	// duplicate but queued with the note.
	reused := false
	if seen && !strings.HasPrefix(key, "sha256:") && !sameMessage(m.Ref, hash, prev) {
		key = m.ReuseKey()
		if seen, _, outcome, err = im.handled(u, key); err != nil {
			return err
		}
		reused = !seen
	}
	if seen {
		im.sum.Duplicates++
		um := unitMessage{m: Message{Ref: m.Ref}, dup: true, outcome: OutcomeDuplicate}
		if outcome == OutcomeQuarantined {
			um.outcome = OutcomeQuarantined
		}
		u.msgs = append(u.msgs, um)
		return im.maybeFlush()
	}
	if !im.loaded {
		var err error
		if im.patients, err = im.store.Patients(ctx); err != nil {
			return fmt.Errorf("mail import: patients: %w", err)
		}
		im.loaded = true
	}
	um, err := im.build(ctx, u, m, key, hash, reused)
	if err != nil {
		return err
	}
	u.prev[key] = MailRecord{Key: key, Ref: m.Ref, Hash: hash}
	u.keys[key] = um.outcome
	u.msgs = append(u.msgs, um)
	return im.maybeFlush()
}

// handled reports whether a message of this key was handled before (in
// the unit or in an earlier run), with the content hash and the outcome
// recorded.
func (im *importer) handled(u *unit, key string) (seen bool, prev MailRecord, outcome MailOutcome, err error) {
	if o, ok := u.keys[key]; ok {
		return true, u.prev[key], o, nil
	}
	if c := im.committing; c != nil {
		if o, ok := c.keys[key]; ok {
			return true, c.prev[key], o, nil
		}
	}
	rec, ok, err := im.store.MailRecord(im.ctx, key)
	if err != nil {
		return false, MailRecord{}, "", fmt.Errorf("mail import: dedup: %w", err)
	}
	return ok, rec, rec.Outcome, nil
}

// sameMessage reports whether a message (its place and content hash) is
// the one handled before under the same key (prev): the same content hash
// when both are known, else the same place in the same mailbox.
func sameMessage(ref MessageRef, hash string, prev MailRecord) bool {
	if hash != "" && prev.Hash != "" {
		return hash == prev.Hash
	}
	return ref.SamePlace(prev.Ref)
}

// bodyBytes is what a message holds in memory: its raw bytes and the
// content of its reports.
func bodyBytes(m Message) int64 {
	n := int64(len(m.Raw))
	for _, r := range m.Reports {
		n += int64(len(r.Content))
	}
	return n
}

// room makes room for a message of n bytes of bodies: when the unit being
// committed and the unit gathered would go over importerBytes with it, the
// unit gathered is closed (its commit starts once the one running ended
// and let go of its bodies); when the unit then committing would still go
// over with it, its commit is waited for too. A message over importerBytes
// alone is then handled alone.
func (im *importer) room(n int64) error {
	held := func() int64 {
		h := int64(0)
		if im.unit != nil {
			h += im.unit.bytes
		}
		if im.committing != nil {
			h += im.committing.bytes
		}
		return h
	}
	if held()+n <= importerBytes {
		return nil
	}
	if im.unit != nil && len(im.unit.msgs) > 0 {
		if err := im.start(); err != nil {
			return err
		}
	}
	if held()+n > importerBytes {
		return im.join()
	}
	return nil
}

// current returns the unit being gathered, starting one when needed.
func (im *importer) current() *unit {
	if im.unit == nil {
		im.unit = &unit{manifests: map[PatientID]*Manifest{}, keys: map[string]MailOutcome{}, prev: map[string]MailRecord{}, started: time.Now()}
	}
	return im.unit
}

// maybeFlush starts the commit of the current unit when it is full; the
// next unit is gathered while it runs.
func (im *importer) maybeFlush() error {
	u := im.unit
	if u == nil || (len(u.msgs) < unitMessages && u.bytes < unitBytes && time.Since(u.started) < unitAge) {
		return nil
	}
	return im.start()
}

// flush commits the current unit and marks its messages, waiting for both
// (see start and join).
func (im *importer) flush() error {
	if err := im.start(); err != nil {
		return err
	}
	return im.join()
}

// start waits for the unit being committed (join), then starts the commit
// of the current unit in one transaction (with the sync point reached
// before it, which join has just advanced), in the background: the fetch
// and the parsing of the next unit overlap it. Its messages are marked by
// the next join, after the commit succeeded.
func (im *importer) start() error {
	if err := im.join(); err != nil {
		return err
	}
	u := im.unit
	im.unit = nil
	if u == nil || len(u.msgs) == 0 {
		return nil
	}
	b := &u.batch
	for _, pid := range u.order {
		sortDocuments(u.manifests[pid].Documents)
		b.Manifests = append(b.Manifests, *u.manifests[pid])
	}
	b.Audit = append(b.Audit, u.events...) // one transaction: data and their audit
	u.done = make(chan error, 1)
	if b.Empty() {
		u.done <- nil
	} else {
		b.MailStates = im.states(im.opt.Clock.Now())
		go func(ctx context.Context) {
			if r, ok := im.store.(BatchReleaser); ok {
				u.done <- r.WriteReleasing(ctx, b) // the bodies let go of as sealed
				return
			}
			u.done <- im.store.Write(ctx, b)
		}(im.ctx)
	}
	im.committing = u
	return nil
}

// join waits for the commit of the unit started last (if any), then writes
// its notes, sends the read receipts, marks its messages on the server,
// and advances the sync point over the messages both committed and marked.
// A failed commit stops the run: nothing of the unit is marked.
func (im *importer) join() error {
	u := im.committing
	if u == nil {
		return nil
	}
	im.committing = nil
	ctx := im.ctx
	if err := <-u.done; err != nil {
		im.failed = true
		return fmt.Errorf("mail import: commit: %w", err)
	}
	u.batch = Batch{} // committed: the unit lets go of the bodies
	for _, um := range u.msgs {
		for _, it := range um.items {
			im.sum.Notes = append(im.sum.Notes, ImportNote{Account: im.opt.Account, UID: um.m.Ref.UID, Item: it.ID, State: it.State, Reason: noteReason(it)})
		}
	}
	// The unit's audit events were committed with it (Batch.Audit).
	var refs []MessageRef
	for _, um := range u.msgs {
		if !um.dup {
			im.receipt(ctx, um)
		}
		if um.outcome == OutcomeQuarantined {
			if !um.dup {
				im.sum.Quarantined++
			}
			continue
		}
		refs = append(refs, um.m.Ref)
	}
	marked, err := im.mark(ctx, refs)
	if err != nil {
		return err
	}
	for _, um := range u.msgs {
		if um.outcome == OutcomeQuarantined || marked[um.m.Ref.UID] {
			im.advance(um.m.Ref.UID)
		} else {
			im.blocked = true
		}
	}
	return nil
}

// advance moves the sync point to uid unless an earlier message is
// waiting to be marked.
func (im *importer) advance(uid uint32) {
	if !im.blocked && uid > im.done.LastUID {
		im.done.LastUID = uid
	}
}

// mark flags the messages imported on the server (in one command when the
// mailbox can) and returns the UIDs marked; a failure is counted and noted
// (the sync point stays before the message, so that the next run retries).
func (im *importer) mark(ctx context.Context, refs []MessageRef) (map[uint32]bool, error) {
	marked := make(map[uint32]bool, len(refs))
	if len(refs) == 0 {
		return marked, nil
	}
	fail := func(ref MessageRef, err error) {
		im.sum.MarkFailures++
		im.sum.Notes = append(im.sum.Notes, ImportNote{Account: im.opt.Account, UID: ref.UID, Reason: "not marked on the server: " + err.Error()})
	}
	if sm, ok := im.mb.(MailboxSetMarker); ok && len(refs) > 1 {
		if err := sm.MarkImportedSet(ctx, refs); err != nil {
			if ctx.Err() != nil {
				return nil, err
			}
			for _, ref := range refs {
				fail(ref, err)
			}
			im.opt.Log.Warn("mail import: mark imported failed", "uids", len(refs), "first", refs[0].UID, "err", err)
			return marked, nil
		}
		for _, ref := range refs {
			marked[ref.UID] = true
		}
		return marked, nil
	}
	for _, ref := range refs {
		if err := im.mb.MarkImported(ctx, ref); err != nil {
			if ctx.Err() != nil {
				return nil, err
			}
			fail(ref, err)
			im.opt.Log.Warn("mail import: mark imported failed", "uid", ref.UID, "err", err)
			continue
		}
		marked[ref.UID] = true
	}
	return marked, nil
}

// receipt sends the read receipt of a message handled for the first time,
// when enabled and asked for. It is sent after the commit, at most once
// per message: a message handled before is a duplicate and gets none.
// What keeps a receipt from going is noted (without health data) so that
// a person sees it: a Disposition-Notification-To that differs from the
// Return-Path (RFC 8098 loop rule: a person decides), no sender
// configured, or the failure of the sending.
func (im *importer) receipt(ctx context.Context, um unitMessage) {
	asked, auto := ReceiptWanted(um.m)
	if !im.opt.ReadReceipts || !asked {
		return
	}
	note := func(reason string) {
		im.sum.Notes = append(im.sum.Notes, ImportNote{Account: im.opt.Account, UID: um.m.Ref.UID, Reason: reason})
	}
	if !auto {
		note("read receipt requested, not sent: Disposition-Notification-To differs from Return-Path (RFC 8098); a person decides")
		return
	}
	if im.opt.Receipts == nil {
		note("read receipt requested, not sent: no submission server configured")
		return
	}
	r := Receipt{Message: um.m, Outcome: um.outcome, Reason: um.reason}
	if err := im.opt.Receipts.SendReceipt(ctx, r); err != nil {
		note("read receipt not sent: " + err.Error())
		im.opt.Log.Warn("mail import: read receipt failed", "uid", um.m.Ref.UID, "err", err)
		return
	}
	im.sum.Receipts++
}

// states returns the sync point to commit with the current unit: the
// last UID fully handled before it.
func (im *importer) states(now time.Time) []MailboxState {
	s := im.done
	s.Account, s.Mailbox, s.UpdatedAt = im.opt.Account, im.opt.Mailbox, now
	return []MailboxState{s}
}

// Add adds s to the summary (several accounts or rounds).
func (t *ImportSummary) Add(s ImportSummary) {
	t.Messages += s.Messages
	t.Duplicates += s.Duplicates
	t.Filed += s.Filed
	t.Known += s.Known
	t.Manual += s.Manual
	t.Quarantined += s.Quarantined
	t.MarkFailures += s.MarkFailures
	t.Receipts += s.Receipts
	t.Notes = append(t.Notes, s.Notes...)
}
