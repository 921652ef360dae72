package ui

import (
	"context"
	"sort"
	"strconv"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/carnetdesk/carnet/app"
)

// outboxView is the "Envois" page of the shell: every document or change
// written in Carnet and not yet acknowledged by the central service, with
// its patient, title, date and state (waiting, being sent, retry n with the
// next attempt, conflict, refused with the reason). An item in conflict
// shows both versions, the draft's and the server's, side by side, and the
// three decisions: keep both (a new document), replace after review, and
// discard mine (after a confirmation). A conflict is never resolved
// automatically (Service.Resolve).
type outboxView struct {
	listPage
	onBack func()

	items   []app.OutboxItem
	names   map[app.PatientID]string
	sent    []app.SentItem // the history (outbox_sent.go)
	actions map[app.OutboxID]*conflictActions
}

// conflictActions are the buttons of an item in conflict.
type conflictActions struct {
	keep, replace, discard, record *widget.Button
}

func newOutboxView(u *UI, onBack func()) *outboxView {
	return &outboxView{listPage: listPage{taskFrame: frame(u)}, onBack: onBack}
}

// buildUI returns the page; load reads the outbox.
func (v *outboxView) buildUI() fyne.CanvasObject {
	return v.build(listTexts{back: tr("outbox.back"), reload: tr("outbox.reload"), title: tr("outbox.title"), intro: tr("outbox.intro")},
		v.onBack, v.load)
}

// dispose cancels the reading and drops the items.
func (v *outboxView) dispose() {
	v.listPage.dispose()
	v.items, v.names, v.actions = nil, nil, nil
}

// load reads the outbox and the names of its patients off the UI goroutine.
func (v *outboxView) load() {
	svc := v.u.svc
	v.read(tr("outbox.loading"), func(ctx context.Context) func() {
		items, names, err := readOutbox(ctx, svc)
		sent, sentNames, serr := readSent(ctx, svc)
		return func() {
			v.sent = nil
			if serr == nil {
				v.sent = sent
			}
			v.show(items, names, err)
			if serr == nil && err == nil {
				v.showSent(sentUI(sent, sentNames))
			}
		}
	})
}

// readOutbox returns the items not acknowledged, oldest first, and the
// display names of their patients.
func readOutbox(ctx context.Context, svc *app.Service) ([]app.OutboxItem, map[app.PatientID]string, error) {
	all, err := svc.Outbox(ctx)
	if err != nil {
		return nil, nil, err
	}
	var items []app.OutboxItem
	var ids []app.PatientID
	for _, it := range all {
		if it.State == app.OutboxAcked {
			continue
		}
		items = append(items, it)
		ids = append(ids, it.Patient)
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].CreatedAt.Before(items[j].CreatedAt) })
	return items, patientNames(ctx, svc, ids, app.Patient.DisplayName, tr("outbox.patient.unknown")), nil
}

// show shows the items read, or why they could not be.
func (v *outboxView) show(items []app.OutboxItem, names map[app.PatientID]string, err error) {
	v.items, v.names = items, names
	v.actions = map[app.OutboxID]*conflictActions{}
	switch {
	case err != nil:
		v.setMessage(widget.DangerImportance, message(err))
	case len(items) == 0:
		v.setMessage(widget.SuccessImportance, tr("outbox.empty"))
	default:
		setMessage(v.msg, "")
	}
	var blocks []fyne.CanvasObject
	for i, it := range items {
		if i > 0 {
			blocks = append(blocks, widget.NewSeparator())
		}
		blocks = append(blocks, v.itemUI(it))
	}
	v.setItems(blocks)
}

// itemUI returns the block of an item: what and whose, its state, and for
// a conflict the two versions and the decisions.
func (v *outboxView) itemUI(it app.OutboxItem) fyne.CanvasObject {
	title := it.Meta.Title
	if title == "" {
		title = tr("viewer.untitled")
	}
	head := widget.NewLabelWithStyle(title, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	head.Truncation = fyne.TextTruncateEllipsis
	who := widget.NewLabel(tr("outbox.item.who", map[string]any{
		"Patient": v.names[it.Patient], "Kind": kindLabel(it.Kind), "Date": formatDateTime(it.CreatedAt)}))
	who.Truncation = fyne.TextTruncateEllipsis
	state := widget.NewLabel(outboxStateText(it))
	state.Importance = noteStateImportance(it.State)
	state.Wrapping = fyne.TextWrapWord
	box := container.NewVBox(head, who, state)
	if it.State == app.OutboxConflict {
		box.Add(v.conflictUI(it))
	}
	return box
}

// conflictUI shows the draft and the server's version side by side, with
// the decisions.
func (v *outboxView) conflictUI(it app.OutboxItem) fyne.CanvasObject {
	mine := versionCard(tr("outbox.conflict.mine"), it.Meta)
	var server fyne.CanvasObject
	if it.Server != nil {
		m := it.Server.Meta
		if it.Server.LastUpdated.After(m.Date) {
			m.Date = it.Server.LastUpdated
		}
		server = versionCard(tr("outbox.conflict.server"), m)
	} else {
		server = widget.NewCard(tr("outbox.conflict.server"), "", paragraph(tr("outbox.conflict.server.unknown")))
	}
	a := &conflictActions{}
	id, patient := it.ID, it.Patient
	a.keep = widget.NewButtonWithIcon(tr("outbox.keep"), theme.ContentCopyIcon(), func() { v.resolve(id, app.KeepBoth) })
	a.replace = widget.NewButtonWithIcon(tr("outbox.replace"), theme.DocumentCreateIcon(), func() { v.resolve(id, app.ReplaceAfterReview) })
	a.discard = widget.NewButtonWithIcon(tr("outbox.discard"), theme.DeleteIcon(), func() { v.confirmDiscard(id) })
	a.discard.Importance = widget.DangerImportance
	a.record = widget.NewButtonWithIcon(tr("outbox.record"), theme.FolderOpenIcon(), func() { v.openRecord(patient) })
	a.record.Importance = widget.LowImportance
	v.actions[id] = a
	help := paragraph(tr("outbox.conflict.help"))
	return container.NewVBox(container.NewGridWithColumns(2, mine, server), help,
		container.NewHBox(a.keep, a.replace, a.discard, a.record))
}

// versionCard describes one version of a document in conflict: title,
// date, author and organisation, version.
func versionCard(title string, m app.DocumentMeta) fyne.CanvasObject {
	lines := []string{
		tr("outbox.version.title", map[string]any{"Title": orDash(m.Title)}),
		tr("outbox.version.date", map[string]any{"Date": orDash(formatDateTime(m.Date))}),
		tr("outbox.version.author", map[string]any{"Author": orDash(joinNonEmpty(m.Author, m.Organisation))}),
	}
	if m.Version > 0 {
		lines = append(lines, tr("outbox.version.number", map[string]any{"N": strconv.Itoa(m.Version)}))
	}
	box := container.NewVBox()
	for _, l := range lines {
		lb := widget.NewLabel(l)
		lb.Wrapping = fyne.TextWrapWord
		box.Add(lb)
	}
	return widget.NewCard("", title, box)
}

// orDash returns s, or a dash when empty.
func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// joinNonEmpty joins the non-empty strings with " · ".
func joinNonEmpty(ss ...string) string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return strings.Join(out, " · ")
}

// confirmDiscard asks before dropping the draft for good.
func (v *outboxView) confirmDiscard(id app.OutboxID) {
	v.showConfirm(tr("outbox.discard.title"), tr("outbox.discard.confirm"), tr("outbox.discard"), widget.DangerImportance,
		func() { v.resolve(id, app.DiscardMine) })
}

// resolve applies a decision off the UI goroutine, then reads the outbox
// again. Only DiscardMine reaches here confirmed, after its dialog.
func (v *outboxView) resolve(id app.OutboxID, r app.Resolution) {
	v.setBusy(true)
	svc := v.u.svc
	v.decide(tr("outbox.resolving"), func() { v.setBusy(false) },
		func(ctx context.Context) error {
			return svc.Resolve(ctx, id, r, r == app.DiscardMine)
		},
		func() {
			v.load()
			if s := v.u.shell; s != nil {
				s.outboxChanged()
			}
		})
}

// setBusy disables the decisions while one is applied.
func (v *outboxView) setBusy(busy bool) {
	for _, a := range v.actions {
		for _, b := range []*widget.Button{a.keep, a.replace, a.discard} {
			if busy {
				b.Disable()
			} else {
				b.Enable()
			}
		}
	}
}

// openRecord opens the record of the item's patient, where both versions
// can be read.
func (v *outboxView) openRecord(id app.PatientID) {
	s := v.u.shell
	if s == nil {
		return
	}
	p, err := v.u.svc.Patient(v.u.ctx, id)
	if err != nil {
		v.setMessage(widget.DangerImportance, message(err))
		return
	}
	s.openRecord(p)
}

// kindLabel names the kind of an outbox item.
func kindLabel(k string) string {
	switch k {
	case app.OutboxReplace:
		return tr("outbox.kind.replace")
	case app.OutboxMetadata:
		return tr("outbox.kind.metadata")
	}
	return tr("outbox.kind.provide")
}

// outboxStateText says where an item stands, in words; a refusal with its
// reason.
func outboxStateText(it app.OutboxItem) string {
	switch it.State {
	case app.OutboxSending:
		return tr("outbox.state.sending")
	case app.OutboxUnconfirmed:
		// Sent, the service's confirmation not read: never "waiting", and
		// never sent twice (the next cycle checks it is there).
		return tr("outbox.state.unconfirmed")
	case app.OutboxRetry:
		s := tr("outbox.state.retry", map[string]any{"N": max(it.Attempts, 1)})
		if !it.NextAttempt.IsZero() {
			s += " " + tr("outbox.state.next", map[string]any{"Date": formatDate(it.NextAttempt), "Time": it.NextAttempt.In(displayZone).Format("15:04")})
		}
		if it.LastError != "" {
			s += " " + tr("outbox.state.reason", map[string]any{"Reason": reasonText(it.LastError)})
		}
		return s
	case app.OutboxConflict:
		return tr("outbox.state.conflict")
	case app.OutboxRejected:
		return tr("outbox.state.rejected", map[string]any{"Reason": reasonText(it.LastError)})
	}
	return tr("outbox.state.pending")
}

// reasonText turns the reason the engine stored with an item (an error's
// text, without health data) into a sentence, as message does for errors:
// the kinds and denial reasons it names are recognised; anything else is
// "refused by the central service".
func reasonText(reason string) string {
	r := strings.ToLower(reason)
	var keys []string
	for d, key := range denialKeys {
		if strings.Contains(r, "access denied: "+string(d)) {
			keys = append(keys, key)
		}
	}
	if len(keys) == 0 {
		for kind, key := range errorKeys {
			if strings.Contains(r, kind.Error()) {
				keys = append(keys, key)
			}
		}
	}
	if len(keys) == 0 {
		return tr("outbox.reason.other")
	}
	sort.Strings(keys) // several matches: the same one every time
	return tr(keys[0])
}
