package ui

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/apptest"
	"github.com/carnetdesk/carnet/app/terms"
)

// preopATC are level-5 codes of the perioperative classes and of ordinary
// drugs, cycled to make a long list.
var preopATC = []string{"B01AF02", "B01AE07", "B01AC04", "A10BK01", "A10BA02", "N05AN01", "C09AA05", "C07AB07",
	"N02BE01", "C08CA01", "C10AA05", "A02BC01", "N06AB06", "R03AC02", "H03AA01", "M04AA01", "C03CA01", "N05BA12", "A12AX", "B03BB01"}

// preopDocuments returns nDocs documents (a dispensing history and
// syntheses) holding nLines distinct medications.
func preopDocuments(nDocs, nLines int) ([]app.DocumentMeta, map[app.DocumentID]app.ClinicalDocument) {
	var docs []app.DocumentMeta
	cds := map[app.DocumentID]app.ClinicalDocument{}
	for d := 0; d < nDocs; d++ {
		meta := app.DocumentMeta{ID: app.DocumentID(fmt.Sprintf("1.2.250.1.999.7.%d", d)), TypeCode: "60591-5", Title: "Synthèse médicale",
			Date: testNow.AddDate(0, 0, -d*3), Author: "Dr Jean Lebrun", MediaType: "text/xml", Cached: true}
		var lines []app.Medication
		for l := d % 5; l < nLines; l += 5 { // each document lists a fifth of the medications
			code := preopATC[l%len(preopATC)]
			lines = append(lines, app.Medication{Kind: app.MedicationDispensed, Name: fmt.Sprintf("MEDICAMENT %02d %s 5 mg", l, code),
				ATC: app.Code{Code: code, System: app.SystemATC}, Substance: fmt.Sprintf("substance %02d", l),
				Dispensed: meta.Date, Prescriber: "Dr Paul Morel"})
		}
		docs = append(docs, meta)
		cds[meta.ID] = app.ClinicalDocument{Title: meta.Title, Medications: lines}
	}
	return docs, cds
}

// openPreop opens the record's Médicaments tab at 1366×768, the screen of
// the issue, and reads the list.
func openPreop(t *testing.T, nDocs, nLines int) (*fixture, *medsTab) {
	f := newLockedFixture(t, Options{})
	docs, cds := preopDocuments(nDocs, nLines)
	seedRecord(f, docs, cds)
	f.u.Window().Resize(fyne.NewSize(1366, 768))
	s := f.u.shell
	r := f.openRecord(s, "mart")
	var tab *medsTab
	for i, rt := range r.tabList {
		if mt, ok := rt.(*medsTab); ok {
			tab = mt
			r.tabs.SelectIndex(i)
		}
	}
	if tab == nil {
		t.Fatal("no Médicaments tab")
	}
	f.wait()
	f.u.Window().Resize(fyne.NewSize(1366, 768))
	relayout(f.u.Window().Content())
	return f, tab
}

// visibleRows returns the absolute positions of the table rows fully
// inside the list's viewport.
func visibleRows(d *decisionTable) []fyne.Position {
	drv := fyne.CurrentApp().Driver()
	top := drv.AbsolutePositionForObject(d.list).Y
	bottom := top + d.list.Size().Height
	var out []fyne.Position
	var walk func(o fyne.CanvasObject)
	walk = func(o fyne.CanvasObject) {
		if o == nil || !o.Visible() {
			return
		}
		if c, ok := o.(*fyne.Container); ok {
			if _, row := c.Layout.(*fitCells); row && c != d.header.row {
				p := drv.AbsolutePositionForObject(c)
				if p.Y >= top && p.Y+c.Size().Height <= bottom+0.5 {
					out = append(out, p.Add(fyne.NewPos(20, c.Size().Height/2)))
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
	return out
}

// TestDecisionTableGeometry: at 1366×768, in the record, the table shows
// at least 12 rows, flagged rows first; the wheel scrolls it from any row
// (no row holds a scroller of its own); the arrow keys move through it.
func TestDecisionTableGeometry(t *testing.T) {
	f, tab := openPreop(t, 60, 40)
	d := tab.v.table
	if len(d.rows) < 40 {
		t.Fatalf("%d rows, want at least 40", len(d.rows))
	}
	flaggedDone := false
	for _, r := range d.rows {
		if !r.Flagged() {
			flaggedDone = true
		} else if flaggedDone {
			t.Fatalf("flagged row %q after an unflagged one", r.Entry.Name)
		}
	}
	rows := visibleRows(d)
	if len(rows) < 12 {
		t.Fatalf("%d rows visible at 1366×768 (list %v), want at least 12", len(rows), d.list.Size())
	}
	c := f.u.Window().Canvas()
	for _, i := range []int{0, len(rows) / 2, len(rows) - 1} {
		before := d.list.GetScrollOffset()
		test.Scroll(c, rows[i], 0, -60)
		if after := d.list.GetScrollOffset(); after <= before {
			t.Errorf("the wheel over row %d did not scroll the table (%v → %v)", i, before, after)
		}
	}
	// Keyboard: focus the list, move down, select with space.
	c.Focus(d.list)
	for range 3 {
		d.list.TypedKey(&fyne.KeyEvent{Name: fyne.KeyDown})
	}
	d.list.TypedKey(&fyne.KeyEvent{Name: fyne.KeySpace})
	if d.selected != 3 || len(d.detail.Objects) == 0 {
		t.Fatalf("keyboard selection %d, detail %d objects", d.selected, len(d.detail.Objects))
	}
}

// TestDecisionTableDecide: the inputs give the proposals their dates; a
// decision is accepted or overridden with a reason (refused without); the
// signed report carries every line's decision.
func TestDecisionTableDecide(t *testing.T) {
	f, tab := openPreop(t, 5, 8)
	v, d := tab.v, tab.v.table
	w := &apptest.Writer{}
	f.svc.SetDocumentWriter(w)
	f.signIn(testDoctor, &apptest.Records{})
	surgery := testNow.AddDate(0, 0, 10)
	test.Type(d.surgery, surgery.Local().Format("02/01/2006"))
	d.bleeding.SetSelectedIndex(2)
	test.Type(d.crcl, "80")
	apix := -1
	for i, r := range d.rows {
		if strings.Contains(r.Entry.Name, "B01AF02") {
			apix = i
		}
	}
	if apix < 0 {
		t.Fatal("no apixaban row")
	}
	want := time.Date(surgery.Year(), surgery.Month(), surgery.Day()-3, 0, 0, 0, 0, time.Local)
	if p := d.rows[apix].Proposal; p.Action != terms.ActionStop || !p.LastDose.Equal(want) {
		t.Fatalf("apixaban proposal %+v, want stop on %v", p, want)
	}
	if rowTexts(&d.rows[apix])[2] != "proposé : Arrêter · "+want.Format("02/01/2006") {
		t.Errorf("row shows %q", rowTexts(&d.rows[apix])[2])
	}
	d.list.Select(apix)
	if !f.shows("à valider cliniquement") || !f.shows("Albaladejo") {
		t.Error("the disclosure does not show the rule's status and source")
	}
	test.Tap(buttonWith(d.detail, "Remplacer"))
	if !f.shows("Un motif est nécessaire pour remplacer la proposition.") || d.rows[apix].Decided {
		t.Fatal("override without a reason accepted")
	}
	for _, o := range d.detail.Objects {
		if b, ok := o.(*fyne.Container); ok {
			for _, x := range b.Objects {
				if e, ok := x.(*entry); ok && e.PlaceHolder == tr("meds.table.reason") {
					test.Type(e, "reprise tardive souhaitée par le chirurgien")
				}
			}
		}
	}
	test.Tap(buttonWith(d.detail, "Remplacer"))
	if r := d.rows[apix]; !r.Decided || !r.Decision.Override || r.Decision.Reason != "reprise tardive souhaitée par le chirurgien" {
		t.Fatalf("override %+v", r.Decision)
	}
	// Sign: without the patient's declaration, refused (HAS method).
	test.Tap(v.reconcile)
	f.tapDialogButton("Signer et envoyer")
	f.wait()
	if !strings.Contains(v.recMsg.Text, "la déclaration du patient n'a pas été recueillie") || len(w.Reconciliations()) != 0 {
		t.Fatalf("signed without the declaration: %q", v.recMsg.Text)
	}
	if _, err := f.svc.DeclareMedication(context.Background(), "p1", app.Medication{Name: "Tisane"}); err != nil {
		t.Fatal(err)
	}
	v.load()
	f.wait()
	apix = -1
	for i, r := range d.rows {
		if strings.Contains(r.Entry.Name, "B01AF02") {
			apix = i
		}
	}
	if r := d.rows[apix]; !r.Decided || r.Decision.Reason != "reprise tardive souhaitée par le chirurgien" {
		t.Fatalf("the decision was lost when the list was read again: %+v", r.Decision)
	}
	if err := d.rows[apix].Override(terms.ActionStop, want.AddDate(0, 0, -1), "reprise tardive"); err != nil {
		t.Fatal(err)
	}
	test.Tap(v.reconcile)
	f.tapDialogButton("Signer et envoyer")
	f.wait()
	rs := w.Reconciliations()
	if len(rs) != 1 || len(rs[0].Decisions) != len(rs[0].Lines) {
		t.Fatalf("reconciliations %+v", rs)
	}
	found := false
	for i, l := range rs[0].Lines {
		dec := rs[0].Decisions[i]
		if dec.Action == "" {
			t.Errorf("line %q without a decision", l.Name)
		}
		if strings.Contains(l.Name, "B01AF02") {
			found = dec.Action == "Arrêter" && dec.Reason == "reprise tardive" && dec.LastDose.Equal(want.AddDate(0, 0, -1))
		}
	}
	if !found {
		t.Errorf("apixaban decision not signed: %+v", rs[0].Decisions)
	}
}
