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
)

// TestSyncOperatingListFile: `carnet sync --operating-list FILE` imports
// the list into a real vault before the sync (the patients are scheduled,
// and the sync that follows prefetches their records), prints counts and
// never an INS; a missing file is a clear error that changes nothing. On
// both [dmp] protocols.
func TestSyncOperatingListFile(t *testing.T) {
	for _, protocol := range e2eProtocols {
		t.Run(protocol, func(t *testing.T) { syncOperatingListFile(t, newE2EWorldOn(t, 5, protocol)) })
	}
}

// syncOperatingListFile is TestSyncOperatingListFile on world (one [dmp] protocol).
func syncOperatingListFile(t *testing.T, world *e2eWorld) {
	ctx := context.Background()
	eng := world.signInWithEngine(t)
	var csv strings.Builder
	csv.WriteString("INS;date;intervention\n")
	tomorrow := time.Now().AddDate(0, 0, 1).Format("02/01/2006")
	var want []app.Patient
	for _, p := range world.sb.Population() {
		exists, closed, authorised, blocked, _ := world.sb.Patient(p.INS, world.an.RPPS)
		if exists && !closed && authorised && !blocked && p.Status == app.IdentityQualified && len(want) < 2 {
			want = append(want, p)
			fmt.Fprintf(&csv, "%s;%s 08:00;intervention\n", p.INS.Matricule, tomorrow)
		}
	}
	dir := t.TempDir()
	if err := importOperatingListFile(ctx, world.svc, filepath.Join(dir, "absent.csv"), &bytes.Buffer{}); err == nil {
		t.Fatal("a missing file imported")
	}
	path := filepath.Join(dir, "bloc-demain.csv")
	if err := os.WriteFile(path, []byte(csv.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := importOperatingListFile(ctx, world.svc, path, &out); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "operating list: 2 patient(s) scheduled (0 new), 0 to identify\n" {
		t.Errorf("printed %q", got)
	}
	for _, p := range want {
		if strings.Contains(out.String(), p.INS.Matricule) {
			t.Error("an INS was printed")
		}
		got, err := world.v.Patient(ctx, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Scheduled.IsZero() {
			t.Errorf("patient %s not scheduled", p.ID)
		}
	}
	// The sync that follows prefetches the scheduled records.
	if _, err := eng.Once(ctx); err != nil {
		t.Fatalf("sync: %v", err)
	}
	for _, p := range want {
		m, err := world.v.Manifest(ctx, p.ID)
		if err != nil || len(m.Documents) == 0 {
			t.Errorf("scheduled patient %s not prefetched (%v)", p.ID, err)
		}
	}
}
