package apptest

import (
	"context"
	"fmt"
	"sync"

	"github.com/carnetdesk/carnet/app"
)

var _ app.Syncer = (*Syncer)(nil)

// Syncer is a fake app.Syncer (the sync engine as the UI sees it): each
// method calls its function field when set. Otherwise Once returns an
// empty online summary, Resolve applies the decision to Store when set
// (DiscardMine removes the item, the others put it back in the pending
// state), and ImportOperatingList matches the list to Store's directory.
// Status returns what SetStatus stored. Calls are counted by method name;
// Syncer is safe for concurrent use.
type Syncer struct {
	OnceFn    func(ctx context.Context) (app.SyncSummary, error)
	ResolveFn func(ctx context.Context, id app.OutboxID, r app.Resolution, confirmed bool) error
	ImportFn  func(ctx context.Context, list []app.Scheduled) (app.OperatingListResult, error)
	// Store, when set, receives the default Resolve's changes and gives
	// the default ImportOperatingList its directory.
	Store app.Store

	mu       sync.Mutex
	status   app.SyncStatus
	calls    map[string]int
	resolved []Resolved
}

// Resolved is a decision Resolve received.
type Resolved struct {
	ID         app.OutboxID
	Resolution app.Resolution
	Confirmed  bool
}

func (s *Syncer) count(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.calls == nil {
		s.calls = map[string]int{}
	}
	s.calls[name]++
}

// Calls returns how many times method was called.
func (s *Syncer) Calls(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[method]
}

// Resolutions returns the decisions received, in order.
func (s *Syncer) Resolutions() []Resolved {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Resolved(nil), s.resolved...)
}

// SetStatus sets what Status returns.
func (s *Syncer) SetStatus(st app.SyncStatus) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status = st
}

// Status implements app.Syncer.
func (s *Syncer) Status() app.SyncStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status
}

// Once implements app.Syncer.
func (s *Syncer) Once(ctx context.Context) (app.SyncSummary, error) {
	s.count("Once")
	if s.OnceFn != nil {
		return s.OnceFn(ctx)
	}
	return app.SyncSummary{Online: true}, nil
}

// Resolve implements app.Syncer.
func (s *Syncer) Resolve(ctx context.Context, id app.OutboxID, r app.Resolution, confirmed bool) error {
	s.count("Resolve")
	s.mu.Lock()
	s.resolved = append(s.resolved, Resolved{ID: id, Resolution: r, Confirmed: confirmed})
	s.mu.Unlock()
	if s.ResolveFn != nil {
		return s.ResolveFn(ctx, id, r, confirmed)
	}
	if r == app.DiscardMine && !confirmed {
		return fmt.Errorf("apptest: resolve: discard not confirmed: %w", app.ErrInvalid)
	}
	if s.Store == nil {
		return nil
	}
	items, err := s.Store.Outbox(ctx)
	if err != nil {
		return err
	}
	for _, it := range items {
		if it.ID != id {
			continue
		}
		if it.State != app.OutboxConflict {
			return fmt.Errorf("apptest: resolve: item not in conflict: %w", app.ErrConflict)
		}
		if r == app.DiscardMine {
			return s.Store.Write(ctx, &app.Batch{OutboxDone: []app.OutboxID{id}})
		}
		it.State, it.Server, it.ServerContent = app.OutboxPending, nil, nil
		return s.Store.Write(ctx, &app.Batch{Outbox: []app.OutboxItem{it}})
	}
	return fmt.Errorf("apptest: resolve: %w", app.ErrNotFound)
}

// ImportOperatingList implements app.Syncer.
func (s *Syncer) ImportOperatingList(ctx context.Context, list []app.Scheduled) (app.OperatingListResult, error) {
	s.count("ImportOperatingList")
	if s.ImportFn != nil {
		return s.ImportFn(ctx, list)
	}
	var patients []app.Patient
	if s.Store != nil {
		var err error
		if patients, err = s.Store.Patients(ctx); err != nil {
			return app.OperatingListResult{}, err
		}
	}
	res := app.ApplyOperatingList(patients, list, s.Status().LastSync)
	for _, e := range res.Lookup { // no central service behind this fake
		e.Reason = app.ListNotSignedIn
		res.ToIdentify = append(res.ToIdentify, e)
	}
	res.Lookup = nil
	return res, nil
}
