package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// MailPruner is implemented by stores that can drop old raw messages (the
// vault): the raw copy of every message settled before before (filed,
// duplicate, or every inbox item attached or rejected) is removed; the
// deduplication records, sync points and inbox items stay. It returns how
// many raw messages it dropped.
type MailPruner interface {
	PruneMail(ctx context.Context, before time.Time) (int, error)
}

// mailMu serialises the use cases that read and rewrite manifests and
// inbox items for the mail import (ImportMail, AttachInboxItem,
// RejectInboxItem), so that a person's decision and a background import do
// not overwrite each other's manifest. There is one Service per process.
var mailMu sync.Mutex

// PruneMail drops the raw messages settled for longer than the retention
// period (Settings.RetentionDays), when the store supports it (MailPruner).
func (s *Service) PruneMail(ctx context.Context) (int, error) {
	p, ok := s.store.(MailPruner)
	if !ok {
		return 0, nil
	}
	days := s.Settings().RetentionDays
	if days <= 0 {
		days = DefaultSettings().RetentionDays
	}
	n, err := p.PruneMail(ctx, s.clock.Now().AddDate(0, 0, -days))
	if err != nil {
		return 0, fmt.Errorf("mail retention: %w", err)
	}
	return n, nil
}

// Inbox returns the manual queue and the quarantine, oldest first, with
// the items a person already attached or rejected.
func (s *Service) Inbox(ctx context.Context) ([]InboxItem, error) {
	items, err := s.store.Inbox(ctx)
	if err != nil {
		return nil, fmt.Errorf("inbox: %w", err)
	}
	// The PDF items stored before ReasonPDFOnly existed say ReasonNoReport.
	for i, it := range items {
		if it.Reason == ReasonNoReport && it.Report != nil {
			items[i].Reason = unstructuredReason(*it.Report)
		}
	}
	// Only qualified identities are proposed for an attach (their status
	// as it is now, not when the message came).
	qualified, err := s.qualifiedIDs(ctx)
	if err != nil {
		return nil, fmt.Errorf("inbox: %w", err)
	}
	for i := range items {
		items[i].Candidates = qualifiedCandidates(items[i].Candidates, qualified)
	}
	return items, nil
}

// qualifiedIDs returns the patients of the directory whose identity is
// qualified.
func (s *Service) qualifiedIDs(ctx context.Context) (map[PatientID]bool, error) {
	ps, err := s.store.Patients(ctx)
	if err != nil {
		return nil, err
	}
	q := make(map[PatientID]bool, len(ps))
	for _, p := range ps {
		if p.Status == IdentityQualified {
			q[p.ID] = true
		}
	}
	return q, nil
}

// qualifiedCandidates keeps the candidates whose identity is qualified.
func qualifiedCandidates(cs []Candidate, qualified map[PatientID]bool) []Candidate {
	var out []Candidate
	for _, c := range cs {
		if qualified[c.Patient] {
			out = append(out, c)
		}
	}
	return out
}

// inboxItem returns one item of the inbox (ErrNotFound when absent).
func (s *Service) inboxItem(ctx context.Context, id InboxID) (InboxItem, error) {
	items, err := s.store.Inbox(ctx)
	if err != nil {
		return InboxItem{}, err
	}
	for _, it := range items {
		if it.ID == id {
			return it, nil
		}
	}
	return InboxItem{}, ErrNotFound
}

// AttachInboxItem files a pending report into the record of the patient a
// person chose, after confirmation: the same deduplication as the import
// (same uniqueId and content, or same content: already there, the item is
// settled without a new document; same uniqueId with other content:
// ErrConflict) and the same version ordering. A PDF without uniqueId gets a
// stable id from its SHA-1. The item becomes attached, its content leaves
// the inbox (the document is in the record now), and the attach is
// audited. Refused: an item that is not pending (ErrConflict), an item
// without a report to file (ErrInvalid: reject it instead), an unknown
// patient (ErrNotFound), a patient whose identity is not qualified
// (*AccessError DeniedNotQualified), and a report whose INS is a valid INS other than
// the chosen patient's (ErrConflict: never file to the wrong patient).
func (s *Service) AttachInboxItem(ctx context.Context, id InboxID, patient PatientID) error {
	mailMu.Lock()
	defer mailMu.Unlock()
	err := s.attachInboxItem(ctx, id, patient)
	result := resultOf(err)
	s.audit(ctx, s.mailEvent("mail.attach", patient, result, string(id)))
	if err != nil {
		return fmt.Errorf("attach inbox item: %w", err)
	}
	return nil
}

func (s *Service) attachInboxItem(ctx context.Context, id InboxID, patient PatientID) error {
	it, err := s.inboxItem(ctx, id)
	if err != nil {
		return err
	}
	if it.State != InboxPending {
		return ErrConflict
	}
	if it.Report == nil || len(it.Report.Content) == 0 {
		return ErrInvalid
	}
	if !s.InboxItemOpened(id) {
		// A person attaches only a report she has read (ReadInboxItem).
		return fmt.Errorf("the report was not opened before attaching: %w", ErrInvalid)
	}
	p, err := s.store.Patient(ctx, patient)
	if err != nil {
		return err
	}
	if p.Status != IdentityQualified {
		// A report goes into a record under the patient's INS: never to a
		// provisional, recovered or validated identity.
		return &AccessError{Reason: DeniedNotQualified}
	}
	rep := *it.Report
	if valid, err := ParseINS(rep.Identity.INS.Matricule, rep.Identity.INS.OID); err == nil {
		// The report names a valid INS: it may go to the patient holding
		// it, never to another one (with another INS, or without one
		// while a local patient holds the report's).
		if p.INS.Matricule != "" && (!strings.EqualFold(valid.Matricule, p.INS.Matricule) || valid.OID != p.INS.OID) {
			return ErrConflict
		}
		if p.INS.Matricule == "" {
			holders, err := s.store.SearchPatients(ctx, valid.Matricule, 0)
			if err != nil {
				return err
			}
			for _, h := range holders {
				if h.ID != patient && strings.EqualFold(h.INS.Matricule, valid.Matricule) && h.INS.OID == valid.OID {
					return ErrConflict
				}
			}
		}
	}
	man, err := s.store.Manifest(ctx, patient)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	man.Patient = patient
	man.Documents = append([]DocumentMeta(nil), man.Documents...)
	if rep.Meta.ID == "" {
		rep.Meta.ID = DocumentID("urn:carnet:mssante:sha1:" + contentHash(rep.Content))
	}
	if rep.Meta.Date.IsZero() {
		rep.Meta.Date = it.Received
	}
	if rep.Meta.Title == "" || rep.Meta.Title == rep.FileName {
		// The mail's subject says what it is; a file name only when none.
		rep.Meta.Title = it.Subject
		if strings.TrimSpace(rep.Meta.Title) == "" {
			rep.Meta.Title = rep.FileName
		}
	}
	b := &Batch{}
	switch fileInto(&man, &rep) {
	case fileConflict:
		return ErrConflict
	case fileAdded:
		sortDocuments(man.Documents)
		b.Manifests = []Manifest{man}
		b.Documents = []DocumentContent{{Patient: patient, ID: rep.Meta.ID, Bytes: rep.Content}}
	}
	now := s.clock.Now()
	it.State, it.Patient, it.DecidedAt = InboxAttached, patient, now
	it.Filed, it.UndoneAt, it.UndoReason = "", time.Time{}, ""
	if len(b.Documents) > 0 {
		it.Filed = rep.Meta.ID
	}
	settled := rep
	it.Report = &settled
	settle(&it)
	b.Inbox = []InboxItem{it}
	if rec, ok, err := s.store.MailRecord(ctx, it.MessageKey); err != nil {
		return err
	} else if ok && len(b.Documents) > 0 {
		rec.Documents = append(rec.Documents, rep.Meta.ID)
		b.MailRecords = []MailRecord{rec}
	}
	return s.store.Write(ctx, b)
}

// RejectInboxItem settles a pending or quarantined item without filing
// anything: its content leaves the inbox (the raw message stays until
// retention), and the rejection is audited. The message is left as it is
// on the server.
func (s *Service) RejectInboxItem(ctx context.Context, id InboxID) error {
	mailMu.Lock()
	defer mailMu.Unlock()
	err := func() error {
		it, err := s.inboxItem(ctx, id)
		if err != nil {
			return err
		}
		if it.State != InboxPending && it.State != InboxQuarantined {
			return ErrConflict
		}
		it.State, it.DecidedAt = InboxRejected, s.clock.Now()
		settle(&it)
		return s.store.Write(ctx, &Batch{Inbox: []InboxItem{it}})
	}()
	s.audit(ctx, s.mailEvent("mail.reject", "", resultOf(err), string(id)))
	if err != nil {
		return fmt.Errorf("reject inbox item: %w", err)
	}
	return nil
}

// settle drops the content of a decided item's report, keeping its
// metadata and hash (for deduplication of a later copy).
func settle(it *InboxItem) {
	if it.Report == nil {
		return
	}
	rep := *it.Report
	if len(rep.Content) > 0 {
		rep.Meta.Hash = contentHash(rep.Content)
	}
	rep.Content = nil
	it.Report = &rep
}

// mailEvent is an audit event of a person's inbox decision. detail is the
// item id (opaque, no health data).
func (s *Service) mailEvent(action string, p PatientID, result, detail string) AuditEvent {
	e := AuditEvent{Action: action, Patient: p, Result: result, Detail: "item " + detail}
	if pr, ok := s.Practitioner(); ok {
		e.Practitioner, e.Structure = pr.RPPS, pr.Structure.ID
	}
	return e
}

// ReadInboxItem reads the report of an inbox item, so that a person can
// see which patient it concerns before attaching it: its narrative, or its
// attachment (a PDF-only mail). Reading is audited; the item is unchanged.
// ErrNotFound when the item is gone, ErrInvalid when it holds no report
// (quarantined, or settled and its content dropped).
func (s *Service) ReadInboxItem(ctx context.Context, id InboxID) (ClinicalDocument, error) {
	s.Touch()
	r, _ := s.reading.current()
	if r == nil {
		return ClinicalDocument{}, errNoReader
	}
	it, err := s.inboxItem(ctx, id)
	if err != nil {
		return ClinicalDocument{}, fmt.Errorf("read inbox item: %w", err)
	}
	if it.Report == nil || len(it.Report.Content) == 0 {
		return ClinicalDocument{}, fmt.Errorf("read inbox item: no report to read: %w", ErrInvalid)
	}
	meta := it.Report.Meta
	if meta.MediaType == "" {
		meta.MediaType = it.Report.MediaType
	}
	cd, err := r.Read(it.Report.Content, meta)
	s.audit(ctx, s.mailEvent("mail.read", "", resultOf(err), string(id)))
	if err != nil {
		return ClinicalDocument{}, fmt.Errorf("read inbox item: %w", err)
	}
	s.mu.Lock()
	if s.opened == nil {
		s.opened = map[InboxID]bool{}
	}
	s.opened[id] = true
	s.mu.Unlock()
	return cd, nil
}

// InboxItemOpened reports whether a person opened the report of an item
// (ReadInboxItem) since the vault was unlocked: only then may it be
// attached.
func (s *Service) InboxItemOpened(id InboxID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opened[id]
}

// UndoAttachWindow is how long after an attach it can be undone.
const UndoAttachWindow = 7 * 24 * time.Hour

// MinUndoReason is the shortest reason an undo accepts.
const MinUndoReason = 10

// UndoAttach undoes a person's attach within UndoAttachWindow: the
// document the attach added leaves the patient's record (and the vault),
// the item waits again in the manual queue with its report, and the audit
// says who undid it and why (reason, at least MinUndoReason characters).
// Refused: an item that is not attached (ErrConflict), past the window or
// without a reason (ErrInvalid), a document that went on since the attach
// (an *UndoError: sent or queued for the central service, or replaced).
func (s *Service) UndoAttach(ctx context.Context, id InboxID, reason string) error {
	mailMu.Lock()
	defer mailMu.Unlock()
	var patient PatientID
	err := func() error {
		it, err := s.inboxItem(ctx, id)
		if err != nil {
			return err
		}
		if it.State != InboxAttached || it.Report == nil {
			return ErrConflict
		}
		reason = strings.TrimSpace(reason)
		if len([]rune(reason)) < MinUndoReason {
			return fmt.Errorf("a reason is needed: %w", ErrInvalid)
		}
		now := s.clock.Now()
		if now.Sub(it.DecidedAt) > UndoAttachWindow {
			return fmt.Errorf("attached more than 7 days ago: %w", ErrInvalid)
		}
		patient = it.Patient
		b := &Batch{}
		rep := *it.Report
		if it.Filed != "" {
			man, err := s.store.Manifest(ctx, it.Patient)
			if err != nil {
				return err
			}
			if err := s.undoable(ctx, man, it.Filed); err != nil {
				return err
			}
			content, err := s.store.Document(ctx, it.Patient, it.Filed)
			if err != nil {
				return err
			}
			man.Documents = unfile(man.Documents, it.Filed, rep)
			b.Manifests = []Manifest{man}
			b.DocumentsGone = []DocumentRef{{Patient: it.Patient, ID: it.Filed}}
			rep.Content = content
			if rec, ok, err := s.store.MailRecord(ctx, it.MessageKey); err != nil {
				return err
			} else if ok {
				var docs []DocumentID
				for _, d := range rec.Documents {
					if d != it.Filed {
						docs = append(docs, d)
					}
				}
				rec.Documents = docs
				b.MailRecords = []MailRecord{rec}
			}
		} else {
			// The record held the document already: it stays; the report's
			// content is taken back from there.
			content, err := s.store.Document(ctx, it.Patient, rep.Meta.ID)
			if err != nil {
				return err
			}
			rep.Content = content
		}
		it.Report = &rep
		it.State, it.Patient, it.DecidedAt, it.Filed = InboxPending, "", time.Time{}, ""
		it.UndoneAt, it.UndoReason = now, reason
		b.Inbox = []InboxItem{it}
		// The audit goes in the same transaction: no undo without its who
		// and why.
		ev := s.mailEvent("mail.attach.undo", patient, "ok", string(id))
		ev.Detail += ": " + reason
		ev.Time = now
		if ev.Practitioner == "" {
			ev.Practitioner = LocalOperator()
		}
		b.Audit = append(b.Audit, ev)
		return s.store.Write(ctx, b)
	}()
	if err != nil {
		s.audit(ctx, s.mailEvent("mail.attach.undo", patient, resultOf(err), string(id)))
		return fmt.Errorf("undo attach: %w", err)
	}
	return nil
}

// UndoRefusal says why an attach can no longer be undone.
type UndoRefusal string

// The reasons an attach can no longer be undone.
const (
	// UndoPushed: the document was sent to the central record service, or
	// waits in the outbox to be sent (or a change of it does): removing it
	// here would leave the shared record with a document Carnet no longer
	// shows.
	UndoPushed UndoRefusal = "pushed"
	// UndoReplaced: a newer version replaced the attached document (or a
	// replacement of it waits in the outbox): the record's current version
	// is no longer the one the attach added.
	UndoReplaced UndoRefusal = "replaced"
)

// UndoError is UndoAttach's refusal of an attach whose document went on
// (pushed, replaced). It wraps ErrConflict; the UI says the reason.
type UndoError struct {
	Reason UndoRefusal
}

// Error implements error.
func (e *UndoError) Error() string {
	return "the attached document was " + string(e.Reason) + " since: the attach cannot be undone"
}

// Unwrap returns ErrConflict, the kind of the refusal.
func (e *UndoError) Unwrap() error { return ErrConflict }

// undoable checks that the document an attach filed is still only in the
// vault, as the attach left it: not known to the central service, not
// queued in the outbox, not replaced by a newer version.
func (s *Service) undoable(ctx context.Context, man Manifest, filed DocumentID) error {
	d, ok := man.Document(filed)
	if !ok {
		return fmt.Errorf("the attached document is no longer in the record: %w", ErrConflict)
	}
	if d.RemoteID != "" || d.VersionID != "" {
		return &UndoError{Reason: UndoPushed}
	}
	if d.Superseded {
		return &UndoError{Reason: UndoReplaced}
	}
	out, err := s.store.Outbox(ctx)
	if err != nil {
		return err
	}
	for _, o := range out {
		switch {
		case o.Replaces == filed:
			return &UndoError{Reason: UndoReplaced}
		case o.ID == OutboxID(filed), o.Meta.ID == filed, o.Target == filed:
			return &UndoError{Reason: UndoPushed}
		}
	}
	return nil
}

// unfile removes document id from docs and gives back the current state
// to the version it had superseded: the document it replaced (RPLC), or
// the latest remaining version of its set.
func unfile(docs []DocumentMeta, id DocumentID, rep IncomingReport) []DocumentMeta {
	out := make([]DocumentMeta, 0, len(docs))
	for _, d := range docs {
		if d.ID != id {
			out = append(out, d)
		}
	}
	latest := -1
	for i, d := range out {
		if rep.Meta.SetID != "" && d.SetID == rep.Meta.SetID && (latest < 0 || d.Version > out[latest].Version) {
			latest = i
		}
	}
	for i := range out {
		if out[i].ID == rep.Replaces || i == latest {
			out[i].Superseded = false
		}
	}
	return out
}

// CanUndoAttach reports whether an item's attach may still be undone (an
// attached item, within UndoAttachWindow by the service's clock).
func (s *Service) CanUndoAttach(it InboxItem) bool {
	return it.State == InboxAttached && it.Report != nil && s.clock.Now().Sub(it.DecidedAt) <= UndoAttachWindow
}
