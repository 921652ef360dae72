package ui

import (
	"fmt"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/apptest"
)

func TestAccessTraces(t *testing.T) {
	f := newLockedFixture(t, Options{})
	s := f.unlock()
	release := make(chan struct{})
	rec := &apptest.Records{AccessTracesFn: func(app.Access, app.INS, time.Time) ([]app.AccessTrace, error) {
		<-release
		return []app.AccessTrace{
			{Time: testNow.Add(-48 * time.Hour), Practitioner: "Dr Jean Urgent (810000000009)", Structure: "CHU Nord", Action: "Consultation", Mode: app.AccessEmergency},
			{Time: testNow.Add(-time.Hour), Practitioner: "Dr Anne Durand (810000000001)", Structure: "Clinique du Parc", Action: "Consultation", Mode: app.AccessNormal},
		}, nil
	}}
	f.signIn(testDoctor, rec)
	r := f.openRecord(s, "mart")
	if rec.Calls("AccessTraces") != 0 {
		t.Fatal("traces read before their tab was shown")
	}
	r.tabs.SelectIndex(2)
	tt := r.tabList[2].(*tracesTab)
	if !tt.progress.box.Visible() {
		t.Error("no progress while the traces are read")
	}
	close(release)
	f.wait()
	if len(tt.traces) != 2 || tt.traces[0].Structure != "Clinique du Parc" {
		t.Fatalf("traces = %+v, want 2, newest first", tt.traces)
	}
	for _, want := range []string{"Dr Jean Urgent (810000000009)", "CHU Nord", "28/02/2026 09:00", "Bris de glace", "Accès normal"} {
		if !f.shows(want) {
			t.Errorf("traces tab does not show %q", want)
		}
	}
	row := newTraceRow().(*traceRow)
	row.update(tt.traces[1])
	if row.mode.Importance != widget.DangerImportance || !row.mode.TextStyle.Bold {
		t.Error("bris de glace trace not highlighted")
	}
	row.update(tt.traces[0])
	if row.mode.Importance == widget.DangerImportance {
		t.Error("normal trace highlighted")
	}
	// Shown again: not read again; the reload button reads them.
	r.tabs.SelectIndex(0)
	r.tabs.SelectIndex(2)
	f.wait()
	if n := rec.Calls("AccessTraces"); n != 1 {
		t.Errorf("traces read %d times, want once", n)
	}
	test.Tap(tt.reload)
	f.wait()
	if n := rec.Calls("AccessTraces"); n != 2 {
		t.Errorf("reload: traces read %d times, want 2", n)
	}
}

func TestAccessTracesErrors(t *testing.T) {
	f := newLockedFixture(t, Options{})
	s := f.unlock()
	var err error
	rec := &apptest.Records{AccessTracesFn: func(app.Access, app.INS, time.Time) ([]app.AccessTrace, error) { return nil, err }}
	f.signIn(testDoctor, rec)
	r := f.openRecord(s, "mart")
	tt := r.tabList[2].(*tracesTab)
	for _, tc := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("dmp: traces: %w", app.ErrOffline), "Les traces d'accès sont tenues par le DMP : elles ne sont consultables qu'en ligne, connecté avec votre carte."},
		{fmt.Errorf("dmp: traces: %w", app.ErrServer), "Le service du DMP a rencontré une erreur. Réessayez plus tard."},
		{nil, "Aucune trace d'accès."},
	} {
		err = tc.err
		tt.load()
		f.wait()
		assertText(t, "message", tt.msg.Text, tc.want)
		if tt.list.Visible() {
			t.Error("an empty trace list is shown")
		}
	}
}
