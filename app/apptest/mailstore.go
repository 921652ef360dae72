package apptest

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strings"
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
	mu        sync.Mutex
	patients  []app.Patient
	manifests map[app.PatientID]app.Manifest
	documents map[app.PatientID]map[app.DocumentID][]byte
	mail      mailMaps
	audit     []app.AuditEvent
	// FailWrites, when > 0, makes that many Write calls fail with
	// app.ErrNoSpace (and decrements).
	FailWrites int
	// Writes counts successful Write calls.
	Writes int
}

// NewMailStore returns a store whose directory holds patients.
func NewMailStore(patients ...app.Patient) *MailStore {
	return &MailStore{
		patients:  append([]app.Patient(nil), patients...),
		manifests: map[app.PatientID]app.Manifest{},
		documents: map[app.PatientID]map[app.DocumentID][]byte{},
		mail:      newMailMaps(),
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
	return s.mail.state(account, mailbox), nil
}

// MailRecord implements app.MailStore.
func (s *MailStore) MailRecord(_ context.Context, key string) (app.MailRecord, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.mail.records[key]
	return r, ok, nil
}

// Records returns every deduplication record.
func (s *MailStore) Records() []app.MailRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []app.MailRecord
	for _, r := range s.mail.records {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// Raw returns a sealed raw message.
func (s *MailStore) Raw(key string) (app.RawMessage, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.mail.raw[key]
	return r, ok
}

// Inbox implements app.MailStore.
func (s *MailStore) Inbox(context.Context) ([]app.InboxItem, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mail.list(), nil
}

// Write implements app.MailStore: all of the batch or nothing. Patients,
// cursors and outbox fields are ignored (the import never writes them).
func (s *MailStore) Write(_ context.Context, b *app.Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.FailWrites > 0 {
		s.FailWrites--
		return app.ErrNoSpace
	}
	for _, m := range b.Manifests {
		m.Documents = append([]app.DocumentMeta(nil), m.Documents...)
		s.manifests[m.Patient] = m
	}
	for _, e := range b.Audit {
		e.Seq = uint64(len(s.audit) + 1)
		s.audit = append(s.audit, e)
	}
	for _, d := range b.Documents {
		if s.documents[d.Patient] == nil {
			s.documents[d.Patient] = map[app.DocumentID][]byte{}
		}
		s.documents[d.Patient][d.ID] = d.Bytes
	}
	s.mail.apply(b)
	s.Writes++
	return nil
}

// mailMaps hold the secure-messaging records of a fake store.
type mailMaps struct {
	inbox   map[app.InboxID]app.InboxItem
	raw     map[string]app.RawMessage
	records map[string]app.MailRecord
	states  map[string]app.MailboxState
	secrets map[string][]byte // by lower-case account
}

func newMailMaps() mailMaps {
	return mailMaps{
		inbox:   map[app.InboxID]app.InboxItem{},
		raw:     map[string]app.RawMessage{},
		records: map[string]app.MailRecord{},
		secrets: map[string][]byte{},
		states:  map[string]app.MailboxState{},
	}
}

// apply applies the mail fields of a batch (a RawMessage with nil Bytes
// removes the message).
func (m *mailMaps) apply(b *app.Batch) {
	for _, it := range b.Inbox {
		m.inbox[it.ID] = it
	}
	for _, r := range b.MailRaw {
		if r.Bytes == nil {
			delete(m.raw, r.Key)
			continue
		}
		r.Bytes = bytes.Clone(r.Bytes)
		m.raw[r.Key] = r
	}
	for _, r := range b.MailRecords {
		m.records[r.Key] = r
	}
	for _, st := range b.MailStates {
		m.states[st.Key()] = st
	}
}

// list returns the inbox items oldest first (by CreatedAt, then id), as
// the vault does.
func (m *mailMaps) list() []app.InboxItem {
	out := make([]app.InboxItem, 0, len(m.inbox))
	for _, it := range m.inbox {
		out = append(out, it)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// state returns a sync point, the zero one (account and mailbox set) when
// none was stored.
func (m *mailMaps) state(account, mailbox string) app.MailboxState {
	st, ok := m.states[app.MailboxState{Account: account, Mailbox: mailbox}.Key()]
	if !ok {
		return app.MailboxState{Account: account, Mailbox: mailbox}
	}
	return st
}

// MailState implements app.Store.
func (s *Store) MailState(_ context.Context, account, mailbox string) (app.MailboxState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check("mail state"); err != nil {
		return app.MailboxState{}, err
	}
	return s.mail.state(account, mailbox), nil
}

// MailSecret implements app.Store.
func (s *Store) MailSecret(_ context.Context, account string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check("mailbox secret"); err != nil {
		return nil, err
	}
	sec, ok := s.mail.secrets[strings.ToLower(account)]
	if !ok {
		return nil, fmt.Errorf("mailbox secret: %w", app.ErrNotFound)
	}
	return append([]byte(nil), sec...), nil
}

// SaveMailSecret implements app.Store.
func (s *Store) SaveMailSecret(_ context.Context, account string, secret []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check("save mailbox secret"); err != nil {
		return err
	}
	if len(secret) == 0 {
		delete(s.mail.secrets, strings.ToLower(account))
		return nil
	}
	s.mail.secrets[strings.ToLower(account)] = append([]byte(nil), secret...)
	return nil
}

// MailRecord implements app.Store.
func (s *Store) MailRecord(_ context.Context, key string) (app.MailRecord, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check("mail record"); err != nil {
		return app.MailRecord{}, false, err
	}
	r, ok := s.mail.records[key]
	return r, ok, nil
}

// Inbox implements app.Store.
func (s *Store) Inbox(context.Context) ([]app.InboxItem, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check("inbox"); err != nil {
		return nil, err
	}
	return s.mail.list(), nil
}

// RawMessage implements app.Store.
func (s *Store) RawMessage(_ context.Context, key string) (app.RawMessage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check("raw message"); err != nil {
		return app.RawMessage{}, err
	}
	r, ok := s.mail.raw[key]
	if !ok {
		return app.RawMessage{}, fmt.Errorf("apptest: raw message: %w", app.ErrNotFound)
	}
	return r, nil
}
