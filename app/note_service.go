package app

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// SetDocumentWriter gives the service its document writer (main wires
// cda.Writer).
func (s *Service) SetDocumentWriter(w DocumentWriter) {
	s.mu.Lock()
	s.writer = w
	s.mu.Unlock()
}

// WriteNote writes a note for a patient and puts it in the outbox: it is
// readable at once in the record (offline too) and the sync engine sends it
// when the central service answers, exactly once. The author is the
// signed-in practitioner (their card works offline). Only a qualified
// identity may carry the INS: the writer refuses the others.
func (s *Service) WriteNote(ctx context.Context, id PatientID, d NoteDraft) (OutboxItem, error) {
	s.Touch()
	s.mu.Lock()
	w, sess := s.writer, s.session
	s.mu.Unlock()
	if w == nil {
		return OutboxItem{}, fmt.Errorf("write note: no document writer: %w", ErrInvalid)
	}
	if sess == nil {
		return OutboxItem{}, fmt.Errorf("write note: no practitioner signed in: %w", ErrCredential)
	}
	if strings.TrimSpace(d.Text) == "" {
		return OutboxItem{}, fmt.Errorf("write note: empty text: %w", ErrInvalid)
	}
	if d.Visibility.MaskedToProfessionals && d.Visibility.HiddenFromPatient {
		return OutboxItem{}, fmt.Errorf("write note: a document cannot be both masked to professionals and hidden from the patient: %w", ErrInvalid)
	}
	p, err := s.store.Patient(ctx, id)
	if err != nil {
		return OutboxItem{}, fmt.Errorf("write note: %w", err)
	}
	if p.Status != IdentityQualified {
		return OutboxItem{}, fmt.Errorf("write note: %w", &AccessError{Reason: DeniedNotQualified})
	}
	m, err := s.store.Manifest(ctx, id)
	if err != nil && KindOf(err) != ErrNotFound {
		return OutboxItem{}, fmt.Errorf("write note: %w", err)
	}
	m.Patient = id
	var previous *DocumentMeta
	if d.Replaces != "" {
		old, ok := m.Document(d.Replaces)
		if !ok {
			return OutboxItem{}, fmt.Errorf("write note: replaced document not in the record: %w", ErrNotFound)
		}
		previous = &old
	}
	now := s.clock.Now()
	doc, err := w.WriteNote(p, sess.Practitioner, d, previous, now)
	if err != nil {
		return OutboxItem{}, fmt.Errorf("write note: %w", err)
	}
	item, err := s.fileWritten(ctx, m, doc, d.Visibility, previous, false, now)
	if err != nil {
		return OutboxItem{}, fmt.Errorf("write note: %w", err)
	}
	s.audit(ctx, AuditEvent{Action: "note.write", Patient: id, Practitioner: sess.Practitioner.RPPS,
		Structure: sess.Practitioner.Structure.ID, Result: "ok"})
	return item, nil
}

// fileWritten puts a document written here into the vault and the outbox
// in one batch: the manifest m (of the patient) gains it, readable at once
// offline, and the sync engine sends it once. With previous it is a
// replacement (OutboxReplace against previous's metadata version); with
// supersede, the manifest marks previous superseded at once.
func (s *Service) fileWritten(ctx context.Context, m Manifest, doc WrittenDocument, vis Visibility, previous *DocumentMeta, supersede bool, now time.Time) (OutboxItem, error) {
	meta := doc.Meta
	meta.Source, meta.Visibility, meta.Cached = "carnet", vis, true
	item := OutboxItem{
		ID: OutboxID(meta.ID), Patient: m.Patient, Kind: OutboxProvide, State: OutboxPending,
		Payload: doc.Content, CreatedAt: now, Meta: meta, Visibility: vis,
	}
	m.Documents = slices.Clone(m.Documents) // never the store's own slice
	if previous != nil {
		item.Kind, item.Replaces, item.BaseVersion = OutboxReplace, previous.ID, previous.VersionID
		for i := range m.Documents {
			if supersede && m.Documents[i].ID == previous.ID {
				m.Documents[i].Superseded = true
			}
		}
	}
	m.Documents = append(m.Documents, meta)
	sortDocuments(m.Documents)
	err := s.store.Write(ctx, &Batch{
		Manifests: []Manifest{m},
		Documents: []DocumentContent{{Patient: m.Patient, ID: meta.ID, Bytes: doc.Content}},
		Outbox:    []OutboxItem{item},
	})
	return item, err
}
