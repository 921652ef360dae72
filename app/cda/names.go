package cda

import (
	"strings"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/terms"
)

// absentCodes are the codes that say there is nothing to list: SNOMED CT
// 182849000 (no drug therapy prescribed), 716186003 (no known allergy),
// 409137002 (no known drug allergy), and the IPS absent/unknown codes.
var absentCodes = map[string]bool{
	"182849000": true, "716186003": true, "409137002": true,
	"no-medication-info": true, "no-known-medications": true, "no-allergy-info": true, "no-known-allergies": true,
	"no-known-medication-allergies": true,
}

// absence reports whether c says "nothing known" rather than naming
// something.
func absence(c app.Code) bool { return absentCodes[strings.TrimSpace(c.Code)] }

// finishMed classifies the codes of a line and names it: the coded
// product's display → the ATC label → the product's name as written
// (manufacturedMaterial/name) → the code's original text → the entry's
// narrative text; never a boolean word nor an empty string.
//
// The name as written is kept when it agrees with the code (a brand name
// beside its product code, most often the same words). When it names
// another substance than the code — it shares no word with the coded
// product's display and is not known as the same substance, or, without a
// product display, the substance table knows it as another substance than
// the level-5 ATC code says — the coded name is shown and the written one
// is the line's Conflict. A category written as the name ("PRODUIT
// HOMEOPATHIQUE" in the CNAM history) beside a specific coded product
// ("NUX VOMICA COMP BOIR GRL") is such a case: the coded product is the
// more precise, and the written text stays visible as the flagged one.
func (p *parser) finishMed(ml *medLine) {
	m := &ml.m
	classify(m, ml.codes)
	name := usable(ml.name)
	coded := usable(strings.Join(strings.Fields(m.Product.Display), " "))
	atcLabel := ""
	if atc5(m.ATC.Code) {
		atcLabel = usable(strings.Join(strings.Fields(m.ATC.Display), " "))
	}
	conflict := ""
	switch {
	case name != "" && coded != "" && !agree(name, coded) && !sameSubstance(name, coded):
		conflict, name = name, coded
	case name != "" && coded == "" && atcLabel != "" && otherSubstance(name, m.ATC.Code):
		conflict, name = name, atcLabel
	}
	m.Conflict = joinConflict(conflict, ml.ingrConf)
	for _, n := range []string{name, coded, atcLabel, usable(m.ATC.Display), ml.origText, m.Text} {
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

// atc5 reports whether s has the shape of an ATC level-5 code (letter, 2
// digits, 2 letters, 2 digits: "B01AC04"), whose label names a substance
// (the labels of the upper levels name classes).
func atc5(s string) bool {
	s = strings.TrimSpace(s)
	if len(s) != 7 {
		return false
	}
	for i := range len(s) {
		c := s[i]
		letter := c >= 'A' && c <= 'Z'
		digit := c >= '0' && c <= '9'
		if (i == 0 || i == 3 || i == 4) != letter || (i != 0 && i != 3 && i != 4) != digit {
			return false
		}
	}
	return true
}

// sameSubstance reports whether the substance table (brands and DCI) knows
// a and b as the same substance: "PLAVIX 75 mg" and "CLOPIDOGREL BIOGARAN
// 75 mg" name the same drug in other words.
func sameSubstance(a, b string) bool {
	x, okA := terms.SubstanceATC(a)
	y, okB := terms.SubstanceATC(b)
	return okA && okB && x == y
}

// otherSubstance reports whether the substance table knows name as
// another substance than the level-5 ATC code atc. A name it does not know
// (most brand names) is not taken as a contradiction.
func otherSubstance(name, atc string) bool {
	x, ok := terms.SubstanceATC(name)
	return ok && x != strings.TrimSpace(atc)
}

// joinConflict joins the texts that contradict a line's code.
func joinConflict(a, b string) string {
	switch {
	case a == "" || a == b:
		return b
	case b == "":
		return a
	}
	return a + " ; " + b
}
