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

// medsView is the anesthesiologist's view of a record: the consolidated
// medication list of the cached documents, grouped by therapeutic class
// with the groups flagged for anesthesia first; for each medication its
// perioperative flags (coloured by severity, with their rationale), its
// ATC code, its last dispensing and prescriber, a recency hint, the notes
// of sources that disagree, and each source one click away; a dispensing
// timeline over 24 months; and the unstructured documents worth reading.
//
// The list is read off the UI goroutine (Service.ReadMedications, then
// meds.Consolidate) with a progress bar and a cancel button. Below it, the
// medications declared by the patient (a form, and a remove button each);
// above it, "Réconcilier et signer", which writes the pre-anesthesia
// consultation report through the outbox (meds_declare.go).
type medsView struct {
	taskFrame // u, disposed, and the background work (tasks.go)

	rec app.PatientRecord
	acc app.Access
	// onOpen opens a document of the record (the record view's viewer);
	// nil: the view opens its own viewer over the list.
	onOpen func(app.DocumentID)
	// onDialog shows a dialog over the record (closed with it); nil: on
	// the window.
	onDialog func(dialog.Dialog)
	// onWritten takes a document written from the view (the
	// pre-anesthesia report) into the record shown; nil: the view adds it
	// to its own copy of the record and reads the list again.
	onWritten func(app.DocumentMeta)

	progress    *taskProgress
	summary     *widget.Label
	msg         *widget.Label
	retry       *widget.Button
	groups      *fyne.Container
	clinical    *fyne.Container // allergies, problems, devices, not given (meds_clinical.go)
	timeline    *dispensingTimeline
	noTimeline  *widget.Label
	toRead      *fyne.Container
	declared    *declaredPanel
	reconcile   *widget.Button
	recProgress *taskProgress
	recMsg      *widget.Label
	page        fyne.CanvasObject
	root        *fyne.Container // the page, or a viewer over it

	list        meds.List
	reasons     map[app.DocumentID]app.UnstructuredReason
	viewer      *viewerView
	dialog      dialog.Dialog    // the last dialog shown (tests)
	reconciling *reconcileDialog // the reconciliation dialog, while shown
	table       *decisionTable   // the dense decision table (meds_table.go)
	details     *widget.Button   // builds the detail by class on demand
	detailsOn   bool             // the detail by class is shown
	print       *widget.Button   // one-page PDF of the table (meds_print.go)
	reading     app.MedicationReading
	lastPDF     []byte // the last PDF rendered (tests)
	loaded      bool   // the list was read for the current record

	saved app.PreopRecord // the decisions saved in the vault, as read with the list
}

// newMedsView returns the medication view of rec, whose documents are
// fetched with acc when not cached; start reads the list.
func newMedsView(u *UI, rec app.PatientRecord, acc app.Access) *medsView {
	return &medsView{taskFrame: frame(u), rec: rec, acc: acc}
}

// buildUI returns the view; start reads the list.
func (v *medsView) buildUI() fyne.CanvasObject {
	v.progress = newTaskProgress()
	v.summary = widget.NewLabel("")
	v.summary.Truncation = fyne.TextTruncateEllipsis // one line: the table needs the height
	v.msg = newMessage(widget.DangerImportance)
	v.retry = widget.NewButtonWithIcon(tr("meds.retry"), theme.ViewRefreshIcon(), v.load)
	v.retry.Hide()
	v.groups = container.NewVBox()
	v.clinical = container.NewVBox()
	v.timeline = newDispensingTimeline()
	v.noTimeline = newMessage(widget.LowImportance)
	v.toRead = container.NewVBox()
	v.declared = newDeclaredPanel(v)
	v.reconcile = widget.NewButtonWithIcon(tr("meds.reconcile"), theme.ConfirmIcon(), v.openReconcile)
	v.reconcile.Importance = widget.HighImportance
	v.reconcile.Disable() // until the list is read
	v.recProgress = newTaskProgress()
	v.recMsg = newMessage(widget.DangerImportance)
	v.table = newDecisionTable(v)
	v.print = widget.NewButtonWithIcon(tr("meds.table.print"), theme.DocumentPrintIcon(), v.printPDF)
	v.print.Disable()
	timelineTitle := widget.NewLabelWithStyle(tr("meds.timeline.title"), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	v.details = widget.NewButtonWithIcon(tr("meds.table.details"), theme.ListIcon(), v.showDetails)
	v.details.Disable()
	content := container.NewVBox(v.table.detail, v.clinical, v.details, v.groups, v.declared.box, widget.NewSeparator(), timelineTitle,
		container.NewHScroll(v.timeline), v.noTimeline, v.toRead)
	top := container.NewVBox(v.progress.box, container.NewBorder(nil, nil, nil, container.NewHBox(container.NewVBox(v.print), container.NewVBox(v.reconcile)), v.summary),
		container.NewBorder(nil, nil, nil, v.retry, v.msg), v.recProgress.box, v.recMsg)
	// The table on the left, the disclosure of the selected row and the
	// details (clinical panel, classes, declarations, timeline) on the right.
	split := container.NewHSplit(v.table.box, container.NewVScroll(container.NewPadded(content)))
	split.SetOffset(0.62)
	v.page = container.NewBorder(top, nil, nil, nil, split)
	v.root = container.NewStack(v.page)
	return v.root
}

// start reads the list unless it was read for the current record.
func (v *medsView) start() {
	if !v.loaded && !v.progress.running() {
		v.load()
	}
}

// setRecord takes a refreshed record; the list is read again at the next
// start.
func (v *medsView) setRecord(rec app.PatientRecord, acc app.Access) {
	v.rec, v.acc, v.loaded = rec, acc, false
}

// dispose cancels the reading and drops the list.
func (v *medsView) dispose() {
	if !v.end() {
		return
	}
	v.progress.dispose()
	v.recProgress.dispose()
	v.declared.dispose()
	if v.reconciling != nil {
		v.reconciling.dlg.Hide()
		v.reconciling = nil
	}
	v.closeViewer()
	v.table.flushDirty()
	v.list, v.reasons, v.rec, v.reading, v.lastPDF, v.saved = meds.List{}, nil, app.PatientRecord{}, app.MedicationReading{}, nil, app.PreopRecord{}
	v.groups.RemoveAll()
	v.table.rows = nil
	v.table.detail.RemoveAll()
	v.table.list.Refresh()
	v.clinical.RemoveAll()
	v.toRead.RemoveAll()
	v.timeline.set(v.timeline.now, nil)
	v.summary.SetText("")
}

// load reads and consolidates the list off the UI goroutine.
func (v *medsView) load() {
	v.u.svc.Touch()
	setMessage(v.msg, "")
	v.retry.Hide()
	svc, pid := v.u.svc, v.rec.Patient.ID
	v.track(v.progress, tr("meds.loading"), v.cancelled, func(ctx context.Context) func() {
		reading, err := svc.ReadMedications(ctx, pid)
		var list meds.List
		var decls []app.Declaration
		var saved app.PreopRecord
		var savedErr error
		if err == nil {
			list = meds.Consolidate(reading.Lines, reading.Metas(), timeNow())
			decls, err = svc.Declarations(ctx, pid)
		}
		if err == nil {
			// unreadable saved decisions never hide the list: said, and the
			// table starts from the proposals
			saved, savedErr = svc.PreopDecisions(ctx, pid)
		}
		return func() {
			v.saved = saved
			v.show(reading, list, err)
			if err == nil && savedErr != nil {
				v.setReconcileMsg(tr("meds.table.savedunreadable", map[string]any{"Error": message(savedErr)}), widget.DangerImportance)
			}
			if err == nil {
				v.declared.show(decls)
			}
			relayoutCanvasOf(v.root) // the one layout pass of the list shown
		}
	})
}

// cancelled runs when the user cancels the reading.
func (v *medsView) cancelled() {
	setMessage(v.msg, tr("meds.cancelled"))
	v.retry.Show()
}

// show shows the list read.
func (v *medsView) show(reading app.MedicationReading, list meds.List, err error) {
	if err != nil {
		if !errors.Is(err, context.Canceled) {
			setMessage(v.msg, message(err))
			v.retry.Show()
		}
		return
	}
	v.loaded = true
	v.list = list
	v.reading = reading
	v.reconcile.Enable()
	v.print.Enable()
	v.reasons = make(map[app.DocumentID]app.UnstructuredReason, len(reading.Unstructured))
	for _, u := range reading.Unstructured {
		v.reasons[u.Meta.ID] = u.Reason
	}
	summary := tr("meds.summary", map[string]any{"Entries": list.Entries, "Flagged": list.Flagged,
		"Divergent": list.Divergent, "Date": formatDateTime(list.Now)})
	if list.Entries == 0 {
		summary = tr("meds.none")
	}
	v.summary.SetText(summary)

	var rows []timelineRow
	for gi := range list.Groups {
		g := &list.Groups[gi]
		for ei := range g.Entries {
			e := &g.Entries[ei]
			if len(e.Dispensings) > 0 {
				rows = append(rows, timelineRow{label: e.Name, marks: e.Dispensings, level: flagLevel(e)})
			}
		}
	}
	v.groups.RemoveAll()
	if v.detailsOn {
		v.buildGroups()
	} else {
		v.details.Enable()
		v.details.Show()
	}
	v.table.setList(list, v.rec.Patient.Scheduled, v.saved)
	v.showClinical(reading, list)
	v.timeline.set(list.Now, rows)
	if len(rows) == 0 {
		v.timeline.Hide()
		setMessageQuiet(v.noTimeline, noTimelineText(v.rec, reading, list.Now))
	} else {
		v.timeline.Show()
		setMessageQuiet(v.noTimeline, "")
	}
	v.showToRead(list.Unstructured)
	// one layout pass, by the caller, once the declarations are shown too
}

// showDetails shows the detail by class (every entry's flags, rationale,
// dispensing facts, divergences, sources): built on demand, since a long
// list makes it the costliest part of the view; the table answers first.
func (v *medsView) showDetails() {
	v.detailsOn = true
	v.details.Hide()
	v.buildGroups()
	relayoutCanvasOf(v.root)
}

// buildGroups fills the detail by class from the list read.
func (v *medsView) buildGroups() {
	objs := make([]fyne.CanvasObject, 0, len(v.list.Groups))
	for gi := range v.list.Groups {
		objs = append(objs, v.groupBox(&v.list.Groups[gi]))
	}
	v.groups.Objects = objs
	v.groups.Refresh()
}

// flagLevel returns 2 when the entry has a high-severity flag, 1 for a
// medium one, 0 for none (possible classes count).
func flagLevel(e *meds.Entry) int {
	level := 0
	for _, f := range e.Flags {
		switch f.Class.Severity.String() {
		case "high":
			return 2
		case "medium":
			level = 1
		}
	}
	return level
}

// groupBox shows a therapeutic class and its entries.
func (v *medsView) groupBox(g *meds.Group) fyne.CanvasObject {
	title := widget.NewLabelWithStyle(g.Label, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	title.SizeName = theme.SizeNameSubHeadingText
	title.Wrapping = fyne.TextWrapWord
	if g.Flagged {
		title.Importance = severityImportance(g.Severity.String())
	}
	box := container.NewVBox(title)
	for i := range g.Entries {
		box.Add(v.entryBox(&g.Entries[i]))
	}
	box.Add(widget.NewSeparator())
	return box
}

// severityImportance colours a perioperative flag: danger for high,
// warning for medium.
func severityImportance(s string) widget.Importance {
	if s == "high" {
		return widget.DangerImportance
	}
	return widget.WarningImportance
}

// entryBox shows one medication: name and substance, ATC, flags with
// their rationale, dispensing facts, recency, divergences, sources.
func (v *medsView) entryBox(e *meds.Entry) fyne.CanvasObject {
	name := e.Name
	if e.Substance != "" && app.Fold(e.Substance) != app.Fold(e.Name) {
		name += " (" + e.Substance + ")"
	}
	nameLabel := widget.NewLabelWithStyle(name, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	nameLabel.Wrapping = fyne.TextWrapWord
	atc := widget.NewLabelWithStyle(e.ATC.Code, fyne.TextAlignTrailing, fyne.TextStyle{Monospace: true})
	box := container.NewVBox(container.NewBorder(nil, nil, nil, atc, nameLabel))

	for _, f := range e.Flags {
		label := f.Class.Label
		if f.Possible() {
			label = tr("meds.flag.possible", map[string]any{"Class": label})
		}
		if note := f.Note(); note != "" {
			label += " — " + note
		}
		fl := widget.NewLabelWithStyle("⚠ "+label, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
		fl.Wrapping = fyne.TextWrapWord
		fl.Importance = severityImportance(f.Class.Severity.String())
		why := widget.NewLabel(f.Class.Rationale)
		why.Wrapping = fyne.TextWrapWord
		why.Importance = fl.Importance
		box.Add(fl)
		box.Add(why)
	}

	facts := []string{}
	if !e.LastDispensed.IsZero() {
		facts = append(facts, tr("meds.dispensed", map[string]any{"Date": formatPrecDate(e.LastDispensed, e.LastDispensedPrecision)}))
	}
	if e.LastPrescriber != "" {
		facts = append(facts, tr("meds.prescriber", map[string]any{"Name": e.LastPrescriber}))
	}
	facts = append(facts, recencyText(e))
	if !e.Stopped.IsZero() {
		facts = append(facts, tr("meds.stopped", map[string]any{"Date": formatPrecDate(e.Stopped, e.StoppedPrecision)}))
	}
	f := widget.NewLabel(strings.Join(facts, " · "))
	f.Wrapping = fyne.TextWrapWord
	if e.Recency == meds.RecencyRecent {
		f.Importance = widget.HighImportance
	}
	box.Add(f)
	if st := lineStatuses(e); st != "" {
		sl := widget.NewLabel(st)
		sl.Wrapping = fyne.TextWrapWord
		box.Add(sl)
	}

	for _, n := range e.Notes {
		l := widget.NewLabel(n)
		l.Wrapping = fyne.TextWrapWord
		l.Importance = widget.WarningImportance
		box.Add(l)
	}

	// The sources wrap: no horizontal scroller to trap the wheel.
	sources := container.New(&flowLayout{}, widget.NewLabelWithStyle(tr("meds.sources"), fyne.TextAlignLeading, fyne.TextStyle{Italic: true}))
	for i, s := range e.Sources {
		if i == maxSourceButtons {
			// the rest are in the table row's disclosure
			sources.Add(widget.NewLabel(tr("meds.table.more", map[string]any{"N": len(e.Sources) - i})))
			break
		}
		sources.Add(v.sourceButton(s))
	}
	box.Add(sources)
	return container.NewPadded(box)
}

// maxSourceButtons bounds the source buttons of an entry's block: a drug
// found in 200 documents would otherwise lay out 200 buttons.
const maxSourceButtons = 6

// recencyText is the recency hint of an entry.
func recencyText(e *meds.Entry) string {
	switch e.Recency {
	case meds.RecencyRecent:
		switch e.Basis {
		case meds.BasisStart:
			return tr("meds.recent.start")
		case meds.BasisDocument:
			return tr("meds.recent.document")
		}
		return tr("meds.recent.dispensing")
	case meds.RecencyOlder:
		return tr("meds.older", map[string]any{"Date": formatPrecDate(e.LastActivity, e.LastActivityPrecision)})
	}
	return tr("meds.recency.unknown")
}

// sourceButton opens the document a source is (a declaration has none).
func (v *medsView) sourceButton(s meds.Source) fyne.CanvasObject {
	label := s.TypeLabel
	if !s.Date.IsZero() {
		label = tr("meds.source", map[string]any{"Type": s.TypeLabel, "Date": formatDate(s.Date)})
	}
	if s.Author != "" {
		label += " · " + s.Author
	}
	if s.Document == "" {
		return widget.NewLabel(label)
	}
	doc := s.Document
	b := widget.NewButtonWithIcon(label, theme.DocumentIcon(), func() { v.open(doc) })
	b.Importance = widget.LowImportance
	return b
}

// showToRead lists the unstructured documents that may hold medications.
func (v *medsView) showToRead(docs []meds.Document) {
	v.toRead.RemoveAll()
	if len(docs) == 0 {
		return
	}
	title := widget.NewLabelWithStyle(tr("meds.toread.title"), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	title.Wrapping = fyne.TextWrapWord
	v.toRead.Add(widget.NewSeparator())
	v.toRead.Add(title)
	for _, d := range docs {
		label := tr("meds.source", map[string]any{"Type": d.TypeLabel, "Date": formatDate(d.Meta.Date)})
		if d.Meta.Author != "" {
			label += " · " + d.Meta.Author
		}
		id := d.Meta.ID
		b := widget.NewButtonWithIcon(label, theme.DocumentIcon(), func() { v.open(id) })
		b.Importance = widget.LowImportance
		b.Alignment = widget.ButtonAlignLeading
		notes := []string{d.Category}
		switch {
		case !d.Meta.Cached || v.reasons[id] == app.UnstructuredNotCached:
			notes = append(notes, tr("meds.toread.notcached"))
		case v.reasons[id] == app.UnstructuredUnreadable:
			notes = append(notes, tr("meds.toread.unreadable"))
		}
		why := widget.NewLabel(strings.Join(notes, " · "))
		why.Importance = widget.LowImportance
		why.Wrapping = fyne.TextWrapWord
		v.toRead.Add(container.NewVBox(container.NewHScroll(b), why))
	}
}

// open opens a document: through the host, or in a viewer over the list.
func (v *medsView) open(id app.DocumentID) {
	v.u.svc.Touch()
	if v.onOpen != nil {
		v.onOpen(id)
		return
	}
	v.closeViewer()
	v.viewer = newViewerView(v.u, v.rec, v.acc, id)
	v.viewer.onBack = func() { v.back() }
	v.page.Hide()
	v.root.Add(v.viewer.buildUI())
	relayoutCanvasOf(v.root)
}

// back closes the viewer opened over the list and reports whether there
// was one (Esc).
func (v *medsView) back() bool {
	if v.viewer == nil {
		return false
	}
	v.closeViewer()
	v.page.Show()
	relayoutCanvasOf(v.root)
	return true
}

func (v *medsView) closeViewer() {
	if v.viewer == nil {
		return
	}
	v.viewer.dispose()
	v.viewer = nil
	v.root.Objects = []fyne.CanvasObject{v.page}
	v.root.Refresh()
}

// medsTab is the Médicaments tab of the record view.
type medsTab struct {
	r   *recordView
	v   *medsView
	tab *container.TabItem
}

func newMedsTab(r *recordView) recordTab { return &medsTab{r: r} }

// item implements recordTab.
func (t *medsTab) item() *container.TabItem {
	t.v = newMedsView(t.r.u, t.r.record(), t.r.access())
	t.v.onOpen = t.r.openDocument
	t.v.onDialog = t.r.showDialog
	t.v.onWritten = t.r.documentWritten
	t.tab = container.NewTabItemWithIcon(tr("meds.tab"), theme.ListIcon(), t.v.buildUI())
	return t.tab
}

// selected implements recordTab: the list is read when first shown.
func (t *medsTab) selected() { t.v.start() }

// recordChanged implements recordTab: the list is read again, now if the
// tab is shown.
func (t *medsTab) recordChanged() {
	t.v.setRecord(t.r.record(), t.r.access())
	if t.r.tabs != nil && t.r.tabs.Selected() == t.tab {
		t.v.start()
	}
}

// dispose implements recordTab.
func (t *medsTab) dispose() { t.v.dispose() }

// documentWritten takes a document written in Carnet from a tab (the
// pre-anesthesia report of the Médicaments tab) into the record shown: it
// is in the vault and the outbox already, so the manifest shown gains it
// and every tab hears of the change.
func (r *recordView) documentWritten(meta app.DocumentMeta) {
	if r.disposed || !r.shown {
		return
	}
	r.rec.Manifest.Documents = withDocument(r.rec.Manifest.Documents, meta)
	for _, t := range r.tabList {
		t.recordChanged()
	}
	relayoutCanvasOf(r.root)
}
