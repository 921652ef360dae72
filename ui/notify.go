package ui

import "fyne.io/fyne/v2"

// reportNotifier sends a system notification when new reports wait in the
// inbox. System notifications show on lock screens and in notification
// centres that others may see: they carry a count and never a patient's
// identity, a sender or a subject.
type reportNotifier struct {
	a     fyne.App
	last  int  // the count last observed
	known bool // a count was observed: the first one only sets the baseline
}

// observe takes the current number of reports waiting in the inbox and
// notifies the growth since the last observation.
func (n *reportNotifier) observe(count int) {
	if n.known && count > n.last && n.a != nil {
		d := count - n.last
		n.a.SendNotification(newReportsNotification(d))
	}
	n.last, n.known = count, true
}

// newReportsNotification is the notification of n new reports: the
// application's name and a count, nothing else.
func newReportsNotification(n int) *fyne.Notification {
	return fyne.NewNotification("Carnet", trN("notify.reports", n, map[string]any{"N": n}))
}
