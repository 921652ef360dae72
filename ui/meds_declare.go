package ui

import (
	"context"
	"errors"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/meds"
)

// The medication view's two acts (meds.go shows the list):
//
//   - "Déclaré par le patient": a form (name, dose, frequency; the ATC is
//     not asked, the substance table infers it) saved with
//     Service.DeclareMedication off the UI goroutine, and the declarations
//     with a remove button each (after a confirmation). The list is read
//     again after each change: a declaration is a source of its own.
//   - "Réconcilier et signer": a dialog lists the consolidated entries
//     (checkboxes, all checked) and a conclusion; Service.Reconcile writes
//     the pre-anesthesia consultation report (signed with the card) to the
//     outbox. The report is then in the record at once, and sent when the
//     central service answers.

// declaredPanel is the "Déclaré par le patient" part of the view.
type declaredPanel struct {
	v        *medsView
	name     *entry
	dose     *entry
	freq     *entry
	add      *widget.Button
	progress *taskProgress
	msg      *widget.Label
	none     *widget.Label
	list     *fyne.Container
	box      *fyne.Container

	decls []app.Declaration
}

func newDeclaredPanel(v *medsView) *declaredPanel {
	p := &declaredPanel{v: v}
	u := v.u
	p.name = newEntry(u, tr("meds.declared.name.placeholder"))
	p.dose = newEntry(u, tr("meds.declared.dose.placeholder"))
	p.freq = newEntry(u, tr("meds.declared.frequency.placeholder"))
	p.name.OnSubmitted = func(string) { p.declare() }
	p.freq.OnSubmitted = func(string) { p.declare() }
	p.add = widget.NewButtonWithIcon(tr("meds.declared.add"), theme.ContentAddIcon(), p.declare)
	p.progress = newTaskProgress()
	p.msg = newMessage(widget.DangerImportance)
	p.none = newMessage(widget.LowImportance)
	p.list = container.NewVBox()
	title := widget.NewLabelWithStyle(tr("meds.declared.title"), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	hint := paragraph(tr("meds.declared.hint"))
	hint.Importance = widget.LowImportance
	form := widget.NewForm(
		widget.NewFormItem(tr("meds.declared.name"), p.name),
		widget.NewFormItem(tr("meds.declared.dose"), p.dose),
		widget.NewFormItem(tr("meds.declared.frequency"), p.freq),
	)
	p.box = container.NewVBox(title, hint, p.list, p.none, form, container.NewHBox(p.add), p.progress.box, p.msg)
	return p
}

// setMsg shows the outcome of the last change.
func (p *declaredPanel) setMsg(text string, imp widget.Importance) {
	p.msg.Importance = imp
	setMessage(p.msg, text)
}

// show lists the declarations read with the list.
func (p *declaredPanel) show(decls []app.Declaration) {
	p.decls = decls
	p.list.RemoveAll()
	for _, d := range decls {
		p.list.Add(p.row(d))
	}
	if len(decls) == 0 {
		setMessageQuiet(p.none, tr("meds.declared.none"))
	} else {
		setMessageQuiet(p.none, "")
	}
	p.list.Refresh()
	p.none.Refresh()
}

// row shows one declaration and its remove button.
func (p *declaredPanel) row(d app.Declaration) fyne.CanvasObject {
	m := d.Medication
	what := []string{m.Name}
	for _, s := range []string{m.Dose, m.Frequency} {
		if s != "" {
			what = append(what, s)
		}
	}
	name := widget.NewLabelWithStyle(strings.Join(what, " · "), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	name.Wrapping = fyne.TextWrapWord
	by := widget.NewLabel(tr("meds.declared.by", map[string]any{"Date": formatDate(m.Source.Date), "Author": declaredAuthor(m.Source.Author)}))
	by.Importance = widget.LowImportance
	by.Wrapping = fyne.TextWrapWord
	remove := widget.NewButtonWithIcon(tr("meds.declared.remove"), theme.DeleteIcon(), func() { p.confirmRemove(d) })
	remove.Importance = widget.LowImportance
	return container.NewBorder(nil, nil, nil, remove, container.NewVBox(name, by))
}

// declaredAuthor names who entered a declaration.
func declaredAuthor(a string) string {
	if a == "" || a == app.DeclaredByStaff {
		return tr("meds.declared.staff")
	}
	return a
}

// dispose drops the draft and the declarations.
func (p *declaredPanel) dispose() {
	p.progress.dispose()
	p.name.SetText("")
	p.dose.SetText("")
	p.freq.SetText("")
	p.decls = nil
	p.list.RemoveAll()
}

// declare saves the declaration off the UI goroutine, then reads the list
// again.
func (p *declaredPanel) declare() {
	v := p.v
	v.u.svc.Touch()
	if p.progress.running() {
		return
	}
	m := app.Medication{Name: strings.TrimSpace(p.name.Text), Dose: strings.TrimSpace(p.dose.Text), Frequency: strings.TrimSpace(p.freq.Text)}
	if m.Name == "" {
		p.setMsg(tr("meds.declared.noname"), widget.DangerImportance)
		return
	}
	p.setMsg("", widget.MediumImportance)
	p.add.Disable()
	svc, pid := v.u.svc, v.rec.Patient.ID
	v.track(p.progress, tr("meds.declared.adding"), p.add.Enable, func(ctx context.Context) func() {
		_, err := svc.DeclareMedication(ctx, pid, m)
		return func() {
			p.add.Enable()
			if err != nil {
				p.setMsg(message(err), widget.DangerImportance)
				return
			}
			p.name.SetText("")
			p.dose.SetText("")
			p.freq.SetText("")
			p.setMsg(tr("meds.declared.added"), widget.SuccessImportance)
			v.load()
		}
	})
}

// confirmRemove asks before removing a declaration.
func (p *declaredPanel) confirmRemove(d app.Declaration) {
	v := p.v
	v.u.svc.Touch()
	c := dialog.NewConfirm(tr("meds.declared.remove.title"), tr("meds.declared.remove.confirm", map[string]any{"Name": d.Medication.Name}),
		func(ok bool) {
			if ok {
				p.remove(d.ID)
			}
		}, v.u.Window())
	c.SetConfirmText(tr("meds.declared.remove"))
	c.SetDismissText(tr("dialog.cancel"))
	c.SetConfirmImportance(widget.DangerImportance)
	v.showDialog(c)
}

// remove removes a declaration off the UI goroutine, then reads the list
// again.
func (p *declaredPanel) remove(id app.DeclarationID) {
	v := p.v
	svc, pid := v.u.svc, v.rec.Patient.ID
	v.track(p.progress, tr("meds.declared.removing"), nil, func(ctx context.Context) func() {
		err := svc.RemoveDeclaration(ctx, pid, id)
		return func() {
			if err != nil {
				p.setMsg(message(err), widget.DangerImportance)
				return
			}
			p.setMsg(tr("meds.declared.removed"), widget.SuccessImportance)
			v.load()
		}
	})
}

// showDialog shows d over the view: through the record (which closes it
// when the record goes), or on the window.
func (v *medsView) showDialog(d dialog.Dialog) {
	v.dialog = d
	if v.onDialog != nil {
		v.onDialog(d)
		return
	}
	d.Resize(fyne.NewSize(560, 0))
	d.Show()
}

// reconcileChoice is one entry of the reconciliation dialog.
type reconcileChoice struct {
	line  app.Medication
	entry string // the consolidated entry's ID (its row of the decision table)
	check *widget.Check
}

// reconcileDialog is the dialog of a reconciliation, while shown.
type reconcileDialog struct {
	choices    []reconcileChoice
	conclusion *entry
	dlg        *dialog.ConfirmDialog
}

// openReconcile shows the reconciliation dialog over the consolidated list
// read: one checkbox per entry, all checked, and the conclusion.
func (v *medsView) openReconcile() {
	v.u.svc.Touch()
	if _, ok := v.u.svc.Practitioner(); !ok {
		v.setReconcileMsg(tr("meds.reconcile.signin"), widget.WarningImportance)
		return
	}
	rd := &reconcileDialog{}
	checks := container.NewVBox()
	for gi := range v.list.Groups {
		g := &v.list.Groups[gi]
		for ei := range g.Entries {
			e := &g.Entries[ei]
			l := reconciledLine(e)
			label := l.Name
			for _, s := range []string{l.Dose, l.Frequency} {
				if s != "" {
					label += " · " + s
				}
			}
			if l.Kind == app.MedicationDeclared {
				label += " — " + tr("meds.reconcile.declared")
			}
			current := hasCurrentLine(e)
			if !current {
				// only a plan or a stopped line: said, and not signed as a treatment unless ticked
				label += " — " + lineStatuses(e)
			}
			c := widget.NewCheck(label, nil)
			c.SetChecked(current)
			rd.choices = append(rd.choices, reconcileChoice{line: l, entry: e.ID, check: c})
			checks.Add(c)
		}
	}
	intro := paragraph(tr("meds.reconcile.intro"))
	if len(rd.choices) == 0 {
		intro = paragraph(tr("meds.reconcile.none"))
	}
	rd.conclusion = newEntry(v.u, tr("meds.reconcile.conclusion.placeholder"))
	rd.conclusion.MultiLine = true
	rd.conclusion.Wrapping = fyne.TextWrapWord
	rd.conclusion.SetMinRowsVisible(4)
	scroll := container.NewVScroll(checks)
	scroll.SetMinSize(fyne.NewSize(520, min(float32(len(rd.choices))*40+8, 320)))
	body := container.NewVBox(intro, scroll,
		widget.NewLabelWithStyle(tr("meds.reconcile.conclusion"), fyne.TextAlignLeading, fyne.TextStyle{Bold: true}), rd.conclusion)
	rd.dlg = dialog.NewCustomConfirm(tr("meds.reconcile.title"), tr("meds.reconcile.sign"), tr("dialog.cancel"), body,
		func(ok bool) {
			v.reconciling = nil
			if ok {
				if p := v.signProblems(); p != "" {
					v.setReconcileMsg(p, widget.WarningImportance)
					return
				}
				lines, decisions := rd.decided(v.table)
				v.reconcileWith(app.Reconciliation{Lines: lines, Decisions: decisions, Conclusion: rd.conclusion.Text})
			}
		}, v.u.Window())
	rd.dlg.SetConfirmImportance(widget.HighImportance)
	v.reconciling = rd
	v.showDialog(rd.dlg)
}

// lines returns the lines checked.
func (rd *reconcileDialog) lines() []app.Medication {
	var out []app.Medication
	for _, c := range rd.choices {
		if c.check.Checked {
			out = append(out, c.line)
		}
	}
	return out
}

// decided returns the lines checked with their decisions from the table.
func (rd *reconcileDialog) decided(t *decisionTable) ([]app.Medication, []app.LineDecision) {
	var lines []app.Medication
	var ds []app.LineDecision
	for _, c := range rd.choices {
		if c.check.Checked {
			lines = append(lines, c.line)
			d, _ := t.decisionFor(c.entry)
			ds = append(ds, d)
		}
	}
	return lines, ds
}

// signProblems says what the HAS method still lacks before signing (the
// patient's declaration and another source, unintentional discrepancies
// commented); "" when the table can be signed. Undecided rows are signed
// with their proposal, marked as such.
func (v *medsView) signProblems() string {
	var out []string
	for _, p := range meds.ReadyToSign(v.table.rows, false) {
		if p.Row < 0 || v.table.rows[p.Row].Discrepancy == meds.DiscrepancyUnintentional {
			out = append(out, p.Text)
		}
	}
	if len(out) == 0 {
		return ""
	}
	return tr("meds.table.notready", map[string]any{"Problems": strings.Join(out, " ; ")})
}

// reconcileWith signs off the lines off the UI goroutine.
func (v *medsView) reconcileWith(r app.Reconciliation) {
	v.u.svc.Touch()
	v.setReconcileMsg("", widget.MediumImportance)
	v.reconcile.Disable()
	svc, pid := v.u.svc, v.rec.Patient.ID
	v.track(v.recProgress, tr("meds.reconcile.signing"), v.reconcile.Enable, func(ctx context.Context) func() {
		item, err := svc.SignReconciliation(ctx, pid, r)
		return func() { v.reconciled(item, err) }
	})
}

// reconciled shows the outcome of a reconciliation: the report is in the
// record (the host adds it to the record shown) and the list is read
// again, the report now one of its sources.
func (v *medsView) reconciled(item app.OutboxItem, err error) {
	v.reconcile.Enable()
	if err != nil {
		if errors.Is(err, app.ErrCredential) {
			v.setReconcileMsg(tr("meds.reconcile.signin"), widget.WarningImportance)
			return
		}
		v.setReconcileMsg(message(err), widget.DangerImportance)
		return
	}
	v.setReconcileMsg(tr("meds.reconcile.sent"), widget.SuccessImportance)
	if s := v.u.shell; s != nil {
		s.noteWritten(item.Patient, item.Meta.ID)
	}
	if v.onWritten != nil {
		v.onWritten(item.Meta) // the host updates the record, which reads the list again
		return
	}
	v.rec.Manifest.Documents = withDocument(v.rec.Manifest.Documents, item.Meta)
	v.load()
}

// setReconcileMsg shows the outcome of the last reconciliation.
func (v *medsView) setReconcileMsg(text string, imp widget.Importance) {
	v.recMsg.Importance = imp
	setMessage(v.recMsg, text)
}

// withDocument returns docs with meta, newest act date first.
func withDocument(docs []app.DocumentMeta, meta app.DocumentMeta) []app.DocumentMeta {
	out := make([]app.DocumentMeta, 0, len(docs)+1)
	added := false
	for _, d := range docs {
		if d.ID == meta.ID {
			continue
		}
		if !added && meta.Date.After(d.Date) {
			out, added = append(out, meta), true
		}
		out = append(out, d)
	}
	if !added {
		out = append(out, meta)
	}
	return out
}

// reconciledLine is the line an entry of the consolidated list gives the
// reconciliation: its most recent line, named as the entry, with the
// entry's substance and ATC code (inferred by the substance table when no
// source gave it), the latest dose and frequency any source gave. It is
// declared only when every source is a declaration.
func reconciledLine(e *meds.Entry) app.Medication {
	var l app.Medication
	if len(e.Lines) > 0 {
		l = e.Lines[0]
	}
	for _, m := range e.Lines { // the most recent line that is no plan nor stopped
		if currentStatus(m.LineStatus()) {
			l = m
			break
		}
	}
	l.Name = e.Name
	if e.Substance != "" {
		l.Substance = e.Substance
	}
	if !e.ATC.IsZero() {
		l.ATC = e.ATC
	}
	for _, m := range e.Lines {
		if l.Dose == "" {
			l.Dose = m.Dose
		}
		if l.Frequency == "" {
			l.Frequency = m.Frequency
		}
	}
	declared := len(e.Sources) > 0
	for _, s := range e.Sources {
		declared = declared && s.Declared
	}
	switch {
	case declared:
		l.Kind = app.MedicationDeclared
	case l.Kind == app.MedicationDeclared:
		l.Kind = app.MedicationTreatment // also found in a document
		for _, m := range e.Lines {
			if m.Kind != app.MedicationDeclared {
				l.Kind, l.Source = m.Kind, m.Source
				break
			}
		}
	}
	return l
}

// currentStatus reports whether a line of status st says the patient has
// the treatment (given, prescribed, dispensed, declared), rather than a
// plan, a stop or a drug not given.
func currentStatus(st app.MedicationStatus) bool {
	switch st {
	case app.StatusPlanned, app.StatusStopped, app.StatusNotGiven, app.StatusNotDispensed:
		return false
	}
	return true
}

// hasCurrentLine reports whether an entry has a line of a current status.
func hasCurrentLine(e *meds.Entry) bool {
	for i := range e.Lines {
		if currentStatus(e.Lines[i].LineStatus()) {
			return true
		}
	}
	return false
}
