package ui

import (
	"context"
	"errors"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/carnetdesk/carnet/app"
)

// writeTab is the "Rédiger" tab of the record: a new note (title, text)
// with its visibility choices, saved to the outbox (Service.WriteNote off
// the UI goroutine) and sent by the sync engine as soon as the central
// service answers; below, the notes written in Carnet for this patient
// with their state (waiting, sent, conflict, refused).
//
// Writing needs the practitioner's card (it signs the note): without a
// session the tab says so and offers the sign-in. A note may not be both
// masked to professionals and hidden from the patient: the tab refuses it
// before the service does.
type writeTab struct {
	taskFrame // disposed, and the background work (tasks.go)
	r         *recordView

	signInHint *fyne.Container
	signIn     *widget.Button
	title      *entry
	text       *entry
	masked     *widget.Check
	hidePat    *widget.Check
	hideReps   *widget.Check
	visMsg     *widget.Label
	save       *widget.Button
	progress   *taskProgress
	msg        *widget.Label
	notesMsg   *widget.Label
	notes      *fyne.Container

	rows    []noteRow // the notes shown, newest first
	loading bool
}

// noteRow is a note written in Carnet and where it stands.
type noteRow struct {
	meta  app.DocumentMeta
	state app.OutboxState // "" when sent (no longer in the outbox)
	item  app.OutboxItem
}

func newWriteTab(r *recordView) recordTab { return &writeTab{taskFrame: frame(r.u), r: r} }

// item implements recordTab.
func (t *writeTab) item() *container.TabItem {
	u := t.r.u
	t.signIn = widget.NewButtonWithIcon(tr("signin.button"), theme.AccountIcon(), t.r.signIn)
	hint := paragraph(tr("write.signin"))
	hint.Importance = widget.WarningImportance
	t.signInHint = container.NewBorder(nil, nil, widget.NewIcon(theme.WarningIcon()), t.signIn, hint)
	t.title = newEntry(u, tr("write.title.placeholder"))
	t.text = newEntry(u, tr("write.text.placeholder"))
	t.text.MultiLine = true
	t.text.Wrapping = fyne.TextWrapWord
	t.text.SetMinRowsVisible(8)
	t.masked = widget.NewCheck(tr("write.vis.masked"), func(bool) { t.validate() })
	t.hidePat = widget.NewCheck(tr("write.vis.patient"), func(bool) { t.validate() })
	t.hideReps = widget.NewCheck(tr("write.vis.reps"), func(bool) { t.validate() })
	t.visMsg = newMessage(widget.DangerImportance)
	t.save = widget.NewButtonWithIcon(tr("write.save"), theme.DocumentSaveIcon(), t.saveNote)
	t.save.Importance = widget.HighImportance
	t.progress = newTaskProgress()
	t.msg = newMessage(widget.DangerImportance)
	t.notesMsg = newMessage(widget.LowImportance)
	t.notes = container.NewVBox()

	form := widget.NewForm(
		widget.NewFormItem(tr("write.title"), t.title),
		widget.NewFormItem(tr("write.text"), t.text),
	)
	vis := container.NewVBox(widget.NewLabelWithStyle(tr("write.vis"), fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		t.masked, t.hidePat, t.hideReps, t.visMsg)
	notesTitle := widget.NewLabelWithStyle(tr("write.notes"), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	content := container.NewVBox(t.signInHint, form, vis, container.NewHBox(t.save), t.progress.box, t.msg,
		widget.NewSeparator(), notesTitle, t.notesMsg, t.notes)
	t.refreshSignIn()
	return container.NewTabItemWithIcon(tr("write.tab"), theme.DocumentCreateIcon(), container.NewVScroll(container.NewPadded(content)))
}

// selected implements recordTab: the sign-in state is checked again and
// the notes read.
func (t *writeTab) selected() {
	t.refreshSignIn()
	t.loadNotes()
}

// recordChanged implements recordTab.
func (t *writeTab) recordChanged() {
	t.refreshSignIn()
	t.loadNotes()
}

// dispose implements recordTab: the draft and the notes are dropped.
func (t *writeTab) dispose() {
	if t.title == nil || !t.end() {
		return
	}
	t.progress.dispose()
	t.title.SetText("")
	t.text.SetText("")
	t.rows = nil
	t.notes.RemoveAll()
}

// signedIn reports whether a practitioner is signed in.
func (t *writeTab) signedIn() bool {
	_, ok := t.r.u.svc.Practitioner()
	return ok
}

// refreshSignIn shows the sign-in hint, and keeps the save button
// disabled, while nobody is signed in.
func (t *writeTab) refreshSignIn() {
	if t.signedIn() {
		t.signInHint.Hide()
	} else {
		t.signInHint.Show()
		if !t.r.u.canSignIn() {
			t.signIn.Hide()
		}
	}
	t.validate()
	relayoutCanvasOf(t.signInHint)
}

// checkSignIn shows the sign-in hint again if the session changed.
func (t *writeTab) checkSignIn() {
	if t.disposed || t.signInHint == nil {
		return
	}
	if t.signInHint.Visible() == t.signedIn() {
		t.refreshSignIn()
	}
}

// visibility returns the visibility chosen.
func (t *writeTab) visibility() app.Visibility {
	return app.Visibility{MaskedToProfessionals: t.masked.Checked, HiddenFromPatient: t.hidePat.Checked, HiddenFromLegalReps: t.hideReps.Checked}
}

// validate refuses a note both masked to professionals and hidden from the
// patient, and a note nobody can sign; it reports whether saving is
// possible.
func (t *writeTab) validate() bool {
	v := t.visibility()
	ok := true
	if v.MaskedToProfessionals && v.HiddenFromPatient {
		setMessage(t.visMsg, tr("write.vis.conflict"))
		ok = false
	} else {
		setMessage(t.visMsg, "")
	}
	if !t.signedIn() || t.progress.running() {
		ok = false
	}
	if ok {
		t.save.Enable()
	} else {
		t.save.Disable()
	}
	return ok
}

// saveNote writes the note to the outbox off the UI goroutine.
func (t *writeTab) saveNote() {
	t.r.u.svc.Touch()
	if !t.validate() {
		return
	}
	if strings.TrimSpace(t.text.Text) == "" {
		t.setMsg(tr("write.empty"), widget.DangerImportance)
		return
	}
	draft := app.NoteDraft{Title: strings.TrimSpace(t.title.Text), Text: t.text.Text, Visibility: t.visibility()}
	id, svc := t.r.patient.ID, t.r.u.svc
	t.setMsg("", widget.MediumImportance)
	t.r.track(t.progress, tr("write.saving"), func() { t.validate() }, func(ctx context.Context) func() {
		item, err := svc.WriteNote(ctx, id, draft)
		return func() { t.saved(item, err) }
	})
	t.validate()
}

// saved shows the outcome of a save: the draft is cleared and the note
// listed, or the reason it was refused.
func (t *writeTab) saved(item app.OutboxItem, err error) {
	t.validate()
	if err != nil {
		if errors.Is(err, app.ErrCredential) {
			t.setMsg(tr("write.signin"), widget.WarningImportance)
			return
		}
		t.setMsg(message(err), widget.DangerImportance)
		return
	}
	t.title.SetText("")
	t.text.SetText("")
	t.masked.SetChecked(false)
	t.hidePat.SetChecked(false)
	t.hideReps.SetChecked(false)
	t.setMsg(tr("write.saved"), widget.SuccessImportance)
	if s := t.r.u.shell; s != nil {
		s.noteWritten(item.Patient, item.Meta.ID)
	}
	t.loadNotes()
}

// setMsg shows the outcome of the last save.
func (t *writeTab) setMsg(text string, imp widget.Importance) {
	t.msg.Importance = imp
	setMessage(t.msg, text)
}

// loadNotes reads the notes written in Carnet for the patient off the UI
// goroutine: the outbox items of the patient, the documents of the
// manifest written in Carnet, and the notes written in this shell.
func (t *writeTab) loadNotes() {
	if t.disposed || t.loading || t.title == nil {
		return
	}
	t.loading = true
	id, svc := t.r.patient.ID, t.r.u.svc
	var written []app.DocumentID
	if s := t.r.u.shell; s != nil {
		written = append(written, s.written[id]...)
	}
	t.run(func(ctx context.Context) func() {
		rows, err := readNotes(ctx, svc, id, written)
		return func() {
			t.loading = false
			t.showNotes(rows, err)
		}
	})
}

// readNotes returns the notes written in Carnet for patient id, newest
// first. The outbox gives the state of those waiting; the others were sent.
func readNotes(ctx context.Context, svc *app.Service, id app.PatientID, written []app.DocumentID) ([]noteRow, error) {
	items, err := svc.Outbox(ctx)
	if err != nil {
		return nil, err
	}
	man, err := svc.CachedManifest(ctx, id)
	if err != nil && !errors.Is(err, app.ErrNotFound) {
		return nil, err
	}
	mine := map[app.DocumentID]bool{}
	for _, d := range written {
		mine[d] = true
	}
	var rows []noteRow
	seen := map[app.DocumentID]bool{}
	for _, it := range items {
		if it.Patient != id || it.Kind == app.OutboxMetadata || it.State == app.OutboxAcked {
			continue
		}
		seen[it.Meta.ID] = true
		rows = append(rows, noteRow{meta: it.Meta, state: it.State, item: it})
	}
	for _, d := range man.Documents {
		if seen[d.ID] || (d.Source != "carnet" && !mine[d.ID]) {
			continue
		}
		seen[d.ID] = true
		rows = append(rows, noteRow{meta: d})
	}
	sortNoteRows(rows)
	return rows, nil
}

// sortNoteRows orders notes newest first.
func sortNoteRows(rows []noteRow) {
	for i := 1; i < len(rows); i++ {
		for j := i; j > 0 && rows[j].meta.Date.After(rows[j-1].meta.Date); j-- {
			rows[j], rows[j-1] = rows[j-1], rows[j]
		}
	}
}

// showNotes shows the notes read, or why they could not be.
func (t *writeTab) showNotes(rows []noteRow, err error) {
	t.rows = rows
	t.notes.RemoveAll()
	switch {
	case err != nil:
		t.notesMsg.Importance = widget.DangerImportance
		setMessage(t.notesMsg, message(err))
	case len(rows) == 0:
		t.notesMsg.Importance = widget.LowImportance
		setMessage(t.notesMsg, tr("write.notes.none"))
	default:
		setMessage(t.notesMsg, "")
	}
	for _, n := range rows {
		t.notes.Add(t.noteRowUI(n))
	}
	t.notes.Refresh()
	relayoutCanvasOf(t.notes)
}

// noteRowUI returns a row of the notes: date, title, state; a conflict or
// a refusal leads to the outbox page.
func (t *writeTab) noteRowUI(n noteRow) fyne.CanvasObject {
	title := n.meta.Title
	if title == "" {
		title = tr("viewer.untitled")
	}
	state := widget.NewLabel(noteStateText(n))
	state.Importance = noteStateImportance(n.state)
	left := widget.NewLabel(formatDateTime(n.meta.Date) + " · " + title)
	left.Truncation = fyne.TextTruncateEllipsis
	var right fyne.CanvasObject = state
	if n.state == app.OutboxConflict || n.state == app.OutboxRejected {
		open := widget.NewButtonWithIcon(tr("write.resolve"), theme.MailSendIcon(), func() {
			if s := t.r.u.shell; s != nil {
				s.openOutboxPage()
			}
		})
		right = container.NewHBox(state, open)
	}
	return container.NewBorder(nil, nil, nil, right, left)
}

// noteStateText says where a note stands.
func noteStateText(n noteRow) string {
	switch n.state {
	case "":
		return tr("write.state.sent")
	case app.OutboxRetry:
		return tr("write.state.retry")
	case app.OutboxSending:
		return tr("write.state.sending")
	case app.OutboxUnconfirmed:
		return tr("write.state.unconfirmed")
	case app.OutboxConflict:
		return tr("write.state.conflict")
	case app.OutboxRejected:
		return tr("write.state.rejected")
	}
	return tr("write.state.pending")
}

// noteStateImportance colours a note's state.
func noteStateImportance(s app.OutboxState) widget.Importance {
	switch s {
	case "":
		return widget.SuccessImportance
	case app.OutboxConflict, app.OutboxRejected:
		return widget.DangerImportance
	case app.OutboxRetry, app.OutboxUnconfirmed:
		return widget.WarningImportance
	}
	return widget.MediumImportance
}
