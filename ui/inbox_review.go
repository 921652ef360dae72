package ui

import (
	"context"
	"errors"
	"strings"
	"unicode/utf8"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/carnetdesk/carnet/app"
)

// reviewSearchLimit bounds the patients the review's search proposes.
const reviewSearchLimit = 20

// inboxReview is the dialog where a person reads a pending report (a
// PDF-only mail, a report whose patient Carnet could not tell) and chooses
// the patient it belongs to: the document on the left, a patient search
// on the right. Choosing a patient asks for confirmation (the inbox's
// confirmAttach); the service still refuses a report whose INS is another
// patient's.
type inboxReview struct {
	taskFrame // disposed, and the background work (tasks.go)
	v         *inboxView
	it        app.InboxItem

	dialog  dialog.Dialog
	body    *fyne.Container
	pdf     *pdfView
	search  *entry
	results *fyne.Container
	msg     *widget.Label
	gen     int             // search generation: a late answer to an older query is dropped
	loaded  bool            // the report was read: the patients found may be chosen
	mail    *fyne.Container // the message: sender, subject, date, text, parts (inbox_vigilance.go)
	report  viewerContent   // the report as read, to show again after a part

	ctx    context.Context // cancelled by dispose
	cancel context.CancelFunc
}

// review opens the review dialog of a pending item.
func (v *inboxView) review(it app.InboxItem) {
	v.u.svc.Touch()
	ctx, cancel := context.WithCancel(v.u.ctx)
	r := &inboxReview{taskFrame: frame(v.u), v: v, it: it, ctx: ctx, cancel: cancel}
	r.body = container.NewStack(widget.NewLabel(tr("inbox.review.reading")))
	r.search = newEntry(v.u, tr("inbox.review.search"))
	r.search.OnChanged = func(string) { r.find() }
	r.results = container.NewVBox()
	r.msg = newMessage(widget.DangerImportance)
	picker := container.NewBorder(
		container.NewVBox(widget.NewLabelWithStyle(tr("inbox.review.choose"), fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
			paragraph(tr("inbox.review.hint")), r.search),
		r.msg, nil, nil, container.NewVScroll(r.results))
	r.mail = container.NewVBox()
	split := container.NewHSplit(container.NewBorder(r.mail, nil, nil, nil, r.body), picker)
	split.Offset = 0.62
	r.dialog = dialog.NewCustom(tr("inbox.review.title"), tr("dialog.close"), split, v.u.w)
	r.dialog.SetOnClosed(r.dispose)
	r.dialog.Resize(fyne.NewSize(1000, 680))
	v.reviewing = r
	r.dialog.Show()
	v.u.w.Canvas().Focus(r.search)
	r.load()
	r.loadMessage()
}

// load reads the report off the UI goroutine and shows it.
func (r *inboxReview) load() {
	ctx, svc, id := r.ctx, r.v.u.svc, r.it.ID
	r.run(func(context.Context) func() {
		cd, err := svc.ReadInboxItem(ctx, id)
		var c viewerContent
		if err == nil {
			c = contentOf(cd)
		}
		return func() {
			if err != nil {
				if !errors.Is(err, context.Canceled) {
					r.showBody(paragraph(message(err)))
				}
				return
			}
			r.report = c
			r.show(c)
			// Read: the report may now be attached.
			r.loaded = true
			r.v.enableAttach(id)
			for _, o := range r.results.Objects {
				if b, ok := o.(*widget.Button); ok && b.OnTapped != nil {
					b.Enable()
				}
			}
		}
	})
}

// show shows the document read: its narrative, its PDF pages, or why it
// cannot be shown here.
func (r *inboxReview) show(c viewerContent) {
	if r.pdf != nil {
		r.pdf.dispose()
		r.pdf = nil
	}
	a := c.doc.Attachment
	switch {
	case a == nil && len(c.parts) == 0:
		r.showBody(paragraph(tr("viewer.empty")))
	case a == nil:
		r.showBody(container.NewVScroll(container.NewPadded(renderFlow(c.parts))))
	case c.pdf != nil:
		r.pdf = newPDFView(r.v.u, c.pdf, a.Data)
		r.showBody(r.pdf.box)
		r.pdf.start()
	case c.image != nil:
		img := canvas.NewImageFromImage(c.image)
		img.FillMode = canvas.ImageFillContain
		img.SetMinSize(fyne.NewSize(400, 500))
		r.showBody(container.NewVScroll(img))
	case strings.HasPrefix(strings.ToLower(strings.TrimSpace(a.MediaType)), "text/plain") && utf8.Valid(a.Data):
		// A plain-text body (N1 text/plain): shown as is, to be read.
		r.showBody(container.NewVScroll(container.NewPadded(paragraph(string(a.Data)))))
	case c.why != "":
		r.showBody(paragraph(c.why))
	default:
		r.showBody(paragraph(tr("viewer.external.type", map[string]any{"Type": a.MediaType})))
	}
}

func (r *inboxReview) showBody(o fyne.CanvasObject) {
	r.body.Objects = []fyne.CanvasObject{o}
	r.body.Refresh()
}

// find searches the directory as the person types, off the UI goroutine.
func (r *inboxReview) find() {
	q := strings.TrimSpace(r.search.Text)
	r.gen++
	gen := r.gen
	if q == "" {
		r.results.RemoveAll()
		setMessage(r.msg, "")
		return
	}
	ctx, svc := r.ctx, r.v.u.svc
	r.run(func(context.Context) func() {
		ps, err := svc.SearchPatients(ctx, q, reviewSearchLimit)
		return func() {
			if gen != r.gen {
				return
			}
			r.showResults(ps, err)
		}
	})
}

// showResults shows one "attach to" button per patient found.
func (r *inboxReview) showResults(ps []app.Patient, err error) {
	r.results.RemoveAll()
	switch {
	case err != nil:
		setMessage(r.msg, message(err))
		return
	case len(ps) == 0:
		setMessage(r.msg, tr("inbox.review.nobody"))
		return
	}
	setMessage(r.msg, "")
	for _, p := range ps {
		name, pid, id := patientLabel(p), p.ID, r.it.ID
		if p.Status != app.IdentityQualified {
			// Found, so that the person sees why it is not offered: only a
			// qualified identity receives a document.
			b := widget.NewButtonWithIcon(name+" — "+string(p.Status)+" : "+tr("vigilance.notattachable"), theme.MailAttachmentIcon(), nil)
			b.Alignment = widget.ButtonAlignLeading
			b.Disable()
			r.results.Add(b)
			continue
		}
		b := widget.NewButtonWithIcon(tr("inbox.attach", map[string]any{"Patient": name}), theme.MailAttachmentIcon(), func() {
			r.dialog.Hide() // dispose runs; the confirmation follows
			r.v.confirmAttach(id, pid, name)
		})
		b.Alignment = widget.ButtonAlignLeading
		if !r.loaded {
			b.Disable() // enabled once the report is shown
		}
		r.results.Add(b)
	}
	r.results.Refresh()
}

// dispose cancels the reading and the search and drops the document.
func (r *inboxReview) dispose() {
	if !r.end() {
		return
	}
	r.cancel()
	if r.pdf != nil {
		r.pdf.dispose()
	}
	r.body.Objects = nil
	r.search.SetText("")
	if r.v.reviewing == r {
		r.v.reviewing = nil
	}
}
