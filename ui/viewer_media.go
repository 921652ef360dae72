package ui

import (
	"context"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/carnetdesk/carnet/app"
)

// mediaBar returns the buttons that open the objects embedded in a
// structured document (observationMedia: lab results, imaging reports as
// PDF, images), or nil when it has none. Each opens in the viewer like any
// attachment, through the same in-memory PDF path (nothing written in
// clear on disk; the system viewer only after its warning).
func (v *viewerView) mediaBar() fyne.CanvasObject {
	if len(v.doc.Media) == 0 {
		return nil
	}
	box := container.NewHBox(widget.NewLabelWithStyle(tr("clinical.media"), fyne.TextAlignLeading, fyne.TextStyle{Bold: true}))
	for i := range v.doc.Media {
		a := &v.doc.Media[i]
		label := a.Title
		if label == "" {
			label = tr("clinical.media.untitled", map[string]any{"N": i + 1})
		}
		// the ID is what the narrative's media placeholder names
		var what []string
		for _, w := range []string{a.ID, a.MediaType} {
			if w != "" {
				what = append(what, w)
			}
		}
		if len(what) > 0 {
			label += " (" + strings.Join(what, ", ") + ")"
		}
		b := widget.NewButtonWithIcon(label, theme.FileIcon(), func() { v.openMedia(i) })
		b.Importance = widget.LowImportance
		box.Add(b)
	}
	return container.NewHScroll(box)
}

// openMedia shows the embedded object i in place of the narrative, with a
// button back to it; the heavy part (PDF renderer, image decoding) runs off
// the UI goroutine.
func (v *viewerView) openMedia(i int) {
	if i < 0 || i >= len(v.doc.Media) || v.docBody == nil {
		return
	}
	v.u.svc.Touch()
	a := v.doc.Media[i] // a copy; Data is shared read-only with the document
	sub := app.ClinicalDocument{Meta: v.doc.Meta, Title: a.Title, Attachment: &a}
	v.track(v.progress, tr("viewer.loading"), v.cancelled, func(context.Context) func() {
		c := contentOf(sub)
		return func() { v.showMedia(c) }
	})
}

// showMedia shows an embedded object prepared by openMedia.
func (v *viewerView) showMedia(c viewerContent) {
	back := widget.NewButtonWithIcon(tr("clinical.media.back"), theme.NavigateBackIcon(), v.closeMedia)
	body := container.NewBorder(container.NewHBox(back), nil, nil, nil, v.attachmentBody(c))
	v.body.Objects = []fyne.CanvasObject{body}
	v.body.Refresh()
	relayoutCanvasOf(v.root)
}

// closeMedia goes back from an embedded object to the narrative.
func (v *viewerView) closeMedia() {
	if v.disposed || v.docBody == nil {
		return
	}
	if v.pdf != nil {
		v.pdf.dispose()
		v.pdf = nil
	}
	v.image, v.text, v.att = nil, nil, nil
	v.body.Objects = []fyne.CanvasObject{v.docBody}
	v.body.Refresh()
	relayoutCanvasOf(v.root)
}
