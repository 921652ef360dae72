package engine

import (
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
