package app_test

import (
	"context"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/apptest"
)

func TestWatchList(t *testing.T) {
	now := time.Date(2026, 11, 26, 18, 0, 0, 0, time.UTC)
	ins := app.INS{Matricule: "279035121518989", OID: app.OIDINSNIRTest}
	ps := []app.Patient{
		{ID: "recent", INS: ins, BirthName: "A", LastAccess: now.Add(-24 * time.Hour)},
		{ID: "old", INS: ins, BirthName: "B", LastAccess: now.Add(-60 * 24 * time.Hour)},
		{ID: "op2", INS: ins, BirthName: "C", Scheduled: now.Add(16 * time.Hour)},
		{ID: "op1", INS: ins, BirthName: "D", Scheduled: now.Add(14 * time.Hour)},
		{ID: "pinned", INS: ins, BirthName: "E", Pinned: true},
		{ID: "noins", BirthName: "F", Pinned: true},
	}
	store := apptest.NewLockedStore(pass, ps...)
	svc := app.NewService(app.Deps{Store: store, Clock: apptest.NewClock(now)})
	ctx := context.Background()
	if _, err := svc.Unlock(ctx, []byte(pass)); err != nil {
		t.Fatal(err)
	}
	m := app.Manifest{Patient: "op1", CheckedAt: now, Documents: []app.DocumentMeta{{ID: "a"}, {ID: "b"}, {ID: "c", Superseded: true}}}
	if err := store.Write(ctx, &app.Batch{Manifests: []app.Manifest{m}, Documents: []app.DocumentContent{{Patient: "op1", ID: "a", Bytes: []byte("x")}}}); err != nil {
		t.Fatal(err)
	}
	got, err := svc.WatchList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []app.PatientID
	for _, e := range got {
		ids = append(ids, e.Patient.ID)
	}
	// "recent" was opened yesterday: kept fresh by the engine, not listed
	// (only the operating list and explicit pins are).
	want := []app.PatientID{"op1", "op2", "pinned"}
	if len(ids) != len(want) {
		t.Fatalf("watch list %v, want %v", ids, want)
	}
	for i := range want {
		if ids[i] != want[i] {
			t.Fatalf("watch list %v, want %v", ids, want)
		}
	}
	if e := got[0]; e.Documents != 2 || e.Cached != 1 || e.Ready() || !e.CheckedAt.Equal(now) {
		t.Errorf("op1 readiness %+v", e)
	}
}

// TestSetPinned: pinning is explicit and audited; opening a record does not
// put it on the watch list.
func TestSetPinned(t *testing.T) {
	now := time.Date(2026, 11, 26, 18, 0, 0, 0, time.UTC)
	ins := app.INS{Matricule: "279035121518989", OID: app.OIDINSNIRTest}
	store := apptest.NewLockedStore(pass, app.Patient{ID: "p", INS: ins, BirthName: "A", Status: app.IdentityQualified})
	svc := app.NewService(app.Deps{Store: store, Clock: apptest.NewClock(now)})
	ctx := context.Background()
	if _, err := svc.Unlock(ctx, []byte(pass)); err != nil {
		t.Fatal(err)
	}
	svc.SignIn(app.Session{Practitioner: app.Practitioner{RPPS: "1"}, Records: &apptest.Records{}})
	if _, err := svc.OpenPatient(ctx, "p", app.AccessNormal, ""); err != nil {
		t.Fatal(err)
	}
	if l, _ := svc.WatchList(ctx); len(l) != 0 {
		t.Fatalf("opening put the patient on the watch list: %+v", l)
	}
	if err := svc.SetPinned(ctx, "p", true); err != nil {
		t.Fatal(err)
	}
	if l, _ := svc.WatchList(ctx); len(l) != 1 || !l[0].Patient.Pinned {
		t.Fatalf("pinned patient not listed: %+v", l)
	}
	if ev, _ := svc.Audit(ctx, app.AuditFilter{Action: "watch.pin"}); len(ev) != 1 || ev[0].Result != "pinned" {
		t.Fatalf("pin audit %+v", ev)
	}
	if err := svc.SetPinned(ctx, "p", false); err != nil {
		t.Fatal(err)
	}
	if l, _ := svc.WatchList(ctx); len(l) != 0 {
		t.Fatalf("unpinned patient still listed: %+v", l)
	}
}
