package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
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
