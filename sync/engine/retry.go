package engine

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/carnetdesk/carnet/app"
)

// gate holds every request of the engine until a Retry-After has passed:
// when the service says "slow down", it says it to the whole desk, not to
// one goroutine.
type gate struct {
	mu    sync.Mutex
	until time.Time
}

// hold moves the gate to at least until.
func (g *gate) hold(until time.Time) {
	g.mu.Lock()
	if until.After(g.until) {
		g.until = until
	}
	g.mu.Unlock()
}

// wait sleeps until the gate is open.
func (e *Engine) waitGate(ctx context.Context) error {
	for {
		e.gate.mu.Lock()
		d := e.gate.until.Sub(timeNow())
		e.gate.mu.Unlock()
		if d <= 0 {
			return ctx.Err()
		}
		if err := e.cfg.Sleep(ctx, d); err != nil {
			return err
		}
		// An injected Sleep may return at once: the gate is on the real
		// clock, so make sure the time has passed.
		e.gate.mu.Lock()
		left := e.gate.until.Sub(timeNow())
		e.gate.mu.Unlock()
		if left > 0 {
			if err := realSleep(ctx, left); err != nil {
				return err
			}
		}
	}
}

// retryable reports whether a failed request may succeed if tried again:
// the network, a server fault, a throttle, a corrupted transfer.
func retryable(err error) bool {
	return errors.Is(err, app.ErrOffline) || errors.Is(err, app.ErrServer) ||
		errors.Is(err, app.ErrThrottled) || errors.Is(err, app.ErrIntegrity)
}

// backoff is the wait before attempt try+1: FirstBackoff doubled per
// attempt, with jitter in [0.5, 1.5).
func (e *Engine) backoff(try int) time.Duration {
	d := e.cfg.FirstBackoff << (try - 1)
	if d <= 0 || d > time.Minute {
		d = time.Minute
	}
	return time.Duration(float64(d) * (0.5 + e.cfg.Jitter()))
}

// maxThrottles × Tries is how many 429 answers one request waits through
// before it fails (the job back-off then takes over): with Retry-After of a
// second or so, about a minute of a crowded service.
const maxThrottles = 12

// call runs one request with the per-request retry policy: up to Tries
// attempts for retryable failures, each under the deadline derived from
// the measured round trip (deadline.go), exponential back-off with jitter,
// and a Retry-After holding the whole engine. A context error or a refusal is
// returned at once. Every answer tells whether the service is reachable.
func (e *Engine) call(ctx context.Context, fn func(context.Context) error) error {
	var err error
	throttled := 0
	for try := 1; ; try++ {
		if gerr := e.waitGate(ctx); gerr != nil {
			return gerr
		}
		err = e.attempt(ctx, fn)
		if err == nil || !errors.Is(err, app.ErrOffline) {
			e.offline.Store(0) // the service answered
		} else {
			e.offline.Add(1)
		}
		if err == nil {
			e.setOnline(true)
			e.answered()
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		e.log.Debug("engine: request failed", "try", try, "err", err)
		if !errors.Is(err, app.ErrOffline) {
			e.setOnline(true)
		}
		var we *app.WaitError
		if errors.As(err, &we) && errors.Is(err, app.ErrThrottled) && throttled < maxThrottles*e.cfg.Tries {
			// A throttle is the service pacing its clients, not a
			// failure: it does not use up the attempts (up to a bound).
			throttled++
			try--
			e.throttledBy()
			wait := we.Wait
			if wait <= 0 {
				wait = e.backoff(throttled)
			}
			e.gate.hold(timeNow().Add(wait))
			continue // waitGate sleeps
		}
		if !retryable(err) || try >= e.cfg.Tries {
			return err
		}
		if try >= 2 && errors.Is(err, app.ErrOffline) && e.unreachable() {
			// The service gave no answer to the last 2×Tries attempts of
			// any goroutine, this one's second included (its deadline
			// doubled): trying again only delays the verdict.
			return err
		}
		d := e.backoff(try)
		if serr := e.cfg.Sleep(ctx, d); serr != nil {
			return serr
		}
	}
}

// timeNow is the real clock of the Retry-After gate (the service's delays
// are real time, whatever the injected app.Clock says).
var timeNow = time.Now

// unreachable reports whether the service looks down rather than failing
// one request: no answer at all for the last 2×Tries attempts, whatever
// goroutine made them.
func (e *Engine) unreachable() bool { return e.offline.Load() >= int64(2*e.cfg.Tries) }
