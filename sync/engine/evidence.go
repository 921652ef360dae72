package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/carnetdesk/carnet/app"
)

// This file holds the rules by which the engine removes anything: only on
// evidence. A patient is purged only on an explicit signal of the service
// (record closed, professional blocked, authorisation withdrawn, a 401/403
// or 410 carrying one of these DMP reasons), seen on two consecutive
// cycles at least ConfirmAfter apart on the engine's clock, and only when
// the cycle would not purge more than MaxPurgeShare of the watch list. A
// document leaves the vault only when reading it says masked,
// entered-in-error or withdrawn with a DMP reason, or says "not found" on
// two reads at least ConfirmAfter apart; never because a listing omitted it. Empty, partial or
// missing answers change nothing, and the summary says why.

// Defaults of the evidence rules.
const (
	DefaultConfirmAfter  = time.Minute
	DefaultMaxPurgeShare = 0.20
	// maxEvidenceReads bounds the documents read per patient and cycle to
	// check an omission; the others wait for the next reconciliation.
	maxEvidenceReads = 50
)

// suspicion is an explicit loss of access seen, not yet confirmed.
type suspicion struct {
	reason app.DenialReason
	first  time.Time // engine clock of the first cycle that saw it
}

// clearSuspicion forgets a patient's unconfirmed loss (access confirmed).
func (e *Engine) clearSuspicion(id app.PatientID) {
	e.mu.Lock()
	delete(e.suspect, id)
	e.mu.Unlock()
}

// decidePurges purges the patients whose loss of access this cycle
// confirms, unless too many would go at once.
func (e *Engine) decidePurges(ctx context.Context, lost map[app.PatientID]app.DenialReason, watched int, sum *app.SyncSummary) {
	now := e.cfg.Clock.Now()
	type purge struct {
		id     app.PatientID
		reason app.DenialReason
	}
	var confirmed []purge
	e.mu.Lock()
	// Consecutive cycles: a patient this cycle did not see lost (read
	// fine, not read, a fault) starts its count again.
	for id := range e.suspect {
		if _, ok := lost[id]; !ok {
			delete(e.suspect, id)
		}
	}
	for id, reason := range lost {
		s, ok := e.suspect[id]
		if !ok {
			e.suspect[id] = suspicion{reason: reason, first: now}
			s = e.suspect[id]
		}
		if !ok || now.Sub(s.first) < e.cfg.ConfirmAfter {
			sum.PurgeHeld++
			sum.Failures = append(sum.Failures, app.SyncFailure{Patient: id, Reason: fmt.Sprintf(
				"engine: the service says access is lost (%s): kept until a cycle at least %s later confirms it", reason, e.cfg.ConfirmAfter)})
			continue
		}
		confirmed = append(confirmed, purge{id, reason})
	}
	e.mu.Unlock()
	if len(confirmed) == 0 {
		return
	}
	limit := int(e.cfg.MaxPurgeShare * float64(watched))
	if limit < 1 {
		limit = 1 // one confirmed loss is never held by the share alone
	}
	if e.cfg.MaxPurgeShare < 1 && len(confirmed) > limit {
		sum.PurgeHeld += len(confirmed)
		sum.Failures = append(sum.Failures, app.SyncFailure{Reason: fmt.Sprintf(
			"engine: %d of %d watched patients would be purged, more than %.0f %%: nothing purged; check the service and the practitioner's authorisations",
			len(confirmed), watched, 100*e.cfg.MaxPurgeShare)})
		e.log.Warn("engine: purge guard held the cycle's purges", "would_purge", len(confirmed), "watched", watched)
		return
	}
	for _, p := range confirmed {
		e.purgePatient(ctx, p.id, "access lost: "+string(p.reason), sum)
		e.clearSuspicion(p.id)
	}
}

// goneConfirmed records a "not found" read of a document and reports
// whether an earlier one, at least ConfirmAfter before on the engine's
// clock, confirms it: one missing answer never removes a document.
func (e *Engine) goneConfirmed(ref app.DocumentRef) bool {
	now := e.cfg.Clock.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	first, ok := e.goneSeen[ref]
	if !ok {
		e.goneSeen[ref] = now
		return false
	}
	return now.Sub(first) >= e.cfg.ConfirmAfter
}

// forgetGone drops a document's unconfirmed "not found" (it read fine, or
// it left the vault).
func (e *Engine) forgetGone(ref app.DocumentRef) {
	e.mu.Lock()
	delete(e.goneSeen, ref)
	e.mu.Unlock()
}

// errNoRecordSeen is a patient's failure when the service found no record:
// an empty answer is no evidence.
var errNoRecordSeen = errors.New("engine: the service found no record for this patient (an empty answer is no evidence): nothing refreshed, nothing removed")

// evidence reads the documents a full listing omitted and removes those
// that read as deleted (ErrWithdrawn), entered-in-error or masked. The
// others stay; those that read otherwise are merged as read. Without an
// app.EntryReader nothing is removed.
func (e *Engine) evidence(ctx context.Context, r *pullRun, ps *pstate, omitted []app.DocumentMeta) error {
	rdr, ok := r.s.rs.(app.EntryReader)
	if !ok || len(omitted) == 0 {
		if len(omitted) > 0 {
			r.sum.add(func(s *app.SyncSummary) { s.Kept += len(omitted) })
		}
		return nil
	}
	if len(omitted) > maxEvidenceReads {
		r.sum.add(func(s *app.SyncSummary) { s.Kept += len(omitted) - maxEvidenceReads })
		omitted = omitted[:maxEvidenceReads]
	}
	for _, d := range omitted {
		var rd app.RemoteDocument
		err := e.call(ctx, func(ctx context.Context) error {
			var err error
			rd, err = rdr.ReadDocument(ctx, r.s.acc, ps.patient.INS, d.RemoteID)
			return err
		})
		// Explicit: entered-in-error, masked, or withdrawn with a DMP
		// reason. A bare "not found" (or another document under that id)
		// is one answer: it removes only when confirmed ConfirmAfter later.
		var ae *app.AccessError
		explicit := (errors.Is(err, app.ErrWithdrawn) && errors.As(err, &ae)) ||
			(err == nil && rd.Meta.ID == d.ID && (rd.Status == "entered-in-error" || rd.Visibility.MaskedToProfessionals))
		notFound := !explicit && (errors.Is(err, app.ErrWithdrawn) || (err == nil && rd.Meta.ID != d.ID))
		gone := explicit || (notFound && e.goneConfirmed(app.DocumentRef{Patient: ps.patient.ID, ID: d.ID}))
		if err == nil && !notFound {
			e.forgetGone(app.DocumentRef{Patient: ps.patient.ID, ID: d.ID})
		}
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case notFound && !gone:
			r.sum.add(func(s *app.SyncSummary) { s.Kept++ })
		case gone:
			e.forgetGone(app.DocumentRef{Patient: ps.patient.ID, ID: d.ID})
			if cerr := r.c.change(ctx, ps, 1, 0, func(ps *pstate) {
				ps.remove(d.ID)
				r.sum.add(func(s *app.SyncSummary) { s.Removed++ })
			}); cerr != nil {
				return cerr
			}
		case err == nil:
			if cerr := r.c.change(ctx, ps, 1, entryBytes, func(ps *pstate) { e.merge(r, ps, rd) }); cerr != nil {
				return cerr
			}
			r.sum.add(func(s *app.SyncSummary) { s.Kept++ })
		default:
			r.sum.add(func(s *app.SyncSummary) { s.Kept++ })
			if errors.Is(err, app.ErrOffline) {
				return err
			}
		}
	}
	return nil
}
