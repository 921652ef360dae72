package meds

import (
	"strconv"
	"strings"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/terms"
)

// Sheet builds a patient's printout page from the decision table: the
// present allergies, devices and problems of the reading, every row with
// its decision (taken, or marked "NON DÉCIDÉ" with the proposal), the
// documents consulted.
func Sheet(p app.Patient, reading app.MedicationReading, list List, rows []Row, in terms.DecisionInput, preparedBy string) app.PreopSheet {
	s := app.PreopSheet{Patient: p, Surgery: in.Surgery, AsOf: list.Now, PreparedBy: preparedBy, Status: terms.DecisionStatus}
	var inputs []string
	switch in.Bleeding {
	case terms.BleedingLow:
		inputs = append(inputs, "risque hémorragique : faible")
	case terms.BleedingHigh:
		inputs = append(inputs, "risque hémorragique : élevé")
	default:
		inputs = append(inputs, "risque hémorragique : non précisé")
	}
	if in.CrCl > 0 {
		inputs = append(inputs, "ClCr : "+strconv.FormatFloat(in.CrCl, 'f', -1, 64)+" mL/min")
	} else {
		inputs = append(inputs, "ClCr : non renseignée")
	}
	s.Inputs = strings.Join(inputs, " · ")
	for _, a := range app.PresentAllergies(reading.Allergies) {
		s.Allergies = appendOnce(s.Allergies, firstOf(a.Text, a.Agent.Display, a.Code.Display, a.Agent.Code))
	}
	for _, d := range reading.Devices {
		if !d.Negated {
			s.Devices = appendOnce(s.Devices, firstOf(d.Name, d.Type.Display, d.Model, d.ID))
		}
	}
	for _, pr := range app.PresentProblems(reading.Problems) {
		s.Problems = appendOnce(s.Problems, firstOf(pr.Text, pr.Code.Display, pr.Code.Code))
	}
	seen := map[app.DocumentID]bool{}
	for i := range rows {
		r := &rows[i]
		e := &r.Entry
		class := ""
		for _, f := range e.Flags {
			if !f.Possible() {
				class = f.Class.Label
				break
			}
		}
		dec := "NON DÉCIDÉ - proposé : " + r.Proposal.Text()
		if r.Decided {
			dec = r.Decision.Action.Label()
			if !r.Decision.LastDose.IsZero() {
				dec += " — dernière prise le " + r.Decision.LastDose.Format("02/01/2006")
			}
		}
		last := ""
		switch {
		case !e.LastDispensed.IsZero():
			last = "délivré le " + e.LastDispensed.Format("02/01/2006")
		case !e.LastActivity.IsZero():
			last = e.LastActivity.Format("02/01/2006")
		}
		s.Rows = append(s.Rows, app.PreopRow{Name: e.Name, Class: class, Decision: dec, Last: last,
			Sources: e.Independent, Reason: r.LineDecision().Reason, Flagged: e.Flagged(), Undecided: !r.Decided})
		for _, src := range e.Sources {
			if src.Document == "" || src.Own || seen[src.Document] {
				continue
			}
			seen[src.Document] = true
			s.Sources = appendOnce(s.Sources, src.TypeLabel+" du "+src.Date.Format("02/01/2006")+sep(src.Author))
		}
	}
	return s
}

func sep(author string) string {
	if author == "" {
		return ""
	}
	return " · " + author
}

func firstOf(s ...string) string {
	for _, x := range s {
		if x = strings.TrimSpace(x); x != "" {
			return x
		}
	}
	return "?"
}

func appendOnce(s []string, v string) []string {
	for _, x := range s {
		if x == v {
			return s
		}
	}
	return append(s, v)
}

// WithCrClSource adds to a sheet's inputs where its creatinine clearance
// came from ("saisie", or the lab result it was computed from).
func WithCrClSource(s app.PreopSheet, src string) app.PreopSheet {
	if src = strings.TrimSpace(src); src != "" && strings.Contains(s.Inputs, "mL/min") {
		s.Inputs += " (" + src + ")"
	}
	return s
}
