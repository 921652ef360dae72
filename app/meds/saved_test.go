package meds_test

import (
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/meds"
	"github.com/carnetdesk/carnet/app/terms"
)

// TestSavedRoundTrip: a table decided, saved and rebuilt shows the same
// decisions; an accepted proposal whose date moved (another surgery day)
// comes back undecided; an override keeps its action, date and reason
// whatever the inputs.
func TestSavedRoundTrip(t *testing.T) {
	list := meds.Consolidate(apixabanLines(), nil, now)
	in := terms.DecisionInput{Surgery: date(2026, 12, 10), Bleeding: terms.BleedingHigh, CrCl: 80}
	rows := meds.Rows(list, in)
	if len(rows) == 0 || !rows[0].HasRule {
		t.Fatalf("rows = %+v", rows)
	}
	rows[0].Accept()
	rows[0].Discrepancy, rows[0].Comment = meds.DiscrepancyIntentional, "arrêt voulu"
	rec := app.PreopRecord{Inputs: meds.SavedInputs(in, "saisie")}
	for i := range rows {
		rec.Decisions = append(rec.Decisions, rows[i].Saved())
	}
	if back := meds.InputsOf(rec.Inputs); back != in {
		t.Errorf("inputs round trip = %+v, want %+v", back, in)
	}
	again := meds.Rows(list, meds.InputsOf(rec.Inputs))
	if stale := meds.Restore(again, rec); stale != 0 {
		t.Errorf("stale = %d", stale)
	}
	if !again[0].Decided || again[0].Decision.Action != terms.ActionStop || !again[0].Decision.LastDose.Equal(date(2026, 12, 7)) ||
		again[0].Discrepancy != meds.DiscrepancyIntentional || again[0].Comment != "arrêt voulu" {
		t.Errorf("restored row = %+v", again[0])
	}
	for i := 1; i < len(again); i++ {
		if again[i].Decided {
			t.Errorf("row %d decided without a decision", i)
		}
	}
	// the surgery moved: the accepted date is no longer the proposal
	moved := meds.Rows(list, terms.DecisionInput{Surgery: date(2026, 12, 15), Bleeding: terms.BleedingHigh, CrCl: 80})
	if stale := meds.Restore(moved, rec); stale != 1 || moved[0].Decided {
		t.Errorf("moved surgery: stale %d, decided %v", stale, moved[0].Decided)
	}
	// an override stays as decided
	if err := rows[0].Override(terms.ActionBridge, date(2026, 12, 5), "valve mécanique"); err != nil {
		t.Fatal(err)
	}
	rec.Decisions[0] = rows[0].Saved()
	moved = meds.Rows(list, terms.DecisionInput{Surgery: date(2026, 12, 15)})
	meds.Restore(moved, rec)
	d := moved[0].Decision
	if !moved[0].Decided || d.Action != terms.ActionBridge || !d.Override || d.Reason != "valve mécanique" || !d.LastDose.Equal(date(2026, 12, 5)) {
		t.Errorf("restored override = %+v", moved[0])
	}
	// the sheet says what is undecided
	s := meds.Sheet(app.Patient{}, app.MedicationReading{}, list, moved, terms.DecisionInput{}, "test")
	undecided := 0
	for _, r := range s.Rows {
		if r.Undecided {
			undecided++
			if r.Decision[:10] != "NON DÉCIDÉ"[:10] {
				t.Errorf("undecided row shown as %q", r.Decision)
			}
		}
	}
	if undecided != len(moved)-1 {
		t.Errorf("%d undecided rows on the sheet, want %d", undecided, len(moved)-1)
	}
	_ = time.Now
}
