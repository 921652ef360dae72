package ui

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/apptest"
)

// TestStatusBarLink: the status bar shows the connectivity derived from
// the requests: a network failure makes it degraded, a second one offline
// (with the time and one plain message, never "internal error"), and the
// next answer brings it back online with one message.
func TestStatusBarLink(t *testing.T) {
	f := newLockedFixture(t, Options{Version: "test"})
	s := f.unlock()
	f.seedDocuments("p1", testDocuments(2), time.Date(2026, 2, 27, 10, 15, 0, 0, time.UTC))
	down := true
	f.signIn(testDoctor, &apptest.Records{FindPatientFn: func(app.Access, app.INS) (app.RecordStatus, error) {
		if down {
			return app.RecordStatus{}, fmt.Errorf("dmp: find patient: timed out: %w", app.ErrOffline)
		}
		return app.RecordStatus{Exists: true, Authorization: app.AuthorizationGranted}, nil
	}})
	b := s.bar
	r := f.openRecord(s, "mart")
	b.tick()
	assertText(t, "after one failure", b.online.Text, "Le DMP tarde à répondre…")
	if b.msg.Visible() {
		t.Errorf("a message on degraded: %q", b.msg.Text)
	}
	test.Tap(r.header.refresh)
	f.wait()
	b.tick()
	assertText(t, "after two failures", b.online.Text, "Hors ligne depuis 09:00")
	assertText(t, "message", b.msg.Text, "Le DMP ne répond plus : vous travaillez sur les copies du coffre ; nouvel essai automatique.")
	for _, txt := range f.texts() {
		if strings.Contains(strings.ToLower(txt), "interne") || strings.Contains(strings.ToLower(txt), "internal") {
			t.Errorf("the window shows %q", txt)
		}
	}
	b.setMessage("", 0)
	b.tick() // no new message without a change
	if b.msg.Visible() {
		t.Errorf("the message repeats without a change: %q", b.msg.Text)
	}

	down = false
	test.Tap(r.header.refresh)
	f.wait()
	b.tick()
	assertText(t, "back", b.online.Text, "En ligne")
	assertText(t, "message", b.msg.Text, "Le DMP répond de nouveau.")
}

// TestInboxBadgeManualQueueOnly: the inbox badge counts the manual queue,
// not the quarantined items (which wait for nobody).
func TestInboxBadgeManualQueueOnly(t *testing.T) {
	f := newLockedFixture(t, Options{Version: "test"})
	s := f.unlock()
	f.seedInbox(
		app.InboxItem{ID: "i1", State: app.InboxPending},
		app.InboxItem{ID: "i2", State: app.InboxQuarantined},
		app.InboxItem{ID: "i3", State: app.InboxQuarantined},
	)
	s.bar.refresh()
	f.wait()
	assertText(t, "inbox", s.bar.inbox.Text, "1 compte rendu à classer")
}

// TestUnconfirmedState: an item sent whose confirmation was not read is
// shown as such (outbox and write tab), not as waiting to be sent.
func TestUnconfirmedState(t *testing.T) {
	newLockedFixture(t, Options{}) // the translations
	it := app.OutboxItem{State: app.OutboxUnconfirmed}
	assertText(t, "outbox", outboxStateText(it), "Envoyé, non confirmé : le DMP a répondu, mais la relecture ne montre pas encore le document tel qu'envoyé. Il est revérifié à chaque synchronisation, jamais renvoyé en double.")
	assertText(t, "write", noteStateText(noteRow{state: app.OutboxUnconfirmed}), "Envoyée, non confirmée")
	if outboxStateText(it) == outboxStateText(app.OutboxItem{State: app.OutboxPending}) {
		t.Error("unconfirmed reads as pending")
	}
}
