package engine_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/apptest"
	"github.com/carnetdesk/carnet/crypto/credential/credtest"
	"github.com/carnetdesk/carnet/sync/dmp"
	"github.com/carnetdesk/carnet/sync/dmp/dmptest"
	"github.com/carnetdesk/carnet/sync/engine"
	"github.com/carnetdesk/carnet/test/fhirpeer"
)

// opServer is a central service the operating-list day runs against.
type opServer struct {
	rs       *dmp.Client
	pr       app.Practitioner
	patients []app.Patient // four records this practitioner may read, with documents
	copies   func(p app.Patient, id app.DocumentID) int
}

func sandboxOpServer(t *testing.T) opServer {
	sb := dmptest.NewTLS(t, dmptest.Options{Patients: 60, Seed: 31})
	rs, pr := client(t, sb, dmptest.KeyAnesthetist)
	ps := qualified(sb, pr.RPPS, 4)
	if len(ps) < 4 {
		t.Fatal("not enough synthetic patients")
	}
	return opServer{rs: rs, pr: pr, patients: ps, copies: func(p app.Patient, id app.DocumentID) int { return sb.UniqueIDs(p.INS)[id] }}
}

func peerOpServer(t *testing.T) opServer {
	peer := fhirpeer.Shared(t)
	ps, ids := peerPatients(t, peer, 4, 3)
	rs, pr := peerClient(t, peer, peer.URL)
	return opServer{rs: rs, pr: pr, patients: ps, copies: func(p app.Patient, id app.DocumentID) int {
		return countOnPeer(t, peer, ids[p.ID])[string(id)]
	}}
}

// TestOperatingListBothServers: the evening before, tomorrow's operating
// list is imported and the engine prefetches those records; in the theatre
// the service is out of reach and every record opens from the vault; a
// note is written there; back online it lands once and stays. Against the
// sandbox and against the independent peer.
func TestOperatingListBothServers(t *testing.T) {
	for _, k := range []struct {
		name string
		mk   func(*testing.T) opServer
	}{{"sandbox", sandboxOpServer}, {"peer", peerOpServer}} {
		t.Run(k.name, func(t *testing.T) {
			srv := k.mk(t)
			clock := apptest.NewClock(time.Now())
			v, _ := newVault(t, clock)
			// in the directory, not opened for months: only the list
			// makes them watched
			var list []app.Scheduled
			dir := make([]app.Patient, len(srv.patients))
			for i, p := range srv.patients {
				p.LastAccess = clock.Now().AddDate(0, -3, 0)
				p.Revalidated = time.Time{}
				dir[i] = p
				list = append(list, app.Scheduled{Matricule: p.INS.Matricule, Date: clock.Now().Add(20 * time.Hour), Line: i + 2})
			}
			if err := v.Write(ctx, &app.Batch{Patients: dir}); err != nil {
				t.Fatal(err)
			}
			dead := deadClient(t)
			var offline atomic.Bool
			eng := newEngine(t, v, srv.rs, srv.pr, clock, func(c *engine.Config) {
				c.Records = func() (app.RecordService, app.Practitioner, bool) {
					if offline.Load() {
						return dead, srv.pr, true
					}
					return srv.rs, srv.pr, true
				}
			})
			res, err := eng.ImportOperatingList(ctx, list)
			if err != nil || len(res.Scheduled) != 4 || len(res.ToIdentify) != 0 {
				t.Fatalf("%+v %v", res, err)
			}
			if sum, err := eng.Once(ctx); err != nil || !sum.OK() || sum.Patients != 4 {
				t.Fatalf("evening sync: %v %+v", err, sum)
			}
			// In the theatre: the service is out of reach.
			offline.Store(true)
			clock.Advance(10 * time.Hour)
			for _, p := range srv.patients {
				m, err := v.Manifest(ctx, p.ID)
				if err != nil || len(m.Documents) == 0 {
					t.Fatalf("record not prefetched: %v", err)
				}
				for _, d := range m.Documents {
					if d.Superseded {
						continue
					}
					if _, err := v.Document(ctx, p.ID, d.ID); err != nil {
						t.Fatalf("document not readable offline: %v", err)
					}
				}
			}
			it := noteItem(srv.patients[0], 1, clock.Now())
			if err := v.Write(ctx, &app.Batch{Outbox: []app.OutboxItem{it}}); err != nil {
				t.Fatal(err)
			}
			if _, err := eng.Once(ctx); err == nil {
				t.Fatal("a cycle without the service succeeded")
			}
			if out, _ := v.Outbox(ctx); len(out) != 1 {
				t.Fatalf("offline outbox: %d items", len(out))
			}
			// Back online: it lands once, and stays in the vault.
			offline.Store(false)
			clock.Advance(time.Hour)
			for i := 0; i < 3; i++ {
				if _, err := eng.Once(ctx); err != nil {
					t.Fatal(err)
				}
				clock.Advance(2 * time.Minute)
			}
			if out, _ := v.Outbox(ctx); len(out) != 0 {
				t.Fatalf("note not sent: %+v", out)
			}
			if n := srv.copies(srv.patients[0], app.DocumentID(it.ID)); n != 1 {
				t.Fatalf("the note is on the service %d times", n)
			}
			m, _ := v.Manifest(ctx, srv.patients[0].ID)
			if d, ok := m.Document(app.DocumentID(it.ID)); !ok || d.RemoteID == "" {
				t.Fatal("the note left the vault")
			}
			if _, err := v.Document(ctx, srv.patients[0].ID, app.DocumentID(it.ID)); err != nil {
				t.Fatalf("the note's content left the vault: %v", err)
			}
			mustCheck(t, v)
			t.Logf("%s: client paths %v", k.name, srv.rs.Paths())
		})
	}
}

// deadClient is a client of a service that cannot be reached (nothing
// listens on port 1): every request fails as offline.
func deadClient(t *testing.T) *dmp.Client {
	ca, err := credtest.NewCA("")
	if err != nil {
		t.Fatal(err)
	}
	is, err := ca.IssuePractitionerWith(peerIdentity, credtest.Options{ECDSA: true})
	if err != nil {
		t.Fatal(err)
	}
	c, err := dmp.New(dmp.Config{BaseURL: "https://127.0.0.1:1/fhir", Certificate: is.TLSCertificate(), Signer: is.Key,
		Timeout: 5 * time.Second, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}
