package cda

import (
	"strings"
	"time"

	"github.com/carnetdesk/carnet/app"
)

// Writer implements app.DocumentWriter with the CDA writer: the notes
// and the pre-anesthesia reconciliations written in Carnet, as N3 narrative (readable in Carnet's viewer and by
// any CDA reader), with the CI-SIS header of the structure it is configured
// for.
type Writer struct {
	FacilityType    app.Code // the structure's TRE_R02 facility type (SA…), required by the CI-SIS
	PracticeSetting app.Code // optional
	AllowTestINS    bool     // test and demo INS domains accepted (demo mode, test platforms)
}

var _ app.DocumentWriter = Writer{}

// defaultProfession is used when the credential names no profession.
var defaultProfession = app.Code{Code: "G15_10", System: "1.2.250.1.213.1.1.4.5", Display: "Médecin"}

// WriteNote writes a note as a CDA consultation report (N3) and returns it
// with its metadata, read back from the written document.
func (w Writer) WriteNote(p app.Patient, author app.Practitioner, d app.NoteDraft, previous *app.DocumentMeta, at time.Time) (app.WrittenDocument, error) {
	a, err := w.practitioner(author)
	if err != nil {
		return app.WrittenDocument{}, err
	}
	title := strings.TrimSpace(d.Title)
	note := Note{
		Patient:  p,
		Author:   a,
		Title:    title,
		Start:    at,
		Sections: []NoteSection{{Title: "Observation", Text: Paragraphs(strings.Split(d.Text, "\n\n")...)}},
		Level:    LevelN3,
		Visibility: Visibility{
			MaskedToProfessionals:          d.Visibility.MaskedToProfessionals,
			HiddenFromPatient:              d.Visibility.HiddenFromPatient,
			HiddenFromLegalRepresentatives: d.Visibility.HiddenFromLegalReps,
		},
	}
	opt := WriteOptions{Created: at, AllowTestINS: w.AllowTestINS}
	if previous != nil {
		opt.Replaces = &Previous{ID: previous.ID, SetID: previous.SetID, Version: previous.Version}
	}
	content, err := WriteNote(note, opt)
	if err != nil {
		return app.WrittenDocument{}, err
	}
	return written(content)
}

// WritePreAnesthesia writes the pre-anesthesia consultation report
// (34749-2, N3) of a reconciliation: the conclusion as a narrative section,
// then the reconciled lines as FR-Traitement entries (LineFrom; the declared
// ones with the patient as informant). A code of a line that the CDA rules
// refuse (a CNAM CIP7, a malformed ATC), or an end date before the start,
// is left out of that line rather than failing the sign-off; the line
// keeps its name. The signed-in
// practitioner is author, performer and legal authenticator.
func (w Writer) WritePreAnesthesia(p app.Patient, author app.Practitioner, r app.Reconciliation, at time.Time) (app.WrittenDocument, error) {
	a, err := w.practitioner(author)
	if err != nil {
		return app.WrittenDocument{}, err
	}
	pa := PreAnesthesia{
		Patient:          p,
		Anesthesiologist: a,
		Start:            at,
		Medications:      make([]MedicationLine, 0, len(r.Lines)),
	}
	if c := strings.TrimSpace(r.Conclusion); c != "" {
		pa.Sections = []NoteSection{{Title: "Conclusion", Text: Paragraphs(strings.Split(c, "\n\n")...)}}
	}
	for i, m := range r.Lines {
		l := LineFrom(m)
		if probe := l; probe.check(i+1) != nil {
			l.Product, l.CIP13, l.ATC, l.Route = app.Code{}, "", app.Code{}, app.Code{}
			if probe := l; probe.check(i+1) != nil && !l.Start.IsZero() && l.End.Before(l.Start) {
				l.End = time.Time{} // contradictory dates: the start stays
			}
		}
		if i < len(r.Decisions) {
			d := r.Decisions[i]
			l.Decision, l.LastDose = d.Action, d.LastDose
			l.Reason = decisionReason(d)
		}
		pa.Medications = append(pa.Medications, l)
	}
	content, err := WritePreAnesthesia(pa, WriteOptions{Created: at, AllowTestINS: w.AllowTestINS})
	if err != nil {
		return app.WrittenDocument{}, err
	}
	return written(content)
}

// written returns a document written here with its metadata, read back
// from the document; its class is TRE_A03 "10" Compte rendu (app.ClassReport),
// which the CDA header does not carry: the notes and the pre-anesthesia
// reports Carnet writes are reports.
func written(content []byte) (app.WrittenDocument, error) {
	doc, err := ParseBytes(content, Options{})
	if err != nil {
		return app.WrittenDocument{}, err
	}
	meta := doc.Meta()
	meta.ClassCode = app.ClassReport
	return app.WrittenDocument{Meta: meta, Content: content}, nil
}

// practitioner turns the signed-in practitioner into the CDA author: the
// RPPS without its "8" type prefix, the structure's FINESS ("1" prefix) or
// SIRET ("3" prefix) as the certificate gives them.
func (w Writer) practitioner(p app.Practitioner) (Practitioner, error) {
	rpps := p.RPPS
	if len(rpps) == 12 && rpps[0] == '8' {
		rpps = rpps[1:]
	}
	given, family := p.GivenName, p.FamilyName
	if family == "" {
		name := strings.TrimSpace(strings.TrimPrefix(strings.TrimPrefix(p.Name, "Dr "), "Pr "))
		if i := strings.LastIndex(name, " "); i > 0 {
			given, family = name[:i], name[i+1:]
		} else {
			family = name
		}
	}
	prof := p.Profession
	if prof.Code == "" {
		prof = defaultProfession
	}
	if !reOID.MatchString(prof.System) {
		// The credential names code systems by their FHIR address
		// (…/TRE-G15-ProfessionSante); CDA wants the OID.
		prof.System = defaultProfession.System
	}
	if reDigits.MatchString(prof.Code) {
		// a bare TRE_G15 code ("10"): the value set of authors (JDV_J01)
		// spells it "G15_10"
		prof.Code = "G15_" + prof.Code
	}
	st := Structure{Name: p.Structure.Name, FacilityType: w.FacilityType, PracticeSetting: w.PracticeSetting}
	id := p.Structure.ID
	switch {
	case len(id) == 10 && id[0] == '1':
		st.FINESS = id[1:]
	case len(id) == 15 && id[0] == '3':
		st.SIRET = id[1:]
	case len(id) == 9:
		st.FINESS = id
	case len(id) == 14:
		st.SIRET = id
	default:
		return Practitioner{}, invalid("the practitioner's structure has no FINESS or SIRET")
	}
	return Practitioner{RPPS: rpps, Given: given, Family: family, Profession: prof, Structure: st}, nil
}

// decisionReason is the "Motif" of a line: the reason, the sources
// compared and the discrepancy with its comment.
func decisionReason(d app.LineDecision) string {
	var parts []string
	if r := strings.TrimSpace(d.Reason); r != "" {
		parts = append(parts, r)
	}
	if c := strings.TrimSpace(d.Compared); c != "" {
		parts = append(parts, "sources comparées : "+c)
	}
	if x := strings.TrimSpace(d.Discrepancy); x != "" {
		s := "écart " + x
		if c := strings.TrimSpace(d.Comment); c != "" {
			s += " (" + c + ")"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ; ")
}
