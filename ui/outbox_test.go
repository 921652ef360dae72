package ui

import (
	"context"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/apptest"
)

// conflictNote is an outbox item in conflict with the server's version.
func conflictNote() app.OutboxItem {
	it := testNote(1, app.OutboxConflict)
	it.Meta.Title = "Consultation du 1er mars"
	it.ConflictAt = testNow
	it.Server = &app.RemoteDocument{
		Meta: app.DocumentMeta{ID: it.Meta.ID, Title: "Consultation du 1er mars (corrigée)", Date: testNow.Add(-30 * time.Minute),
			Author: "Dr Marc Petit", Organisation: "Hôpital Saint-Louis", Version: 2},
		VersionID: "3", LastUpdated: testNow.Add(-30 * time.Minute),
	}
	return it
}

// tapDialogButton taps the visible button labelled text in the top
// dialog.
func (f *fixture) tapDialogButton(text string) {
	f.t.Helper()
	top := f.u.Window().Canvas().Overlays().Top()
	if top == nil {
		f.t.Fatal("no dialog shown")
	}
	var found *widget.Button
	var walk func(o fyne.CanvasObject)
	walk = func(o fyne.CanvasObject) {
		switch o := o.(type) {
		case *widget.Button:
			if o.Text == text && o.Visible() {
				found = o
			}
		case *fyne.Container:
			for _, c := range o.Objects {
				walk(c)
			}
		case fyne.Widget:
			for _, c := range test.WidgetRenderer(o).Objects() {
				walk(c)
			}
		}
	}
	walk(top)
	if found == nil {
		f.t.Fatalf("no button %q in the dialog", text)
	}
	test.Tap(found)
}

func TestOutboxStates(t *testing.T) {
	f, s, _ := newSyncFixture(t)
	retry := testNote(2, app.OutboxRetry)
	retry.Attempts, retry.NextAttempt, retry.LastError = 3, testNow.Add(90*time.Minute), "dmp: provide: offline"
	rejected := testNote(3, app.OutboxRejected)
	rejected.LastError = "dmp: provide: access denied: blocked"
	other := testNote(4, app.OutboxRejected)
	other.LastError = "dmp: provide: status 422"
	f.seedOutbox(testNote(5, app.OutboxPending), retry, rejected, other, testNote(6, app.OutboxSending), testNote(7, app.OutboxUnconfirmed))
	s.openOutboxPage()
	f.wait()
	v := s.outbox
	if len(v.items) != 6 {
		t.Fatalf("outbox page lists %d items, want 6", len(v.items))
	}
	want := map[string]string{
		"Note 5": "En attente d'envoi.",
		"Note 2": "Nouvel essai n° 3. Prochain essai le 02/03/2026 à 10:30. Motif : " + message(app.ErrOffline),
		"Note 3": "Refusé : " + message(&app.AccessError{Reason: app.DeniedBlocked}),
		"Note 4": "Refusé : refusé par le service central",
		"Note 6": "Envoi en cours…",
		"Note 7": "Envoyé, non confirmé : le DMP a répondu, mais la relecture ne montre pas encore le document tel qu'envoyé. Il est revérifié à chaque synchronisation, jamais renvoyé en double.",
	}
	for _, it := range v.items {
		if got := outboxStateText(it); got != want[it.Meta.Title] {
			t.Errorf("state of %s = %q, want %q", it.Meta.Title, got, want[it.Meta.Title])
		}
	}
	if !f.shows("MARTIN Hélène — nouveau document — rédigé le 02/03/2026 04:00") {
		t.Error("patient, kind and date not shown")
	}
}

func TestOutboxConflict(t *testing.T) {
	f, s, sy := newSyncFixture(t)
	f.signIn(testDoctor, &apptest.Records{})
	f.seedOutbox(conflictNote())
	s.openOutboxPage()
	f.wait()
	v := s.outbox
	a := v.actions["urn:test:note:1"]
	if a == nil {
		t.Fatal("no conflict actions")
	}
	assertText(t, "keep", a.keep.Text, "Conserver les deux (nouveau document)")
	assertText(t, "replace", a.replace.Text, "Remplacer après relecture")
	assertText(t, "discard", a.discard.Text, "Abandonner ma version")
	for _, want := range []string{"Ma version (brouillon)", "Version du DMP", "Titre : Consultation du 1er mars",
		"Titre : Consultation du 1er mars (corrigée)", "Auteur : Dr Marc Petit · Hôpital Saint-Louis", "Auteur : Dr Anne Durand · Clinique du Parc",
		"Date : 02/03/2026 08:30", "Version : 2"} {
		if !f.shows(want) {
			t.Errorf("conflict view lacks %q", want)
		}
	}
	test.AssertRendersToMarkup(t, "outbox_conflict.xml", f.u.Window().Canvas())

	// Discard: a confirmation first; cancelling it changes nothing.
	test.Tap(a.discard)
	if v.confirm == nil {
		t.Fatal("no confirmation before discarding")
	}
	f.tapDialogButton("Annuler")
	f.wait()
	if sy.Calls("Resolve") != 0 {
		t.Fatal("Resolve called after a cancelled confirmation")
	}
	test.Tap(a.discard)
	f.tapDialogButton("Abandonner ma version")
	f.wait()
	got := sy.Resolutions()
	if len(got) != 1 || got[0].Resolution != app.DiscardMine || !got[0].Confirmed {
		t.Fatalf("resolutions = %+v, want one confirmed discard", got)
	}
	if len(v.items) != 0 || !f.shows("Rien en attente") {
		t.Error("the discarded item is still listed")
	}
}

func TestOutboxKeepBothAndReplace(t *testing.T) {
	for _, tc := range []struct {
		name string
		tap  func(*conflictActions) *widget.Button
		want app.Resolution
	}{
		{"keep", func(a *conflictActions) *widget.Button { return a.keep }, app.KeepBoth},
		{"replace", func(a *conflictActions) *widget.Button { return a.replace }, app.ReplaceAfterReview},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, s, sy := newSyncFixture(t)
			f.signIn(testDoctor, &apptest.Records{})
			f.seedOutbox(conflictNote())
			s.openOutboxPage()
			f.wait()
			test.Tap(tc.tap(s.outbox.actions["urn:test:note:1"]))
			f.wait()
			got := sy.Resolutions()
			if len(got) != 1 || got[0].Resolution != tc.want || got[0].Confirmed {
				t.Fatalf("resolutions = %+v, want %q unconfirmed", got, tc.want)
			}
			items, _ := f.svc.Outbox(context.Background())
			if len(items) != 1 || items[0].State != app.OutboxPending {
				t.Fatalf("outbox = %+v, want the item pending again", items)
			}
			if got := outboxStateText(s.outbox.items[0]); got != "En attente d'envoi." {
				t.Errorf("state shown = %q", got)
			}
		})
	}
}

func TestOutboxResolveFails(t *testing.T) {
	f, s, sy := newSyncFixture(t)
	f.signIn(testDoctor, &apptest.Records{})
	sy.ResolveFn = func(context.Context, app.OutboxID, app.Resolution, bool) error { return app.ErrOffline }
	f.seedOutbox(conflictNote())
	s.openOutboxPage()
	f.wait()
	test.Tap(s.outbox.actions["urn:test:note:1"].keep)
	f.wait()
	assertText(t, "message", s.outbox.msg.Text, message(app.ErrOffline))
	if s.outbox.actions["urn:test:note:1"].keep.Disabled() {
		t.Error("decisions still disabled after a failure")
	}
}

// TestOutboxSentHistory: a note the service acknowledged leaves the
// outbox but stays visible in the page's history (read from the record),
// with its date, title and patient; the items waiting are still listed.
func TestOutboxSentHistory(t *testing.T) {
	f, s, _ := newSyncFixture(t)
	waiting := testNote(5, app.OutboxPending)
	f.seedOutbox(waiting)
	sent := app.DocumentMeta{ID: "1.2.250.1.999.77.1", Title: "Visite pré-anesthésique", Source: "carnet", RemoteID: "r-1", Date: testNow.Add(-2 * time.Hour), Cached: true}
	if err := f.store.Write(context.Background(), &app.Batch{Manifests: []app.Manifest{{Patient: waiting.Patient, Documents: []app.DocumentMeta{sent}}}}); err != nil {
		t.Fatal(err)
	}
	s.openOutboxPage()
	f.wait()
	v := s.outbox
	if len(v.items) != 1 || len(v.sent) != 1 || v.sent[0].Meta.ID != sent.ID {
		t.Fatalf("items %d, sent %+v", len(v.items), v.sent)
	}
	if !f.shows("Envoyés (les plus récents)") || !f.shows(formatDateTime(sent.Date)+" · Visite pré-anesthésique — MARTIN Hélène") {
		t.Errorf("the history is not shown: %q", f.texts())
	}
}
