package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/carnetdesk/carnet/app"
)

// purgePatient forgets a patient by crypto-shredding (Store.Purge). A
// patient with outbox items is never purged: its cached documents leave
// the vault (they are unreadable at once) but the identity and the outbox
// stay, and the patient is flagged.
func (e *Engine) purgePatient(ctx context.Context, id app.PatientID, why string, sum *app.SyncSummary) {
	err := e.store.Purge(ctx, id)
	switch {
	case err == nil:
		sum.Purged++
		_ = e.store.Record(ctx, app.AuditEvent{Time: e.cfg.Clock.Now(), Patient: id, Action: "sync.purge", Result: "ok", Detail: why})
		return
	case errors.Is(err, app.ErrConflict):
		sum.Flagged++
		sum.Failures = append(sum.Failures, app.SyncFailure{Patient: id, Reason: "engine: " + why + ": kept for its pending outbox items"})
		if derr := e.dropDocuments(ctx, id); derr != nil {
			sum.Failures = append(sum.Failures, app.SyncFailure{Patient: id, Reason: derr.Error()})
		}
		_ = e.store.Record(ctx, app.AuditEvent{Time: e.cfg.Clock.Now(), Patient: id, Action: "sync.purge", Result: "flagged", Detail: why})
	case errors.Is(err, app.ErrNotFound):
	default:
		sum.Failures = append(sum.Failures, app.SyncFailure{Patient: id, Reason: fmt.Sprintf("engine: %s: purge failed: %v", why, err)})
	}
}

// dropDocuments removes a patient's cached documents and empties the
// manifest, keeping the identity and the outbox.
func (e *Engine) dropDocuments(ctx context.Context, id app.PatientID) error {
	m, err := e.store.Manifest(ctx, id)
	if err != nil && !errors.Is(err, app.ErrNotFound) && app.Denial(err) != app.DeniedRevalidation {
		return fmt.Errorf("engine: drop cached documents: %w", err)
	}
	b := &app.Batch{Manifests: []app.Manifest{{Patient: id}}}
	for _, d := range m.Documents {
		b.DocumentsGone = append(b.DocumentsGone, app.DocumentRef{Patient: id, ID: d.ID})
	}
	b.Cursors = []app.Cursor{{Patient: id, Stream: app.StreamDocuments}, {Patient: id, Stream: app.StreamReconciled}}
	if err := e.store.Write(ctx, b); err != nil {
		return fmt.Errorf("engine: drop cached documents: %w", err)
	}
	return nil
}

// retention purges the patients not consulted for Settings.RetentionDays
// and counts those unreadable until re-validated. It runs offline too.
func (e *Engine) retention(ctx context.Context, settings app.Settings, sum *app.SyncSummary) error {
	ps, err := e.store.Patients(ctx)
	if err != nil {
		return fmt.Errorf("engine: retention: %w", err)
	}
	now := e.cfg.Clock.Now()
	for _, p := range ps {
		switch {
		case app.RetentionDue(p, settings.RetentionDays, now):
			e.purgePatient(ctx, p.ID, "retention", sum)
		case app.RevalidationDue(p, settings.RevalidationDays, now):
			sum.Unreadable++
		}
	}
	return nil
}
