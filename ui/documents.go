package ui

import (
	"context"
	"sort"
	"strconv"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/carnetdesk/carnet/app"
)

// documentPeriods are the choices of the date filter, in months back from
// today (0: every date).
var documentPeriods = []struct {
	key    string
	months int
}{
	{"documents.period.all", 0},
	{"documents.period.3m", 3},
	{"documents.period.1y", 12},
	{"documents.period.2y", 24},
}

// documentsTab is the Documents tab of the record: a virtualised list
// (date, title and type code, author, organisation, visibility flags,
// offline availability, superseded versions marked), filters by type,
// class, date and text, and the "last two years" notice with its widen
// action.
//
// Labels: package ui cannot read the terminology tables (app/terms); it
// asks the service (DocumentTypeLabel, DocumentClassLabel), which answers
// with the code itself when no terminology is wired. The type filter then
// shows the document's own title and its type code.
type documentsTab struct {
	r *recordView

	typeFilter  *widget.Select
	classFilter *widget.Select
	period      *widget.Select
	query       *entry
	count       *widget.Label
	list        *navList
	empty       *emptyList // shown instead of the list when it is empty
	notice      *fyne.Container
	widen       *widget.Button
	widenMsg    *widget.Label
	progress    *taskProgress

	typeCodes  map[string]string // type filter option → type code
	classCodes map[string]string // class filter option → class code ("" unclassified)
	shown      []app.DocumentMeta
}

func newDocumentsTab(r *recordView) recordTab { return &documentsTab{r: r} }

// item implements recordTab.
func (d *documentsTab) item() *container.TabItem {
	d.typeFilter = widget.NewSelect(nil, func(string) { d.filter() })
	d.classFilter = widget.NewSelect(nil, func(string) { d.filter() })
	d.period = widget.NewSelect(nil, func(string) { d.filter() })
	for _, p := range documentPeriods {
		d.period.Options = append(d.period.Options, tr(p.key))
	}
	d.period.SetSelectedIndex(0)
	d.query = newEntry(d.r.u, tr("documents.query"))
	d.query.OnChanged = func(string) { d.filter() }
	d.count = widget.NewLabel("")
	d.count.Importance = widget.LowImportance
	filters := container.NewBorder(nil, nil,
		container.NewHBox(container.New(fixedWidth(260), d.typeFilter), container.New(fixedWidth(220), d.classFilter),
			container.New(fixedWidth(190), d.period)),
		d.count, d.query)

	d.list = newNavList(d.r.u, func() int { return len(d.shown) }, newDocumentRow, func(id widget.ListItemID, o fyne.CanvasObject) {
		if id < len(d.shown) {
			o.(*documentRow).update(d.shown[id], d.r.u.svc.DocumentTypeLabel(d.shown[id].TypeCode))
		}
	})
	d.list.OnSelected = func(id widget.ListItemID) {
		d.list.UnselectAll()
		if id < len(d.shown) {
			d.r.openDocument(d.shown[id].ID)
		}
	}
	d.empty = newEmptyList(d.list)

	d.widen = widget.NewButtonWithIcon(tr("documents.widen"), theme.HistoryIcon(), d.widenRecord)
	d.widenMsg = newMessage(widget.DangerImportance)
	d.progress = newTaskProgress()
	d.notice = container.NewVBox(
		container.NewBorder(nil, nil, widget.NewIcon(theme.InfoIcon()), d.widen, paragraph(tr("documents.window"))),
		d.widenMsg, d.progress.box)

	top := container.NewVBox(d.notice, filters, documentColumns())
	content := container.NewBorder(top, nil, nil, nil, d.empty.stack())
	d.recordChanged()
	return container.NewTabItemWithIcon(tr("documents.tab"), theme.DocumentIcon(), content)
}

// selected implements recordTab: the documents are already in memory.
func (d *documentsTab) selected() {}

// recordChanged implements recordTab: the type and class choices, the list
// and the notice follow the record.
func (d *documentsTab) recordChanged() {
	docs := d.r.record().Manifest.Documents
	selectedCode := d.typeCodes[d.typeFilter.Selected]
	d.typeCodes = map[string]string{}
	all := tr("documents.type.all")
	options := []string{}
	seen := map[string]bool{}
	for _, doc := range docs { // newest first: the label is the newest title
		if seen[doc.TypeCode] {
			continue
		}
		seen[doc.TypeCode] = true
		label := typeLabel(d.r.u.svc, doc)
		d.typeCodes[label] = doc.TypeCode
		options = append(options, label)
	}
	sort.Strings(options)
	d.typeFilter.Options = append([]string{all}, options...)
	selected := all
	for label, code := range d.typeCodes {
		if code == selectedCode && selectedCode != "" {
			selected = label
		}
	}
	d.typeFilter.Selected = selected // SetSelected would filter twice
	d.typeFilter.Refresh()
	d.classChoices(docs)
	if d.r.window.Limited() {
		d.notice.Show()
	} else {
		d.notice.Hide()
	}
	d.filter()
}

// dispose implements recordTab.
func (d *documentsTab) dispose() {
	if d.list == nil {
		return
	}
	d.progress.dispose()
	d.shown, d.typeCodes, d.classCodes = nil, nil, nil
	d.typeFilter.Options, d.typeFilter.Selected = nil, ""
	d.classFilter.Options, d.classFilter.Selected = nil, ""
	d.query.OnChanged = nil
	d.query.SetText("")
	d.list.Refresh()
}

// filter shows the documents that pass the filters.
func (d *documentsTab) filter() {
	if d.list == nil || d.typeCodes == nil || d.classCodes == nil {
		return // building, or disposed
	}
	d.r.u.svc.Touch()
	f := documentFilter{Query: d.query.Text}
	if sel := d.typeFilter.Selected; sel != "" && sel != tr("documents.type.all") {
		f.Type, f.ByType = d.typeCodes[sel], true
	}
	if code, ok := d.classCodes[d.classFilter.Selected]; ok {
		f.Class, f.ByClass = code, true
	}
	if i := d.period.SelectedIndex(); i > 0 {
		f.Since = timeNow().AddDate(0, -documentPeriods[i].months, 0)
	}
	docs := d.r.record().Manifest.Documents
	d.shown = f.apply(docs)
	d.count.SetText(trN("documents.count", len(d.shown), map[string]any{"N": len(d.shown), "Total": len(docs)}))
	d.list.UnselectAll()
	d.list.ScrollToOffset(0) // nil-safe before the first render, unlike ScrollToTop
	d.list.Refresh()
	switch {
	case len(docs) == 0:
		d.empty.set(tr("documents.empty.none"))
	case len(d.shown) == 0:
		d.empty.set(tr("documents.empty.filtered"))
	default:
		d.empty.set("")
	}
}

// classChoices fills the class filter with the classes of docs, sorted by
// label, after "every class" and before "unclassified" (when a document
// has no class); the chosen class stays chosen while the record has it.
func (d *documentsTab) classChoices(docs []app.DocumentMeta) {
	prev, hadPrev := d.classCodes[d.classFilter.Selected]
	d.classCodes = map[string]string{}
	byCode := map[string]string{} // class code → option
	unclassified := false
	var options []string
	for _, doc := range docs {
		code := doc.ClassCode
		if code == "" {
			unclassified = true
			continue
		}
		if _, seen := byCode[code]; seen {
			continue
		}
		label := d.r.u.svc.DocumentClassLabel(code)
		if _, taken := d.classCodes[label]; taken || label == tr("documents.class.all") || label == tr("documents.class.none") {
			label += " (" + code + ")" // two codes, one label: both stay choosable
		}
		byCode[code], d.classCodes[label] = label, code
		options = append(options, label)
	}
	sort.Strings(options)
	options = append([]string{tr("documents.class.all")}, options...)
	if unclassified {
		none := tr("documents.class.none")
		byCode[""], d.classCodes[none] = none, ""
		options = append(options, none)
	}
	d.classFilter.Options = options
	d.classFilter.Selected = options[0]
	if label, ok := byCode[prev]; ok && hadPrev {
		d.classFilter.Selected = label
	}
	d.classFilter.Refresh()
}

// widenRecord lists the whole record (older than the two years of the
// first consultation) off the UI goroutine.
func (d *documentsTab) widenRecord() {
	d.widen.Disable()
	setMessage(d.widenMsg, "")
	id, acc, svc := d.r.patient.ID, d.r.access(), d.r.u.svc
	d.r.track(d.progress, tr("documents.widening"), func() { d.widen.Enable() }, func(ctx context.Context) func() {
		rec, err := svc.WidenRecord(ctx, id, acc, time.Time{})
		return func() {
			d.widen.Enable()
			if err != nil {
				setMessage(d.widenMsg, message(err))
				return
			}
			d.r.recordWidened(rec)
		}
	})
}

// documentFilter selects documents: by type code (when ByType), by class
// code (when ByClass; "" is the documents without class), by act date
// (Since, when not zero), and by text in the title or the author.
type documentFilter struct {
	Type    string
	ByType  bool
	Class   string
	ByClass bool
	Since   time.Time
	Query   string
}

// apply returns the documents of docs that pass f, in order.
func (f documentFilter) apply(docs []app.DocumentMeta) []app.DocumentMeta {
	q := app.Fold(strings.TrimSpace(f.Query))
	out := make([]app.DocumentMeta, 0, len(docs))
	for _, d := range docs {
		switch {
		case f.ByType && d.TypeCode != f.Type:
		case f.ByClass && d.ClassCode != f.Class:
		case !f.Since.IsZero() && d.Date.Before(f.Since):
		case q != "" && !strings.Contains(app.Fold(d.Title), q) && !strings.Contains(app.Fold(d.Author), q):
		default:
			out = append(out, d)
		}
	}
	return out
}

// typeLabel names a document's type in the type filter: its French label
// (JDV_J07) when known, else its title, with its code.
func typeLabel(svc *app.Service, d app.DocumentMeta) string {
	switch label := svc.DocumentTypeLabel(d.TypeCode); {
	case d.TypeCode == "":
		return tr("documents.type.none")
	case label != d.TypeCode:
		return label + " (" + d.TypeCode + ")"
	case d.Title == "":
		return d.TypeCode
	}
	return d.Title + " (" + d.TypeCode + ")"
}

// visibilityFlags names the visibility restrictions of a document.
func visibilityFlags(v app.Visibility) string {
	var out []string
	if v.MaskedToProfessionals {
		out = append(out, tr("documents.flag.masked"))
	}
	if v.HiddenFromPatient {
		out = append(out, tr("documents.flag.hidden-patient"))
	}
	if v.HiddenFromLegalReps {
		out = append(out, tr("documents.flag.hidden-reps"))
	}
	return strings.Join(out, " · ")
}

// The widths of the document list's columns.
const (
	colDate, colCode, colAuthor, colOrg, colFlags, colOffline = 100, 170, 140, 140, 120, 40
)

// documentColumns returns the titles of the list's columns.
func documentColumns() fyne.CanvasObject {
	label := func(key string) *widget.Label {
		l := widget.NewLabelWithStyle(tr(key), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
		l.Truncation = fyne.TextTruncateEllipsis
		return l
	}
	return documentCells(label("documents.col.date"), label("documents.col.title"), label("documents.col.code"),
		label("documents.col.author"), label("documents.col.org"), label("documents.col.flags"),
		widget.NewIcon(theme.StorageIcon()))
}

// documentCells lays out a row of the list or the column titles.
func documentCells(date, title, code, author, org, flags *widget.Label, offline fyne.CanvasObject) fyne.CanvasObject {
	cell := func(w float32, o fyne.CanvasObject) fyne.CanvasObject { return container.New(fixedWidth(w), o) }
	right := container.NewHBox(cell(colCode, code), cell(colAuthor, author), cell(colOrg, org), cell(colFlags, flags),
		cell(colOffline, container.NewCenter(offline)))
	return container.NewBorder(nil, nil, cell(colDate, date), right, title)
}

// documentRow is a row of the document list.
type documentRow struct {
	widget.BaseWidget
	date, title, code, author, org, flags *widget.Label
	offline                               *widget.Icon // the content is in the vault
}

func newDocumentRow() fyne.CanvasObject {
	r := &documentRow{offline: widget.NewIcon(nil)}
	for _, l := range []**widget.Label{&r.date, &r.title, &r.code, &r.author, &r.org, &r.flags} {
		*l = widget.NewLabel("")
		(*l).Truncation = fyne.TextTruncateEllipsis
	}
	r.code.TextStyle = fyne.TextStyle{Monospace: true}
	r.flags.Importance = widget.WarningImportance
	r.ExtendBaseWidget(r)
	return r
}

// CreateRenderer implements fyne.Widget.
func (r *documentRow) CreateRenderer() fyne.WidgetRenderer {
	return widget.NewSimpleRenderer(documentCells(r.date, r.title, r.code, r.author, r.org, r.flags, r.offline))
}

// update shows d; typeName is its type's French label (JDV_J07), or its
// code when the terminology does not know it (then shown as a code).
func (r *documentRow) update(d app.DocumentMeta, typeName string) {
	r.date.SetText(formatDate(d.Date))
	title := d.Title
	r.title.Importance = widget.MediumImportance
	if d.Superseded {
		title = tr("documents.superseded", map[string]any{"Title": title})
		r.title.Importance = widget.LowImportance
	}
	r.title.SetText(title)
	r.code.TextStyle = fyne.TextStyle{Monospace: typeName == "" || typeName == d.TypeCode}
	if typeName == "" {
		typeName = d.TypeCode
	}
	r.code.SetText(typeName)
	r.author.SetText(d.Author)
	r.org.SetText(d.Organisation)
	r.flags.SetText(visibilityFlags(d.Visibility))
	if d.Cached {
		r.offline.SetResource(theme.StorageIcon())
	} else {
		r.offline.SetResource(nil)
	}
}

// documentDetails shows a document's metadata (the document dialog until
// the viewer comes).
func documentDetails(d app.DocumentMeta) fyne.CanvasObject {
	yesNo := func(b bool) string {
		if b {
			return tr("dialog.yes")
		}
		return tr("dialog.no")
	}
	flags := visibilityFlags(d.Visibility)
	if flags == "" {
		flags = tr("documents.flag.none")
	}
	f := widget.NewForm(
		widget.NewFormItem(tr("documents.col.date"), widget.NewLabel(formatDate(d.Date))),
		widget.NewFormItem(tr("documents.col.code"), widget.NewLabel(d.TypeCode)),
		widget.NewFormItem(tr("documents.col.author"), widget.NewLabel(d.Author)),
		widget.NewFormItem(tr("documents.col.org"), widget.NewLabel(d.Organisation)),
		widget.NewFormItem(tr("documents.col.flags"), widget.NewLabel(flags)),
		widget.NewFormItem(tr("documents.detail.offline"), widget.NewLabel(yesNo(d.Cached))),
		widget.NewFormItem(tr("documents.detail.superseded"), widget.NewLabel(yesNo(d.Superseded))),
		widget.NewFormItem(tr("documents.detail.format"), widget.NewLabel(d.MediaType)),
	)
	if d.Size > 0 {
		f.Append(tr("documents.detail.size"), widget.NewLabel(tr("documents.detail.kb", map[string]any{"N": strconv.FormatInt((d.Size+1023)/1024, 10)})))
	}
	return f
}
