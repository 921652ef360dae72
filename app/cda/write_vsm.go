package cda

import (
	"cmp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/carnetdesk/carnet/app"
)

// OIDDocumentTypeA05 is TRE_A05 TypeDocComplementaire, the code system of
// the French document types that have no LOINC code (SYNTH …).
const OIDDocumentTypeA05 = "1.2.250.1.213.1.1.4.12"

// TypeSynthesis is the type code of the medical synthesis (VSM): TRE_A05
// "SYNTH" (JDV_J07; VSM_1.4_2022.01.xml line 65; the VSM 2023.01 header rule
// Entete_VSM_2023.sch asks for it).
var TypeSynthesis = app.Code{Code: "SYNTH", System: OIDDocumentTypeA05, Display: "Synthèse"}

// tmplVSM declares the CI-SIS model VSM 2023.01 (Entete_VSM_2023.sch).
var tmplVSM = [2]string{"1.2.250.1.213.1.1.1.13", "2023.01"}

// actVSM is the documented act every VSM carries (Entete_VSM_2023.sch).
var actVSM = app.Code{Code: "34117-2", System: app.SystemLOINC, Display: "Historique et clinique"}

// Bounds of a synthesis: what a practitioner can review, far above any
// real record; the writer refuses more rather than write a document no one
// reads.
const (
	MaxSynthesisItems = 500   // lines per list
	MaxSynthesisText  = 20000 // runes per free text or line
)

// Synthesis is the medical synthesis (volet de synthèse médicale, VSM
// 2023.01) a practitioner writes from a patient's record: the lists the
// vault holds, reviewed, and the free-text parts of the volet.
type Synthesis struct {
	Patient      app.Patient  // must be QUAL with a valid INS
	Author       Practitioner // author, performer and legal authenticator
	Title        string       // empty: "Synthèse médicale"
	Date         time.Time    // date of the synthesis (the documented act)
	Problems     []SynthesisItem
	History      []SynthesisItem // past medical and surgical history
	Allergies    []SynthesisItem // Code: the agent; Kind: the allergy type; Detail: the reaction
	RiskFactors  []SynthesisItem // narrative rows
	Treatments   []MedicationLine
	Vaccinations []MedicationLine
	Devices      []SynthesisItem // Code: the device type
	Vigilance    string          // "Points de vigilance", free text; paragraphs separated by blank lines
	Comment      string          // free comment, optional
	Visibility   Visibility
}

// SynthesisItem is one line of a list of the synthesis: its text, its code
// when the record gave one (kept as read; uncoded lines are written with a
// nullFlavor and their text), its dates and the document it came from.
type SynthesisItem struct {
	Text           string   // the line as shown; required
	Code           app.Code // problem (CIM-10, SNOMED …), allergy agent, device type; zero: uncoded
	Kind           app.Code // allergy type (the observation code), optional
	Detail         string   // allergy reaction, optional
	Start          time.Time
	StartPrecision app.DatePrecision
	End            time.Time
	EndPrecision   app.DatePrecision
	Source         string         // where it was found ("CR d'hospitalisation du 12/03/2026"), shown in the table
	SourceID       app.DocumentID // uniqueId of that document: the entry references it
}

// codeSystemNames names the code systems the synthesis writes.
var codeSystemNames = map[string]string{
	"2.16.840.1.113883.6.3":  "CIM-10",
	"2.16.840.1.113883.6.96": "SNOMED CT",
	app.SystemLOINC:          "LOINC",
	app.SystemATC:            "ATC",
	app.SystemCIS:            "CIS",
	app.SystemCIP13:          "CIP",
	app.SystemUCD:            "UCD",
	"2.16.840.1.113883.5.4":  "HL7:ActCode",
}

func checkText(s, what string) error {
	if !utf8.ValidString(s) {
		return invalid(what + " is not UTF-8")
	}
	if utf8.RuneCountInString(s) > MaxSynthesisText {
		return invalid(what + " is longer than " + strconv.Itoa(MaxSynthesisText) + " characters")
	}
	return nil
}

// check validates an item; what and n name it in errors (never its text).
func (it *SynthesisItem) check(what string, n int) error {
	at := what + " " + strconv.Itoa(n)
	if strings.TrimSpace(it.Text) == "" {
		return invalid(at + ": text is required")
	}
	for _, s := range []string{it.Text, it.Detail, it.Source} {
		if err := checkText(s, at); err != nil {
			return err
		}
	}
	if err := checkCode(it.Code, at, false); err != nil {
		return err
	}
	if err := checkCode(it.Kind, at+" kind", false); err != nil {
		return err
	}
	if it.SourceID != "" {
		if _, err := splitID(string(it.SourceID), at+" source"); err != nil {
			return err
		}
	}
	if !it.Start.IsZero() && !it.End.IsZero() && it.End.Before(it.Start) {
		return invalid(at + ": ends before it starts")
	}
	return nil
}

// WriteSynthesis writes the medical synthesis (CI-SIS VSM 2023.01, type
// SYNTH): the section "Pathologies, antécédents, allergies et facteurs de
// risque" with the active problems, the history (FR-Probleme entries), the
// allergies (FR-Allergie-ou-hypersensibilite) and the risk factors; the
// "Points de vigilance" (FR-Resultats); the long-term treatments
// (FR-Traitement entries); the vaccinations (FR-Vaccination); the medical
// devices (FR-Dispositif-medical); the comment. Each table of the narrative
// is written from the same lines as its entries, and each entry points to
// its row. Errors are as for WriteNote.
func WriteSynthesis(s Synthesis, opt WriteOptions) ([]byte, error) {
	if strings.TrimSpace(s.Title) == "" {
		s.Title = "Synthèse médicale"
	}
	if err := checkText(s.Title, "title"); err != nil {
		return nil, err
	}
	for _, t := range []string{s.Vigilance, s.Comment} {
		if err := checkText(t, "free text"); err != nil {
			return nil, err
		}
	}
	lists := []struct {
		what  string
		items []SynthesisItem
	}{{"problem", s.Problems}, {"history", s.History}, {"allergy", s.Allergies}, {"risk factor", s.RiskFactors}, {"device", s.Devices}}
	for _, l := range lists {
		if len(l.items) > MaxSynthesisItems {
			return nil, invalid("more than " + strconv.Itoa(MaxSynthesisItems) + " lines of " + l.what)
		}
		for i := range l.items {
			if err := l.items[i].check(l.what, i+1); err != nil {
				return nil, err
			}
		}
	}
	var meds [2][]MedicationLine
	for k, in := range [][]MedicationLine{s.Treatments, s.Vaccinations} {
		if len(in) > MaxSynthesisItems {
			return nil, invalid("more than " + strconv.Itoa(MaxSynthesisItems) + " medication lines")
		}
		meds[k] = make([]MedicationLine, len(in))
		copy(meds[k], in)
		for i := range meds[k] {
			l := &meds[k][i]
			if err := l.check(i + 1); err != nil {
				return nil, err
			}
			for _, t := range []string{l.Name, l.Dose, l.Frequency, l.Instruction, l.Source, l.Substance} {
				if err := checkText(t, "medication line "+strconv.Itoa(i+1)); err != nil {
					return nil, err
				}
			}
		}
	}
	h, err := newHeader(s.Patient, s.Author, nil, s.Date, time.Time{}, s.Visibility, opt)
	if err != nil {
		return nil, err
	}
	h.templates = [][2]string{tmplHL7France, tmplCISIS, tmplVSM}
	h.typ, h.typName, h.title, h.pharm = TypeSynthesis, "TRE_A05-TypeDocComplementaire", s.Title, true
	h.act, h.actName = actVSM, "LOINC"

	var w xw
	w.b.Grow(16<<10 + 3<<10*(len(s.Problems)+len(s.History)+len(s.Allergies)+len(s.Devices)+len(meds[0])+len(meds[1])) + 2*len(s.Vigilance) + 2*len(s.Comment))
	w.writeHeader(h)
	w.open("component")
	w.open("structuredBody")
	if err := w.writeVSMBody(&h.ids, &s, meds[0], meds[1]); err != nil {
		return nil, err
	}
	w.close()
	w.close()
	w.close()
	w.b.WriteByte('\n')
	return w.b.Bytes(), nil
}

// vsmSection opens component/section with its templates, a new id, its
// LOINC code and title. The caller writes the rest and closes twice.
func (w *xw) vsmSection(x *ids, code, display, title string, templates ...string) error {
	sid, err := x.entryID()
	if err != nil {
		return err
	}
	w.open("component")
	w.open("section")
	for _, t := range templates {
		w.leaf("templateId", "root", t)
	}
	w.leaf("id", "root", sid)
	w.code("code", app.Code{Code: code, System: app.SystemLOINC, Display: display}, "LOINC")
	w.text("title", title)
	return nil
}

func (w *xw) writeVSMBody(x *ids, s *Synthesis, treatments, vaccinations []MedicationLine) error {
	// Pathologies, antécédents, allergies et facteurs de risque
	// (VSM_1.4_2022.01.xml lines 499-1148).
	if err := w.vsmSection(x, "46612-8", "Conclusions de synthèse", "Pathologies, antécédents, allergies et facteurs de risque", "1.2.250.1.213.1.1.2.29"); err != nil {
		return err
	}
	if err := w.vsmSection(x, "34117-2", "Historique et physique", "Pathologies en cours, antécédents et allergies", "1.2.250.1.213.1.1.2.30"); err != nil {
		return err
	}
	if err := w.writeProblems(x, s.Problems, true); err != nil {
		return err
	}
	if err := w.writeProblems(x, s.History, false); err != nil {
		return err
	}
	if err := w.writeAllergies(x, s.Allergies); err != nil {
		return err
	}
	w.close()
	w.close()
	if err := w.vsmSection(x, "57207-3", "Facteurs de risque présents ou passés affectant l'état de santé et/ou une circonstance", "Facteurs de risque", "1.2.250.1.213.1.1.2.31"); err != nil {
		return err
	}
	w.itemTable(s.RiskFactors, "fdr", "Aucun facteur de risque renseigné.", "Facteur de risque")
	w.close()
	w.close()
	w.close()
	w.close()

	// Points de vigilance (FR-Resultats; VSM_1.4_2022.01.xml lines 1177-1195).
	if err := w.vsmSection(x, "30954-2", "Résultats d'examens", "Points de vigilance", "1.3.6.1.4.1.19376.1.5.3.1.3.27", "1.2.250.1.213.1.1.2.150"); err != nil {
		return err
	}
	w.freeText(s.Vigilance, "Aucun point de vigilance particulier.")
	w.close()
	w.close()

	// Traitement au long cours, with its FR-Traitements sub-section
	// (VSM_1.4_2022.01.xml lines 1198-1411).
	if err := w.vsmSection(x, "18776-5", "Plan de traitement", "Traitement au long cours", "1.2.250.1.213.1.1.2.32"); err != nil {
		return err
	}
	if err := w.writeMedications(x, treatments); err != nil {
		return err
	}
	w.close()
	w.close()

	if err := w.writeVaccinations(x, vaccinations); err != nil {
		return err
	}
	if err := w.writeDevices(x, s.Devices); err != nil {
		return err
	}
	if strings.TrimSpace(s.Comment) != "" {
		// FR-Commentaire-non-code
		if err := w.vsmSection(x, "55112-7", "Commentaire", "Commentaire", "2.16.840.1.113883.10.12.201", "1.3.6.1.4.1.19376.1.4.1.2.16"); err != nil {
			return err
		}
		w.freeText(s.Comment, "")
		w.close()
		w.close()
	}
	return nil
}

// freeText writes a text element of paragraphs (blank lines separate
// them), or the one paragraph empty when there is no text.
func (w *xw) freeText(t, empty string) {
	n := Paragraphs(strings.Split(strings.ReplaceAll(t, "\r\n", "\n"), "\n\n")...)
	if len(n.Blocks) == 0 {
		n = Paragraphs(empty)
	}
	w.writeNarrative(n)
}

// itemTable writes the section text: a table of the items (date, label,
// code, source), each label in <content ID="<prefix>-<n>">, or the empty
// paragraph.
func (w *xw) itemTable(items []SynthesisItem, prefix, empty string, label ...string) {
	w.open("text")
	if len(items) == 0 {
		w.text("paragraph", empty, "ID", prefix+"-aucun")
		w.close()
		return
	}
	w.tableStart(append(append([]string{"Date"}, label...), "Code", "Source")...)
	for i, it := range items {
		ref := prefix + "-" + strconv.Itoa(i+1)
		w.open("tr")
		w.cell("", itemDates(it))
		w.cell(ref, it.Text)
		if len(label) > 1 {
			w.cell(ref+"-detail", cmp.Or(it.Detail, "Non renseignée"))
		}
		w.cell("", strings.TrimSpace(it.Code.Code+" "+it.Code.Display))
		w.cell("", it.Source)
		w.close()
	}
	w.close()
	w.close()
	w.close()
}

func itemDates(it SynthesisItem) string {
	s := app.FormatDate(it.Start, orDay(it.StartPrecision))
	if e := app.FormatDate(it.End, orDay(it.EndPrecision)); e != "" {
		s = strings.TrimSpace(s + " – " + e)
	}
	return s
}

func orDay(p app.DatePrecision) app.DatePrecision {
	if p == app.PrecisionNone {
		return app.PrecisionDay
	}
	return p
}

// tsAt formats t at precision p (a year stays a year), as HL7 TS.
func tsAt(t time.Time, p app.DatePrecision) string {
	switch p {
	case app.PrecisionYear:
		return t.Format("2006")
	case app.PrecisionMonth:
		return t.Format("200601")
	case app.PrecisionMinute:
		return hl7Time(t)
	}
	return hl7Date(t)
}

// ivl writes an IVL_TS effectiveTime: low (UNK when unknown), high when
// known or required.
func (w *xw) ivl(it SynthesisItem, needHigh bool) {
	w.open("effectiveTime", "xsi:type", "IVL_TS")
	if it.Start.IsZero() {
		w.leaf("low", "nullFlavor", "UNK")
	} else {
		w.leaf("low", "value", tsAt(it.Start, it.StartPrecision))
	}
	switch {
	case !it.End.IsZero():
		w.leaf("high", "value", tsAt(it.End, it.EndPrecision))
	case needHigh:
		w.leaf("high", "nullFlavor", "UNK")
	}
	w.close()
}

var _ app.SynthesisWriter = Writer{}

// WriteSynthesis writes a synthesis draft as the VSM (2023.01) of the
// signed-in practitioner, who is author, performer and legal authenticator;
// previous, when set, is the synthesis it replaces (relatedDocument RPLC,
// same setId, next version). A code the CDA rules refuse (a CNAM CIP7, a
// malformed code or source id) is left out of its line, which keeps its
// text; a line whose dates contradict keeps its start.
func (w Writer) WriteSynthesis(p app.Patient, author app.Practitioner, d app.SynthesisDraft, previous *app.DocumentMeta, at time.Time) (app.WrittenDocument, error) {
	a, err := w.practitioner(author)
	if err != nil {
		return app.WrittenDocument{}, err
	}
	s := Synthesis{
		Patient: p, Author: a, Date: at, Vigilance: d.Vigilance, Comment: d.Comment,
		Problems: synthItems(d.Problems), History: synthItems(d.History), Allergies: synthItems(d.Allergies),
		RiskFactors: synthItems(d.RiskFactors), Devices: synthItems(d.Devices),
		Treatments: synthLines(d.Treatments), Vaccinations: synthLines(d.Vaccinations),
		Visibility: Visibility{
			MaskedToProfessionals:          d.Visibility.MaskedToProfessionals,
			HiddenFromPatient:              d.Visibility.HiddenFromPatient,
			HiddenFromLegalRepresentatives: d.Visibility.HiddenFromLegalReps,
		},
	}
	opt := WriteOptions{Created: at, AllowTestINS: w.AllowTestINS}
	if previous != nil {
		opt.Replaces = &Previous{ID: previous.ID, SetID: previous.SetID, Version: max(previous.Version, 1)}
	}
	content, err := WriteSynthesis(s, opt)
	if err != nil {
		return app.WrittenDocument{}, err
	}
	doc, err := written(content)
	doc.Meta.ClassCode = app.ClassSynthesis
	return doc, err
}

// sourceLabel is how a line's source is shown in the tables: the
// document's title and date.
func sourceLabel(src app.MedicationSource) string {
	s := src.Title
	if !src.Date.IsZero() {
		s = strings.TrimSpace(s + " du " + src.Date.Format("02/01/2006"))
	}
	return s
}

func synthItems(ls []app.SynthesisLine) []SynthesisItem {
	out := make([]SynthesisItem, 0, len(ls))
	for i, l := range ls {
		it := SynthesisItem{Text: strings.TrimSpace(l.Text), Code: l.Code, Kind: l.Kind, Detail: l.Detail,
			Start: l.Start, StartPrecision: l.StartPrecision, End: l.End, EndPrecision: l.EndPrecision,
			Source: sourceLabel(l.Source), SourceID: l.Source.Document}
		if it.Text == "" {
			it.Text = l.Code.Display
		}
		if probe := it; probe.check("line", i+1) != nil {
			if checkCode(it.Code, "", false) != nil {
				it.Code = app.Code{}
			}
			if checkCode(it.Kind, "", false) != nil {
				it.Kind = app.Code{}
			}
			if _, err := splitID(string(it.SourceID), ""); err != nil {
				it.SourceID = ""
			}
			if !it.Start.IsZero() && it.End.Before(it.Start) {
				it.End, it.EndPrecision = time.Time{}, app.PrecisionNone
			}
		}
		out = append(out, it)
	}
	return out
}

func synthLines(ms []app.Medication) []MedicationLine {
	out := make([]MedicationLine, 0, len(ms))
	for i, m := range ms {
		l := LineFrom(m)
		if probe := l; probe.check(i+1) != nil {
			l.Product, l.CIP13, l.ATC, l.Route = app.Code{}, "", app.Code{}, app.Code{}
			if !l.Start.IsZero() && l.End.Before(l.Start) {
				l.End = time.Time{}
			}
		}
		out = append(out, l)
	}
	return out
}
