package apptest

import (
	"context"
	"sort"
	"sync"

	"github.com/carnetdesk/carnet/app"
)

var _ app.MailStore = (*MailStore)(nil)

// MailStore is an in-memory app.MailStore for the mail import's tests: a
// patient directory, manifests and documents, the manual queue, sealed raw
// messages, deduplication records, sync points and the audit log. WriteMail
// applies a batch atomically; FailWrites makes the next writes fail. It is
// safe for concurrent use.
type MailStore struct {
	mu         sync.Mutex
	patients   []app.Patient
	manifests  map[app.PatientID]app.Manifest
	documents  map[app.PatientID]map[app.DocumentID][]byte
	inbox      map[app.InboxID]app.InboxItem
	inboxOrder []app.InboxID
	raw        map[string]app.RawMessage
	records    map[string]app.MailRecord
	states     map[string]app.MailboxState
	audit      []app.AuditEvent
	// FailWrites, when > 0, makes that many WriteMail calls fail with
	// app.ErrNoSpace (and decrements).
	FailWrites int
	// Writes counts successful WriteMail calls.
	Writes int
}

// NewMailStore returns a store whose directory holds patients.
func NewMailStore(patients ...app.Patient) *MailStore {
	return &MailStore{
		patients:  append([]app.Patient(nil), patients...),
		manifests: map[app.PatientID]app.Manifest{},
		documents: map[app.PatientID]map[app.DocumentID][]byte{},
		inbox:     map[app.InboxID]app.InboxItem{},
		raw:       map[string]app.RawMessage{},
		records:   map[string]app.MailRecord{},
		states:    map[string]app.MailboxState{},
	}
}

// Patients implements app.MailStore.
func (s *MailStore) Patients(context.Context) ([]app.Patient, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]app.Patient(nil), s.patients...), nil
}

// Manifest implements app.MailStore.
func (s *MailStore) Manifest(_ context.Context, id app.PatientID) (app.Manifest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.manifests[id]
	if !ok {
		return app.Manifest{Patient: id}, app.ErrNotFound
	}
	m.Documents = append([]app.DocumentMeta(nil), m.Documents...)
	return m, nil
}

// PutManifest stores a manifest and its documents' content (a document
// from the central service, for deduplication tests).
func (s *MailStore) PutManifest(m app.Manifest, contents map[app.DocumentID][]byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.manifests[m.Patient] = m
	if s.documents[m.Patient] == nil {
		s.documents[m.Patient] = map[app.DocumentID][]byte{}
	}
	for id, b := range contents {
		s.documents[m.Patient][id] = b
	}
}

// Document returns a stored document's content.
func (s *MailStore) Document(p app.PatientID, id app.DocumentID) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.documents[p][id]
	return b, ok
}

// Record implements app.MailStore.
func (s *MailStore) Record(_ context.Context, e app.AuditEvent) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e.Seq = uint64(len(s.audit) + 1)
	s.audit = append(s.audit, e)
	return nil
}

// AuditLog returns the audit events.
func (s *MailStore) AuditLog() []app.AuditEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]app.AuditEvent(nil), s.audit...)
}

// MailState implements app.MailStore.
func (s *MailStore) MailState(_ context.Context, account, mailbox string) (app.MailboxState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.states[app.MailboxState{Account: account, Mailbox: mailbox}.Key()]
	if !ok {
		return app.MailboxState{Account: account, Mailbox: mailbox}, nil
	}
	return st, nil
}

// MailRecord implements app.MailStore.
func (s *MailStore) MailRecord(_ context.Context, key string) (app.MailRecord, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.records[key]
	return r, ok, nil
}

// Records returns every deduplication record.
func (s *MailStore) Records() []app.MailRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []app.MailRecord
	for _, r := range s.records {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// Raw returns a sealed raw message.
func (s *MailStore) Raw(key string) (app.RawMessage, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.raw[key]
	return r, ok
}

// Inbox implements app.MailStore.
func (s *MailStore) Inbox(context.Context) ([]app.InboxItem, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]app.InboxItem, 0, len(s.inboxOrder))
	for _, id := range s.inboxOrder {
		out = append(out, s.inbox[id])
	}
	return out, nil
}

// WriteMail implements app.MailStore: all of the batch or nothing.
func (s *MailStore) WriteMail(_ context.Context, b *app.MailBatch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.FailWrites > 0 {
		s.FailWrites--
		return app.ErrNoSpace
	}
	for _, m := range b.Batch.Manifests {
		m.Documents = append([]app.DocumentMeta(nil), m.Documents...)
		s.manifests[m.Patient] = m
	}
	for _, d := range b.Batch.Documents {
		if s.documents[d.Patient] == nil {
			s.documents[d.Patient] = map[app.DocumentID][]byte{}
		}
		s.documents[d.Patient][d.ID] = d.Bytes
	}
	for _, it := range b.Inbox {
		if _, ok := s.inbox[it.ID]; !ok {
			s.inboxOrder = append(s.inboxOrder, it.ID)
		}
		s.inbox[it.ID] = it
	}
	for _, r := range b.Raw {
		s.raw[r.Key] = r
	}
	for _, r := range b.Records {
		s.records[r.Key] = r
	}
	for _, st := range b.States {
		s.states[st.Key()] = st
	}
	s.Writes++
	return nil
}
