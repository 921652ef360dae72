package ui

import (
	"context"
	"image/color"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"

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

// foregroundTheme is a theme whose text colour differs from the others'.
type foregroundTheme struct{ fyne.Theme }

// Color implements fyne.Theme.
func (t foregroundTheme) Color(n fyne.ThemeColorName, v fyne.ThemeVariant) color.Color {
	if n == theme.ColorNameForeground {
		return color.NRGBA{R: 0x20, G: 0x40, B: 0x90, A: 0xff}
	}
	return t.Theme.Color(n, v)
}

// TestDecisionTableTheme: the table's cells are plain texts; a change of
// theme gives the header and the rows the new theme's colours.
func TestDecisionTableTheme(t *testing.T) {
	f, tab := openPreop(t, 5, 8)
	d := tab.v.table
	test.ApplyTheme(t, foregroundTheme{test.NewTheme()})
	f.wait()
	relayout(f.u.Window().Content())
	want := theme.Color(theme.ColorNameForeground)
	if c := d.header.row.Objects[0].(*canvas.Text).Color; !sameColor(c, want) {
		t.Errorf("header colour %v after the theme change, want %v", c, want)
	}
	var walk func(o fyne.CanvasObject)
	checked := 0
	walk = func(o fyne.CanvasObject) {
		if c, ok := o.(*fyne.Container); ok {
			if _, row := c.Layout.(*fitCells); row && c != d.header.row {
				if txt := c.Objects[3].(*canvas.Text); txt.Text != "" { // the last-dispensing column: never coloured
					checked++
					if !sameColor(txt.Color, want) {
						t.Errorf("row text %q colour %v, want %v", txt.Text, txt.Color, want)
					}
				}
				return
			}
			for _, x := range c.Objects {
				walk(x)
			}
			return
		}
		if w, ok := o.(fyne.Widget); ok {
			for _, x := range test.WidgetRenderer(w).Objects() {
				walk(x)
			}
		}
	}
	walk(d.list)
	if checked == 0 {
		t.Fatal("no row cell checked")
	}
}
