package cda

import (
	"encoding/xml"
	"strings"

	"github.com/carnetdesk/carnet/app"
)

// app.SystemCNAMATC5 is the Assurance Maladie's ATC level 5 code system, used by
// the CNAM-HR vaccinations ("valence vaccinale").

// systemCNAMComponent is the Assurance Maladie's active component code
// system.
const systemCNAMComponent = "1.2.250.1.215.200.1.3.1"

// productRank orders the product code systems: the first found wins.
var productRank = map[string]int{
	app.SystemCIS: 1, app.SystemCIP13: 2, app.SystemUCD: 3, app.SystemCNAMCIP: 4, app.SystemCNAMUCD: 5,
}

// classify sorts the codes of a product into Product (CIS, CIP13, UCD or
// their CNAM forms), ATC (the WHO ATC, else the CNAM group) and the others;
// CNAM active components give the substance when none was named.
func classify(m *app.Medication, codes []app.Code) {
	var comps []string
	pi, ai := -1, -1
	for i, c := range codes {
		if r, ok := productRank[c.System]; ok && (pi < 0 || r < productRank[codes[pi].System]) {
			pi = i
		}
		switch c.System {
		case app.SystemATC, app.SystemCNAMATC3, app.SystemCNAMATC5:
			if ai < 0 || atcBetter(c, codes[ai]) {
				ai = i
			}
		case systemCNAMComponent:
			if c.Display != "" {
				comps = append(comps, c.Display)
			}
		}
	}
	for i, c := range codes {
		switch {
		case i == pi:
			m.Product = c
		case i == ai:
			m.ATC = c
		case (pi >= 0 && sameCode(c, codes[pi])) || (ai >= 0 && sameCode(c, codes[ai])):
			// the same code given twice (translation and pharm:code)
		default:
			m.Codes = append(m.Codes, c)
		}
	}
	if m.Substance == "" && len(comps) > 0 {
		m.Substance = strings.Join(comps, " + ")
	}
}

// atcBetter reports whether a is a better ATC code than b: the WHO system
// first, then the deeper level.
func atcBetter(a, b app.Code) bool {
	if (a.System == app.SystemATC) != (b.System == app.SystemATC) {
		return a.System == app.SystemATC
	}
	return len(a.Code) > len(b.Code)
}

// supply reads a dispensing (supply moodCode EVN): quantity, dispensing date
// (performer/time), prescriber (author).
func (p *parser) supply() supply {
	var s supply
	p.children(func(se *xml.StartElement) {
		switch hl7(se) {
		case "quantity":
			s.quantity = p.quantity(se)
		case "effectiveTime":
			if s.date.IsZero() {
				lo, hi := p.ivlp(se, "supply/effectiveTime")
				if lo.t.IsZero() {
					lo = hi
				}
				s.date, s.prec = lo.t, lo.p
			}
		case "performer":
			p.children(func(se *xml.StartElement) {
				switch hl7(se) {
				case "time":
					if t := p.tsp(se, "supply/performer/time"); !t.t.IsZero() {
						s.date, s.prec = t.t, t.p
					}
				case "assignedEntity":
					var a Author
					p.assigned(&a)
					s.dispenser = dispenser(a)
				}
			})
		case "author":
			a := p.author("supply/author")
			s.prescriber = prescriber(a)
		}
	})
	return s
}

// prescriber formats a prescriber: "Dr Antoine DUPONT (RPPS 10100997245)"
// when the national id is known.
func prescriber(a Author) string {
	name := a.Name()
	if a.Person == nil || a.Person.ID.Root != "1.2.250.1.71.4.2.1" || a.Person.ID.Extension == "" {
		return name
	}
	id := a.Person.ID.Extension
	label := "id"
	switch {
	case len(id) == 11:
		label = "RPPS"
	case len(id) == 12 && id[0] == '8':
		label, id = "RPPS", id[1:]
	}
	if name == "" {
		return label + " " + id
	}
	return name + " (" + label + " " + id + ")"
}

// sameCode reports whether a and b are the same concept.
func sameCode(a, b app.Code) bool { return a.Code == b.Code && a.System == b.System }
