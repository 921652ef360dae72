package ui

import (
	"time"

	"github.com/carnetdesk/carnet/app"
)

// historyWindow is the period the pharmacy timeline shows, and what a
// reimbursement history must cover before its silence may be said.
const historyWindow = 24

// historySlack: a living history dated a few weeks short of 24 months back
// (the Assurance Maladie updates it periodically) still covers the period.
const historySlack = 31 * 24 * time.Hour

// historyCovers reports whether the medication list was built from a
// reimbursement history covering the timeline's 24 months: a current
// (not superseded) REMB document of the record, whose act period begins
// 24 months back or earlier, read from the vault (not left unread: not
// cached, unreadable). Only then may an empty timeline say "no dispensing
// in 24 months"; otherwise it says the history is missing.
func historyCovers(docs []app.DocumentMeta, unread []app.UnstructuredDocument, now time.Time) bool {
	notRead := map[app.DocumentID]bool{}
	for _, u := range unread {
		if u.Reason == app.UnstructuredNotCached || u.Reason == app.UnstructuredUnreadable {
			notRead[u.Meta.ID] = true
		}
	}
	from := now.AddDate(0, -historyWindow, 0).Add(historySlack)
	for _, d := range docs {
		if d.TypeCode == "REMB" && !d.Superseded && d.Cached && !notRead[d.ID] && !d.Date.IsZero() && !d.Date.After(from) {
			return true
		}
	}
	return false
}

// noTimelineText is what an empty pharmacy timeline says.
func noTimelineText(rec app.PatientRecord, reading app.MedicationReading, now time.Time) string {
	if historyCovers(rec.Manifest.Documents, reading.Unstructured, now) {
		return tr("meds.timeline.none")
	}
	return tr("meds.timeline.missing")
}
