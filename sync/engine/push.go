package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/carnetdesk/carnet/app"
)

// push sends the outbox, oldest first. It stops at the first failure that
// concerns every item (the service unreachable, the vault failing).
func (e *Engine) push(ctx context.Context, s *session, sum *app.SyncSummary) error {
	items, err := e.store.Outbox(ctx)
	if err != nil {
		return fmt.Errorf("engine: outbox: %w", err)
	}
	now := e.cfg.Clock.Now()
	var todo []app.OutboxItem
	var stale []app.OutboxID
	for _, it := range items {
		switch it.State {
		case app.OutboxConflict:
			sum.Conflicts++
		case app.OutboxRejected:
			sum.Rejected++
		case app.OutboxAcked:
			stale = append(stale, it.ID) // acked but not removed: finish the job
		case app.OutboxRetry:
			if now.Before(it.NextAttempt) {
				sum.Retrying++
				continue
			}
			todo = append(todo, it)
		default:
			todo = append(todo, it)
		}
	}
	if len(stale) > 0 {
		if err := e.store.Write(ctx, &app.Batch{OutboxDone: stale}); err != nil {
			return fmt.Errorf("engine: outbox: %w", err)
		}
	}
	e.progress(func(p *progress) { p.itemsN = len(todo) })
	for _, it := range todo {
		err := e.pushOne(ctx, s, it, sum)
		e.progress(func(p *progress) { p.items++ })
		if err != nil {
			return err
		}
	}
	return nil
}

// pushOne sends one item through its states. The error is for what stops
// the cycle; the item's own outcome is in its state and the summary.
func (e *Engine) pushOne(ctx context.Context, s *session, it app.OutboxItem, sum *app.SyncSummary) error {
	p, err := e.store.Patient(ctx, it.Patient)
	if errors.Is(err, app.ErrNotFound) {
		return e.reject(ctx, it, errors.New("engine: the patient is no longer in the directory"), sum)
	} else if err != nil {
		return fmt.Errorf("engine: push: %w", err)
	}
	if it.Kind != app.OutboxMetadata {
		it.Meta.ID = app.DocumentID(it.ID)
	}
	for try := 1; ; try++ {
		// An earlier attempt may have landed (its answer lost): look first.
		if it.State == app.OutboxSending || it.Attempts > 0 {
			rd, found, err := e.lookup(ctx, s, p, it)
			switch {
			case err != nil && retryable(err):
				return e.retryLater(ctx, it, err, sum)
			case err != nil && ctx.Err() != nil:
				return ctx.Err()
			case err != nil:
				return e.reject(ctx, it, err, sum)
			case found:
				return e.confirmFound(ctx, s, p, it, rd, sum)
			}
		}
		target, err := e.target(ctx, p, it)
		if err != nil {
			if errors.Is(err, app.ErrConflict) {
				return e.conflict(ctx, s, p, it, sum)
			}
			return e.reject(ctx, it, err, sum)
		}
		it.State, it.LastError = app.OutboxSending, ""
		it.Attempts++
		if err := e.store.Write(ctx, &app.Batch{Outbox: []app.OutboxItem{it}}); err != nil {
			return fmt.Errorf("engine: push: %w", err)
		}
		if err := e.waitGate(ctx); err != nil {
			return err
		}
		rd, err := e.send(ctx, s, p, it, target)
		if err != nil && errors.Is(err, app.ErrOffline) {
			e.offline.Add(1)
		} else {
			e.offline.Store(0)
		}
		var nc *app.NotConfirmedError
		switch {
		case err == nil:
			return e.ack(ctx, p, it, rd, sum)
		case errors.As(err, &nc) && ctx.Err() == nil:
			return e.unconfirmed(ctx, it, nc, sum)
		case ctx.Err() != nil:
			return ctx.Err() // left sending: the next cycle looks it up first
		case errors.Is(err, app.ErrConflict):
			// 409: maybe our own earlier attempt (duplicate uniqueId),
			// else someone changed the target: lookup decides.
			if rd, found, lerr := e.lookup(ctx, s, p, it); lerr == nil && found {
				return e.confirmFound(ctx, s, p, it, rd, sum)
			}
			return e.conflict(ctx, s, p, it, sum)
		case errors.Is(err, app.ErrThrottled):
			var we *app.WaitError
			if errors.As(err, &we) && we.Wait > 0 {
				e.gate.hold(timeNow().Add(we.Wait))
			}
			if try >= 4*e.cfg.Tries {
				return e.retryLater(ctx, it, err, sum)
			}
			try-- // a throttle is not a failed attempt
		case retryable(err):
			if try >= e.cfg.Tries {
				return e.retryLater(ctx, it, err, sum)
			}
			if err := e.cfg.Sleep(ctx, e.backoff(try)); err != nil {
				return err
			}
		default:
			return e.reject(ctx, it, err, sum)
		}
	}
}

// send makes the request of an item.
func (e *Engine) send(ctx context.Context, s *session, p app.Patient, it app.OutboxItem, target *app.RemoteDocument) (app.RemoteDocument, error) {
	switch it.Kind {
	case app.OutboxMetadata:
		if it.Change == nil {
			return app.RemoteDocument{}, fmt.Errorf("engine: metadata item without a change: %w", app.ErrInvalid)
		}
		return s.rs.UpdateMetadata(ctx, s.acc, p.INS, *target, *it.Change)
	default:
		nd := app.NewDocument{Meta: it.Meta, Content: it.Payload, Visibility: it.Visibility, Replaces: target}
		res, err := s.rs.Provide(ctx, s.acc, p.INS, []app.NewDocument{nd})
		if err != nil {
			return app.RemoteDocument{}, err
		}
		for _, rd := range res.Documents {
			if rd.Meta.ID == it.Meta.ID {
				return rd, nil
			}
		}
		return app.RemoteDocument{}, fmt.Errorf("engine: provide answer without the document: %w", app.ErrServer)
	}
}

// target returns the document a replacement or a metadata change applies
// to, as the manifest knows it: ErrConflict when a newer version than the
// one the change was written against is already known.
func (e *Engine) target(ctx context.Context, p app.Patient, it app.OutboxItem) (*app.RemoteDocument, error) {
	var id app.DocumentID
	switch it.Kind {
	case app.OutboxReplace:
		id = it.Replaces
	case app.OutboxMetadata:
		id = it.Target
	default:
		return nil, nil
	}
	m, err := e.store.Manifest(ctx, p.ID)
	if err != nil && !errors.Is(err, app.ErrNotFound) {
		return nil, err
	}
	d, ok := m.Document(id)
	if !ok || d.RemoteID == "" {
		return nil, fmt.Errorf("engine: the document changed is not in the cached record: %w", app.ErrInvalid)
	}
	if it.BaseVersion != "" && d.VersionID != it.BaseVersion || d.Superseded {
		return nil, fmt.Errorf("engine: changed meanwhile: %w", app.ErrConflict)
	}
	rd := &app.RemoteDocument{Meta: d, RemoteID: d.RemoteID, VersionID: d.VersionID, URL: d.URL, Visibility: d.Visibility, LastUpdated: d.LastUpdated}
	if it.BaseVersion != "" {
		rd.VersionID = it.BaseVersion
	}
	return rd, nil
}

// lookup searches the service for what an earlier attempt of it may have
// done: the document by its uniqueId, or, for a metadata change, the
// target already carrying the change.
func (e *Engine) lookup(ctx context.Context, s *session, p app.Patient, it app.OutboxItem) (app.RemoteDocument, bool, error) {
	id := app.DocumentID(it.ID)
	if it.Kind == app.OutboxMetadata {
		id = it.Target
	}
	rd, found, err := e.readSent(ctx, s, p, it)
	if err != nil {
		return rd, false, err
	}
	if !found {
		rd, found, err = e.find(ctx, s, p, id)
	}
	if err != nil || !found {
		return rd, false, err
	}
	if it.Kind == app.OutboxMetadata {
		if it.Change == nil || rd.VersionID == it.BaseVersion || !applied(rd, *it.Change) {
			return rd, false, nil
		}
	}
	return rd, true, nil
}

// readSent reads the document an earlier attempt of it wrote, by the
// service id kept with the item (SentAs), when the service reads entries:
// found when it is that document. A document gone or another one is not
// found (the search decides); no answer is an error.
func (e *Engine) readSent(ctx context.Context, s *session, p app.Patient, it app.OutboxItem) (app.RemoteDocument, bool, error) {
	rdr, ok := s.rs.(app.EntryReader)
	if it.SentAs == "" || it.Kind == app.OutboxMetadata || !ok {
		return app.RemoteDocument{}, false, nil
	}
	var rd app.RemoteDocument
	err := e.call(ctx, func(ctx context.Context) error {
		var err error
		rd, err = rdr.ReadDocument(ctx, s.acc, p.INS, it.SentAs)
		return err
	})
	switch {
	case err == nil:
		ok := rd.Meta.ID == app.DocumentID(it.ID) && (rd.Status == "" || rd.Status == "current" || rd.Status == "superseded")
		return rd, ok, nil
	case errors.Is(err, app.ErrWithdrawn), errors.Is(err, app.ErrServer), errors.Is(err, app.ErrInvalid):
		return app.RemoteDocument{}, false, nil
	}
	return app.RemoteDocument{}, false, err
}

// find lists one document by uniqueId (current or superseded).
func (e *Engine) find(ctx context.Context, s *session, p app.Patient, id app.DocumentID) (app.RemoteDocument, bool, error) {
	var out app.RemoteDocument
	found := false
	err := e.call(ctx, func(ctx context.Context) error {
		return s.rs.ListDocuments(ctx, s.acc, p.INS, app.DocumentQuery{ID: id, Statuses: []string{"current", "superseded"}},
			func(page []app.RemoteDocument) error {
				for _, rd := range page {
					if rd.Meta.ID == id && (!found || rd.LastUpdated.After(out.LastUpdated)) {
						out, found = rd, true
					}
				}
				return nil
			})
	})
	return out, found, err
}

// applied reports whether rd already carries the change.
func applied(rd app.RemoteDocument, ch app.MetadataChange) bool {
	if ch.Visibility != nil && rd.Visibility != *ch.Visibility {
		return false
	}
	if ch.Archived != nil && rd.Archived != *ch.Archived {
		return false
	}
	return true
}

// ack records an acknowledged item: it leaves the outbox, and the document
// (or its new metadata) enters the cached record, in one transaction.
func (e *Engine) ack(ctx context.Context, p app.Patient, it app.OutboxItem, rd app.RemoteDocument, sum *app.SyncSummary) error {
	b := &app.Batch{OutboxDone: []app.OutboxID{it.ID}}
	m, err := e.store.Manifest(ctx, p.ID)
	if err == nil || errors.Is(err, app.ErrNotFound) {
		m.Patient = p.ID
		if it.Kind == app.OutboxReplace && rd.Replaces == "" {
			rd.Replaces = it.Replaces
		}
		m, _ = app.MergeManifest(m, []app.RemoteDocument{rd})
		if rd.Replaces != "" {
			for i := range m.Documents {
				if m.Documents[i].ID == rd.Replaces {
					m.Documents[i].Superseded = true
				}
			}
		}
		b.Manifests = []app.Manifest{m}
		if it.Kind != app.OutboxMetadata && len(it.Payload) > 0 {
			b.Documents = []app.DocumentContent{{Patient: p.ID, ID: rd.Meta.ID, Bytes: it.Payload}}
		}
	} // else (record unreadable until re-validated): the pull brings it back
	if err := e.store.Write(ctx, b); err != nil {
		return fmt.Errorf("engine: push: %w", err)
	}
	sum.Pushed++
	return nil
}

// reject leaves the item visible with the reason of a refusal for good.
func (e *Engine) reject(ctx context.Context, it app.OutboxItem, why error, sum *app.SyncSummary) error {
	it.State, it.LastError = app.OutboxRejected, why.Error()
	if err := e.store.Write(ctx, &app.Batch{Outbox: []app.OutboxItem{it}}); err != nil {
		return fmt.Errorf("engine: push: %w", err)
	}
	sum.Rejected++
	sum.Failures = append(sum.Failures, app.SyncFailure{Patient: it.Patient, Item: it.ID, Reason: "rejected: " + why.Error()})
	return nil
}

// retryLater schedules the item's next attempt (job back-off). The network
// being down stops the cycle.
func (e *Engine) retryLater(ctx context.Context, it app.OutboxItem, why error, sum *app.SyncSummary) error {
	it.State, it.LastError = app.OutboxRetry, why.Error()
	it.NextAttempt = e.cfg.Clock.Now().Add(e.backoffJob(max(1, it.Attempts)))
	if err := e.store.Write(context.WithoutCancel(ctx), &app.Batch{Outbox: []app.OutboxItem{it}}); err != nil {
		return fmt.Errorf("engine: push: %w", err)
	}
	sum.Retrying++
	sum.Failures = append(sum.Failures, app.SyncFailure{Patient: it.Patient, Item: it.ID, Reason: "will retry: " + why.Error()})
	if errors.Is(why, app.ErrOffline) && e.unreachable() {
		return fmt.Errorf("engine: push: %w", why)
	}
	return nil
}

// unconfirmed leaves an item the service accepted but whose read-back did
// not confirm it: "sent, not confirmed". It is never counted as pushed;
// the next cycle looks it up (by id, identifier, listing) before anything
// is sent again.
func (e *Engine) unconfirmed(ctx context.Context, it app.OutboxItem, nc *app.NotConfirmedError, sum *app.SyncSummary) error {
	it.State, it.LastError = app.OutboxUnconfirmed, nc.Error()
	if nc.Doc.RemoteID != "" {
		it.SentAs = nc.Doc.RemoteID // read first by the next lookup, restart or not
	}
	if err := e.store.Write(context.WithoutCancel(ctx), &app.Batch{Outbox: []app.OutboxItem{it}}); err != nil {
		return fmt.Errorf("engine: push: %w", err)
	}
	sum.Unconfirmed++
	sum.Failures = append(sum.Failures, app.SyncFailure{Patient: it.Patient, Item: it.ID, Reason: "sent, not confirmed: " + nc.Why})
	return nil
}

// confirmFound acknowledges a document an earlier attempt wrote, found
// again by its uniqueId, only once the service confirms it as a fresh
// write is confirmed (app.WriteConfirmer: it points at the patient, reads
// current, its content intact, the version it replaces superseded):
// existing is not enough. Not confirmed: it stays "sent, not confirmed".
// A metadata change found applied needs no more.
func (e *Engine) confirmFound(ctx context.Context, s *session, p app.Patient, it app.OutboxItem, rd app.RemoteDocument, sum *app.SyncSummary) error {
	wc, ok := s.rs.(app.WriteConfirmer)
	if !ok || it.Kind == app.OutboxMetadata {
		return e.ack(ctx, p, it, rd, sum)
	}
	nd := app.NewDocument{Meta: it.Meta, Content: it.Payload, Visibility: it.Visibility}
	if it.Kind == app.OutboxReplace {
		m, err := e.store.Manifest(ctx, p.ID)
		if err != nil && !errors.Is(err, app.ErrNotFound) {
			return fmt.Errorf("engine: push: %w", err)
		}
		if d, ok := m.Document(it.Replaces); ok && d.RemoteID != "" {
			nd.Replaces = &app.RemoteDocument{Meta: d, RemoteID: d.RemoteID, VersionID: d.VersionID, URL: d.URL, Visibility: d.Visibility, LastUpdated: d.LastUpdated}
		}
	}
	var got app.RemoteDocument
	err := e.call(ctx, func(ctx context.Context) error {
		var err error
		got, err = wc.ConfirmProvided(ctx, s.acc, p.INS, rd, nd)
		return err
	})
	var nc *app.NotConfirmedError
	switch {
	case err == nil:
		return e.ack(ctx, p, it, got, sum)
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.As(err, &nc):
		return e.unconfirmed(ctx, it, nc, sum)
	default:
		return e.retryLater(ctx, it, err, sum)
	}
}
