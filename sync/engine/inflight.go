package engine

import (
	"context"
	"sync"
	"time"
)

// MaxFetchers bounds the downloads in flight when Config.Fetchers is left
// to the engine: far below what an HTTP/2 connection allows (250 streams
// by default), enough to fill a 3-second round trip.
const MaxFetchers = 128

// MaxWorkers bounds the patients looked up and listed together when
// Config.Workers is left to the engine.
const MaxWorkers = 32

// workersFor is the number of patients looked up and listed together for
// a measured round trip: DefaultWorkers on a LAN (more only adds CPU and
// contention there), MaxWorkers from 500 ms on, so that the lookups and
// listings of a whole operating list are in flight together; MaxWorkers
// too before anything was measured (the first answers size it).
func workersFor(rtt time.Duration) int {
	if rtt <= 0 {
		return MaxWorkers
	}
	n := int(int64(MaxWorkers) * int64(rtt) / int64(500*time.Millisecond))
	return min(max(n, DefaultWorkers), MaxWorkers)
}

// workerLimit is the patients allowed in lookup and listing now.
func (e *Engine) workerLimit() int {
	if e.cfg.Workers > 0 {
		return e.capped(e.cfg.Workers)
	}
	return e.capped(workersFor(e.rtt.estimate()))
}

// capped bounds n by what the service allows: after a 429 the requests in
// flight are halved, then grow by one per answer (additive increase,
// multiplicative decrease) until the cap no longer binds.
func (e *Engine) capped(n int) int {
	if c := int(e.allowed.Load()); c > 0 && c < n {
		return c
	}
	return n
}

// throttledBy lowers the cap after a 429: half of what was allowed, at
// most DefaultWorkers.
func (e *Engine) throttledBy() {
	for {
		c := e.allowed.Load()
		cur := c
		if cur == 0 {
			cur = int64(e.fetchLimit())
		}
		// Half, and no more than on a LAN: a service that throttles
		// says it is already served faster than it allows.
		if e.allowed.CompareAndSwap(c, max(1, min(cur/2, DefaultWorkers))) {
			return
		}
	}
}

// answered raises the cap by one after an answer; it is lifted once it
// no longer binds.
func (e *Engine) answered() {
	for {
		c := e.allowed.Load()
		if c == 0 {
			return
		}
		next := c + 1
		if next >= MaxFetchers {
			next = 0
		}
		if e.allowed.CompareAndSwap(c, next) {
			return
		}
	}
}

// fetchersFor is the number of downloads kept in flight for a measured
// round trip: the bandwidth-delay product of a link the documents never
// saturate (the issue measured 1.2 MiB in 106 s), so the round trip alone
// sets it: DefaultFetchers up to fetchersFrom, then linearly to
// MaxFetchers at 2 s.
func fetchersFor(rtt time.Duration) int {
	if rtt < fetchersFrom {
		return DefaultFetchers
	}
	n := DefaultFetchers + int(int64(MaxFetchers-DefaultFetchers)*int64(rtt-fetchersFrom)/int64(2*time.Second-fetchersFrom))
	return min(n, MaxFetchers)
}

// fetchersFrom: below this round trip (a LAN, a loaded machine) the
// downloads in flight stay DefaultFetchers; a crowded service answers
// slowly too, and more requests would only crowd it more.
const fetchersFrom = 500 * time.Millisecond

// limiter bounds the requests in flight; its limit is read at every
// acquire, so it follows the round trip the engine measures while the
// cycle runs.
type limiter struct {
	mu    sync.Mutex
	cond  *sync.Cond
	n     int
	limit func() int
}

func newLimiter(limit func() int) *limiter {
	l := &limiter{limit: limit}
	l.cond = sync.NewCond(&l.mu)
	return l
}

// acquire waits for a slot or for ctx.
func (l *limiter) acquire(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() {
		l.mu.Lock()
		l.cond.Broadcast()
		l.mu.Unlock()
	})
	defer stop()
	l.mu.Lock()
	defer l.mu.Unlock()
	for l.n >= l.limit() {
		if err := ctx.Err(); err != nil {
			return err
		}
		l.cond.Wait()
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	l.n++
	return nil
}

// release frees a slot.
func (l *limiter) release() {
	l.mu.Lock()
	l.n--
	l.cond.Broadcast()
	l.mu.Unlock()
}

// fetchLimit is the downloads allowed in flight now.
func (e *Engine) fetchLimit() int {
	if e.cfg.Fetchers > 0 {
		return e.capped(e.cfg.Fetchers)
	}
	return e.capped(fetchersFor(e.rtt.estimate()))
}
