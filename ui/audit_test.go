package ui

import (
	"context"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/apptest"
)

// recordEvents appends audit events to the fixture's vault.
func (f *fixture) recordEvents(evs ...app.AuditEvent) {
	f.t.Helper()
	for _, e := range evs {
		if err := f.store.Record(context.Background(), e); err != nil {
			f.t.Fatal(err)
		}
	}
}

func TestJournalPage(t *testing.T) {
	f := newLockedFixture(t, Options{})
	s := f.unlock()
	f.recordEvents(
		app.AuditEvent{Time: testNow.AddDate(0, 0, -10), Action: "dmp.td02", Patient: "p2", Practitioner: "810000000001", Mode: app.AccessNormal, Result: "ok"},
		app.AuditEvent{Time: testNow.Add(-time.Hour), Action: "dmp.iti67", Patient: "p1", Practitioner: "810000000001", Mode: app.AccessEmergency,
			Result: "ok", Detail: "patient inconscient"},
		app.AuditEvent{Time: testNow.Add(-30 * time.Minute), Action: "dmp.td02", Patient: "p1", Practitioner: "810000000001", Result: "denied:blocked"},
	)
	test.Tap(s.openAudit)
	f.wait()
	v := s.journal
	if s.page != pageAudit || v == nil {
		t.Fatal("journal page not shown")
	}
	// Newest first: the log's order reversed (the unlock of the fixture
	// came first).
	if len(v.events) != 4 || v.events[0].Seq != 4 || v.events[3].Action != "vault.unlock" {
		t.Fatalf("events = %+v", v.events)
	}
	for _, want := range []string{"Déverrouillage du coffre", "Recherche du DMP et des droits", "Refusé (blocked)", "Bris de glace", "patient inconscient", "p1"} {
		if !f.shows(want) {
			t.Errorf("journal does not show %q", want)
		}
	}
	if f.shows("MARTIN") || f.shows("Hélène") {
		t.Error("the journal shows a patient's name")
	}
	assertText(t, "count", v.count.Text, "4 événements")

	v.action.SetSelected("Échanges avec le DMP")
	f.wait()
	if len(v.events) != 3 {
		t.Errorf("action filter: %d events, want 3", len(v.events))
	}
	v.period.SetSelected("7 derniers jours")
	f.wait()
	if len(v.events) != 2 {
		t.Errorf("action and date filters: %d events, want 2", len(v.events))
	}
	v.period.SetSelected("Toutes les dates")
	test.Type(v.patientFilter, "p2")
	v.patientFilter.OnSubmitted(v.patientFilter.Text)
	f.wait()
	if len(v.events) != 1 || v.events[0].Patient != "p2" {
		t.Errorf("patient filter: %+v", v.events)
	}
	f.u.Window().Canvas().OnTypedKey()(escape())
	if s.page != pageSearch || s.journal != nil || v.events != nil {
		t.Error("Esc did not leave and drop the journal")
	}
}

func TestRecordJournalTab(t *testing.T) {
	f := newLockedFixture(t, Options{})
	s := f.unlock()
	f.recordEvents(app.AuditEvent{Time: testNow.Add(-time.Hour), Action: "dmp.td02", Patient: "p2", Result: "ok"})
	f.signIn(testDoctor, &apptest.Records{})
	r := f.openRecord(s, "mart")
	r.tabs.SelectIndex(3)
	f.wait()
	v := r.tabList[3].(*recordAuditTab).v
	if len(v.events) == 0 {
		t.Fatal("no event for the record just opened")
	}
	var actions []string
	for _, e := range v.events {
		if e.Patient != "p1" {
			t.Errorf("event of another patient: %+v", e)
		}
		actions = append(actions, e.Action)
	}
	// OpenPatient asked TD0.2 then listed the documents: newest first.
	if got := strings.Join(actions, ","); got != "dmp.iti67,dmp.td02" {
		t.Errorf("actions = %s", got)
	}
	if v.patientFilter != nil {
		t.Error("the record's journal offers a patient filter")
	}
}

func escape() *fyne.KeyEvent { return &fyne.KeyEvent{Name: fyne.KeyEscape} }
