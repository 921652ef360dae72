package ui

import (
	"context"
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"

	"github.com/carnetdesk/carnet/app/meds"
	"github.com/carnetdesk/carnet/app/terms"
)

// TestDecisionUndo: "Annuler la décision" on a decided row takes the
// decision back: the row shows its proposal again ("proposé"), the vault
// forgets it (a new view of the record proposes again); a row whose
// reconciliation was noted keeps it in the vault, without the decision.
// An undecided row offers no such action.
func TestDecisionUndo(t *testing.T) {
	f, tab := openPreop(t, 5, 8)
	v, d := tab.v, tab.v.table
	f.signIn(testDoctor, nil)
	test.Type(d.surgery, testNow.AddDate(0, 0, 10).Local().Format("02/01/2006"))
	d.bleeding.SetSelectedIndex(2)
	test.Type(d.crcl, "80")
	find := func(d *decisionTable, code string) int {
		for i, r := range d.rows {
			if strings.Contains(r.Entry.Name, code) {
				return i
			}
		}
		t.Fatalf("no %s row", code)
		return -1
	}
	apix, sglt2 := find(d, "B01AF02"), find(d, "A10BK01")
	d.list.Select(apix)
	if buttonWith(d.detail, "Annuler la décision") != nil {
		t.Fatal("an undecided row offers to take its decision back")
	}
	test.Tap(buttonWith(d.detail, "Accepter"))
	d.list.Select(sglt2)
	test.Tap(buttonWith(d.detail, "Accepter"))
	d.rows[sglt2].Discrepancy, d.rows[sglt2].Comment = meds.DiscrepancyIntentional, "arrêt décidé par le diabétologue"
	d.saveRow(sglt2)
	f.wait()
	ctx := context.Background()
	if saved, err := f.svc.PreopDecisions(ctx, v.rec.Patient.ID); err != nil || len(saved.Decisions) != 2 {
		t.Fatalf("saved before undo %+v, %v", saved, err)
	}
	// Take both back, from the row's disclosure.
	for _, i := range []int{apix, sglt2} {
		d.list.Select(i)
		undo := buttonWith(d.detail, "Annuler la décision")
		if undo == nil {
			t.Fatalf("decided row %q offers no undo", d.rows[i].Entry.Name)
		}
		test.Tap(undo)
		if d.rows[i].Decided || !strings.HasPrefix(rowTexts(&d.rows[i])[2], "proposé : ") {
			t.Errorf("row %q after undo: decided %v, shows %q", d.rows[i].Entry.Name, d.rows[i].Decided, rowTexts(&d.rows[i])[2])
		}
		if buttonWith(d.detail, "Annuler la décision") != nil {
			t.Error("the undo stays offered once the decision is taken back")
		}
	}
	f.wait()
	saved, err := f.svc.PreopDecisions(ctx, v.rec.Patient.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := saved.Decision(d.rows[apix].Entry.ID); ok {
		t.Error("the vault still holds the decision taken back")
	}
	if x, ok := saved.Decision(d.rows[sglt2].Entry.ID); !ok || x.Action != "" || x.Discrepancy != "intentional" || x.Comment != "arrêt décidé par le diabétologue" {
		t.Errorf("reconciled line after undo %+v (%v), want the reconciliation without a decision", x, ok)
	}
	// A new view of the record: both rows proposed again.
	rec, acc := v.rec, v.acc
	v.dispose()
	v2 := newMedsView(f.u, rec, acc)
	f.u.Window().SetContent(v2.buildUI())
	v2.start()
	f.wait()
	for _, code := range []string{"B01AF02", "A10BK01"} {
		r := v2.table.rows[find(v2.table, code)]
		if r.Decided {
			t.Errorf("%s decided again after reopening: %+v", code, r.Decision)
		}
		if r.Proposal.Action != terms.ActionStop {
			t.Errorf("%s proposal %+v", code, r.Proposal)
		}
	}
	if r := v2.table.rows[find(v2.table, "A10BK01")]; r.Comment != "arrêt décidé par le diabétologue" {
		t.Errorf("reconciliation lost: %+v", r)
	}
}
