package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"
)

// DefaultWatchLead is how long ahead of its date a patient of the operating
// list is watched (prefetched), as the sync engine does by default.
const DefaultWatchLead = 48 * time.Hour

// watchListMax bounds the home screen's watch list.
const watchListMax = 100

// WatchList returns the list the practitioner watches — the imported
// operating list first (by date), then the patients pinned by an explicit
// action (SetPinned) — with their offline readiness. Opening a record does
// not add it (the sync engine still keeps recently opened records fresh,
// see Watched): the list changes only by the operating list or a pin, so
// that it never moves under the pointer and never gains a patient
// silently.
func (s *Service) WatchList(ctx context.Context) ([]WatchEntry, error) {
	ps, err := s.store.Patients(ctx)
	if err != nil {
		return nil, fmt.Errorf("watch list: %w", err)
	}
	now := s.clock.Now()
	var out []WatchEntry
	for _, p := range ps {
		if !Watched(p, now, DefaultWatchDays, DefaultWatchLead) || !p.Pinned && p.Scheduled.IsZero() {
			continue
		}
		e := WatchEntry{Patient: p}
		m, err := s.store.Manifest(ctx, p.ID)
		switch {
		case err == nil:
			e.CheckedAt = m.CheckedAt
			for _, d := range m.Documents {
				if d.Superseded {
					continue
				}
				e.Documents++
				if d.Cached {
					e.Cached++
				}
			}
		case errors.Is(err, ErrNotFound), errors.Is(err, ErrAccessDenied):
			// never synced, or unreadable until re-validated: 0 ready
		default:
			return nil, fmt.Errorf("watch list: %w", err)
		}
		out = append(out, e)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].Patient, out[j].Patient
		switch {
		case !a.Scheduled.IsZero() && !b.Scheduled.IsZero():
			return a.Scheduled.Before(b.Scheduled)
		case !a.Scheduled.IsZero() || !b.Scheduled.IsZero():
			return !a.Scheduled.IsZero()
		case a.Pinned != b.Pinned:
			return a.Pinned
		}
		return a.LastAccess.After(b.LastAccess)
	})
	if len(out) > watchListMax {
		out = out[:watchListMax]
	}
	return out, nil
}

// SetPinned pins a patient to the watch list (or unpins it): an explicit
// action of the practitioner, audited. A pinned record is kept up to date
// and readable offline whatever the date.
func (s *Service) SetPinned(ctx context.Context, id PatientID, pinned bool) error {
	s.Touch()
	p, err := s.store.Patient(ctx, id)
	if err != nil {
		return fmt.Errorf("pin patient: %w", err)
	}
	if p.Pinned == pinned {
		return nil
	}
	p.Pinned = pinned
	result := "pinned"
	if !pinned {
		result = "unpinned"
	}
	ev := AuditEvent{Time: s.clock.Now(), Action: "watch.pin", Patient: id, Result: result}
	if pr, ok := s.Practitioner(); ok {
		ev.Practitioner, ev.Structure = pr.RPPS, pr.Structure.ID
	}
	if err := s.store.Write(ctx, &Batch{Patients: []Patient{p}, Audit: []AuditEvent{ev}}); err != nil {
		return fmt.Errorf("pin patient: %w", err)
	}
	return nil
}

// ImportOperatingList reads an operating list (CSV with INS and date, or
// iCalendar) and marks its patients as scheduled: the sync engine prefetches
// their records ahead of the date, so that they open in the theatre without
// network. INS not found in the vault are reported "to identify".
func (s *Service) ImportOperatingList(ctx context.Context, r io.Reader, name string) (OperatingListResult, error) {
	s.Touch()
	list, err := ParseOperatingList(r, name)
	if err != nil {
		return OperatingListResult{}, fmt.Errorf("operating list: %w", err)
	}
	sy, err := s.currentSyncer()
	if err != nil {
		return OperatingListResult{}, err
	}
	res, err := sy.ImportOperatingList(ctx, list)
	s.audit(ctx, AuditEvent{Action: "operating-list.import", Result: resultOf(err)})
	if err != nil {
		return OperatingListResult{}, fmt.Errorf("operating list: %w", err)
	}
	return res, nil
}
