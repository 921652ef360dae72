package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/carnetdesk/carnet/app"
)

// lookupWorkers bounds the record lookups of one operating-list import.
const lookupWorkers = 4

// ImportOperatingList applies an operating list (see
// app.ParseOperatingList) to the directory: matched patients are scheduled
// (and so prefetched ahead of their date). A patient not yet in the vault
// whose row gives a qualified, complete identity (app.ApplyOperatingList's
// Lookup) is looked up by INS on the central service (FindPatient, TD0.2,
// through the session's identity gate, app.WithListedIdentity); on a record
// this practitioner may read, the list's identity is added to the
// directory, scheduled. Every other entry comes back to identify with its
// reason; nothing is written for it.
func (e *Engine) ImportOperatingList(ctx context.Context, list []app.Scheduled) (app.OperatingListResult, error) {
	ps, err := e.store.Patients(ctx)
	if err != nil {
		return app.OperatingListResult{}, fmt.Errorf("engine: operating list: %w", err)
	}
	res := app.ApplyOperatingList(ps, list, e.cfg.Clock.Now())
	lookup := res.Lookup
	res.Lookup = nil
	added := e.lookUpListed(ctx, lookup, &res)
	if len(lookup) > 0 {
		// The lookups took network time: write on the directory as it is
		// now, not on the copies read before them (a pin, an opening, a
		// revalidation meanwhile would be undone).
		if res.Scheduled, added, err = e.refreshListed(ctx, res.Scheduled, added, lookup, &res); err != nil {
			return app.OperatingListResult{}, fmt.Errorf("engine: operating list: %w", err)
		}
	}
	batch := &app.Batch{Patients: append(append([]app.Patient(nil), res.Scheduled...), added...)}
	if len(batch.Patients) == 0 {
		return res, nil
	}
	if err := e.store.Write(ctx, batch); err != nil {
		res.Added = 0
		res.Scheduled = res.Scheduled[:0:0]
		return res, fmt.Errorf("engine: operating list: %w", err)
	}
	now := e.cfg.Clock.Now()
	for _, p := range batch.Patients[len(res.Scheduled):] { // the new ones, with their drawn ids
		_ = e.store.Record(ctx, app.AuditEvent{Time: now, Patient: p.ID, Action: "operating-list.add", Result: "ok",
			Detail: "qualified identity of the clinic's identity system; record found by INS"})
	}
	res.Scheduled = batch.Patients
	res.Added = len(added)
	return res, nil
}

// refreshListed re-reads the directory after the lookups: each scheduled
// patient is its current record with the list's date (one purged meanwhile
// is dropped); an identity to add whose INS the directory now holds (a
// concurrent import) is not added twice — that patient is scheduled when
// the traits agree, else the row goes to identify (ListTraitsDisagree).
func (e *Engine) refreshListed(ctx context.Context, scheduled, added []app.Patient, lookup []app.Scheduled, res *app.OperatingListResult) ([]app.Patient, []app.Patient, error) {
	ps, err := e.store.Patients(ctx)
	if err != nil {
		return nil, nil, err
	}
	byID := make(map[app.PatientID]app.Patient, len(ps))
	byINS := make(map[string]app.Patient, len(ps))
	for _, p := range ps {
		byID[p.ID] = p
		if p.INS.Matricule != "" {
			byINS[p.INS.Matricule] = p
		}
	}
	var fresh []app.Patient
	for _, p := range scheduled {
		if cur, ok := byID[p.ID]; ok {
			cur.Scheduled = p.Scheduled
			fresh = append(fresh, cur)
		}
	}
	var adds []app.Patient
	for _, p := range added {
		cur, ok := byINS[p.INS.Matricule]
		switch {
		case !ok:
			adds = append(adds, p)
		case listedAgrees(p, cur):
			cur.Scheduled = p.Scheduled
			fresh = append(fresh, cur)
		default:
			for _, s := range lookup {
				if s.Matricule == p.INS.Matricule {
					s.Reason = app.ListTraitsDisagree
					res.ToIdentify = append(res.ToIdentify, s)
				}
			}
		}
	}
	sort.SliceStable(res.ToIdentify, func(a, b int) bool { return res.ToIdentify[a].Line < res.ToIdentify[b].Line })
	return fresh, adds, nil
}

// listedAgrees reports whether a listed identity agrees with a patient of
// the directory on the strict traits.
func listedAgrees(listed, p app.Patient) bool {
	id := app.ListedIdentity{Status: listed.Status, BirthName: listed.BirthName, BirthGivenNames: listed.BirthGivenNames,
		BirthDate: listed.BirthDate, Sex: listed.Sex, BirthPlace: listed.BirthPlace}
	return id.Agrees(p)
}

// lookUpListed asks the central service, for each entry, whether a record
// exists for its INS that this practitioner may read. It returns the
// identities to add; the others go to res.ToIdentify with their reason.
func (e *Engine) lookUpListed(ctx context.Context, entries []app.Scheduled, res *app.OperatingListResult) []app.Patient {
	if len(entries) == 0 {
		return nil
	}
	reasons := make([]app.OperatingListReason, len(entries))
	rs, pr, ok := e.cfg.Records()
	if !ok {
		for i := range reasons {
			reasons[i] = app.ListNotSignedIn
		}
	} else {
		acc := app.Access{Practitioner: pr, Mode: app.AccessNormal}
		var wg sync.WaitGroup
		next := make(chan int)
		for w := 0; w < min(lookupWorkers, len(entries)); w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range next {
					reasons[i] = e.lookUpOne(ctx, rs, acc, app.ListedPatient(entries[i]))
				}
			}()
		}
		for i := range entries {
			next <- i
		}
		close(next)
		wg.Wait()
	}
	var added []app.Patient
	for i, s := range entries {
		if reasons[i] == "" {
			added = append(added, app.ListedPatient(s))
			continue
		}
		s.Reason = reasons[i]
		res.ToIdentify = append(res.ToIdentify, s)
	}
	sort.SliceStable(res.ToIdentify, func(a, b int) bool { return res.ToIdentify[a].Line < res.ToIdentify[b].Line })
	return added
}

// lookUpOne asks about one listed identity: "" when a record exists that
// this practitioner may read, else why not.
func (e *Engine) lookUpOne(ctx context.Context, rs app.RecordService, acc app.Access, p app.Patient) app.OperatingListReason {
	if ctx.Err() != nil {
		return app.ListLookupFailed
	}
	var st app.RecordStatus
	err := e.call(ctx, func(ctx context.Context) error {
		var err error
		st, err = rs.FindPatient(app.WithListedIdentity(ctx, p), acc, p.INS)
		return err
	})
	switch {
	case err == nil:
	case app.Denial(err) == app.DeniedNoRecord:
		return app.ListNoRecord
	case app.Denial(err) != "":
		return app.ListNoAccess
	case errors.Is(err, app.ErrOffline):
		return app.ListOffline
	default:
		e.log.Debug("engine: operating list: lookup failed", "err", err)
		return app.ListLookupFailed
	}
	switch {
	case !st.Exists:
		return app.ListNoRecord
	case statusLost(st) != "":
		return app.ListNoAccess
	}
	return ""
}
