package cda

import (
	"strconv"
	"strings"
	"time"

	"github.com/carnetdesk/carnet/app"
)

// TypePreAnesthesia is the type code of the pre-anesthesia consultation
// report: LOINC 34749-2 "CR de consultation pré-anesthésique" (JDV_J07;
// ANEST-CR-CPA_2022.01.xml line 36).
var TypePreAnesthesia = app.Code{Code: "34749-2", System: app.SystemLOINC, Display: "CR de consultation pré-anesthésique"}

// tmplCPA declares the CI-SIS model ANEST-CR-CPA 2022.01
// (ANEST-CR-CPA_2022.01.xml line 32).
var tmplCPA = [2]string{"1.2.250.1.213.1.1.1.41", "2022.01"}

// PreAnesthesia is the pre-anesthesia consultation report that carries the
// medication list the anesthesiologist reconciled and signs off.
type PreAnesthesia struct {
	Patient          app.Patient      // must be QUAL with a valid INS
	Anesthesiologist Practitioner     // author, performer and legal authenticator
	Title            string           // empty: "CR de consultation pré-anesthésique"
	Start            time.Time        // date and time of the consultation
	End              time.Time        // optional
	Encounter        app.Code         // encompassingEncounter/code (e.g. EXTERNE), optional
	Sections         []NoteSection    // other narrative parts (examination, conclusion …), before the medications
	Medications      []MedicationLine // the reconciled medication list
	Visibility       Visibility
	// Act is the principal act (documentationOf/serviceEvent/code): NGAP
	// "CS" (consultation) or "APC" (avis ponctuel de consultant), as
	// ANEST-CR-CPA requires; zero: CS.
	Act app.Code
	// VitalSigns are the measures of the consultation, written in the
	// FR-Signes-vitaux section ANEST-CR-CPA requires; none: the section
	// says they were not recorded in Carnet.
	VitalSigns []VitalSign
}

// VitalSign is one measure of the FR-Signes-vitaux section.
type VitalSign struct {
	Code  app.Code // LOINC (29463-7 poids, 8302-2 taille, …); System may be left empty
	Value string   // a decimal
	Unit  string   // UCUM ("kg", "cm", "mm[Hg]", "/min", "%")
}

// OIDNGAP is the code system of the NGAP acts (principal act of the
// pre-anesthesia report).
const OIDNGAP = "1.2.250.1.215.200.3.3"

// ActCS and ActAPC are the two principal acts ANEST-CR-CPA accepts.
var (
	ActCS  = app.Code{Code: "CS", System: OIDNGAP, Display: "Consultation au cabinet par le médecin spécialiste qualifié"}
	ActAPC = app.Code{Code: "APC", System: OIDNGAP, Display: "Avis ponctuel de consultant"}
)

// MedicationLine is one line of the reconciled medication list, written as
// an FR-Traitement entry (substanceAdministration, moodCode EVN) with an
// FR-Produit-de-santé product, and as a row of the section's table.
type MedicationLine struct {
	Name        string    // product or substance name as shown; required
	Product     app.Code  // CIS (8 digits), CIP13 (13 digits) or UCD code of the product; zero when uncoded
	CIP13       string    // CIP13 of the presentation, written as a translation when Product is the CIS
	ATC         app.Code  // ATC code at any level (Display: its label); System may be left empty
	Substance   string    // active substance (DCI), the name of the generic class
	Dose        string    // dose as shown ("1 comprimé"); empty: built from DoseValue and DoseUnit
	DoseValue   string    // structured dose per intake, a decimal ("1", "0.5")
	DoseUnit    string    // its UCUM unit or annotation ("mg", "{comprimé}")
	Frequency   string    // frequency as shown ("2 fois par jour"); empty: built from the period
	PeriodValue string    // structured frequency: one intake every PeriodValue PeriodUnit
	PeriodUnit  string    // "h", "d", "wk", "mo"
	Route       app.Code  // EDQM route (e.g. 20053000 "Voie orale"); System may be left empty
	Start       time.Time // treatment start, optional
	End         time.Time // treatment end, optional
	Instruction string    // perioperative instruction ("à poursuivre", "arrêt 48 h avant"), optional
	Declared    bool      // declared by the patient rather than found in a document
	Source      string    // where the line was found ("Historique des remboursements du 12/03/2026"), shown in the table
	// The perioperative decision the anesthesiologist signed for this
	// line (French): "Poursuivre", "Arrêter", "Relais", "Adapter", "À
	// discuter"; with the date of the last dose before surgery, when
	// stopped, and the reason (required for an override).
	Decision string
	LastDose time.Time
	Reason   string
}

// decisionText is the line's decision as one French sentence, empty
// without one.
func (l *MedicationLine) decisionText() string {
	if l.Decision == "" {
		return ""
	}
	s := l.Decision
	if !l.LastDose.IsZero() {
		s += " — dernière prise le " + dateFR(l.LastDose)
	}
	if l.Reason != "" {
		s += " — motif : " + l.Reason
	}
	return s
}

// LineFrom returns the MedicationLine of a consolidated medication line.
// CNAM codes are mapped to the generic CIP13 and ATC systems; the dose and
// frequency stay as text.
func LineFrom(m app.Medication) MedicationLine {
	l := MedicationLine{
		Name: m.Name, Substance: m.Substance, Dose: m.Dose, Frequency: m.Frequency,
		Route: m.Route, Start: m.Start, End: m.End, Declared: m.Kind == app.MedicationDeclared,
		Product: m.Product, ATC: m.ATC,
	}
	switch l.Product.System {
	case app.SystemCNAMCIP:
		l.Product.System = app.SystemCIP13
	case app.SystemCNAMUCD:
		l.Product.System = app.SystemUCD
	}
	if l.ATC.System == app.SystemCNAMATC3 {
		l.ATC.System = app.SystemATC
	}
	if l.Product.System == app.SystemCIS {
		for _, c := range m.Codes {
			if c.System == app.SystemCIP13 || c.System == app.SystemCNAMCIP {
				l.CIP13 = c.Code
				break
			}
		}
	}
	if l.Name == "" {
		l.Name = l.Product.Display
	}
	if !l.Declared && m.Source.Title != "" {
		l.Source = m.Source.Title
		if !m.Source.Date.IsZero() {
			l.Source += " du " + m.Source.Date.Format("02/01/2006")
		}
	}
	return l
}

// periodUnits gives the words of the PIVL_TS units: "1 fois par <[0]>"
// when there is a singular, else "toutes les <n> <[1]>" — the wording the
// reader gives the same period, so the table and the entry agree.
var periodUnits = map[string][2]string{"min": {"", "min"}, "h": {"", "h"}, "d": {"jour", "j"}, "wk": {"semaine", "semaines"}, "mo": {"mois", "mois"}, "a": {"an", "ans"}}

// check validates a line and fills the default code systems. n is the
// 1-based line number, the only thing errors name.
func (l *MedicationLine) check(n int) error {
	at := "medication line " + strconv.Itoa(n) + ": "
	if strings.TrimSpace(l.Name) == "" {
		return invalid(at + "name is required")
	}
	if !l.Product.IsZero() {
		ok := reDigits.MatchString(l.Product.Code)
		switch l.Product.System {
		case app.SystemCIS:
			ok = ok && len(l.Product.Code) == 8
		case app.SystemCIP13:
			ok = ok && len(l.Product.Code) == 13
		case app.SystemUCD:
			ok = ok && (len(l.Product.Code) == 7 || len(l.Product.Code) == 13)
		default:
			return invalid(at + "product code system must be CIS, CIP13 or UCD")
		}
		if !ok {
			return invalid(at + "product code has the wrong length or is not numeric")
		}
	}
	if l.CIP13 != "" && (len(l.CIP13) != 13 || !reDigits.MatchString(l.CIP13)) {
		return invalid(at + "CIP13 must have 13 digits")
	}
	if !l.ATC.IsZero() {
		if l.ATC.System == "" {
			l.ATC.System = app.SystemATC
		}
		if l.ATC.System != app.SystemATC || !reATC.MatchString(l.ATC.Code) {
			return invalid(at + "ATC code is malformed")
		}
	}
	if l.DoseValue != "" && (!reDecimal.MatchString(l.DoseValue) || !reCodeToken.MatchString(l.DoseUnit)) {
		return invalid(at + "dose must be a decimal with a unit")
	}
	if l.PeriodValue != "" {
		if _, ok := periodUnits[l.PeriodUnit]; !ok || !reDecimal.MatchString(l.PeriodValue) {
			return invalid(at + "period must be a decimal with a unit among min, h, d, wk, mo, a")
		}
	}
	if !l.Route.IsZero() && l.Route.System == "" {
		l.Route.System = OIDEDQM
	}
	if err := checkCode(l.Route, at+"route", false); err != nil {
		return err
	}
	if !l.Start.IsZero() && !l.End.IsZero() && l.End.Before(l.Start) {
		return invalid(at + "treatment ends before it starts")
	}
	if l.Dose == "" && l.DoseValue != "" {
		l.Dose = l.DoseValue + " " + strings.Trim(l.DoseUnit, "{}")
	}
	if l.Frequency == "" && l.PeriodValue != "" {
		u := periodUnits[l.PeriodUnit]
		l.Frequency = "toutes les " + l.PeriodValue + " " + u[1]
		if l.PeriodValue == "1" && u[0] != "" {
			l.Frequency = "1 fois par " + u[0]
		}
	}
	return nil
}

// WritePreAnesthesia writes the pre-anesthesia consultation report (CI-SIS
// model ANEST-CR-CPA 2022.01, type 34749-2) with the reconciled medication
// list as FR-Traitement entries and their table. The anesthesiologist is the
// author, the performer and the legal authenticator. Errors are as for
// WriteNote.
func WritePreAnesthesia(pa PreAnesthesia, opt WriteOptions) ([]byte, error) {
	if strings.TrimSpace(pa.Title) == "" {
		pa.Title = "CR de consultation pré-anesthésique"
	}
	for i, s := range pa.Sections {
		if strings.TrimSpace(s.Title) == "" {
			return nil, invalid("section " + strconv.Itoa(i+1) + " has no title")
		}
		if err := checkCode(s.Code, "section", false); err != nil {
			return nil, err
		}
		if err := checkNarrative(s.Text); err != nil {
			return nil, err
		}
	}
	lines := make([]MedicationLine, len(pa.Medications))
	copy(lines, pa.Medications)
	for i := range lines {
		if err := lines[i].check(i + 1); err != nil {
			return nil, err
		}
	}
	if err := checkCode(pa.Encounter, "encounter", false); err != nil {
		return nil, err
	}
	if pa.Act.IsZero() {
		pa.Act = ActCS
	}
	if pa.Act.System != OIDNGAP || (pa.Act.Code != "CS" && pa.Act.Code != "APC") {
		return nil, invalid("principal act must be NGAP CS or APC")
	}
	for i := range pa.VitalSigns {
		v := &pa.VitalSigns[i]
		if v.Code.System == "" {
			v.Code.System = app.SystemLOINC
		}
		known := false
		for _, c := range vitalCodes {
			known = known || c.code == v.Code.Code
		}
		if !known || v.Code.System != app.SystemLOINC || !reDecimal.MatchString(v.Value) || !reCodeToken.MatchString(v.Unit) {
			return nil, invalid("vital sign " + strconv.Itoa(i+1) + " needs one of the seven LOINC codes, a decimal value and a unit")
		}
	}
	h, err := newHeader(pa.Patient, pa.Anesthesiologist, nil, pa.Start, pa.End, pa.Visibility, opt)
	if err != nil {
		return nil, err
	}
	h.templates = [][2]string{tmplHL7France, tmplCISIS, tmplCPA}
	h.typ, h.title, h.encounter, h.pharm = TypePreAnesthesia, pa.Title, pa.Encounter, true
	h.service, h.sysName = pa.Act, "NGAP"

	var w xw
	w.b.Grow(8<<10 + 4<<10*len(lines))
	w.writeHeader(h)
	w.open("component")
	w.open("structuredBody")
	if err := w.writeSections(&h.ids, pa.Sections); err != nil {
		return nil, err
	}
	if err := w.writeVitalSigns(&h.ids, pa.VitalSigns, pa.Start); err != nil {
		return nil, err
	}
	if err := w.writeMedications(&h.ids, lines); err != nil {
		return nil, err
	}
	w.close()
	w.close()
	w.close()
	w.b.WriteByte('\n')
	return w.b.Bytes(), nil
}

// writeMedications writes the FR-Traitements section
// (ANEST-CR-CPA_2022.01.xml lines 2675-2798): its table, then one entry per
// line.
func (w *xw) writeMedications(x *ids, lines []MedicationLine) error {
	sid, err := x.entryID()
	if err != nil {
		return err
	}
	w.open("component")
	w.open("section")
	w.leaf("templateId", "root", "2.16.840.1.113883.10.20.1.8")
	w.leaf("templateId", "root", "1.3.6.1.4.1.19376.1.5.3.1.3.19")
	w.leaf("templateId", "root", "1.2.250.1.213.1.1.2.143")
	w.leaf("id", "root", sid)
	w.code("code", app.Code{Code: "10160-0", System: app.SystemLOINC, Display: "Traitements"}, "LOINC")
	w.text("title", "Traitements")
	w.open("text")
	if len(lines) == 0 {
		w.open("paragraph")
		w.open("content", "ID", "med-aucun")
		w.escape("Aucun traitement en cours retrouvé ni déclaré.")
		w.close()
		w.close()
	} else {
		w.open("table", "border", "1", "width", "100%")
		w.open("thead")
		w.open("tr")
		for _, h := range []string{"Médicament", "Code", "ATC", "Dose", "Fréquence", "Voie", "Début", "Fin", "Consigne", "Décision", "Dernière prise", "Motif", "Source"} {
			w.text("th", h)
		}
		w.close()
		w.close()
		w.open("tbody")
		for i, l := range lines {
			ref := "med-" + strconv.Itoa(i+1)
			w.open("tr", "ID", ref)
			w.cell(ref+"-nom", l.Name)
			w.cell("", l.Product.Code)
			w.cell("", strings.TrimSpace(l.ATC.Code+" "+l.ATC.Display))
			w.cell("", l.Dose)
			w.cell("", l.Frequency)
			w.cell("", l.Route.Display)
			w.cell("", dateFR(l.Start))
			w.cell("", dateFR(l.End))
			w.cell(ref+"-consigne", firstNonEmpty(l.decisionText(), l.Instruction))
			w.cell(ref+"-decision", l.Decision)
			w.cell("", dateFR(l.LastDose))
			w.cell("", l.Reason)
			src := l.Source
			if l.Declared {
				src = "Déclaré par le patient"
			}
			w.cell("", src)
			w.close()
		}
		w.close()
		w.close()
	}
	w.close()
	for i, l := range lines {
		if err := w.writeTreatment(x, l, "med-"+strconv.Itoa(i+1)); err != nil {
			return err
		}
	}
	if len(lines) == 0 {
		if err := w.writeNoTreatment(x); err != nil {
			return err
		}
	}
	w.close()
	w.close()
	return nil
}

// cell writes a td; with an id, its text is wrapped in <content ID=…> so
// entries can reference it.
func (w *xw) cell(id, text string) {
	if id == "" || text == "" {
		if text == "" {
			text = "-"
		}
		w.text("td", text)
		return
	}
	w.start("td", nil)
	w.b.WriteString(`><content ID="`)
	w.escape(id)
	w.b.WriteString(`">`)
	w.escape(text)
	w.b.WriteString("</content></td>")
}

func dateFR(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format("02/01/2006")
}

var productSystemNames = map[string]string{app.SystemCIS: "CIS", app.SystemCIP13: "CIP", app.SystemUCD: "UCD"}

// writeTreatment writes one FR-Traitement entry with its FR-Produit-de-santé
// (templates as in ANEST-CR-CPA_2022.01.xml lines 2730-2796; the IHE PHARM
// generic class as in eP-MED-DM_2024.01_PosoStruct.xml lines 731, 749-754).
func (w *xw) writeTreatment(x *ids, l MedicationLine, ref string) error {
	eid, err := x.entryID()
	if err != nil {
		return err
	}
	w.open("entry", "typeCode", "DRIV")
	w.open("substanceAdministration", "classCode", "SBADM", "moodCode", "EVN")
	w.leaf("templateId", "root", "2.16.840.1.113883.10.20.1.24")
	w.leaf("templateId", "root", "1.3.6.1.4.1.19376.1.5.3.1.4.7")
	w.leaf("templateId", "root", "1.2.250.1.213.1.1.3.42")
	w.leaf("templateId", "root", "1.3.6.1.4.1.19376.1.5.3.1.4.7.1")
	w.leaf("id", "root", eid)
	w.leaf("code", "code", "DRUG", "displayName", "Médicament", "codeSystem", "2.16.840.1.113883.5.4", "codeSystemName", "HL7:ActCode")
	w.open("text")
	w.leaf("reference", "value", "#"+ref)
	w.close()
	w.leaf("statusCode", "code", "completed")
	w.open("effectiveTime", "xsi:type", "IVL_TS")
	w.tsOrUnknown("low", l.Start)
	w.tsOrUnknown("high", l.End)
	w.close()
	if l.PeriodValue != "" {
		w.open("effectiveTime", "xsi:type", "PIVL_TS", "operator", "A")
		w.leaf("period", "value", l.PeriodValue, "unit", l.PeriodUnit)
		w.close()
	}
	if !l.Route.IsZero() {
		w.code("routeCode", l.Route, "EDQM")
	}
	if l.DoseValue != "" {
		w.open("doseQuantity")
		w.leaf("low", "value", l.DoseValue, "unit", l.DoseUnit)
		w.leaf("high", "value", l.DoseValue, "unit", l.DoseUnit)
		w.close()
	}
	w.open("consumable")
	w.open("manufacturedProduct", "classCode", "MANU")
	w.leaf("templateId", "root", "2.16.840.1.113883.10.20.1.53")
	w.leaf("templateId", "root", "1.3.6.1.4.1.19376.1.5.3.1.4.7.2")
	w.leaf("templateId", "root", "1.2.250.1.213.1.1.3.43")
	w.open("manufacturedMaterial", "classCode", "MMAT", "determinerCode", "KIND")
	w.leaf("templateId", "root", "1.3.6.1.4.1.19376.1.9.1.3.1")
	if l.Product.IsZero() || l.Product.System != app.SystemCIS {
		// FR-Produit-de-santé codes the product in CIS only
		// (E_produitDeSante_fr.sch); a CIP13 or UCD is a translation.
		w.open("code", "nullFlavor", "NA")
	} else {
		w.open("code", "code", l.Product.Code, "displayName", l.Name, "codeSystem", l.Product.System, "codeSystemName", productSystemNames[l.Product.System])
	}
	w.open("originalText")
	w.leaf("reference", "value", "#"+ref+"-nom")
	w.close()
	if !l.Product.IsZero() && l.Product.System != app.SystemCIS {
		w.leaf("translation", "code", l.Product.Code, "displayName", l.Name, "codeSystem", l.Product.System, "codeSystemName", productSystemNames[l.Product.System])
	}
	if l.CIP13 != "" && l.Product.System == app.SystemCIS {
		w.leaf("translation", "code", l.CIP13, "codeSystem", app.SystemCIP13, "codeSystemName", "CIP")
	}
	if !l.ATC.IsZero() { // as in ANEST-CR-CPA_2022.01.xml line 2782, for readers of the 2022 models
		w.code("translation", l.ATC, "ATC")
	}
	w.close()
	w.text("name", l.Name)
	if !l.ATC.IsZero() {
		w.open("pharm:asSpecializedKind", "classCode", "GRIC")
		w.open("pharm:generalizedMedicineClass", "classCode", "MMAT")
		w.code("pharm:code", l.ATC, "ATC")
		if name := firstNonEmpty(l.Substance, l.ATC.Display); name != "" {
			w.text("pharm:name", name)
		}
		w.close()
		w.close()
	}
	w.close()
	w.close()
	w.close()
	if l.Declared {
		// The patient is the source of this line (CDA informant, RelatedEntity
		// classCode PAT).
		w.open("informant")
		w.leaf("relatedEntity", "classCode", "PAT")
		w.close()
	}
	if l.Instruction != "" || l.Decision != "" {
		w.open("precondition")
		w.open("criterion")
		w.open("text")
		w.leaf("reference", "value", "#"+ref+"-consigne")
		w.close()
		w.close()
		w.close()
	}
	w.close()
	w.close()
	return nil
}

func (w *xw) tsOrUnknown(name string, t time.Time) {
	if t.IsZero() {
		w.leaf(name, "nullFlavor", "UNK")
		return
	}
	w.leaf(name, "value", hl7Date(t))
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// vitalCodes are the seven measures the FR-Signes-vitaux section of
// ANEST-CR-CPA holds, each exactly once (S_SignesVitaux-CISIS.sch), with
// their UCUM unit.
var vitalCodes = []struct{ code, label, unit string }{
	{"8302-2", "Taille", "cm"},
	{"29463-7", "Poids", "kg"},
	{"39156-5", "Index de masse corporelle (IMC)", "kg/m2"},
	{"8480-6", "Pression artérielle systolique", "mm[Hg]"},
	{"8462-4", "Pression artérielle diastolique", "mm[Hg]"},
	{"8867-4", "Fréquence cardiaque", "/min"},
	{"20564-1", "Saturation en oxygène", "%"},
}

// writeVitalSigns writes the FR-Signes-vitaux section ANEST-CR-CPA requires
// (ANEST-CR-CPA_2022.01.xml lines 395-600): the table of the seven
// measures and the FR-Signes-vitaux organizer; a measure not given is
// written with nullFlavor UNK ("non renseigné").
func (w *xw) writeVitalSigns(x *ids, signs []VitalSign, at time.Time) error {
	given := map[string]VitalSign{}
	for _, v := range signs {
		given[v.Code.Code] = v
	}
	sid, err := x.entryID()
	if err != nil {
		return err
	}
	w.open("component")
	w.open("section")
	w.leaf("templateId", "root", "2.16.840.1.113883.10.20.1.16")
	w.leaf("templateId", "root", "1.3.6.1.4.1.19376.1.5.3.1.3.25")
	w.leaf("templateId", "root", "1.3.6.1.4.1.19376.1.5.3.1.1.5.3.2")
	w.leaf("templateId", "root", "1.2.250.1.213.1.1.2.75")
	w.leaf("id", "root", sid)
	w.code("code", app.Code{Code: "8716-3", System: app.SystemLOINC, Display: "Signes vitaux"}, "LOINC")
	w.text("title", "Signes vitaux (Données biométriques)")
	w.open("text")
	w.open("table", "border", "1")
	w.open("thead")
	w.open("tr")
	w.text("th", "Type")
	w.text("th", "Mesure")
	w.close()
	w.close()
	w.open("tbody")
	for i, c := range vitalCodes {
		w.open("tr")
		w.cell("vs-"+strconv.Itoa(i+1), c.label)
		if v, ok := given[c.code]; ok {
			w.cell("", v.Value+" "+v.Unit)
		} else {
			w.cell("", "non renseigné")
		}
		w.close()
	}
	w.close()
	w.close()
	w.close()
	oid, err := x.entryID()
	if err != nil {
		return err
	}
	w.open("entry")
	w.open("organizer", "classCode", "CLUSTER", "moodCode", "EVN")
	for _, t := range []string{"2.16.840.1.113883.10.20.1.32", "2.16.840.1.113883.10.20.1.35", "1.3.6.1.4.1.19376.1.5.3.1.4.13.1", "1.2.250.1.213.1.1.3.49"} {
		w.leaf("templateId", "root", t)
	}
	w.leaf("id", "root", oid)
	w.leaf("code", "code", "85353-1", "displayName", "Signes vitaux", "codeSystem", app.SystemLOINC, "codeSystemName", "LOINC")
	w.leaf("statusCode", "code", "completed")
	w.leaf("effectiveTime", "value", hl7Date(at))
	for i, c := range vitalCodes {
		vid, err := x.entryID()
		if err != nil {
			return err
		}
		w.open("component", "typeCode", "COMP")
		w.open("observation", "classCode", "OBS", "moodCode", "EVN")
		for _, t := range []string{"2.16.840.1.113883.10.20.1.31", "1.3.6.1.4.1.19376.1.5.3.1.4.13", "1.3.6.1.4.1.19376.1.5.3.1.4.13.2", "1.2.250.1.213.1.1.3.50"} {
			w.leaf("templateId", "root", t)
		}
		w.leaf("id", "root", vid)
		w.code("code", app.Code{Code: c.code, System: app.SystemLOINC, Display: c.label}, "LOINC")
		w.open("text")
		w.leaf("reference", "value", "#vs-"+strconv.Itoa(i+1))
		w.close()
		w.leaf("statusCode", "code", "completed")
		w.leaf("effectiveTime", "nullFlavor", "NA")
		if v, ok := given[c.code]; ok {
			w.leaf("value", "xsi:type", "PQ", "value", v.Value, "unit", v.Unit)
		} else {
			w.leaf("value", "xsi:type", "PQ", "nullFlavor", "UNK")
		}
		w.close()
		w.close()
	}
	w.close()
	w.close()
	w.close()
	w.close()
	return nil
}

// writeNoTreatment writes the FR-Traitement entry of an empty list: IHE
// PCC's medications section needs an entry; its text points at the
// paragraph saying no treatment was found or declared, its product is
// not applicable (nullFlavor NA) with the SNOMED CT translation 182849000
// "no drug therapy", which readers (ours included) take as an absence.
func (w *xw) writeNoTreatment(x *ids) error {
	eid, err := x.entryID()
	if err != nil {
		return err
	}
	w.open("entry", "typeCode", "DRIV")
	w.open("substanceAdministration", "classCode", "SBADM", "moodCode", "EVN")
	w.leaf("templateId", "root", "2.16.840.1.113883.10.20.1.24")
	w.leaf("templateId", "root", "1.3.6.1.4.1.19376.1.5.3.1.4.7")
	w.leaf("templateId", "root", "1.2.250.1.213.1.1.3.42")
	w.leaf("templateId", "root", "1.3.6.1.4.1.19376.1.5.3.1.4.7.1")
	w.leaf("id", "root", eid)
	w.leaf("code", "code", "DRUG", "displayName", "Médicament", "codeSystem", "2.16.840.1.113883.5.4", "codeSystemName", "HL7:ActCode")
	w.open("text")
	w.leaf("reference", "value", "#med-aucun")
	w.close()
	w.leaf("statusCode", "code", "completed")
	w.open("effectiveTime", "xsi:type", "IVL_TS")
	w.leaf("low", "nullFlavor", "UNK")
	w.leaf("high", "nullFlavor", "UNK")
	w.close()
	w.open("consumable")
	w.open("manufacturedProduct", "classCode", "MANU")
	w.leaf("templateId", "root", "2.16.840.1.113883.10.20.1.53")
	w.leaf("templateId", "root", "1.3.6.1.4.1.19376.1.5.3.1.4.7.2")
	w.leaf("templateId", "root", "1.2.250.1.213.1.1.3.43")
	w.open("manufacturedMaterial", "classCode", "MMAT", "determinerCode", "KIND")
	w.leaf("templateId", "root", "1.3.6.1.4.1.19376.1.9.1.3.1")
	w.open("code", "nullFlavor", "NA")
	w.leaf("translation", "code", "182849000", "displayName", "Aucun traitement médicamenteux", "codeSystem", "2.16.840.1.113883.6.96", "codeSystemName", "SNOMED CT")
	w.close()
	w.leaf("name", "nullFlavor", "NA")
	w.close()
	w.close()
	w.close()
	w.close()
	w.close()
	return nil
}
