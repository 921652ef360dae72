package cda

import (
	"encoding/xml"
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
)

// entryCtx is what an entry needs to know of where it is.
type entryCtx struct {
	section *Section
}

// entry reads one entry of a section.
func (p *parser) entry(ctx *entryCtx) {
	p.children(func(se *xml.StartElement) {
		switch hl7(se) {
		case "substanceAdministration":
			p.doc.Medications = append(p.doc.Medications, p.substanceAdministration(se)...)
		case "act":
			p.concern()
		case "observation":
			p.observation("")
		}
	})
}

// medLine is a medication line being read, with its dispensings.
type medLine struct {
	m          app.Medication
	supplies   []supply
	codes      []app.Code
	immuniz    bool
	procedural bool
	declared   bool // informant is the patient
}

// supply is one dispensing (CNAM-HR, dispensation) of a medication line.
type supply struct {
	date       time.Time
	quantity   string
	prescriber string
}

// substanceAdministration reads a medication (FR-Traitement,
// FR-Traitement-prescrit, FR-Vaccination …) and returns its lines: one per
// dispensing when the entry records dispensings, else one.
func (p *parser) substanceAdministration(se *xml.StartElement) []app.Medication {
	var ml medLine
	ml.m.Kind = app.MedicationTreatment
	if attr(se, "moodCode") == "INT" {
		ml.m.Kind = app.MedicationPrescribed
	}
	p.sbadmBody(&ml, false)
	m := &ml.m
	classify(m, ml.codes)
	if m.Name == "" {
		m.Name = m.Product.Display
	}
	if m.Name == "" {
		m.Name = m.Text
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
		d.Dispensed = s.date
		d.Quantity = s.quantity
		d.Prescriber = s.prescriber
		d.Codes = append([]app.Code(nil), m.Codes...)
		out = append(out, d)
	}
	return out
}

// sbadmBody reads the children of a substanceAdministration into ml; sub is
// true for a subordinate one (dose steps), whose product and relations are
// the parent's.
func (p *parser) sbadmBody(ml *medLine, sub bool) {
	m := &ml.m
	p.children(func(se *xml.StartElement) {
		switch hl7(se) {
		case "templateId":
			switch root := attr(se, "root"); {
			case root == tplImmunization:
				ml.immuniz = true
			case strings.HasPrefix(root, "1.2.840.10008.9."), // DICOM procedural medication
				root == "1.2.250.1.213.1.1.3.151", root == "1.2.250.1.213.1.1.3.173": // FR-DICOM administration
				ml.procedural = true
			}
		case "text":
			if t := p.refText(); t != "" && m.Text == "" {
				m.Text = t
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
			p.medRelationship(ml, attr(se, "typeCode"), sub)
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
		lo, hi := p.ivl(se, "substanceAdministration/effectiveTime")
		if m.Start.IsZero() {
			m.Start = lo
		}
		if m.End.IsZero() {
			m.End = hi
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
		if u == "" || u == "1" {
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

// consumable reads consumable/manufacturedProduct/manufacturedMaterial.
func (p *parser) consumable(ml *medLine) {
	m := &ml.m
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
						ml.codes = p.codeTree(se, ml.codes, &m.Text)
					case "name":
						if attr(se, "nullFlavor") == "" {
							m.Name = p.text()
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
					name = p.text()
				case "code":
					if c := code(se); c.Code != "" {
						ml.codes = append(ml.codes, c)
						display = c.Display
					}
				}
			})
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
// (COMP substanceAdministration).
func (p *parser) medRelationship(ml *medLine, typeCode string, sub bool) {
	m := &ml.m
	p.children(func(se *xml.StartElement) {
		switch {
		case typeCode == "RSON" && (is(se, "act") || is(se, "observation")):
			ind := p.indication()
			if ind != "" && m.Indication == "" {
				m.Indication = ind
			}
		case typeCode == "REFR" && is(se, "supply") && !sub:
			if attr(se, "moodCode") == "EVN" || attr(se, "moodCode") == "" {
				ml.supplies = append(ml.supplies, p.supply())
			}
		case typeCode == "COMP" && is(se, "substanceAdministration") && !sub:
			var step medLine
			p.sbadmBody(&step, true)
			if m.Dose == "" {
				m.Dose = step.m.Dose
			}
			if m.Frequency == "" {
				m.Frequency = step.m.Frequency
			}
			if m.Route.IsZero() {
				m.Route = step.m.Route
			}
		}
	})
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
				v := attr(&t, "value")
				if strings.HasPrefix(v, "#") {
					ref = p.refs[v[1:]]
				}
			}
		}
	}
	if ref != "" {
		return ref
	}
	return collapse(own)
}
