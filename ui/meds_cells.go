package ui

import (
	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// cellPad and cellVPad are the inner paddings of a table cell, each side
// and above and below: the table is dense (one text line per row; with the
// list's own padding, a row is 27 units high at the default text size, as
// with the compact labels it replaces).
const (
	cellPad  = 3
	cellVPad = 2
)

// fitCells lays out one row of the decision table (or its header): its
// cells, canvas.Text objects, side by side at the tableColumns widths, each
// cell's text fitted to its width with an ellipsis.
//
// The cells are plain texts, not labels under a container.ThemeOverride:
// Fyne (2.7) empties its whole text-measure cache whenever a theme
// override is built or refreshed, so every view, and every layout pass of
// the window, measured every text of the screen again — with a new shaper
// per text; that was most of BenchmarkPreopView. Fyne's own ellipsis also
// shapes the whole text again, uncached, at every layout of every label.
// Here the fitting measures through fyne.MeasureText, which is cached,
// and runs only when a cell's text or width changes.
type fitCells struct {
	full  [5]string  // each cell's whole text
	width [5]float32 // the width each cell was fitted to (0: not yet)
}

// newCells returns a row of n empty cells laid out by a new fitCells.
func newCells(n int) *fyne.Container {
	cells := make([]fyne.CanvasObject, n)
	for i := range cells {
		t := canvas.NewText("", theme.Color(theme.ColorNameForeground))
		t.TextSize = theme.TextSize()
		cells[i] = t
	}
	return container.New(&fitCells{}, cells...)
}

// Layout implements fyne.Layout.
func (f *fitCells) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	x := float32(0)
	for i, o := range objs {
		w := size.Width * tableColumns[i%len(tableColumns)]
		t, ok := o.(*canvas.Text)
		if !ok {
			o.Move(fyne.NewPos(x, 0))
			o.Resize(fyne.NewSize(w, size.Height))
			x += w
			continue
		}
		h := t.MinSize().Height
		t.Move(fyne.NewPos(x+cellPad, (size.Height-h)/2))
		t.Resize(fyne.NewSize(max(0, w-2*cellPad), h))
		x += w
		if i < len(f.full) && f.width[i] != w {
			f.width[i] = w
			if s := fitCell(f.full[i], w, t.TextStyle, t.TextSize); s != t.Text {
				t.Text = s
				t.Refresh()
			}
		}
	}
}

// MinSize implements fyne.Layout: one text line and the inner paddings.
func (f *fitCells) MinSize(objs []fyne.CanvasObject) fyne.Size {
	h := float32(0)
	for _, o := range objs {
		h = max(h, o.MinSize().Height)
	}
	return fyne.NewSize(float32(len(objs))*40, h+2*cellVPad)
}

// set gives cell i of the row the text s in style and colour c; it reports
// whether the cell changed (and was refreshed).
func (f *fitCells) set(t *canvas.Text, i int, s string, style fyne.TextStyle, c color.Color) bool {
	size := theme.TextSize()
	if f.full[i] == s && t.TextStyle == style && t.TextSize == size && sameColor(t.Color, c) {
		return false
	}
	f.full[i] = s
	shown := s
	if f.width[i] > 0 {
		shown = fitCell(s, f.width[i], style, size)
	}
	t.Text, t.TextStyle, t.TextSize, t.Color = shown, style, size, c
	t.Refresh()
	return true
}

// sameColor reports whether a and b are the same colour.
func sameColor(a, b color.Color) bool {
	if a == nil || b == nil {
		return a == b
	}
	r1, g1, b1, a1 := a.RGBA()
	r2, g2, b2, a2 := b.RGBA()
	return r1 == r2 && g1 == g2 && b1 == b2 && a1 == a2
}

// importanceColor is the text colour of a label of importance imp.
func importanceColor(imp widget.Importance) color.Color {
	switch imp {
	case widget.DangerImportance:
		return theme.Color(theme.ColorNameError)
	case widget.SuccessImportance:
		return theme.Color(theme.ColorNameSuccess)
	case widget.WarningImportance:
		return theme.Color(theme.ColorNameWarning)
	case widget.LowImportance:
		return theme.Color(theme.ColorNameDisabled)
	}
	return theme.Color(theme.ColorNameForeground)
}

// fitCell returns s, or its longest prefix followed by "…", that fits in a
// cell of width w.
func fitCell(s string, w float32, style fyne.TextStyle, size float32) string {
	avail := w - 2*cellPad - 2 // the inner padding, and a pixel of margin each side
	if s == "" || fyne.MeasureText(s, size, style).Width <= avail {
		return s
	}
	runes := []rune(s)
	lo, hi := 0, len(runes) // the longest prefix that fits is in [lo, hi)
	for lo+1 < hi {
		mid := (lo + hi) / 2
		if fyne.MeasureText(string(runes[:mid])+"…", size, style).Width <= avail {
			lo = mid
		} else {
			hi = mid
		}
	}
	if lo == 0 {
		return "…"
	}
	return string(runes[:lo]) + "…"
}

// tableHeader is the header row of the decision table: bold cells laid out
// as the rows are. A widget, so that a change of theme (which refreshes
// every widget) gives its texts the new foreground colour.
type tableHeader struct {
	widget.BaseWidget
	row    *fyne.Container
	titles []string
}

func newTableHeader(titles []string) *tableHeader {
	h := &tableHeader{row: newCells(len(titles)), titles: titles}
	h.ExtendBaseWidget(h)
	h.paint()
	return h
}

// paint sets the titles in the theme's current foreground colour.
func (h *tableHeader) paint() {
	fit := h.row.Layout.(*fitCells)
	for i, s := range h.titles {
		fit.set(h.row.Objects[i].(*canvas.Text), i, s, fyne.TextStyle{Bold: true}, importanceColor(widget.MediumImportance))
	}
}

// CreateRenderer implements fyne.Widget.
func (h *tableHeader) CreateRenderer() fyne.WidgetRenderer { return &headerRenderer{h: h} }

type headerRenderer struct{ h *tableHeader }

func (r *headerRenderer) Layout(s fyne.Size)           { r.h.row.Resize(s) }
func (r *headerRenderer) MinSize() fyne.Size           { return r.h.row.MinSize() }
func (r *headerRenderer) Objects() []fyne.CanvasObject { return []fyne.CanvasObject{r.h.row} }
func (r *headerRenderer) Destroy()                     {}
func (r *headerRenderer) Refresh()                     { r.h.paint() }
