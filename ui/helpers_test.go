package ui

import (
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/apptest"
)

// testPassphrase opens the vaults of the tests.
const testPassphrase = "cheval agrafe correct"

// hangGuard bounds a wait for background work: long enough that only a real
// hang trips it on a loaded machine, never a slow run.
const hangGuard = 3 * time.Minute

// fixture is a UI over an in-memory store and a fake clock.
type fixture struct {
	t     testing.TB
	a     fyne.App
	store *apptest.Store
	clock *apptest.Clock
	svc   *app.Service
	u     *UI

	pending chan func() // functions for the UI goroutine
	closed  bool
}

func newFixture(t testing.TB, store *apptest.Store, opt Options) *fixture {
	t.Helper()
	return newFixtureWith(t, store, opt, app.Deps{})
}

// newFixtureWith is newFixture over a service wired with deps's ports (its
// Store, Clock and Log are the fixture's).
func newFixtureWith(t testing.TB, store *apptest.Store, opt Options, deps app.Deps) *fixture {
	t.Helper()
	a := test.NewTempApp(t)
	clock := apptest.NewClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	deps.Store, deps.Clock, deps.Log = store, clock, slog.New(slog.NewTextHandler(io.Discard, nil))
	svc := app.NewService(deps)
	u := New(a, svc, opt)
	u.tick = time.Hour // no countdown fires during a test
	u.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	f := &fixture{t: t, a: a, store: store, clock: clock, svc: svc, u: u, pending: make(chan func(), 1024)}
	// The test goroutine plays the UI goroutine: what background work
	// hands to the UI waits in pending until wait runs it.
	u.do = func(fn func()) { f.pending <- fn }
	t.Cleanup(func() {
		f.close()
		f.wait()
	})
	return f
}

// close closes the window once (the test driver panics on a second Close).
func (f *fixture) close() {
	if !f.closed {
		f.closed = true
		f.u.Window().Close()
	}
}

// newLockedFixture is a fixture over a locked vault holding the test
// patients.
func newLockedFixture(t testing.TB, opt Options) *fixture {
	return newFixture(t, lockedStore(t), opt)
}

// lockedStore is a locked vault holding the test patients.
func lockedStore(t testing.TB) *apptest.Store {
	return apptest.NewLockedStore(testPassphrase, testPatients(t)...)
}

// wait waits until the background work has finished, and runs on the test
// goroutine what it handed to the UI. The bound (minutes) only catches a real
// hang: on a loaded 2-core machine background work can take tens of seconds.
func (f *fixture) wait() {
	f.t.Helper()
	deadline := time.After(hangGuard)
	for {
		done := make(chan struct{})
		go func() {
			f.u.tasks.wait()
			close(done)
		}()
		select {
		case <-done:
		case <-deadline:
			f.t.Fatalf("background work did not finish within %v (hang)", hangGuard)
		}
		ran := false
		for more := true; more; {
			select {
			case fn := <-f.pending:
				fn()
				ran = true
			default:
				more = false
			}
		}
		if !ran {
			return
		}
	}
}

// unlock unlocks through the unlock screen and returns the shell.
func (f *fixture) unlock() *shell {
	f.t.Helper()
	v := f.u.unlock
	if v == nil {
		f.t.Fatal("unlock screen not shown")
	}
	test.Type(v.pass, testPassphrase)
	test.Tap(v.button)
	f.wait()
	if f.u.shell == nil {
		f.t.Fatalf("shell not shown after unlock; message %q", v.msg.Text)
	}
	return f.u.shell
}

// typeAndWait types s one character at a time, waiting after each for the
// search it starts, as a user typing slowly would.
func (f *fixture) typeAndWait(e *entry, s string) {
	f.t.Helper()
	for _, r := range s {
		test.Type(e, string(r))
		f.wait()
	}
}

// texts returns every text shown in the window (labels, entries,
// buttons), dialogs included, hidden objects excluded.
func (f *fixture) texts() []string {
	c := f.u.Window().Canvas()
	out := textsOf(c.Content())
	for _, o := range c.Overlays().List() {
		out = append(out, textsOf(o)...)
	}
	return out
}

// textsOf returns every text shown in o.
func textsOf(o fyne.CanvasObject) []string {
	var out []string
	var walk func(o fyne.CanvasObject)
	walk = func(o fyne.CanvasObject) {
		if o == nil || !o.Visible() {
			return
		}
		switch o := o.(type) {
		case *canvas.Text:
			out = append(out, o.Text)
		case *widget.Label:
			out = append(out, o.Text)
		case *widget.Entry:
			out = append(out, o.Text)
		case *entry:
			out = append(out, o.Text)
		case *widget.Button:
			out = append(out, o.Text)
		}
		switch o := o.(type) {
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
	walk(o)
	return out
}

// shows reports whether some text in the window contains s.
func (f *fixture) shows(s string) bool {
	for _, t := range f.texts() {
		if strings.Contains(t, s) {
			return true
		}
	}
	return false
}

// testPatients are synthetic patients.
func testPatients(t testing.TB) []app.Patient {
	t.Helper()
	ins := func(body string) app.INS {
		key, err := app.INSKey(body)
		if err != nil {
			t.Fatal(err)
		}
		return app.INS{Matricule: body + key, OID: app.OIDINSNIRTest}
	}
	return []app.Patient{
		{ID: "p1", INS: ins("2790351215189"), Status: app.IdentityQualified, BirthName: "MARTIN",
			BirthGivenNames: "Hélène Marie", BirthDate: "1979-03-12", Sex: app.SexFemale},
		{ID: "p2", INS: ins("1501175056012"), Status: app.IdentityValidated, BirthName: "DUPONT",
			BirthGivenNames: "Jean", BirthDate: "1950-11-02", Sex: app.SexMale},
		{ID: "p3", INS: ins("1880629019007"), Status: app.IdentityRecovered, BirthName: "HELLOUIN",
			BirthGivenNames: "Paul", BirthDate: "1988-06-30", Sex: app.SexMale},
		{ID: "p4", Status: app.IdentityProvisional, BirthName: "LE HÉNAFF",
			BirthGivenNames: "Loïc", BirthDate: "2001-01-05", Sex: app.SexUnknown},
	}
}

// assertText fails when got differs from want.
func assertText(t *testing.T, what, got, want string) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %q, want %q", what, got, want)
	}
}
