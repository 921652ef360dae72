package ui

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/apptest"
)

// newSyncFixture is an unlocked fixture whose service has a fake sync
// engine over the store and the fake document writer.
func newSyncFixture(t *testing.T) (*fixture, *shell, *apptest.Syncer) {
	t.Helper()
	store := lockedStore(t)
	sy := &apptest.Syncer{Store: store}
	f := newFixtureWith(t, store, Options{Version: "test"}, app.Deps{Syncer: sy, Writer: &apptest.Writer{}})
	s := f.unlock()
	return f, s, sy
}

// seedOutbox stores outbox items for the test patients.
func (f *fixture) seedOutbox(items ...app.OutboxItem) {
	f.t.Helper()
	if err := f.store.Write(context.Background(), &app.Batch{Outbox: items}); err != nil {
		f.t.Fatal(err)
	}
}

// seedInbox stores inbox items.
func (f *fixture) seedInbox(items ...app.InboxItem) {
	f.t.Helper()
	if err := f.store.Write(context.Background(), &app.Batch{Inbox: items}); err != nil {
		f.t.Fatal(err)
	}
}

// syncShortcut types Ctrl+R on the canvas, nothing focused.
func (f *fixture) syncShortcut() {
	f.u.Window().Canvas().Unfocus()
	f.u.Window().Canvas().(fyne.Shortcutable).TypedShortcut(shortcutSync)
}

// testNote is an outbox item for patient p1 in state st.
func testNote(n int, st app.OutboxState) app.OutboxItem {
	id := app.OutboxID(fmt.Sprintf("urn:test:note:%d", n))
	return app.OutboxItem{
		ID: id, Patient: "p1", Kind: app.OutboxProvide, State: st, CreatedAt: testNow.Add(-time.Duration(n) * time.Hour),
		Meta: app.DocumentMeta{ID: app.DocumentID(id), Title: fmt.Sprintf("Note %d", n), Date: testNow.Add(-time.Duration(n) * time.Hour),
			Author: "Dr Anne Durand", Organisation: "Clinique du Parc", Source: "carnet"},
	}
}

func TestStatusBarOffline(t *testing.T) {
	f := newLockedFixture(t, Options{Version: "test"})
	s := f.unlock()
	b := s.bar
	assertText(t, "online", b.online.Text, "Hors ligne")
	assertText(t, "last sync", b.lastSync.Text, "Dernière synchronisation : jamais")
	assertText(t, "pending", b.pending.Text, "Aucun envoi en attente")
	assertText(t, "inbox", b.inbox.Text, "Messagerie : rien à classer")
	if b.progress.Visible() || b.msg.Visible() {
		t.Error("progress or message shown without a sync")
	}
}

func TestStatusBarOnline(t *testing.T) {
	f, s, sy := newSyncFixture(t)
	sy.SetStatus(app.SyncStatus{Online: true, LastSync: testNow.Add(-3 * time.Minute)})
	f.seedOutbox(testNote(1, app.OutboxPending), testNote(2, app.OutboxConflict))
	f.seedInbox(app.InboxItem{ID: "i1", State: app.InboxPending, From: "labo@test.mssante.fr", Reason: app.ReasonNoINS,
		Received: testNow, Report: &app.IncomingReport{Meta: app.DocumentMeta{Title: "Biologie"}, Content: []byte("x")}})
	s.bar.refresh()
	f.wait()
	b := s.bar
	assertText(t, "online", b.online.Text, "En ligne")
	assertText(t, "last sync", b.lastSync.Text, "Dernière synchronisation : il y a 3 min")
	assertText(t, "pending", b.pending.Text, "2 envois en attente, dont 1 en conflit")
	if b.pending.Importance != widget.DangerImportance {
		t.Error("conflicts not highlighted")
	}
	assertText(t, "inbox", b.inbox.Text, "1 compte rendu à classer")
	test.AssertRendersToMarkup(t, "status_online.xml", f.u.Window().Canvas())

	test.Tap(b.pending)
	f.wait()
	if s.page != pageOutbox || s.outbox == nil || len(s.outbox.items) != 2 {
		t.Fatal("the pending button does not open the outbox")
	}
	test.Tap(b.inbox)
	f.wait()
	if s.page != pageInbox || s.inbox == nil || len(s.inbox.items) != 1 {
		t.Fatal("the inbox button does not open the inbox")
	}

	// Without conflicts, a plain count.
	f.seedOutbox(testNote(2, app.OutboxPending))
	s.bar.refresh()
	f.wait()
	assertText(t, "pending", b.pending.Text, "2 envois en attente")
}

func TestSyncShortcutProgressCancel(t *testing.T) {
	f, s, sy := newSyncFixture(t)
	f.signIn(testDoctor, &apptest.Records{})
	started := make(chan struct{})
	sy.OnceFn = func(ctx context.Context) (app.SyncSummary, error) {
		close(started)
		<-ctx.Done()
		sy.SetStatus(app.SyncStatus{})
		return app.SyncSummary{}, fmt.Errorf("engine: %w", ctx.Err())
	}
	sy.SetStatus(app.SyncStatus{Online: true, Syncing: true,
		Progress: app.SyncProgress{Phase: app.PhasePull, Patient: 3, PatientsN: 10, Percent: 42}})
	f.syncShortcut()
	<-started
	b := s.bar
	if !b.progress.Visible() || b.cancel.Disabled() {
		t.Fatal("no progress bar with an enabled cancel button during the sync")
	}
	assertText(t, "phase", b.phase.Text, "Mise à jour des dossiers (3/10)")
	if b.bar.Value != 0.42 {
		t.Errorf("progress = %v, want 0.42", b.bar.Value)
	}
	test.AssertRendersToMarkup(t, "status_syncing.xml", f.u.Window().Canvas())

	// The mail phase of the desktop cycle: the messages read so far.
	b.showProgress(app.SyncProgress{Phase: app.PhaseMail, Resources: 12, Percent: 50})
	assertText(t, "mail phase", b.phase.Text, "Messagerie sécurisée — 12 messages")
	b.showProgress(app.SyncProgress{Phase: app.PhaseMail})
	assertText(t, "mail phase", b.phase.Text, "Messagerie sécurisée")

	f.syncShortcut() // a second Ctrl+R while the sync runs: ignored
	test.Tap(b.cancel)
	f.wait()
	if sy.Calls("Once") != 1 {
		t.Errorf("Once called %d times, want 1", sy.Calls("Once"))
	}
	if b.progress.Visible() {
		t.Error("progress still shown after the cancel")
	}
	assertText(t, "message", b.msg.Text, "Synchronisation annulée.")
}

func TestSyncOutcome(t *testing.T) {
	f, s, sy := newSyncFixture(t)

	// Not signed in: nothing starts, the bar says why.
	f.syncShortcut()
	f.wait()
	if sy.Calls("Once") != 0 {
		t.Fatal("a sync started without a practitioner")
	}
	assertText(t, "message", s.bar.msg.Text, "Connectez-vous avec votre carte pour synchroniser.")

	f.signIn(testDoctor, &apptest.Records{})
	for _, tc := range []struct {
		sum  app.SyncSummary
		err  error
		want string
	}{
		{app.SyncSummary{Online: true, Pushed: 1, Patients: 2}, nil, "Synchronisation terminée : 1 envoyé(s), 2 dossier(s) à jour."},
		{app.SyncSummary{Online: true, Conflicts: 2}, nil, "Synchronisation terminée : 2 conflits à résoudre."},
		{app.SyncSummary{Online: true, Retrying: 1}, nil, "Synchronisation incomplète : 0 envoyé(s), 0 dossier(s) à jour ; le reste sera repris."},
		{app.SyncSummary{}, fmt.Errorf("engine: push: %w", app.ErrOffline), message(app.ErrOffline)},
	} {
		sy.OnceFn = func(context.Context) (app.SyncSummary, error) { return tc.sum, tc.err }
		f.syncShortcut()
		f.wait()
		assertText(t, "message", s.bar.msg.Text, tc.want)
	}
	if s.bar.progress.Visible() {
		t.Error("progress shown after the syncs")
	}
}

func TestSinceText(t *testing.T) {
	now := testNow
	for _, tc := range []struct {
		t    time.Time
		want string
	}{
		{now.Add(-20 * time.Second), "à l'instant"},
		{now.Add(-3 * time.Minute), "il y a 3 min"},
		{now.Add(-150 * time.Minute), "il y a 2 h"},
		{now.Add(-49 * time.Hour), "le 28/02/2026 à 08:00"},
	} {
		if got := sinceText(tc.t, now); got != tc.want {
			t.Errorf("sinceText(%v) = %q, want %q", tc.t, got, tc.want)
		}
	}
}

func TestNewReportsNotification(t *testing.T) {
	f, s, _ := newSyncFixture(t)
	report := func(id string) app.InboxItem {
		return app.InboxItem{ID: app.InboxID(id), State: app.InboxPending, Subject: "CR MARTIN Hélène", From: "dr@test.mssante.fr",
			Reason: app.ReasonTraitsDiffer, Received: testNow, Report: &app.IncomingReport{Content: []byte("x")}}
	}
	// The first count after the unlock is the baseline: no notification.
	test.AssertNotificationSent(t, nil, func() {
		s.bar.refresh()
		f.wait()
	})
	f.seedInbox(report("a"), report("b"))
	want := fyne.NewNotification("Carnet", "2 nouveaux comptes rendus reçus")
	test.AssertNotificationSent(t, want, func() {
		s.bar.refresh()
		f.wait()
	})
	// No identity, sender or subject in it.
	for _, bad := range []string{"MARTIN", "Hélène", "mssante"} {
		if n := newReportsNotification(2); strings.Contains(n.Title+n.Content, bad) {
			t.Errorf("notification mentions %q", bad)
		}
	}
	// The same count again, or fewer: nothing.
	test.AssertNotificationSent(t, nil, func() {
		s.bar.refresh()
		f.wait()
	})
}

// mailSyncer is a fake engine whose cycle also imports the mailboxes.
type mailSyncer struct {
	*apptest.Syncer
	calls int
	sum   app.ImportSummary
}

func (m *mailSyncer) ImportMailboxes(context.Context) (app.ImportSummary, error) {
	m.calls++
	return m.sum, nil
}

// TestSyncShortcutMailWithoutSignIn: Ctrl+R while nobody is signed in
// imports the secure mailboxes (no card needed) and says the DMP needs a
// sign-in; without mailboxes it asks for the sign-in.
func TestSyncShortcutMailWithoutSignIn(t *testing.T) {
	store := lockedStore(t)
	sy := &mailSyncer{Syncer: &apptest.Syncer{Store: store}, sum: app.ImportSummary{Filed: 2, Manual: 1}}
	f := newFixtureWith(t, store, Options{}, app.Deps{Syncer: sy})
	s := f.unlock()
	f.syncShortcut()
	f.wait()
	if sy.calls != 0 {
		t.Fatal("mail imported without any mailbox")
	}
	assertText(t, "no mailbox", s.bar.msg.Text, "Connectez-vous avec votre carte pour synchroniser.")

	cs := &memConnections{c: app.Connection{Mailboxes: []app.MailAccount{
		{Address: "dr@clinique.mssante.fr", Host: "imap.op.mssante.fr", Security: app.MailImplicitTLS}}}}
	if err := f.svc.SetConnectionStore(context.Background(), cs); err != nil {
		t.Fatal(err)
	}
	f.syncShortcut()
	f.wait()
	if sy.calls != 1 || sy.Calls("Once") != 0 {
		t.Fatalf("mail imports %d, engine cycles %d", sy.calls, sy.Calls("Once"))
	}
	assertText(t, "mail", s.bar.msg.Text, "Messagerie importée : 2 compte(s) rendu(s) classé(s), 1 à traiter. Connectez-vous pour synchroniser le DMP.")
}
