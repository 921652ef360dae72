package ui

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/apptest"
)

// pumpUntil runs on the test goroutine (the UI goroutine) what background
// work hands to the UI, without waiting for that work to end, until cond
// holds. The bound only catches a hang.
func (f *fixture) pumpUntil(what string, cond func() bool) {
	f.t.Helper()
	deadline := time.After(hangGuard)
	for !cond() {
		select {
		case fn := <-f.pending:
			fn()
		case <-deadline:
			f.t.Fatalf("%s did not happen within %v (hang)", what, hangGuard)
		}
	}
}

// events is an ordered log written from several goroutines.
type events struct {
	mu  sync.Mutex
	got []string
}

func (e *events) add(s string) {
	e.mu.Lock()
	e.got = append(e.got, s)
	e.mu.Unlock()
}

func (e *events) list() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.got...)
}

// TestOpenCachedFirst: with the central service black-holed (the call is
// accepted and never answered), a cached record is shown from the vault,
// marked as a copy being refreshed, before any answer of the network; the
// answer then replaces it. The test asserts the order of the events, not
// a duration.
func TestOpenCachedFirst(t *testing.T) {
	f := newLockedFixture(t, Options{})
	s := f.unlock()
	checked := time.Date(2026, 2, 27, 10, 15, 0, 0, time.UTC)
	f.seedDocuments("p1", testDocuments(5), checked)

	var ev events
	release := make(chan struct{})
	rec := &apptest.Records{FindPatientFn: func(app.Access, app.INS) (app.RecordStatus, error) {
		ev.add("network asked")
		<-release // black-holed until the test lets it answer
		ev.add("network answered")
		return app.RecordStatus{Exists: true, Authorization: app.AuthorizationGranted}, nil
	}}
	f.signIn(testDoctor, rec)

	f.typeAndWait(s.search.query, "mart")
	s.search.list.Select(0)
	r := s.record
	if r == nil {
		t.Fatal("record page not shown")
	}
	f.pumpUntil("the cached view", func() bool { return r.shown })
	ev.add("cached view shown")

	assertText(t, "copy notice", r.header.offline.Text, "Copie du 27/02/2026 à 10:15 ; mise à jour auprès du DMP en cours…")
	if d := r.tabList[0].(*documentsTab); d.list.Length() != 5 {
		t.Errorf("cached view lists %d documents, want 5", d.list.Length())
	}
	if !r.progress.box.Visible() {
		t.Error("the background refresh is not shown as running")
	}
	assertText(t, "progress", r.progress.label.Text, "Mise à jour du dossier auprès du DMP…")

	close(release)
	f.wait()
	got := ev.list()
	want := []string{"cached view shown", "network answered"}
	if i := indexOf(got, want[0]); i < 0 || i > indexOf(got, want[1]) {
		t.Fatalf("events %q: the cached view was not shown before the network answered", got)
	}
	if r.header.offline.Visible() || r.progress.box.Visible() {
		t.Errorf("after the answer: copy notice %q or progress still shown", r.header.offline.Text)
	}
	if r.rec.Refreshing || r.rec.Offline {
		t.Error("the refreshed record is still marked as a copy")
	}
}

// TestOpenCachedFirstOutage: the central service fails while the copy is
// shown: the copy stays, marked offline; cancelling the refresh keeps the
// copy.
func TestOpenCachedFirstOutage(t *testing.T) {
	f := newLockedFixture(t, Options{})
	s := f.unlock()
	f.seedDocuments("p1", testDocuments(3), time.Date(2026, 2, 27, 10, 15, 0, 0, time.UTC))
	release := make(chan struct{})
	f.signIn(testDoctor, &apptest.Records{FindPatientFn: func(app.Access, app.INS) (app.RecordStatus, error) {
		<-release
		return app.RecordStatus{}, fmt.Errorf("dmp: find patient: timed out: %w", app.ErrOffline)
	}})
	f.typeAndWait(s.search.query, "mart")
	s.search.list.Select(0)
	r := s.record
	f.pumpUntil("the cached view", func() bool { return r.shown })

	// Cancel the refresh: the copy stays on screen.
	test.Tap(r.progress.cancel)
	close(release)
	f.wait()
	if s.page != pageRecord || !r.shown {
		t.Fatal("cancelling the background refresh left the record")
	}
	if d := r.tabList[0].(*documentsTab); d.list.Length() != 3 {
		t.Errorf("copy lists %d documents after cancel, want 3", d.list.Length())
	}

	// The service answers with a failure: the copy stays, marked offline.
	test.Tap(r.header.refresh)
	f.wait()
	if !r.shown || !r.rec.Offline || r.rec.Refreshing {
		t.Errorf("after a failed refresh: shown %v, offline %v, refreshing %v", r.shown, r.rec.Offline, r.rec.Refreshing)
	}
	assertText(t, "copy notice", r.header.offline.Text, "Copie hors ligne, dernière vérification le 27/02/2026 à 10:15.")
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}
