package ui

import (
	"context"
	"errors"
	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/carnetdesk/carnet/app"
)

// entry is a widget.Entry that reports typing as user activity (a focused
// entry consumes the keys, so the canvas never sees them) and forwards the
// window shortcuts (Ctrl+L, Ctrl+F), which a plain Entry swallows.
type entry struct {
	widget.Entry
	u *UI
}

// newEntry returns a single-line entry with a placeholder.
func newEntry(u *UI, placeholder string) *entry {
	e := &entry{u: u}
	e.PlaceHolder = placeholder
	e.Wrapping = fyne.TextWrap(fyne.TextTruncateClip)
	e.ExtendBaseWidget(e)
	return e
}

// newPasswordEntry returns a concealed entry with the reveal button.
func newPasswordEntry(u *UI, placeholder string) *entry {
	e := newEntry(u, placeholder)
	e.Password = true
	return e
}

// TypedRune reports activity, then types r.
func (e *entry) TypedRune(r rune) {
	e.u.svc.Touch()
	e.Entry.TypedRune(r)
}

// TypedKey reports activity, then handles the key; Esc goes back (see
// UI.back) when there is somewhere to go.
func (e *entry) TypedKey(k *fyne.KeyEvent) {
	e.u.svc.Touch()
	if k.Name == fyne.KeyEscape && e.u.back() {
		return
	}
	e.Entry.TypedKey(k)
}

// TypedShortcut lets the window handle its shortcuts first.
func (e *entry) TypedShortcut(s fyne.Shortcut) {
	if e.u.shortcut(s) {
		return
	}
	e.Entry.TypedShortcut(s)
}

// activityArea wraps a screen's content and reports mouse movement and
// clicks over it as user activity. Widgets that handle the mouse themselves
// (buttons, list rows) hide it from the area; their actions reach the
// service, which counts as activity too.
type activityArea struct {
	widget.BaseWidget
	content fyne.CanvasObject
	touch   func()
}

var (
	_ desktop.Hoverable = (*activityArea)(nil)
	_ desktop.Mouseable = (*activityArea)(nil)
)

func newActivityArea(content fyne.CanvasObject, touch func()) *activityArea {
	a := &activityArea{content: content, touch: touch}
	a.ExtendBaseWidget(a)
	return a
}

// CreateRenderer implements fyne.Widget.
func (a *activityArea) CreateRenderer() fyne.WidgetRenderer {
	return widget.NewSimpleRenderer(a.content)
}

// MouseIn implements desktop.Hoverable.
func (a *activityArea) MouseIn(*desktop.MouseEvent) { a.touch() }

// MouseMoved implements desktop.Hoverable.
func (a *activityArea) MouseMoved(*desktop.MouseEvent) { a.touch() }

// MouseOut implements desktop.Hoverable.
func (a *activityArea) MouseOut() {}

// MouseDown implements desktop.Mouseable.
func (a *activityArea) MouseDown(*desktop.MouseEvent) { a.touch() }

// MouseUp implements desktop.Mouseable.
func (a *activityArea) MouseUp(*desktop.MouseEvent) {}

// strengthHint shows how strong a passphrase is while it is typed: a bar
// and a word (trop courte, faible, correcte, forte).
type strengthHint struct {
	bar   *widget.ProgressBar
	label *widget.Label
	box   fyne.CanvasObject
}

func newStrengthHint() *strengthHint {
	h := &strengthHint{bar: widget.NewProgressBar(), label: widget.NewLabel("")}
	h.bar.Max = float64(app.StrengthStrong + 1)
	h.bar.TextFormatter = func() string { return "" }
	h.box = container.NewBorder(nil, nil, nil, h.label, h.bar)
	h.update("")
	return h
}

// update grades p and shows the grade.
func (h *strengthHint) update(p string) {
	if p == "" {
		h.bar.SetValue(0)
		h.label.SetText("")
		return
	}
	s := app.PassphraseStrength([]byte(p))
	h.bar.SetValue(float64(s) + 1)
	switch s {
	case app.StrengthTooShort:
		h.label.Importance = widget.DangerImportance
		h.label.SetText(tr("strength.too-short"))
	case app.StrengthWeak:
		h.label.Importance = widget.WarningImportance
		h.label.SetText(tr("strength.weak"))
	case app.StrengthGood:
		h.label.Importance = widget.MediumImportance
		h.label.SetText(tr("strength.good"))
	default:
		h.label.Importance = widget.SuccessImportance
		h.label.SetText(tr("strength.strong"))
	}
}

// newMessage returns a wrapping label for error or information messages,
// hidden while empty.
func newMessage(importance widget.Importance) *widget.Label {
	l := widget.NewLabel("")
	l.Wrapping = fyne.TextWrapWord
	l.Importance = importance
	l.Hide()
	return l
}

// setMessage shows text in l, or hides l when text is empty.
func setMessage(l *widget.Label, text string) {
	l.SetText(text)
	if text == "" {
		l.Hide()
	} else {
		l.Show()
	}
	relayoutCanvasOf(l)
}

// setMessageQuiet is setMessage without the window-wide layout pass: for a
// view that lays the window out once after changing many parts.
func setMessageQuiet(l *widget.Label, text string) {
	l.Text = text
	if text == "" {
		l.Hidden = true
	} else {
		l.Hidden = false
	}
}

// relayoutCanvasOf lays out again the window holding o, after o was shown,
// hidden or resized. The desktop driver would notice at the next frame; the
// test driver does not, and the markup goldens would show stale positions.
func relayoutCanvasOf(o fyne.CanvasObject) {
	d := fyne.CurrentApp().Driver()
	if c := d.CanvasForObject(o); c != nil && c.Content() != nil {
		relayout(c.Content())
	}
}

// newBanner returns a dismissable warning: an icon, the text and a close
// button that hides it.
func newBanner(text string, onClosed func()) fyne.CanvasObject {
	l := widget.NewLabel(text)
	l.Wrapping = fyne.TextWrapWord
	l.Importance = widget.WarningImportance
	var b *fyne.Container
	closeButton := widget.NewButtonWithIcon("", theme.CancelIcon(), func() {
		b.Hide()
		if onClosed != nil {
			onClosed()
		}
	})
	closeButton.Importance = widget.LowImportance
	b = container.NewBorder(nil, nil, widget.NewIcon(theme.WarningIcon()), closeButton, l)
	return b
}

// heading returns a large bold title.
func heading(text string) *widget.Label {
	l := widget.NewLabel(text)
	l.SizeName = theme.SizeNameHeadingText
	l.TextStyle = fyne.TextStyle{Bold: true}
	return l
}

// paragraph returns a wrapping label.
func paragraph(text string) *widget.Label {
	l := widget.NewLabel(text)
	l.Wrapping = fyne.TextWrapWord
	return l
}

// centered places a column of bounded width in the middle of the window,
// scrolling when the window is too small.
func centered(content fyne.CanvasObject) fyne.CanvasObject {
	return container.NewVScroll(container.NewCenter(container.New(fixedWidth(520), content)))
}

// fixedWidth lays out its objects on top of each other, all of the given
// width and of the tallest one's height.
type fixedWidth float32

// MinSize implements fyne.Layout. Wrapping labels only know their height
// once they know their width, so each object is first given the width.
func (w fixedWidth) MinSize(objects []fyne.CanvasObject) fyne.Size {
	h := float32(0)
	for _, o := range objects {
		if !o.Visible() {
			continue
		}
		if o.Size().Width != float32(w) {
			o.Resize(fyne.NewSize(float32(w), o.MinSize().Height))
		}
		h = max(h, o.MinSize().Height)
	}
	return fyne.NewSize(float32(w), h)
}

// Layout implements fyne.Layout.
func (w fixedWidth) Layout(objects []fyne.CanvasObject, size fyne.Size) {
	for _, o := range objects {
		o.Move(fyne.NewPos(0, 0))
		o.Resize(size)
	}
}

// colorBox is a rounded rectangle filled with a colour of the theme. The
// colour is read again at every refresh, and Fyne refreshes every widget
// when the theme changes (light or dark in the settings), so the box
// follows the theme live, where a canvas.Rectangle keeps the colour it was
// built with.
type colorBox struct {
	widget.BaseWidget
	fill func(th fyne.Theme, v fyne.ThemeVariant) color.Color
}

// newColorBox returns a box filled with fill's colour in the widget's
// theme and the app's variant.
func newColorBox(fill func(th fyne.Theme, v fyne.ThemeVariant) color.Color) *colorBox {
	b := &colorBox{fill: fill}
	b.ExtendBaseWidget(b)
	return b
}

// CreateRenderer implements fyne.Widget.
func (b *colorBox) CreateRenderer() fyne.WidgetRenderer {
	r := &colorBoxRenderer{b: b, rect: canvas.NewRectangle(color.Transparent)}
	r.update()
	return r
}

// colorBoxRenderer draws a colorBox.
type colorBoxRenderer struct {
	b    *colorBox
	rect *canvas.Rectangle
}

// update reads the colour and the corner radius from the current theme.
func (r *colorBoxRenderer) update() {
	th := r.b.Theme()
	r.rect.FillColor = r.b.fill(th, fyne.CurrentApp().Settings().ThemeVariant())
	r.rect.CornerRadius = th.Size(theme.SizeNameInputRadius)
}

func (r *colorBoxRenderer) Destroy() {}

func (r *colorBoxRenderer) Layout(size fyne.Size) { r.rect.Resize(size) }

func (r *colorBoxRenderer) MinSize() fyne.Size { return fyne.Size{} }

func (r *colorBoxRenderer) Objects() []fyne.CanvasObject { return []fyne.CanvasObject{r.rect} }

func (r *colorBoxRenderer) Refresh() {
	r.update()
	r.rect.Refresh()
}

// listPage is the frame of the pages that list items waiting for a
// decision, the inbox and the outbox: a back button, the title and a reload
// button on top, an introduction, the progress of the reading or of a
// decision, a message, and the items. The views embed it (with u set) and
// fill list through setItems.
type listPage struct {
	taskFrame // u, disposed, and the background work (tasks.go)
	back      *widget.Button
	reload    *widget.Button
	progress  *taskProgress
	msg       *widget.Label
	list      *fyne.Container
	confirm   dialog.Dialog // the confirmation shown, if any
}

// listTexts are the texts of a listPage.
type listTexts struct {
	back, reload, title, intro string
}

// build returns the page with the texts t; back runs onBack, reload
// onReload.
func (p *listPage) build(t listTexts, onBack, onReload func()) fyne.CanvasObject {
	p.back = widget.NewButtonWithIcon(t.back, theme.NavigateBackIcon(), onBack)
	p.reload = widget.NewButtonWithIcon(t.reload, theme.ViewRefreshIcon(), onReload)
	p.progress = newTaskProgress()
	p.msg = newMessage(widget.MediumImportance)
	p.list = container.NewVBox()
	header := container.NewBorder(nil, nil, container.NewHBox(p.back, heading(t.title)), p.reload)
	top := container.NewVBox(header, paragraph(t.intro))
	// The progress and the message come and go: below the list, so that
	// the items never move under the pointer when they do.
	bottom := container.NewVBox(p.progress.box, p.msg)
	return container.NewBorder(top, bottom, nil, nil, container.NewVScroll(container.NewPadded(p.list)))
}

// dispose cancels the work under way, closes the confirmation and empties
// the list.
func (p *listPage) dispose() {
	p.end()
	p.progress.dispose()
	if p.confirm != nil {
		p.confirm.Hide()
		p.confirm = nil
	}
	p.list.RemoveAll()
}

// read runs work off the UI goroutine, showing text and disabling the
// reload button meanwhile; the function work returns shows the result on
// the UI goroutine.
func (p *listPage) read(text string, work func(ctx context.Context) (show func())) {
	if p.disposed {
		return
	}
	p.reload.Disable()
	p.track(p.progress, text, p.reload.Enable, func(ctx context.Context) func() {
		show := work(ctx)
		return func() {
			p.reload.Enable()
			show()
		}
	})
}

// decide applies a decision off the UI goroutine, showing text meanwhile.
// settled, when not nil, runs on the UI goroutine once the decision is
// over, whether the person cancelled it, it failed or it was applied; then
// the decision's error is shown, or done runs.
func (p *listPage) decide(text string, settled func(), do func(ctx context.Context) error, done func()) {
	p.track(p.progress, text, settled, func(ctx context.Context) func() {
		err := do(ctx)
		return func() {
			if settled != nil {
				settled()
			}
			if err != nil && !errors.Is(err, context.Canceled) {
				p.setMessage(widget.DangerImportance, message(err))
				return
			}
			done()
		}
	})
}

// showConfirm shows a confirmation dialog whose confirm button, labelled
// confirm and of importance imp, runs ok.
func (p *listPage) showConfirm(title, text, confirm string, imp widget.Importance, ok func()) {
	p.u.svc.Touch()
	d := dialog.NewConfirm(title, text, func(yes bool) {
		p.confirm = nil
		if yes {
			ok()
		}
	}, p.u.w)
	d.SetConfirmText(confirm)
	d.SetDismissText(tr("dialog.cancel"))
	d.SetConfirmImportance(imp)
	p.confirm = d
	d.Show()
}

// setMessage shows text with the importance imp, or hides the message when
// text is empty.
func (p *listPage) setMessage(imp widget.Importance, text string) {
	p.msg.Importance = imp
	setMessage(p.msg, text)
}

// setItems replaces the items shown with blocks.
func (p *listPage) setItems(blocks []fyne.CanvasObject) {
	p.list.Objects = blocks
	p.list.Refresh()
	relayoutCanvasOf(p.list)
}

// patientNames looks up each patient of ids once (empty ids are skipped)
// and returns how it is shown: name(p), or unknown when the vault does not
// hold it (left out when unknown is empty). It reads the vault: call it off
// the UI goroutine.
func patientNames(ctx context.Context, svc *app.Service, ids []app.PatientID, name func(app.Patient) string, unknown string) map[app.PatientID]string {
	names := map[app.PatientID]string{}
	for _, id := range ids {
		if _, ok := names[id]; ok || id == "" {
			continue
		}
		if p, err := svc.Patient(ctx, id); err == nil {
			names[id] = name(p)
		} else if unknown != "" {
			names[id] = unknown
		}
	}
	return names
}

// patientLabel shows a patient where the name alone could be mistaken:
// "MARTIN Hélène (12/03/1979)".
func patientLabel(p app.Patient) string {
	return p.DisplayName() + " (" + formatBirthDate(p.BirthDate) + ")"
}
