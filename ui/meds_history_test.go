package ui

import (
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
)

// TestHistoryCovers: an empty pharmacy timeline says "no dispensing in 24
// months" only when a current reimbursement history covering the period
// was read from the vault; every other case says the history is missing.
func TestHistoryCovers(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	remb := func(start time.Time, mod func(*app.DocumentMeta)) app.DocumentMeta {
		d := app.DocumentMeta{ID: "1.2.250.1.999.1", TypeCode: "REMB", Date: start, Cached: true}
		if mod != nil {
			mod(&d)
		}
		return d
	}
	twoYears := now.AddDate(-2, 0, -1) // a living history: just over 2 years back
	for _, tc := range []struct {
		name   string
		docs   []app.DocumentMeta
		unread []app.UnstructuredDocument
		want   bool
	}{
		{"no history at all", nil, nil, false},
		{"a current history over 24 months, read", []app.DocumentMeta{remb(twoYears, nil)}, nil, true},
		{"a few weeks short of 24 months", []app.DocumentMeta{remb(now.AddDate(0, -23, -10), nil)}, nil, true},
		{"a history of 6 months only", []app.DocumentMeta{remb(now.AddDate(0, -6, 0), nil)}, nil, false},
		{"not in the vault", []app.DocumentMeta{remb(twoYears, func(d *app.DocumentMeta) { d.Cached = false })}, nil, false},
		{"superseded", []app.DocumentMeta{remb(twoYears, func(d *app.DocumentMeta) { d.Superseded = true })}, nil, false},
		{"no date", []app.DocumentMeta{remb(time.Time{}, nil)}, nil, false},
		{"unreadable", []app.DocumentMeta{remb(twoYears, nil)},
			[]app.UnstructuredDocument{{Meta: app.DocumentMeta{ID: "1.2.250.1.999.1"}, Reason: app.UnstructuredUnreadable}}, false},
		{"read, no structured entries (an empty history)", []app.DocumentMeta{remb(twoYears, nil)},
			[]app.UnstructuredDocument{{Meta: app.DocumentMeta{ID: "1.2.250.1.999.1"}, Reason: app.UnstructuredNoEntries}}, true},
		{"another kind of document", []app.DocumentMeta{remb(twoYears, func(d *app.DocumentMeta) { d.TypeCode = "60593-1" })}, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := historyCovers(tc.docs, tc.unread, now); got != tc.want {
				t.Fatalf("historyCovers = %v, want %v", got, tc.want)
			}
			rec := app.PatientRecord{Manifest: app.Manifest{Documents: tc.docs}}
			msg := noTimelineText(rec, app.MedicationReading{Unstructured: tc.unread}, now)
			if tc.want != (msg == tr("meds.timeline.none")) || msg == "meds.timeline.missing" {
				t.Fatalf("the empty timeline says %q", msg)
			}
		})
	}
}
