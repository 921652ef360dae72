package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/internal/signin"
	"github.com/carnetdesk/carnet/sync/dmp/dmptest"
	"github.com/carnetdesk/carnet/sync/engine"
)

// TestOperatingListOfflineDay is the sync issue's "done when": the evening
// before, an anesthesiologist imports tomorrow's operating list; the engine
// prefetches those records; in the theatre the central service is out of
// reach; every scheduled patient's record and medication list still open
// from the vault; a note is written; back online, it lands once. On both
// [dmp] protocols.
func TestOperatingListOfflineDay(t *testing.T) {
	for _, protocol := range e2eProtocols {
		t.Run(protocol, func(t *testing.T) { operatingListOfflineDay(t, newE2EWorldOn(t, 11, protocol)) })
	}
}

// operatingListOfflineDay is TestOperatingListOfflineDay on world.
func operatingListOfflineDay(t *testing.T, world *e2eWorld) {
	sb, an, cfg, v, svc, log := world.sb, world.an, world.cfg, world.v, world.svc, world.log
	ctx := context.Background()
	sg := &signin.Signer{Config: signin.FixedConfig(cfg), Log: log, Svc: svc}
	defer sg.Close()
	if err := sg.SignIn(ctx, []byte(an.PIN)); err != nil {
		t.Fatal(err)
	}
	clock := &laterClock{}
	eng, err := engine.New(engine.Config{Store: v, Records: svc.Records, Logger: log, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	svc.SetSyncer(eng)

	// Tomorrow's list: four patients the anesthesiologist may open, as the
	// clinic's CSV export gives it.
	var scheduled []app.Patient
	var csv strings.Builder
	csv.WriteString("INS;date;intervention\n")
	tomorrow := time.Now().AddDate(0, 0, 1).Format("02/01/2006")
	for _, p := range sb.Population() {
		if len(scheduled) == 4 {
			break
		}
		exists, closed, authorised, blocked, _ := sb.Patient(p.INS, an.RPPS)
		if exists && !closed && authorised && !blocked && p.Status == app.IdentityQualified {
			scheduled = append(scheduled, p)
			fmt.Fprintf(&csv, "%s;%s 08:00;intervention\n", p.INS.Matricule, tomorrow)
		}
	}
	if len(scheduled) < 4 {
		t.Fatalf("only %d suitable synthetic patients", len(scheduled))
	}
	res, err := svc.ImportOperatingList(ctx, strings.NewReader(csv.String()), "bloc-demain.csv")
	if err != nil || len(res.Scheduled) != 4 || len(res.ToIdentify) != 0 {
		t.Fatalf("import operating list = %+v, %v", res, err)
	}

	// The evening sync prefetches their records.
	sum, err := svc.Sync(ctx)
	if err != nil {
		t.Fatalf("evening sync: %v (%+v)", err, sum)
	}

	// The theatre: no network.
	sb.FailNext(dmptest.FaultReset, 100000)
	for _, p := range scheduled {
		rec, err := svc.OpenPatient(ctx, p.ID, app.AccessNormal, "")
		if err != nil {
			t.Fatalf("open offline: %v", err)
		}
		if !rec.Offline || len(rec.Manifest.Documents) == 0 {
			t.Fatalf("record offline=%v with %d documents", rec.Offline, len(rec.Manifest.Documents))
		}
		for _, d := range rec.Manifest.Documents {
			if !d.Superseded && !d.Cached {
				t.Errorf("a document of a scheduled patient was not prefetched")
			}
		}
		reading, err := svc.ReadMedications(ctx, p.ID)
		if err != nil {
			t.Fatalf("medication list offline: %v", err)
		}
		for _, u := range reading.Unstructured {
			if u.Reason == app.UnstructuredNotCached {
				t.Errorf("medication list offline: a document is not cached")
			}
		}
	}
	item, err := svc.WriteNote(ctx, scheduled[0].ID, app.NoteDraft{Title: "Visite pré-anesthésique", Text: "Vu au bloc, pas de changement."})
	if err != nil {
		t.Fatalf("write note offline: %v", err)
	}

	// Back online: the note lands once.
	sb.ClearFaults()
	clock.skip = time.Hour
	if _, err := svc.Sync(ctx); err != nil {
		t.Fatalf("sync back online: %v", err)
	}
	if n := sb.UniqueIDs(scheduled[0].INS)[item.Meta.ID]; n != 1 {
		t.Fatalf("the note is %d times on the server, want once", n)
	}
	if out, _ := svc.Outbox(ctx); len(out) != 0 {
		t.Fatalf("%d items left in the outbox", len(out))
	}
}
