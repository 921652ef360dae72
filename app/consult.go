package app

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Session is the practitioner signed in with their card (or certificate
// file) and the central record service reached with that credential.
type Session struct {
	Practitioner Practitioner
	Records      RecordService
}

// FirstOpenWindow is how far back the first consultation of a record looks
// (act dates), as the DMP's guidance asks; the user may widen it.
const FirstOpenWindow = 2 * 365 * 24 * time.Hour

// cursorOverlap is subtracted from a stored cursor so that documents whose
// server timestamps equal the cursor are not lost (they are deduplicated).
const cursorOverlap = 5 * time.Minute

// streamDocuments is the cursor stream of the document list.
const streamDocuments = "documents"

// PatientRecord is a patient's record as the UI shows it.
type PatientRecord struct {
	Patient   Patient
	Manifest  Manifest
	Status    RecordStatus
	Access    Access
	Offline   bool      // the central service could not be reached: this is the cached copy
	CheckedAt time.Time // last successful check with the central service
	// NotQualified: the identity is not qualified (PROV, RECUP, VALI) and
	// the access is normal: the central service was not asked, this is the
	// local copy. What to do: qualify the identity in the clinic's identity
	// system, then re-import it; or open in bris de glace, justified.
	NotQualified bool
	// Refreshing: this is the vault copy, shown at once while the central
	// service is asked in the background (CachedRecord); the answer
	// replaces it.
	Refreshing bool
}

// SignIn starts a session: from now on the record use cases reach the
// central service as this practitioner.
//
// The session's central service is gated (gate.go): no call about a
// patient whose local identity is not qualified, except in bris de glace.
func (s *Service) SignIn(sess Session) {
	var stop func()
	if sess.Records != nil {
		if _, done := sess.Records.(gatedRecords); !done {
			var observed RecordService
			observed, stop = s.startConnectivity(sess.Records)
			sess.Records = gatedRecords{RecordService: observed, byINS: s.store.PatientsByINS}
		}
	}
	s.mu.Lock()
	s.session = &sess
	old := s.stopLink
	s.stopLink = stop
	s.mu.Unlock()
	if old != nil {
		old()
	}
	s.audit(context.Background(), AuditEvent{Action: "session.signin", Practitioner: sess.Practitioner.RPPS,
		Structure: sess.Practitioner.Structure.ID, Result: "ok"})
}

// SignOut ends the session (card removed, re-authentication).
func (s *Service) SignOut() {
	s.mu.Lock()
	s.session = nil
	stop := s.stopLink
	s.stopLink, s.link = nil, nil
	s.mu.Unlock()
	if stop != nil {
		stop()
	}
}

// Practitioner returns the signed-in practitioner.
func (s *Service) Practitioner() (Practitioner, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.session == nil {
		return Practitioner{}, false
	}
	return s.session.Practitioner, true
}

func (s *Service) currentSession() (*Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.session == nil {
		return nil, fmt.Errorf("no practitioner signed in: %w", ErrCredential)
	}
	return s.session, nil
}

// recordPatient returns the local identity of a patient and checks that it
// has an INS the central service can be asked about.
func (s *Service) recordPatient(ctx context.Context, id PatientID) (Patient, error) {
	p, err := s.store.Patient(ctx, id)
	if err != nil {
		return Patient{}, err
	}
	if p.INS.Matricule == "" {
		return Patient{}, fmt.Errorf("patient has no INS: %w", ErrInvalid)
	}
	return p, nil
}

// remote prepares a call to the central service about a patient: the
// session (or ErrCredential), the patient's local identity with its INS,
// and a normal-mode access context. op prefixes the errors.
func (s *Service) remote(ctx context.Context, id PatientID, op string) (*Session, Patient, Access, error) {
	s.Touch()
	sess, err := s.currentSession()
	if err != nil {
		return nil, Patient{}, Access{}, err
	}
	p, err := s.recordPatient(ctx, id)
	if err != nil {
		return nil, Patient{}, Access{}, fmt.Errorf("%s: %w", op, err)
	}
	return sess, p, Access{Practitioner: sess.Practitioner, Mode: AccessNormal}, nil
}

// FindPatient asks the central service whether the patient has a record and
// whether this practitioner is authorised (TD0.2).
func (s *Service) FindPatient(ctx context.Context, id PatientID) (RecordStatus, error) {
	sess, p, acc, err := s.remote(ctx, id, "find patient")
	if err != nil {
		return RecordStatus{}, err
	}
	st, err := sess.Records.FindPatient(ctx, acc, p.INS)
	s.auditRemote(ctx, acc, id, "dmp.td02", err)
	if err != nil {
		return RecordStatus{}, fmt.Errorf("find patient: %w", err)
	}
	return st, nil
}

// GrantAuthorization records the patient's authorisation for the signed-in
// practitioner (TD0.3). The UI calls it only after the patient's consent was
// confirmed on screen.
func (s *Service) GrantAuthorization(ctx context.Context, id PatientID) error {
	sess, p, acc, err := s.remote(ctx, id, "grant authorization")
	if err != nil {
		return err
	}
	err = sess.Records.GrantAuthorization(ctx, acc, p.INS)
	s.auditRemote(ctx, acc, id, "dmp.td03", err)
	if err != nil {
		return fmt.Errorf("grant authorization: %w", err)
	}
	return nil
}

// OpenPatient opens a patient's record in the given mode. Online, it checks
// access with the central service, lists the documents (first open: act
// dates within FirstOpenWindow; later: what changed since the last call)
// and stores the manifest; offline (ErrOffline), it returns the cached copy
// marked Offline. A refusal of the service is returned as is (an
// *AccessError) and the cached copy is not shown.
func (s *Service) OpenPatient(ctx context.Context, id PatientID, mode AccessMode, justification string) (PatientRecord, error) {
	s.Touch()
	p, err := s.store.Patient(ctx, id)
	if err != nil {
		return PatientRecord{}, fmt.Errorf("open patient: %w", err)
	}
	cached, err := s.store.Manifest(ctx, id)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return PatientRecord{}, fmt.Errorf("open patient: %w", err)
	}
	cached.Patient = id
	rec := PatientRecord{Patient: p, Manifest: cached, CheckedAt: cached.CheckedAt}

	sess, serr := s.currentSession()
	if serr != nil {
		rec.Offline = true // no card: the cached copy only
		return rec, nil
	}
	acc := Access{Practitioner: sess.Practitioner, Mode: mode, Justification: justification}
	rec.Access = acc
	if err := acc.Validate(); err != nil {
		return PatientRecord{}, fmt.Errorf("open patient: %w", err)
	}
	if p.INS.Matricule == "" {
		rec.Offline = true
		return rec, nil
	}
	if !MayReachCentral(p.Status, mode) {
		rec.NotQualified = true
		s.audit(ctx, AuditEvent{Action: "dmp.open", Practitioner: sess.Practitioner.RPPS, Structure: sess.Practitioner.Structure.ID,
			Patient: id, Mode: mode, Result: "refused", Detail: "identity not qualified: " + string(p.Status)})
		return rec, nil
	}
	online, err := s.refresh(ctx, sess, acc, p, cached)
	switch {
	case errors.Is(err, ErrOffline):
		rec.Offline = true
		s.log.Info("record opened offline", "checked_at", cached.CheckedAt)
		return rec, nil
	case err != nil:
		return PatientRecord{}, fmt.Errorf("open patient: %w", err)
	}
	online.Access = acc
	return online, nil
}

// CachedRecord returns the vault copy of a patient's record, to show at
// once while OpenPatient asks the central service: the network never sits
// between a click and a cached screen. ok is false when there is nothing
// worth showing first: no cached manifest, or OpenPatient would not call
// the network anyway (no session, no INS, identity not qualified), or a
// mode other than normal (bris de glace opens only after the service
// answered). The record is marked Refreshing and carries no access check.
func (s *Service) CachedRecord(ctx context.Context, id PatientID) (rec PatientRecord, ok bool, err error) {
	p, err := s.store.Patient(ctx, id)
	if err != nil {
		return PatientRecord{}, false, fmt.Errorf("cached record: %w", err)
	}
	sess, serr := s.currentSession()
	if serr != nil || p.INS.Matricule == "" || !MayReachCentral(p.Status, AccessNormal) {
		return PatientRecord{}, false, nil
	}
	m, err := s.store.Manifest(ctx, id)
	switch {
	case errors.Is(err, ErrNotFound):
		return PatientRecord{}, false, nil
	case err != nil:
		return PatientRecord{}, false, fmt.Errorf("cached record: %w", err)
	}
	if m.CheckedAt.IsZero() && len(m.Documents) == 0 {
		return PatientRecord{}, false, nil
	}
	m.Patient = id
	return PatientRecord{Patient: p, Manifest: m, CheckedAt: m.CheckedAt, Refreshing: true,
		Access: Access{Practitioner: sess.Practitioner, Mode: AccessNormal}}, true, nil
}

// refresh does the online part of OpenPatient.
func (s *Service) refresh(ctx context.Context, sess *Session, acc Access, p Patient, cached Manifest) (PatientRecord, error) {
	st, err := sess.Records.FindPatient(ctx, acc, p.INS)
	s.auditRemote(ctx, acc, p.ID, "dmp.td02", err)
	if err != nil {
		return PatientRecord{}, err
	}
	switch {
	case !st.Exists:
		return PatientRecord{}, &AccessError{Reason: DeniedNoRecord}
	case st.Closed:
		return PatientRecord{}, &AccessError{Reason: DeniedClosed}
	case st.Authorization == AuthorizationBlocked:
		return PatientRecord{}, &AccessError{Reason: DeniedBlocked}
	case st.Authorization != AuthorizationGranted && st.Authorization != AuthorizationUnknown && acc.Mode == AccessNormal && !st.TreatingDoctor:
		// (unknown: a server without the extension decides per request)
		return PatientRecord{}, &AccessError{Reason: DeniedNoAuthorization}
	}

	q := DocumentQuery{}
	cur, err := s.store.Cursor(ctx, p.ID, streamDocuments)
	if err != nil {
		return PatientRecord{}, err
	}
	if cached.CheckedAt.IsZero() || cur.Time.IsZero() {
		q.ActSince = st.ServerTime.Add(-FirstOpenWindow)
		if st.ServerTime.IsZero() {
			q.ActSince = s.clock.Now().Add(-FirstOpenWindow)
		}
	} else {
		q.UpdatedSince = cur.Time.Add(-cursorOverlap)
	}
	var got []RemoteDocument
	err = sess.Records.ListDocuments(ctx, acc, p.INS, q, func(page []RemoteDocument) error {
		got = append(got, page...)
		return nil
	})
	s.auditRemote(ctx, acc, p.ID, "dmp.iti67", err)
	if err != nil {
		return PatientRecord{}, err
	}
	m, newest := MergeManifest(cached, got)
	m.CheckedAt = s.clock.Now()
	if newest.Before(cur.Time) {
		newest = cur.Time
	}
	p.LastAccess = s.clock.Now()
	b := &Batch{
		Patients:  []Patient{p},
		Manifests: []Manifest{m},
		Cursors:   []Cursor{{Patient: p.ID, Stream: streamDocuments, Time: newest}},
	}
	if err := s.store.Write(ctx, b); err != nil {
		return PatientRecord{}, err
	}
	return PatientRecord{Patient: p, Manifest: m, Status: st, CheckedAt: m.CheckedAt}, nil
}

// MergeManifest applies documents listed by the central service to a cached
// manifest: new ones are added, known ones updated (a newer metadata version
// wins; the Cached flag is kept), superseded ones marked. It returns the
// merged manifest, newest first, and the latest server time seen (the next
// cursor).
func MergeManifest(m Manifest, docs []RemoteDocument) (Manifest, time.Time) {
	index := make(map[DocumentID]int, len(m.Documents))
	out := Manifest{Patient: m.Patient, CheckedAt: m.CheckedAt, Documents: append([]DocumentMeta(nil), m.Documents...)}
	for i, d := range out.Documents {
		index[d.ID] = i
	}
	var newest time.Time
	for _, rd := range docs {
		meta := rd.Meta
		meta.RemoteID, meta.VersionID, meta.URL = rd.RemoteID, rd.VersionID, rd.URL
		meta.Visibility, meta.LastUpdated = rd.Visibility, rd.LastUpdated
		meta.Superseded = rd.Status == "superseded"
		if rd.LastUpdated.After(newest) {
			newest = rd.LastUpdated
		}
		if i, ok := index[meta.ID]; ok {
			old := out.Documents[i]
			if !old.LastUpdated.IsZero() && rd.LastUpdated.Before(old.LastUpdated) {
				continue // an older version than the one we have
			}
			meta.Cached = old.Cached
			if meta.Source == "" || old.Source == "carnet" {
				meta.Source = old.Source // a note written in Carnet stays one once sent
			}
			if meta.Source == "" {
				meta.Source = "dmp"
			}
			out.Documents[i] = meta
			continue
		}
		if meta.Source == "" {
			meta.Source = "dmp"
		}
		index[meta.ID] = len(out.Documents)
		out.Documents = append(out.Documents, meta)
	}
	sortDocuments(out.Documents)
	return out, newest
}

// Document returns a document's content: from the vault when cached, else
// retrieved from the central service (its hash and size verified by the
// client), then cached for offline use.
func (s *Service) Document(ctx context.Context, id PatientID, doc DocumentID, acc Access) ([]byte, error) {
	s.Touch()
	if b, err := s.store.Document(ctx, id, doc); err == nil {
		return b, nil
	} else if !errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("document: %w", err)
	}
	m, err := s.store.Manifest(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("document: %w", err)
	}
	meta, ok := m.Document(doc)
	if !ok {
		return nil, fmt.Errorf("document: not in the record: %w", ErrNotFound)
	}
	sess, err := s.currentSession()
	if err != nil {
		return nil, fmt.Errorf("document: not cached and %w", ErrOffline)
	}
	p, err := s.recordPatient(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("document: %w", err)
	}
	acc.Practitioner = sess.Practitioner
	content, err := sess.Records.Retrieve(ctx, acc, p.INS, RemoteDocument{Meta: meta, RemoteID: meta.RemoteID, VersionID: meta.VersionID, URL: meta.URL})
	s.auditRemote(ctx, acc, id, "dmp.iti68", err)
	if err != nil {
		return nil, fmt.Errorf("document: %w", err)
	}
	if err := s.store.Write(ctx, &Batch{Documents: []DocumentContent{{Patient: id, ID: doc, Bytes: content}}}); err != nil {
		return nil, fmt.Errorf("document: cache: %w", err)
	}
	return content, nil
}

// ProvideDocument sends a document written in Carnet to the central service
// (ITI-65) and records it in the patient's manifest as sent. Documents are
// only sent for qualified identities.
func (s *Service) ProvideDocument(ctx context.Context, id PatientID, doc NewDocument) (RemoteDocument, error) {
	sess, p, acc, err := s.remote(ctx, id, "provide document")
	if err != nil {
		return RemoteDocument{}, err
	}
	if p.Status != IdentityQualified {
		return RemoteDocument{}, fmt.Errorf("provide document: %w", &AccessError{Reason: DeniedNotQualified})
	}
	res, err := sess.Records.Provide(ctx, acc, p.INS, []NewDocument{doc})
	s.auditRemote(ctx, acc, id, "dmp.iti65", err)
	if err != nil {
		return RemoteDocument{}, fmt.Errorf("provide document: %w", err)
	}
	if len(res.Documents) == 0 {
		return RemoteDocument{}, fmt.Errorf("provide document: empty answer: %w", ErrServer)
	}
	sent := res.Documents[0]
	m, err := s.store.Manifest(ctx, id)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return sent, fmt.Errorf("provide document: %w", err)
	}
	m.Patient = id
	m, _ = MergeManifest(m, res.Documents)
	if err := s.store.Write(ctx, &Batch{
		Manifests: []Manifest{m},
		Documents: []DocumentContent{{Patient: id, ID: sent.Meta.ID, Bytes: doc.Content}},
	}); err != nil {
		return sent, fmt.Errorf("provide document: %w", err)
	}
	return sent, nil
}

// SetVisibility changes who may see a document (masking to professionals,
// visibility to the patient and legal representatives), on the version the
// manifest holds: if someone changed it meanwhile, ErrConflict.
func (s *Service) SetVisibility(ctx context.Context, id PatientID, doc DocumentID, v Visibility) error {
	sess, p, acc, err := s.remote(ctx, id, "set visibility")
	if err != nil {
		return err
	}
	m, err := s.store.Manifest(ctx, id)
	if err != nil {
		return fmt.Errorf("set visibility: %w", err)
	}
	meta, ok := m.Document(doc)
	if !ok {
		return fmt.Errorf("set visibility: %w", ErrNotFound)
	}
	rd, err := sess.Records.UpdateMetadata(ctx, acc, p.INS,
		RemoteDocument{Meta: meta, RemoteID: meta.RemoteID, VersionID: meta.VersionID, URL: meta.URL},
		MetadataChange{Visibility: &v})
	s.auditRemote(ctx, acc, id, "dmp.metadata", err)
	if err != nil {
		return fmt.Errorf("set visibility: %w", err)
	}
	m, _ = MergeManifest(m, []RemoteDocument{rd})
	if err := s.store.Write(ctx, &Batch{Manifests: []Manifest{m}}); err != nil {
		return fmt.Errorf("set visibility: %w", err)
	}
	return nil
}

// AccessTraces returns who consulted the record, as the central service
// traced it.
func (s *Service) AccessTraces(ctx context.Context, id PatientID, since time.Time) ([]AccessTrace, error) {
	sess, p, acc, err := s.remote(ctx, id, "access traces")
	if err != nil {
		return nil, err
	}
	tr, err := sess.Records.AccessTraces(ctx, acc, p.INS, since)
	s.auditRemote(ctx, acc, id, "dmp.traces", err)
	if err != nil {
		return nil, fmt.Errorf("access traces: %w", err)
	}
	return tr, nil
}

// auditRemote writes one audit event per call to the central service:
// practitioner, structure, patient, transaction, mode, time and result.
func (s *Service) auditRemote(ctx context.Context, acc Access, id PatientID, action string, err error) {
	e := AuditEvent{
		Practitioner: acc.Practitioner.RPPS,
		Structure:    acc.Practitioner.Structure.ID,
		Patient:      id,
		Action:       action,
		Mode:         acc.Mode,
		Result:       resultOf(err),
	}
	if acc.Mode == AccessEmergency {
		e.Detail = acc.Justification
	}
	if reason := Denial(err); reason != "" {
		e.Result = "denied:" + string(reason)
	}
	s.audit(ctx, e)
}

// Patient returns a patient of the vault's directory (the local identity).
func (s *Service) Patient(ctx context.Context, id PatientID) (Patient, error) {
	p, err := s.store.Patient(ctx, id)
	if err != nil {
		return Patient{}, fmt.Errorf("patient: %w", err)
	}
	return p, nil
}

// CachedManifest returns the patient's document list as the vault holds it,
// without asking the central service.
func (s *Service) CachedManifest(ctx context.Context, id PatientID) (Manifest, error) {
	m, err := s.store.Manifest(ctx, id)
	if err != nil {
		return Manifest{}, fmt.Errorf("cached record: %w", err)
	}
	return m, nil
}
