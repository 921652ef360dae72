package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
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

// TestOperatingListUnknownPatients is point 8 of the offline issue end to
// end, through `carnet sync --operating-list FILE`'s import and a real
// vault, on both [dmp] protocols: the clinic's list carries the identity
// its identity system holds; a patient not yet in the vault, with a
// qualified, complete identity, is looked up by INS through the session's
// identity gate, added, and its record prefetched by the sync that
// follows; a provisional row and a row whose traits disagree with the
// vault make no request at all and are not scheduled. The command prints
// line numbers and reason codes, never a name or an INS.
func TestOperatingListUnknownPatients(t *testing.T) {
	for _, protocol := range e2eProtocols {
		t.Run(protocol, func(t *testing.T) { operatingListUnknownPatients(t, newE2EWorldOn(t, 13, protocol)) })
	}
}

// operatingListUnknownPatients is TestOperatingListUnknownPatients on world.
func operatingListUnknownPatients(t *testing.T, world *e2eWorld) {
	ctx := context.Background()
	eng := world.signInWithEngine(t)
	var ps []app.Patient
	for _, p := range world.sb.Population() {
		exists, closed, authorised, blocked, _ := world.sb.Patient(p.INS, world.an.RPPS)
		if exists && !closed && authorised && !blocked && p.Status == app.IdentityQualified && p.BirthPlace != "" {
			ps = append(ps, p)
		}
	}
	if len(ps) < 3 {
		t.Fatalf("only %d suitable synthetic patients", len(ps))
	}
	fresh, prov, clash := ps[0], ps[1], ps[2]
	for _, p := range []app.Patient{fresh, prov} { // not yet in the vault
		if err := world.v.Purge(ctx, p.ID); err != nil {
			t.Fatal(err)
		}
	}
	tomorrow := time.Now().AddDate(0, 0, 1).Format("02/01/2006")
	row := func(p app.Patient, status, birthDate string) string {
		d, _ := time.Parse("2006-01-02", birthDate)
		return fmt.Sprintf("%s 08:00;%s;%s;%s;%s;%s;%s;%s;%s\n", tomorrow, p.INS.Matricule, p.BirthName, p.BirthGivenNames,
			d.Format("02/01/2006"), p.Sex, p.BirthPlace, status, p.INS.OID)
	}
	const header = "Date;INS;Nom de naissance;Prénoms de naissance;Date de naissance;Sexe;Lieu de naissance;Statut;OID\n"
	dir := t.TempDir()
	run := func(name, csv string) string {
		t.Helper()
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(csv), 0o600); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if err := importOperatingListFile(ctx, world.svc, path, &out); err != nil {
			t.Fatal(err)
		}
		for _, p := range ps[:3] {
			if strings.Contains(out.String(), p.INS.Matricule) || strings.Contains(out.String(), p.BirthName) {
				t.Errorf("the command printed an INS or a name: %q", out.String())
			}
		}
		return out.String()
	}

	// A provisional identity and disagreeing traits: not one request.
	before := world.sb.Served()
	out := run("bloc-1.csv", header+row(prov, "PROV", prov.BirthDate)+row(clash, "QUAL", "1901-02-03"))
	if n := world.sb.Served() - before; n != 0 {
		t.Fatalf("%d requests to the service for rows not to look up", n)
	}
	want := "operating list: 0 patient(s) scheduled (0 new), 2 to identify\n" +
		"operating list: line 2: to identify: not-qualified\noperating list: line 3: to identify: traits-disagree\n"
	if out != want {
		t.Fatalf("printed %q, want %q", out, want)
	}
	if got, _ := world.v.Patient(ctx, clash.ID); !got.Scheduled.IsZero() {
		t.Fatal("a patient whose listed traits disagree was scheduled")
	}
	if got, _ := world.v.PatientsByINS(ctx, prov.INS); len(got) != 0 {
		t.Fatal("a provisional identity was added")
	}

	// A qualified, complete identity not in the vault: looked up, added,
	// prefetched.
	before = world.sb.Served()
	if out := run("bloc-2.csv", header+row(fresh, "QUAL", fresh.BirthDate)); out != "operating list: 1 patient(s) scheduled (1 new), 0 to identify\n" {
		t.Fatalf("printed %q", out)
	}
	if world.sb.Served() == before {
		t.Fatal("the sandbox counted no lookup")
	}
	added, err := world.v.PatientsByINS(ctx, fresh.INS)
	if err != nil || len(added) != 1 || added[0].Status != app.IdentityQualified || added[0].Scheduled.IsZero() {
		t.Fatalf("added %+v, %v", added, err)
	}
	if sum, err := eng.Once(ctx); err != nil {
		t.Fatalf("sync: %v (%+v)", err, sum)
	}
	m, err := world.v.Manifest(ctx, added[0].ID)
	if err != nil || len(m.Documents) == 0 {
		t.Fatalf("the added patient's record was not prefetched: %v", err)
	}
	for _, d := range m.Documents {
		if !d.Superseded && !d.Cached {
			t.Error("a document of the added patient was not prefetched")
		}
	}
}
