package meds

import (
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
)

func TestConsolidateNegatedAndNames(t *testing.T) {
	now := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	src := app.MedicationSource{Document: "d1", Date: now.AddDate(0, -1, 0)}
	atc := app.Code{Code: "J07BC01", System: app.SystemATC, Display: "hépatite B, antigène purifié"}
	lines := []app.Medication{
		// the same vaccine, once given, once recorded as not given
		{Kind: app.MedicationAdminister, Name: "Engerix B", ATC: atc, Source: src},
		{Kind: app.MedicationAdminister, Name: "Vaccin contre l'hépatite B", ATC: atc, Negated: true, Source: src},
		{Kind: app.MedicationAdminister, Name: "BCG", Negated: true, Source: src},
		// names that are no names
		{Kind: app.MedicationTreatment, Name: "Oui", Substance: "amlodipine", Source: src},
		{Kind: app.MedicationTreatment, Name: "", ATC: app.Code{Code: "C10AA07", System: app.SystemATC}, Source: src},
		{Kind: app.MedicationTreatment, Name: "Non", Source: src},
	}
	list := Consolidate(lines, nil, now)
	if len(list.NotGiven) != 2 || list.NotGiven[0].Name != "BCG" || list.NotGiven[1].Name != "Vaccin contre l'hépatite B" {
		t.Errorf("not given = %+v", list.NotGiven)
	}
	names := map[string]bool{}
	for _, g := range list.Groups {
		for _, e := range g.Entries {
			names[e.Name] = true
			for _, l := range e.Lines {
				if l.Negated {
					t.Errorf("entry %q merged a negated line", e.Name)
				}
			}
			if e.Name == "Engerix B" && len(e.Lines) != 1 {
				t.Errorf("hepatitis B entry has %d lines, want only the given one", len(e.Lines))
			}
		}
	}
	for _, bad := range []string{"", "Oui", "Non"} {
		if names[bad] {
			t.Errorf("an entry named %q: %v", bad, names)
		}
	}
	if !names["amlodipine"] || !names["ATC C10AA07"] || !names["?"] || !names["Engerix B"] {
		t.Errorf("entries = %v", names)
	}
}

// TestConsolidatePlanned: a planned vaccination is no activity and its
// window's end is no stop.
func TestConsolidatePlanned(t *testing.T) {
	now := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	src := app.MedicationSource{Document: "d1", Date: now.AddDate(0, -1, 0)}
	atc := app.Code{Code: "J07AN01", System: app.SystemATC}
	list := Consolidate([]app.Medication{{Kind: app.MedicationPlanned, Name: "BCG", ATC: atc, Source: src,
		Start: now.AddDate(0, 1, 0), End: now.AddDate(0, 2, 0)}}, nil, now)
	if list.Entries != 1 {
		t.Fatalf("%d entries", list.Entries)
	}
	e := list.Groups[0].Entries[0]
	if !e.Stopped.IsZero() || e.Basis == BasisStart {
		t.Errorf("planned line: stopped %v, basis %s", e.Stopped, e.Basis)
	}
}
