package app

import (
	"context"
	"crypto/sha1" // #nosec G505 -- SHA-1 is the XDS/DMP document hash, not a security measure
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// ReceiptSender sends a read receipt (an RFC 8098 MDN in the ANS format) for
// a message whose sender asked for one. Implemented by the mailbox adapter's
// SMTP side; ImportMail calls it only when ImportOptions.ReadReceipts is set.
type ReceiptSender interface {
	SendReceipt(ctx context.Context, m Message, outcome MailOutcome, reason MatchReason) error
}

// ImportOptions tune ImportMail.
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
	// manual-queue items, quarantined messages and failed marks.
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

// ImportMail imports the new messages of a mailbox: for each message, in UID
// order, the reports whose patient is identified without doubt (see
// MatchPatient) are filed into the patient's record, deduplicated against
// the documents already there by uniqueId and hash, with versions ordered by
// setId and versionNumber whatever their arrival order; everything else goes
// to the manual queue with its reason and candidates; a refused message is
// quarantined and left untouched on the server. The raw message is sealed,
// a deduplication record and the sync point are written in the same
// transaction, the audit log gets one event per outcome, and only then is the
// message marked imported on the server.
//
// The sync point stored with a message is the last UID fully handled
// (committed and marked) before it, so that a crash between the commit and
// the mark re-delivers the message, which is then recognised as a duplicate
// and marked. A message is never filed twice.
func ImportMail(ctx context.Context, store MailStore, mb Mailbox, opt ImportOptions) (ImportSummary, error) {
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
	im := &importer{store: store, mb: mb, opt: opt, sum: &sum, done: state}
	reached, ferr := mb.Fetch(ctx, state, im.message)
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

// importer is the state of one ImportMail run.
type importer struct {
	store    MailStore
	mb       Mailbox
	opt      ImportOptions
	sum      *ImportSummary
	done     MailboxState // last UID fully handled
	blocked  bool         // a message could not be marked: done stays put
	patients []Patient
	loaded   bool
	pending  map[string]bool // pendingKey of the reports already in the queue (loaded once)
}

// message handles one message (the Fetch callback).
func (im *importer) message(m Message) error {
	ctx := context.Background()
	im.sum.Messages++
	if im.opt.Progress != nil {
		defer func() { im.opt.Progress(*im.sum) }()
	}
	if m.Ref.UIDValidity != im.done.UIDValidity {
		// UIDVALIDITY changed: the old UIDs mean nothing any more.
		im.done.UIDValidity, im.done.LastUID, im.done.HighestModSeq = m.Ref.UIDValidity, 0, 0
	}
	key := m.Key()
	rec, seen, err := im.store.MailRecord(ctx, key)
	if err != nil {
		return fmt.Errorf("mail import: dedup: %w", err)
	}
	if seen {
		im.sum.Duplicates++
		if rec.Outcome == OutcomeQuarantined {
			im.advance(m.Ref.UID)
			return nil
		}
		return im.mark(ctx, m)
	}
	if !im.loaded {
		if im.patients, err = im.store.Patients(ctx); err != nil {
			return fmt.Errorf("mail import: patients: %w", err)
		}
		im.loaded = true
	}
	b, events, outcome, err := im.build(ctx, m, key)
	if err != nil {
		return err
	}
	if err := im.store.Write(ctx, b); err != nil {
		return fmt.Errorf("mail import: commit: %w", err)
	}
	for _, it := range b.Inbox {
		if it.Report != nil {
			im.pending[pendingKey(*it.Report)] = true
		}
		im.sum.Notes = append(im.sum.Notes, ImportNote{Account: im.opt.Account, UID: m.Ref.UID, Item: it.ID, State: it.State, Reason: noteReason(it)})
	}
	for _, e := range events {
		if err := im.store.Record(ctx, e); err != nil {
			return fmt.Errorf("mail import: audit: %w", err)
		}
	}
	if outcome == OutcomeQuarantined {
		im.sum.Quarantined++
		im.advance(m.Ref.UID)
		return nil
	}
	im.receipt(ctx, m, outcome, b)
	return im.mark(ctx, m)
}

// advance moves the sync point to uid unless an earlier message is
// waiting to be marked.
func (im *importer) advance(uid uint32) {
	if !im.blocked && uid > im.done.LastUID {
		im.done.LastUID = uid
	}
}

// mark flags the message imported on the server; a failure is counted and
// blocks the sync point so that the next run retries it.
func (im *importer) mark(ctx context.Context, m Message) error {
	if err := im.mb.MarkImported(ctx, m.Ref); err != nil {
		if ctx.Err() != nil {
			return err
		}
		im.sum.MarkFailures++
		im.sum.Notes = append(im.sum.Notes, ImportNote{Account: im.opt.Account, UID: m.Ref.UID, Reason: "not marked on the server: " + err.Error()})
		im.blocked = true
		im.opt.Log.Warn("mail import: mark imported failed", "uid", m.Ref.UID, "err", err)
		return nil
	}
	im.advance(m.Ref.UID)
	return nil
}

// receipt sends a read receipt when enabled and safe (RFC 8098: only when
// Disposition-Notification-To equals Return-Path).
func (im *importer) receipt(ctx context.Context, m Message, outcome MailOutcome, b *Batch) {
	if !im.opt.ReadReceipts || im.opt.Receipts == nil || m.NotifyTo == "" {
		return
	}
	if !strings.EqualFold(strings.Trim(m.NotifyTo, "<> "), strings.Trim(m.ReturnPath, "<> ")) {
		return // differs from Return-Path: a person decides
	}
	reason := MatchAuto
	for _, it := range b.Inbox {
		reason = it.Reason
		break
	}
	if err := im.opt.Receipts.SendReceipt(ctx, m, outcome, reason); err != nil {
		im.opt.Log.Warn("mail import: read receipt failed", "err", err)
		return
	}
	im.sum.Receipts++
}

// build decides the fate of every report of m and returns the batch, the
// audit events and the message's outcome.
func (im *importer) build(ctx context.Context, m Message, key string) (*Batch, []AuditEvent, MailOutcome, error) {
	now := im.opt.Clock.Now()
	b := &Batch{}
	if len(m.Raw) > 0 {
		b.MailRaw = append(b.MailRaw, RawMessage{Key: key, Ref: m.Ref, Bytes: m.Raw})
	}
	event := func(p PatientID, result, detail string) AuditEvent {
		return AuditEvent{Time: now, Practitioner: im.opt.Practitioner, Structure: im.opt.Structure,
			Patient: p, Action: "mail.import", Result: result, Detail: detail}
	}
	item := func(n int, rep *IncomingReport, st InboxState, r MatchReason, c []Candidate, probs []ImportProblem) InboxItem {
		sum := sha256.Sum256([]byte(key + "#" + strconv.Itoa(n)))
		return InboxItem{ID: InboxID(hex.EncodeToString(sum[:16])), State: st, Message: m.Ref, MessageKey: key,
			From: m.From, Subject: m.Subject, Received: m.Date, Report: rep, Reason: r, Candidates: c,
			Problems: probs, CreatedAt: now}
	}
	var events []AuditEvent
	outcome := OutcomeFiled
	rec := MailRecord{Key: key, Ref: m.Ref, At: now}
	if m.Quarantined() {
		b.Inbox = append(b.Inbox, item(0, nil, InboxQuarantined, ReasonQuarantine, nil, m.Problems))
		rec.Outcome = OutcomeQuarantined
		b.MailRecords = append(b.MailRecords, rec)
		b.MailStates = im.states(now)
		return b, []AuditEvent{event("", "quarantined", problemKinds(m.Problems))}, OutcomeQuarantined, nil
	}
	if err := im.loadPending(ctx); err != nil {
		return nil, nil, "", err
	}
	queued := map[string]bool{} // reports queued from this message
	manifests := map[PatientID]*Manifest{}
	var order []PatientID
	n := 0
	for i := range m.Reports {
		rep := m.Reports[i]
		res := MatchPatient(rep.Identity, im.patients, im.opt.Demo)
		switch {
		case rep.Meta.ID == "" || !strings.EqualFold(rep.MediaType, "text/xml"):
			res.Reason, res.Patient = ReasonNoReport, ""
		case rep.NoAuto:
			if res.Auto() {
				res.Candidates = append(res.Candidates, Candidate{Patient: res.Patient, Kind: CandidateSameINS})
			}
			res.Reason, res.Patient = ReasonSeveralPatients, ""
		}
		if !res.Auto() {
			pk := pendingKey(rep)
			if im.pending[pk] || queued[pk] {
				im.sum.Known++
				continue
			}
			queued[pk] = true
			n++
			b.Inbox = append(b.Inbox, item(n, &rep, InboxPending, res.Reason, res.Candidates, nil))
			events = append(events, event("", "manual", string(res.Reason)))
			im.sum.Manual++
			outcome = OutcomeManual
			continue
		}
		man, ok := manifests[res.Patient]
		if !ok {
			got, err := im.store.Manifest(ctx, res.Patient)
			if err != nil && !errors.Is(err, ErrNotFound) {
				return nil, nil, "", fmt.Errorf("mail import: manifest: %w", err)
			}
			got.Patient = res.Patient
			got.Documents = append([]DocumentMeta(nil), got.Documents...)
			man = &got
			manifests[res.Patient] = man
		}
		switch fileInto(man, &rep) {
		case fileKnown:
			im.sum.Known++
			events = append(events, event(res.Patient, "duplicate", "document already in record"))
			continue
		case fileConflict:
			n++
			b.Inbox = append(b.Inbox, item(n, &rep, InboxPending, ReasonConflict, []Candidate{{Patient: res.Patient, Kind: CandidateSameINS}}, nil))
			events = append(events, event(res.Patient, "manual", string(ReasonConflict)))
			im.sum.Manual++
			outcome = OutcomeManual
			continue
		}
		if !containsID(order, res.Patient) {
			order = append(order, res.Patient)
		}
		b.Documents = append(b.Documents, DocumentContent{Patient: res.Patient, ID: rep.Meta.ID, Bytes: rep.Content})
		rec.Documents = append(rec.Documents, rep.Meta.ID)
		events = append(events, event(res.Patient, "ok", "filed"))
		im.sum.Filed++
	}
	for _, pid := range order {
		sortDocuments(manifests[pid].Documents)
		b.Manifests = append(b.Manifests, *manifests[pid])
	}
	// Message-level problems (PDF-only, encrypted, no attachment, a
	// document that is not a CDA…): one item so that nothing is lost.
	if len(m.Reports) == 0 || hasOwnItem(m.Problems) {
		b.Inbox = append(b.Inbox, item(0, nil, InboxPending, ReasonNoReport, nil, m.Problems))
		events = append(events, event("", "manual", "no-report:"+problemKinds(m.Problems)))
		im.sum.Manual++
		outcome = OutcomeManual
	}
	rec.Outcome = outcome
	b.MailRecords = append(b.MailRecords, rec)
	b.MailStates = im.states(now)
	return b, events, outcome, nil
}

// states returns the sync point to commit with the current message: the
// last UID fully handled before it.
func (im *importer) states(now time.Time) []MailboxState {
	s := im.done
	s.Account, s.Mailbox, s.UpdatedAt = im.opt.Account, im.opt.Mailbox, now
	return []MailboxState{s}
}

// loadPending reads, once per run, the keys of the reports already in the
// manual queue or attached by a person, so that a report received twice is
// queued once.
func (im *importer) loadPending(ctx context.Context) error {
	if im.pending != nil {
		return nil
	}
	items, err := im.store.Inbox(ctx)
	if err != nil {
		return fmt.Errorf("mail import: inbox: %w", err)
	}
	im.pending = map[string]bool{}
	for _, it := range items {
		if it.Report != nil && (it.State == InboxPending || it.State == InboxAttached) {
			im.pending[pendingKey(*it.Report)] = true
		}
	}
	return nil
}

// pendingKey identifies a report's content: its uniqueId (when it has one)
// and the SHA-1 of its bytes.
func pendingKey(rep IncomingReport) string {
	h := rep.Meta.Hash
	if len(rep.Content) > 0 || h == "" {
		h = contentHash(rep.Content)
	}
	return string(rep.Meta.ID) + "\x00" + strings.ToLower(h)
}

// fileResult is what fileInto did.
type fileResult int

const (
	fileAdded    fileResult = iota // added to the manifest
	fileKnown                      // already there (same uniqueId and content, or same content)
	fileConflict                   // same uniqueId, different content
)

// fileInto adds a report to a manifest: deduplicated by uniqueId and hash,
// and with the versions of its set ordered by versionNumber whatever the
// arrival order (an older version arriving late is stored superseded).
func fileInto(man *Manifest, rep *IncomingReport) fileResult {
	meta := rep.Meta
	meta.Hash = contentHash(rep.Content)
	meta.Size = int64(len(rep.Content))
	meta.MediaType = rep.MediaType
	meta.Source, meta.Cached = "mssante", true
	if meta.SetID == "" {
		meta.SetID = rep.SetID
	}
	if meta.Version == 0 {
		meta.Version = rep.Version
	}
	for _, d := range man.Documents {
		if d.ID == meta.ID {
			if d.Hash == "" || strings.EqualFold(d.Hash, meta.Hash) {
				return fileKnown
			}
			return fileConflict
		}
		if d.Hash != "" && strings.EqualFold(d.Hash, meta.Hash) {
			return fileKnown
		}
	}
	for i := range man.Documents {
		d := &man.Documents[i]
		switch {
		case rep.Replaces != "" && d.ID == rep.Replaces:
			d.Superseded = true
		case meta.SetID != "" && d.SetID == meta.SetID && d.Version < meta.Version:
			d.Superseded = true
		case meta.SetID != "" && d.SetID == meta.SetID && d.Version >= meta.Version:
			meta.Superseded = true
		}
	}
	man.Documents = append(man.Documents, meta)
	rep.Meta = meta
	return fileAdded
}

// contentHash is the SHA-1 hex of b, the hash the XDS metadata and the
// central service use.
func contentHash(b []byte) string {
	sum := sha1.Sum(b) // #nosec G401 -- the XDS document hash
	return hex.EncodeToString(sum[:])
}

func containsID(ids []PatientID, id PatientID) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// problemKinds lists the kinds of ps, comma-separated (no health data).
func problemKinds(ps []ImportProblem) string {
	ks := make([]string, 0, len(ps))
	for _, p := range ps {
		ks = append(ks, string(p.Kind))
	}
	return strings.Join(ks, ",")
}

// hasOwnItem reports whether problems need a message-level inbox item of
// their own (a PDF-only mail is represented by its PDF's item).
func hasOwnItem(ps []ImportProblem) bool {
	for _, p := range ps {
		if p.Kind != ProblemPDFOnly {
			return true
		}
	}
	return false
}

// noteReason describes why an inbox item was made: the ANS code and the
// reason, and the problems of the message (kinds and details, which carry
// no health data).
func noteReason(it InboxItem) string {
	r := string(it.Reason)
	if c := it.Reason.Code(); c != 0 {
		r = strconv.Itoa(c) + " " + r
	}
	for _, p := range it.Problems {
		r += "; " + string(p.Kind)
		if p.Part != "" {
			r += " (part " + p.Part + ")"
		}
		if p.Detail != "" {
			r += ": " + p.Detail
		}
	}
	return r
}
