package ui

import (
	"context"
	"fmt"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/carnetdesk/carnet/app"
)

// rowPositions returns where each patient row of the search results is
// drawn on the canvas, by the name it shows.
func rowPositions(t *testing.T, f *fixture) map[string]fyne.Position {
	t.Helper()
	relayout(f.u.Window().Content())
	d := fyne.CurrentApp().Driver()
	out := map[string]fyne.Position{}
	var walk func(o fyne.CanvasObject)
	walk = func(o fyne.CanvasObject) {
		if o == nil || !o.Visible() {
			return
		}
		if r, ok := o.(*patientRow); ok {
			if r.name.Text != "" {
				out[r.name.Text] = d.AbsolutePositionForObject(r)
			}
			return
		}
		switch x := o.(type) {
		case *fyne.Container:
			for _, c := range x.Objects {
				walk(c)
			}
		case fyne.Widget:
			for _, c := range test.WidgetRenderer(x).Objects() {
				walk(c)
			}
		}
	}
	walk(f.u.Window().Content())
	return out
}

// TestSearchListStable: the results of a search never move under the
// pointer. Their geometry is the same at the first render and after each
// thing that happens in the next seconds (a sync with its progress bar and
// message, a new report in the inbox counter, an unlock warning), each
// step taken at a tick of the fake clock, over 10 s and more; after every
// step every visible row is where it was, and no row appears or goes. A
// click at each row's position then opens that row's patient — the
// qualified MERCIER Béatrice, not her provisional namesake in the next row,
// and so on for every row.
func TestSearchListStable(t *testing.T) {
	f, s, _ := newSyncFixture(t)
	ctx := context.Background()
	beatrice := app.Patient{ID: "p-beatrice", Status: app.IdentityQualified, BirthName: "MERCIER", BirthGivenNames: "Béatrice",
		BirthDate: "1961-04-03", Sex: app.SexFemale, INS: testPatients(t)[0].INS}
	oceane := app.Patient{ID: "p-oceane", Status: app.IdentityProvisional, BirthName: "MERCIER", BirthGivenNames: "Océane",
		BirthDate: "1999-08-21", Sex: app.SexFemale}
	paul := app.Patient{ID: "p-paul", Status: app.IdentityRecovered, BirthName: "MERCIER", BirthGivenNames: "Paul",
		BirthDate: "1950-12-30", Sex: app.SexMale}
	rose := app.Patient{ID: "p-rose", Status: app.IdentityValidated, BirthName: "MERCIER", BirthGivenNames: "Rose",
		BirthDate: "2001-02-14", Sex: app.SexFemale}
	if err := f.store.Write(ctx, &app.Batch{Patients: []app.Patient{beatrice, oceane, paul, rose}}); err != nil {
		t.Fatal(err)
	}
	f.typeAndWait(s.search.query, "mercier")
	if len(s.search.results) != 4 {
		t.Fatalf("%d results, want the four MERCIER", len(s.search.results))
	}
	first := rowPositions(t, f)
	if len(first) != 4 {
		t.Fatalf("rows drawn: %v", first)
	}
	// check: every visible row is where it was, none appeared, none went.
	check := func(after string) {
		t.Helper()
		now := rowPositions(t, f)
		for name, pos := range first {
			if p, ok := now[name]; !ok || p != pos {
				t.Fatalf("after %s, %s moved from %v to %v (shown %v)", after, name, pos, p, ok)
			}
		}
		for name, pos := range now {
			if _, ok := first[name]; !ok {
				t.Fatalf("after %s, a row %s appeared at %v", after, name, pos)
			}
		}
	}
	// tick: one second of the fake clock, the status bar's update, and
	// the check of every row.
	ticks := 0
	tick := func(after string) {
		t.Helper()
		ticks++
		f.clock.Advance(time.Second)
		s.bar.tick()
		s.updateStatus()
		f.wait()
		check(fmt.Sprintf("%s (tick %d)", after, ticks))
	}
	// A sync: its progress bar comes and goes, then its message.
	f.syncShortcut()
	check("the start of a sync")
	tick("the start of a sync")
	f.wait()
	tick("a sync")
	s.bar.showProgress(app.SyncProgress{Phase: app.PhasePull, Patient: 1, PatientsN: 3, Percent: 33})
	tick("a progress event")
	s.bar.setMessage("Synchronisation terminée", widget.SuccessImportance)
	tick("a status message")
	// Ten seconds of the fake clock, ticked second by second.
	for range 10 {
		tick("10 s")
	}
	// A report arrives in the inbox; an unlock warning shows.
	f.seedInbox(app.InboxItem{ID: "n1", State: app.InboxPending, Reason: app.ReasonNoINS, Received: testNow})
	s.bar.refreshCounts()
	tick("a new inbox item")
	s.showWarnings([]app.Warning{app.WarnNoRecovery})
	tick("a warning banner")
	if ticks < 14 {
		t.Fatalf("%d ticks of the fake clock, want at least 14", ticks)
	}

	// A click where each row is opens that row's patient; back to the
	// results, the rows are where they were.
	byName := map[string]app.Patient{}
	for _, p := range s.search.results {
		byName[p.DisplayName()] = p
	}
	for name, pos := range first {
		want, ok := byName[name]
		if !ok {
			t.Fatalf("row %q is no result", name)
		}
		s.backToSearch()
		f.wait()
		check("back to the results")
		test.TapCanvas(f.u.Window().Canvas(), pos.Add(fyne.NewPos(30, 12)))
		f.wait()
		if s.record == nil || s.record.patient.ID != want.ID {
			got := app.PatientID("")
			if s.record != nil {
				got = s.record.patient.ID
			}
			t.Fatalf("the click at %s's row opened %q", name, got)
		}
	}
}

// TestInboxListStable: the manual queue's items stay where they are while
// it reloads (its progress) and when a message shows.
func TestInboxListStable(t *testing.T) {
	f, s, _ := newSyncFixture(t)
	f.seedInbox(testInbox()...)
	s.openInboxPage()
	f.wait()
	v := s.inbox
	d := fyne.CurrentApp().Driver()
	positions := func() []fyne.Position {
		relayout(f.u.Window().Content())
		var out []fyne.Position
		for _, o := range v.list.Objects {
			out = append(out, d.AbsolutePositionForObject(o))
		}
		return out
	}
	first := positions()
	if len(first) == 0 {
		t.Fatal("no item drawn")
	}
	check := func(after string) {
		t.Helper()
		for i, p := range positions() {
			if p != first[i] {
				t.Fatalf("after %s, item %d moved from %v to %v", after, i, first[i], p)
			}
		}
	}
	v.load()
	check("the start of a reload")
	v.setMessage(widget.DangerImportance, "Le coffre est occupé, réessayez.")
	check("a message")
	f.wait()
	check("a reload")
}
