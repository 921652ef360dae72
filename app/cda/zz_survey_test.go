package cda

import (
	"os"
	"testing"
)

func TestZZSurvey(t *testing.T) {
	ents, _ := os.ReadDir("../../../shared/samples/cda")
	for _, e := range ents {
		if len(e.Name()) < 4 || e.Name()[len(e.Name())-4:] != ".xml" {
			continue
		}
		d := parseSample(t, e.Name())
		for _, m := range d.Medications {
			t.Logf("%s | name=%q prod=%q atc=%s %q subst=%q conf=%q", e.Name(), m.Name, m.Product.Display, m.ATC.Code, m.ATC.Display, m.Substance, m.Conflict)
		}
	}
}
