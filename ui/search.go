package ui

import (
	"context"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/carnetdesk/carnet/app"
)

// searchLimit bounds the number of patients a search shows.
const searchLimit = 100

// searchView is the patient search of the shell: the entry in the top bar,
// the results below, searched as the user types.
type searchView struct {
	taskFrame // u, and the background work (tasks.go)

	query   *entry
	list    *widget.List
	empty   *emptyList // shown instead of the list when it is empty
	content fyne.CanvasObject

	results []app.Patient
	notes   map[app.PatientID]string // watch list: offline readiness, shown instead of the INS
	heading *widget.Label            // "Liste opératoire et patients suivis", over the watch list
	seq     uint64                   // number of the latest search; older answers are ignored

	onOpen func(app.Patient) // a patient was chosen: the shell opens the record
}

func newSearchView(u *UI) *searchView {
	return &searchView{taskFrame: frame(u)}
}

// buildUI returns the results area; the query entry goes in the top bar.
func (v *searchView) buildUI() fyne.CanvasObject {
	v.query = newEntry(v.u, tr("search.placeholder"))
	v.query.OnSubmitted = func(string) { v.choose(0) } // Enter: the first result
	v.list = widget.NewList(
		func() int { return len(v.results) },
		newPatientRow,
		func(id widget.ListItemID, o fyne.CanvasObject) {
			if id < len(v.results) {
				updatePatientRow(o, v.results[id])
				if note, ok := v.notes[v.results[id].ID]; ok {
					o.(*patientRow).ins.SetText(note)
				}
			}
		})
	v.list.OnSelected = func(id widget.ListItemID) {
		v.list.UnselectAll()
		v.choose(id)
	}
	v.empty = newEmptyList(v.list)
	// The heading is always there, one line, whatever it says: the list
	// below it never moves when it changes.
	v.heading = widget.NewLabelWithStyle(tr("vigilance.search.heading"), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	v.heading.Truncation = fyne.TextTruncateEllipsis
	v.content = container.NewBorder(v.heading, nil, nil, nil, v.empty.stack())
	v.empty.set(tr("search.empty.start"))
	v.loadWatchList()
	return v.content
}

// loadWatchList shows, while the search is empty, the patients the sync
// engine keeps ready — tomorrow's operating list first — with how ready
// each record is for offline reading.
func (v *searchView) loadWatchList() {
	v.seq++
	seq := v.seq
	svc := v.u.svc
	v.run(func(ctx context.Context) func() {
		list, err := svc.WatchList(ctx)
		return func() {
			if seq != v.seq || err != nil || len(list) == 0 {
				return // a search was started, or nothing to show: the hint stays
			}
			ready, ps, notes := 0, make([]app.Patient, len(list)), map[app.PatientID]string{}
			for i, e := range list {
				ps[i] = e.Patient
				notes[e.Patient.ID] = watchNote(e)
				if e.Ready() {
					ready++
				}
			}
			v.notes = notes
			v.setResults(ps)
			v.empty.set("")
			v.heading.SetText(tr("search.watch.heading", map[string]any{"Ready": ready, "Total": len(list)}))
		}
	})
}

// watchNote says when a patient is scheduled and how much of the record is
// readable offline.
func watchNote(e app.WatchEntry) string {
	ready := tr("search.watch.docs", map[string]any{"Cached": e.Cached, "Total": e.Documents})
	if e.Patient.Scheduled.IsZero() {
		return ready
	}
	return e.Patient.Scheduled.Local().Format("02/01 15:04") + " · " + ready
}

// choose opens the record of result i.
func (v *searchView) choose(i int) {
	v.u.svc.Touch()
	if i < 0 || i >= len(v.results) || v.onOpen == nil {
		return
	}
	v.onOpen(v.results[i])
}

// dispose drops the results and the query.
func (v *searchView) dispose() {
	v.seq++ // answers still on their way are ignored
	v.results = nil
	if v.query == nil {
		return
	}
	v.query.OnChanged = nil
	v.query.SetText("")
	v.list.Refresh()
}

// queryChanged starts a search for q off the UI goroutine.
func (v *searchView) queryChanged(q string) {
	v.seq++
	seq := v.seq
	v.notes = nil
	v.heading.SetText(tr("vigilance.search.heading"))
	if strings.TrimSpace(q) == "" {
		v.setResults(nil)
		v.empty.set(tr("search.empty.start"))
		v.loadWatchList()
		return
	}
	svc := v.u.svc
	v.run(func(ctx context.Context) func() {
		ps, err := svc.SearchPatients(ctx, q, searchLimit)
		return func() {
			if seq != v.seq {
				return // a newer search was started
			}
			v.answered(ps, err)
		}
	})
}

// answered shows the answer of the latest search.
func (v *searchView) answered(ps []app.Patient, err error) {
	if err != nil {
		v.setResults(nil)
		v.empty.set(message(err))
		return
	}
	v.setResults(ps)
	if len(ps) == 0 {
		v.empty.set(tr("search.empty.none"))
		return
	}
	v.empty.set("")
}

func (v *searchView) setResults(ps []app.Patient) {
	v.results = ps
	v.list.UnselectAll()
	v.list.ScrollToTop()
	v.list.Refresh()
}

// patientRow is a row of the results: name, birth date, sex, identity
// status and, for a QUAL identity only, the INS.
type patientRow struct {
	widget.BaseWidget
	name, birth, sex, status, ins *widget.Label
}

func newPatientRow() fyne.CanvasObject {
	r := &patientRow{
		name:   widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		birth:  widget.NewLabel("00/00/0000"),
		sex:    widget.NewLabel(""),
		status: widget.NewLabelWithStyle("RECUP", fyne.TextAlignCenter, fyne.TextStyle{Monospace: true}),
		ins:    widget.NewLabelWithStyle("", fyne.TextAlignTrailing, fyne.TextStyle{Monospace: true}),
	}
	r.name.Truncation = fyne.TextTruncateEllipsis
	r.ins.Truncation = fyne.TextTruncateEllipsis // the watch list's note must not spill over the status
	r.ExtendBaseWidget(r)
	return r
}

// CreateRenderer implements fyne.Widget.
func (r *patientRow) CreateRenderer() fyne.WidgetRenderer {
	cell := func(w float32, l *widget.Label) fyne.CanvasObject { return container.New(fixedWidth(w), l) }
	right := container.NewHBox(cell(110, r.birth), cell(120, r.sex), cell(80, r.status), cell(210, r.ins))
	return widget.NewSimpleRenderer(container.NewBorder(nil, nil, nil, right, r.name))
}

func updatePatientRow(o fyne.CanvasObject, p app.Patient) {
	r := o.(*patientRow)
	r.name.SetText(p.DisplayName())
	r.birth.SetText(formatBirthDate(p.BirthDate))
	r.sex.SetText(sexLabel(p.Sex))
	r.status.Importance = statusImportance(p.Status)
	r.status.SetText(string(p.Status))
	ins := ""
	if p.Status == app.IdentityQualified {
		ins = formatINS(p.INS.Matricule)
	}
	r.ins.SetText(ins)
}

// formatBirthDate turns YYYY-MM-DD into JJ/MM/AAAA; anything else is shown
// as is.
func formatBirthDate(d string) string {
	if len(d) != 10 || d[4] != '-' || d[7] != '-' {
		return d
	}
	return d[8:10] + "/" + d[5:7] + "/" + d[0:4]
}

// formatINS groups a 15-character matricule as on the Carte Vitale:
// 2 79 03 51 215 189 89.
func formatINS(m string) string {
	if len(m) != 15 {
		return m
	}
	return strings.Join([]string{m[0:1], m[1:3], m[3:5], m[5:7], m[7:10], m[10:13], m[13:15]}, " ")
}

func sexLabel(s app.Sex) string {
	switch s {
	case app.SexFemale:
		return tr("sex.female")
	case app.SexMale:
		return tr("sex.male")
	}
	return tr("sex.unknown")
}

// statusImportance colours the identity status: green for QUAL, the only
// status that lets the INS travel.
func statusImportance(s app.IdentityStatus) widget.Importance {
	switch s {
	case app.IdentityQualified:
		return widget.SuccessImportance
	case app.IdentityValidated:
		return widget.HighImportance
	case app.IdentityRecovered:
		return widget.WarningImportance
	}
	return widget.DangerImportance
}
