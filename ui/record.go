package ui

import (
	"context"
	"errors"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/carnetdesk/carnet/app"
)

// Display settings of dates and times; tests pin them.
var (
	// displayZone is the time zone dates and times are shown in.
	displayZone = time.Local
	// timeNow tells the time for the date filters ("last 3 months").
	timeNow = time.Now
)

// recordTab is one tab of the patient record. The record view builds its
// tabs once the record is open, from recordTabs, and keeps them until it is
// closed; a tab reads the record through its view: r.record() for the
// PatientRecord (identity, manifest, offline state) and r.access() for the
// access context of every further call (mode and justification).
type recordTab interface {
	// item returns the tab's title, icon and content; called once.
	item() *container.TabItem
	// selected runs when the tab is shown (the first tab at the opening):
	// a tab that loads something may start here, off the UI goroutine.
	selected()
	// recordChanged runs after the record was refreshed or widened.
	recordChanged()
	// dispose cancels the tab's tasks and drops the patient data it holds.
	dispose()
}

// recordTabs are the constructors of the record's tabs, in order. A new tab
// (the medications, the writing of a note) is one more constructor here.
var recordTabs = []func(r *recordView) recordTab{
	newDocumentsTab,
	newMedsTab, // the anesthesiologist's view, second (Ctrl+2)
	newTracesTab,
	newRecordAuditTab,
	newWriteTab,     // a note written in Carnet, sent through the outbox (write.go)
	newClinicalTab,  // allergies, problems, implanted devices (record_clinical.go)
	newSynthesisTab, // the medical synthesis (VSM) drafted from the record (vsm.go)
}

// recordView is the patient record page of the shell: it opens the record
// with the central service off the UI goroutine (progress and cancel), then
// shows the header (identity, access mode, the bris de glace banner, the
// offline notice) and the tabs; a refusal shows the access screen instead
// (access.go).
type recordView struct {
	taskFrame             // u, disposed, and the background work (tasks.go)
	patient   app.Patient // the local identity chosen in the search
	onBack    func()

	progress *taskProgress
	fetching *taskProgress // the background prefetch for offline reading (prefetch.go)
	header   *recordHeader
	body     *fyne.Container // the access screen, an error, or the tabs
	root     *fyne.Container

	denied  *accessView // while the access screen is shown
	failure *widget.Label
	tabs    *container.AppTabs
	tabList []recordTab
	viewer  *viewerView // a document shown in place of the tabs (viewer.go)

	rec           app.PatientRecord
	window        app.DocumentWindow
	mode          app.AccessMode // the mode of the current access
	justification string         // its justification (bris de glace)
	shown         bool           // the record is shown (header and tabs)
	dialogs       []dialog.Dialog
}

func newRecordView(u *UI, p app.Patient, onBack func()) *recordView {
	return &recordView{taskFrame: frame(u), patient: p, onBack: onBack}
}

// selectTab shows the record's tab i (Ctrl+1 …), closing a document shown
// in place of the tabs; it does nothing while no record is open.
func (r *recordView) selectTab(i int) {
	if r.tabs == nil || i < 0 || i >= len(r.tabs.Items) {
		return
	}
	if r.viewer != nil {
		r.closeViewer()
	}
	r.tabs.SelectIndex(i)
}

// record returns the record shown; tabs call it.
func (r *recordView) record() app.PatientRecord { return r.rec }

// access returns the access context of the record shown, for the calls a
// tab makes (the practitioner is set by the service).
func (r *recordView) access() app.Access {
	acc := r.rec.Access
	acc.Mode, acc.Justification = r.mode, r.justification
	return acc
}

// buildUI returns the page.
func (r *recordView) buildUI() fyne.CanvasObject {
	r.progress = newTaskProgress()
	r.fetching = newTaskProgress()
	r.header = newRecordHeader(r.refresh, r.onBack, r.signIn)
	r.header.onBreakGlass(func() { newAccessView(r, app.DeniedNotQualified, nil).openEmergency() })
	r.header.onPin(r.togglePin)
	r.header.box.Hide()
	r.failure = newMessage(widget.DangerImportance)
	r.body = container.NewStack()
	r.root = container.NewBorder(container.NewVBox(r.progress.box, r.header.box, r.fetching.box), nil, nil, nil, r.body)
	return r.root
}

// dispose implements view: it cancels the tasks, closes the dialogs and
// drops the record.
func (r *recordView) dispose() {
	if !r.end() {
		return
	}
	r.progress.dispose()
	r.fetching.dispose()
	r.closeDialogs()
	r.closeViewer()
	for _, t := range r.tabList {
		t.dispose()
	}
	r.tabList, r.tabs, r.denied = nil, nil, nil
	r.rec, r.window, r.justification = app.PatientRecord{}, app.DocumentWindow{}, ""
	r.patient = app.Patient{ID: r.patient.ID}
	r.header.clear()
	r.body.RemoveAll()
	r.root.RemoveAll()
}

// togglePin pins the patient to the watch list, or unpins it (the
// header's button): only this action puts a patient on the list.
func (r *recordView) togglePin() {
	id, pinned, svc := r.patient.ID, !r.patient.Pinned, r.u.svc
	r.header.pin.Disable()
	r.run(func(ctx context.Context) func() {
		err := svc.SetPinned(ctx, id, pinned)
		return func() {
			r.header.pin.Enable()
			if err != nil {
				r.header.setMessage(message(err))
				return
			}
			r.patient.Pinned = pinned
			r.header.setPinned(pinned)
		}
	})
}

// open opens the record in mode off the UI goroutine. A first opening that
// is cancelled goes back to the search.
//
// Cache first: a first opening in normal mode of a record the vault holds
// shows the vault copy ("copie du …") as soon as it is read, then asks the
// central service in the background; its answer replaces the copy (or the
// access screen replaces it on a refusal). The network never sits between
// a click and a cached screen.
func (r *recordView) open(mode app.AccessMode, justification string) {
	r.u.svc.Touch()
	if r.denied != nil {
		r.denied.setBusy(true)
	}
	id, svc := r.patient.ID, r.u.svc
	cacheFirst := !r.shown && r.denied == nil && mode == app.AccessNormal
	r.trackSteps(r.progress, tr("record.opening", map[string]any{"Name": r.patient.DisplayName()}), r.openCancelled, func(ctx context.Context, step func(func())) func() {
		if cacheFirst {
			if rec, ok, err := svc.CachedRecord(ctx, id); err == nil && ok {
				if win, err := svc.RecordWindow(ctx, id); err == nil {
					step(func() {
						if r.shown {
							return
						}
						r.opened(mode, justification, rec, win, nil)
						r.progress.label.SetText(tr("record.refreshing"))
					})
				}
			}
		}
		rec, err := svc.OpenPatient(ctx, id, mode, justification)
		var win app.DocumentWindow
		if err == nil {
			win, err = svc.RecordWindow(ctx, id)
		}
		return func() { r.opened(mode, justification, rec, win, err) }
	})
}

// grantAndOpen records the patient's authorisation (the consent was
// confirmed in the consent dialog), then opens the record normally.
func (r *recordView) grantAndOpen() {
	r.denied.setBusy(true)
	id, svc := r.patient.ID, r.u.svc
	r.track(r.progress, tr("access.consent.saving"), r.openCancelled, func(ctx context.Context) func() {
		if err := svc.GrantAuthorization(ctx, id); err != nil {
			return func() {
				r.denied.setBusy(false)
				r.denied.setMessage(message(err))
			}
		}
		rec, err := svc.OpenPatient(ctx, id, app.AccessNormal, "")
		var win app.DocumentWindow
		if err == nil {
			win, err = svc.RecordWindow(ctx, id)
		}
		return func() { r.opened(app.AccessNormal, "", rec, win, err) }
	})
}

// refresh opens the record again in the same mode (the header's button).
func (r *recordView) refresh() { r.open(r.mode, r.justification) }

// openCancelled runs when the user cancels an opening.
func (r *recordView) openCancelled() {
	switch {
	case r.denied != nil:
		r.denied.setBusy(false)
	case !r.shown:
		r.onBack()
	case r.rec.Refreshing:
		// The copy stays, no longer being refreshed.
		r.rec.Refreshing, r.rec.Offline = false, true
		_, signedIn := r.u.svc.Practitioner()
		r.header.show(r.patient, r.access(), r.rec, signedIn, r.u.canSignIn())
	}
}

// opened shows the outcome of an opening.
func (r *recordView) opened(mode app.AccessMode, justification string, rec app.PatientRecord, win app.DocumentWindow, err error) {
	if err != nil {
		r.failed(err)
		return
	}
	r.rec, r.window = rec, win
	r.mode, r.justification = mode, justification
	_, signedIn := r.u.svc.Practitioner()
	r.header.show(r.patient, r.access(), rec, signedIn, r.u.canSignIn())
	if signedIn && !rec.Offline && !rec.NotQualified && !rec.Refreshing {
		defer r.prefetch()
	}
	if r.shown {
		for _, t := range r.tabList {
			t.recordChanged()
		}
		relayoutCanvasOf(r.root)
		return
	}
	r.shown, r.denied = true, nil
	items := make([]*container.TabItem, 0, len(recordTabs))
	for _, newTab := range recordTabs {
		t := newTab(r)
		r.tabList = append(r.tabList, t)
		items = append(items, t.item())
	}
	r.tabs = container.NewAppTabs(items...)
	r.tabs.OnSelected = func(it *container.TabItem) {
		r.u.svc.Touch()
		for i, t := range r.tabList {
			if items[i] == it {
				t.selected()
			}
		}
	}
	r.body.Objects = []fyne.CanvasObject{r.tabs}
	r.body.Refresh()
	r.tabList[0].selected()
	relayoutCanvasOf(r.root)
}

// failed shows why an opening failed: the access screen for a refusal,
// else the error with a retry. A refusal while the record is shown (the
// patient withdrew the authorisation) drops the record.
func (r *recordView) failed(err error) {
	if reason := app.Denial(err); reason != "" {
		r.dropRecord()
		r.denied = newAccessView(r, reason, err)
		r.body.Objects = []fyne.CanvasObject{r.denied.buildUI()}
		r.body.Refresh()
		relayoutCanvasOf(r.root)
		return
	}
	if errors.Is(err, context.Canceled) {
		return
	}
	if r.shown {
		if r.rec.Refreshing {
			// The copy shown stays; it is no longer being refreshed.
			r.rec.Refreshing, r.rec.Offline = false, true
			_, signedIn := r.u.svc.Practitioner()
			r.header.show(r.patient, r.access(), r.rec, signedIn, r.u.canSignIn())
		}
		r.header.setMessage(message(err))
		return
	}
	if r.denied != nil {
		r.denied.setBusy(false)
		r.denied.setMessage(message(err))
		return
	}
	retry := widget.NewButtonWithIcon(tr("record.retry"), theme.ViewRefreshIcon(), func() { r.open(r.mode, r.justification) })
	back := widget.NewButtonWithIcon(tr("record.back"), theme.NavigateBackIcon(), r.onBack)
	setMessage(r.failure, message(err))
	r.body.Objects = []fyne.CanvasObject{centered(container.NewVBox(r.failure, container.NewHBox(retry, back)))}
	r.body.Refresh()
	relayoutCanvasOf(r.root)
}

// dropRecord forgets the record shown, with its tabs and header.
func (r *recordView) dropRecord() {
	r.closeViewer()
	for _, t := range r.tabList {
		t.dispose()
	}
	r.tabList, r.tabs, r.shown = nil, nil, false
	r.rec, r.window, r.justification = app.PatientRecord{}, app.DocumentWindow{}, ""
	r.header.clear()
	r.header.box.Hide()
}

// recordWidened takes the manifest of a widened record.
func (r *recordView) recordWidened(rec app.PatientRecord) {
	r.rec.Manifest = rec.Manifest
	r.window = app.DocumentWindow{Full: true}
	for _, t := range r.tabList {
		t.recordChanged()
	}
}

// signIn opens the sign-in dialog of the shell (offline record hint).
func (r *recordView) signIn() {
	if r.u.shell != nil && r.u.canSignIn() {
		r.u.shell.signIn.open()
	}
}

// openDocument shows a document of the record in the document viewer, in
// place of the tabs (viewer.go).
func (r *recordView) openDocument(id app.DocumentID) {
	r.u.svc.Touch()
	r.showViewer(id)
}

// showDialog shows d over the record; the record closes it when it goes.
func (r *recordView) showDialog(d dialog.Dialog) {
	r.dialogs = append(r.dialogs, d)
	d.SetOnClosed(func() {
		for i, o := range r.dialogs {
			if o == d {
				r.dialogs = append(r.dialogs[:i:i], r.dialogs[i+1:]...)
				return
			}
		}
	})
	d.Resize(fyne.NewSize(520, 0))
	d.Show()
}

// closeDialogs closes the dialogs of the record still open and reports
// whether there was one.
func (r *recordView) closeDialogs() bool {
	open := append([]dialog.Dialog(nil), r.dialogs...)
	for _, d := range open {
		d.Hide()
	}
	r.dialogs = nil
	return len(open) > 0
}

// navList is a widget.List that lets Esc through to the window: a focused
// list would swallow it.
type navList struct {
	widget.List
	u *UI
}

func newNavList(u *UI, length func() int, create func() fyne.CanvasObject, update func(widget.ListItemID, fyne.CanvasObject)) *navList {
	l := &navList{u: u}
	l.Length, l.CreateItem, l.UpdateItem = length, create, update
	l.ExtendBaseWidget(l)
	return l
}

// TypedKey goes back on Esc, and otherwise moves in the list.
func (l *navList) TypedKey(k *fyne.KeyEvent) {
	if k.Name == fyne.KeyEscape && l.u.back() {
		return
	}
	l.List.TypedKey(k)
}

// formatDate formats t as JJ/MM/AAAA; the zero time is empty.
func formatDate(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(displayZone).Format("02/01/2006")
}

// formatDateTime formats t as JJ/MM/AAAA HH:MM.
func formatDateTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(displayZone).Format("02/01/2006 15:04")
}

// modeLabel names an access mode.
func modeLabel(m app.AccessMode) string {
	switch m {
	case app.AccessNormal:
		return tr("mode.normal")
	case app.AccessEmergency:
		return tr("mode.emergency")
	case app.AccessRegulation:
		return tr("mode.regulation")
	case "":
		return ""
	}
	return string(m)
}
