package ui

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/carnetdesk/carnet/app"
)

// Identity vigilance in the manual queue: a report is attached only after
// it was read, only after its identity traits were compared with the
// patient's, and an attach can be undone for 7 days.

// itemByID returns the item of the inbox shown.
func (v *inboxView) itemByID(id app.InboxID) (app.InboxItem, bool) {
	for _, it := range v.items {
		if it.ID == id {
			return it, true
		}
	}
	return app.InboxItem{}, false
}

// enableAttach enables the attach buttons of an item whose report was
// just read.
func (v *inboxView) enableAttach(id app.InboxID) {
	for _, b := range v.attach[id] {
		b.Enable()
	}
}

// traitRow is one line of the comparison: the trait, the document's value,
// the patient's, and whether they differ.
func traitRow(label, doc, local string) []fyne.CanvasObject {
	same := strings.EqualFold(strings.TrimSpace(doc), strings.TrimSpace(local))
	mark := widget.NewLabel("=")
	if !same {
		mark.SetText("≠")
		mark.Importance = widget.DangerImportance
	}
	return []fyne.CanvasObject{
		widget.NewLabelWithStyle(label, fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		widget.NewLabel(orDash(doc)), mark, widget.NewLabel(orDash(local)),
	}
}

// confirmTraits shows, before an attach, the identity traits the document
// carries beside the chosen patient's; "Rattacher" is enabled once the
// person ticked that she compared them.
func (v *inboxView) confirmTraits(id app.InboxID, patient app.PatientID, name string) {
	it, ok := v.itemByID(id)
	if !ok || it.Report == nil {
		return
	}
	svc := v.u.svc
	v.run(func(ctx context.Context) func() {
		p, err := svc.Patient(ctx, patient)
		return func() {
			if err != nil {
				v.setMessage(widget.DangerImportance, message(err))
				return
			}
			v.showTraits(it, p, name)
		}
	})
}

// showTraits builds the comparison dialog.
func (v *inboxView) showTraits(it app.InboxItem, p app.Patient, name string) {
	v.u.svc.Touch()
	id, patient := it.ID, p.ID
	doc := it.Report.Identity
	localINS := ""
	if p.Status == app.IdentityQualified {
		localINS = formatINS(p.INS.Matricule)
	}
	docSex, localSex := "", sexLabel(p.Sex)
	if doc.Sex != "" {
		docSex = sexLabel(doc.Sex)
	}
	cells := []fyne.CanvasObject{widget.NewLabel(""),
		widget.NewLabelWithStyle(tr("vigilance.traits.document"), fyne.TextAlignLeading, fyne.TextStyle{Italic: true}),
		widget.NewLabel(""),
		widget.NewLabelWithStyle(tr("vigilance.traits.patient"), fyne.TextAlignLeading, fyne.TextStyle{Italic: true})}
	cells = append(cells, traitRow(tr("vigilance.traits.birthname"), doc.BirthName, p.BirthName)...)
	cells = append(cells, traitRow(tr("vigilance.traits.given"), doc.GivenNames, p.BirthGivenNames)...)
	cells = append(cells, traitRow(tr("vigilance.traits.birthdate"), formatBirthDate(doc.BirthDate), formatBirthDate(p.BirthDate))...)
	cells = append(cells, traitRow(tr("vigilance.traits.sex"), docSex, localSex)...)
	cells = append(cells, traitRow("INS", formatINS(strings.TrimSpace(doc.INS.Matricule)), localINS)...)
	grid := container.NewGridWithColumns(4, cells...)
	var d dialog.Dialog
	ok := widget.NewButtonWithIcon(tr("inbox.attach.ok"), theme.MailAttachmentIcon(), func() {
		d.Hide()
		v.confirm = nil
		v.decide(id, func(ctx context.Context) error { return v.u.svc.AttachInboxItem(ctx, id, patient) })
	})
	ok.Importance = widget.HighImportance
	ok.Disable()
	check := widget.NewCheck(tr("vigilance.traits.checked"), func(on bool) {
		if on {
			ok.Enable()
		} else {
			ok.Disable()
		}
	})
	cancel := widget.NewButton(tr("dialog.cancel"), func() {
		d.Hide()
		v.confirm = nil
	})
	content := container.NewVBox(paragraph(tr("inbox.attach.confirm", map[string]any{"Patient": name})), grid, check,
		container.NewHBox(layout.NewSpacer(), cancel, ok))
	d = dialog.NewCustomWithoutButtons(tr("inbox.attach.title"), content, v.u.w)
	d.Resize(fyne.NewSize(760, 0))
	v.confirm = d
	d.Show()
}

// undoButton returns the "undo the attach" button of an attached item,
// while it may be undone; nil otherwise.
func (v *inboxView) undoButton(it app.InboxItem) *widget.Button {
	if !v.u.svc.CanUndoAttach(it) {
		return nil
	}
	id := it.ID
	return widget.NewButtonWithIcon(tr("vigilance.undo"), theme.ContentUndoIcon(), func() { v.confirmUndo(id) })
}

// confirmUndo asks why the attach is undone; the button is enabled once
// the reason is long enough.
func (v *inboxView) confirmUndo(id app.InboxID) {
	v.u.svc.Touch()
	reason := newEntry(v.u, tr("vigilance.undo.placeholder"))
	reason.MultiLine = true
	reason.Wrapping = fyne.TextWrapWord
	reason.SetMinRowsVisible(3)
	var d dialog.Dialog
	ok := widget.NewButtonWithIcon(tr("vigilance.undo"), theme.ContentUndoIcon(), func() {
		why := strings.TrimSpace(reason.Text)
		d.Hide()
		v.confirm = nil
		v.decide(id, func(ctx context.Context) error { return v.u.svc.UndoAttach(ctx, id, why) })
	})
	ok.Importance = widget.DangerImportance
	ok.Disable()
	reason.OnChanged = func(s string) {
		if utf8.RuneCountInString(strings.TrimSpace(s)) >= app.MinUndoReason {
			ok.Enable()
		} else {
			ok.Disable()
		}
	}
	cancel := widget.NewButton(tr("dialog.cancel"), func() {
		d.Hide()
		v.confirm = nil
	})
	content := container.NewVBox(paragraph(tr("vigilance.undo.explain")), reason, container.NewHBox(layout.NewSpacer(), cancel, ok))
	d = dialog.NewCustomWithoutButtons(tr("vigilance.undo.title"), content, v.u.w)
	d.Resize(fyne.NewSize(560, 0))
	v.confirm = d
	d.Show()
	v.u.w.Canvas().Focus(reason)
}

// loadMessage reads the message the item came from (sender, subject,
// date, text, parts) off the UI goroutine and shows it above the report:
// the identity clues a person needs before choosing the patient.
func (r *inboxReview) loadMessage() {
	ctx, svc, id := r.ctx, r.v.u.svc, r.it.ID
	r.run(func(context.Context) func() {
		m, err := svc.InboxMessage(ctx, id)
		return func() {
			if err != nil {
				if !errors.Is(err, app.ErrNotConfigured) && !errors.Is(err, context.Canceled) {
					r.mail.Objects = []fyne.CanvasObject{paragraph(message(err))}
					r.mail.Refresh()
				}
				return
			}
			r.showMessage(m)
		}
	})
}

// showMessage fills the message block: who, what, when, the text written,
// and one button per part that shows it in place of the report.
func (r *inboxReview) showMessage(m app.MailView) {
	head := widget.NewLabelWithStyle(tr("vigilance.subject", map[string]any{"Subject": orDash(m.Subject)}), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	head.Wrapping = fyne.TextWrapWord
	objs := []fyne.CanvasObject{head,
		widget.NewLabel(tr("inbox.item.from", map[string]any{"From": orDash(m.From), "Date": formatDateTime(m.Date)}))}
	if t := strings.TrimSpace(m.Text); t != "" {
		text := paragraph(t)
		scroll := container.NewVScroll(text)
		scroll.SetMinSize(fyne.NewSize(0, 90))
		objs = append(objs, scroll)
	}
	if len(m.Parts) > 0 {
		buttons := []fyne.CanvasObject{widget.NewButtonWithIcon(tr("vigilance.part.report"), theme.DocumentIcon(), func() { r.show(r.report) })}
		for i, p := range m.Parts {
			part := p
			label := tr("vigilance.part", map[string]any{"N": i + 1, "Type": part.MediaType, "Size": humanSize(len(part.Content))})
			buttons = append(buttons, widget.NewButton(label, func() { r.showPart(part) }))
		}
		objs = append(objs, container.NewGridWrap(fyne.NewSize(230, 36), buttons...))
	}
	objs = append(objs, widget.NewSeparator())
	r.mail.Objects = objs
	r.mail.Refresh()
	relayoutCanvasOf(r.mail)
}

// showPart reads one part of the message with the document reader and
// shows it in place of the report (a CDA rendered, PDF pages, an image,
// a text).
func (r *inboxReview) showPart(p app.MailPart) {
	svc := r.v.u.svc
	r.run(func(context.Context) func() {
		cd, err := svc.ReadMailPart(p)
		var c viewerContent
		if err == nil {
			c = contentOf(cd)
		}
		return func() {
			if err != nil {
				r.showBody(paragraph(message(err)))
				return
			}
			r.show(c)
		}
	})
}

// humanSize says a size in Ko or Mo.
func humanSize(n int) string {
	switch {
	case n >= 1<<20:
		return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " Mo"
	case n >= 1<<10:
		return strconv.Itoa(n>>10) + " Ko"
	}
	return strconv.Itoa(n) + " o"
}
