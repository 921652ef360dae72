package ui

import (
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/apptest"
)

// TestMedsPartialDates: the entry of a treatment written "1975"–"197603"
// says its stop and last activity at that precision, never a made-up day.
func TestMedsPartialDates(t *testing.T) {
	f := newLockedFixture(t, Options{})
	meta := synthMeta
	cd := app.ClinicalDocument{Title: meta.Title, Medications: []app.Medication{{
		Kind: app.MedicationTreatment, Name: "SOLIAN 100 mg",
		Start: time.Date(1975, 1, 1, 0, 0, 0, 0, time.Local), StartPrecision: app.PrecisionYear,
		End: time.Date(1976, 3, 1, 0, 0, 0, 0, time.Local), EndPrecision: app.PrecisionMonth,
	}}}
	rec, _ := seedRecord(f, []app.DocumentMeta{meta}, map[app.DocumentID]app.ClinicalDocument{meta.ID: cd})
	v := newMedsView(f.u, rec, rec.Access)
	showView(f, v.buildUI(), fyne.NewSize(900, 1400))
	v.start()
	f.wait()
	v.showDetails() // the per-class entries are built on demand (the decision table comes first)
	relayout(v.root)
	for _, want := range []string{"fin de traitement indiquée le 03/1976", "dernière activité connue le 1975"} {
		if !f.shows(want) {
			t.Errorf("the entry does not show %q", want)
		}
	}
	for _, not := range []string{"01/03/1976", "01/01/1975"} {
		if f.shows(not) {
			t.Errorf("the entry shows the made-up day %q", not)
		}
	}
	v.dispose()
}

// TestMedsReconcilePlanned: an entry that is only a plan (a vaccination
// planned, moodCode INT) is said so in the reconciliation dialog and not
// ticked: it is not signed as a treatment the patient takes unless the
// anesthesiologist ticks it.
func TestMedsReconcilePlanned(t *testing.T) {
	f := newLockedFixture(t, Options{})
	meta := synthMeta
	cd := app.ClinicalDocument{Title: meta.Title, Medications: []app.Medication{
		{Kind: app.MedicationTreatment, Name: "LEVOTHYROX 75 microgrammes", Start: time.Date(2022, 2, 11, 0, 0, 0, 0, time.Local), StartPrecision: app.PrecisionDay},
		{Kind: app.MedicationPlanned, Name: "Vaccin antituberculeux", Start: time.Date(2024, 12, 1, 0, 0, 0, 0, time.Local), StartPrecision: app.PrecisionMonth},
	}}
	rec, _ := seedRecord(f, []app.DocumentMeta{meta}, map[app.DocumentID]app.ClinicalDocument{meta.ID: cd})
	v := newMedsView(f.u, rec, rec.Access)
	showView(f, v.buildUI(), fyne.NewSize(900, 1400))
	f.svc.SetDocumentWriter(&apptest.Writer{})
	v.start()
	f.wait()
	f.signIn(testDoctor, &apptest.Records{})
	test.Tap(v.reconcile)
	checks := reconcileChecks(t, v)
	if len(checks) != 2 {
		t.Fatalf("%d checkboxes", len(checks))
	}
	for _, c := range checks {
		switch {
		case strings.HasPrefix(c.Text, "LEVOTHYROX"):
			if !c.Checked {
				t.Errorf("%q not ticked", c.Text)
			}
		case strings.HasPrefix(c.Text, "Vaccin antituberculeux"):
			if c.Checked || !strings.Contains(c.Text, "prévu 12/2024") {
				t.Errorf("planned entry: %q ticked=%v", c.Text, c.Checked)
			}
		default:
			t.Errorf("checkbox %q", c.Text)
		}
	}
}
