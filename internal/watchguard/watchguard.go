// Package watchguard keeps, in the --watch modes of `carnet sync` and
// `carnet import`, the promise of the desktop's locks: the vault locks when
// idle or at the re-authentication limit between cycles, and the next cycle
// re-opens it with what the command line allows.
package watchguard

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/carnetdesk/carnet/app"
)

// Guard keeps, in the --watch modes of `carnet sync` and `carnet
// import`, the promise of the desktop's locks: between cycles, once idle
// for the vault's auto-lock delay (Settings.AutoLock, 5 minutes by
// default), the vault is locked (keys wiped) and the credential closed;
// and at least every Settings.Reauth (12 hours) whatever the activity.
// The next cycle re-opens them with what the command line allows: the
// --passphrase-file and --pin-file read again, else a prompt on the
// terminal (without one the command stops: nothing is kept in memory to
// re-open unattended).
type Guard struct {
	svc     *app.Service
	clock   app.Clock
	reopen  func(ctx context.Context) error // unlock (and sign in) again
	release func()                          // close the credential; may be nil
	out     io.Writer

	mu       sync.Mutex // held while locking or re-opening
	busy     int        // cycles running
	lastDone time.Time  // end of the last cycle
	opened   time.Time  // last full unlock
}

// New returns the Guard of svc: reopen unlocks (and signs in) again,
// release closes the credential (may be nil), out receives one line per
// lock or re-open. A nil clock is the system's.
func New(svc *app.Service, clock app.Clock, reopen func(context.Context) error, release func(), out io.Writer) *Guard {
	if clock == nil {
		clock = app.SystemClock{}
	}
	now := clock.Now()
	return &Guard{svc: svc, clock: clock, reopen: reopen, release: release, out: out, lastDone: now, opened: now}
}

// since is the larger of the wall-clock and monotonic time from then (a
// suspended computer wakes up locked, as app.Service does).
func since(now, then time.Time) time.Duration {
	return max(now.Sub(then), now.Round(0).Sub(then.Round(0)))
}

// Enter starts a cycle: it locks first when the 12-hour limit passed, then
// re-opens a locked vault. The cycle must not run when it fails.
func (g *Guard) Enter(ctx context.Context) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.clock.Now()
	if !g.svc.Locked() && since(now, g.opened) >= g.svc.Settings().Reauth {
		g.lockLocked(app.LockReauth)
	}
	if g.svc.Locked() {
		if err := g.reopen(ctx); err != nil {
			return fmt.Errorf("re-open after the lock: %w", err)
		}
		g.opened = g.clock.Now()
		fmt.Fprintln(g.out, "vault re-opened")
	}
	g.busy++
	return nil
}

// Leave ends a cycle.
func (g *Guard) Leave() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.busy--
	g.lastDone = g.clock.Now()
}

// Tick locks the vault when no cycle runs and it has been idle for the
// auto-lock delay, or open for the re-authentication limit.
func (g *Guard) Tick() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.busy > 0 || g.svc.Locked() {
		return
	}
	now, set := g.clock.Now(), g.svc.Settings()
	switch {
	case since(now, g.opened) >= set.Reauth:
		g.lockLocked(app.LockReauth)
	case since(now, g.lastDone) >= set.AutoLock:
		g.lockLocked(app.LockIdle)
	}
}

func (g *Guard) lockLocked(reason app.LockReason) {
	g.svc.Lock(reason)
	if g.release != nil {
		g.release()
	}
	fmt.Fprintf(g.out, "vault locked (%s); re-opened at the next cycle\n", reason)
}

// Run calls Tick every interval until ctx is done.
func (g *Guard) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			g.Tick()
		}
	}
}
