package main

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/cda"
	"github.com/carnetdesk/carnet/internal/config"
	"github.com/carnetdesk/carnet/internal/signin"
	"github.com/carnetdesk/carnet/sync/dmp/dmptest"
	"github.com/carnetdesk/carnet/sync/engine"
	"github.com/carnetdesk/carnet/ui"
)

// TestE2EUI is the desktop issue's end-to-end test, driven through the
// widgets of the real window (Fyne's test driver) over a real vault, the
// sandbox central service over mTLS, the real CDA reader and writer, the
// sync engine and the real sign-in path: unlock → sign in with the
// sandbox credential → search → open a patient → medications → the sandbox
// stops → the record and the medications still open (offline copy) → a
// note is written → the sandbox comes back → Ctrl+R → the note is sent
// once and shows as sent. On both [dmp] protocols.
func TestE2EUI(t *testing.T) {
	for _, protocol := range e2eProtocols {
		t.Run(protocol, func(t *testing.T) { e2eUI(t, newE2EWorldOn(t, 7, protocol)) })
	}
}

// e2eUI is TestE2EUI on world (one [dmp] protocol).
func e2eUI(t *testing.T, world *e2eWorld) {
	sb, an, cfg, v, svc, log := world.sb, world.an, world.cfg, world.v, world.svc, world.log
	ctx := context.Background()
	const pass = e2ePass
	svc.Lock(app.LockByUser)
	svc.SetDocumentReader(cda.Reader{})
	svc.SetDocumentWriter(cda.Writer{FacilityType: app.Code{Code: "SA04", System: "1.2.250.1.71.4.2.4"}, AllowTestINS: true})
	clock := &laterClock{}
	eng, err := engine.New(engine.Config{Store: v, Records: svc.Records, Logger: log, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	svc.SetSyncer(eng)
	sg := &signin.Signer{Config: signin.FixedConfig(cfg), Log: log, Svc: svc}
	defer sg.Close()

	p, ok := sb.FindPatient(func(p app.Patient, exists, closed bool, authz, blocked map[string]bool) bool {
		return exists && !closed && authz[dmptest.KeyAnesthetist] && !blocked[dmptest.KeyAnesthetist] && p.Status == app.IdentityQualified
	})
	if !ok {
		t.Fatal("no suitable synthetic patient")
	}

	// What background work hands to the UI goroutine waits in pending;
	// the driver runs it on the test goroutine, which plays the UI
	// goroutine.
	pending := make(chan func(), 1<<14)
	a := test.NewTempApp(t)
	if err := svc.SetConnectionStore(context.Background(), config.NewMemory(cfg.Connection())); err != nil {
		t.Fatal(err)
	}
	u := ui.New(a, svc, ui.Options{Version: "e2e", SignIn: sg.SignIn, Do: func(f func()) { pending <- f }})
	w := u.Window()
	d := &driver{t: t, w: w, pending: pending}
	defer w.Close()

	// Unlock, then sign in with the PIN the sandbox printed.
	test.Type(d.entry("Phrase de passe"), pass)
	test.Tap(d.button("Déverrouiller"))
	d.waitFor("the shell", func() bool { return d.findButton("Verrouiller") != nil })
	test.Tap(d.button("Se connecter"))
	test.Type(d.entry("Code PIN"), an.PIN)
	test.Tap(d.button("Valider"))
	d.waitFor("the sign-in", func() bool { _, ok := svc.Practitioner(); return ok && d.findButton("Se connecter") == nil })

	// Search by INS, open the record, read the medications.
	openRecord := func() {
		test.Type(d.entry("Rechercher un patient (nom, prénom ou INS)"), p.INS.Matricule)
		var list *widget.List
		d.waitFor("one search result", func() bool {
			list, _ = d.find(func(o fyne.CanvasObject) bool { l, ok := o.(*widget.List); return ok && l.Length() == 1 }).(*widget.List)
			return list != nil
		})
		list.Select(0)
		d.waitFor("the record's tabs", func() bool { return d.tabs() != nil })
	}
	openMeds := func() {
		d.tabs().SelectIndex(1)
		d.waitFor("the medication list", func() bool { return d.shows(" médicament(s), dont ") })
	}
	openRecord()
	if d.shows("Copie hors ligne") {
		t.Fatal("the record opened offline while the sandbox runs")
	}
	openMeds()

	// The sandbox stops answering: every connection is reset.
	sb.FailNext(dmptest.FaultReset, 1<<20)
	test.Tap(d.button("Retour"))
	d.waitFor("the search page", func() bool { return d.tabs() == nil })
	d.entry("Rechercher un patient (nom, prénom ou INS)").SetText("")
	openRecord()
	d.waitFor("the offline notice", func() bool { return d.shows("Copie hors ligne") })
	openMeds()

	// Write a note in the write tab.
	tabs := d.tabs()
	for i, it := range tabs.Items {
		if it.Text == "Rédiger" {
			tabs.SelectIndex(i)
		}
	}
	test.Type(d.entry("Compte rendu de consultation"), "Visite pré-anesthésique")
	test.Type(d.entry("Texte de la note ; une ligne vide sépare les paragraphes"), "Patient vu ce jour. Pas de contre-indication.")
	test.Tap(d.button("Enregistrer (envoi dès que possible)"))
	d.waitFor("the note waiting in the outbox", func() bool { return d.shows("En attente d'envoi") })
	items, err := svc.Outbox(ctx)
	if err != nil || len(items) != 1 {
		t.Fatalf("outbox = %d items, %v; want the note", len(items), err)
	}
	id := items[0].Meta.ID
	if _, err := svc.Document(ctx, p.ID, id, app.Access{}); err != nil {
		t.Fatalf("the note written offline is not readable: %v", err)
	}

	// The sandbox comes back; Ctrl+R sends the note, once.
	sb.ClearFaults()
	clock.skip = time.Hour
	w.Canvas().Unfocus()
	w.Canvas().(fyne.Shortcutable).TypedShortcut(&desktop.CustomShortcut{KeyName: fyne.KeyR, Modifier: fyne.KeyModifierShortcutDefault})
	d.waitFor("the note sent", func() bool { return d.shows("Envoyée") })
	if out, _ := svc.Outbox(ctx); len(out) != 0 {
		t.Fatalf("outbox holds %d items after the sync, want 0", len(out))
	}
	if n := sb.UniqueIDs(p.INS)[id]; n != 1 {
		t.Fatalf("the note is %d times on the server, want once", n)
	}
	d.waitFor("the status bar", func() bool { return d.shows("Aucun envoi en attente") && d.shows("En ligne") })
}

// driver finds widgets in a window and waits for conditions, as a user
// looking at the screen would.
type driver struct {
	t       testing.TB
	w       fyne.Window
	pending chan func() // functions for the UI goroutine
}

// run runs what background work handed to the UI goroutine.
func (d *driver) run() {
	for {
		select {
		case f := <-d.pending:
			f()
		default:
			return
		}
	}
}

// waitFor waits, for a bounded time, until cond holds, running meanwhile
// what background work hands to the UI goroutine.
func (d *driver) waitFor(what string, cond func() bool) {
	d.t.Helper()
	deadline := time.Now().Add(3 * time.Minute) // a hang guard: slow runs under load pass
	for d.run(); !cond(); d.run() {
		if time.Now().After(deadline) {
			d.t.Fatalf("timed out waiting for %s; the window shows %q", what, d.texts())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// walk calls f on every visible object of the window and its overlays
// until f returns true, and returns that object.
func (d *driver) find(f func(fyne.CanvasObject) bool) fyne.CanvasObject {
	var found fyne.CanvasObject
	var walk func(o fyne.CanvasObject) bool
	walk = func(o fyne.CanvasObject) bool {
		if o == nil || !o.Visible() {
			return false
		}
		if f(o) {
			found = o
			return true
		}
		switch o := o.(type) {
		case *fyne.Container:
			for _, c := range append([]fyne.CanvasObject(nil), o.Objects...) {
				if walk(c) {
					return true
				}
			}
		case fyne.Widget:
			for _, c := range test.WidgetRenderer(o).Objects() {
				if walk(c) {
					return true
				}
			}
		}
		return false
	}
	c := d.w.Canvas()
	for _, o := range c.Overlays().List() {
		if walk(o) {
			return found
		}
	}
	walk(c.Content())
	return found
}

// findButton returns the visible button labelled text, or nil.
func (d *driver) findButton(text string) *widget.Button {
	b, _ := d.find(func(o fyne.CanvasObject) bool { b, ok := o.(*widget.Button); return ok && b.Text == text }).(*widget.Button)
	return b
}

// button returns the visible button labelled text, waiting for it.
func (d *driver) button(text string) *widget.Button {
	d.t.Helper()
	var b *widget.Button
	d.waitFor("button "+text, func() bool { b = d.findButton(text); return b != nil && !b.Disabled() })
	return b
}

// entryWidget is what the test needs of an entry (widget.Entry and the
// UI's own entries, which embed it).
type entryWidget interface {
	fyne.Focusable
	SetText(string)
}

// entry returns the visible entry whose placeholder is ph, waiting for it.
func (d *driver) entry(ph string) entryWidget {
	d.t.Helper()
	var e entryWidget
	d.waitFor("entry "+ph, func() bool {
		e, _ = d.find(func(o fyne.CanvasObject) bool {
			v := reflect.ValueOf(o)
			if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
				return false
			}
			f := v.Elem().FieldByName("PlaceHolder")
			_, ok := o.(entryWidget)
			return ok && f.IsValid() && f.Kind() == reflect.String && f.String() == ph
		}).(entryWidget)
		return e != nil
	})
	return e
}

// tabs returns the record's tabs, or nil.
func (d *driver) tabs() *container.AppTabs {
	t, _ := d.find(func(o fyne.CanvasObject) bool { _, ok := o.(*container.AppTabs); return ok }).(*container.AppTabs)
	return t
}

// texts returns the texts shown.
func (d *driver) texts() []string {
	var out []string
	d.find(func(o fyne.CanvasObject) bool {
		switch o := o.(type) {
		case *widget.Label:
			out = append(out, o.Text)
		case *widget.Button:
			out = append(out, o.Text)
		}
		return false
	})
	return out
}

// shows reports whether a label or button shows s.
func (d *driver) shows(s string) bool {
	for _, t := range d.texts() {
		if strings.Contains(t, s) {
			return true
		}
	}
	return false
}
