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

// codedOrText writes a coded element with its original text pointing to
// the narrative: the code as read, or nullFlavor UNK when there is none
// (a code Carnet does not know is never invented).
func (w *xw) codedOrText(name string, c app.Code, ref string, attrs ...string) {
	if c.IsZero() {
		w.open(name, append(attrs, "nullFlavor", "UNK")...)
	} else {
		w.open(name, append(attrs, "code", c.Code, "displayName", c.Display, "codeSystem", c.System, "codeSystemName", codeSystemNames[c.System])...)
	}
	w.open("originalText")
	w.leaf("reference", "value", "#"+ref)
	w.close()
	w.close()
}

// sourceRef writes the reference of an entry to the document it was read
// from.
func (w *xw) sourceRef(id app.DocumentID) {
	if id == "" {
		return
	}
	sid, err := splitID(string(id), "source")
	if err != nil {
		return // checked before writing
	}
	w.open("reference", "typeCode", "REFR")
	w.open("externalDocument", "classCode", "DOC", "moodCode", "EVN")
	w.id("id", sid)
	w.close()
	w.close()
}

// concern opens an entry act of a concern list (FR-Liste-des-problemes or
// FR-Liste-des-allergies-et-hypersensibilites) and its SUBJ relationship.
func (w *xw) concern(x *ids, list string, typ string, it SynthesisItem, active bool) error {
	eid, err := x.entryID()
	if err != nil {
		return err
	}
	w.open("entry")
	w.open("act", "classCode", "ACT", "moodCode", "EVN")
	w.leaf("templateId", "root", "2.16.840.1.113883.10.20.1.27")
	w.leaf("templateId", "root", "1.3.6.1.4.1.19376.1.5.3.1.4.5.1")
	w.leaf("templateId", "root", typ)
	w.leaf("templateId", "root", list)
	w.leaf("id", "root", eid)
	w.leaf("code", "nullFlavor", "NA")
	status := "completed"
	if active {
		status = "active"
	}
	w.leaf("statusCode", "code", status)
	w.ivl(it, !active)
	w.open("entryRelationship", "typeCode", "SUBJ", "inversionInd", "false")
	return nil
}

// endConcern closes what concern opened, with the source reference.
func (w *xw) endConcern(it SynthesisItem) {
	w.close() // entryRelationship
	w.sourceRef(it.SourceID)
	w.close() // act
	w.close() // entry
}

// writeProblems writes FR-Problemes-actifs (active) or
// FR-Antecedents-medicaux (history), VSM_1.4_2022.01.xml lines 517-758.
func (w *xw) writeProblems(x *ids, items []SynthesisItem, active bool) error {
	prefix := "atcd"
	if active {
		if err := w.vsmSection(x, "11450-4", "Liste des problèmes actifs", "Pathologies en cours",
			"2.16.840.1.113883.10.20.1.11", "1.3.6.1.4.1.19376.1.5.3.1.3.6", "1.2.250.1.213.1.1.2.132"); err != nil {
			return err
		}
		prefix = "pb"
		w.itemTable(items, prefix, "Aucune pathologie en cours renseignée.", "Pathologie")
	} else {
		if err := w.vsmSection(x, "11348-0", "Antécédents médicaux", "Antécédents",
			"1.3.6.1.4.1.19376.1.5.3.1.3.8", "1.2.250.1.213.1.1.2.134"); err != nil {
			return err
		}
		w.itemTable(items, prefix, "Aucun antécédent renseigné.", "Antécédent")
	}
	if len(items) == 0 {
		a := absentHistory
		if active {
			a = absentProblem
		}
		if err := w.writeNoKnown(x, a); err != nil {
			return err
		}
	}
	for i, it := range items {
		ref := prefix + "-" + strconv.Itoa(i+1)
		if err := w.concern(x, "1.2.250.1.213.1.1.3.39", "1.3.6.1.4.1.19376.1.5.3.1.4.5.2", it, active); err != nil {
			return err
		}
		oid, err := x.entryID()
		if err != nil {
			return err
		}
		w.open("observation", "classCode", "OBS", "moodCode", "EVN", "negationInd", "false")
		w.leaf("templateId", "root", "2.16.840.1.113883.10.20.1.28")
		w.leaf("templateId", "root", "1.3.6.1.4.1.19376.1.5.3.1.4.5")
		w.leaf("templateId", "root", "1.2.250.1.213.1.1.3.37")
		w.leaf("id", "root", oid)
		w.code("code", app.Code{Code: "282291009", System: "2.16.840.1.113883.6.96", Display: "interprétation diagnostique"}, "SNOMED CT")
		w.textRef(ref)
		w.leaf("statusCode", "code", "completed")
		w.ivl(it, false)
		w.codedOrText("value", it.Code, ref, "xsi:type", "CD")
		w.close()
		w.endConcern(it)
	}
	w.close()
	w.close()
	return nil
}

// allergyKind is the observation code of an allergy whose type the record
// does not give, or gives outside the value set the CI-SIS allows
// (JDV_TypeEvenementIndesirablePrevisible_CISIS): SNOMED CT 420134006, the
// most general of the set ("propension aux effets indésirables"), never a
// narrower guess.
var allergyKind = app.Code{Code: "420134006", System: "2.16.840.1.113883.6.96", Display: "propension aux effets indésirables"}

// allergyKinds is JDV_TypeEvenementIndesirablePrevisible_CISIS (SNOMED CT).
var allergyKinds = map[string]bool{"420134006": true, "609328004": true, "416098002": true, "414285001": true,
	"419199007": true, "609396006": true, "609398007": true, "735449006": true, "609397002": true,
	"782197009": true, "59037007": true, "235719002": true, "56840009": true}

// writeAllergies writes FR-Allergies-et-hypersensibilites
// (VSM_1.4_2022.01.xml lines 849-968).
func (w *xw) writeAllergies(x *ids, items []SynthesisItem) error {
	if err := w.vsmSection(x, "48765-2", "Allergies et hypersensibilités", "Allergies et intolérances",
		"2.16.840.1.113883.10.20.1.2", "1.3.6.1.4.1.19376.1.5.3.1.3.13", "1.2.250.1.213.1.1.2.137"); err != nil {
		return err
	}
	w.itemTable(items, "all", "Aucune allergie ni intolérance renseignée.", "Allergie ou intolérance", "Réaction")
	if len(items) == 0 {
		if err := w.writeNoKnown(x, absentAllergy); err != nil {
			return err
		}
	}
	for i, it := range items {
		ref := "all-" + strconv.Itoa(i+1)
		if err := w.concern(x, tplFRAllergyList, tplAllergyConcern, it, true); err != nil {
			return err
		}
		oid, err := x.entryID()
		if err != nil {
			return err
		}
		w.open("observation", "classCode", "OBS", "moodCode", "EVN", "negationInd", "false")
		for _, t := range []string{"2.16.840.1.113883.10.20.1.18", "2.16.840.1.113883.10.20.1.28", tplProblemEntry, tplAllergyEntry, tplFRAllergy} {
			w.leaf("templateId", "root", t)
		}
		w.leaf("id", "root", oid)
		kind := it.Kind
		if kind.System != allergyKind.System || !allergyKinds[kind.Code] {
			kind = allergyKind
		}
		w.code("code", kind, codeSystemNames[kind.System])
		w.textRef(ref)
		w.leaf("statusCode", "code", "completed")
		w.ivl(it, false)
		w.open("value", "xsi:type", "CD", "nullFlavor", "UNK")
		w.open("originalText")
		w.leaf("reference", "value", "#"+ref+"-detail")
		w.close()
		w.close()
		w.open("participant", "typeCode", "CSM")
		w.open("participantRole", "classCode", "MANU")
		w.open("playingEntity", "classCode", "MMAT")
		w.codedOrText("code", it.Code, ref)
		w.text("name", it.Text)
		w.close()
		w.close()
		w.close()
		w.close()
		w.endConcern(it)
	}
	w.close()
	w.close()
	return nil
}

// writeVaccinations writes FR-Vaccinations with FR-Vaccination entries
// (CNAM-HR_2021.01.xml lines 698-860).
func (w *xw) writeVaccinations(x *ids, lines []MedicationLine) error {
	if err := w.vsmSection(x, "11369-6", "Historique des vaccinations", "Vaccinations",
		"2.16.840.1.113883.10.20.1.6", "1.3.6.1.4.1.19376.1.5.3.1.3.23", "1.2.250.1.213.1.1.2.147"); err != nil {
		return err
	}
	w.open("text")
	if len(lines) == 0 {
		w.text("paragraph", "Aucune vaccination renseignée.", "ID", absentImmunization.ref)
	} else {
		w.tableStart("Date", "Vaccin", "Code", "ATC", "Source")
		for i, l := range lines {
			ref := "vac-" + strconv.Itoa(i+1)
			w.open("tr")
			w.cell("", dateFR(l.Start))
			w.cell(ref, l.Name)
			w.cell("", l.Product.Code)
			w.cell("", strings.TrimSpace(l.ATC.Code+" "+l.ATC.Display))
			w.cell("", l.Source)
			w.close()
		}
		w.close()
		w.close()
	}
	w.close()
	if len(lines) == 0 {
		if err := w.writeNoKnown(x, absentImmunization); err != nil {
			return err
		}
	}
	for i, l := range lines {
		ref := "vac-" + strconv.Itoa(i+1)
		eid, err := x.entryID()
		if err != nil {
			return err
		}
		w.open("entry")
		w.open("substanceAdministration", "classCode", "SBADM", "moodCode", "EVN", "negationInd", "false")
		w.leaf("templateId", "root", "2.16.840.1.113883.10.20.1.24")
		w.leaf("templateId", "root", tplImmunization)
		w.leaf("templateId", "root", tplFRVaccination)
		w.leaf("id", "root", eid)
		w.leaf("code", "code", "IMMUNIZ", "displayName", "Vaccination", "codeSystem", "2.16.840.1.113883.5.4", "codeSystemName", "HL7:ActCode")
		w.textRef(ref)
		w.leaf("statusCode", "code", "completed")
		if l.Start.IsZero() {
			w.leaf("effectiveTime", "nullFlavor", "UNK")
		} else {
			w.leaf("effectiveTime", "value", hl7Date(l.Start))
		}
		w.openProduct()
		if l.Product.IsZero() {
			w.open("code", "nullFlavor", "UNK")
		} else {
			w.open("code", "code", l.Product.Code, "displayName", l.Name, "codeSystem", l.Product.System, "codeSystemName", productSystemNames[l.Product.System])
		}
		w.open("originalText")
		w.leaf("reference", "value", "#"+ref)
		w.close()
		if !l.ATC.IsZero() {
			w.code("translation", l.ATC, "ATC")
		}
		w.close()
		w.text("name", l.Name)
		w.close()
		w.close()
		w.close()
		w.close()
		w.close()
	}
	w.close()
	w.close()
	return nil
}

// writeDevices writes FR-Dispositifs-medicaux with FR-Dispositif-medical
// entries (CNAM-HR_2021.01.xml lines 1040-1130): the device as the
// participant's playingDevice.
func (w *xw) writeDevices(x *ids, items []SynthesisItem) error {
	if err := w.vsmSection(x, "46264-8", "Dispositifs médicaux", "Dispositifs médicaux",
		"2.16.840.1.113883.10.20.1.7", "1.3.6.1.4.1.19376.1.5.3.1.1.5.3.5", "1.2.250.1.213.1.1.2.1"); err != nil {
		return err
	}
	w.itemTable(items, "dm", "Aucun dispositif médical renseigné.", "Dispositif")
	for i, it := range items {
		ref := "dm-" + strconv.Itoa(i+1)
		eid, err := x.entryID()
		if err != nil {
			return err
		}
		w.open("entry")
		w.open("supply", "classCode", "SPLY", "moodCode", "EVN")
		w.leaf("templateId", "root", "2.16.840.1.113883.10.20.1.34")
		w.leaf("templateId", "root", "1.2.250.1.213.1.1.3.20")
		w.leaf("id", "root", eid)
		w.textRef(ref)
		w.ivl(it, false)
		w.open("participant", "typeCode", "DEV")
		w.open("participantRole", "classCode", "MANU")
		w.open("playingDevice")
		w.codedOrText("code", it.Code, ref)
		w.close()
		w.close()
		w.close()
		w.sourceRef(it.SourceID)
		w.close()
		w.close()
	}
	w.close()
	w.close()
	return nil
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

// oidAbsentUnknown is the code system of the IPS absent/unknown codes
// (JDV_AbsentOrUnknown*_CISIS).
const oidAbsentUnknown = "2.16.840.1.113883.5.1150.1"

// noKnown is the entry an empty list is written with, where the IHE
// sections require one: "nothing known", from the CI-SIS absent/unknown
// value sets, pointing to the section's empty paragraph (ref).
type noKnown struct {
	kind string // "problem", "history", "allergy", "medication", "immunization"
	code app.Code
	ref  string
}

var (
	absentProblem      = noKnown{"problem", app.Code{Code: "no-known-problems", System: oidAbsentUnknown, Display: "Pas de problème connu"}, "pb-aucun"}
	absentHistory      = noKnown{"history", app.Code{Code: "no-known-problems", System: oidAbsentUnknown, Display: "Pas de problème connu"}, "atcd-aucun"}
	absentAllergy      = noKnown{"allergy", app.Code{Code: "no-known-allergies", System: oidAbsentUnknown, Display: "Pas d'allergie connue"}, "all-aucun"}
	absentMedication   = noKnown{"medication", app.Code{Code: "no-known-medications", System: oidAbsentUnknown, Display: "Pas de traitement connu"}, "med-aucun"}
	absentImmunization = noKnown{"immunization", app.Code{Code: "no-known-immunizations", System: oidAbsentUnknown, Display: "Pas de vaccination connue"}, "vac-aucun"}
)

// writeNoKnown writes the "nothing known" entry of an empty list; Carnet's
// reader reads it as an absence, never as a line.
func (w *xw) writeNoKnown(x *ids, a noKnown) error {
	eid, err := x.entryID()
	if err != nil {
		return err
	}
	switch a.kind {
	case "problem", "history", "allergy":
		list, typ := "1.2.250.1.213.1.1.3.39", tplProblemConcern
		if a.kind == "allergy" {
			list, typ = tplFRAllergyList, tplAllergyConcern
		}
		if err := w.concern(x, list, typ, SynthesisItem{}, a.kind != "history"); err != nil {
			return err
		}
		w.open("observation", "classCode", "OBS", "moodCode", "EVN", "negationInd", "false")
		if a.kind == "allergy" {
			for _, t := range []string{"2.16.840.1.113883.10.20.1.18", "2.16.840.1.113883.10.20.1.28", tplProblemEntry, tplAllergyEntry, tplFRAllergy} {
				w.leaf("templateId", "root", t)
			}
		} else {
			w.leaf("templateId", "root", "2.16.840.1.113883.10.20.1.28")
			w.leaf("templateId", "root", tplProblemEntry)
			w.leaf("templateId", "root", tplFRProblem)
		}
		w.leaf("id", "root", eid)
		if a.kind == "allergy" {
			w.code("code", allergyKind, "SNOMED CT")
		} else {
			w.code("code", app.Code{Code: "282291009", System: "2.16.840.1.113883.6.96", Display: "interprétation diagnostique"}, "SNOMED CT")
		}
		w.textRef(a.ref)
		w.leaf("statusCode", "code", "completed")
		w.ivl(SynthesisItem{}, false)
		w.open("value", "xsi:type", "CD", "code", a.code.Code, "displayName", a.code.Display, "codeSystem", a.code.System)
		w.open("originalText")
		w.leaf("reference", "value", "#"+a.ref)
		w.close()
		w.close()
		w.close()
		w.endConcern(SynthesisItem{})
		return nil
	}
	w.open("entry")
	w.open("substanceAdministration", "classCode", "SBADM", "moodCode", "EVN", "negationInd", "false")
	if a.kind == "immunization" {
		w.leaf("templateId", "root", "2.16.840.1.113883.10.20.1.24")
		w.leaf("templateId", "root", tplImmunization)
		w.leaf("templateId", "root", tplFRVaccination)
		w.leaf("id", "root", eid)
		w.code("code", a.code, "")
	} else {
		w.leaf("templateId", "root", "2.16.840.1.113883.10.20.1.24")
		w.leaf("templateId", "root", "1.3.6.1.4.1.19376.1.5.3.1.4.7")
		w.leaf("templateId", "root", "1.2.250.1.213.1.1.3.42")
		w.leaf("templateId", "root", "1.3.6.1.4.1.19376.1.5.3.1.4.7.1")
		w.leaf("id", "root", eid)
		w.code("code", a.code, "")
	}
	w.textRef(a.ref)
	w.leaf("statusCode", "code", "completed")
	if a.kind == "immunization" {
		w.leaf("effectiveTime", "nullFlavor", "UNK")
	} else {
		w.open("effectiveTime", "xsi:type", "IVL_TS")
		w.leaf("low", "nullFlavor", "UNK")
		w.leaf("high", "nullFlavor", "UNK")
		w.close()
	}
	w.openProduct()
	w.open("code", "nullFlavor", "NA")
	w.open("originalText")
	w.leaf("reference", "value", "#"+a.ref)
	w.close()
	w.close()
	w.leaf("name", "nullFlavor", "NA")
	w.close()
	w.close()
	w.close()
	w.close()
	w.close()
	return nil
}

// textRef writes an entry's text: a reference to its narrative.
func (w *xw) textRef(ref string) {
	w.open("text")
	w.leaf("reference", "value", "#"+ref)
	w.close()
}

// tableStart opens a narrative table with its header row and opens its
// body; the caller writes the rows and closes twice (tbody, table).
func (w *xw) tableStart(headers ...string) {
	w.open("table", "border", "1", "width", "100%")
	w.open("thead")
	w.open("tr")
	for _, h := range headers {
		w.text("th", h)
	}
	w.close()
	w.close()
	w.open("tbody")
}

// openProduct opens consumable/manufacturedProduct (FR-Produit-de-sante)/
// manufacturedMaterial; the caller writes the material and closes three
// times.
func (w *xw) openProduct() {
	w.open("consumable", "typeCode", "CSM")
	w.open("manufacturedProduct", "classCode", "MANU")
	w.leaf("templateId", "root", "2.16.840.1.113883.10.20.1.53")
	w.leaf("templateId", "root", "1.3.6.1.4.1.19376.1.5.3.1.4.7.2")
	w.leaf("templateId", "root", "1.2.250.1.213.1.1.3.43")
	w.open("manufacturedMaterial", "classCode", "MMAT", "determinerCode", "KIND")
}
