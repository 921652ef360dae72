package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// fitCells lays out one row of the decision table: its cells side by side
// at the tableColumns widths, each cell's text fitted to its width with an
// ellipsis. Fyne's own ellipsis shapes the whole text again, with a new
// shaper and uncached, at every layout of every label: with 5 cells × 20
// rows it was the main cost of showing the table (BenchmarkPreopView).
// Here the fitting measures through fyne.MeasureText, which is cached, and
// runs only when a cell's text or width changes. The labels clip as a
// backstop.
type fitCells struct {
	full  [5]string  // each cell's whole text
	width [5]float32 // the width each cell was fitted to (0: not yet)
}

// Layout implements fyne.Layout.
func (f *fitCells) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	x := float32(0)
	for i, o := range objs {
		w := size.Width * tableColumns[i%len(tableColumns)]
		o.Move(fyne.NewPos(x, 0))
		o.Resize(fyne.NewSize(w, size.Height))
		x += w
		if l, ok := o.(*widget.Label); ok && i < len(f.full) && f.width[i] != w {
			f.width[i] = w
			if t := fitCell(f.full[i], w, l.TextStyle); t != l.Text {
				l.Text = t
				l.Refresh()
			}
		}
	}
}

// MinSize implements fyne.Layout.
func (f *fitCells) MinSize(objs []fyne.CanvasObject) fyne.Size {
	return columnsLayout{}.MinSize(objs)
}

// set gives cell i of the row the text s in style; it reports whether the
// label changed (and was refreshed).
func (f *fitCells) set(l *widget.Label, i int, s string, style fyne.TextStyle, imp widget.Importance) bool {
	if f.full[i] == s && l.TextStyle == style && l.Importance == imp {
		return false
	}
	f.full[i] = s
	shown := s
	if f.width[i] > 0 {
		shown = fitCell(s, f.width[i], style)
	}
	l.Text, l.TextStyle, l.Importance = shown, style, imp
	l.Refresh()
	return true
}

// fitCell returns s, or its longest prefix followed by "…", that fits in a
// label of width w (the table's compact inner padding on each side).
func fitCell(s string, w float32, style fyne.TextStyle) string {
	avail := w - 2*3 - 2 // compactTheme's inner padding, and a pixel of margin each side
	size := theme.TextSize()
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
