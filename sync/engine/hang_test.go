package engine_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/sync/dmp"
	"github.com/carnetdesk/carnet/sync/dmp/dmptest"
	"github.com/carnetdesk/carnet/sync/engine"
)

// blackHole is a peer that accepts every connection and never answers
// (a black-holed route: not refused, not reset — silent).
type blackHole struct {
	ln       net.Listener
	accepted atomic.Int64
	mu       sync.Mutex
	conns    []net.Conn
}

func newBlackHole(t testing.TB) *blackHole {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	bh := &blackHole{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			bh.accepted.Add(1)
			bh.mu.Lock()
			bh.conns = append(bh.conns, c) // held open, never read nor written
			bh.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		bh.mu.Lock()
		for _, c := range bh.conns {
			c.Close()
		}
		bh.mu.Unlock()
	})
	return bh
}

// blackHoleClient is Carnet's client of the sandbox's practitioner key,
// pointed at the black hole (the sandbox's trust anchors, the same path).
func blackHoleClient(t testing.TB, sb *dmptest.Sandbox, bh *blackHole, key string) *dmp.Client {
	t.Helper()
	cr := sb.PKI.Credentials[key]
	c, err := dmp.New(dmp.Config{BaseURL: "https://" + bh.ln.Addr().String() + "/fhir", Certificate: cr.TLS, Signer: cr.Signer,
		RootCAs: sb.PKI.Pool(), SoftwareName: "Carnet", SoftwareVersion: "test", Timeout: time.Hour, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// TestSyncBlackHoledPeer: the network goes silent after a first sync (a
// peer that accepts and never answers). The next cycle ends by itself —
// the client's own timeout is an hour: only the engine's per-request
// deadline, derived from the round trip it measured, ends the requests —
// as offline, with the vault intact and checking. Then the network comes
// back and the next cycle is online again.
func TestSyncBlackHoledPeer(t *testing.T) {
	sb := dmptest.NewTLS(t, dmptest.Options{Patients: 12, Seed: 16})
	rs, pr := client(t, sb, dmptest.KeyGP)
	bh := newBlackHole(t)
	dead := blackHoleClient(t, sb, bh, dmptest.KeyGP)
	var current atomic.Pointer[app.RecordService]
	live := app.RecordService(rs)
	current.Store(&live)
	v, _ := newVault(t, nil)
	ps := watch(t, v, time.Now(), accessible(sb, pr.RPPS, 6)...)
	eng, err := engine.New(engine.Config{Store: v, Logger: testLogger(), Sleep: noSleep,
		RequestFloor: 300 * time.Millisecond, RequestCeiling: time.Hour,
		Records: func() (app.RecordService, app.Practitioner, bool) { return *current.Load(), pr, true }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eng.Once(ctx); err != nil {
		t.Fatal(err)
	}
	if eng.RTT() <= 0 {
		t.Fatal("no round trip measured on a sync that was answered")
	}
	before := manifests(t, v, ps)
	var silent app.RecordService = dead
	current.Store(&silent)
	// A real hang shows as this context's end, minutes from now.
	hctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	sum, err := eng.Once(hctx)
	if hctx.Err() != nil {
		t.Fatalf("the cycle hung on a silent peer (deadline %s, RTT %s)", eng.RequestDeadline(), eng.RTT())
	}
	if !errors.Is(err, app.ErrOffline) || sum.Online || eng.Status().Online {
		t.Fatalf("a silent peer: %v online=%v status=%+v", err, sum.Online, eng.Status())
	}
	if bh.accepted.Load() == 0 {
		t.Fatal("the black hole was never dialled")
	}
	mustCheck(t, v)
	after := manifests(t, v, ps)
	for id, n := range before {
		if after[id] != n {
			t.Fatalf("the silent cycle changed a cached record: %d → %d documents", n, after[id])
		}
	}
	current.Store(&live)
	if sum, err := eng.Once(ctx); err != nil || !sum.Online || !eng.Status().Online {
		t.Fatalf("back online: %v %+v", err, sum)
	}
	t.Logf("silent cycle: %d connections accepted, deadline %s, RTT %s", bh.accepted.Load(), eng.RequestDeadline(), eng.RTT())
}

// manifests returns the number of cached documents per patient.
func manifests(t testing.TB, v app.Store, ps []app.Patient) map[app.PatientID]int {
	t.Helper()
	out := map[app.PatientID]int{}
	for _, p := range ps {
		m, err := v.Manifest(ctx, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range m.Documents {
			if d.Cached {
				out[p.ID]++
			}
		}
	}
	return out
}

// stuckService never answers and ignores the per-request deadline's
// error: it returns only when the cycle is cancelled (a broken adapter,
// a lock held elsewhere).
type stuckService struct {
	app.RecordService
	entered atomic.Int64
}

func (s *stuckService) FindPatient(ctx context.Context, acc app.Access, ins app.INS) (app.RecordStatus, error) {
	s.entered.Add(1)
	<-ctx.Done()
	return app.RecordStatus{}, ctx.Err() // not classified: not "offline"
}

// TestSyncFrozenCycle: a cycle in which nothing progresses (no request
// ends) is cancelled by the watchdog and reported as frozen (offline), not
// left hanging; the vault checks.
func TestSyncFrozenCycle(t *testing.T) {
	sb := dmptest.NewTLS(t, dmptest.Options{Patients: 4, Seed: 3})
	rs, pr := client(t, sb, dmptest.KeyGP)
	v, _ := newVault(t, nil)
	watch(t, v, time.Now(), accessible(sb, pr.RPPS, 2)...)
	stuck := &stuckService{RecordService: rs}
	eng := newEngine(t, v, stuck, pr, nil, func(c *engine.Config) {
		c.RequestCeiling = time.Hour // the deadline will not save this cycle
		c.RequestFloor = time.Hour
		c.StallAfter = 300 * time.Millisecond
	})
	hctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	sum, err := eng.Once(hctx)
	if hctx.Err() != nil {
		t.Fatal("the frozen cycle was never cancelled")
	}
	if !errors.Is(err, engine.ErrFrozen) || !errors.Is(err, app.ErrOffline) || sum.Online || eng.Status().Online {
		t.Fatalf("frozen cycle: %v online=%v", err, sum.Online)
	}
	if stuck.entered.Load() == 0 {
		t.Fatal("the stuck service was never called")
	}
	mustCheck(t, v)
}

// pauseAfter pauses the sandbox (black-holes it) when the k-th document
// download begins: the network goes silent in the middle of a cycle.
type pauseAfter struct {
	app.RecordService
	sb   *dmptest.Sandbox
	k    int64
	n    atomic.Int64
	once sync.Once
}

func (p *pauseAfter) Retrieve(ctx context.Context, acc app.Access, ins app.INS, doc app.RemoteDocument) ([]byte, error) {
	if p.n.Add(1) == p.k {
		p.once.Do(p.sb.Pause)
	}
	return p.RecordService.Retrieve(ctx, acc, ins, doc)
}

// TestSyncNetworkCutMidCycle: the network goes silent (black-holed, not
// refused) in the middle of the downloads. The cycle ends by itself as
// offline — the deadlines derived from the round trip end the held
// requests —, the vault checks, what was committed stays; when the network
// comes back the next cycle completes the records.
func TestSyncNetworkCutMidCycle(t *testing.T) {
	sb := dmptest.NewTLS(t, dmptest.Options{Patients: 12, Seed: 16})
	rs, pr := client(t, sb, dmptest.KeyGP)
	v, _ := newVault(t, nil)
	ps := watch(t, v, time.Now(), accessible(sb, pr.RPPS, 5)...)
	cut := &pauseAfter{RecordService: rs, sb: sb, k: 6}
	eng := newEngine(t, v, cut, pr, nil, func(c *engine.Config) {
		c.RequestFloor, c.RequestCeiling = time.Second, 10*time.Second
	})
	hctx, cancel := context.WithTimeout(ctx, 5*time.Minute) // a hang shows here
	defer cancel()
	sum, err := eng.Once(hctx)
	if hctx.Err() != nil {
		t.Fatal("the cycle hung when the network went silent")
	}
	if !sb.Paused() {
		t.Fatal("the network was never cut: the test did not test")
	}
	if !errors.Is(err, app.ErrOffline) || sum.Online || eng.Status().Online {
		t.Fatalf("cut mid-cycle: %v online=%v", err, sum.Online)
	}
	mustCheck(t, v)
	sb.Resume()
	if sum, err := eng.Once(ctx); err != nil || !sum.Online {
		t.Fatalf("back online: %v %+v", err, sum.Failures)
	}
	mustCheck(t, v)
	for _, p := range ps {
		checkMirrors(t, v, serverDocs(t, rs, pr, p, time.Now().Add(-app.FirstOpenWindow)), p)
	}
}

// TestSyncCancelWhileBlackHoled: the user cancels a cycle whose requests
// the silent network holds (the walkthrough's "Annuler" that started
// another stuck sync): the cycle returns the cancel at once — without
// waiting for a deadline, set here to an hour —, the vault checks, and a
// new cycle can start.
func TestSyncCancelWhileBlackHoled(t *testing.T) {
	sb := dmptest.NewTLS(t, dmptest.Options{Patients: 12, Seed: 16})
	rs, pr := client(t, sb, dmptest.KeyGP)
	v, _ := newVault(t, nil)
	watch(t, v, time.Now(), accessible(sb, pr.RPPS, 4)...)
	eng := newEngine(t, v, rs, pr, nil, func(c *engine.Config) {
		c.RequestFloor, c.RequestCeiling = time.Hour, time.Hour
	})
	sb.Pause()
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { _, err := eng.Once(cctx); done <- err }()
	hang := time.NewTimer(5 * time.Minute) // a hang guard only
	defer hang.Stop()
	for sb.Held() == 0 {
		select {
		case <-hang.C:
			t.Fatal("no request reached the paused sandbox")
		case err := <-done:
			t.Fatalf("the cycle ended before any request was held: %v", err)
		case <-time.After(5 * time.Millisecond):
		}
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled cycle: %v", err)
		}
	case <-hang.C:
		t.Fatal("cancel did not end the held cycle")
	}
	mustCheck(t, v)
	sb.Resume()
	if sum, err := eng.Once(ctx); err != nil || !sum.Online {
		t.Fatalf("the next cycle: %v", err)
	}
}

// stuckOnce is stuck on its first lookup only (until the cycle is
// cancelled), then answers as the service does.
type stuckOnce struct {
	app.RecordService
	first atomic.Bool
}

func (s *stuckOnce) FindPatient(ctx context.Context, acc app.Access, ins app.INS) (app.RecordStatus, error) {
	if s.first.CompareAndSwap(false, true) {
		<-ctx.Done()
		return app.RecordStatus{}, ctx.Err()
	}
	return s.RecordService.FindPatient(ctx, acc, ins)
}

// TestRunRestartsFrozenCycle: the sync loop restarts a frozen cycle at
// once (not after the job back-off), and the restarted cycle completes.
func TestRunRestartsFrozenCycle(t *testing.T) {
	sb := dmptest.NewTLS(t, dmptest.Options{Patients: 4, Seed: 3})
	rs, pr := client(t, sb, dmptest.KeyGP)
	v, _ := newVault(t, nil)
	watch(t, v, time.Now(), accessible(sb, pr.RPPS, 2)...)
	rctx, cancel := context.WithTimeout(ctx, 5*time.Minute) // a hang guard only
	defer cancel()
	var waits []time.Duration
	eng := newEngine(t, v, &stuckOnce{RecordService: rs}, pr, nil, func(c *engine.Config) {
		c.RequestFloor, c.RequestCeiling = time.Hour, time.Hour
		c.StallAfter = 300 * time.Millisecond
		c.Sleep = func(ctx context.Context, d time.Duration) error {
			waits = append(waits, d)
			if len(waits) == 2 {
				cancel() // two cycles seen: stop the loop
			}
			return ctx.Err()
		}
	})
	if err := eng.Run(rctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v", err)
	}
	if len(waits) != 2 || waits[0] != 0 || waits[1] != time.Hour {
		t.Fatalf("waits between cycles %v, want [0 (restart after the freeze) 1h (the interval after a good cycle)]", waits)
	}
	if st := eng.Status(); !st.Online || st.LastSync.IsZero() {
		t.Fatalf("the restarted cycle did not complete: %+v", st)
	}
	mustCheck(t, v)
}
