package engine

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/carnetdesk/carnet/app"
)

// initialToken marks a cursor whose first listing is not finished: the
// listing resumes with the same act-date window (in the token, Unix
// seconds of the server's clock).
const initialToken = "initial:"

// entryBytes is what a document entry is counted for in a commit unit.
const entryBytes = 1024

// pullRun is the shared state of a pull phase.
type pullRun struct {
	s        *session
	settings app.Settings
	c        *committer
	sum      *summaryMu
	budget   atomic.Int64
	fetch    *limiter // download slots
	targets  map[app.DocumentID]app.OutboxItem
	mu       sync.Mutex
	lost     map[app.PatientID]app.DenialReason
	seenNew  map[app.OutboxID]app.RemoteDocument // a newer version of an item's target
	cancel   context.CancelCauseFunc
}

// pull reads every watched patient's record (push has run).
func (e *Engine) pull(ctx context.Context, s *session, settings app.Settings, sum *app.SyncSummary) error {
	watched, err := e.watchList(ctx)
	if err != nil {
		return fmt.Errorf("engine: watch list: %w", err)
	}
	sum.Watched = len(watched)
	e.progress(func(p *progress) { p.patientsN = len(watched) })
	items, err := e.store.Outbox(ctx)
	if err != nil {
		return fmt.Errorf("engine: outbox: %w", err)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	r := &pullRun{s: s, settings: settings, sum: &summaryMu{s: sum}, fetch: newLimiter(e.fetchLimit),
		targets: map[app.DocumentID]app.OutboxItem{}, lost: map[app.PatientID]app.DenialReason{},
		seenNew: map[app.OutboxID]app.RemoteDocument{}, cancel: cancel}
	r.budget.Store(e.cfg.PrefetchBudget)
	for _, it := range items {
		if (it.State == app.OutboxPending || it.State == app.OutboxRetry) && it.BaseVersion != "" {
			switch it.Kind {
			case app.OutboxReplace:
				r.targets[it.Replaces] = it
			case app.OutboxMetadata:
				r.targets[it.Target] = it
			}
		}
	}
	r.c = e.newCommitter(ctx)
	jobs := make(chan app.Patient)
	// Workers look patients up and list them; each patient's downloads
	// then run in the background (bg), so a worker moves on to the next
	// patient at once: no barrier between patients, the downloads of the
	// first in flight while the last are listed.
	var wg, bg sync.WaitGroup
	lookups := newLimiter(e.workerLimit) // follows the measured round trip
	workers := e.cfg.Workers
	if workers <= 0 {
		workers = MaxWorkers
	}
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range jobs {
				if lookups.acquire(ctx) != nil {
					continue // the cycle ends: its error says why
				}
				e.pullOne(ctx, r, p, &bg, lookups.release)
			}
		}()
	}
	now := e.cfg.Clock.Now()
feed:
	for _, p := range watched {
		e.mu.Lock()
		wait := e.retryAt[p.ID]
		e.mu.Unlock()
		if now.Before(wait) {
			r.sum.fail(p.ID, "", fmt.Errorf("engine: pull: waiting for the next attempt"))
			e.progress(func(pg *progress) { pg.patients++ })
			continue
		}
		select {
		case jobs <- p:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	bg.Wait()
	cerr := r.c.close(context.WithoutCancel(ctx))
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if cerr != nil {
		return fmt.Errorf("engine: commit: %w", cerr)
	}
	// Conflicts seen during the pull, then access lost.
	for id, rd := range r.seenNew {
		e.markConflict(context.WithoutCancel(ctx), s, id, rd, sum)
	}
	e.decidePurges(ctx, r.lost, len(watched), sum)
	return nil
}

// pullOne looks one patient up and lists it, calls listed, then downloads
// its documents in the background (bg) and files the outcome when they
// are in.
func (e *Engine) pullOne(ctx context.Context, r *pullRun, p app.Patient, bg *sync.WaitGroup, listed func()) {
	lost, ps, err := e.pullPatient(ctx, r, p)
	listed()
	if lost != "" || err != nil || ps == nil {
		e.file(ctx, r, p, lost, err)
		return
	}
	bg.Add(1)
	go func() {
		defer bg.Done()
		e.file(ctx, r, p, "", e.prefetch(ctx, r, ps))
	}()
}

// file files the outcome of one patient's pull.
func (e *Engine) file(ctx context.Context, r *pullRun, p app.Patient, lost app.DenialReason, err error) {
	defer e.progress(func(pg *progress) { pg.patients++ })
	switch {
	case lost != "":
		r.mu.Lock()
		r.lost[p.ID] = lost
		r.mu.Unlock()
	case err == nil:
		r.sum.add(func(s *app.SyncSummary) { s.Patients++ })
		e.clearSuspicion(p.ID)
		e.mu.Lock()
		delete(e.retryAt, p.ID)
		delete(e.patFail, p.ID)
		e.mu.Unlock()
	case ctx.Err() != nil:
	case errors.Is(err, errNoRecordSeen):
		// said, and asked again next cycle: no back-off, no purge
		r.sum.fail(p.ID, "", err)
	case errors.Is(err, app.ErrOffline) && e.unreachable():
		r.cancel(fmt.Errorf("engine: pull: %w", err))
	case r.c.failed() != nil:
		r.cancel(fmt.Errorf("engine: commit: %w", r.c.failed()))
	default:
		r.sum.fail(p.ID, "", fmt.Errorf("engine: pull: %w", err))
		e.mu.Lock()
		e.patFail[p.ID]++
		e.retryAt[p.ID] = e.cfg.Clock.Now().Add(e.backoffJob(e.patFail[p.ID]))
		e.mu.Unlock()
	}
}

// lostReason tells whether err is an explicit signal that this
// practitioner may no longer read the record: a refusal carrying a DMP
// reason. A bare 404/410 (ErrWithdrawn) or a refusal without a reason is
// no such signal.
func lostReason(err error) app.DenialReason {
	switch r := app.Denial(err); r {
	case app.DeniedBlocked, app.DeniedNoAuthorization, app.DeniedClosed, app.DeniedNoRecord:
		return r
	}
	return ""
}

// statusLost reads a record status for explicit signals of lost access
// (normal mode): closed, blocked, authorisation withdrawn (the service
// says "none"). An unknown authorisation (a server without the extension)
// is no signal: the service decides at each request.
func statusLost(st app.RecordStatus) app.DenialReason {
	switch {
	case !st.Exists && st.Said == app.DeniedNoRecord:
		return app.DeniedNoRecord // the service said so, with the DMP reason
	case !st.Exists:
		return "" // an empty answer: no evidence (see errNoRecordSeen)
	case st.Closed:
		return app.DeniedClosed
	case st.Authorization == app.AuthorizationBlocked:
		return app.DeniedBlocked
	case st.Authorization == app.AuthorizationNone && !st.TreatingDoctor:
		return app.DeniedNoAuthorization
	}
	return ""
}

// pullPatient checks access and lists what changed. It returns the reason
// when access is lost, else the patient's state to prefetch.
func (e *Engine) pullPatient(ctx context.Context, r *pullRun, p app.Patient) (app.DenialReason, *pstate, error) {
	var st app.RecordStatus
	err := e.call(ctx, func(ctx context.Context) error {
		var err error
		st, err = r.s.rs.FindPatient(ctx, r.s.acc, p.INS)
		return err
	})
	if reason := lostReason(err); reason != "" {
		return reason, nil, nil
	}
	if err != nil {
		return "", nil, err
	}
	if reason := statusLost(st); reason != "" {
		return reason, nil, nil
	}
	if !st.Exists {
		return "", nil, errNoRecordSeen
	}
	now := e.cfg.Clock.Now()
	serverNow := st.ServerTime
	if serverNow.IsZero() {
		serverNow = now
	}
	due := app.RevalidationDue(p, r.settings.RevalidationDays, now)
	p.Revalidated = now
	if due { // the vault refuses the manifest until access is confirmed
		if err := e.store.Write(ctx, &app.Batch{Patients: []app.Patient{p}}); err != nil {
			return "", nil, err
		}
	}
	m, err := e.store.Manifest(ctx, p.ID)
	if err != nil && !errors.Is(err, app.ErrNotFound) {
		return "", nil, err
	}
	cur, err := e.store.Cursor(ctx, p.ID, app.StreamDocuments)
	if err != nil {
		return "", nil, err
	}
	rc, err := e.store.Cursor(ctx, p.ID, app.StreamReconciled)
	if err != nil {
		return "", nil, err
	}
	ps := newPState(p, m)
	ps.patientDirty = !due
	l := e.planListing(cur, rc, serverNow)
	l.stored = cur.Time
	err = e.list(ctx, r, ps, l)
	if l.delta() && (errors.Is(err, app.ErrInvalid) || errors.Is(err, app.ErrWithdrawn)) {
		// The service no longer answers from that far back: list it all.
		l = listing{full: true, actSince: serverNow.Add(-app.FirstOpenWindow), stored: cur.Time, serverNow: serverNow}
		err = e.list(ctx, r, ps, l)
	}
	if reason := lostReason(err); reason != "" {
		return reason, nil, nil
	}
	if err != nil {
		return "", nil, err
	}
	return "", ps, nil
}

// listing is what one patient's listing asks for.
type listing struct {
	full      bool      // every document of the window: disappearances are detected
	actSince  time.Time // act-date window (first listing, reconciliation)
	since     time.Time // _lastUpdated ≥ (delta), already minus the overlap
	token     string    // cursor token while the first listing runs
	stored    time.Time // the cursor before this listing
	serverNow time.Time
}

func (l listing) delta() bool { return !l.since.IsZero() && l.token == "" }

// wanted reports whether an entry belongs to the cached record: an unknown
// document the overlap brings back, older than the stored cursor and
// outside the first-open window, was left out on purpose (the first
// listing covers FirstOpenWindow of act dates) and stays out; a document
// submitted after the cursor comes in whatever its act date, and so does
// one whose service gives no update time (an XDS registry: its delta
// holds only what was submitted since the cursor).
func (l listing) wanted(ps *pstate, rd app.RemoteDocument) bool {
	if _, known := ps.index[rd.Meta.ID]; known || l.stored.IsZero() || l.full {
		return true
	}
	window := l.serverNow.Add(-app.FirstOpenWindow)
	return rd.LastUpdated.IsZero() || rd.LastUpdated.After(l.stored) || !rd.Meta.Date.Before(window)
}

// planListing chooses between the first listing (or its resumption), a
// reconciliation and a delta.
func (e *Engine) planListing(cur, rc app.Cursor, serverNow time.Time) listing {
	window := serverNow.Add(-app.FirstOpenWindow)
	switch {
	case cur.Time.IsZero() && !strings.HasPrefix(cur.Token, initialToken):
		return listing{full: true, actSince: window, token: initialToken + strconv.FormatInt(window.Unix(), 10), serverNow: serverNow}
	case strings.HasPrefix(cur.Token, initialToken):
		sec, err := strconv.ParseInt(strings.TrimPrefix(cur.Token, initialToken), 10, 64)
		if err != nil {
			return listing{full: true, actSince: window, serverNow: serverNow}
		}
		l := listing{actSince: time.Unix(sec, 0).UTC(), token: cur.Token, serverNow: serverNow}
		if cur.Time.IsZero() {
			l.full = true
		} else {
			l.since = cur.Time.Add(-app.CursorOverlap)
		}
		return l
	case e.cfg.ReconcileEvery < 0, rc.Time.IsZero(), serverNow.Sub(rc.Time) >= e.cfg.ReconcileEvery,
		serverNow.Sub(cur.Time) > e.cfg.MaxCursorAge:
		return listing{full: true, actSince: window, serverNow: serverNow}
	}
	return listing{since: cur.Time.Add(-app.CursorOverlap), serverNow: serverNow}
}

// list runs the listing, merging each page into the patient's state and
// moving the cursor with the data while the service answers in
// lastUpdated order.
func (e *Engine) list(ctx context.Context, r *pullRun, ps *pstate, l listing) error {
	q := app.DocumentQuery{ActSince: l.actSince, UpdatedSince: l.since, Statuses: []string{"current", "superseded"}, PageSize: e.cfg.PageSize}
	seen := map[app.DocumentID]bool{}
	var maxLU time.Time
	mono := true
	c := r.c
	err := e.call(ctx, func(ctx context.Context) error {
		var prev time.Time
		return r.s.rs.ListDocuments(ctx, r.s.acc, ps.patient.INS, q, func(page []app.RemoteDocument) error {
			kick(ctx) // a page arrived: the next one has its own deadline
			changed := 0
			err := c.change(ctx, ps, len(page), int64(len(page))*entryBytes, func(ps *pstate) {
				for _, rd := range page {
					seen[rd.Meta.ID] = true
					if rd.LastUpdated.Before(prev) {
						mono = false
					}
					prev = rd.LastUpdated
					if rd.LastUpdated.After(maxLU) {
						maxLU = rd.LastUpdated
					}
					if !l.wanted(ps, rd) {
						continue
					}
					if e.merge(r, ps, rd) {
						changed++
					}
				}
				if mono && !maxLU.IsZero() {
					ps.cursors[app.StreamDocuments] = app.Cursor{Patient: ps.patient.ID, Stream: app.StreamDocuments, Time: maxLU, Token: l.token}
				}
			})
			r.sum.add(func(s *app.SyncSummary) { s.Documents += changed })
			e.progress(func(pg *progress) { pg.resources += len(page) })
			return err
		})
	})
	if err != nil {
		return err
	}
	var omitted []app.DocumentMeta
	if l.full {
		// What the listing omitted is only a question: each is read, and
		// leaves the vault only if it reads deleted, masked or
		// entered-in-error (evidence.go).
		c.mu.Lock()
		for _, d := range ps.man.Documents {
			if d.RemoteID != "" && !seen[d.ID] && !d.Superseded && (l.actSince.IsZero() || !d.Date.Before(l.actSince)) {
				omitted = append(omitted, d)
			}
		}
		c.mu.Unlock()
		if err := e.evidence(ctx, r, ps, omitted); err != nil {
			return err
		}
	}
	return c.change(ctx, ps, 0, 0, func(ps *pstate) {
		if l.full {
			ps.cursors[app.StreamReconciled] = app.Cursor{Patient: ps.patient.ID, Stream: app.StreamReconciled, Time: l.serverNow}
		}
		// The listing ran after the service's clock read serverNow: it
		// saw everything stamped before, so the cursor may move there.
		stored := maxLU
		for _, t := range []time.Time{l.stored, l.serverNow} {
			if t.After(stored) {
				stored = t
			}
		}
		ps.cursors[app.StreamDocuments] = app.Cursor{Patient: ps.patient.ID, Stream: app.StreamDocuments, Time: stored}
		ps.man.CheckedAt = e.cfg.Clock.Now()
		ps.manDirty = true
	})
}

// merge applies one listed entry to the patient's state; it reports
// whether anything changed. The caller holds the committer's lock.
func (e *Engine) merge(r *pullRun, ps *pstate, rd app.RemoteDocument) bool {
	i, known := ps.index[rd.Meta.ID]
	if known {
		old := ps.man.Documents[i]
		if old.VersionID == rd.VersionID && old.RemoteID == rd.RemoteID {
			return false // (id, versionId) already stored
		}
		if !old.LastUpdated.IsZero() && rd.LastUpdated.Before(old.LastUpdated) {
			return false // older than what we have
		}
	}
	meta := rd.Meta
	meta.RemoteID, meta.VersionID, meta.URL = rd.RemoteID, rd.VersionID, rd.URL
	meta.Visibility, meta.LastUpdated = rd.Visibility, rd.LastUpdated
	meta.Superseded = rd.Status == "superseded"
	if known && (meta.Source == "" || ps.man.Documents[i].Source == "carnet") {
		// A note written in Carnet stays one once sent, whatever the
		// listing says (as in app.MergeManifest): the outbox's history
		// and the write tab read it so.
		meta.Source = ps.man.Documents[i].Source
	}
	if meta.Source == "" {
		meta.Source = "dmp"
	}
	if known {
		meta.Cached = ps.man.Documents[i].Cached
		ps.man.Documents[i] = meta
	} else {
		ps.index[meta.ID] = len(ps.man.Documents)
		ps.man.Documents = append(ps.man.Documents, meta)
	}
	if rd.Replaces != "" {
		if j, ok := ps.index[rd.Replaces]; ok {
			ps.man.Documents[j].Superseded = true
		}
	}
	ps.manDirty = true
	// A document an outbox item was written against changed meanwhile.
	for _, target := range []app.DocumentID{rd.Meta.ID, rd.Replaces} {
		if it, ok := r.targets[target]; ok && target != "" && (target != rd.Meta.ID || rd.VersionID != it.BaseVersion) {
			r.mu.Lock()
			r.seenNew[it.ID] = rd
			r.mu.Unlock()
		}
	}
	return true
}

// prefetch downloads the patient's uncached current documents, newest
// first, within the cycle's byte budget.
func (e *Engine) prefetch(ctx context.Context, r *pullRun, ps *pstate) error {
	r.c.mu.Lock()
	var want []app.DocumentMeta
	for _, d := range ps.man.Documents {
		if !d.Cached && !d.Superseded && (d.URL != "" || d.RemoteID != "") {
			want = append(want, d)
		}
	}
	r.c.mu.Unlock()
	sortDocs(want)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for _, d := range want {
		size := d.Size
		if size <= 0 {
			size = 64 << 10
		}
		if r.budget.Add(-size) < 0 {
			r.budget.Add(size)
			continue // left for on-demand retrieval
		}
		if err := r.fetch.acquire(ctx); err != nil {
			wg.Wait()
			return err
		}
		wg.Add(1)
		go func(d app.DocumentMeta) {
			defer wg.Done()
			defer r.fetch.release()
			err := e.fetchOne(ctx, r, ps, d)
			if err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		}(d)
	}
	wg.Wait()
	return first
}

// fetchOne retrieves one document into the patient's state.
func (e *Engine) fetchOne(ctx context.Context, r *pullRun, ps *pstate, d app.DocumentMeta) error {
	var content []byte
	err := e.call(ctx, func(ctx context.Context) error {
		var err error
		content, err = r.s.rs.Retrieve(ctx, r.s.acc, ps.patient.INS,
			app.RemoteDocument{Meta: d, RemoteID: d.RemoteID, VersionID: d.VersionID, URL: d.URL, LastUpdated: d.LastUpdated, Visibility: d.Visibility})
		return err
	})
	if errors.Is(err, app.ErrWithdrawn) {
		// The content is gone since it was listed: the entry itself is
		// read for evidence (masked, deleted) before anything is removed.
		return e.evidence(ctx, r, ps, []app.DocumentMeta{d})
	}
	if err != nil {
		return err
	}
	n := int64(len(content))
	r.sum.add(func(s *app.SyncSummary) { s.Retrieved++; s.Bytes += n })
	e.progress(func(pg *progress) { pg.resources++; pg.bytes += n })
	return r.c.change(ctx, ps, 1, n, func(ps *pstate) {
		i, ok := ps.index[d.ID]
		if !ok {
			return // gone meanwhile
		}
		ps.man.Documents[i].Cached = true
		ps.docs = append(ps.docs, app.DocumentContent{Patient: ps.patient.ID, ID: d.ID, Bytes: content})
		ps.manDirty = true
	})
}

// failed returns the error of a failed commit, if any.
func (c *committer) failed() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}
