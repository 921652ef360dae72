package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/carnetdesk/carnet/app"
)

// conflict puts the item in conflict: the server's current version of the
// target (followed along its replacements) is stored next to the draft,
// and the item waits for Resolve. Nothing is discarded.
func (e *Engine) conflict(ctx context.Context, s *session, p app.Patient, it app.OutboxItem, sum *app.SyncSummary) error {
	target := it.Replaces
	if it.Kind == app.OutboxMetadata {
		target = it.Target
	}
	var server *app.RemoteDocument
	if target != "" {
		if rd, ok, err := e.serverVersion(ctx, s, p, target); err == nil && ok {
			server = &rd
		} else if err != nil && errors.Is(err, app.ErrOffline) {
			return fmt.Errorf("engine: push: %w", err)
		}
	}
	return e.setConflict(ctx, s, p, it, server, sum)
}

// setConflict writes the conflict state, with the server version's content
// when it can be fetched.
func (e *Engine) setConflict(ctx context.Context, s *session, p app.Patient, it app.OutboxItem, server *app.RemoteDocument, sum *app.SyncSummary) error {
	it.State = app.OutboxConflict
	it.LastError = "engine: the document was changed by someone else meanwhile"
	it.ConflictAt = e.cfg.Clock.Now()
	it.Server, it.ServerContent = server, nil
	if server != nil && server.Status != "superseded" && it.Kind != app.OutboxMetadata {
		var content []byte
		err := e.call(ctx, func(ctx context.Context) error {
			var err error
			content, err = s.rs.Retrieve(ctx, s.acc, p.INS, *server)
			return err
		})
		if err == nil {
			it.ServerContent = content
		}
	}
	if err := e.store.Write(context.WithoutCancel(ctx), &app.Batch{Outbox: []app.OutboxItem{it}}); err != nil {
		return fmt.Errorf("engine: push: %w", err)
	}
	sum.Conflicts++
	sum.Failures = append(sum.Failures, app.SyncFailure{Patient: it.Patient, Item: it.ID, Reason: "conflict: waiting for a decision"})
	return nil
}

// serverVersion returns the newest version of a document: the document
// itself, or the end of its replacement chain.
func (e *Engine) serverVersion(ctx context.Context, s *session, p app.Patient, id app.DocumentID) (app.RemoteDocument, bool, error) {
	rd, ok, err := e.find(ctx, s, p, id)
	if err != nil || !ok {
		return rd, ok, err
	}
	for hop := 0; hop < 16 && rd.Status == "superseded"; hop++ {
		var next app.RemoteDocument
		found := false
		err := e.call(ctx, func(ctx context.Context) error {
			return s.rs.ListDocuments(ctx, s.acc, p.INS,
				app.DocumentQuery{UpdatedSince: rd.LastUpdated.Add(-app.CursorOverlap), Statuses: []string{"current", "superseded"}, PageSize: e.cfg.PageSize},
				func(page []app.RemoteDocument) error {
					for _, d := range page {
						if d.Replaces == rd.Meta.ID {
							next, found = d, true
						}
					}
					return nil
				})
		})
		if err != nil || !found {
			return rd, true, err
		}
		rd = next
	}
	return rd, true, nil
}

// markConflict puts an item in conflict when the pull saw a newer version
// of its target (someone else changed it meanwhile).
func (e *Engine) markConflict(ctx context.Context, s *session, id app.OutboxID, rd app.RemoteDocument, sum *app.SyncSummary) {
	items, err := e.store.Outbox(ctx)
	if err != nil {
		return
	}
	for _, it := range items {
		if it.ID != id || (it.State != app.OutboxPending && it.State != app.OutboxRetry) {
			continue
		}
		p, err := e.store.Patient(ctx, it.Patient)
		if err != nil {
			return
		}
		server := &rd
		if nv, ok, err := e.serverVersion(ctx, s, p, rd.Meta.ID); err == nil && ok {
			server = &nv
		}
		if err := e.setConflict(ctx, s, p, it, server, sum); err != nil {
			e.log.Error("engine: conflict not recorded", "err", err)
		}
	}
}

// Resolve applies the practitioner's decision on an item in conflict:
// KeepBoth sends the draft as a new document; ReplaceAfterReview sends it
// as a replacement of the server's current version (or re-applies a
// metadata change on it); DiscardMine, only when confirmed, drops the draft
// (also allowed on a rejected item). The item is sent at the next cycle.
func (e *Engine) Resolve(ctx context.Context, id app.OutboxID, r app.Resolution, confirmed bool) error {
	e.cycle.Lock()
	defer e.cycle.Unlock()
	items, err := e.store.Outbox(ctx)
	if err != nil {
		return fmt.Errorf("engine: resolve: %w", err)
	}
	var it *app.OutboxItem
	for i := range items {
		if items[i].ID == id {
			it = &items[i]
		}
	}
	if it == nil {
		return fmt.Errorf("engine: resolve: %w", app.ErrNotFound)
	}
	if it.State != app.OutboxConflict && !(r == app.DiscardMine && it.State == app.OutboxRejected) {
		return fmt.Errorf("engine: resolve: the item is not waiting for a decision: %w", app.ErrInvalid)
	}
	b := &app.Batch{}
	switch r {
	case app.DiscardMine:
		if !confirmed {
			return fmt.Errorf("engine: resolve: discarding a draft needs an explicit confirmation: %w", app.ErrInvalid)
		}
		b.OutboxDone = []app.OutboxID{id}
	case app.KeepBoth:
		if it.Kind == app.OutboxMetadata {
			return fmt.Errorf("engine: resolve: a metadata change cannot be kept as a new document: %w", app.ErrInvalid)
		}
		it.Kind, it.Replaces, it.BaseVersion = app.OutboxProvide, "", ""
	case app.ReplaceAfterReview:
		if it.Server == nil {
			return fmt.Errorf("engine: resolve: the server's version is not known yet: %w", app.ErrInvalid)
		}
		if it.Kind == app.OutboxMetadata {
			it.Target = it.Server.Meta.ID
		} else {
			it.Kind, it.Replaces = app.OutboxReplace, it.Server.Meta.ID
		}
		it.BaseVersion = it.Server.VersionID
	default:
		return fmt.Errorf("engine: resolve: unknown resolution: %w", app.ErrInvalid)
	}
	if r != app.DiscardMine {
		it.State, it.LastError, it.NextAttempt = app.OutboxPending, "", e.cfg.Clock.Now()
		it.Server, it.ServerContent, it.ConflictAt = nil, nil, time.Time{}
		b.Outbox = []app.OutboxItem{*it}
	}
	if err := e.store.Write(ctx, b); err != nil {
		return fmt.Errorf("engine: resolve: %w", err)
	}
	_ = e.store.Record(ctx, app.AuditEvent{Time: e.cfg.Clock.Now(), Patient: it.Patient, Action: "sync.resolve", Result: "ok", Detail: string(r)})
	return nil
}
