package cda

import (
	"encoding/xml"
	"slices"
	"strings"
	"time"

	"github.com/carnetdesk/carnet/app"
)

// Template ids the entry reader recognises.
const (
	tplAllergyConcern = "1.3.6.1.4.1.19376.1.5.3.1.4.5.3"
	tplFRAllergyList  = "1.2.250.1.213.1.1.3.40"
	tplProblemConcern = "1.3.6.1.4.1.19376.1.5.3.1.4.5.2"
	tplFRProblemList  = "1.2.250.1.213.1.1.3.39"
	tplAllergyEntry   = "1.3.6.1.4.1.19376.1.5.3.1.4.6"
	tplFRAllergy      = "1.2.250.1.213.1.1.3.41"
	tplProblemEntry   = "1.3.6.1.4.1.19376.1.5.3.1.4.5"
	tplFRProblem      = "1.2.250.1.213.1.1.3.37"
	tplImmunization   = "1.3.6.1.4.1.19376.1.5.3.1.4.12"
	tplFRVaccination  = "1.2.250.1.213.1.1.3.45"
	// tplFRPlannedVaccination is FR-Vaccination-prevue (IHE Immunization
	// Recommendation, …4.12.2, is matched by the immunization prefix).
	tplFRPlannedVaccination = "1.2.250.1.213.1.1.3.47"
)

// maxEntryDepth bounds how deep the reader follows nested clinical
// statements (entryRelationship, organizer/component): deeper ones are
// skipped and flagged, never read unbounded.
const maxEntryDepth = 12

// entryCtx is what an entry needs to know of where it is: its section and
// the section's author (the dispenser of a dispensation section).
type entryCtx struct {
	section    *Section
	author     *Author
	authorTime pdate // the author's time at the precision written
}

// stmtCtx is what a clinical statement inherits from the statements
// around it.
type stmtCtx struct {
	entry   *entryCtx
	depth   int    // nesting below the entry
	negated bool   // an enclosing statement or relationship is negated
	kind    string // "allergy" or "problem" from an enclosing concern
	// aux: the statement qualifies its concern (a reaction, severity,
	// status or comment) and is never an allergy or problem itself
	aux bool
}

// negationOf reports whether se carries negationInd="true".
func negationOf(se *xml.StartElement) bool {
	v := strings.TrimSpace(attr(se, "negationInd"))
	return v == "true" || v == "1"
}

// entry reads one entry of a section.
func (p *parser) entry(ctx *entryCtx) {
	p.children(func(se *xml.StartElement) {
		p.statement(se, stmtCtx{entry: ctx})
	})
}

// statement reads one clinical statement (the child of an entry, an
// entryRelationship or an organizer's component). A statement that is
// negated, or inside a negated one, is read as negated: a negation never
// turns back into a positive fact.
// It returns the narrative text of an observation ("" for the others),
// which titles an attached document.
func (p *parser) statement(se *xml.StartElement, c stmtCtx) string {
	if c.depth > maxEntryDepth {
		p.flag(FlagUnsupported, "entryRelationship nested deeper than the limit")
		return ""
	}
	c.negated = c.negated || negationOf(se)
	switch hl7(se) {
	case "substanceAdministration":
		p.doc.Medications = append(p.doc.Medications, p.substanceAdministration(se, c)...)
	case "supply":
		p.supplyEntry(se, c)
	case "act", "encounter":
		p.concern(c)
	case "observation":
		return p.observation(c, attr(se, "moodCode"))
	case "procedure":
		p.procedure(se, c)
	case "organizer":
		p.organizer(c)
	case "observationMedia":
		p.observationMedia(se, "")
	}
	return ""
}

// related reads the statements under an entryRelationship or a component,
// one level deeper.
func (p *parser) related(rel *xml.StartElement, c stmtCtx) {
	c.depth++
	c.negated = c.negated || negationOf(rel)
	p.children(func(se *xml.StartElement) { p.statement(se, c) })
}

// organizer reads an organizer's components (batteries, clusters,
// attached documents): an attached document's type observation gives its
// title to the observationMedia that follow it.
func (p *parser) organizer(c stmtCtx) {
	title := ""
	c.depth++
	p.children(func(se *xml.StartElement) {
		if !is(se, "component") {
			return
		}
		cc := c
		cc.negated = c.negated || negationOf(se)
		p.children(func(ch *xml.StartElement) {
			if is(ch, "observationMedia") {
				p.observationMedia(ch, title)
				return
			}
			if t := p.statement(ch, cc); title == "" {
				title = t
			}
		})
	})
}

// medLine is a medication line being read, with its dispensings.
type medLine struct {
	m          app.Medication
	supplies   []supply
	codes      []app.Code
	immuniz    bool
	procedural bool
	declared   bool     // informant is the patient
	name       string   // manufacturedMaterial/name
	origText   string   // the product code's originalText (resolved)
	ingrConf   string   // a free-text ingredient name that contradicts its code
	act        app.Code // the substanceAdministration's own code (DRUG, IMMUNIZ …)
}

// supply is one dispensing (CNAM-HR, dispensation) of a medication line.
type supply struct {
	date       time.Time
	prec       app.DatePrecision
	quantity   string
	prescriber string
	dispenser  string
	negated    bool // the document says it was NOT dispensed (negationInd on the supply or its relationship)
}

// medKind returns the kind of a substanceAdministration by its moodCode:
// EVN a treatment (given or taken), INT a prescription, RQO/PRP/ARQ/APT a
// plan.
func medKind(se *xml.StartElement) app.MedicationKind {
	switch strings.TrimSpace(attr(se, "moodCode")) {
	case "INT":
		return app.MedicationPrescribed
	case "RQO", "PRP", "ARQ", "APT", "PRMS":
		return app.MedicationPlanned
	}
	return app.MedicationTreatment
}

// substanceAdministration reads a medication (FR-Traitement,
// FR-Traitement-prescrit, FR-Vaccination …) and returns its lines: one per
// dispensing when the entry records dispensings, else one. Statements
// nested in it (other than its dose steps, dispensings and indication) are
// read as entries of their own.
func (p *parser) substanceAdministration(se *xml.StartElement, c stmtCtx) []app.Medication {
	var ml medLine
	ml.m.Kind = medKind(se)
	ml.m.Negated = c.negated
	p.sbadmBody(&ml, false, c)
	m := &ml.m
	if absence(ml.act) || slices.ContainsFunc(ml.codes, absence) {
		// "no known medication": a statement about the record, not a line;
		// the document is then listed among those to read
		return nil
	}
	p.finishMed(&ml)
	if ml.immuniz && m.Kind == app.MedicationPrescribed {
		// a vaccination "intended" is a planned one, not a prescription to dispense
		m.Kind = app.MedicationPlanned
	}
	if (ml.immuniz || ml.procedural) && m.Kind == app.MedicationTreatment && len(ml.supplies) == 0 {
		m.Kind = app.MedicationAdminister
	}
	if ml.declared && m.Kind == app.MedicationTreatment && len(ml.supplies) == 0 {
		m.Kind = app.MedicationDeclared
	}
	if len(ml.supplies) == 0 {
		return []app.Medication{*m}
	}
	out := make([]app.Medication, 0, len(ml.supplies))
	for _, s := range ml.supplies {
		d := *m
		d.Kind = app.MedicationDispensed
		d.Negated = m.Negated || s.negated
		d.Dispensed, d.DispensedPrecision = s.date, s.prec
		d.Quantity = s.quantity
		d.Prescriber = s.prescriber
		d.Dispenser = s.dispenser
		d.Codes = append([]app.Code(nil), m.Codes...)
		out = append(out, d)
	}
	return out
}

// sbadmBody reads the children of a substanceAdministration into ml; sub is
// true for a subordinate one (dose steps), whose product and relations are
// the parent's.
func (p *parser) sbadmBody(ml *medLine, sub bool, c stmtCtx) {
	m := &ml.m
	p.children(func(se *xml.StartElement) {
		switch hl7(se) {
		case "templateId":
			switch root := attr(se, "root"); {
			case strings.HasPrefix(root, tplImmunization), root == tplFRVaccination, root == tplFRPlannedVaccination:
				ml.immuniz = true
			case strings.HasPrefix(root, "1.2.840.10008.9."), // DICOM procedural medication
				root == "1.2.250.1.213.1.1.3.151", root == "1.2.250.1.213.1.1.3.173": // FR-DICOM administration
				ml.procedural = true
			}
		case "text":
			if t := usable(p.refText()); t != "" && m.Text == "" {
				m.Text = t
			}
		case "statusCode":
			if m.Status == "" {
				m.Status = strings.TrimSpace(attr(se, "code"))
			}
		case "code":
			if !sub {
				ml.act = code(se)
			}
		case "effectiveTime":
			p.medTime(m, se)
		case "routeCode":
			if m.Route.IsZero() {
				m.Route = code(se)
			}
		case "doseQuantity":
			if m.Dose == "" {
				m.Dose = p.quantity(se)
			}
		case "informant":
			// informant/relatedEntity[@classCode=PAT]: declared by the patient
			p.children(func(se *xml.StartElement) {
				if is(se, "relatedEntity") && attr(se, "classCode") == "PAT" {
					ml.declared = true
				}
			})
		case "consumable":
			if !sub {
				p.consumable(ml)
			}
		case "entryRelationship":
			p.medRelationship(ml, se, sub, c)
		}
	})
}

// medTime reads an effectiveTime of a substanceAdministration: the
// treatment period (IVL_TS) or the frequency (PIVL_TS, EIVL_TS, SXPR_TS).
func (p *parser) medTime(m *app.Medication, se *xml.StartElement) {
	switch xsiType(se) {
	case "PIVL_TS":
		if f := p.frequency(); f != "" && m.Frequency == "" {
			m.Frequency = f
		}
	case "SXPR_TS":
		p.children(func(se *xml.StartElement) {
			if is(se, "comp") {
				if xsiType(se) == "IVL_TS" || xsiType(se) == "" {
					return // the frequency's phase, not the treatment period
				}
				p.medTime(m, se)
			}
		})
	case "EIVL_TS":
		p.children(func(se *xml.StartElement) {
			if is(se, "event") && m.Frequency == "" {
				m.Frequency = attr(se, "code")
			}
		})
	default: // IVL_TS, TS, or untyped
		lo, hi := p.ivlp(se, "substanceAdministration/effectiveTime")
		if m.Start.IsZero() {
			m.Start, m.StartPrecision = lo.t, lo.p
		}
		if m.End.IsZero() {
			m.End, m.EndPrecision = hi.t, hi.p
		}
	}
}

// frequency reads a PIVL_TS period into words: "1 fois par jour",
// "toutes les 8 h".
func (p *parser) frequency() string {
	var out string
	p.children(func(se *xml.StartElement) {
		if !is(se, "period") {
			return
		}
		v, u := strings.TrimSpace(attr(se, "value")), strings.TrimSpace(attr(se, "unit"))
		if v == "" {
			return
		}
		names := map[string][2]string{
			"min": {"", "min"}, "h": {"", "h"}, "d": {"jour", "j"}, "wk": {"semaine", "semaines"},
			"mo": {"mois", "mois"}, "a": {"an", "ans"},
		}
		nm, ok := names[u]
		switch {
		case !ok:
			out = "toutes les " + v + " " + u
		case v == "1" && nm[0] != "":
			out = "1 fois par " + nm[0]
		default:
			out = "toutes les " + v + " " + nm[1]
		}
	})
	return out
}

// quantity reads a PQ or IVL_PQ (low/high) as words: "2 tablet", "1 à 2 mg".
func (p *parser) quantity(se *xml.StartElement) string {
	pq := func(se *xml.StartElement) string {
		v := strings.TrimSpace(attr(se, "value"))
		if v == "" {
			return ""
		}
		u := strings.Trim(strings.TrimSpace(attr(se, "unit")), "{}")
		if u == "" || u == "1" || digits(u) { // a numeric unit is an EDQM packaging code, not a word
			return v
		}
		return v + " " + u
	}
	if v := pq(se); v != "" {
		return v
	}
	var lo, hi string
	p.children(func(se *xml.StartElement) {
		switch hl7(se) {
		case "low":
			lo = pq(se)
		case "high":
			hi = pq(se)
		case "center":
			lo = pq(se)
		}
	})
	switch {
	case hi == "" || hi == lo:
		return lo
	case lo == "":
		return hi
	}
	return lo + " à " + hi
}

// consumable reads consumable/manufacturedProduct/manufacturedMaterial
// (and a supply's product, the same).
func (p *parser) consumable(ml *medLine) {
	p.children(func(se *xml.StartElement) {
		if !is(se, "manufacturedProduct") {
			return
		}
		p.children(func(se *xml.StartElement) {
			if !is(se, "manufacturedMaterial") {
				return
			}
			p.children(func(se *xml.StartElement) {
				switch se.Name.Space {
				case nsHL7:
					switch se.Name.Local {
					case "code":
						ml.codes = p.codeTree(se, ml.codes, &ml.origText)
					case "name":
						if attr(se, "nullFlavor") == "" {
							ml.name = p.text()
						}
					}
				case nsPharm:
					p.pharm(ml, se)
				}
			})
		})
	})
}

// codeTree reads a CD with its translations (nested at any depth) and
// appends every code found; an originalText reference fills text when empty.
func (p *parser) codeTree(se *xml.StartElement, codes []app.Code, text *string) []app.Code {
	if c := code(se); c.Code != "" {
		codes = append(codes, c)
	}
	p.children(func(se *xml.StartElement) {
		switch hl7(se) {
		case "translation":
			codes = p.codeTree(se, codes, text)
		case "originalText":
			if t := p.refText(); t != "" && *text == "" {
				*text = t
			}
		}
	})
	return codes
}

// pharm reads the IHE PHARM extensions of a manufacturedMaterial: form,
// generic class (ATC) and ingredients.
func (p *parser) pharm(ml *medLine, se *xml.StartElement) {
	m := &ml.m
	switch se.Name.Local {
	case "formCode":
		if c := code(se); c.Display != "" {
			m.Form = c.Display
		} else {
			m.Form = c.Code
		}
	case "asSpecializedKind":
		p.children(func(se *xml.StartElement) {
			if se.Name.Space != nsPharm || se.Name.Local != "generalizedMedicineClass" {
				return
			}
			p.children(func(se *xml.StartElement) {
				if se.Name.Space == nsPharm && se.Name.Local == "code" {
					ml.codes = append(ml.codes, code(se))
				}
			})
		})
	case "ingredient":
		p.children(func(se *xml.StartElement) {
			if se.Name.Space != nsPharm || se.Name.Local != "ingredient" {
				return
			}
			var name, display string
			p.children(func(se *xml.StartElement) {
				if se.Name.Space != nsPharm {
					return
				}
				switch se.Name.Local {
				case "name":
					name = usable(p.text())
				case "code":
					if c := code(se); c.Code != "" {
						ml.codes = append(ml.codes, c)
						display = usable(c.Display)
					}
				}
			})
			// the coded substance wins over a free-text name that contradicts it
			if name != "" && display != "" && !agree(name, display) {
				ml.ingrConf = name
				name = display
			}
			if name == "" {
				name = display
			}
			m.Substance = joinSubst(m.Substance, name)
		})
	}
}

func joinSubst(a, b string) string {
	switch {
	case b == "":
		return a
	case a == "":
		return b
	}
	return a + " + " + b
}

// medRelationship reads an entryRelationship of a substanceAdministration:
// the indication (RSON), the dispensings (REFR supply), the dose steps
// (COMP substanceAdministration). Any other statement under it is read as
// an entry of its own, one level deeper.
func (p *parser) medRelationship(ml *medLine, rel *xml.StartElement, sub bool, c stmtCtx) {
	m := &ml.m
	typeCode := attr(rel, "typeCode")
	relNeg := negationOf(rel)
	p.children(func(se *xml.StartElement) {
		switch {
		case typeCode == "RSON" && (is(se, "act") || is(se, "observation")):
			ind := p.indication()
			if ind != "" && m.Indication == "" && !relNeg {
				m.Indication = ind
			}
		case typeCode == "REFR" && is(se, "supply") && !sub:
			if mood := attr(se, "moodCode"); mood == "EVN" || mood == "" {
				s := p.supply()
				// a dispensing recorded as not done marks its line "not
				// dispensed": never dropped, leaving the line as given
				s.negated = relNeg || negationOf(se)
				ml.supplies = append(ml.supplies, s)
			}
		case typeCode == "COMP" && is(se, "substanceAdministration") && !sub:
			var step medLine
			p.sbadmBody(&step, true, c)
			p.mergeStep(m, &step.m)
		case typeCode == "SUBJ" && attr(rel, "inversionInd") == "true" && is(se, "act"):
			// a comment or an instruction: its text is in the narrative
		default:
			cc := c
			cc.depth++
			cc.negated = c.negated || relNeg
			p.statement(se, cc)
		}
	})
}

// mergeStep completes m with what a dose step gives.
func (p *parser) mergeStep(m, step *app.Medication) {
	if m.Dose == "" {
		m.Dose = step.Dose
	}
	if m.Frequency == "" {
		m.Frequency = step.Frequency
	}
	if m.Route.IsZero() {
		m.Route = step.Route
	}
	if m.Start.IsZero() {
		m.Start, m.StartPrecision = step.Start, step.StartPrecision
	}
	if m.End.IsZero() {
		m.End, m.EndPrecision = step.End, step.EndPrecision
	}
}

// indication reads the act or observation of an RSON relationship.
func (p *parser) indication() string {
	var out, ref string
	p.children(func(se *xml.StartElement) {
		switch hl7(se) {
		case "code", "value":
			c := code(se)
			p.children(func(se *xml.StartElement) {
				if is(se, "originalText") {
					ref = p.refText()
				}
			})
			if out == "" {
				out = c.Display
			}
		case "text":
			if ref == "" {
				ref = p.refText()
			}
		}
	})
	if out == "" {
		out = ref
	}
	return out
}

// refText reads an element holding a reference (text, originalText) or
// text, and returns the referenced narrative text, or the text itself.
func (p *parser) refText() string {
	var ref string
	var own []byte
	base := p.depth - 1
	for p.depth > base {
		switch t := p.next().(type) {
		case nil:
			return ""
		case xml.CharData:
			own = append(own, t...)
		case xml.StartElement:
			if is(&t, "reference") {
				if v := strings.TrimPrefix(strings.TrimSpace(attr(&t, "value")), "#"); v != "" {
					ref = p.refs[v] // a missing ID gives "": the element's own text, if any
				}
			}
		}
	}
	if ref != "" {
		return ref
	}
	return collapse(own)
}
