package app

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// stepClock is a clock the test moves.
type stepClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *stepClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *stepClock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

var errNet = fmt.Errorf("dmp: find patient: timed out: %w", ErrOffline)

// TestConnectivityTransitions: request outcomes and probe results move the
// state online → degraded → offline and back, one change reported per
// transition; a cancel or an answer of refusal is not a network failure;
// the re-probe interval doubles up to its bound and resets when back.
func TestConnectivityTransitions(t *testing.T) {
	clk := &stepClock{now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	var changes []string
	tr := newConnTracker(clk, func(from, to Connectivity) { changes = append(changes, string(from.State)+"→"+string(to.State)) })

	tr.observe(nil)
	tr.observe(nil)
	tr.observe(context.Canceled)
	tr.observe(fmt.Errorf("open: %w", &AccessError{Reason: DeniedBlocked})) // the service answered
	if got := tr.state().State; got != ConnOnline {
		t.Fatalf("after answers: %q", got)
	}
	tr.observe(errNet)
	if got := tr.state().State; got != ConnDegraded {
		t.Fatalf("after a network failure: %q, want degraded", got)
	}
	select {
	case <-tr.wake:
	default:
		t.Fatal("the probe was not woken by the failure")
	}
	tr.failed(true) // the probe fails
	st := tr.state()
	if st.State != ConnOffline || st.NextProbe.Sub(clk.Now()) != ReprobeMin {
		t.Fatalf("after the probe failed: %+v", st)
	}
	tr.observe(errNet) // more failures while offline: no new change
	want := []time.Duration{2 * ReprobeMin, 4 * ReprobeMin, 8 * ReprobeMin, 16 * ReprobeMin, ReprobeMax, ReprobeMax}
	for i, w := range want {
		tr.failed(true)
		if got := tr.state().NextProbe.Sub(clk.Now()); got != w {
			t.Fatalf("re-probe %d after %v, want %v", i+2, got, w)
		}
	}
	clk.add(time.Minute)
	tr.answered()
	if got := tr.state(); got.State != ConnOnline || !got.Since.Equal(clk.Now()) {
		t.Fatalf("back: %+v", got)
	}
	tr.observe(errNet)
	tr.observe(errNet) // a second failure while degraded: offline without waiting for the probe
	if got := tr.state(); got.State != ConnOffline || got.NextProbe.Sub(clk.Now()) != ReprobeMin {
		t.Fatalf("after two failures: %+v (the backoff must restart)", got)
	}
	wantChanges := "→online|online→degraded|degraded→offline|offline→online|online→degraded|degraded→offline"
	if got := fmt.Sprint(changes); got != fmt.Sprint(splitBar(wantChanges)) {
		t.Fatalf("changes %v, want %v", changes, wantChanges)
	}
}

func splitBar(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '|' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return out
}

// fakeProber answers the probe from a channel of results.
type fakeProber struct {
	results chan error
	calls   chan struct{}
}

func (p *fakeProber) Probe(ctx context.Context) error {
	p.calls <- struct{}{}
	select {
	case err := <-p.results:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// TestConnectivityProbeLoop: the loop probes at once when a request fails,
// waits the backoff while offline (the test fires the timers), and comes
// back online when the probe is answered. Events, not durations.
func TestConnectivityProbeLoop(t *testing.T) {
	clk := &stepClock{now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	changed := make(chan ConnState, 16)
	tr := newConnTracker(clk, func(_, to Connectivity) { changed <- to.State })
	p := &fakeProber{results: make(chan error), calls: make(chan struct{}, 16)}
	timers := make(chan chan time.Time, 16)
	waits := make(chan time.Duration, 16)
	after := func(d time.Duration) <-chan time.Time {
		c := make(chan time.Time, 1)
		waits <- d
		timers <- c
		return c
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { tr.run(ctx, p, after); close(done) }()
	defer func() { cancel(); <-done }()

	tr.observe(nil)
	expect(t, changed, ConnOnline)
	tr.observe(errNet)
	expect(t, changed, ConnDegraded)
	// degraded: the loop probes at once, without a timer
	<-p.calls
	p.results <- errNet
	expect(t, changed, ConnOffline)
	fire(t, waits, timers, ReprobeMin)
	<-p.calls
	p.results <- nil
	expect(t, changed, ConnOnline)
}

func expect(t *testing.T, c chan ConnState, want ConnState) {
	t.Helper()
	select {
	case got := <-c:
		if got != want {
			t.Fatalf("state %q, want %q", got, want)
		}
	case <-time.After(3 * time.Minute): // a hang guard only
		t.Fatalf("no change to %q (hang)", want)
	}
}

func fire(t *testing.T, waits chan time.Duration, timers chan chan time.Time, want time.Duration) {
	t.Helper()
	select {
	case d := <-waits:
		if d != want {
			t.Fatalf("the loop waits %v, want %v", d, want)
		}
		(<-timers) <- time.Time{}
	case <-time.After(3 * time.Minute):
		t.Fatal("the loop set no timer (hang)")
	}
}
