package engine

import (
	"context"
	"testing"
	"time"
)

// TestRTTDeadline: the per-request deadline follows the measured round
// trip, never below the floor nor above the ceiling, and is the ceiling
// before any measure.
func TestRTTDeadline(t *testing.T) {
	const floor, ceiling = 2 * time.Second, 30 * time.Second
	for _, tc := range []struct {
		name    string
		samples []time.Duration
		want    time.Duration
	}{
		{"no measure: the ceiling", nil, ceiling},
		{"loopback: the floor", []time.Duration{time.Millisecond, 2 * time.Millisecond}, floor},
		{"3 s steady", []time.Duration{3 * time.Second, 3 * time.Second, 3 * time.Second, 3 * time.Second, 3 * time.Second, 3 * time.Second, 3 * time.Second, 3 * time.Second, 3 * time.Second, 3 * time.Second, 3 * time.Second, 3 * time.Second, 3 * time.Second, 3 * time.Second, 3 * time.Second, 3 * time.Second}, 0},
		{"one minute: the ceiling", []time.Duration{time.Minute}, ceiling},
		{"zero and negative ignored", []time.Duration{0, -time.Second}, ceiling},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r rttEstimator
			for _, s := range tc.samples {
				r.sample(s)
			}
			got := r.deadline(floor, ceiling)
			if got < floor && r.n > 0 || got > ceiling {
				t.Fatalf("deadline %s outside [%s, %s]", got, floor, ceiling)
			}
			if tc.want != 0 && got != tc.want {
				t.Fatalf("deadline %s, want %s", got, tc.want)
			}
			if tc.want == 0 && (got <= 3*time.Second || got >= ceiling) {
				// 3 s steady: more than one round trip, less than the ceiling
				t.Fatalf("deadline %s for a steady 3 s round trip", got)
			}
		})
	}
}

// TestRTTDeadlineBackoff: a request that ran out of its deadline doubles
// the next one (up to the ceiling); the next answer measured resets it.
func TestRTTDeadlineBackoff(t *testing.T) {
	const floor, ceiling = time.Second, time.Minute
	var r rttEstimator
	r.sample(time.Millisecond)
	if d := r.deadline(floor, ceiling); d != floor {
		t.Fatalf("deadline %s, want the floor", d)
	}
	r.expired()
	if d := r.deadline(floor, ceiling); d != 2*floor {
		t.Fatalf("after one expiry: %s", d)
	}
	r.expired()
	if d := r.deadline(floor, ceiling); d != 4*floor {
		t.Fatalf("after two: %s", d)
	}
	for i := 0; i < 20; i++ {
		r.expired()
	}
	if d := r.deadline(floor, ceiling); d != ceiling {
		t.Fatalf("after many: %s", d)
	}
	r.sample(time.Millisecond)
	if d := r.deadline(floor, ceiling); d != floor {
		t.Fatalf("after an answer: %s", d)
	}
}

// TestLimiterFollowsLimit: the download limiter admits up to its limit,
// reads the limit at every acquire (it follows the measured round trip),
// and an acquire waiting for a slot returns when its context ends.
func TestLimiterFollowsLimit(t *testing.T) {
	limit := 2
	l := newLimiter(func() int { return limit })
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		if err := l.acquire(ctx); err != nil {
			t.Fatal(err)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- l.acquire(cctx) }()
	cancel()
	if err := <-done; err == nil {
		t.Fatal("a third acquire over a limit of 2 succeeded")
	}
	limit = 3
	if err := l.acquire(ctx); err != nil {
		t.Fatal(err)
	}
	l.release()
	l.release()
	l.release()
	if l.n != 0 {
		t.Fatalf("%d slots held after releasing all", l.n)
	}
	for _, tc := range []struct {
		rtt  time.Duration
		want int
	}{{0, DefaultFetchers}, {time.Millisecond, DefaultFetchers}, {500 * time.Millisecond, DefaultFetchers}, {1250 * time.Millisecond, 68}, {2 * time.Second, MaxFetchers}, {time.Minute, MaxFetchers}} {
		if got := fetchersFor(tc.rtt); got != tc.want {
			t.Errorf("fetchersFor(%s) = %d, want %d", tc.rtt, got, tc.want)
		}
	}
	for _, tc := range []struct {
		rtt  time.Duration
		want int
	}{{0, MaxWorkers}, {time.Millisecond, DefaultWorkers}, {125 * time.Millisecond, 8}, {500 * time.Millisecond, MaxWorkers}, {3 * time.Second, MaxWorkers}} {
		if got := workersFor(tc.rtt); got != tc.want {
			t.Errorf("workersFor(%s) = %d, want %d", tc.rtt, got, tc.want)
		}
	}
}
