package ui

import (
	"bytes"
	"context"
	"errors"
	"image"
	_ "image/jpeg" // JPEG attachments
	"net/url"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/carnetdesk/carnet/app"
)

// Limits of what the viewer shows itself.
const (
	viewerMaxPixels    = 40 << 20 // an image above goes to the system viewer
	viewerMaxTextBytes = 4 << 20  // a longer plain text is cut
	viewerImageWidth   = 900      // images wider are shown scaled down
)

// attachmentKind says how the viewer shows an attachment.
type attachmentKind int

const (
	attachmentOther attachmentKind = iota // the system viewer only
	attachmentPDF
	attachmentImage // JPEG, PNG
	attachmentText
)

// kindOf classifies an attachment by the media type its bytes told.
func kindOf(a *app.Attachment) attachmentKind {
	mt, _, _ := strings.Cut(strings.ToLower(a.MediaType), ";")
	switch strings.TrimSpace(mt) {
	case "application/pdf":
		return attachmentPDF
	case "image/jpeg", "image/png":
		return attachmentImage
	case "text/plain":
		return attachmentText
	}
	return attachmentOther
}

// viewerView shows one document of a patient's record: a header (title,
// type, date, author, organisation, visibility, what the reader noticed)
// and the body — the narrative of a structured document as rich text with
// its tables, the pages of a PDF rendered in memory, an image, a plain
// text, or, for anything else, a button that opens a temporary copy in the
// system viewer after saying so. The document is read off the UI
// goroutine, with a progress bar and a cancel button.
type viewerView struct {
	taskFrame // u, disposed, and the background work (tasks.go)
	rec       app.PatientRecord
	acc       app.Access
	id        app.DocumentID
	// onBack, when set, goes back to where the viewer was opened from
	// (the back button; the host calls it on Esc). Nil hides the button.
	onBack func()

	progress   *taskProgress
	back       *widget.Button
	title      *widget.Label
	details    *widget.Label // type · date · author · organisation
	visibility *widget.Label
	warning    *widget.Label // what the reader noticed (test INS, media mismatch …)
	msg        *widget.Label // why the document cannot be shown
	retry      *widget.Button
	body       *fyne.Container
	root       *fyne.Container

	doc      app.ClinicalDocument
	flow     *fyne.Container // the rendered narrative
	pdf      *pdfView
	image    *canvas.Image
	text     *widget.Label
	external *widget.Button    // open in the system viewer
	att      *app.Attachment   // the attachment shown: the body, or an embedded object (viewer_media.go)
	docBody  fyne.CanvasObject // the narrative body, while an embedded object is shown
	opened   string            // path of the last copy opened in the system viewer
}

// newViewerView returns the viewer of document doc of rec, read with the
// access acc; buildUI starts reading it.
func newViewerView(u *UI, rec app.PatientRecord, acc app.Access, doc app.DocumentID) *viewerView {
	return &viewerView{taskFrame: frame(u), rec: rec, acc: acc, id: doc}
}

// buildUI returns the viewer and starts reading the document.
func (v *viewerView) buildUI() fyne.CanvasObject {
	v.progress = newTaskProgress()
	v.back = widget.NewButtonWithIcon(tr("viewer.back"), theme.NavigateBackIcon(), v.goBack)
	if v.onBack == nil {
		v.back.Hide()
	}
	v.title = heading("")
	v.title.Wrapping = fyne.TextWrapWord
	v.details = widget.NewLabel("")
	v.details.Wrapping = fyne.TextWrapWord
	v.visibility = newMessage(widget.HighImportance)
	v.warning = newMessage(widget.WarningImportance)
	v.msg = newMessage(widget.DangerImportance)
	v.retry = widget.NewButtonWithIcon(tr("viewer.retry"), theme.ViewRefreshIcon(), v.load)
	v.retry.Hide()
	v.body = container.NewStack()
	meta, _ := v.rec.Manifest.Document(v.id)
	v.showHeader(meta, nil)
	header := container.NewVBox(
		container.NewBorder(nil, nil, v.back, nil, v.title),
		v.details, v.visibility, v.warning, v.progress.box,
		container.NewBorder(nil, nil, nil, v.retry, v.msg), widget.NewSeparator())
	v.root = container.NewBorder(header, nil, nil, nil, v.body)
	v.load()
	return v.root
}

// dispose cancels the reading and drops the document.
func (v *viewerView) dispose() {
	if !v.end() {
		return
	}
	v.progress.dispose()
	if v.pdf != nil {
		v.pdf.dispose()
	}
	v.doc, v.pdf, v.flow, v.image, v.text, v.att, v.docBody = app.ClinicalDocument{}, nil, nil, nil, nil, nil, nil
	v.rec = app.PatientRecord{}
	v.body.RemoveAll()
	for _, l := range []*widget.Label{v.title, v.details, v.visibility, v.warning, v.msg} {
		l.SetText("")
	}
}

// goBack leaves the viewer.
func (v *viewerView) goBack() {
	if v.onBack != nil {
		v.u.svc.Touch()
		v.onBack()
	}
}

// viewerContent is what the reading prepared off the UI goroutine.
type viewerContent struct {
	doc   app.ClinicalDocument
	parts []flowPart  // structured body
	image image.Image // JPEG or PNG
	pdf   pdfRenderer // PDF, when it can be rendered
	why   string      // attachmentOther: why Carnet cannot show it
	err   error
}

// load reads the document off the UI goroutine, then shows it.
func (v *viewerView) load() {
	v.u.svc.Touch()
	setMessage(v.msg, "")
	v.retry.Hide()
	svc, pid, id, acc := v.u.svc, v.rec.Patient.ID, v.id, v.acc
	v.track(v.progress, tr("viewer.loading"), v.cancelled, func(ctx context.Context) func() {
		c := prepare(ctx, svc, pid, id, acc)
		return func() { v.show(c) }
	})
}

// prepare reads the document and does the heavy part of showing it: the
// narrative's segments, the image's decoding, finding a PDF renderer.
func prepare(ctx context.Context, svc *app.Service, pid app.PatientID, id app.DocumentID, acc app.Access) viewerContent {
	cd, err := svc.ReadDocument(ctx, pid, id, acc)
	if err != nil {
		return viewerContent{err: err}
	}
	return contentOf(cd)
}

// contentOf does the heavy part of showing a document read (off the UI
// goroutine): the narrative's segments, the image's decoding, finding a
// PDF renderer, or why it cannot be shown in Carnet.
func contentOf(cd app.ClinicalDocument) viewerContent {
	c := viewerContent{doc: cd}
	a := cd.Attachment
	switch {
	case a == nil:
		c.parts = buildFlow(cd.Sections)
	case kindOf(a) == attachmentPDF:
		if len(a.Data) > pdfMaxBytes {
			c.why = tr("viewer.external.large")
		} else if c.pdf = pdfRendererFor(); c.pdf == nil {
			c.why = tr("viewer.external.nopdf")
		}
	case kindOf(a) == attachmentImage:
		cfg, _, err := image.DecodeConfig(bytes.NewReader(a.Data))
		if err == nil && int64(cfg.Width)*int64(cfg.Height) <= viewerMaxPixels {
			c.image, _, err = image.Decode(bytes.NewReader(a.Data))
		}
		if c.image == nil || err != nil {
			c.image, c.why = nil, tr("viewer.external.image")
		}
	case kindOf(a) == attachmentOther:
		c.why = tr("viewer.external.type", map[string]any{"Type": a.MediaType})
	}
	return c
}

// cancelled runs when the user cancels the reading.
func (v *viewerView) cancelled() {
	setMessage(v.msg, tr("viewer.cancelled"))
	v.retry.Show()
}

// show shows a document read.
func (v *viewerView) show(c viewerContent) {
	if c.err != nil {
		if !errors.Is(c.err, context.Canceled) {
			setMessage(v.msg, message(c.err))
			v.retry.Show()
		}
		return
	}
	v.doc = c.doc
	v.showHeader(c.doc.Meta, &c.doc)
	a := c.doc.Attachment
	var body fyne.CanvasObject
	switch {
	case a == nil && len(c.parts) == 0:
		setMessage(v.msg, tr("viewer.empty"))
		return
	case a == nil:
		v.flow = renderFlow(c.parts)
		body = container.NewVScroll(container.NewPadded(v.flow))
		if bar := v.mediaBar(); bar != nil {
			body = container.NewBorder(bar, nil, nil, nil, body)
		}
		v.docBody = body
	default:
		body = v.attachmentBody(c)
	}
	v.body.Objects = []fyne.CanvasObject{body}
	v.body.Refresh()
	relayoutCanvasOf(v.root)
}

// attachmentBody shows an attachment (the document's body, or an object
// embedded in it): the pages of a PDF rendered in memory, an image, a
// plain text, or why Carnet does not show it and the system viewer button.
func (v *viewerView) attachmentBody(c viewerContent) fyne.CanvasObject {
	a := c.doc.Attachment
	v.att = a
	switch {
	case c.why != "":
		return v.externalBox(c.why)
	case c.pdf != nil:
		v.pdf = newPDFView(v.u, c.pdf, a.Data)
		v.pdf.start()
		return v.pdf.box
	case c.image != nil:
		v.image = canvas.NewImageFromImage(c.image)
		v.image.FillMode = canvas.ImageFillContain
		b := c.image.Bounds()
		w, h := float32(b.Dx()), float32(b.Dy())
		if w > viewerImageWidth {
			w, h = viewerImageWidth, h*viewerImageWidth/w
		}
		v.image.SetMinSize(fyne.NewSize(w, h))
		return container.NewScroll(container.NewCenter(v.image))
	}
	// plain text
	data := a.Data
	if len(data) > viewerMaxTextBytes {
		data = data[:viewerMaxTextBytes]
	}
	v.text = widget.NewLabelWithStyle(strings.ToValidUTF8(string(data), "\uFFFD"), fyne.TextAlignLeading, fyne.TextStyle{Monospace: true})
	v.text.Wrapping = fyne.TextWrapWord
	return container.NewVScroll(v.text)
}

// showHeader fills the header from the metadata and, once read, the
// document (nil before).
func (v *viewerView) showHeader(meta app.DocumentMeta, cd *app.ClinicalDocument) {
	title, typ := meta.Title, v.u.svc.DocumentTypeLabel(meta.TypeCode)
	var authors []string
	if meta.Author != "" {
		authors = []string{meta.Author}
	}
	if cd != nil {
		if cd.Title != "" {
			title = cd.Title
		}
		if cd.Type.Display != "" {
			typ = cd.Type.Display
		}
		if len(cd.Authors) > 0 {
			authors = cd.Authors
		}
	}
	if title == "" {
		title = tr("viewer.untitled")
	}
	v.title.SetText(title)
	var parts []string
	for _, p := range []string{typ, formatDate(meta.Date), strings.Join(authors, ", "), meta.Organisation} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	v.details.SetText(strings.Join(parts, " · "))
	setMessage(v.visibility, strings.Join(visibilityNotes(meta), " · "))
	if cd != nil {
		setMessage(v.warning, strings.Join(readerWarnings(cd), "\n"))
	}
}

// visibilityNotes names the visibility flags of a document, and says when
// it is not kept for offline reading.
func visibilityNotes(m app.DocumentMeta) []string {
	var out []string
	if m.Visibility.MaskedToProfessionals {
		out = append(out, tr("viewer.visibility.masked"))
	}
	if m.Visibility.HiddenFromPatient {
		out = append(out, tr("viewer.visibility.patient"))
	}
	if m.Visibility.HiddenFromLegalReps {
		out = append(out, tr("viewer.visibility.legal"))
	}
	if m.Superseded {
		out = append(out, tr("viewer.superseded"))
	}
	return out
}

// readerWarnings translates what the reader noticed, each once.
func readerWarnings(cd *app.ClinicalDocument) []string {
	var out []string
	for _, f := range cd.Flags {
		switch f {
		case app.ReadFlagTestINS:
			out = append(out, tr("viewer.flag.test-ins"))
		case app.ReadFlagBadINS:
			out = append(out, tr("viewer.flag.bad-ins"))
		case app.ReadFlagBadDate:
			out = append(out, tr("viewer.flag.bad-date"))
		case app.ReadFlagEncoding:
			out = append(out, tr("viewer.flag.encoding"))
		case app.ReadFlagMissing:
			out = append(out, tr("viewer.flag.missing"))
		case app.ReadFlagUnsupported:
			out = append(out, tr("viewer.flag.unsupported"))
		case app.ReadFlagMediaMismatch:
			declared, told := "", ""
			if cd.Attachment != nil {
				declared, told = cd.Attachment.DeclaredType, cd.Attachment.MediaType
			}
			out = append(out, tr("viewer.flag.media-mismatch", map[string]any{"Declared": declared, "Actual": told}))
		default:
			out = append(out, tr("viewer.flag.other", map[string]any{"Flag": f}))
		}
	}
	return out
}

// externalBox explains why Carnet does not show the document itself, warns
// that opening it elsewhere writes a temporary copy, and offers to.
func (v *viewerView) externalBox(why string) fyne.CanvasObject {
	warn := paragraph(tr("viewer.external.warning"))
	warn.Importance = widget.WarningImportance
	v.external = widget.NewButtonWithIcon(tr("viewer.external.open"), theme.FileApplicationIcon(), v.openExternal)
	return centered(container.NewVBox(paragraph(why),
		container.NewBorder(nil, nil, widget.NewIcon(theme.WarningIcon()), nil, warn),
		container.NewCenter(v.external)))
}

// openExternal writes the temporary copy off the UI goroutine and asks the
// system to open it.
func (v *viewerView) openExternal() {
	a := v.att
	if a == nil || v.u.copies == nil {
		return
	}
	v.u.svc.Touch()
	v.external.Disable()
	copies, data, mt := v.u.copies, a.Data, a.MediaType
	v.run(func(context.Context) func() {
		path, err := copies.write(data, mt)
		return func() {
			v.external.Enable()
			if err != nil {
				v.u.log.Warn("viewer: temporary copy", "err", err)
				setMessage(v.msg, tr("viewer.external.failed"))
				return
			}
			v.opened = path
			if err := v.u.a.OpenURL(&url.URL{Scheme: "file", Path: path}); err != nil {
				v.u.log.Warn("viewer: open in the system viewer", "err", err)
				setMessage(v.msg, tr("viewer.external.failed"))
			}
		}
	})
}

// showViewer shows document id of the record in a viewer that takes the
// place of the tabs; its back button and Esc (closeViewer) bring the tabs
// back. The record view's openDocument calls it.
func (r *recordView) showViewer(id app.DocumentID) {
	if r.tabs == nil {
		return
	}
	r.closeViewer()
	v := newViewerView(r.u, r.rec, r.access(), id)
	v.onBack = func() { r.closeViewer() }
	r.viewer = v
	r.body.Objects = []fyne.CanvasObject{v.buildUI()}
	r.body.Refresh()
	relayoutCanvasOf(r.root)
}

// closeViewer drops the viewer shown by showViewer, shows the tabs again
// and reports whether a viewer was open.
func (r *recordView) closeViewer() bool {
	if r.viewer == nil {
		return false
	}
	r.viewer.dispose()
	r.viewer = nil
	if r.tabs != nil {
		r.body.Objects = []fyne.CanvasObject{r.tabs}
		r.body.Refresh()
		relayoutCanvasOf(r.root)
	}
	return true
}
