package cda

import (
	"math"
	"strconv"
	"strings"
	"unicode"

	"github.com/carnetdesk/carnet/app"
)

// Numeric results (laboratory results, vital signs): an observation whose
// value is a PQ (a physical quantity) is kept as an app.Observation with
// its code, value, unit and date, unless negated or not an event. The
// value must be a finite decimal of sane magnitude; the unit a short
// printable string; a document holds at most maxObservations of them
// (more are flagged and left out).

// maxObservations bounds the numeric results kept from one document.
const maxObservations = 2000

// maxUnit bounds a unit's length (runes).
const maxUnit = 40

// quantity parses a PQ value: a finite decimal (a comma is not HL7's
// decimal separator but is read as one), |v| < 1e9.
func quantity(s string) (float64, bool) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 32 {
		return 0, false
	}
	v, err := strconv.ParseFloat(strings.Replace(s, ",", ".", 1), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) >= 1e9 {
		return 0, false
	}
	return v, true
}

// unit reads a PQ unit: trimmed, printable, at most maxUnit runes ("" when
// not).
func unit(s string) string {
	s = strings.TrimSpace(s)
	if len([]rune(s)) > maxUnit || strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		return ""
	}
	return s
}

// addObservation keeps a numeric result, up to maxObservations.
func (p *parser) addObservation(o app.Observation) {
	if len(p.doc.Observations) >= maxObservations {
		p.flag(FlagUnsupported, "more numeric observations than the limit")
		return
	}
	o.Text = usable(o.Text)
	p.doc.Observations = append(p.doc.Observations, o)
}
