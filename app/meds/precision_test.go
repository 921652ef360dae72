package meds

import (
	"strings"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
)

// TestConsolidatePartialDates: a start written "1975" and an end written
// "197603" keep their precision in the entry (stop, last activity) and in
// the divergence notes: never "01/01/1975" nor "01/03/1976".
func TestConsolidatePartialDates(t *testing.T) {
	now := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	atc := app.Code{Code: "N05AL05", System: app.SystemATC}
	synth := app.MedicationSource{Document: "d1", TypeCode: "SYNTH", Date: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)}
	letter := app.MedicationSource{Document: "d2", TypeCode: "11490-0", Date: time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)}
	list := Consolidate([]app.Medication{
		{Kind: app.MedicationTreatment, Name: "SOLIAN 100 mg", ATC: atc, Source: synth,
			Start: time.Date(1975, 1, 1, 0, 0, 0, 0, time.UTC), StartPrecision: app.PrecisionYear,
			End: time.Date(1976, 3, 1, 0, 0, 0, 0, time.UTC), EndPrecision: app.PrecisionMonth},
		{Kind: app.MedicationTreatment, Name: "SOLIAN 100 mg", ATC: atc, Source: letter,
			Start: time.Date(1975, 1, 1, 0, 0, 0, 0, time.UTC), StartPrecision: app.PrecisionYear},
	}, nil, now)
	if list.Entries != 1 {
		t.Fatalf("%d entries", list.Entries)
	}
	e := list.Groups[0].Entries[0]
	if got := app.FormatDate(e.Stopped, e.StoppedPrecision); got != "03/1976" {
		t.Errorf("stopped %q, want 03/1976", got)
	}
	if got := app.FormatDate(e.LastActivity, e.LastActivityPrecision); got != "1975" {
		t.Errorf("last activity %q, want 1975", got)
	}
	for _, n := range e.Notes {
		if strings.Contains(n, "01/01/1975") || strings.Contains(n, "01/03/1976") {
			t.Errorf("note with a made-up day: %s", n)
		}
	}
	if len(e.Notes) == 0 || !strings.Contains(strings.Join(e.Notes, "|"), "03/1976") {
		t.Errorf("notes %q: the end 03/1976 mentioned after 1975 is a divergence", e.Notes)
	}
}
