package ui

import (
	"context"
	"errors"
	"strconv"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/carnetdesk/carnet/app"
)

// inboxView is the "Messagerie" page of the shell: the reports received by
// secure messaging that were not filed automatically. The manual queue
// shows each report with why it was not filed (the ANS code 902–905 and its
// meaning) and the candidate patients: "Rattacher à …" files it after a
// confirmation, "Rejeter" settles it without filing. Quarantined messages
// show their reason. The reports a person already attached or rejected are
// listed last, with the patient they were filed to.
type inboxView struct {
	u      *UI
	onBack func()

	back     *widget.Button
	reload   *widget.Button
	progress *taskProgress
	msg      *widget.Label
	list     *fyne.Container

	items   []app.InboxItem
	names   map[app.PatientID]string
	attach  map[app.InboxID][]*widget.Button // per item, one per candidate
	reject  map[app.InboxID]*widget.Button
	confirm dialog.Dialog // the confirmation shown, if any

	disposed bool
}

func newInboxView(u *UI, onBack func()) *inboxView {
	return &inboxView{u: u, onBack: onBack}
}

// buildUI returns the page; load reads the inbox.
func (v *inboxView) buildUI() fyne.CanvasObject {
	v.back = widget.NewButtonWithIcon(tr("inbox.back"), theme.NavigateBackIcon(), v.onBack)
	v.reload = widget.NewButtonWithIcon(tr("inbox.reload"), theme.ViewRefreshIcon(), v.load)
	v.progress = newTaskProgress()
	v.msg = newMessage(widget.MediumImportance)
	v.list = container.NewVBox()
	header := container.NewBorder(nil, nil, container.NewHBox(v.back, heading(tr("inbox.title"))), v.reload)
	top := container.NewVBox(header, paragraph(tr("inbox.intro")), v.progress.box, v.msg)
	return container.NewBorder(top, nil, nil, nil, container.NewVScroll(container.NewPadded(v.list)))
}

// dispose cancels the reading and drops the items.
func (v *inboxView) dispose() {
	v.disposed = true
	v.progress.dispose()
	if v.confirm != nil {
		v.confirm.Hide()
		v.confirm = nil
	}
	v.items, v.names, v.attach, v.reject = nil, nil, nil, nil
	v.list.RemoveAll()
}

// load reads the inbox and the names of the patients it mentions off the
// UI goroutine.
func (v *inboxView) load() {
	if v.disposed {
		return
	}
	v.reload.Disable()
	svc := v.u.svc
	runTask(v.u, v.progress, tr("inbox.loading"), func() { v.reload.Enable() }, func() bool { return v.disposed },
		func(ctx context.Context) func() {
			items, err := svc.Inbox(ctx)
			names := map[app.PatientID]string{}
			for _, it := range items {
				ids := []app.PatientID{it.Patient}
				for _, c := range it.Candidates {
					ids = append(ids, c.Patient)
				}
				for _, id := range ids {
					if _, ok := names[id]; ok || id == "" {
						continue
					}
					if p, err := svc.Patient(ctx, id); err == nil {
						names[id] = p.DisplayName() + " (" + formatBirthDate(p.BirthDate) + ")"
					}
				}
			}
			return func() {
				v.reload.Enable()
				v.show(items, names, err)
			}
		})
}

// show shows the items in three groups: to file, quarantined, decided.
func (v *inboxView) show(items []app.InboxItem, names map[app.PatientID]string, err error) {
	v.items, v.names = items, names
	v.attach, v.reject = map[app.InboxID][]*widget.Button{}, map[app.InboxID]*widget.Button{}
	v.list.RemoveAll()
	if err != nil {
		v.msg.Importance = widget.DangerImportance
		setMessage(v.msg, message(err))
		return
	}
	groups := []struct {
		title  string
		states []app.InboxState
	}{
		{tr("inbox.group.pending"), []app.InboxState{app.InboxPending}},
		{tr("inbox.group.quarantined"), []app.InboxState{app.InboxQuarantined}},
		{tr("inbox.group.decided"), []app.InboxState{app.InboxAttached, app.InboxRejected}},
	}
	shown := 0
	for _, g := range groups {
		var box []fyne.CanvasObject
		for _, it := range items {
			for _, st := range g.states {
				if it.State == st {
					box = append(box, v.itemUI(it))
				}
			}
		}
		if len(box) == 0 {
			continue
		}
		shown += len(box)
		title := widget.NewLabelWithStyle(g.title+" ("+strconv.Itoa(len(box))+")", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
		v.list.Add(title)
		for _, o := range box {
			v.list.Add(o)
			v.list.Add(widget.NewSeparator())
		}
	}
	if shown == 0 {
		v.msg.Importance = widget.SuccessImportance
		setMessage(v.msg, tr("inbox.empty"))
	} else {
		setMessage(v.msg, "")
	}
	v.list.Refresh()
	relayoutCanvasOf(v.list)
}

// itemUI returns the block of an item: what, from whom, why, and the
// decisions.
func (v *inboxView) itemUI(it app.InboxItem) fyne.CanvasObject {
	title := it.Subject
	if it.Report != nil {
		title = firstNonEmpty(it.Report.Meta.Title, it.Report.FileName, it.Subject)
	}
	head := widget.NewLabelWithStyle(orDash(title), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	head.Truncation = fyne.TextTruncateEllipsis
	from := widget.NewLabel(tr("inbox.item.from", map[string]any{"From": orDash(it.From), "Date": formatDateTime(it.Received)}))
	from.Truncation = fyne.TextTruncateEllipsis
	box := container.NewVBox(head, from)
	switch it.State {
	case app.InboxAttached:
		l := widget.NewLabel(tr("inbox.item.attached", map[string]any{"Patient": orDash(v.names[it.Patient]), "Date": formatDateTime(it.DecidedAt)}))
		l.Importance = widget.SuccessImportance
		box.Add(l)
		return box
	case app.InboxRejected:
		l := widget.NewLabel(tr("inbox.item.rejected", map[string]any{"Date": formatDateTime(it.DecidedAt)}))
		l.Importance = widget.LowImportance
		box.Add(l)
		return box
	}
	reason := paragraph(matchReasonText(it.Reason))
	reason.Importance = widget.WarningImportance
	if it.State == app.InboxQuarantined {
		reason.Importance = widget.DangerImportance
	}
	box.Add(reason)
	for _, p := range it.Problems {
		box.Add(widget.NewLabel("• " + problemText(p.Kind)))
	}
	var buttons []fyne.CanvasObject
	if it.State == app.InboxPending && it.Report != nil {
		if len(it.Candidates) == 0 {
			box.Add(widget.NewLabel(tr("inbox.candidates.none")))
		}
		for _, c := range it.Candidates {
			name := v.names[c.Patient]
			if name == "" {
				continue
			}
			id, pid := it.ID, c.Patient
			b := widget.NewButtonWithIcon(tr("inbox.attach", map[string]any{"Patient": name}), theme.MailAttachmentIcon(),
				func() { v.confirmAttach(id, pid, name) })
			b.Importance = widget.HighImportance
			v.attach[it.ID] = append(v.attach[it.ID], b)
			buttons = append(buttons, b)
		}
	}
	id := it.ID
	rej := widget.NewButtonWithIcon(tr("inbox.reject"), theme.DeleteIcon(), func() { v.confirmReject(id) })
	v.reject[it.ID] = rej
	buttons = append(buttons, rej)
	box.Add(container.NewHBox(buttons...))
	return box
}

// confirmAttach asks before filing a report into a patient's record.
func (v *inboxView) confirmAttach(id app.InboxID, patient app.PatientID, name string) {
	v.u.svc.Touch()
	v.showConfirm(tr("inbox.attach.title"), tr("inbox.attach.confirm", map[string]any{"Patient": name}), tr("inbox.attach.ok"),
		func() {
			v.decide(id, func(ctx context.Context) error { return v.u.svc.AttachInboxItem(ctx, id, patient) })
		})
}

// confirmReject asks before rejecting an item.
func (v *inboxView) confirmReject(id app.InboxID) {
	v.u.svc.Touch()
	v.showConfirm(tr("inbox.reject.title"), tr("inbox.reject.confirm"), tr("inbox.reject"),
		func() { v.decide(id, func(ctx context.Context) error { return v.u.svc.RejectInboxItem(ctx, id) }) })
}

// showConfirm shows a confirmation dialog that runs ok when confirmed.
func (v *inboxView) showConfirm(title, text, confirm string, ok func()) {
	d := dialog.NewConfirm(title, text, func(yes bool) {
		v.confirm = nil
		if yes {
			ok()
		}
	}, v.u.w)
	d.SetConfirmText(confirm)
	d.SetDismissText(tr("dialog.cancel"))
	v.confirm = d
	d.Show()
}

// decide applies a decision off the UI goroutine, then reads the inbox
// again.
func (v *inboxView) decide(id app.InboxID, do func(ctx context.Context) error) {
	runTask(v.u, v.progress, tr("inbox.saving"), nil, func() bool { return v.disposed },
		func(ctx context.Context) func() {
			err := do(ctx)
			return func() {
				if err != nil && !errors.Is(err, context.Canceled) {
					v.msg.Importance = widget.DangerImportance
					setMessage(v.msg, message(err))
					return
				}
				v.load()
				if s := v.u.shell; s != nil {
					s.outboxChanged() // the status bar counts the inbox again
				}
			}
		})
}

// matchReasonText says why a report was not filed: the ANS code and its
// meaning.
func matchReasonText(r app.MatchReason) string {
	key, ok := matchReasonKeys[r]
	if !ok {
		key = "inbox.reason.other"
	}
	text := tr(key)
	if c := r.Code(); c != 0 {
		return tr("inbox.reason.code", map[string]any{"Code": c, "Text": text})
	}
	return text
}

// problemText names a problem met while reading a message.
func problemText(k app.ProblemKind) string {
	if key, ok := problemKeys[k]; ok {
		return tr(key)
	}
	return tr("inbox.problem.other")
}

// matchReasonKeys map each matching reason to the key of its meaning.
var matchReasonKeys = map[app.MatchReason]string{
	app.ReasonUnknownPatient:  "inbox.reason.unknown-patient",
	app.ReasonNotQualified:    "inbox.reason.not-qualified",
	app.ReasonNoINS:           "inbox.reason.no-ins",
	app.ReasonTraitsDiffer:    "inbox.reason.traits-differ",
	app.ReasonXDMDisagrees:    "inbox.reason.xdm-disagrees",
	app.ReasonDuplicateLocal:  "inbox.reason.duplicate-local",
	app.ReasonSeveralPatients: "inbox.reason.several-patients",
	app.ReasonInvalidINS:      "inbox.reason.invalid-ins",
	app.ReasonTestINS:         "inbox.reason.test-ins",
	app.ReasonIncomplete:      "inbox.reason.incomplete-traits",
	app.ReasonNoReport:        "inbox.reason.no-report",
	app.ReasonQuarantine:      "inbox.reason.quarantine",
	app.ReasonConflict:        "inbox.reason.conflict",
}

// problemKeys map each problem kind to the key of its meaning.
var problemKeys = map[app.ProblemKind]string{
	app.ProblemEncrypted:    "inbox.problem.encrypted",
	app.ProblemSigned:       "inbox.problem.signed",
	app.ProblemNoAttachment: "inbox.problem.no-attachment",
	app.ProblemPDFOnly:      "inbox.problem.pdf-only",
	app.ProblemNotCDA:       "inbox.problem.not-cda",
	app.ProblemCDA:          "inbox.problem.cda",
	app.ProblemSeveral:      "inbox.problem.several",
	app.ProblemArchive:      "inbox.problem.archive",
	app.ProblemMIME:         "inbox.problem.mime",
	app.ProblemTooLarge:     "inbox.problem.too-large",
}

// firstNonEmpty returns the first non-empty string.
func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
