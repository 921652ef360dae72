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
