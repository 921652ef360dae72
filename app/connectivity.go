package app

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// ConnState is what Carnet knows of its link to the central service,
// derived from real signals: the outcome of every request, and a cheap
// probe with a short deadline.
type ConnState string

// The connectivity states. Unknown: no session, or nothing tried yet.
const (
	ConnUnknown  ConnState = ""
	ConnOnline   ConnState = "online"   // the last request or probe was answered
	ConnDegraded ConnState = "degraded" // a request failed for want of network; a probe checks
	ConnOffline  ConnState = "offline"  // the probe failed too; re-probed with exponential backoff
)

// Connectivity is the state of the link with the time it began and, when
// offline, when the next probe is due.
type Connectivity struct {
	State     ConnState
	Since     time.Time // when the state began
	NextProbe time.Time // offline: when the service is tried again
}

// Prober is implemented by a RecordService that can check, cheaply and
// without touching a patient, that the service answers (its capability
// statement). The connectivity tracker calls it with a short deadline.
type Prober interface {
	Probe(ctx context.Context) error
}

// The probe's timing: its deadline, and the bounds of the exponential
// re-probe while offline.
const (
	ProbeTimeout = 4 * time.Second
	ReprobeMin   = 2 * time.Second
	ReprobeMax   = 60 * time.Second
)

// connTracker derives the connectivity state. observe feeds it request
// outcomes; run probes in the background.
type connTracker struct {
	mu      sync.Mutex
	clock   Clock
	cur     Connectivity
	backoff time.Duration
	wake    chan struct{}
	changed func(from, to Connectivity)
}

func newConnTracker(clock Clock, changed func(from, to Connectivity)) *connTracker {
	return &connTracker{clock: clock, wake: make(chan struct{}, 1), changed: changed}
}

// networkFailure reports whether err says the service could not be reached
// (not a cancel by the user, not an answer of the service).
func networkFailure(err error) bool {
	return err != nil && errors.Is(err, ErrOffline) && !errors.Is(err, context.Canceled)
}

// observe records the outcome of a request to the central service: an
// answer (even a refusal) means online; a network failure moves online to
// degraded and wakes the probe. A cancelled request says nothing.
func (t *connTracker) observe(err error) {
	switch {
	case err != nil && errors.Is(err, context.Canceled):
		return
	case networkFailure(err):
		t.failed(false)
	default:
		t.answered()
	}
}

// answered: the service answered.
func (t *connTracker) answered() {
	t.set(ConnOnline, func() { t.backoff = 0 })
}

// failed: a request (probe false) or the probe (true) could not reach the
// service.
func (t *connTracker) failed(probe bool) {
	t.mu.Lock()
	state := t.cur.State
	t.mu.Unlock()
	switch {
	case state == ConnOffline && !probe:
		return // already offline; the re-probe decides
	case probe || state == ConnDegraded:
		t.set(ConnOffline, func() {
			if t.backoff == 0 {
				t.backoff = ReprobeMin
			} else {
				t.backoff = min(2*t.backoff, ReprobeMax)
			}
			t.cur.NextProbe = t.clock.Now().Add(t.backoff)
		})
	default:
		t.set(ConnDegraded, nil)
		select {
		case t.wake <- struct{}{}:
		default:
		}
	}
}

// set moves to state (update runs under the lock) and reports a change.
func (t *connTracker) set(state ConnState, update func()) {
	t.mu.Lock()
	from := t.cur
	if from.State != state {
		t.cur = Connectivity{State: state, Since: t.clock.Now()}
	}
	if update != nil {
		update()
	}
	to := t.cur
	t.mu.Unlock()
	if from.State != to.State && t.changed != nil {
		t.changed(from, to)
	}
}

// state returns the current connectivity.
func (t *connTracker) state() Connectivity {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.cur
}

// nextWait returns how long the probe loop waits before its next probe,
// and whether it waits for a wake-up instead (online or unknown).
func (t *connTracker) nextWait() (time.Duration, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch t.cur.State {
	case ConnDegraded:
		return 0, false
	case ConnOffline:
		return max(t.cur.NextProbe.Sub(t.clock.Now()), 0), false
	}
	return 0, true
}

// run probes p until ctx ends: at once when degraded, then with
// exponential backoff while offline; online, it sleeps until a request
// fails. after makes the timers (time.After; tests replace it).
func (t *connTracker) run(ctx context.Context, p Prober, after func(time.Duration) <-chan time.Time) {
	for {
		d, idle := t.nextWait()
		switch {
		case idle:
			select {
			case <-ctx.Done():
				return
			case <-t.wake:
				continue // re-read the state
			}
		case d > 0:
			select {
			case <-ctx.Done():
				return
			case <-after(d):
			}
		}
		select { // a wake-up already answered by this probe
		case <-t.wake:
		default:
		}
		pctx, cancel := context.WithTimeout(ctx, ProbeTimeout)
		err := p.Probe(pctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			t.failed(true)
		} else {
			t.answered()
		}
	}
}

// observedRecords reports the outcome of every call to the tracker.
type observedRecords struct {
	RecordService
	t *connTracker
}

// FindPatient implements RecordService.
func (o observedRecords) FindPatient(ctx context.Context, acc Access, ins INS) (RecordStatus, error) {
	st, err := o.RecordService.FindPatient(ctx, acc, ins)
	o.t.observe(err)
	return st, err
}

// GrantAuthorization implements RecordService.
func (o observedRecords) GrantAuthorization(ctx context.Context, acc Access, ins INS) error {
	err := o.RecordService.GrantAuthorization(ctx, acc, ins)
	o.t.observe(err)
	return err
}

// ListDocuments implements RecordService.
func (o observedRecords) ListDocuments(ctx context.Context, acc Access, ins INS, q DocumentQuery, page func([]RemoteDocument) error) error {
	err := o.RecordService.ListDocuments(ctx, acc, ins, q, page)
	o.t.observe(err)
	return err
}

// Retrieve implements RecordService.
func (o observedRecords) Retrieve(ctx context.Context, acc Access, ins INS, doc RemoteDocument) ([]byte, error) {
	b, err := o.RecordService.Retrieve(ctx, acc, ins, doc)
	o.t.observe(err)
	return b, err
}

// Provide implements RecordService.
func (o observedRecords) Provide(ctx context.Context, acc Access, ins INS, docs []NewDocument) (Provided, error) {
	p, err := o.RecordService.Provide(ctx, acc, ins, docs)
	o.t.observe(err)
	return p, err
}

// UpdateMetadata implements RecordService.
func (o observedRecords) UpdateMetadata(ctx context.Context, acc Access, ins INS, doc RemoteDocument, ch MetadataChange) (RemoteDocument, error) {
	d, err := o.RecordService.UpdateMetadata(ctx, acc, ins, doc, ch)
	o.t.observe(err)
	return d, err
}

// Delete implements RecordService.
func (o observedRecords) Delete(ctx context.Context, acc Access, ins INS, doc RemoteDocument) error {
	err := o.RecordService.Delete(ctx, acc, ins, doc)
	o.t.observe(err)
	return err
}

// AccessTraces implements RecordService.
func (o observedRecords) AccessTraces(ctx context.Context, acc Access, ins INS, since time.Time) ([]AccessTrace, error) {
	tr, err := o.RecordService.AccessTraces(ctx, acc, ins, since)
	o.t.observe(err)
	return tr, err
}

// Connectivity returns the state of the link with the central service:
// unknown without a session.
func (s *Service) Connectivity() Connectivity {
	s.mu.Lock()
	t := s.link
	s.mu.Unlock()
	if t == nil {
		return Connectivity{}
	}
	return t.state()
}

// startConnectivity begins tracking the session's link (SignIn): request
// outcomes are observed, and a probe runs when the service can be probed.
// It returns the records to use and the function that stops the probe.
func (s *Service) startConnectivity(rs RecordService) (RecordService, func()) {
	t := newConnTracker(s.clock, func(from, to Connectivity) {
		// One honest line per change, no health data.
		switch to.State {
		case ConnOnline:
			s.log.Info("central service reachable", "previous", string(from.State))
		case ConnDegraded:
			s.log.Warn("central service not answering; checking")
		case ConnOffline:
			s.log.Warn("central service unreachable; working offline", "next_probe", to.NextProbe)
		}
	})
	ctx, stop := context.WithCancel(context.Background())
	if p, ok := rs.(Prober); ok {
		go t.run(ctx, p, time.After)
	}
	s.mu.Lock()
	s.link = t
	s.mu.Unlock()
	return observedRecords{RecordService: rs, t: t}, stop
}

// ReadDocument implements EntryReader when the service underneath does
// (the sync engine's evidence reads must pass through, or a masked or
// deleted document would never leave the vault); else it says so, which the
// engine takes as "no evidence".
func (o observedRecords) ReadDocument(ctx context.Context, acc Access, ins INS, remoteID string) (RemoteDocument, error) {
	r, ok := o.RecordService.(EntryReader)
	if !ok {
		return RemoteDocument{}, fmt.Errorf("read document: the service reads no single entry: %w", ErrInvalid)
	}
	d, err := r.ReadDocument(ctx, acc, ins, remoteID)
	o.t.observe(err)
	return d, err
}

// ConfirmProvided implements WriteConfirmer when the service underneath
// does; else the document found is taken as it is.
func (o observedRecords) ConfirmProvided(ctx context.Context, acc Access, ins INS, found RemoteDocument, doc NewDocument) (RemoteDocument, error) {
	c, ok := o.RecordService.(WriteConfirmer)
	if !ok {
		return found, nil
	}
	d, err := c.ConfirmProvided(ctx, acc, ins, found, doc)
	o.t.observe(err)
	return d, err
}
