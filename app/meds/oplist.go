package meds

import (
	"context"
	"errors"
	"sort"
	"strings"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/terms"
)

// OperatingList builds the printout of a day's operating list from the
// vault alone: one sheet per patient scheduled that day (by time of
// surgery, then birth name), each with the decisions saved on the
// patient's table (the inputs saved with them, the surgery on day), and
// every line nobody decided marked "NON DÉCIDÉ" with the table's
// proposal. A record that cannot be read gets a sheet saying so rather
// than vanishing from the list. who names the program printing
// ("carnet print").
func OperatingList(ctx context.Context, svc *app.Service, day, now time.Time, who string) ([]app.PreopSheet, error) {
	ps, err := svc.Store().Patients(ctx)
	if err != nil {
		return nil, err
	}
	y, m, d := day.Date()
	var scheduled []app.Patient
	for _, p := range ps {
		if p.Scheduled.IsZero() {
			continue
		}
		if sy, sm, sd := p.Scheduled.In(day.Location()).Date(); sy == y && sm == m && sd == d {
			scheduled = append(scheduled, p)
		}
	}
	sort.SliceStable(scheduled, func(i, j int) bool {
		a, b := scheduled[i], scheduled[j]
		if !a.Scheduled.Equal(b.Scheduled) {
			return a.Scheduled.Before(b.Scheduled)
		}
		return a.BirthName < b.BirthName
	})
	surgery := time.Date(y, m, d, 0, 0, 0, 0, day.Location())
	sheets := make([]app.PreopSheet, 0, len(scheduled))
	for _, p := range scheduled {
		s, err := patientSheet(ctx, svc, p, surgery, now, who)
		if err != nil {
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return nil, err
			}
			s = app.PreopSheet{Patient: p, Surgery: surgery, AsOf: now, Status: terms.DecisionStatus,
				PreparedBy: who, Inputs: "dossier illisible : " + app.KindOf(err).Error()}
		}
		sheets = append(sheets, s)
	}
	return sheets, nil
}

// patientSheet is one patient's sheet of the list: the saved inputs and
// decisions on the table built from the cached record.
func patientSheet(ctx context.Context, svc *app.Service, p app.Patient, surgery, now time.Time, who string) (app.PreopSheet, error) {
	reading, err := svc.ReadMedications(ctx, p.ID)
	if err != nil {
		return app.PreopSheet{}, err
	}
	saved, err := svc.PreopDecisions(ctx, p.ID)
	unreadable := false
	if err != nil {
		if ctx.Err() != nil {
			return app.PreopSheet{}, err
		}
		// the page is still printed, every line undecided, and says why
		saved, unreadable = app.PreopRecord{}, true
	}
	in := InputsOf(saved.Inputs)
	in.Surgery = surgery
	src := saved.Inputs.CrClSource
	if in.CrCl <= 0 { // none saved: the clearance the record gives, if any
		if e, _, ok := EstimateCrCl(p, reading.Observations); ok {
			in.CrCl, src = e.Value, e.Source
		}
	}
	list := Consolidate(reading.Lines, reading.Metas(), now)
	rows := Rows(list, in)
	Restore(rows, saved)
	by := PreparedBy(who, saved)
	if unreadable {
		by = who + " (décisions enregistrées illisibles : propositions non validées)"
	}
	return WithCrClSource(Sheet(p, reading, list, rows, in, by), src), nil
}

// PreparedBy names who prepared a sheet: the practitioners whose saved
// decisions it carries, else that it holds only unvalidated proposals.
func PreparedBy(who string, saved app.PreopRecord) string {
	var by []string
	for _, d := range saved.Decisions {
		if d.Action == "" || d.By == "" {
			continue
		}
		by = appendOnce(by, d.By)
	}
	if len(by) == 0 {
		return who + " (aucune décision enregistrée : propositions non validées)"
	}
	return who + ", décisions de " + strings.Join(by, ", ")
}
