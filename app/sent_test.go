package app_test

import (
	"context"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/apptest"
)

// TestSentHistory: the outbox's history is the documents written in Carnet
// that the service acknowledged (a remote id), read from the records, newest
// first, bounded; a document still waiting, one received from the DMP or
// the mailbox, and a purged patient's notes are not in it.
func TestSentHistory(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	ins := app.INS{Matricule: "279035121518989", OID: app.OIDINSNIRTest}
	ps := []app.Patient{{ID: "p1", INS: ins, BirthName: "A"}, {ID: "p2", INS: ins, BirthName: "B"}, {ID: "gone", INS: ins, BirthName: "C"}}
	store := apptest.NewLockedStore(pass, ps...)
	svc := app.NewService(app.Deps{Store: store, Clock: apptest.NewClock(now)})
	ctx := context.Background()
	if _, err := svc.Unlock(ctx, []byte(pass)); err != nil {
		t.Fatal(err)
	}
	at := func(h int) time.Time { return now.Add(-time.Duration(h) * time.Hour) }
	ms := []app.Manifest{
		{Patient: "p1", Documents: []app.DocumentMeta{
			{ID: "n1", Source: "carnet", RemoteID: "r1", Date: at(5), Title: "Note 1"},
			{ID: "n2", Source: "carnet", Date: at(1), Title: "waiting"},
			{ID: "d1", Source: "dmp", RemoteID: "r2", Date: at(2)},
			{ID: "m1", Source: "mssante", Date: at(3)},
		}},
		{Patient: "p2", Documents: []app.DocumentMeta{
			{ID: "n3", Source: "carnet", RemoteID: "r3", Date: at(2), Title: "Note 3"},
			{ID: "n4", Source: "carnet", RemoteID: "r4", Date: at(9), Title: "Note 4"},
		}},
		{Patient: "gone", Documents: []app.DocumentMeta{{ID: "n5", Source: "carnet", RemoteID: "r5", Date: at(1)}}},
	}
	if err := store.Write(ctx, &app.Batch{Manifests: ms}); err != nil {
		t.Fatal(err)
	}
	if err := store.Purge(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	got, err := svc.SentHistory(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []app.DocumentID{"n3", "n1", "n4"}
	if len(got) != len(want) {
		t.Fatalf("sent history %+v, want %v", got, want)
	}
	for i, id := range want {
		if got[i].Meta.ID != id {
			t.Fatalf("item %d = %s, want %s", i, got[i].Meta.ID, id)
		}
	}
	if got[0].Patient != "p2" || got[1].Patient != "p1" {
		t.Errorf("patients %s, %s", got[0].Patient, got[1].Patient)
	}
	if got, _ := svc.SentHistory(ctx, 2); len(got) != 2 || got[1].Meta.ID != "n1" {
		t.Errorf("limit 2: %+v", got)
	}
	svc.Lock(app.LockByUser)
	if _, err := svc.SentHistory(ctx, 0); err == nil {
		t.Error("the history read from a locked vault")
	}
}
