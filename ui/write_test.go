package ui

import (
	"context"
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/apptest"
)

// openWriteTab opens MARTIN Hélène's record and its write tab.
func (f *fixture) openWriteTab(s *shell) (*recordView, *writeTab) {
	f.t.Helper()
	r := f.openRecord(s, "mart")
	for i, t := range r.tabList {
		if w, ok := t.(*writeTab); ok {
			r.selectTab(i)
			f.wait()
			return r, w
		}
	}
	f.t.Fatal("no write tab")
	return nil, nil
}

func TestWriteNeedsCard(t *testing.T) {
	f, s, _ := newSyncFixture(t)
	f.seedDocuments("p1", testDocuments(2), testNow)
	_, w := f.openWriteTab(s)
	if !w.signInHint.Visible() || !w.save.Disabled() {
		t.Fatal("without a card: no hint, or the save button enabled")
	}
	if !f.shows("Votre carte est nécessaire pour signer la note") {
		t.Error("the hint does not say the card signs the note")
	}
	if !f.shows("Aucune note rédigée dans Carnet pour ce patient.") {
		t.Error("empty notes list not explained")
	}
	// Signed in meanwhile (the hint's button): the next tick notices.
	f.signIn(testDoctor, &apptest.Records{})
	s.tickWriteTabs()
	if w.signInHint.Visible() || w.save.Disabled() {
		t.Error("the write tab did not notice the sign-in")
	}
}

func TestWriteNote(t *testing.T) {
	f, s, _ := newSyncFixture(t)
	f.signIn(testDoctor, &apptest.Records{})
	_, w := f.openWriteTab(s)
	if w.signInHint.Visible() || w.save.Disabled() {
		t.Fatal("signed in: hint shown or save disabled")
	}

	// Masked to professionals and hidden from the patient: refused.
	test.Tap(w.masked)
	test.Tap(w.hidePat)
	if !w.visMsg.Visible() || !w.save.Disabled() {
		t.Fatal("masked + hidden from the patient accepted")
	}
	assertText(t, "visibility message", w.visMsg.Text,
		"Un document ne peut pas être à la fois masqué aux professionnels et invisible au patient : décochez l'un des deux.")
	test.Tap(w.masked)
	if w.visMsg.Visible() || w.save.Disabled() {
		t.Fatal("hidden from the patient alone refused")
	}
	test.Tap(w.hideReps)

	// An empty note: refused before the service.
	test.Tap(w.save)
	f.wait()
	assertText(t, "message", w.msg.Text, "La note est vide.")

	test.Type(w.title, "Consultation pré-anesthésique")
	test.Type(w.text, "Patiente vue ce jour.")
	test.AssertRendersToMarkup(t, "write_draft.xml", f.u.Window().Canvas())
	test.Tap(w.save)
	f.wait()
	assertText(t, "message", w.msg.Text,
		"Note enregistrée : elle est lisible dans le dossier et sera envoyée au DMP dès que le service répond.")
	if w.title.Text != "" || w.text.Text != "" || w.hidePat.Checked || w.hideReps.Checked {
		t.Error("the draft was not cleared after the save")
	}
	items, err := f.svc.Outbox(context.Background())
	if err != nil || len(items) != 1 {
		t.Fatalf("outbox = %d items, %v", len(items), err)
	}
	it := items[0]
	if it.Patient != "p1" || it.State != app.OutboxPending || it.Meta.Title != "Consultation pré-anesthésique" ||
		!it.Visibility.HiddenFromPatient || !it.Visibility.HiddenFromLegalReps || it.Visibility.MaskedToProfessionals {
		t.Errorf("outbox item = %+v", it)
	}
	if len(w.rows) != 1 || w.rows[0].state != app.OutboxPending {
		t.Fatalf("notes = %+v, want the note pending", w.rows)
	}
	if !f.shows("En attente d'envoi") || !f.shows("Consultation pré-anesthésique") {
		t.Error("the note and its state are not listed")
	}
	assertText(t, "status bar", s.bar.pending.Text, "1 envoi en attente")
	test.AssertRendersToMarkup(t, "write_saved.xml", f.u.Window().Canvas())

	// The engine sends it: it leaves the outbox, the tab says sent after a
	// sync started here.
	if err := f.store.Write(context.Background(), &app.Batch{OutboxDone: []app.OutboxID{it.ID}}); err != nil {
		t.Fatal(err)
	}
	f.syncShortcut()
	f.wait()
	if len(w.rows) != 1 || w.rows[0].state != "" || !strings.Contains(noteStateText(w.rows[0]), "Envoyée") {
		t.Fatalf("notes = %+v, want the note sent", w.rows)
	}
}

func TestWriteNoteStates(t *testing.T) {
	f, s, _ := newSyncFixture(t)
	f.signIn(testDoctor, &apptest.Records{})
	retry := testNote(3, app.OutboxRetry)
	retry.Attempts = 2
	f.seedOutbox(testNote(1, app.OutboxConflict), testNote(2, app.OutboxRejected), retry)
	sent := testDocuments(1)[0]
	sent.ID, sent.Title, sent.Source = "urn:test:sent", "Note envoyée", "carnet"
	f.seedDocuments("p1", append(testDocuments(2), sent), testNow)
	_, w := f.openWriteTab(s)
	got := map[string]string{}
	for _, n := range w.rows {
		got[n.meta.Title] = noteStateText(n)
	}
	want := map[string]string{"Note 1": "Conflit", "Note 2": "Refusée", "Note 3": "Nouvel essai prévu", "Note envoyée": "Envoyée"}
	if len(got) != len(want) {
		t.Fatalf("notes = %q, want %q", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("state of %q = %q, want %q", k, got[k], v)
		}
	}
}

func TestWriteNoteRefused(t *testing.T) {
	f, s, _ := newSyncFixture(t)
	f.signIn(testDoctor, &apptest.Records{})
	// DUPONT Jean has a validated identity, not a qualified one: the
	// service refuses to write a note carrying his INS.
	r := f.openRecord(s, "dupont")
	var w *writeTab
	for i, tab := range r.tabList {
		if wt, ok := tab.(*writeTab); ok {
			w = wt
			r.selectTab(i)
		}
	}
	f.wait()
	test.Type(w.text, "Texte")
	test.Tap(w.save)
	f.wait()
	assertText(t, "message", w.msg.Text, message(&app.AccessError{Reason: app.DeniedNotQualified}))
	if items, _ := f.svc.Outbox(context.Background()); len(items) != 0 {
		t.Errorf("outbox holds %d items after a refusal", len(items))
	}
}
