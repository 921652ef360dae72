package meds

import (
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/terms"
)

// The decision table and the vault: a row's decision is saved as an
// app.PreopDecision when taken, and the saved ones are put back on the
// rows when the table is built again (the table reopened, the report
// signed, the list printed).

// Saved returns the row as the vault keeps it: its decision when decided
// (Action "" otherwise) and its HAS reconciliation. By and At are set by
// the service.
func (r *Row) Saved() app.PreopDecision {
	d := app.PreopDecision{Line: r.Entry.ID, Drug: r.Entry.Name, Discrepancy: string(r.Discrepancy), Comment: r.Comment}
	if r.Decided {
		d.Action, d.LastDose = string(r.Decision.Action), r.Decision.LastDose
		d.Override, d.Reason = r.Decision.Override, r.Decision.Reason
	}
	return d
}

// Restore puts saved decisions back on rows built for the current inputs
// (by line key). An override comes back as decided, as it was. An accepted
// proposal comes back only while the table still proposes the same action
// and date; when the inputs changed since (another surgery date, a new
// clearance), the row is undecided again and counted in stale: a date
// decided for another day is never shown as decided. The reconciliation
// (discrepancy, comment) always comes back.
func Restore(rows []Row, rec app.PreopRecord) (stale int) {
	for i := range rows {
		r := &rows[i]
		d, ok := rec.Decision(r.Entry.ID)
		if !ok {
			continue
		}
		r.Discrepancy, r.Comment = Discrepancy(d.Discrepancy), d.Comment
		if d.Action == "" {
			continue
		}
		a := terms.Action(d.Action)
		if !a.Valid() {
			stale++
			continue
		}
		if d.Override {
			r.Decision = terms.Decision{Proposal: r.Proposal, Action: a, LastDose: d.LastDose, Override: true, Reason: d.Reason}
			r.Decided = true
			continue
		}
		if a != r.Proposal.Action || !sameDay(d.LastDose, r.Proposal.LastDose) {
			stale++
			continue
		}
		r.Accept()
	}
	return stale
}

func sameDay(a, b time.Time) bool {
	if a.IsZero() || b.IsZero() {
		return a.IsZero() == b.IsZero()
	}
	ay, am, ad := a.Date()
	by, bm, bd := b.Date()
	return ay == by && am == bm && ad == bd
}

// InputsOf returns the decision input of saved inputs.
func InputsOf(in app.PreopInputs) terms.DecisionInput {
	return terms.DecisionInput{Surgery: in.Surgery, Bleeding: terms.BleedingRisk(in.Bleeding), CrCl: in.CrCl}
}

// SavedInputs returns the inputs to save, with where the clearance came
// from.
func SavedInputs(in terms.DecisionInput, crclSource string) app.PreopInputs {
	return app.PreopInputs{Surgery: in.Surgery, Bleeding: string(in.Bleeding), CrCl: in.CrCl, CrClSource: crclSource}
}
