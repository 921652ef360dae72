package ui

import (
	"context"
	"errors"
	"sort"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/carnetdesk/carnet/app"
)

// tracesTab is the "Traces d'accès" tab of the record: who consulted the
// record, as the central service traced it (date, practitioner, structure,
// action, mode; bris de glace accesses highlighted). The traces are read
// when the tab is first shown, off the UI goroutine, and only online.
type tracesTab struct {
	r *recordView

	reload   *widget.Button
	progress *taskProgress
	msg      *widget.Label
	list     *navList

	traces  []app.AccessTrace // newest first
	loaded  bool
	offline bool // the last reading found the record offline
}

func newTracesTab(r *recordView) recordTab { return &tracesTab{r: r} }

// item implements recordTab.
func (t *tracesTab) item() *container.TabItem {
	t.reload = widget.NewButtonWithIcon(tr("traces.reload"), theme.ViewRefreshIcon(), t.load)
	t.progress = newTaskProgress()
	t.msg = newMessage(widget.MediumImportance)
	t.list = newNavList(t.r.u, func() int { return len(t.traces) }, newTraceRow, func(id widget.ListItemID, o fyne.CanvasObject) {
		if id < len(t.traces) {
			o.(*traceRow).update(t.traces[id])
		}
	})
	t.list.OnSelected = func(widget.ListItemID) { t.list.UnselectAll() }
	t.list.Hide()
	intro := paragraph(tr("traces.intro"))
	top := container.NewVBox(container.NewBorder(nil, nil, nil, t.reload, intro), t.progress.box, t.msg, traceColumns())
	return container.NewTabItemWithIcon(tr("traces.tab"), theme.VisibilityIcon(), container.NewBorder(top, nil, nil, nil, t.list))
}

// selected implements recordTab: the first time, the traces are read.
func (t *tracesTab) selected() {
	if !t.loaded && !t.progress.running() {
		t.load()
	}
}

// recordChanged implements recordTab: the traces shown stay (the reload
// button reads them again), unless they could not be read offline: then
// they are read at the next showing.
func (t *tracesTab) recordChanged() {
	if t.offline {
		t.loaded = false
	}
}

// dispose implements recordTab.
func (t *tracesTab) dispose() {
	if t.list == nil {
		return
	}
	t.progress.dispose()
	t.traces = nil
	t.list.Refresh()
}

// load reads the traces off the UI goroutine; offline, it says they are
// only available online.
func (t *tracesTab) load() {
	t.r.u.svc.Touch()
	_, signedIn := t.r.u.svc.Practitioner()
	if !signedIn || t.r.record().Offline {
		t.loaded = true
		t.show(nil, app.ErrOffline)
		return
	}
	t.reload.Disable()
	id, svc := t.r.patient.ID, t.r.u.svc
	t.r.track(t.progress, tr("traces.loading"), func() { t.reload.Enable() }, func(ctx context.Context) func() {
		trs, err := svc.AccessTraces(ctx, id, time.Time{})
		return func() {
			t.loaded = true
			t.reload.Enable()
			t.show(trs, err)
		}
	})
}

// show shows the traces read, or why there are none.
func (t *tracesTab) show(trs []app.AccessTrace, err error) {
	t.offline = errors.Is(err, app.ErrOffline) || errors.Is(err, app.ErrCredential)
	switch {
	case t.offline:
		t.traces = nil
		t.msg.Importance = widget.WarningImportance
		setMessage(t.msg, tr("traces.offline"))
	case err != nil:
		t.traces = nil
		t.msg.Importance = widget.DangerImportance
		setMessage(t.msg, message(err))
	case len(trs) == 0:
		t.traces = nil
		t.msg.Importance = widget.MediumImportance
		setMessage(t.msg, tr("traces.none"))
	default:
		t.traces = append([]app.AccessTrace(nil), trs...)
		sort.SliceStable(t.traces, func(i, j int) bool { return t.traces[i].Time.After(t.traces[j].Time) })
		setMessage(t.msg, "")
	}
	if len(t.traces) > 0 {
		t.list.Show()
	} else {
		t.list.Hide()
	}
	t.list.Refresh()
	relayoutCanvasOf(t.list)
}

// The widths of the trace list's columns.
const (
	colTraceTime, colTraceWho, colTraceStructure, colTraceMode = 140, 220, 220, 150
)

func traceColumns() fyne.CanvasObject {
	label := func(key string) *widget.Label {
		return widget.NewLabelWithStyle(tr(key), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	}
	return traceCells(label("traces.col.time"), label("traces.col.who"), label("traces.col.structure"),
		label("traces.col.action"), label("traces.col.mode"))
}

func traceCells(when, who, structure, action, mode *widget.Label) fyne.CanvasObject {
	cell := func(w float32, o fyne.CanvasObject) fyne.CanvasObject { return container.New(fixedWidth(w), o) }
	return container.NewBorder(nil, nil,
		container.NewHBox(cell(colTraceTime, when), cell(colTraceWho, who), cell(colTraceStructure, structure)),
		cell(colTraceMode, mode), action)
}

// traceRow is a row of the trace list.
type traceRow struct {
	widget.BaseWidget
	when, who, structure, action, mode *widget.Label
}

func newTraceRow() fyne.CanvasObject {
	r := &traceRow{}
	for _, l := range []**widget.Label{&r.when, &r.who, &r.structure, &r.action, &r.mode} {
		*l = widget.NewLabel("")
		(*l).Truncation = fyne.TextTruncateEllipsis
	}
	r.ExtendBaseWidget(r)
	return r
}

// CreateRenderer implements fyne.Widget.
func (r *traceRow) CreateRenderer() fyne.WidgetRenderer {
	return widget.NewSimpleRenderer(traceCells(r.when, r.who, r.structure, r.action, r.mode))
}

func (r *traceRow) update(a app.AccessTrace) {
	r.when.SetText(formatDateTime(a.Time))
	r.who.SetText(a.Practitioner)
	r.structure.SetText(a.Structure)
	r.action.SetText(a.Action)
	r.mode.SetText(modeLabel(a.Mode))
	emergency := a.Mode == app.AccessEmergency
	r.mode.TextStyle.Bold = emergency
	for _, l := range []*widget.Label{r.when, r.who, r.structure, r.action, r.mode} {
		if emergency {
			l.Importance = widget.DangerImportance
		} else {
			l.Importance = widget.MediumImportance
		}
		l.Refresh()
	}
}
