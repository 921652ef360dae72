package app

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// reATCCode accepts an ATC code at any level (A, A10, A10B, A10BA, A10BA02).
var reATCCode = regexp.MustCompile(`^[A-Z]([0-9]{2}([A-Z]([A-Z]([0-9]{2})?)?)?)?$`)

// Declarations returns the medications the patient declared, oldest first.
func (s *Service) Declarations(ctx context.Context, id PatientID) ([]Declaration, error) {
	s.Touch()
	ds, err := s.store.Declarations(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("read declared medications: %w", err)
	}
	return ds, nil
}

// DeclareMedication records a medication the patient declares, entered by
// staff: it is kept in the vault with the patient's record (sealed with the
// patient's key, forgotten when the patient is purged) and ReadMedications
// returns it as a line of its own source, "déclaré par le patient". The
// name is required; Kind is forced to MedicationDeclared; the Source names
// the signed-in practitioner (DeclaredByStaff without a session) and the
// time of entry. The dispensing facts (Dispensed, Quantity) are not a
// patient's to declare and are dropped.
func (s *Service) DeclareMedication(ctx context.Context, id PatientID, m Medication) (Declaration, error) {
	s.Touch()
	if err := cleanDeclared(&m); err != nil {
		return Declaration{}, fmt.Errorf("declare medication: %w", err)
	}
	if _, err := s.store.Patient(ctx, id); err != nil {
		return Declaration{}, fmt.Errorf("declare medication: %w", err)
	}
	existing, err := s.store.Declarations(ctx, id)
	if err != nil {
		return Declaration{}, fmt.Errorf("declare medication: %w", err)
	}
	if len(existing) >= MaxDeclarations {
		return Declaration{}, fmt.Errorf("declare medication: more than %d declared medications: %w", MaxDeclarations, ErrInvalid)
	}
	author, rpps, structure := DeclaredByStaff, "", ""
	if p, ok := s.Practitioner(); ok {
		author, rpps, structure = p.Name, p.RPPS, p.Structure.ID
		if strings.TrimSpace(author) == "" {
			author = strings.TrimSpace(p.GivenName + " " + p.FamilyName)
		}
	}
	m.Kind = MedicationDeclared
	m.Source = MedicationSource{Author: author, Date: s.clock.Now()}
	d := Declaration{ID: DeclarationID("decl-" + strings.ToLower(rand.Text())), Medication: m}
	err = s.store.Write(ctx, &Batch{Declarations: []DeclarationSet{{Patient: id, Put: []Declaration{d}}}})
	s.audit(ctx, AuditEvent{Action: "meds.declare", Patient: id, Practitioner: rpps, Structure: structure, Result: resultOf(err)})
	if err != nil {
		return Declaration{}, fmt.Errorf("declare medication: %w", err)
	}
	return d, nil
}

// RemoveDeclaration removes a medication the patient declared (entered by
// mistake, or no longer taken). An unknown id is ErrNotFound.
func (s *Service) RemoveDeclaration(ctx context.Context, id PatientID, decl DeclarationID) error {
	s.Touch()
	existing, err := s.store.Declarations(ctx, id)
	if err != nil {
		return fmt.Errorf("remove declared medication: %w", err)
	}
	if !slices.ContainsFunc(existing, func(d Declaration) bool { return d.ID == decl }) {
		return fmt.Errorf("remove declared medication: %w", ErrNotFound)
	}
	err = s.store.Write(ctx, &Batch{Declarations: []DeclarationSet{{Patient: id, Remove: []DeclarationID{decl}}}})
	rpps, structure := "", ""
	if p, ok := s.Practitioner(); ok {
		rpps, structure = p.RPPS, p.Structure.ID
	}
	s.audit(ctx, AuditEvent{Action: "meds.undeclare", Patient: id, Practitioner: rpps, Structure: structure, Result: resultOf(err)})
	if err != nil {
		return fmt.Errorf("remove declared medication: %w", err)
	}
	return nil
}

// declaredLines returns the patient's declarations as medication lines for
// ReadMedications.
func (s *Service) declaredLines(ctx context.Context, id PatientID) ([]Medication, error) {
	ds, err := s.store.Declarations(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := make([]Medication, len(ds))
	for i, d := range ds {
		out[i] = d.Medication
		out[i].Kind = MedicationDeclared
		out[i].Source.Document = ""
	}
	return out, nil
}

// cleanDeclared trims a declared medication and checks it.
func cleanDeclared(m *Medication) error {
	for _, f := range []struct {
		s   *string
		max int
	}{
		{&m.Name, maxDeclaredName}, {&m.Substance, maxDeclaredName}, {&m.Form, maxDeclaredName},
		{&m.Dose, maxDeclaredName}, {&m.Frequency, maxDeclaredName}, {&m.Prescriber, maxDeclaredName},
		{&m.Indication, maxDeclaredText}, {&m.Text, maxDeclaredText},
	} {
		*f.s = strings.TrimSpace(*f.s)
		if !utf8.ValidString(*f.s) || utf8.RuneCountInString(*f.s) > f.max {
			return fmt.Errorf("text too long or not UTF-8: %w", ErrInvalid)
		}
		if strings.IndexFunc(*f.s, func(r rune) bool { return unicode.IsControl(r) && r != '\n' }) >= 0 {
			return fmt.Errorf("control character in the text: %w", ErrInvalid)
		}
	}
	if m.Name == "" {
		return fmt.Errorf("the medication's name is required: %w", ErrInvalid)
	}
	if !m.ATC.IsZero() {
		m.ATC.Code = strings.ToUpper(strings.TrimSpace(m.ATC.Code))
		if m.ATC.System == "" {
			m.ATC.System = SystemATC
		}
		if m.ATC.System != SystemATC || !reATCCode.MatchString(m.ATC.Code) {
			return fmt.Errorf("malformed ATC code: %w", ErrInvalid)
		}
	}
	if !m.Product.IsZero() {
		n := len(m.Product.Code)
		ok := strings.Trim(m.Product.Code, "0123456789") == ""
		switch m.Product.System {
		case SystemCIS:
			ok = ok && n == 8
		case SystemCIP13:
			ok = ok && n == 13
		case SystemUCD:
			ok = ok && (n == 7 || n == 13)
		default:
			ok = false
		}
		if !ok {
			return fmt.Errorf("product code must be a CIS, CIP13 or UCD code: %w", ErrInvalid)
		}
	}
	if !m.Start.IsZero() && !m.End.IsZero() && m.End.Before(m.Start) {
		return fmt.Errorf("the treatment ends before it starts: %w", ErrInvalid)
	}
	m.Dispensed, m.Quantity = time.Time{}, ""
	return nil
}

// Bounds of a reconciliation.
const (
	// MaxReconciledLines bounds the lines of a reconciled list.
	MaxReconciledLines = 500
	maxConclusion      = 20000 // runes
)

// Reconcile signs off a patient's medication list: the signed-in
// practitioner (the anesthesiologist) writes the pre-anesthesia
// consultation report (LOINC 34749-2) with the lines kept — each a
// structured medication entry, the declared ones marked as declared by the
// patient — and the conclusion, and puts it in the outbox like WriteNote:
// readable at once in the record, sent once by the sync engine. It needs a
// signed-in practitioner (ErrCredential) and a qualified identity (an
// *AccessError DeniedNotQualified); a line without a name is ErrInvalid.
func (s *Service) Reconcile(ctx context.Context, id PatientID, lines []Medication, conclusion string) (OutboxItem, error) {
	return s.SignReconciliation(ctx, id, Reconciliation{Lines: lines, Conclusion: conclusion})
}

// SignReconciliation is Reconcile with the per-line decisions (one per
// line, or none) the report carries.
func (s *Service) SignReconciliation(ctx context.Context, id PatientID, r Reconciliation) (OutboxItem, error) {
	lines, conclusion := r.Lines, r.Conclusion
	s.Touch()
	s.mu.Lock()
	w, sess := s.writer, s.session
	s.mu.Unlock()
	if w == nil {
		return OutboxItem{}, fmt.Errorf("reconcile medications: no document writer: %w", ErrInvalid)
	}
	if sess == nil {
		return OutboxItem{}, fmt.Errorf("reconcile medications: no practitioner signed in: %w", ErrCredential)
	}
	if len(lines) > MaxReconciledLines {
		return OutboxItem{}, fmt.Errorf("reconcile medications: more than %d lines: %w", MaxReconciledLines, ErrInvalid)
	}
	for i, l := range lines {
		if strings.TrimSpace(l.Name) == "" && strings.TrimSpace(l.Product.Display) == "" {
			return OutboxItem{}, fmt.Errorf("reconcile medications: line %d has no name: %w", i+1, ErrInvalid)
		}
	}
	if len(r.Decisions) != 0 && len(r.Decisions) != len(lines) {
		return OutboxItem{}, fmt.Errorf("reconcile medications: %d decisions for %d lines: %w", len(r.Decisions), len(lines), ErrInvalid)
	}
	for i, d := range r.Decisions {
		for _, f := range []string{d.Action, d.Reason, d.Compared, d.Discrepancy, d.Comment} {
			if !utf8.ValidString(f) || utf8.RuneCountInString(f) > maxConclusion {
				return OutboxItem{}, fmt.Errorf("reconcile medications: decision %d too long or not UTF-8: %w", i+1, ErrInvalid)
			}
		}
	}
	conclusion = strings.TrimSpace(conclusion)
	if !utf8.ValidString(conclusion) || utf8.RuneCountInString(conclusion) > maxConclusion {
		return OutboxItem{}, fmt.Errorf("reconcile medications: conclusion too long or not UTF-8: %w", ErrInvalid)
	}
	p, err := s.store.Patient(ctx, id)
	if err != nil {
		return OutboxItem{}, fmt.Errorf("reconcile medications: %w", err)
	}
	if p.Status != IdentityQualified {
		return OutboxItem{}, fmt.Errorf("reconcile medications: %w", &AccessError{Reason: DeniedNotQualified})
	}
	m, err := s.store.Manifest(ctx, id)
	if err != nil && KindOf(err) != ErrNotFound {
		return OutboxItem{}, fmt.Errorf("reconcile medications: %w", err)
	}
	m.Patient = id
	now := s.clock.Now()
	doc, err := w.WritePreAnesthesia(p, sess.Practitioner, Reconciliation{Lines: slices.Clone(lines), Conclusion: conclusion, Decisions: slices.Clone(r.Decisions)}, now)
	if err != nil {
		return OutboxItem{}, fmt.Errorf("reconcile medications: %w", err)
	}
	meta := doc.Meta
	meta.Source, meta.Cached = "carnet", true
	item := OutboxItem{
		ID: OutboxID(meta.ID), Patient: id, Kind: OutboxProvide, State: OutboxPending,
		Payload: doc.Content, CreatedAt: now, Meta: meta, Visibility: meta.Visibility,
	}
	m.Documents = append(m.Documents, meta)
	sortDocuments(m.Documents)
	err = s.store.Write(ctx, &Batch{
		Manifests: []Manifest{m},
		Documents: []DocumentContent{{Patient: id, ID: meta.ID, Bytes: doc.Content}},
		Outbox:    []OutboxItem{item},
	})
	s.audit(ctx, AuditEvent{Action: "meds.reconcile", Patient: id, Practitioner: sess.Practitioner.RPPS,
		Structure: sess.Practitioner.Structure.ID, Result: resultOf(err), Detail: fmt.Sprintf("%d lines", len(lines))})
	if err != nil {
		return OutboxItem{}, fmt.Errorf("reconcile medications: %w", err)
	}
	return item, nil
}
