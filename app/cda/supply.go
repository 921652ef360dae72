package cda

import (
	"encoding/xml"
	"strings"
	"time"

	"github.com/carnetdesk/carnet/app"
)

// pdate is a date read with the precision the document gave it.
type pdate struct {
	t time.Time
	p app.DatePrecision
}

// tsp reads a TS like ts, with its precision.
func (p *parser) tsp(se *xml.StartElement, detail string) pdate {
	t := p.ts(se, detail)
	if t.IsZero() {
		return pdate{}
	}
	return pdate{t, app.PrecisionOf(strings.TrimSpace(attr(se, "value")))}
}

// ivlp reads an IVL_TS (or a TS) like ivl, with the precisions.
func (p *parser) ivlp(se *xml.StartElement, detail string) (lo, hi pdate) {
	if attr(se, "value") != "" {
		lo = p.tsp(se, detail)
	}
	p.children(func(se *xml.StartElement) {
		switch hl7(se) {
		case "low":
			lo = p.tsp(se, detail+"/low")
		case "high":
			hi = p.tsp(se, detail+"/high")
		case "center":
			if lo.t.IsZero() {
				lo = p.tsp(se, detail+"/center")
			}
		}
	})
	return lo, hi
}

// supplyEntry reads a supply entry: a dispensation (FR-Traitement-dispense,
// moodCode EVN) or a supply request (INT, RQO), whose product is a
// medication line with its quantity, date and dispenser, or a device supply
// (participant playingDevice), which is a Device.
func (p *parser) supplyEntry(se *xml.StartElement, c stmtCtx) {
	var ml medLine
	m := &ml.m
	m.Negated = c.negated
	mood := strings.TrimSpace(attr(se, "moodCode"))
	switch mood {
	case "EVN", "":
		m.Kind = app.MedicationDispensed
	case "INT":
		m.Kind = app.MedicationPrescribed
	default:
		m.Kind = app.MedicationPlanned
	}
	var when pdate
	var devs []app.Device
	hasProduct, performed := false, false
	p.children(func(se *xml.StartElement) {
		switch hl7(se) {
		case "text":
			if t := usable(p.refText()); t != "" && m.Text == "" {
				m.Text = t
			}
		case "statusCode":
			m.Status = strings.TrimSpace(attr(se, "code"))
		case "effectiveTime":
			lo, hi := p.ivlp(se, "supply/effectiveTime")
			if when.t.IsZero() {
				when = lo
				if when.t.IsZero() {
					when = hi
				}
			}
		case "quantity":
			m.Quantity = p.quantity(se)
		case "product":
			hasProduct = true
			p.consumable(&ml)
		case "performer":
			a, at := p.authorp("supply/performer")
			if !at.t.IsZero() && when.t.IsZero() {
				when = at // at the precision written: "20190711" is a day, not midnight
			}
			m.Dispenser = dispenser(a)
			performed = true
		case "author":
			a := p.author("supply/author")
			if m.Kind != app.MedicationDispensed {
				m.Prescriber = prescriber(a)
			}
		case "participant":
			if d, ok := p.deviceParticipant(); ok {
				devs = append(devs, d)
			}
		case "entryRelationship":
			p.supplyRelationship(&ml, se, c)
		}
	})
	if len(devs) > 0 && !hasProduct {
		for _, d := range devs {
			d.Negated = d.Negated || c.negated
			// a supply a dispenser performed is a dispensing (the
			// reimbursement history), not an implantation
			d.Status = deviceStatus(mood, performed && (mood == "EVN" || mood == ""), d.Type)
			if d.Date.IsZero() {
				d.Date, d.Precision = when.t, when.p
			}
			p.addDevice(d)
		}
		return
	}
	if !hasProduct && m.Text == "" {
		return // neither a product nor a device: nothing to list
	}
	if m.Kind == app.MedicationDispensed {
		m.Dispensed, m.DispensedPrecision = when.t, when.p
		if a := c.entry.author; a != nil {
			if m.Dispensed.IsZero() && !c.entry.authorTime.t.IsZero() {
				m.Dispensed, m.DispensedPrecision = c.entry.authorTime.t, c.entry.authorTime.p
			}
			if m.Dispenser == "" {
				m.Dispenser = dispenser(*a)
			}
		}
	} else if m.Start.IsZero() {
		m.Start, m.StartPrecision = when.t, when.p
	}
	p.finishMed(&ml)
	p.doc.Medications = append(p.doc.Medications, *m)
}

// supplyRelationship reads an entryRelationship of a supply entry: the
// prescription it fills (REFR substanceAdministration: its prescriber and
// dates), its dosage (COMP substanceAdministration), instructions (SUBJ
// acts, in the narrative); any other statement is read as an entry.
func (p *parser) supplyRelationship(ml *medLine, rel *xml.StartElement, c stmtCtx) {
	typeCode := attr(rel, "typeCode")
	p.children(func(se *xml.StartElement) {
		switch {
		case is(se, "substanceAdministration") && (typeCode == "REFR" || typeCode == "COMP"):
			var step medLine
			presc := ""
			p.children(func(ch *xml.StartElement) {
				switch hl7(ch) {
				case "author":
					presc = prescriber(p.author("supply/entryRelationship/author"))
				case "effectiveTime":
					p.medTime(&step.m, ch)
				case "routeCode":
					if step.m.Route.IsZero() {
						step.m.Route = code(ch)
					}
				case "doseQuantity":
					if step.m.Dose == "" {
						step.m.Dose = p.quantity(ch)
					}
				case "entryRelationship":
					// dose steps of the dosage
					p.children(func(g *xml.StartElement) {
						if is(g, "substanceAdministration") {
							var sub medLine
							p.sbadmBody(&sub, true, c)
							p.mergeStep(&step.m, &sub.m)
						}
					})
				}
			})
			if ml.m.Prescriber == "" {
				ml.m.Prescriber = presc
			}
			p.mergeStep(&ml.m, &step.m)
		case typeCode == "SUBJ" || typeCode == "COMP" && is(se, "act"):
			// instructions, notes, substitution: in the narrative
		default:
			cc := c
			cc.depth++
			cc.negated = c.negated || negationOf(rel)
			p.statement(se, cc)
		}
	})
}

// authorp reads an author or performer like author, and its time with the
// precision the document gave it.
func (p *parser) authorp(detail string) (Author, pdate) {
	var a Author
	var at pdate
	p.children(func(se *xml.StartElement) {
		switch hl7(se) {
		case "time":
			at = p.tsp(se, detail+"/time")
			a.Time = at.t
		case "assignedAuthor", "assignedEntity":
			p.assigned(&a)
		}
	})
	return a, at
}

// dispenser names who dispensed: the organisation (the pharmacy), else the
// person.
func dispenser(a Author) string {
	if n := strings.TrimSpace(a.Organisation.Name); n != "" {
		return n
	}
	return a.Name()
}
