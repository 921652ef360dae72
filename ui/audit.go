package ui

import (
	"context"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/carnetdesk/carnet/app"
)

// auditLimit is the number of newest events the journal reads at most.
const auditLimit = 1000

// auditActions are the choices of the action filter: a prefix of the
// action codes and its label key ("" with the first: every action).
var auditActions = []struct{ prefix, key string }{
	{"", "audit.actions.all"},
	{"dmp.", "audit.actions.dmp"},
	{"vault.", "audit.actions.vault"},
	{"session.", "audit.actions.session"},
	{"settings.", "audit.actions.settings"},
	{"mail.", "audit.actions.mail"},
}

// auditPeriods are the choices of the date filter, in days back (0: all).
var auditPeriods = []struct {
	key  string
	days int
}{
	{"audit.period.all", 0},
	{"audit.period.1d", 1},
	{"audit.period.7d", 7},
	{"audit.period.30d", 30},
}

// auditView shows the local audit log, newest first, with filters by
// patient, action and date. It is the shell's "Journal" page (with a
// patient filter on the opaque patient id the log holds: the journal shows
// no name) and, fixed on one patient, the "Journal local" tab of a record.
// The log is read off the UI goroutine.
type auditView struct {
	taskFrame               // u, disposed, and the background work (tasks.go)
	patient   app.PatientID // the record tab's patient; empty on the page
	onBack    func()        // the page only

	back          *widget.Button // the page only
	patientFilter *entry         // the page only
	action        *widget.Select
	period        *widget.Select
	reload        *widget.Button
	progress      *taskProgress
	count         *widget.Label
	list          *navList

	events []app.AuditEvent // newest first
}

func newAuditView(u *UI, patient app.PatientID, onBack func()) *auditView {
	return &auditView{taskFrame: frame(u), patient: patient, onBack: onBack}
}

// buildUI returns the journal (the page when onBack is set).
func (v *auditView) buildUI() fyne.CanvasObject {
	v.action = widget.NewSelect(nil, func(string) { v.load() })
	for _, a := range auditActions {
		v.action.Options = append(v.action.Options, tr(a.key))
	}
	v.period = widget.NewSelect(nil, func(string) { v.load() })
	for _, p := range auditPeriods {
		v.period.Options = append(v.period.Options, tr(p.key))
	}
	v.action.Selected, v.period.Selected = v.action.Options[0], v.period.Options[0]
	v.reload = widget.NewButtonWithIcon(tr("audit.reload"), theme.ViewRefreshIcon(), v.load)
	v.progress = newTaskProgress()
	v.count = widget.NewLabel("")
	v.count.Importance = widget.LowImportance
	v.list = newNavList(v.u, func() int { return len(v.events) }, v.newRow, func(id widget.ListItemID, o fyne.CanvasObject) {
		if id < len(v.events) {
			o.(*auditRow).update(v.events[id])
		}
	})
	v.list.OnSelected = func(widget.ListItemID) { v.list.UnselectAll() }

	filters := []fyne.CanvasObject{container.New(fixedWidth(240), v.action), container.New(fixedWidth(200), v.period)}
	var center []fyne.CanvasObject // the patient filter, on the page only
	if v.patient == "" {
		v.patientFilter = newEntry(v.u, tr("audit.patient"))
		v.patientFilter.OnSubmitted = func(string) { v.load() }
		center = append(center, v.patientFilter)
	}
	bar := container.NewBorder(nil, nil, container.NewHBox(filters...), container.NewHBox(v.count, v.reload), center...)
	top := container.NewVBox(bar, v.progress.box, v.columns())
	if v.onBack != nil {
		v.back = widget.NewButtonWithIcon(tr("settings.back"), theme.NavigateBackIcon(), v.onBack)
		top = container.NewVBox(container.NewHBox(v.back, heading(tr("audit.title"))), paragraph(tr("audit.intro")), top)
	}
	return container.NewBorder(top, nil, nil, nil, v.list)
}

// dispose drops the events and cancels a reading.
func (v *auditView) dispose() {
	v.end()
	if v.list == nil {
		return
	}
	v.progress.dispose()
	v.events = nil
	if v.patientFilter != nil {
		v.patientFilter.SetText("")
	}
	v.list.Refresh()
}

// filter returns the filter chosen.
func (v *auditView) filter() app.AuditFilter {
	f := app.AuditFilter{Patient: v.patient, Limit: auditLimit}
	if v.patientFilter != nil {
		f.Patient = app.PatientID(strings.TrimSpace(v.patientFilter.Text))
	}
	if i := v.action.SelectedIndex(); i > 0 {
		f.Action = auditActions[i].prefix
	}
	if i := v.period.SelectedIndex(); i > 0 {
		f.Since = timeNow().Add(-time.Duration(auditPeriods[i].days) * 24 * time.Hour)
	}
	return f
}

// load reads the log off the UI goroutine.
func (v *auditView) load() {
	if v.disposed || v.list == nil {
		return
	}
	v.u.svc.Touch()
	f, svc := v.filter(), v.u.svc
	v.track(v.progress, tr("audit.loading"), nil, func(ctx context.Context) func() {
		evs, err := svc.Audit(ctx, f)
		return func() { v.show(evs, err) }
	})
}

// show shows the events read, newest first.
func (v *auditView) show(evs []app.AuditEvent, err error) {
	if err != nil {
		v.events = nil
		v.count.Importance = widget.DangerImportance
		v.count.SetText(message(err))
		v.list.Refresh()
		return
	}
	v.events = make([]app.AuditEvent, len(evs))
	for i, e := range evs {
		v.events[len(evs)-1-i] = e
	}
	v.count.Importance = widget.LowImportance
	v.count.SetText(trN("audit.count", len(evs), map[string]any{"N": len(evs)}))
	v.list.UnselectAll()
	v.list.ScrollToOffset(0)
	v.list.Refresh()
}

// The widths of the journal's columns.
const (
	colAuditTime, colAuditAction, colAuditMode, colAuditResult, colAuditWho, colAuditPatient = 140, 250, 130, 110, 120, 110
)

func (v *auditView) columns() fyne.CanvasObject {
	label := func(key string) *widget.Label {
		l := widget.NewLabelWithStyle(tr(key), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
		l.Truncation = fyne.TextTruncateEllipsis
		return l
	}
	return v.cells(label("audit.col.time"), label("audit.col.action"), label("audit.col.mode"), label("audit.col.result"),
		label("audit.col.who"), label("audit.col.patient"), label("audit.col.detail"))
}

// cells lays out a row; the record tab has no patient column.
func (v *auditView) cells(when, action, mode, result, who, patient, detail *widget.Label) fyne.CanvasObject {
	cell := func(w float32, o fyne.CanvasObject) fyne.CanvasObject { return container.New(fixedWidth(w), o) }
	left := container.NewHBox(cell(colAuditTime, when), cell(colAuditAction, action), cell(colAuditMode, mode),
		cell(colAuditResult, result), cell(colAuditWho, who))
	if v.patient == "" {
		left.Add(cell(colAuditPatient, patient))
	}
	return container.NewBorder(nil, nil, left, nil, detail)
}

// auditRow is a row of the journal.
type auditRow struct {
	widget.BaseWidget
	when, action, mode, result, who, patient, detail *widget.Label
	layout                                           fyne.CanvasObject
}

func (v *auditView) newRow() fyne.CanvasObject {
	r := &auditRow{}
	for _, l := range []**widget.Label{&r.when, &r.action, &r.mode, &r.result, &r.who, &r.patient, &r.detail} {
		*l = widget.NewLabel("")
		(*l).Truncation = fyne.TextTruncateEllipsis
	}
	r.patient.TextStyle.Monospace = true
	r.layout = v.cells(r.when, r.action, r.mode, r.result, r.who, r.patient, r.detail)
	r.ExtendBaseWidget(r)
	return r
}

// CreateRenderer implements fyne.Widget.
func (r *auditRow) CreateRenderer() fyne.WidgetRenderer { return widget.NewSimpleRenderer(r.layout) }

func (r *auditRow) update(e app.AuditEvent) {
	r.when.SetText(formatDateTime(e.Time))
	r.action.SetText(auditActionLabel(e.Action))
	r.mode.SetText(modeLabel(e.Mode))
	r.result.SetText(auditResultLabel(e.Result))
	r.who.SetText(e.Practitioner)
	r.patient.SetText(string(e.Patient))
	r.detail.SetText(e.Detail)
	imp := widget.MediumImportance
	switch {
	case e.Mode == app.AccessEmergency:
		imp = widget.DangerImportance
	case e.Result != "ok" && e.Result != "":
		imp = widget.WarningImportance
	}
	for _, l := range []*widget.Label{r.action, r.mode, r.result} {
		if l.Importance != imp {
			l.Importance = imp
			l.Refresh()
		}
	}
}

// auditActionKeys names the actions Carnet records.
var auditActionKeys = map[string]string{
	"vault.create":   "audit.action.vault-create",
	"vault.unlock":   "audit.action.vault-unlock",
	"vault.lock":     "audit.action.vault-lock",
	"vault.recover":  "audit.action.vault-recover",
	"vault.passwd":   "audit.action.vault-passwd",
	"settings.save":  "audit.action.settings-save",
	"session.signin": "audit.action.session-signin",
	"dmp.td02":       "audit.action.dmp-td02",
	"dmp.td03":       "audit.action.dmp-td03",
	"dmp.iti65":      "audit.action.dmp-iti65",
	"dmp.iti67":      "audit.action.dmp-iti67",
	"dmp.iti68":      "audit.action.dmp-iti68",
	"dmp.metadata":   "audit.action.dmp-metadata",
	"dmp.traces":     "audit.action.dmp-traces",
	"mail.import":    "audit.action.mail-import",
}

// auditActionLabel names an action; an unknown one shows its code.
func auditActionLabel(action string) string {
	if key, ok := auditActionKeys[action]; ok {
		return tr(key)
	}
	return action
}

// auditResultLabel words a result: "ok", a refusal, or an error kind.
func auditResultLabel(result string) string {
	switch {
	case result == "ok":
		return tr("audit.result.ok")
	case strings.HasPrefix(result, "denied:"):
		return tr("audit.result.denied", map[string]any{"Reason": strings.TrimPrefix(result, "denied:")})
	}
	return result
}

// recordAuditTab is the "Journal local" tab of a record: the local audit
// log on this patient.
type recordAuditTab struct {
	r *recordView
	v *auditView
}

func newRecordAuditTab(r *recordView) recordTab {
	return &recordAuditTab{r: r, v: newAuditView(r.u, r.patient.ID, nil)}
}

// item implements recordTab.
func (t *recordAuditTab) item() *container.TabItem {
	return container.NewTabItemWithIcon(tr("audit.tab"), theme.ListIcon(), container.NewBorder(
		paragraph(tr("audit.tab.intro")), nil, nil, nil, t.v.buildUI()))
}

// selected implements recordTab: the log is read each time the tab is
// shown (this very access adds to it).
func (t *recordAuditTab) selected() { t.v.load() }

// recordChanged implements recordTab.
func (t *recordAuditTab) recordChanged() {}

// dispose implements recordTab.
func (t *recordAuditTab) dispose() { t.v.dispose() }
