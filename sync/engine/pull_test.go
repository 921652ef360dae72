package engine_test

import (
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/sync/dmp/dmptest"
	"github.com/carnetdesk/carnet/sync/engine"
)

// checkMirrors verifies that every document the service lists for p within
// the first-open window is in the vault's manifest, cached, byte for byte
// once, and that nothing else from the service is there.
func checkMirrors(t *testing.T, v app.Store, server map[app.DocumentID]app.RemoteDocument, p app.Patient) {
	t.Helper()
	m, err := v.Manifest(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	local := map[app.DocumentID]app.DocumentMeta{}
	for _, d := range m.Documents {
		if _, dup := local[d.ID]; dup {
			t.Fatalf("document listed twice in the manifest")
		}
		local[d.ID] = d
	}
	for id, rd := range server {
		d, ok := local[id]
		if !ok {
			t.Fatalf("a server document is missing from the manifest")
		}
		if d.VersionID != rd.VersionID {
			t.Fatalf("version %s, server %s", d.VersionID, rd.VersionID)
		}
		if rd.Status == "current" && !d.Cached {
			t.Fatalf("a current document was not prefetched")
		}
	}
	for id, d := range local {
		if _, ok := server[id]; !ok && d.RemoteID != "" {
			t.Fatalf("the manifest holds a document the service no longer lists")
		}
	}
}

func TestSyncBasicAndIdle(t *testing.T) {
	sb := dmptest.NewTLS(t, dmptest.Options{Patients: 60, Seed: 5})
	rs, pr := client(t, sb, dmptest.KeyGP)
	cs := counting(rs)
	v, _ := newVault(t, nil)
	ps := watch(t, v, time.Now(), accessible(sb, pr.RPPS, 20)...)
	var last app.SyncProgress
	eng := newEngine(t, v, cs, pr, nil, func(c *engine.Config) {
		c.Progress = func(ev app.SyncProgress) {
			if ev.Percent < last.Percent || ev.Percent > 100 {
				t.Errorf("progress went from %.1f to %.1f", last.Percent, ev.Percent)
			}
			last = ev
		}
	})
	sum, err := eng.Once(ctx)
	if err != nil || !sum.OK() {
		t.Fatalf("first sync: %v %+v", err, sum.Failures)
	}
	if last.Percent != 100 || sum.Patients != len(ps) {
		t.Fatalf("progress %.1f, patients %d/%d", last.Percent, sum.Patients, len(ps))
	}
	_, _, _, got := cs.stats()
	for _, p := range ps {
		server := serverDocs(t, rs, pr, p, time.Now().Add(-app.FirstOpenWindow))
		checkMirrors(t, v, server, p)
	}
	for _, n := range got {
		if n != 1 {
			t.Fatalf("a document was downloaded %d times", n)
		}
	}
	mustCheck(t, v)
	if st := eng.Status(); st.LastSync.IsZero() || !st.Online {
		t.Fatalf("status %+v", st)
	}

	// Idle: nothing changed → no download, ≤ 2 requests per patient.
	calls0, _, _, _ := cs.stats()
	last = app.SyncProgress{}
	sum, err = eng.Once(ctx)
	if err != nil || !sum.OK() || sum.Retrieved != 0 || sum.Documents != 0 {
		t.Fatalf("idle sync: %v %+v", err, sum)
	}
	calls1, _, _, _ := cs.stats()
	if per := float64(calls1-calls0) / float64(len(ps)); per > 2 {
		t.Fatalf("idle sync: %.1f requests per patient", per)
	}
}
