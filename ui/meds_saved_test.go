package ui

import (
	"bytes"
	"context"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/cda"
	"github.com/carnetdesk/carnet/app/terms"
	"github.com/carnetdesk/carnet/internal/osprint"
)

// TestDecisionsSaved: the decisions taken on the table and its inputs are
// saved in the vault as they are taken; a new view of the record (the
// table reopened) shows them again, the override with its reason; the
// printout carries them.
func TestDecisionsSaved(t *testing.T) {
	f, tab := openPreop(t, 5, 8)
	v, d := tab.v, tab.v.table
	f.signIn(testDoctor, nil)
	surgery := testNow.AddDate(0, 0, 10)
	test.Type(d.surgery, surgery.Local().Format("02/01/2006"))
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
	d.list.Select(sglt2)
	test.Tap(buttonWith(d.detail, "Accepter"))
	if err := d.rows[apix].Override(terms.ActionBridge, surgery.AddDate(0, 0, -5), "valve mécanique"); err != nil {
		t.Fatal(err)
	}
	d.saveRow(apix)
	f.wait()
	saved, err := f.svc.PreopDecisions(context.Background(), v.rec.Patient.ID)
	if err != nil || len(saved.Decisions) != 2 || saved.Inputs.CrCl != 80 || saved.Inputs.Bleeding != "high" {
		t.Fatalf("saved = %+v, %v", saved, err)
	}
	for _, x := range saved.Decisions {
		if x.By != testDoctor.Name || x.At.IsZero() {
			t.Errorf("decision saved without who and when: %+v", x)
		}
	}
	// Reopen: a new view of the same record.
	rec, acc := v.rec, v.acc
	v.dispose()
	v2 := newMedsView(f.u, rec, acc)
	f.u.Window().SetContent(v2.buildUI())
	v2.start()
	f.wait()
	d2 := v2.table
	if d2.crcl.Text != "80" || d2.bleeding.SelectedIndex() != 2 || d2.surgery.Text != surgery.Local().Format("02/01/2006") {
		t.Errorf("inputs not restored: %q, %d, %q", d2.crcl.Text, d2.bleeding.SelectedIndex(), d2.surgery.Text)
	}
	a2, s2 := find(d2, "B01AF02"), find(d2, "A10BK01")
	if r := d2.rows[a2]; !r.Decided || r.Decision.Action != terms.ActionBridge || r.Decision.Reason != "valve mécanique" ||
		!r.Decision.LastDose.Equal(surgery.AddDate(0, 0, -5)) {
		t.Errorf("override not restored: %+v", r.Decision)
	}
	want := time.Date(surgery.Year(), surgery.Month(), surgery.Day()-4, 0, 0, 0, 0, time.Local)
	if r := d2.rows[s2]; !r.Decided || r.Decision.Action != terms.ActionStop || !r.Decision.LastDose.Equal(want) {
		t.Errorf("accepted decision not restored: %+v", r.Decision)
	}
	sheet := v2.sheet()
	undecided := 0
	for _, r := range sheet.Rows {
		if r.Undecided {
			undecided++
		}
	}
	if undecided != len(d2.rows)-2 {
		t.Errorf("%d undecided rows on the sheet, want %d", undecided, len(d2.rows)-2)
	}
}

// TestMedsPrintSystem: with a system print command (a fake lp on a PATH
// of its own, run by the real osprint adapter), the print button offers
// printing; the PDF reaches lp's standard input whole, titled "Carnet".
func TestMedsPrintSystem(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(t.TempDir(), "job")
	script := "#!/bin/sh\nprintf '%s\\n' \"$@\" > '" + out + ".args'\ncat > '" + out + "'\n"
	if err := os.WriteFile(filepath.Join(dir, "lp"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	f, v, _ := openMeds(t)
	f.svc.SetSheetRenderer(cda.SheetRenderer{})
	f.svc.SetPrinter(osprint.Printer{LookPath: func(name string) (string, error) {
		if name == "lp" {
			return filepath.Join(dir, "lp"), nil
		}
		return "", exec.ErrNotFound
	}})
	v.start()
	f.wait()
	test.Tap(v.print)
	f.wait()
	if !bytes.HasPrefix(v.lastPDF, []byte("%PDF")) {
		t.Fatalf("no PDF rendered (message %q)", v.recMsg.Text)
	}
	b := buttonWith(f.u.Window().Canvas().Overlays().Top(), "Imprimer (imprimante du système)")
	if b == nil {
		t.Fatal("no print button in the dialog")
	}
	test.Tap(b)
	f.wait()
	got, err := os.ReadFile(out)
	if err != nil || !bytes.Equal(got, v.lastPDF) {
		t.Fatalf("lp read %d bytes (%v), want the %d of the PDF", len(got), err, len(v.lastPDF))
	}
	if args, _ := os.ReadFile(out + ".args"); strings.Join(strings.Fields(string(args)), " ") != "-t Carnet" {
		t.Errorf("lp arguments %q", args)
	}
	if v.recMsg.Text != "Envoyé à l'imprimante." {
		t.Errorf("message %q", v.recMsg.Text)
	}
}

// TestCrClProposed: the clearance is proposed from the record's latest
// serum creatinine and weight (Cockcroft-Gault, with its source and date
// beside it), drives the DOAC proposals, is saved with the decisions;
// typing another value overrides it.
func TestCrClProposed(t *testing.T) {
	f := newLockedFixture(t, Options{})
	docs, cds := preopDocuments(5, 8)
	lab := cds[docs[1].ID]
	creatDay := testNow.AddDate(0, 0, -10)
	lab.Observations = []app.Observation{
		{Code: app.Code{Code: "14682-9", System: app.SystemLOINC}, Value: 70, Unit: "umol/L", Date: creatDay},
		{Code: app.Code{Code: "14682-9", System: app.SystemLOINC}, Value: 200, Unit: "umol/L", Date: creatDay.AddDate(-1, 0, 0)}, // older
		{Code: app.Code{Code: "29463-7", System: app.SystemLOINC}, Value: 60, Unit: "kg", Date: creatDay},
	}
	cds[docs[1].ID] = lab
	seedRecord(f, docs, cds)
	f.u.Window().Resize(fyne.NewSize(1366, 768))
	r := f.openRecord(f.u.shell, "mart")
	var tab *medsTab
	for i, rt := range r.tabList {
		if mt, ok := rt.(*medsTab); ok {
			tab = mt
			r.tabs.SelectIndex(i)
		}
	}
	f.wait()
	d := tab.v.table
	// Hélène MARTIN, born 12/03/1979: 46 on the creatinine's day.
	want := math.Round(float64(140-46) * 60 * 1.04 / 70)
	if d.crcl.Text != formatCrCl(want) || d.in.CrCl != want {
		t.Fatalf("clearance proposed %q (input %v), want %v", d.crcl.Text, d.in.CrCl, want)
	}
	if !strings.Contains(d.crclInfo.Text, "Cockcroft-Gault, créatinine du "+creatDay.Format("02/01/2006")) ||
		!strings.Contains(d.crclSource, "poids 60 kg") {
		t.Errorf("source shown %q, kept %q", d.crclInfo.Text, d.crclSource)
	}
	// The dabigatran rule reads it (high bleeding risk, CrCl ≥ 50: D-4).
	d.bleeding.SetSelectedIndex(2)
	dabi := -1
	for i, r := range d.rows {
		if strings.Contains(r.Entry.Name, "B01AE07") {
			dabi = i
		}
	}
	if dabi < 0 || d.rows[dabi].Proposal.Rule.ID != "dabigatran-high-50" {
		t.Fatalf("dabigatran proposal %+v", d.rows[dabi].Proposal)
	}
	d.list.Select(dabi)
	test.Tap(buttonWith(d.detail, "Accepter"))
	f.wait()
	saved, _ := f.svc.PreopDecisions(context.Background(), "p1")
	if saved.Inputs.CrCl != want || !strings.Contains(saved.Inputs.CrClSource, "Cockcroft-Gault") {
		t.Errorf("inputs saved with the decision: %+v", saved.Inputs)
	}
	// Typed: an override, the source says so; the proposal follows.
	d.crcl.SetText("")
	test.Type(d.crcl, "40")
	if d.in.CrCl != 40 || d.crclSource != "saisie" || d.rows[dabi].Proposal.Rule.ID != "dabigatran-high-30" {
		t.Errorf("typed clearance: %v, source %q, rule %q", d.in.CrCl, d.crclSource, d.rows[dabi].Proposal.Rule.ID)
	}
	if s := tab.v.sheet(); !strings.Contains(s.Inputs, "ClCr : 40 mL/min (saisie)") {
		t.Errorf("sheet inputs %q", s.Inputs)
	}
}
