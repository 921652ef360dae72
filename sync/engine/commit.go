package engine

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/carnetdesk/carnet/app"
)

// pstate is one patient's pull in progress: the manifest as merged so far
// and what is waiting for the next commit. Workers change it, the
// committer drains it, both under the committer's mutex, so that a commit
// holds a consistent picture: every document written is listed by the
// manifest written with it, every document removed from the manifest leaves
// with it, and a cursor never runs ahead of the data it covers.
type pstate struct {
	patient      app.Patient
	patientDirty bool
	man          app.Manifest
	index        map[app.DocumentID]int
	manDirty     bool
	docs         []app.DocumentContent
	gone         []app.DocumentRef
	cursors      map[string]app.Cursor
}

func newPState(p app.Patient, m app.Manifest) *pstate {
	ps := &pstate{patient: p, man: m, index: map[app.DocumentID]int{}, cursors: map[string]app.Cursor{}}
	ps.man.Patient = p.ID
	ps.man.Documents = append([]app.DocumentMeta(nil), m.Documents...)
	for i, d := range ps.man.Documents {
		ps.index[d.ID] = i
	}
	return ps
}

// remove drops a document from the manifest and the vault.
func (ps *pstate) remove(id app.DocumentID) {
	i, ok := ps.index[id]
	if !ok {
		return
	}
	last := len(ps.man.Documents) - 1
	ps.man.Documents[i] = ps.man.Documents[last]
	ps.index[ps.man.Documents[i].ID] = i
	ps.man.Documents = ps.man.Documents[:last]
	delete(ps.index, id)
	ps.gone = append(ps.gone, app.DocumentRef{Patient: ps.patient.ID, ID: id})
	ps.manDirty = true
}

// committer gathers the pull's results into commit units and writes each
// unit in one Store.Write.
type committer struct {
	e       *Engine
	mu      sync.Mutex
	flushMu sync.Mutex // one Store.Write at a time, in order
	dirty   map[app.PatientID]*pstate
	res     int
	bytes   int64
	first   time.Time // when the oldest pending change arrived
	err     error     // the first failed write: the cycle stops
	commits int
	stop    chan struct{}
	done    chan struct{}
}

func (e *Engine) newCommitter(ctx context.Context) *committer {
	c := &committer{e: e, dirty: map[app.PatientID]*pstate{}, stop: make(chan struct{}), done: make(chan struct{})}
	go c.timer(ctx)
	return c
}

// timer flushes a unit that has waited CommitEvery.
func (c *committer) timer(ctx context.Context) {
	defer close(c.done)
	t := time.NewTicker(max(c.e.cfg.CommitEvery/8, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			c.mu.Lock()
			due := !c.first.IsZero() && time.Since(c.first) >= c.e.cfg.CommitEvery
			c.mu.Unlock()
			if due {
				_ = c.flush(ctx)
			}
		}
	}
}

// change applies fn to ps under the committer's lock, counts res resources
// and n bytes into the unit, and flushes when the unit is full. It returns
// the error of a failed commit (the cycle must stop).
func (c *committer) change(ctx context.Context, ps *pstate, res int, n int64, fn func(ps *pstate)) error {
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return err
	}
	fn(ps)
	c.dirty[ps.patient.ID] = ps
	c.res += res
	c.bytes += n
	if c.first.IsZero() {
		c.first = time.Now()
	}
	full := c.res >= c.e.cfg.CommitResources || c.bytes >= c.e.cfg.CommitBytes
	c.mu.Unlock()
	if full {
		return c.flush(ctx)
	}
	return nil
}

// flush writes what is pending as one batch.
func (c *committer) flush(ctx context.Context) error {
	c.flushMu.Lock()
	defer c.flushMu.Unlock()
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return err
	}
	b := &app.Batch{}
	ids := make([]app.PatientID, 0, len(c.dirty))
	for id := range c.dirty {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		ps := c.dirty[id]
		if ps.patientDirty {
			b.Patients = append(b.Patients, ps.patient)
			ps.patientDirty = false
		}
		if ps.manDirty || len(ps.docs) > 0 || len(ps.gone) > 0 {
			m := ps.man
			m.Documents = append([]app.DocumentMeta(nil), ps.man.Documents...)
			sortDocs(m.Documents)
			b.Manifests = append(b.Manifests, m)
			ps.manDirty = false
		}
		b.Documents = append(b.Documents, ps.docs...)
		b.DocumentsGone = append(b.DocumentsGone, ps.gone...)
		ps.docs, ps.gone = nil, nil
		for _, cur := range ps.cursors {
			b.Cursors = append(b.Cursors, cur)
		}
		clear(ps.cursors)
	}
	clear(c.dirty)
	c.res, c.bytes, c.first = 0, 0, time.Time{}
	c.mu.Unlock()
	if b.Empty() {
		return nil
	}
	if err := c.e.store.Write(context.WithoutCancel(ctx), b); err != nil {
		c.mu.Lock()
		if c.err == nil {
			c.err = err
		}
		c.mu.Unlock()
		return err
	}
	c.mu.Lock()
	c.commits++
	c.mu.Unlock()
	return nil
}

// close flushes what is left and stops the timer.
func (c *committer) close(ctx context.Context) error {
	close(c.stop)
	<-c.done
	return c.flush(ctx)
}

// sortDocs orders a document list newest act date first, then by id (as
// app.MergeManifest does).
func sortDocs(ds []app.DocumentMeta) {
	sort.SliceStable(ds, func(i, j int) bool {
		if !ds[i].Date.Equal(ds[j].Date) {
			return ds[i].Date.After(ds[j].Date)
		}
		return ds[i].ID < ds[j].ID
	})
}
