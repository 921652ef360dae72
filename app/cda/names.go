package cda

import (
	"strings"

	"github.com/carnetdesk/carnet/app"
)

// absentCodes are the codes that say there is nothing to list: SNOMED CT
// 182849000 (no drug therapy prescribed), 716186003 (no known allergy),
// 409137002 (no known drug allergy), and the IPS absent/unknown codes.
var absentCodes = map[string]bool{
	"182849000": true, "716186003": true, "409137002": true,
	"no-medication-info": true, "no-known-medications": true, "no-allergy-info": true, "no-known-allergies": true,
	"no-known-medication-allergies": true, "no-problem-info": true, "no-known-problems": true,
	"no-immunization-info": true, "no-known-immunizations": true,
}

// absence reports whether c says "nothing known" rather than naming
// something.
func absence(c app.Code) bool { return absentCodes[strings.TrimSpace(c.Code)] }

// finishMed classifies the codes of a line and names it: the product's
// name as written (manufacturedMaterial/name, which may be a category such
// as "PRODUIT HOMEOPATHIQUE" in the CNAM history) → the coded product's
// display → the ATC label → the code's original text → the entry's
// narrative text; never a boolean word nor an empty string.
func (p *parser) finishMed(ml *medLine) {
	m := &ml.m
	classify(m, ml.codes)
	name := usable(ml.name)
	m.Conflict = ml.ingrConf
	for _, n := range []string{name, m.Product.Display, m.ATC.Display, ml.origText, m.Text} {
		if n = usable(n); n != "" {
			m.Name = n
			break
		}
	}
	if m.Name == "" {
		switch {
		case m.Substance != "":
			m.Name = m.Substance
		case m.ATC.Code != "":
			m.Name = "ATC " + m.ATC.Code
		case m.Product.Code != "":
			m.Name = m.Product.Code
		case usable(m.Form) != "":
			m.Name = m.Form // a preparation named only by its form
		default:
			m.Name = "?"
			p.flag(FlagMissing, "substanceAdministration/consumable name")
		}
	}
	if m.Text == "" {
		m.Text = usable(ml.origText)
	}
}

// usable returns s trimmed, or "" when it cannot name anything: empty, a
// boolean word ("Oui", "Non", "true" …) or a placeholder ("-", "(texte
// libre)").
func usable(s string) string {
	s = strings.TrimSpace(s)
	// "Oui : (texte libre)", "Non : détail": the answer is not the name
	if w, rest, ok := strings.Cut(s, ":"); ok {
		switch strings.ToLower(strings.TrimSpace(w)) {
		case "oui", "non", "yes", "no":
			s = strings.TrimSpace(rest)
		}
	}
	switch strings.ToLower(strings.Trim(s, " .:")) {
	case "", "oui", "non", "yes", "no", "true", "false", "vrai", "faux", "-", "--", "?", "na", "nc", "(texte libre)", "texte libre", "inconnu":
		return ""
	}
	return s
}

// agree reports whether two names of a substance or product may name the
// same thing: one of the words (of 4 letters or more, accents and case
// folded) of one starts a word of the other. Names without such words agree
// (nothing to compare).
func agree(a, b string) bool {
	wa, wb := nameWords(a), nameWords(b)
	if len(wa) == 0 || len(wb) == 0 {
		return true
	}
	for _, x := range wa {
		for _, y := range wb {
			if strings.HasPrefix(x, y) || strings.HasPrefix(y, x) {
				return true
			}
		}
	}
	return false
}

// nameWords returns the folded words of 4 letters or more of s.
func nameWords(s string) []string {
	var out []string
	for _, w := range strings.FieldsFunc(app.Fold(s), func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9')
	}) {
		if len(w) >= 4 && !digits(w) {
			out = append(out, w)
		}
	}
	return out
}
