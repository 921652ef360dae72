package ui

import (
	"testing"
	"time"

	"fyne.io/fyne/v2"

	"github.com/carnetdesk/carnet/app"
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
