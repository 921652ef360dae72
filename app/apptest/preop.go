package apptest

import (
	"context"
	"fmt"
	"slices"
	"sort"

	"github.com/carnetdesk/carnet/app"
)

// PreopDecisions implements app.Store: the patient's saved pre-operative
// record; app.ErrNotFound for a patient not in the directory.
func (s *Store) PreopDecisions(_ context.Context, id app.PatientID) (app.PreopRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check("pre-operative decisions"); err != nil {
		return app.PreopRecord{}, err
	}
	if _, ok := s.dir.Get(id); !ok {
		return app.PreopRecord{}, fmt.Errorf("apptest: pre-operative decisions: %w", app.ErrNotFound)
	}
	r := s.preop[id]
	r.Patient = id
	r.Decisions = slices.Clone(r.Decisions)
	return r, nil
}

// checkPreop refuses pre-operative sets the vault refuses: without a
// patient of the directory (or of the batch), or a decision without line.
func (s *Store) checkPreop(b *app.Batch) error {
	for _, set := range b.Preop {
		if set.Patient == "" {
			return fmt.Errorf("apptest: write: pre-operative decisions without patient: %w", app.ErrInvalid)
		}
		_, ok := s.dir.Get(set.Patient)
		ok = ok || slices.ContainsFunc(b.Patients, func(p app.Patient) bool { return p.ID == set.Patient })
		if !ok {
			return fmt.Errorf("apptest: write: pre-operative decisions of an unknown patient: %w", app.ErrNotFound)
		}
		for _, d := range set.Put {
			if d.Line == "" {
				return fmt.Errorf("apptest: write: pre-operative decision without line: %w", app.ErrInvalid)
			}
		}
	}
	return nil
}

// applyPreop merges pre-operative sets, as the vault does.
func (s *Store) applyPreop(sets []app.PreopSet) {
	for _, set := range sets {
		if s.preop == nil {
			s.preop = map[app.PatientID]app.PreopRecord{}
		}
		r := s.preop[set.Patient]
		r.Decisions = slices.Clone(r.Decisions)
		if set.Inputs != nil {
			r.Inputs = *set.Inputs
		}
		for _, p := range set.Put {
			if i := slices.IndexFunc(r.Decisions, func(d app.PreopDecision) bool { return d.Line == p.Line }); i >= 0 {
				r.Decisions[i] = p
			} else {
				r.Decisions = append(r.Decisions, p)
			}
		}
		r.Decisions = slices.DeleteFunc(r.Decisions, func(d app.PreopDecision) bool { return slices.Contains(set.Remove, d.Line) })
		sort.SliceStable(r.Decisions, func(i, j int) bool { return r.Decisions[i].Line < r.Decisions[j].Line })
		if len(r.Decisions) == 0 && r.Inputs == (app.PreopInputs{}) {
			delete(s.preop, set.Patient)
			continue
		}
		s.preop[set.Patient] = r
	}
}
