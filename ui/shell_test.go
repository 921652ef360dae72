package ui

import (
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/carnetdesk/carnet/app"
)

func TestShellAfterUnlock(t *testing.T) {
	f := newLockedFixture(t, Options{Version: "test"})
	s := f.unlock()
	assertText(t, "placeholder", s.search.query.PlaceHolder, "Rechercher un patient (nom, prénom ou INS)")
	assertText(t, "status", s.status.Text, "Coffre déverrouillé — verrouillage automatique dans 5 min")
	if f.u.Window().Canvas().Focused() != s.search.query {
		t.Error("search entry not focused after unlock")
	}
	if !s.search.empty.Visible() || s.search.list.Visible() {
		t.Error("empty state not shown before any search")
	}
	f.clock.Advance(4*time.Minute + 30*time.Second)
	s.updateStatus()
	assertText(t, "status", s.status.Text, "Coffre déverrouillé — verrouillage automatique dans 30 s")
}

func TestSearchAsYouType(t *testing.T) {
	f := newLockedFixture(t, Options{Version: "test"})
	s := f.unlock()
	f.typeAndWait(s.search.query, "hel")
	got := names(s.search.results)
	want := []string{"HELLOUIN Paul", "MARTIN Hélène"}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("results for %q = %q, want %q", "hel", got, want)
	}
	if !s.search.list.Visible() || s.search.empty.Visible() {
		t.Error("list hidden while there are results")
	}
	if s.search.list.Length() != 2 {
		t.Errorf("list length = %d, want 2", s.search.list.Length())
	}
	// The rows show the birth date, sex and status; the INS only for QUAL.
	for _, want := range []string{"MARTIN Hélène", "12/03/1979", "Femme", "QUAL", "2 79 03 51 215 189", "HELLOUIN Paul", "RECUP"} {
		if !f.shows(want) {
			t.Errorf("results do not show %q", want)
		}
	}
	if f.shows("188062901900") {
		t.Error("INS of a RECUP identity shown")
	}
	test.AssertRendersToMarkup(t, "shell.xml", f.u.Window().Canvas())

	f.typeAndWait(s.search.query, "zz")
	if len(s.search.results) != 0 || !s.search.empty.Visible() {
		t.Fatal("empty state not shown for a search without results")
	}
	assertText(t, "empty state", s.search.empty.Text, "Aucun patient ne correspond dans le coffre.")

	s.search.query.SetText("")
	f.wait()
	assertText(t, "empty state", s.search.empty.Text,
		"Saisissez un nom, un prénom ou un INS pour retrouver un patient dont le dossier est conservé sur ce poste.")

	f.typeAndWait(s.search.query, "le hen")
	if got := names(s.search.results); len(got) != 1 || got[0] != "LE HÉNAFF Loïc" {
		t.Errorf("results for %q = %q", "le hen", got)
	}
}

func TestSearchIgnoresStaleAnswers(t *testing.T) {
	f := newLockedFixture(t, Options{})
	s := f.unlock()
	s.search.query.SetText("hel") // starts a search…
	s.search.query.SetText("dup") // …made stale by this one
	f.wait()
	if got := names(s.search.results); len(got) != 1 || got[0] != "DUPONT Jean" {
		t.Errorf("results = %q, want the latest search's", got)
	}
}

func TestSearchByINS(t *testing.T) {
	f := newLockedFixture(t, Options{})
	s := f.unlock()
	f.typeAndWait(s.search.query, "27903")
	if got := names(s.search.results); len(got) != 1 || got[0] != "MARTIN Hélène" {
		t.Errorf("results = %q", got)
	}
}

func TestLockButton(t *testing.T) {
	f := newLockedFixture(t, Options{})
	s := f.unlock()
	f.typeAndWait(s.search.query, "hel")
	test.Tap(s.lock)
	checkLocked(t, f, s)
}

func TestLockShortcut(t *testing.T) {
	f := newLockedFixture(t, Options{})
	s := f.unlock()
	f.typeAndWait(s.search.query, "hel")
	// Ctrl+L while the search entry has the focus: the entry forwards it.
	s.search.query.TypedShortcut(shortcutLock)
	checkLocked(t, f, s)

	// Ctrl+L on the canvas, nothing focused.
	s = f.unlock()
	f.u.Window().Canvas().Unfocus()
	f.u.Window().Canvas().(fyne.Shortcutable).TypedShortcut(shortcutLock)
	checkLocked(t, f, s)
}

func TestIdleLock(t *testing.T) {
	f := newLockedFixture(t, Options{})
	s := f.unlock()
	f.typeAndWait(s.search.query, "hel")
	f.clock.Advance(4 * time.Minute)
	f.svc.Tick()
	if f.svc.Locked() {
		t.Fatal("locked before the idle delay")
	}
	test.Type(s.search.query, "e") // activity postpones the lock
	f.wait()
	f.clock.Advance(4 * time.Minute)
	f.svc.Tick()
	if f.svc.Locked() {
		t.Fatal("typing did not count as activity")
	}
	f.clock.Advance(2 * time.Minute)
	f.svc.Tick() // the idle goroutine of main does this every second
	checkLocked(t, f, s)
	assertText(t, "notice", f.u.unlock.notice.Text, "Le coffre a été verrouillé après une période d'inactivité.")
}

func TestFindShortcut(t *testing.T) {
	f := newLockedFixture(t, Options{})
	s := f.unlock()
	test.Tap(s.openPrefs)
	f.u.Window().Canvas().Unfocus()
	f.u.Window().Canvas().(fyne.Shortcutable).TypedShortcut(shortcutFind)
	if s.page != pageSearch {
		t.Error("Ctrl+F did not come back to the search")
	}
	if f.u.Window().Canvas().Focused() != s.search.query {
		t.Error("Ctrl+F did not focus the search entry")
	}
}

func TestSettingsShortcut(t *testing.T) {
	f := newLockedFixture(t, Options{})
	s := f.unlock()
	s.search.query.TypedShortcut(shortcutSettings) // from the focused search entry
	if s.page != pageSettings {
		t.Fatal("Ctrl+, did not open the settings")
	}
	f.u.Window().Canvas().(fyne.Shortcutable).TypedShortcut(shortcutFind)
	f.u.Window().Canvas().Unfocus()
	f.u.Window().Canvas().(fyne.Shortcutable).TypedShortcut(shortcutSettings)
	if s.page != pageSettings {
		t.Fatal("Ctrl+, on the canvas did not open the settings")
	}
}

func TestActivityArea(t *testing.T) {
	f := newLockedFixture(t, Options{})
	f.unlock()
	f.clock.Advance(4 * time.Minute)
	test.MoveMouse(f.u.Window().Canvas(), fyne.NewPos(400, 600))
	f.clock.Advance(4 * time.Minute)
	f.svc.Tick()
	if f.svc.Locked() {
		t.Error("mouse movement did not count as activity")
	}
}

// checkLocked checks that the vault is locked, the unlock screen shown and
// the old shell s emptied of patient data.
func checkLocked(t *testing.T, f *fixture, s *shell) {
	t.Helper()
	f.wait()
	if !f.svc.Locked() {
		t.Fatal("vault not locked")
	}
	if f.u.unlock == nil || f.u.shell != nil {
		t.Fatal("unlock screen not shown after the lock")
	}
	if len(s.search.results) != 0 || s.search.query.Text != "" || len(s.area.Objects) != 0 {
		t.Error("the old shell still holds patient data")
	}
	for _, name := range []string{"MARTIN", "HELLOUIN", "12/03/1979", "hel"} {
		if f.shows(name) {
			t.Errorf("the window still shows %q", name)
		}
	}
}

func names(ps []app.Patient) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.DisplayName())
	}
	return out
}

// closeFirstBanner taps the close button of the first warning banner.
func closeFirstBanner(t *testing.T, s *shell) {
	t.Helper()
	for _, o := range s.banners.Objects[0].(*fyne.Container).Objects {
		if b, ok := o.(*widget.Button); ok {
			test.Tap(b)
			return
		}
	}
	t.Fatal("banner without a close button")
}

func TestHooksIgnoredAfterClose(t *testing.T) {
	f := newLockedFixture(t, Options{})
	s := f.unlock()
	f.close()
	f.svc.Lock(app.LockShutdown) // what main does after ShowAndRun
	f.wait()
	if f.u.shell != s || len(s.area.Objects) != 0 {
		t.Error("hooks acted on a closed window, or the shell was not disposed")
	}
}

func TestOutboxAndInboxShortcuts(t *testing.T) {
	f := newLockedFixture(t, Options{})
	s := f.unlock()
	c := f.u.Window().Canvas().(fyne.Shortcutable)
	c.TypedShortcut(shortcutOutbox)
	f.wait()
	if s.page != pageOutbox {
		t.Fatalf("Ctrl+Shift+E: page %v, want the outbox", s.page)
	}
	c.TypedShortcut(shortcutInbox)
	f.wait()
	if s.page != pageInbox {
		t.Fatalf("Ctrl+Shift+M: page %v, want the inbox", s.page)
	}
}
