package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/carnetdesk/carnet/app"
)

// Defaults of Config.
const (
	DefaultCommitResources = 1000
	DefaultCommitBytes     = 4 << 20
	DefaultCommitEvery     = 2 * time.Second
	DefaultTries           = 5
	DefaultFirstBackoff    = 250 * time.Millisecond
	DefaultJobBackoff      = 30 * time.Second
	DefaultMaxJobBackoff   = 15 * time.Minute
	DefaultPrefetchBudget  = 1 << 30
	DefaultReconcileEvery  = time.Hour
	DefaultMaxCursorAge    = 30 * 24 * time.Hour
	DefaultLead            = 48 * time.Hour
	DefaultWorkers         = 4
	DefaultFetchers        = 8
	DefaultPageSize        = 100
)

// Config configures an Engine. Store and Records are required; zero fields
// take the defaults above.
type Config struct {
	// Store is the vault, unlocked.
	Store app.Store
	// Records returns the central service of the signed-in practitioner;
	// false when nobody is signed in (the engine then works offline:
	// retention only).
	Records func() (app.RecordService, app.Practitioner, bool)
	// Clock is the client's clock (last sync, re-validation, retention).
	// Cursors and windows always come from the server's clock.
	Clock app.Clock
	// Logger receives operational logs, never identifiers.
	Logger *slog.Logger
	// Sleep waits d or until ctx is done; tests inject one that does not
	// wait for real.
	Sleep func(ctx context.Context, d time.Duration) error
	// Jitter returns a number in [0, 1) for back-off jitter.
	Jitter func() float64

	WatchDays       int           // patients opened within this many days are watched (app.DefaultWatchDays)
	Lead            time.Duration // an operating list entry is prefetched this long ahead
	PrefetchBudget  int64         // bytes of documents prefetched per cycle
	CommitResources int           // commit unit: resources
	CommitBytes     int64         // commit unit: bytes
	CommitEvery     time.Duration // commit unit: time
	Tries           int           // attempts per request
	FirstBackoff    time.Duration // first back-off between attempts
	JobBackoff      time.Duration // first back-off of a job (cycle, item)
	MaxJobBackoff   time.Duration // its ceiling
	ReconcileEvery  time.Duration // full listing at least this often (negative: every cycle)
	MaxCursorAge    time.Duration // an older cursor is not trusted: full listing
	// Workers is how many patients are looked up and listed in parallel;
	// 0: sized from the measured round trip (workersFor: DefaultWorkers
	// on a LAN to MaxWorkers at high latency, MaxWorkers before any
	// measure).
	Workers int
	// Fetchers is how many documents are downloaded in parallel; 0: sized
	// from the measured round trip (fetchersFor: DefaultFetchers to
	// MaxFetchers).
	Fetchers int
	PageSize int // entries per listing page
	// ConfirmAfter is how far apart (engine clock) two cycles must see an
	// explicit loss of access before the patient is purged (default 1 min).
	ConfirmAfter time.Duration
	// MaxPurgeShare: a cycle that would purge more than this share of the
	// watch list purges nothing and says why (default 0.20; 1 or more
	// disables the guard).
	MaxPurgeShare float64
	// RequestFloor and RequestCeiling bound each request's deadline,
	// derived from the measured round trip (defaults DefaultRequestFloor,
	// DefaultRequestCeiling; deadline.go).
	RequestFloor, RequestCeiling time.Duration
	// StallAfter: a cycle in which no request ends, no page arrives and
	// nothing is committed for this long is frozen: cancelled with
	// ErrFrozen (default 2 × RequestCeiling + 30 s).
	StallAfter time.Duration
	// Progress, when set, receives every progress event (from any
	// goroutine, one at a time).
	Progress func(app.SyncProgress)
}

func (c Config) withDefaults() Config {
	if c.Clock == nil {
		c.Clock = app.SystemClock{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.Sleep == nil {
		c.Sleep = realSleep
	}
	if c.Jitter == nil {
		c.Jitter = rand.Float64
	}
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defD := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.WatchDays, app.DefaultWatchDays)
	def(&c.CommitResources, DefaultCommitResources)
	def(&c.Tries, DefaultTries)
	def(&c.PageSize, DefaultPageSize)
	defD(&c.Lead, DefaultLead)
	defD(&c.CommitEvery, DefaultCommitEvery)
	defD(&c.FirstBackoff, DefaultFirstBackoff)
	defD(&c.JobBackoff, DefaultJobBackoff)
	defD(&c.MaxJobBackoff, DefaultMaxJobBackoff)
	defD(&c.ReconcileEvery, DefaultReconcileEvery)
	defD(&c.MaxCursorAge, DefaultMaxCursorAge)
	defD(&c.ConfirmAfter, DefaultConfirmAfter)
	defD(&c.RequestFloor, DefaultRequestFloor)
	defD(&c.RequestCeiling, DefaultRequestCeiling)
	c.RequestFloor = min(c.RequestFloor, c.RequestCeiling)
	defD(&c.StallAfter, 2*c.RequestCeiling+30*time.Second)
	if c.MaxPurgeShare <= 0 {
		c.MaxPurgeShare = DefaultMaxPurgeShare
	}
	if c.CommitBytes <= 0 {
		c.CommitBytes = DefaultCommitBytes
	}
	if c.PrefetchBudget <= 0 {
		c.PrefetchBudget = DefaultPrefetchBudget
	}
	return c
}

func realSleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Engine is the sync loop of one vault. Its methods are safe for concurrent
// use; cycles never overlap.
type Engine struct {
	cfg   Config
	store app.Store
	log   *slog.Logger

	cycle  sync.Mutex // one cycle (or Resolve) at a time
	emitMu sync.Mutex // progress listeners are called one at a time

	gate    gate         // Retry-After: no request before it
	offline atomic.Int64 // attempts in a row without any answer of the service
	rtt     rttEstimator // the service's measured answer time (deadline.go)
	beats   atomic.Int64 // progress of the running cycle, for the watchdog
	allowed atomic.Int64 // requests in flight the service allows after a 429 (0: no cap; inflight.go)

	mu        sync.Mutex
	online    bool
	syncing   bool
	lastSync  time.Time
	pending   int
	failures  int       // consecutive cycles that could not reach the service
	nextCycle time.Time // job back-off
	listeners []func(app.SyncProgress)
	prog      progress
	retryAt   map[app.PatientID]time.Time // per-patient job back-off
	patFail   map[app.PatientID]int
	suspect   map[app.PatientID]suspicion // explicit losses of access not confirmed yet
	// goneSeen: documents a read said not found (no DMP reason), by
	// patient and document, with the engine clock of the first such read:
	// removed only when a later read, ConfirmAfter on, says so again.
	goneSeen map[app.DocumentRef]time.Time
}

var _ app.Syncer = (*Engine)(nil)

// New returns an engine for cfg.
func New(cfg Config) (*Engine, error) {
	if cfg.Store == nil || cfg.Records == nil {
		return nil, errors.New("engine: a store and a records provider are required")
	}
	cfg = cfg.withDefaults()
	e := &Engine{cfg: cfg, store: cfg.Store, log: cfg.Logger,
		retryAt: map[app.PatientID]time.Time{}, patFail: map[app.PatientID]int{}, suspect: map[app.PatientID]suspicion{},
		goneSeen: map[app.DocumentRef]time.Time{}}
	if cfg.Progress != nil {
		e.listeners = append(e.listeners, cfg.Progress)
	}
	return e, nil
}

// OnProgress registers f, called with every progress event.
func (e *Engine) OnProgress(f func(app.SyncProgress)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.listeners = append(e.listeners, f)
}

// Status returns the state the status bar shows.
func (e *Engine) Status() app.SyncStatus {
	e.mu.Lock()
	defer e.mu.Unlock()
	return app.SyncStatus{Online: e.online, Syncing: e.syncing, LastSync: e.lastSync, Pending: e.pending, Progress: e.prog.last}
}

func (e *Engine) setOnline(v bool) {
	e.mu.Lock()
	e.online = v
	e.mu.Unlock()
}

// Run runs a cycle every interval until ctx is done; a cycle that could not
// reach the service is retried after the job back-off (30 s growing to
// 15 min) when that is sooner, a frozen one (ErrFrozen) at once, once.
func (e *Engine) Run(ctx context.Context, interval time.Duration) error {
	frozen := false
	for {
		sum, err := e.Once(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		wait := interval
		if err != nil || !sum.Online {
			if b := e.jobBackoff(); b < wait || wait <= 0 {
				wait = b
			}
			if err != nil {
				e.log.Warn("engine: cycle failed", "err", err)
			}
		}
		// A frozen cycle is restarted at once, once: a fresh cycle opens
		// new connections; frozen again, the job back-off applies.
		if errors.Is(err, ErrFrozen) && !frozen {
			wait = 0
		}
		frozen = errors.Is(err, ErrFrozen)
		if err := e.cfg.Sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// jobBackoff returns the wait after the current run of failed cycles.
func (e *Engine) jobBackoff() time.Duration {
	e.mu.Lock()
	n := e.failures
	e.mu.Unlock()
	return e.backoffJob(n)
}

// backoffJob is JobBackoff doubled per failure after the first, capped.
func (e *Engine) backoffJob(failures int) time.Duration {
	d := e.cfg.JobBackoff
	for i := 1; i < failures && d < e.cfg.MaxJobBackoff; i++ {
		d *= 2
	}
	return min(d, e.cfg.MaxJobBackoff)
}

// errNoSession is Once's error when nobody is signed in: the cycle is
// offline (retention only).
var errNoSession = fmt.Errorf("engine: no practitioner signed in: %w", app.ErrOffline)

// Once runs one cycle: push, pull, purge. The summary says what was done
// and what could not be, per item and patient; the error is for what
// stopped the cycle (the service unreachable, the vault failing or full,
// ctx done).
func (e *Engine) Once(ctx context.Context) (app.SyncSummary, error) {
	e.cycle.Lock()
	defer e.cycle.Unlock()
	sum := app.SyncSummary{Started: e.cfg.Clock.Now()}
	e.mu.Lock()
	e.syncing = true
	e.prog = progress{started: time.Now()}
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		e.syncing = false
		e.mu.Unlock()
	}()
	if e.store.Locked() {
		return sum, fmt.Errorf("engine: %w", app.ErrLocked)
	}
	settings, err := e.store.Settings(ctx)
	if err != nil {
		return sum, fmt.Errorf("engine: settings: %w", err)
	}
	if last, err := e.store.Cursor(ctx, "", app.StreamSync); err == nil {
		e.mu.Lock()
		e.lastSync = last.Time
		e.mu.Unlock()
	}
	rs, pr, ok := e.cfg.Records()
	var cycleErr error
	if !ok {
		cycleErr = errNoSession
	} else {
		sess := &session{rs: rs, acc: app.Access{Practitioner: pr, Mode: app.AccessNormal}}
		if e.offline.Load() == 0 {
			// Nothing failed since the last answer: a cycle that has not
			// asked anything yet is not "offline" (its progress would
			// say so while the service answers).
			e.setOnline(true)
		}
		cycleErr = e.watched(ctx, func(ctx context.Context) error { return e.online1(ctx, sess, settings, &sum) })
	}
	sum.Online = cycleErr == nil
	e.setOnline(cycleErr == nil || !errors.Is(cycleErr, app.ErrOffline))
	// Retention and the re-validation count run offline too.
	e.emit(app.SyncProgress{Phase: app.PhasePurge})
	if err := e.retention(ctx, settings, &sum); err != nil && cycleErr == nil {
		cycleErr = err
	}
	if items, err := e.store.Outbox(ctx); err == nil {
		e.mu.Lock()
		e.pending = len(items)
		e.mu.Unlock()
	}
	sum.Finished = e.cfg.Clock.Now()
	e.mu.Lock()
	if cycleErr != nil {
		e.failures++
	} else {
		e.failures = 0
	}
	e.mu.Unlock()
	if cycleErr == nil {
		if err := e.store.Write(ctx, &app.Batch{Cursors: []app.Cursor{{Stream: app.StreamSync, Time: sum.Finished}}}); err != nil {
			cycleErr = fmt.Errorf("engine: record the sync time: %w", err)
		} else {
			e.mu.Lock()
			e.lastSync = sum.Finished
			e.mu.Unlock()
		}
	}
	e.emit(app.SyncProgress{Phase: app.PhaseDone, Percent: 100})
	_ = e.store.Record(ctx, app.AuditEvent{Time: sum.Finished, Practitioner: pr.RPPS, Structure: pr.Structure.ID,
		Action: "sync.cycle", Result: resultOf(cycleErr),
		Detail: fmt.Sprintf("pushed %d, patients %d/%d, documents %d, purged %d", sum.Pushed, sum.Patients, sum.Watched, sum.Retrieved, sum.Purged)})
	return sum, cycleErr
}

// watched runs the online part of a cycle under the frozen-cycle
// watchdog: when it makes no progress for StallAfter it is cancelled, and
// its error is ErrFrozen whatever it returned.
func (e *Engine) watched(ctx context.Context, f func(context.Context) error) error {
	wctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var frozen atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.watchdog(wctx, cancel, &frozen)
	}()
	err := f(wctx)
	cancel(nil)
	<-done
	if frozen.Load() && ctx.Err() == nil {
		return fmt.Errorf("engine: cycle cancelled after %s without progress: %w", e.cfg.StallAfter, ErrFrozen)
	}
	return err
}

// session is the central service and the access context of a cycle.
type session struct {
	rs  app.RecordService
	acc app.Access
}

// online1 is the online part of a cycle: push, then pull.
func (e *Engine) online1(ctx context.Context, s *session, settings app.Settings, sum *app.SyncSummary) error {
	e.emit(app.SyncProgress{Phase: app.PhasePush})
	if err := e.push(ctx, s, sum); err != nil {
		return err
	}
	e.emit(app.SyncProgress{Phase: app.PhasePull})
	return e.pull(ctx, s, settings, sum)
}

// watchList returns the watched patients, soonest intervention first, then
// pinned, then most recently opened.
func (e *Engine) watchList(ctx context.Context) ([]app.Patient, error) {
	all, err := e.store.Patients(ctx)
	if err != nil {
		return nil, err
	}
	now := e.cfg.Clock.Now()
	var out []app.Patient
	for _, p := range all {
		if app.Watched(p, now, e.cfg.WatchDays, e.cfg.Lead) {
			out = append(out, p)
		}
	}
	rank := func(p app.Patient) int {
		switch {
		case !p.Scheduled.IsZero() && now.Before(p.Scheduled.Add(48*time.Hour)):
			return 0
		case p.Pinned:
			return 1
		}
		return 2
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra < rb
		}
		if !a.Scheduled.Equal(b.Scheduled) {
			return a.Scheduled.Before(b.Scheduled)
		}
		return a.LastAccess.After(b.LastAccess)
	})
	return out, nil
}

func resultOf(err error) string {
	if err == nil {
		return "ok"
	}
	if k := app.KindOf(err); k != nil {
		return k.Error()
	}
	return "internal error"
}

// fail adds a failure to the summary (mu guards concurrent workers).
func (sum *summaryMu) fail(p app.PatientID, item app.OutboxID, err error) {
	sum.mu.Lock()
	defer sum.mu.Unlock()
	sum.s.Failures = append(sum.s.Failures, app.SyncFailure{Patient: p, Item: item, Reason: err.Error()})
}

// summaryMu guards a summary shared by the pull workers.
type summaryMu struct {
	mu sync.Mutex
	s  *app.SyncSummary
}

func (sum *summaryMu) add(f func(s *app.SyncSummary)) {
	sum.mu.Lock()
	defer sum.mu.Unlock()
	f(sum.s)
}
