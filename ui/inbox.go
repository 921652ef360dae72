package ui

import (
	"context"
	"strconv"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
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
	listPage
	onBack func()

	items     []app.InboxItem
	names     map[app.PatientID]string
	attach    map[app.InboxID][]*widget.Button // per item, one per candidate
	reject    map[app.InboxID]*widget.Button
	reviewBtn map[app.InboxID]*widget.Button // "read and choose the patient", per pending report

	reviewing *inboxReview // the review dialog, while shown (inbox_review.go)
}

func newInboxView(u *UI, onBack func()) *inboxView {
	return &inboxView{listPage: listPage{taskFrame: frame(u)}, onBack: onBack}
}

// buildUI returns the page; load reads the inbox.
func (v *inboxView) buildUI() fyne.CanvasObject {
	return v.build(listTexts{back: tr("inbox.back"), reload: tr("inbox.reload"), title: tr("inbox.title"), intro: tr("inbox.intro")},
		v.onBack, v.load)
}

// dispose cancels the reading and drops the items.
func (v *inboxView) dispose() {
	if r := v.reviewing; r != nil {
		r.dialog.Hide() // its OnClosed disposes of it and clears v.reviewing
		r.dispose()
	}
	v.listPage.dispose()
	v.items, v.names, v.attach, v.reject, v.reviewBtn = nil, nil, nil, nil, nil
}

// load reads the inbox and the names of the patients it mentions off the
// UI goroutine.
func (v *inboxView) load() {
	svc := v.u.svc
	v.read(tr("inbox.loading"), func(ctx context.Context) func() {
		items, err := svc.Inbox(ctx)
		var ids []app.PatientID
		for _, it := range items {
			ids = append(ids, it.Patient)
			for _, c := range it.Candidates {
				ids = append(ids, c.Patient)
			}
		}
		names := patientNames(ctx, svc, ids, patientLabel, "")
		return func() { v.show(items, names, err) }
	})
}

// show shows the items in three groups: to file, quarantined, decided.
func (v *inboxView) show(items []app.InboxItem, names map[app.PatientID]string, err error) {
	v.items, v.names = items, names
	v.attach, v.reject = map[app.InboxID][]*widget.Button{}, map[app.InboxID]*widget.Button{}
	if err != nil {
		v.setItems(nil)
		v.setMessage(widget.DangerImportance, message(err))
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
	var blocks []fyne.CanvasObject
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
		title := widget.NewLabelWithStyle(g.title+" ("+strconv.Itoa(len(box))+")", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
		blocks = append(blocks, title)
		for _, o := range box {
			blocks = append(blocks, o, widget.NewSeparator())
		}
	}
	if len(blocks) == 0 {
		v.setMessage(widget.SuccessImportance, tr("inbox.empty"))
	} else {
		setMessage(v.msg, "")
	}
	v.setItems(blocks)
}

// itemUI returns the block of an item: what, from whom, why, and the
// decisions.
func (v *inboxView) itemUI(it app.InboxItem) fyne.CanvasObject {
	// The mail's subject first (the sender's words, an identity clue),
	// then the document's title: never a file name.
	head := widget.NewLabelWithStyle(tr("vigilance.subject", map[string]any{"Subject": orDash(it.Subject)}), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	head.Truncation = fyne.TextTruncateEllipsis
	from := widget.NewLabel(tr("inbox.item.from", map[string]any{"From": orDash(it.From), "Date": formatDateTime(it.Received)}))
	from.Truncation = fyne.TextTruncateEllipsis
	box := container.NewVBox(head, from)
	if it.Report != nil && it.Report.Meta.Title != "" && it.Report.Meta.Title != it.Report.FileName {
		doc := widget.NewLabel(tr("vigilance.document", map[string]any{"Title": it.Report.Meta.Title}))
		doc.Truncation = fyne.TextTruncateEllipsis
		box.Add(doc)
	}
	switch it.State {
	case app.InboxAttached:
		l := widget.NewLabel(tr("inbox.item.attached", map[string]any{"Patient": orDash(v.names[it.Patient]), "Date": formatDateTime(it.DecidedAt)}))
		l.Importance = widget.SuccessImportance
		box.Add(l)
		if b := v.undoButton(it); b != nil {
			box.Add(container.NewHBox(b))
		}
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
		switch {
		case len(it.Candidates) > 0:
		case it.Reason == app.ReasonPDFOnly:
			box.Add(paragraph(tr("inbox.candidates.pdf"))) // nothing was compared
		default:
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
			if !v.u.svc.InboxItemOpened(id) {
				b.Disable() // enabled once the report was read (review)
			}
			v.attach[it.ID] = append(v.attach[it.ID], b)
			buttons = append(buttons, b)
		}
		if len(v.attach[it.ID]) > 0 && !v.u.svc.InboxItemOpened(it.ID) {
			box.Add(paragraph(tr("vigilance.open.first")))
		}
	}
	if it.State == app.InboxPending && it.Report != nil {
		item := it
		read := widget.NewButtonWithIcon(tr("inbox.review"), theme.SearchIcon(), func() { v.review(item) })
		if v.reviewBtn == nil {
			v.reviewBtn = map[app.InboxID]*widget.Button{}
		}
		v.reviewBtn[it.ID] = read
		buttons = append(buttons, read)
	}
	id := it.ID
	rej := widget.NewButtonWithIcon(tr("inbox.reject"), theme.DeleteIcon(), func() { v.confirmReject(id) })
	v.reject[it.ID] = rej
	buttons = append(buttons, rej)
	box.Add(container.NewHBox(buttons...))
	return box
}

// confirmAttach asks before filing a report into a patient's record: the
// identity traits of the document beside the patient's, to be confirmed
// (inbox_vigilance.go).
func (v *inboxView) confirmAttach(id app.InboxID, patient app.PatientID, name string) {
	v.confirmTraits(id, patient, name)
}

// confirmReject asks before rejecting an item.
func (v *inboxView) confirmReject(id app.InboxID) {
	v.showConfirm(tr("inbox.reject.title"), tr("inbox.reject.confirm"), tr("inbox.reject"), widget.HighImportance,
		func() { v.decide(id, func(ctx context.Context) error { return v.u.svc.RejectInboxItem(ctx, id) }) })
}

// decide applies a decision off the UI goroutine, then reads the inbox
// again.
func (v *inboxView) decide(id app.InboxID, do func(ctx context.Context) error) {
	v.listPage.decide(tr("inbox.saving"), nil, do, func() {
		v.load()
		if s := v.u.shell; s != nil {
			s.outboxChanged() // the status bar counts the inbox again
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
	app.ReasonPDFOnly:         "inbox.reason.pdf-only",
	app.ReasonQuarantine:      "inbox.reason.quarantine",
	app.ReasonConflict:        "inbox.reason.conflict",
	// Identity vigilance (issue 14).
	app.ReasonRepeatedIdentity: "vigilance.reason.repeated-identity",
	app.ReasonPartsDisagree:    "vigilance.reason.parts-disagree",
	app.ReasonMessageIDReused:  "vigilance.reason.message-id-reused",
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
	app.ProblemUnlisted:     "vigilance.problem.unlisted",
	app.ProblemReusedID:     "vigilance.problem.reused-id",
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
