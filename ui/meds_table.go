package ui

import (
	"strconv"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/meds"
	"github.com/carnetdesk/carnet/app/terms"
)

// decisionTable is the anesthesiologist's dense table: one row per
// consolidated medication — name, class, the decision (proposed or taken)
// with its last-dose date, the last dispensing or intake, the number of
// independent sources — flagged rows first. It is a widget.List: one
// scroller, rows of one line without scroll containers of their own, so
// the wheel scrolls the table from any row, and the arrow keys move
// through it. The selected row's proposal, sources, decision (accept, or
// override with a reason) and HAS reconciliation are in the detail panel
// beside it (the disclosure).
//
// The inputs of the proposals are above it: the surgery date (the
// operating list's, else typed), the procedure's bleeding risk and the
// creatinine clearance.
type decisionTable struct {
	v        *medsView
	rows     []meds.Row
	in       terms.DecisionInput
	selected int

	surgery  *entry
	bleeding *widget.Select
	crcl     *entry
	inputMsg *widget.Label
	list     *widget.List
	header   *tableHeader
	detail   *fyne.Container
	box      fyne.CanvasObject

	// Saved in the vault (meds_saved.go).
	saveQ      saveQueue
	savedIn    app.PreopInputs // the inputs last saved or read
	dirty      map[string]bool // lines whose comment is typed, not saved
	crclSource string          // where the clearance shown came from
	crclInfo   *widget.Label   // says it (meds_saved.go)
	restoring  bool            // the saved inputs are being put back
}

// tableColumns are the relative widths of the columns.
var tableColumns = []float32{0.30, 0.17, 0.29, 0.14, 0.10}

// bleedingOptions are the choices of the bleeding risk, in order.
func bleedingOptions() []string {
	return []string{tr("meds.table.bleeding.unknown"), tr("meds.table.bleeding.low"), tr("meds.table.bleeding.high")}
}

func newDecisionTable(v *medsView) *decisionTable {
	d := &decisionTable{v: v, selected: -1, dirty: map[string]bool{}}
	d.surgery = newEntry(v.u, "JJ/MM/AAAA")
	d.surgery.OnChanged = func(string) { d.inputsChanged() }
	d.bleeding = widget.NewSelect(bleedingOptions(), func(string) { d.inputsChanged() })
	d.bleeding.SetSelectedIndex(0)
	d.crcl = newEntry(v.u, "mL/min")
	d.crcl.OnChanged = func(string) {
		if !d.restoring {
			d.crclTyped() // typed: an override of the clearance the record gave
		}
		d.inputsChanged()
	}
	d.crclInfo = widget.NewLabel("")
	d.crclInfo.Truncation = fyne.TextTruncateEllipsis
	d.inputMsg = newMessage(widget.WarningImportance)
	inputs := container.NewHBox(
		widget.NewLabel(tr("meds.table.surgery")), sized(d.surgery, 130),
		widget.NewLabel(tr("meds.table.bleeding")), d.bleeding,
		widget.NewLabel(tr("meds.table.crcl")), sized(d.crcl, 100),
	)
	d.header = newTableHeader([]string{tr("meds.table.col.name"), tr("meds.table.col.class"), tr("meds.table.col.decision"),
		tr("meds.table.col.last"), tr("meds.table.col.sources")})
	d.list = widget.NewList(func() int { return len(d.rows) }, d.newRow, d.updateRow)
	d.list.OnSelected = func(id widget.ListItemID) { d.flushDirty(); d.selected = id; d.showDetail() }
	d.detail = container.NewVBox()
	// Dense rows: plain texts with small inner paddings (meds_cells.go).
	table := container.NewBorder(container.NewVBox(d.header, widget.NewSeparator()), nil, nil, nil, d.list)
	d.box = container.NewBorder(container.NewVBox(container.NewBorder(nil, nil, inputs, nil, d.crclInfo), d.inputMsg), nil, nil, nil, table)
	return d
}

// sized gives o a minimum width.
func sized(o fyne.CanvasObject, w float32) fyne.CanvasObject {
	return container.NewGridWrap(fyne.NewSize(w, o.MinSize().Height), o)
}

func (d *decisionTable) newRow() fyne.CanvasObject { return newCells(len(tableColumns)) }

func (d *decisionTable) updateRow(id widget.ListItemID, o fyne.CanvasObject) {
	if id < 0 || id >= len(d.rows) {
		return
	}
	r := &d.rows[id]
	row := o.(*fyne.Container)
	fit := row.Layout.(*fitCells)
	texts := rowTexts(r)
	for i, c := range row.Objects {
		style := fyne.TextStyle{Bold: i == 0 && r.Flagged()}
		imp := widget.MediumImportance
		if i == 2 && r.Flagged() {
			imp = decisionImportance(r)
		}
		fit.set(c.(*canvas.Text), i, texts[i], style, importanceColor(imp)) // text measuring is the cost of a row: only when changed
	}
}

// rowTexts are the cells of a row: name, class, decision, last dispensing
// or intake, independent sources.
func rowTexts(r *meds.Row) [5]string {
	e := &r.Entry
	name := e.Name
	if e.Substance != "" && app.Fold(e.Substance) != app.Fold(e.Name) {
		name += " (" + e.Substance + ")"
	}
	class := ""
	for _, f := range e.Flags {
		if !f.Possible() {
			class = f.Class.Label
			break
		}
	}
	if class == "" {
		if c, ok := terms.ATCGroup(e.ATC.Code); ok {
			class = c.Label
		}
	}
	last := ""
	switch {
	case !e.LastDispensed.IsZero():
		last = tr("meds.table.dispensed", map[string]any{"Date": formatPrecDate(e.LastDispensed, e.LastDispensedPrecision)})
	case !e.LastActivity.IsZero():
		last = formatPrecDate(e.LastActivity, e.LastActivityPrecision)
	}
	return [5]string{name, class, decisionText(r), last, strconv.Itoa(e.Independent)}
}

// decisionText is the decision of a row as the table shows it, short
// enough for the column at 1366×768 to show the date: the action and the
// last-dose date ("✓ Arrêter · 07/12/2026", ✎ when overridden), else the
// proposal marked "proposé" with what it lacks; the day count, the rule
// and its sources are in the row's disclosure.
func decisionText(r *meds.Row) string {
	if r.Decided {
		s := r.Decision.Action.Label()
		if !r.Decision.LastDose.IsZero() {
			s += " · " + formatDate(r.Decision.LastDose)
		}
		if r.Decision.Override {
			s += " ✎"
		}
		return "✓ " + s
	}
	p := r.Proposal
	s := p.Action.Label()
	if !p.LastDose.IsZero() {
		s += " · " + formatDate(p.LastDose)
	}
	if p.Missing != "" {
		s += " — " + tr("meds.table.missing", map[string]any{"What": p.Missing})
	}
	return tr("meds.table.proposed", map[string]any{"Text": s})
}

// decisionImportance colours a flagged row's decision: danger until
// decided, success once decided.
func decisionImportance(r *meds.Row) widget.Importance {
	if r.Decided {
		return widget.SuccessImportance
	}
	return widget.DangerImportance
}

// setList takes the consolidated list read: rows for the current inputs
// (else the saved ones; the surgery date of the operating list when the
// record has one), with the decisions taken in this view, else the ones
// saved in the vault.
func (d *decisionTable) setList(list meds.List, scheduled time.Time, saved app.PreopRecord) {
	sched := ""
	if !scheduled.IsZero() {
		sched = scheduled.Local().Format("02/01/2006")
	}
	d.restoreInputs(saved.Inputs, sched)
	d.proposeCrCl()
	d.in = d.readInputs()
	d.savedIn = saved.Inputs
	d.savedIn.At = time.Time{}
	prev := make(map[string]meds.Row, len(d.rows))
	for _, r := range d.rows {
		prev[r.Entry.ID] = r
	}
	d.rows = meds.Rows(list, d.in)
	if len(prev) == 0 {
		meds.Restore(d.rows, saved)
	}
	for i := range d.rows { // a list read again (a declaration added) keeps what was decided
		if p, ok := prev[d.rows[i].Entry.ID]; ok {
			r := &d.rows[i]
			r.Discrepancy, r.Comment = p.Discrepancy, p.Comment
			if p.Decided {
				r.Decided, r.Decision = true, p.Decision
				if !p.Decision.Override {
					r.Accept()
				}
			}
		}
	}
	d.selected = -1
	d.list.UnselectAll()
	d.list.Refresh()
	d.detail.RemoveAll()
}

// readInputs parses the inputs; a bad value is said and left out.
func (d *decisionTable) readInputs() terms.DecisionInput {
	var in terms.DecisionInput
	var bad []string
	if s := strings.TrimSpace(d.surgery.Text); s != "" {
		if t, err := time.ParseInLocation("02/01/2006", s, time.Local); err == nil {
			in.Surgery = t
		} else {
			bad = append(bad, tr("meds.table.surgery"))
		}
	}
	switch d.bleeding.SelectedIndex() {
	case 1:
		in.Bleeding = terms.BleedingLow
	case 2:
		in.Bleeding = terms.BleedingHigh
	}
	if s := strings.TrimSpace(strings.ReplaceAll(d.crcl.Text, ",", ".")); s != "" {
		if f, err := strconv.ParseFloat(s, 64); err == nil && f > 0 && f < 400 {
			in.CrCl = f
		} else {
			bad = append(bad, tr("meds.table.crcl"))
		}
	}
	msg := ""
	if len(bad) > 0 {
		msg = tr("meds.table.bad", map[string]any{"Fields": strings.Join(bad, ", ")})
	}
	if msg != d.inputMsg.Text || d.inputMsg.Visible() != (msg != "") {
		setMessage(d.inputMsg, msg) // a window-wide layout pass: only when it changes
	}
	return in
}

func (d *decisionTable) inputsChanged() {
	if d.list == nil || d.restoring {
		return
	}
	d.in = d.readInputs()
	meds.Repropose(d.rows, d.in)
	d.saveInputs()
	for i := range d.rows { // accepted decisions follow their proposal: saved again
		if d.rows[i].Decided && !d.rows[i].Decision.Override {
			d.saveRow(i)
		}
	}
	d.list.Refresh()
	d.showDetail()
}

// showDetail shows the selected row's disclosure: proposal with its rule
// and sources, accept / override with reason, HAS reconciliation, the
// documents it was found in.
func (d *decisionTable) showDetail() {
	d.detail.RemoveAll()
	if d.selected < 0 || d.selected >= len(d.rows) {
		return
	}
	id := d.selected
	r := &d.rows[id]
	title := widget.NewLabelWithStyle(rowTexts(r)[0], fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	title.Wrapping = fyne.TextWrapWord
	d.detail.Add(title)
	prop := paragraph(tr("meds.table.proposal", map[string]any{"Text": r.Proposal.Text()}))
	d.detail.Add(prop)
	if r.Proposal.Rule.ID != "" {
		rule := paragraph(r.Proposal.Rule.Text + " — " + terms.DecisionStatus)
		rule.Importance = widget.WarningImportance
		d.detail.Add(rule)
		for _, s := range r.Proposal.Sources {
			l := paragraph("· " + s.Citation)
			l.Importance = widget.LowImportance
			d.detail.Add(l)
		}
	}
	accept := widget.NewButtonWithIcon(tr("meds.table.accept"), theme.ConfirmIcon(), func() {
		d.rows[id].Accept()
		d.saveRow(id)
		d.list.RefreshItem(id)
		d.showDetail()
	})
	actions := []terms.Action{terms.ActionContinue, terms.ActionStop, terms.ActionBridge, terms.ActionAdapt, terms.ActionDiscuss}
	labels := make([]string, len(actions))
	for i, a := range actions {
		labels[i] = a.Label()
	}
	action := widget.NewSelect(labels, nil)
	action.SetSelected(r.Proposal.Action.Label())
	lastDose := newEntry(d.v.u, "JJ/MM/AAAA")
	if !r.Proposal.LastDose.IsZero() {
		lastDose.SetText(r.Proposal.LastDose.Format("02/01/2006"))
	}
	reason := newEntry(d.v.u, tr("meds.table.reason"))
	msg := newMessage(widget.DangerImportance)
	override := widget.NewButton(tr("meds.table.override"), func() {
		var ld time.Time
		if s := strings.TrimSpace(lastDose.Text); s != "" {
			t, err := time.ParseInLocation("02/01/2006", s, time.Local)
			if err != nil {
				setMessage(msg, tr("meds.table.bad", map[string]any{"Fields": tr("meds.table.col.decision")}))
				return
			}
			ld = t
		}
		if err := d.rows[id].Override(actions[max(0, action.SelectedIndex())], ld, reason.Text); err != nil {
			setMessage(msg, tr("meds.table.reason.required"))
			return
		}
		d.saveRow(id)
		d.list.RefreshItem(id)
		d.showDetail()
	})
	d.detail.Add(container.NewHBox(accept))
	d.detail.Add(container.NewGridWithColumns(2, action, lastDose))
	d.detail.Add(container.NewBorder(nil, nil, nil, override, reason))
	d.detail.Add(msg)
	if r.Decided && r.Decision.Override {
		d.detail.Add(paragraph(tr("meds.table.overridden", map[string]any{"Reason": r.Decision.Reason})))
	}
	if r.Decided { // taken back: the row shows its proposal again (meds_saved.go)
		undo := widget.NewButtonWithIcon(tr("meds.table.undo"), theme.ContentUndoIcon(), func() {
			d.undoRow(id)
			d.list.RefreshItem(id)
			d.showDetail()
		})
		undo.Importance = widget.LowImportance
		d.detail.Add(container.NewHBox(undo))
	}
	// HAS reconciliation.
	var kinds []string
	for _, k := range r.Kinds {
		kinds = append(kinds, k.Label())
	}
	d.detail.Add(paragraph(tr("meds.table.compared", map[string]any{"Kinds": strings.Join(kinds, ", "), "N": r.Entry.Independent})))
	discOptions := []string{tr("meds.table.disc.none"), tr("meds.table.disc.intentional"), tr("meds.table.disc.unintentional")}
	discValues := []meds.Discrepancy{meds.DiscrepancyNone, meds.DiscrepancyIntentional, meds.DiscrepancyUnintentional}
	disc := widget.NewSelect(discOptions, func(s string) {
		for i, o := range discOptions {
			if o == s && d.rows[id].Discrepancy != discValues[i] {
				d.rows[id].Discrepancy = discValues[i]
				d.saveRow(id)
			}
		}
	})
	for i, v := range discValues {
		if v == r.Discrepancy {
			disc.SetSelectedIndex(i)
		}
	}
	comment := newEntry(d.v.u, tr("meds.table.comment"))
	comment.SetText(r.Comment)
	comment.OnChanged = func(s string) { d.rows[id].Comment = s; d.dirty[d.rows[id].Entry.ID] = true }
	comment.OnSubmitted = func(string) { d.saveRow(id) }
	d.detail.Add(container.NewGridWithColumns(2, disc, comment))
	// Sources: buttons that wrap, no horizontal scroller.
	srcs := container.New(&flowLayout{})
	for _, s := range r.Entry.Sources {
		srcs.Add(d.v.sourceButton(s))
	}
	d.detail.Add(srcs)
	d.detail.Add(widget.NewSeparator())
	d.detail.Refresh()
}

// decisionFor returns the decision of the entry id for the signed report.
func (d *decisionTable) decisionFor(entryID string) (app.LineDecision, bool) {
	for i := range d.rows {
		if d.rows[i].Entry.ID == entryID {
			return d.rows[i].LineDecision(), true
		}
	}
	return app.LineDecision{}, false
}

// flowLayout places objects left to right at their minimum size, wrapping
// to a new line when the width is used up.
type flowLayout struct{ width float32 }

func (l *flowLayout) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	l.width = size.Width
	x, y, lineH := float32(0), float32(0), float32(0)
	pad := theme.Padding()
	for _, o := range objs {
		m := o.MinSize()
		if x > 0 && x+m.Width > size.Width {
			x, y, lineH = 0, y+lineH+pad, 0
		}
		o.Move(fyne.NewPos(x, y))
		o.Resize(m)
		x += m.Width + pad
		lineH = max(lineH, m.Height)
	}
}

func (l *flowLayout) MinSize(objs []fyne.CanvasObject) fyne.Size {
	pad := theme.Padding()
	w := l.width
	widest := float32(0)
	for _, o := range objs {
		widest = max(widest, o.MinSize().Width)
	}
	if w < widest {
		w = widest
	}
	x, h, lineH := float32(0), float32(0), float32(0)
	for _, o := range objs {
		m := o.MinSize()
		if x > 0 && x+m.Width > w {
			x, h, lineH = 0, h+lineH+pad, 0
		}
		x += m.Width + pad
		lineH = max(lineH, m.Height)
	}
	return fyne.NewSize(widest, h+lineH)
}
