package app

import (
	"context"
	"fmt"
	"slices"
)

// DraftSynthesis builds a synthesis draft from the patient's documents in
// the vault (ReadMedications: never the network): the problems the
// documents do not negate (with an end date: history), the allergies, the
// devices, the current treatments (neither stopped, ended, planned nor
// negated; one line per product, the most recent document first) and the
// vaccinations. Each line keeps its source document; duplicates (same code,
// else same text) keep the most recent. Replaces is the current synthesis.
func (s *Service) DraftSynthesis(ctx context.Context, id PatientID) (SynthesisDraft, error) {
	r, err := s.ReadMedications(ctx, id)
	if err != nil {
		return SynthesisDraft{}, fmt.Errorf("draft synthesis: %w", err)
	}
	var d SynthesisDraft
	seen := map[string]bool{}
	first := func(k string) bool {
		if seen[k] {
			return false
		}
		seen[k] = true
		return true
	}
	for _, p := range PresentProblems(r.Problems) {
		l := SynthesisLine{Text: p.Text, Code: p.Code, Start: p.Start, StartPrecision: p.StartPrecision,
			End: p.End, EndPrecision: p.EndPrecision, Source: p.Source}
		if !first("problem " + lineKey(l.Code, l.Text)) {
			continue
		}
		if p.End.IsZero() {
			d.Problems = append(d.Problems, l)
		} else {
			d.History = append(d.History, l)
		}
	}
	for _, a := range PresentAllergies(r.Allergies) {
		if a.Unspecified {
			continue // a kind of allergy with no substance asserts nothing to copy (the practitioner may add it)
		}
		l := SynthesisLine{Text: a.Text, Code: a.Agent, Kind: a.Code, Detail: a.Reaction, Start: a.Start,
			StartPrecision: a.StartPrecision, End: a.End, EndPrecision: a.EndPrecision, Source: a.Source}
		if a.ReactionNegated {
			l.Detail = ""
		}
		if first("allergy " + lineKey(l.Code, l.Text)) {
			d.Allergies = append(d.Allergies, l)
		}
	}
	for _, dv := range r.Devices {
		if dv.Negated {
			continue
		}
		l := SynthesisLine{Text: dv.Name, Code: dv.Type, Start: dv.Date, StartPrecision: dv.Precision, Source: dv.Source}
		if first("device " + lineKey(l.Code, l.Text)) {
			d.Devices = append(d.Devices, l)
		}
	}
	now := s.clock.Now()
	for _, m := range r.Lines {
		switch m.LineStatus() {
		case StatusNotGiven, StatusStopped, StatusPlanned:
			continue
		}
		if IsVaccination(m) {
			if first("vaccine " + lineKey(m.Product, m.Name) + " " + m.Start.Format("20060102")) {
				d.Vaccinations = append(d.Vaccinations, m)
			}
			continue
		}
		if m.Kind == MedicationAdminister || (!m.End.IsZero() && m.End.Before(now)) {
			continue // given once (a procedure's medication), or ended
		}
		key := lineKey(m.Product, m.Name)
		if m.ATC.System == SystemATC && len(m.ATC.Code) == 7 {
			key = "atc " + m.ATC.Code
		}
		if first("med " + key) {
			d.Treatments = append(d.Treatments, m)
		}
	}
	if cur, ok, err := s.currentSynthesis(ctx, id); err != nil {
		return SynthesisDraft{}, fmt.Errorf("draft synthesis: %w", err)
	} else if ok {
		d.Replaces = cur.ID
	}
	return d, nil
}

func (s *Service) currentSynthesis(ctx context.Context, id PatientID) (DocumentMeta, bool, error) {
	m, err := s.store.Manifest(ctx, id)
	if KindOf(err) == ErrNotFound {
		return DocumentMeta{}, false, nil
	}
	if err != nil {
		return DocumentMeta{}, false, err
	}
	meta, ok := CurrentSynthesis(m)
	return meta, ok, nil
}

// WriteSynthesis writes the medical synthesis the practitioner reviewed
// and puts it in the outbox like WriteNote: readable at once in the record
// (offline too), sent once by the sync engine. It replaces the current
// synthesis of the record (d.Replaces, else CurrentSynthesis): the new one
// takes the next version of its set (relatesTo / relatedDocument RPLC) and
// the old one is marked superseded, so the record shows one current
// synthesis. It needs a signed-in practitioner (ErrCredential), a qualified
// identity (an *AccessError DeniedNotQualified) and a writer that writes
// syntheses; a line without text, a free text too long or not UTF-8 is
// ErrInvalid.
func (s *Service) WriteSynthesis(ctx context.Context, id PatientID, d SynthesisDraft) (OutboxItem, error) {
	s.Touch()
	s.mu.Lock()
	w, sess := s.writer, s.session
	s.mu.Unlock()
	sw, ok := w.(SynthesisWriter)
	if !ok {
		return OutboxItem{}, fmt.Errorf("write synthesis: no synthesis writer: %w", ErrInvalid)
	}
	if sess == nil {
		return OutboxItem{}, fmt.Errorf("write synthesis: no practitioner signed in: %w", ErrCredential)
	}
	if err := d.check(); err != nil {
		return OutboxItem{}, fmt.Errorf("write synthesis: %w", err)
	}
	p, err := s.store.Patient(ctx, id)
	if err != nil {
		return OutboxItem{}, fmt.Errorf("write synthesis: %w", err)
	}
	if p.Status != IdentityQualified {
		return OutboxItem{}, fmt.Errorf("write synthesis: %w", &AccessError{Reason: DeniedNotQualified})
	}
	m, err := s.store.Manifest(ctx, id)
	if err != nil && KindOf(err) != ErrNotFound {
		return OutboxItem{}, fmt.Errorf("write synthesis: %w", err)
	}
	m.Patient = id
	var previous *DocumentMeta
	if d.Replaces != "" {
		old, ok := m.Document(d.Replaces)
		if !ok || !old.IsSynthesis() {
			return OutboxItem{}, fmt.Errorf("write synthesis: replaced synthesis not in the record: %w", ErrNotFound)
		}
		previous = &old
	} else if old, ok := CurrentSynthesis(m); ok {
		previous = &old
	}
	if previous != nil && previous.SetID == "" {
		// The central service's metadata may not carry the setId: the
		// document itself does, when it is in the vault.
		if cd, err := s.ReadDocument(ctx, id, previous.ID, Access{}); err == nil && cd.Meta.SetID != "" {
			previous.SetID, previous.Version = cd.Meta.SetID, max(previous.Version, cd.Meta.Version)
		} else {
			return OutboxItem{}, fmt.Errorf("write synthesis: the current synthesis is not in the vault (its setId is unknown): fetch it first: %w", ErrInvalid)
		}
	}
	d.Treatments, d.Vaccinations = slices.Clone(d.Treatments), slices.Clone(d.Vaccinations)
	now := s.clock.Now()
	doc, err := sw.WriteSynthesis(p, sess.Practitioner, d, previous, now)
	if err != nil {
		return OutboxItem{}, fmt.Errorf("write synthesis: %w", err)
	}
	item, err := s.fileWritten(ctx, m, doc, d.Visibility, previous, true, now)
	s.audit(ctx, AuditEvent{Action: "synthesis.write", Patient: id, Practitioner: sess.Practitioner.RPPS,
		Structure: sess.Practitioner.Structure.ID, Result: resultOf(err)})
	if err != nil {
		return OutboxItem{}, fmt.Errorf("write synthesis: %w", err)
	}
	return item, nil
}
