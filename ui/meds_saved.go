package ui

import (
	"context"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"fyne.io/fyne/v2/widget"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/meds"
)

// The decision table's decisions are saved in the vault as they are taken
// (Service.SavePreopDecision: accept, override, the reconciliation of a
// line) and its inputs as they change (Service.SavePreopInputs); the
// table reopened, the report signed and the list printed use them. Saves
// run off the UI goroutine, one after the other in the order they were
// made (a later save of a line never loses to an earlier one).

// saveQueue runs saves one at a time, in order, off the UI goroutine.
type saveQueue struct {
	mu      sync.Mutex
	pending []func(ctx context.Context) error
	running bool
}

// push queues a save; the first error is shown by onErr on the UI
// goroutine.
func (q *saveQueue) push(u *UI, save func(ctx context.Context) error, onErr func(error)) {
	q.mu.Lock()
	q.pending = append(q.pending, save)
	start := !q.running
	q.running = true
	q.mu.Unlock()
	if !start {
		return
	}
	u.tasks.run(func() func() {
		var first error
		for {
			q.mu.Lock()
			if len(q.pending) == 0 {
				q.running = false
				q.mu.Unlock()
				break
			}
			next := q.pending[0]
			q.pending = q.pending[1:]
			q.mu.Unlock()
			if err := next(u.ctx); err != nil && first == nil {
				first = err
			}
		}
		if first == nil {
			return nil
		}
		return func() { onErr(first) }
	})
}

// saveRow saves a row's decision and reconciliation as they are now.
func (d *decisionTable) saveRow(id int) {
	if id < 0 || id >= len(d.rows) {
		return
	}
	d.saveInputs() // the inputs the decision was taken with (a proposed clearance too)
	dec := d.rows[id].Saved()
	delete(d.dirty, dec.Line)
	svc, pid := d.v.u.svc, d.v.rec.Patient.ID
	d.saveQ.push(d.v.u, func(ctx context.Context) error {
		_, err := svc.SavePreopDecision(ctx, pid, dec)
		return err
	}, d.saveFailed)
}

// undoRow takes back the decision of row id: the row shows its proposal
// again; the vault forgets the decision (the line's reconciliation, when
// noted, is kept: the line is saved again without a decision).
func (d *decisionTable) undoRow(id int) {
	if id < 0 || id >= len(d.rows) || !d.rows[id].Decided {
		return
	}
	r := &d.rows[id]
	r.Undo()
	if r.Discrepancy != meds.DiscrepancyNone || strings.TrimSpace(r.Comment) != "" {
		d.saveRow(id)
		return
	}
	delete(d.dirty, r.Entry.ID)
	svc, pid, line := d.v.u.svc, d.v.rec.Patient.ID, r.Entry.ID
	d.saveQ.push(d.v.u, func(ctx context.Context) error {
		return svc.ForgetPreopDecision(ctx, pid, line)
	}, d.saveFailed)
}

// flushDirty saves the rows whose comment was typed but not saved yet.
func (d *decisionTable) flushDirty() {
	for i := range d.rows {
		if d.dirty[d.rows[i].Entry.ID] {
			d.saveRow(i)
		}
	}
}

// saveInputs saves the inputs when they changed since last saved.
func (d *decisionTable) saveInputs() {
	in := meds.SavedInputs(d.in, d.crclSource)
	if in == d.savedIn {
		return
	}
	d.savedIn = in
	svc, pid := d.v.u.svc, d.v.rec.Patient.ID
	d.saveQ.push(d.v.u, func(ctx context.Context) error { return svc.SavePreopInputs(ctx, pid, in) }, d.saveFailed)
}

// saveFailed says a save failed: the decision stays on the screen, not in
// the vault.
func (d *decisionTable) saveFailed(err error) {
	if d.v.disposed {
		return
	}
	d.v.setReconcileMsg(tr("meds.table.savefailed", map[string]any{"Error": message(err)}), widget.DangerImportance)
}

// restoreInputs fills the inputs saved for the patient when none were
// typed: the saved surgery date (else the operating list's), bleeding risk
// and clearance with its source.
func (d *decisionTable) restoreInputs(saved app.PreopInputs, scheduled string) {
	d.restoring = true
	defer func() { d.restoring = false }()
	if d.surgery.Text == "" {
		switch {
		case !saved.Surgery.IsZero():
			d.surgery.SetText(saved.Surgery.Format("02/01/2006"))
		case scheduled != "":
			d.surgery.SetText(scheduled)
		}
	}
	if d.bleeding.SelectedIndex() <= 0 {
		switch saved.Bleeding {
		case "low":
			d.bleeding.SetSelectedIndex(1)
		case "high":
			d.bleeding.SetSelectedIndex(2)
		}
	}
	if d.crcl.Text == "" && saved.CrCl > 0 {
		d.crcl.SetText(formatCrCl(saved.CrCl))
		d.crclSource = saved.CrClSource
		d.showCrClInfo(saved.CrClSource, widget.LowImportance)
	}
}

// proposeCrCl proposes the clearance the record gives (Cockcroft-Gault
// from the latest serum creatinine and weight of the cached documents)
// when none is shown: filled in, with its source and date beside it; the
// user types another value to override it. When the record holds a
// creatinine but something else is missing, that is said.
func (d *decisionTable) proposeCrCl() {
	if d.crcl.Text != "" {
		return
	}
	e, why, ok := meds.EstimateCrCl(d.v.rec.Patient, d.v.reading.Observations)
	if !ok {
		d.crclSource = ""
		d.showCrClInfo(why, widget.WarningImportance)
		return
	}
	d.restoring = true
	d.crcl.SetText(formatCrCl(e.Value))
	d.restoring = false
	d.crclSource = e.Source
	imp := widget.LowImportance
	text := tr("meds.table.crcl.proposed", map[string]any{"Source": e.Short})
	if timeNow().Sub(e.Date) > 90*24*time.Hour {
		imp = widget.WarningImportance // an old result: said, the user judges
		text = tr("meds.table.crcl.old", map[string]any{"Source": e.Short})
	}
	d.showCrClInfo(text, imp)
}

// crclTyped notes that the clearance was typed.
func (d *decisionTable) crclTyped() {
	d.crclSource = "saisie"
	if strings.TrimSpace(d.crcl.Text) == "" {
		d.crclSource = ""
	}
	d.showCrClInfo("", widget.LowImportance)
}

// showCrClInfo says where the clearance shown comes from.
func (d *decisionTable) showCrClInfo(text string, imp widget.Importance) {
	if d.crclInfo.Text == text && d.crclInfo.Importance == imp {
		return
	}
	d.crclInfo.Text, d.crclInfo.Importance = text, imp
	d.crclInfo.Refresh()
}

// formatCrCl shows a clearance in mL/min, rounded to the unit.
func formatCrCl(v float64) string { return strconv.FormatFloat(math.Round(v), 'f', -1, 64) }
