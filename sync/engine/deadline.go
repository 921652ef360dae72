package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/carnetdesk/carnet/app"
)

// Defaults of the per-request deadline and of the frozen-cycle watchdog.
const (
	// DefaultRequestFloor: no request is given less than this, however
	// fast the service answered so far (a TLS handshake, a slow disk on the
	// other side, a larger document).
	DefaultRequestFloor = 8 * time.Second
	// DefaultRequestCeiling: no request is given more, and a request is
	// given this much until a round trip has been measured.
	DefaultRequestCeiling = 45 * time.Second
	// rttFactor × (smoothed round trip + 4 × its deviation) is a request's
	// deadline between the floor and the ceiling.
	rttFactor = 4
)

// ErrFrozen is the error of a cycle the watchdog cancelled: no request
// ended, no page arrived and nothing was committed for Config.StallAfter.
// It is an app.ErrOffline: a peer that accepts and never answers looks like
// this.
var ErrFrozen = fmt.Errorf("engine: the cycle made no progress: %w", app.ErrOffline)

// rttEstimator is the smoothed round trip of the service's answers
// (RFC 6298: srtt and rttvar, gains 1/8 and 1/4), measured on every request
// that got an answer, refusals included. It survives cycles: a cycle that
// starts on a black-holed network uses what the last one measured.
type rttEstimator struct {
	mu     sync.Mutex
	srtt   time.Duration
	rttvar time.Duration
	n      int
	// backoff doubles the deadline after each request that ran out of it
	// (RFC 6298 §5.5): a link that became slower than measured gets time
	// to be measured again. The next answer resets it.
	backoff int
}

// maxBackoff bounds the deadline's doubling (the ceiling bounds it too).
const maxBackoff = 64

// sample adds one measured request duration.
func (r *rttEstimator) sample(d time.Duration) {
	if d <= 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.n == 0 {
		r.srtt, r.rttvar = d, d/2
	} else {
		diff := r.srtt - d
		if diff < 0 {
			diff = -diff
		}
		r.rttvar = (3*r.rttvar + diff) / 4
		r.srtt = (7*r.srtt + d) / 8
	}
	r.n++
	r.backoff = 0
}

// expired records a request that ran out of its deadline.
func (r *rttEstimator) expired() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.backoff = min(max(2*r.backoff, 2), maxBackoff)
}

// deadline returns a request's deadline: rttFactor × (srtt + 4 rttvar),
// clamped to [floor, ceiling]; the ceiling before any measure.
func (r *rttEstimator) deadline(floor, ceiling time.Duration) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.n == 0 {
		return ceiling
	}
	d := max(rttFactor*(r.srtt+4*r.rttvar), floor)
	if r.backoff > 1 {
		d *= time.Duration(r.backoff)
	}
	return min(d, ceiling)
}

// estimate returns the smoothed round trip (0 before any measure).
func (r *rttEstimator) estimate() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.srtt
}

// RTT returns the smoothed duration of the service's answers the engine
// measured (0 before the first answer).
func (e *Engine) RTT() time.Duration { return e.rtt.estimate() }

// RequestDeadline returns the deadline the next request is given.
func (e *Engine) RequestDeadline() time.Duration {
	return e.rtt.deadline(e.cfg.RequestFloor, e.cfg.RequestCeiling)
}

type kickKey struct{}

// kick tells the attempt running in ctx that it made progress (a listing
// page arrived): its deadline starts again. Without an attempt, nothing.
func kick(ctx context.Context) {
	if f, ok := ctx.Value(kickKey{}).(func()); ok {
		f()
	}
}

// errDeadline is the cause of an attempt cancelled by its deadline.
var errDeadline = fmt.Errorf("engine: no answer within the request deadline: %w", app.ErrOffline)

// attempt runs fn once under the per-request deadline: fn's context is
// cancelled when d passes without fn ending or calling kick. A cancel by
// the deadline is an app.ErrOffline (the service did not answer), whatever
// fn made of it; one by ctx is ctx's error.
func (e *Engine) attempt(ctx context.Context, fn func(context.Context) error) error {
	d := e.RequestDeadline()
	actx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var mu sync.Mutex
	t := time.AfterFunc(d, func() { cancel(errDeadline) })
	defer t.Stop()
	actx = context.WithValue(actx, kickKey{}, func() {
		mu.Lock()
		t.Reset(d)
		mu.Unlock()
		e.beat()
	})
	start := time.Now()
	err := fn(actx)
	e.beat()
	if err == nil || !errors.Is(err, app.ErrOffline) {
		e.rtt.sample(time.Since(start))
	}
	if err != nil && ctx.Err() == nil && errors.Is(context.Cause(actx), errDeadline) {
		e.rtt.expired()
		return fmt.Errorf("%w (after %s)", errDeadline, d.Round(time.Millisecond))
	}
	return err
}

// beat records progress for the frozen-cycle watchdog.
func (e *Engine) beat() { e.beats.Add(1) }

// watchdog cancels the cycle (cancel, with ErrFrozen) when no progress was
// recorded for StallAfter; it returns when ctx is done.
func (e *Engine) watchdog(ctx context.Context, cancel context.CancelCauseFunc, frozen *atomic.Bool) {
	every := max(e.cfg.StallAfter/8, 10*time.Millisecond)
	tick := time.NewTicker(every)
	defer tick.Stop()
	last, since := e.beats.Load(), time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		e.gate.mu.Lock()
		held := e.gate.until.After(timeNow()) // a Retry-After is no freeze
		e.gate.mu.Unlock()
		if b := e.beats.Load(); b != last || held {
			last, since = b, time.Now()
			continue
		}
		if time.Since(since) >= e.cfg.StallAfter {
			frozen.Store(true)
			e.log.Warn("engine: cycle frozen, cancelled", "stalled", e.cfg.StallAfter)
			cancel(ErrFrozen)
			return
		}
	}
}
