package fhir

import (
	"strings"
	"testing"
	"unicode"
)

// TestJustificationOK: a bris de glace justification needs ten letters or
// digits once trimmed; spaces, punctuation and other filler do not count.
func TestJustificationOK(t *testing.T) {
	for _, c := range []struct {
		s  string
		ok bool
	}{
		{"", false},
		{"          ", false},
		{"\t\n\u00a0\u2003          ", false},
		{"..........", false},
		{"!!!!!!!!!!!!!!!!!!!!", false},
		{"  urgence  ", false},
		{"urgence ... !!", false},
		{"urgence123", true},
		{"  Patient inconscient  ", true},
		{"Arrêt cardio", true},
		{"\u200b\u200b\u200b\u200b\u200b\u200b\u200b\u200b\u200b\u200b", false}, // zero-width spaces
	} {
		if got := JustificationOK(c.s); got != c.ok {
			t.Errorf("JustificationOK(%q) = %v, want %v", c.s, got, c.ok)
		}
	}
}

// FuzzJustificationOK: never panics, and agrees with a direct count.
func FuzzJustificationOK(f *testing.F) {
	f.Add("  urgence vitale ")
	f.Add("..........")
	f.Fuzz(func(t *testing.T, s string) {
		n := 0
		for _, r := range strings.TrimSpace(s) {
			if unicode.IsLetter(r) || unicode.IsDigit(r) {
				n++
			}
		}
		if JustificationOK(s) != (n >= MinJustification) {
			t.Fatalf("%q", s)
		}
	})
}
