package ui

import (
	"context"
	"errors"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/carnetdesk/carnet/app"
)

// clinicalTab is the record's "Allergies, problèmes, dispositifs" tab: what
// the cached documents record of the patient's allergies, problems (not
// the negated ones), implanted devices, and the drugs recorded as not
// given (clinicalObjects). It is read off the UI goroutine when first
// shown, with a progress bar and a cancel button.
type clinicalTab struct {
	taskFrame // disposed, and the background work (tasks.go)
	r         *recordView
	tab       *container.TabItem
	progress  *taskProgress
	msg       *widget.Label
	retry     *widget.Button
	box       *fyne.Container
	loaded    bool
}

func newClinicalTab(r *recordView) recordTab { return &clinicalTab{taskFrame: frame(r.u), r: r} }

// item implements recordTab.
func (t *clinicalTab) item() *container.TabItem {
	t.progress = newTaskProgress()
	t.msg = newMessage(widget.LowImportance)
	t.retry = widget.NewButtonWithIcon(tr("meds.retry"), theme.ViewRefreshIcon(), t.load)
	t.retry.Hide()
	t.box = container.NewVBox()
	top := container.NewVBox(t.progress.box, container.NewBorder(nil, nil, nil, t.retry, t.msg))
	t.tab = container.NewTabItemWithIcon(tr("clinical.tab"), theme.InfoIcon(),
		container.NewBorder(top, nil, nil, nil, container.NewVScroll(container.NewPadded(t.box))))
	return t.tab
}

// selected implements recordTab: read when first shown.
func (t *clinicalTab) selected() {
	if !t.loaded && !t.progress.running() {
		t.load()
	}
}

// recordChanged implements recordTab: read again, now if shown.
func (t *clinicalTab) recordChanged() {
	t.loaded = false
	if t.r.tabs != nil && t.r.tabs.Selected() == t.tab {
		t.load()
	}
}

// dispose implements recordTab: it cancels the reading and drops what it
// shows.
func (t *clinicalTab) dispose() {
	if !t.end() {
		return
	}
	if t.progress != nil {
		t.progress.dispose()
		t.box.RemoveAll()
	}
}

// load reads the record's documents off the UI goroutine.
func (t *clinicalTab) load() {
	u := t.r.u
	u.svc.Touch()
	setMessage(t.msg, "")
	t.retry.Hide()
	svc, pid := u.svc, t.r.record().Patient.ID
	t.track(t.progress, tr("meds.loading"), func() {
		setMessage(t.msg, tr("meds.cancelled"))
		t.retry.Show()
	}, func(ctx context.Context) func() {
		reading, err := svc.ReadMedications(ctx, pid)
		return func() { t.show(reading, err) }
	})
}

// show shows what was read.
func (t *clinicalTab) show(reading app.MedicationReading, err error) {
	if err != nil {
		if !errors.Is(err, context.Canceled) {
			t.msg.Importance = widget.DangerImportance
			setMessage(t.msg, message(err))
			t.retry.Show()
		}
		return
	}
	t.loaded = true
	var notGiven []app.Medication
	for _, m := range reading.Lines {
		if m.Negated {
			notGiven = append(notGiven, m)
		}
	}
	t.box.Objects = clinicalObjects(reading, notGiven, t.r.openDocument)
	t.box.Refresh()
	t.msg.Importance = widget.LowImportance
	if len(t.box.Objects) == 0 {
		setMessage(t.msg, tr("clinical.none"))
	}
	relayoutCanvasOf(t.r.root)
}
