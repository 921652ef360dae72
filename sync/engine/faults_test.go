package engine_test

import (
	"strings"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/apptest"
	"github.com/carnetdesk/carnet/sync/dmp/dmptest"
	"github.com/carnetdesk/carnet/sync/engine"
)

// TestSyncFaults200: a full sync of 200 sandbox patients while the service
// fails 10 % of requests with 5xx, and throttles, resets, truncates and
// corrupts some: every document arrives once, the vault checks, and the
// patients whose record cannot be read are purged.
func TestSyncFaults200(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	faults, err := dmptest.ParseFaults("5xx=0.1,429=0.002,reset=0.03,truncate=0.02,badhash=0.02")
	if err != nil {
		t.Fatal(err)
	}
	sb := dmptest.NewTLS(t, dmptest.Options{Patients: 200, Seed: 21, Faults: faults})
	rs, pr := client(t, sb, dmptest.KeyGP)
	cs := counting(rs)
	clock := apptest.NewClock(time.Now())
	v, _ := newVault(t, clock)
	all := watch(t, v, clock.Now(), sb.Population()...)
	ok := map[app.PatientID]bool{}
	for _, p := range accessible(sb, pr.RPPS, len(all)) {
		ok[p.ID] = true
	}
	t0 := time.Now()
	// A quarter of the synthetic population is unreadable on purpose:
	// the purge guard (20 % by default) is lifted for this test.
	eng := newEngine(t, v, cs, pr, clock, func(c *engine.Config) { c.MaxPurgeShare = 1 })
	var sum app.SyncSummary
	for cycle := 0; cycle < 4; cycle++ {
		sum, err = eng.Once(ctx)
		if err != nil {
			t.Fatalf("cycle %d: %v", cycle, err)
		}
		if onlyNoRecord(sum.Failures) && sum.PurgeHeld == 0 {
			break
		}
		clock.Advance(time.Hour) // past every job back-off, and confirms losses
	}
	if !onlyNoRecord(sum.Failures) || sum.PurgeHeld != 0 {
		t.Fatalf("failures left after 4 cycles: %+v", sum.Failures)
	}
	_, _, _, got := cs.stats()
	for _, n := range got {
		if n != 1 {
			t.Fatalf("a document arrived %d times", n)
		}
	}
	clean := dmptest.NewTLS(t, dmptest.Options{Patients: 200, Seed: 21}) // same data, no faults
	crs, cpr := client(t, clean, dmptest.KeyGP)
	docs := 0
	for _, p := range all {
		if !ok[p.ID] {
			exists, _, _, _, _ := sb.Patient(p.INS, pr.RPPS)
			_, err := v.Patient(ctx, p.ID)
			switch {
			case exists && err == nil:
				t.Fatalf("a patient whose record cannot be read was kept")
			case !exists && err != nil:
				// zero entries is no evidence: never purged for it
				t.Fatalf("a patient the service did not find was purged: %v", err)
			}
			continue
		}
		server := serverDocs(t, crs, cpr, p, t0.Add(-app.FirstOpenWindow))
		checkMirrors(t, v, server, p)
		docs += len(server)
	}
	rep := mustCheck(t, v)
	t.Logf("throttled %d; %d readable patients, %d documents listed, %d cached, %d downloads", cs.throttled, len(ok), docs, rep.Documents, len(got))
}

// onlyNoRecord reports whether every failure is a patient the service did
// not find (kept, with the reason said).
func onlyNoRecord(fs []app.SyncFailure) bool {
	for _, f := range fs {
		if !strings.Contains(f.Reason, "found no record") {
			return false
		}
	}
	return true
}
