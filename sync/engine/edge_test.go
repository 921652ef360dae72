package engine_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/apptest"
	"github.com/carnetdesk/carnet/sync/dmp/dmptest"
	"github.com/carnetdesk/carnet/sync/engine"
)

// fullDisk is a Store whose writes fail with app.ErrNoSpace once armed.
type fullDisk struct {
	app.Store
	full atomic.Bool
}

func (f *fullDisk) Write(ctx context.Context, b *app.Batch) error {
	if f.full.Load() && len(b.Documents) > 0 {
		return fmt.Errorf("vault: write: %w", app.ErrNoSpace)
	}
	return f.Store.Write(ctx, b)
}

// TestDiskFull: the vault fills the disk mid-sync: the engine stops with
// ErrNoSpace, the outbox and what was committed are intact, and a later
// sync completes.
func TestDiskFull(t *testing.T) {
	sb := dmptest.NewTLS(t, dmptest.Options{Patients: 60, Seed: 16})
	rs, pr := client(t, sb, dmptest.KeyGP)
	v, _ := newVault(t, nil)
	ps := watch(t, v, time.Now(), accessible(sb, pr.RPPS, 10)...)
	note := noteItem(ps[0], 1, time.Now())
	note.State, note.NextAttempt = app.OutboxRetry, time.Now().Add(time.Hour) // not sent this time
	if err := v.Write(ctx, &app.Batch{Outbox: []app.OutboxItem{note}}); err != nil {
		t.Fatal(err)
	}
	fd := &fullDisk{Store: v}
	fd.full.Store(true)
	eng := newEngine(t, fd, rs, pr, nil, func(c *engine.Config) { c.CommitResources = 20 })
	sum, err := eng.Once(ctx)
	if !errors.Is(err, app.ErrNoSpace) {
		t.Fatalf("err = %v (%+v)", err, sum)
	}
	if code := engine.RunCLI(ctx, eng, true, 0, &discard{}); code != engine.ExitFailed {
		t.Fatalf("exit %d", code)
	}
	mustCheck(t, v)
	if out, _ := v.Outbox(ctx); len(out) != 1 || out[0].ID != note.ID {
		t.Fatal("the outbox lost an item")
	}
	fd.full.Store(false)
	if sum, err := eng.Once(ctx); err != nil || sum.Patients != len(ps) {
		t.Fatalf("after space was freed: %v %+v", err, sum)
	}
	for _, p := range ps {
		checkMirrors(t, v, serverDocs(t, rs, pr, p, time.Now().Add(-app.FirstOpenWindow)), p)
	}
	mustCheck(t, v)
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// TestServerClockFarAway: the client's clock is three years ahead of the
// service's (the assertions are signed on the service's time, or it would
// refuse them): windows and cursors follow the server's clock, so the
// first sync gets the server's two years and a note submitted later
// arrives.
func TestServerClockFarAway(t *testing.T) {
	sb := dmptest.NewTLS(t, dmptest.Options{Patients: 40, Seed: 17})
	rs, pr := client(t, sb, dmptest.KeyGP)
	other, _ := client(t, sb, dmptest.KeyGP)
	clock := apptest.NewClock(time.Now().Add(3 * 365 * 24 * time.Hour))
	v, _ := newVault(t, clock)
	ps := watch(t, v, clock.Now(), qualified(sb, pr.RPPS, 3)...)
	eng := newEngine(t, v, rs, pr, clock)
	if sum, err := eng.Once(ctx); err != nil || !sum.OK() || sum.Retrieved == 0 {
		t.Fatalf("%v %+v", err, sum)
	}
	for _, p := range ps {
		checkMirrors(t, v, serverDocs(t, rs, pr, p, time.Now().Add(-app.FirstOpenWindow)), p)
	}
	n := noteItem(ps[0], 1, time.Now())
	if _, err := other.Provide(ctx, app.Access{Practitioner: pr, Mode: app.AccessNormal}, ps[0].INS,
		[]app.NewDocument{{Meta: n.Meta, Content: n.Payload}}); err != nil {
		t.Fatal(err)
	}
	if sum, err := eng.Once(ctx); err != nil || sum.Retrieved != 1 {
		t.Fatalf("the later note: %v %+v", err, sum)
	}
}

// TestOldCursor: a cursor older than the service keeps history for (here:
// five years, beyond MaxCursorAge) is not trusted: the engine lists the
// whole window again and the record is complete.
func TestOldCursor(t *testing.T) {
	sb := dmptest.NewTLS(t, dmptest.Options{Patients: 40, Seed: 18})
	rs, pr := client(t, sb, dmptest.KeyGP)
	v, _ := newVault(t, nil)
	p := watch(t, v, time.Now(), accessible(sb, pr.RPPS, 1)...)[0]
	eng := newEngine(t, v, rs, pr, nil)
	if _, err := eng.Once(ctx); err != nil {
		t.Fatal(err)
	}
	m, _ := v.Manifest(ctx, p.ID)
	if len(m.Documents) < 2 {
		t.Skip("too few documents")
	}
	// Lose half the record and go back five years.
	var gone []app.DocumentRef
	contents := 0 // the lost documents whose content was downloaded (not the superseded ones)
	for _, d := range m.Documents[len(m.Documents)/2:] {
		gone = append(gone, app.DocumentRef{Patient: p.ID, ID: d.ID})
		if d.Cached {
			contents++
		}
	}
	m.Documents = m.Documents[:len(m.Documents)/2]
	old := time.Now().Add(-5 * 365 * 24 * time.Hour)
	if err := v.Write(ctx, &app.Batch{Manifests: []app.Manifest{m}, DocumentsGone: gone,
		Cursors: []app.Cursor{{Patient: p.ID, Stream: app.StreamDocuments, Time: old}, {Patient: p.ID, Stream: app.StreamReconciled, Time: time.Now()}}}); err != nil {
		t.Fatal(err)
	}
	if sum, err := eng.Once(ctx); err != nil || sum.Retrieved != contents {
		t.Fatalf("%v %+v (%d lost, %d with content)", err, sum, len(gone), contents)
	}
	checkMirrors(t, v, serverDocs(t, rs, pr, p, time.Now().Add(-app.FirstOpenWindow)), p)
	mustCheck(t, v)
}

// TestFiftyDesks: 50 engines, each with its own vault, sync against one
// sandbox that limits requests (429 with Retry-After): all finish, and no
// request ever came before its Retry-After had passed.
func TestFiftyDesks(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	sb := dmptest.NewTLS(t, dmptest.Options{Patients: 60, Seed: 19, RateLimit: 150, RateBurst: 20})
	ps := accessible(sb, dmptest.Practitioners()[1].RPPS, 20)
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	var services []*countingService
	for d := 0; d < 50; d++ {
		rs, pr := client(t, sb, dmptest.KeyAnesthetist)
		cs := counting(rs)
		services = append(services, cs)
		v, _ := newVault(t, nil)
		mine := watch(t, v, time.Now(), ps[d%len(ps)], ps[(d+7)%len(ps)])
		eng := newEngine(t, v, cs, pr, nil)
		wg.Add(1)
		go func() {
			defer wg.Done()
			sum, err := eng.Once(ctx)
			if err == nil && sum.Patients != len(mine) {
				err = fmt.Errorf("%d/%d patients: %+v", sum.Patients, len(mine), sum.Failures)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	throttled, early := 0, 0
	for _, cs := range services {
		cs.mu.Lock()
		throttled += cs.throttled
		early += cs.early
		cs.mu.Unlock()
	}
	st := sb.LimitStats()
	t.Logf("limited %d, accepted %d, early at the server %d; throttled answers seen %d, early calls %d", st.Limited, st.Accepted, st.Early, throttled, early)
	if throttled == 0 {
		t.Fatal("the limit never applied")
	}
	// The client's count is the authority: it sees when each call is made
	// against the Retry-After its desk received. The server can only guess:
	// a request already in flight when the 429 left (one connection carries
	// the desk's workers) reaches it late under load (-race, 2 cores), so
	// its count is a sanity bound, not a proof.
	// A few calls may still lose the race between the gate check and the
	// call under heavy load; a desk ignoring Retry-After makes hundreds.
	if early > throttled/200 {
		t.Fatalf("%d requests were sent before their Retry-After had passed (%d 429 answers)", early, throttled)
	}
	if st.Early > st.Limited/20 {
		t.Fatalf("the server saw %d early requests for %d 429 answers: a desk ignores Retry-After", st.Early, st.Limited)
	}
}
