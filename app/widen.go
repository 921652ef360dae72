package app

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// streamWindow is the cursor stream that remembers how far back (in act
// dates) a record's document list was read from the central service, after
// the user widened it. Its Token is windowAll when the whole record was
// listed.
const (
	streamWindow = "documents.window"
	windowAll    = "all"
)

// DocumentWindow is how far back a record's document list goes.
type DocumentWindow struct {
	// Full: every document of the record was listed, whatever its date.
	Full bool
	// Since is the oldest act date listed after a widen; zero when the
	// record was never widened, in which case the list goes back
	// FirstOpenWindow before its first consultation.
	Since time.Time
}

// Limited reports whether older documents may exist that the list does not
// hold: the UI shows the "last two years" notice with its widen action.
func (w DocumentWindow) Limited() bool { return !w.Full }

// RecordWindow returns how far back the cached document list of a patient
// goes (vault only, no network).
func (s *Service) RecordWindow(ctx context.Context, id PatientID) (DocumentWindow, error) {
	cur, err := s.store.Cursor(ctx, id, streamWindow)
	if err != nil {
		return DocumentWindow{}, fmt.Errorf("record window: %w", err)
	}
	if cur.Token == windowAll {
		return DocumentWindow{Full: true}, nil
	}
	return DocumentWindow{Since: cur.Time}, nil
}

// WidenRecord lists the documents of a patient's record whose act date is
// since or later (zero since: the whole record), beyond the FirstOpenWindow
// that OpenPatient reads at a first consultation, and merges them into the
// cached manifest. acc gives the access mode and justification of the
// current access (the practitioner is the session's); a bris de glace access
// widens in bris de glace. The delta cursor and the time of the last check
// are left alone: widening only adds older documents.
//
// It fails with ErrCredential when no practitioner is signed in, and with
// the central service's errors (ErrOffline, *AccessError…).
func (s *Service) WidenRecord(ctx context.Context, id PatientID, acc Access, since time.Time) (PatientRecord, error) {
	s.Touch()
	sess, err := s.currentSession()
	if err != nil {
		return PatientRecord{}, fmt.Errorf("widen record: %w", err)
	}
	p, err := s.recordPatient(ctx, id)
	if err != nil {
		return PatientRecord{}, fmt.Errorf("widen record: %w", err)
	}
	acc.Practitioner = sess.Practitioner
	if err := acc.Validate(); err != nil {
		return PatientRecord{}, fmt.Errorf("widen record: %w", err)
	}
	var got []RemoteDocument
	err = sess.Records.ListDocuments(ctx, acc, p.INS, DocumentQuery{ActSince: since}, func(page []RemoteDocument) error {
		got = append(got, page...)
		return nil
	})
	s.auditRemote(ctx, acc, id, "dmp.iti67", err)
	if err != nil {
		return PatientRecord{}, fmt.Errorf("widen record: %w", err)
	}
	// Read the manifest after the (slow) listing, so that what an
	// OpenPatient stored meanwhile is kept.
	cached, err := s.store.Manifest(ctx, id)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return PatientRecord{}, fmt.Errorf("widen record: %w", err)
	}
	cached.Patient = id
	m, _ := MergeManifest(cached, got)
	window := Cursor{Patient: id, Stream: streamWindow, Time: since}
	if since.IsZero() {
		window.Token = windowAll
	}
	if prev, err := s.store.Cursor(ctx, id, streamWindow); err != nil {
		return PatientRecord{}, fmt.Errorf("widen record: %w", err)
	} else if prev.Token == windowAll || (!prev.Time.IsZero() && prev.Time.Before(since)) {
		window = prev // an earlier widen went further back
	}
	if err := s.store.Write(ctx, &Batch{Manifests: []Manifest{m}, Cursors: []Cursor{window}}); err != nil {
		return PatientRecord{}, fmt.Errorf("widen record: %w", err)
	}
	return PatientRecord{Patient: p, Manifest: m, Access: acc, CheckedAt: m.CheckedAt}, nil
}
