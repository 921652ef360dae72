package ui

import (
	"strconv"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/carnetdesk/carnet/app"
)

// This file renders app.Narrative, the neutral rich text of a structured
// document, with Fyne widgets: no HTML engine, no XSLT. Rendering has two
// steps so that the heavy one runs off the UI goroutine:
//
//   - buildFlow turns sections and their narratives into a flow of parts:
//     runs of widget.RichTextSegment values (plain data: paragraphs, lists,
//     headings, separators, footnotes) and table models. It creates no
//     widget and may run on any goroutine.
//   - renderFlow, on the UI goroutine, makes one widget.RichText per run of
//     segments and one narrativeTable per table, in a vertical box.
//
// Links are shown as coloured text followed by their address, and never
// opened.
// Embedded media are named, not shown.

// flowPart is a piece of a rendered narrative: a run of rich-text segments,
// or a table.
type flowPart struct {
	segs  []widget.RichTextSegment
	table *tableModel
}

// flow accumulates parts, merging consecutive segment runs.
type flow struct {
	parts []flowPart
}

// add appends segments to the current run.
func (f *flow) add(segs ...widget.RichTextSegment) {
	if len(segs) == 0 {
		return
	}
	if n := len(f.parts); n > 0 && f.parts[n-1].table == nil {
		f.parts[n-1].segs = append(f.parts[n-1].segs, segs...)
		return
	}
	f.parts = append(f.parts, flowPart{segs: segs})
}

// addTable ends the current run with a table.
func (f *flow) addTable(t *tableModel) { f.parts = append(f.parts, flowPart{table: t}) }

// buildFlow turns the sections of a document (nested, titled) into a flow.
// It may run off the UI goroutine.
func buildFlow(sections []app.Section) []flowPart {
	var f flow
	var walk func(ss []app.Section, depth int)
	walk = func(ss []app.Section, depth int) {
		for _, s := range ss {
			if t := strings.TrimSpace(s.Title); t != "" {
				style := widget.RichTextStyleSubHeading
				if depth > 0 {
					style = widget.RichTextStyle{TextStyle: fyne.TextStyle{Bold: true}}
				}
				f.add(&widget.TextSegment{Style: style, Text: t})
			}
			narrativeFlow(&f, s.Text)
			walk(s.Sections, depth+1)
		}
	}
	walk(sections, 0)
	return f.parts
}

// narrativeFlow appends a narrative to f: its blocks, then its footnotes.
func narrativeFlow(f *flow, n app.Narrative) {
	notes := footnoteNumbers(n.Footnotes)
	for i := range n.Blocks {
		blockFlow(f, &n.Blocks[i], notes)
	}
	if len(n.Footnotes) == 0 {
		return
	}
	f.add(&widget.SeparatorSegment{})
	for i, fn := range n.Footnotes {
		segs := []widget.RichTextSegment{&widget.TextSegment{
			Style: widget.RichTextStyle{Inline: true, SizeName: theme.SizeNameCaptionText, TextStyle: fyne.TextStyle{Bold: true}},
			Text:  strconv.Itoa(i+1) + ". ",
		}}
		segs = append(segs, inlineSegs(fn.Inlines, 0, notes, theme.SizeNameCaptionText)...)
		f.add(paragraphOf(segs))
	}
}

// footnoteNumbers numbers the footnotes in their order: the calls show
// numbers, not the document's identifiers.
func footnoteNumbers(fns []app.Footnote) map[string]int {
	if len(fns) == 0 {
		return nil
	}
	m := make(map[string]int, len(fns))
	for i, fn := range fns {
		m[fn.ID] = i + 1
	}
	return m
}

// blockFlow appends one block to f.
func blockFlow(f *flow, b *app.Block, notes map[string]int) {
	switch b.Kind {
	case app.BlockParagraph:
		if segs := inlineSegs(b.Inlines, b.Style, notes, ""); len(segs) > 0 {
			f.add(paragraphOf(segs))
		}
	case app.BlockCaption:
		if segs := inlineSegs(b.Inlines, b.Style|app.Bold, notes, ""); len(segs) > 0 {
			f.add(paragraphOf(segs))
		}
	case app.BlockList:
		if segs := inlineSegs(b.Caption, app.Bold, notes, ""); len(segs) > 0 {
			f.add(paragraphOf(segs))
		}
		f.add(listSeg(b, notes, 0))
	case app.BlockTable:
		if b.Table == nil {
			return
		}
		if segs := inlineSegs(b.Table.Caption, app.Bold|app.Italic, notes, ""); len(segs) > 0 {
			f.add(paragraphOf(segs))
		}
		f.addTable(newTableModel(b.Table, notes))
	case app.BlockMedia:
		refs := ""
		if b.Media != nil {
			refs = strings.Join(b.Media.Refs, ", ")
		}
		segs := []widget.RichTextSegment{&widget.TextSegment{
			Style: widget.RichTextStyle{Inline: true, ColorName: theme.ColorNamePlaceHolder, TextStyle: fyne.TextStyle{Italic: true}},
			Text:  tr("viewer.media", map[string]any{"Refs": refs}),
		}}
		if c := inlineSegs(b.Caption, app.Italic, notes, ""); len(c) > 0 {
			segs = append(segs, &widget.TextSegment{Style: widget.RichTextStyleInline, Text: " "})
			segs = append(segs, c...)
		}
		f.add(paragraphOf(segs))
	}
}

// listSeg renders a list as a widget.ListSegment whose items are
// paragraphs. The blocks of an item after its first paragraph continue the
// item on new lines; a nested list is indented and marked "◦".
func listSeg(b *app.Block, notes map[string]int, depth int) widget.RichTextSegment {
	l := &widget.ListSegment{Ordered: b.Ordered}
	for _, it := range b.Items {
		var segs []widget.RichTextSegment
		for i := range it.Blocks {
			segs = appendLine(segs, itemSegs(&it.Blocks[i], notes, depth)...)
		}
		if len(segs) == 0 {
			segs = []widget.RichTextSegment{&widget.TextSegment{Style: widget.RichTextStyleInline}}
		}
		l.Items = append(l.Items, paragraphOf(segs))
	}
	return l
}

// itemSegs returns the inline segments of one block inside a list item,
// lines separated by non-inline segments.
func itemSegs(b *app.Block, notes map[string]int, depth int) []widget.RichTextSegment {
	switch b.Kind {
	case app.BlockParagraph, app.BlockCaption:
		return inlineSegs(b.Inlines, b.Style, notes, "")
	case app.BlockList:
		var out []widget.RichTextSegment
		indent := strings.Repeat("    ", depth+1)
		for n, it := range b.Items {
			marker := indent + "◦ "
			if b.Ordered {
				marker = indent + strconv.Itoa(n+1) + ". "
			}
			line := []widget.RichTextSegment{&widget.TextSegment{Style: widget.RichTextStyleInline, Text: marker}}
			for i := range it.Blocks {
				line = append(line, itemSegs(&it.Blocks[i], notes, depth+1)...)
			}
			out = appendLine(out, line...)
		}
		return out
	case app.BlockTable:
		// A table inside a list item: one line per row, cells separated.
		var out []widget.RichTextSegment
		if b.Table == nil {
			return nil
		}
		for _, rows := range [][]app.Row{b.Table.Header, b.Table.Body, b.Table.Footer} {
			for _, r := range rows {
				out = appendLine(out, &widget.TextSegment{Style: widget.RichTextStyleInline,
					Text: strings.ReplaceAll(r.Text(), "\t", " │ ")})
			}
		}
		return out
	case app.BlockMedia:
		refs := ""
		if b.Media != nil {
			refs = strings.Join(b.Media.Refs, ", ")
		}
		return []widget.RichTextSegment{&widget.TextSegment{Style: widget.RichTextStyle{Inline: true,
			TextStyle: fyne.TextStyle{Italic: true}}, Text: tr("viewer.media", map[string]any{"Refs": refs})}}
	}
	return nil
}

// appendLine appends line to segs, starting it on a new line when segs is
// not empty.
func appendLine(segs []widget.RichTextSegment, line ...widget.RichTextSegment) []widget.RichTextSegment {
	if len(line) == 0 {
		return segs
	}
	if n := len(segs); n > 0 {
		endLine(segs[n-1])
	}
	return append(segs, line...)
}

// endLine makes the line end after seg.
func endLine(seg widget.RichTextSegment) {
	if t, ok := seg.(*widget.TextSegment); ok {
		t.Style.Inline = false
	}
}

// paragraphOf wraps inline segments in a paragraph, which ends after them.
func paragraphOf(segs []widget.RichTextSegment) widget.RichTextSegment {
	if n := len(segs); n > 0 {
		endLine(segs[n-1])
	}
	return &widget.ParagraphSegment{Texts: segs}
}

// inlineSegs converts inlines into inline text segments with base added to
// their style; size, when set, is the text size of every segment. A line
// break ends the segment before it.
func inlineSegs(in []app.Inline, base app.Style, notes map[string]int, size fyne.ThemeSizeName) []widget.RichTextSegment {
	var out []widget.RichTextSegment
	text := func(t string, st widget.RichTextStyle) {
		if t == "" {
			return
		}
		if size != "" {
			st.SizeName = size
		}
		out = append(out, &widget.TextSegment{Style: st, Text: t})
	}
	for _, x := range in {
		switch x.Kind {
		case app.InlineText:
			text(x.Text, richStyle(x.Style|base))
		case app.InlineLink:
			label := x.Text
			if label == "" {
				label = x.Href
			}
			st := richStyle(x.Style | base)
			st.ColorName = theme.ColorNameHyperlink
			text(label, st)
			if x.Href != "" && x.Href != label {
				st := richStyle(base)
				st.ColorName = theme.ColorNamePlaceHolder
				text(" ⟨"+x.Href+"⟩", st)
			}
		case app.InlineBreak:
			if n := len(out); n > 0 {
				endLine(out[n-1])
			} else {
				out = append(out, &widget.TextSegment{Style: widget.RichTextStyleParagraph})
			}
		case app.InlineFootnoteRef:
			call := x.Ref
			if n, ok := notes[x.Ref]; ok {
				call = strconv.Itoa(n)
			}
			st := richStyle(base)
			st.SizeName = theme.SizeNameCaptionText
			text("["+call+"]", st)
		}
	}
	return out
}

// richStyle maps narrative styles onto an inline rich-text style.
// Superscript and subscript are shown smaller; emphasis and underline as
// italic (an underlined font style is missing from Fyne's test theme).
func richStyle(s app.Style) widget.RichTextStyle {
	st := widget.RichTextStyle{Inline: true}
	st.TextStyle.Bold = s&app.Bold != 0
	st.TextStyle.Italic = s&(app.Italic|app.Emphasis|app.Underline) != 0
	if s&(app.Superscript|app.Subscript) != 0 {
		st.SizeName = theme.SizeNameCaptionText
	}
	return st
}

// renderFlow builds the widgets of a flow, on the UI goroutine: a vertical
// box of wrapping rich texts and tables.
func renderFlow(parts []flowPart) *fyne.Container {
	box := container.NewVBox()
	for _, p := range parts {
		if p.table != nil {
			box.Add(newNarrativeTable(p.table))
			continue
		}
		rt := widget.NewRichText(p.segs...)
		rt.Wrapping = fyne.TextWrapWord
		box.Add(rt)
	}
	return box
}

// segmentsText returns the text of segments, blocks included, one line per
// block: what a RichText shows, for tests and measurements.
func segmentsText(segs []widget.RichTextSegment) string {
	var b strings.Builder
	var walk func(segs []widget.RichTextSegment)
	walk = func(segs []widget.RichTextSegment) {
		for _, s := range segs {
			if blk, ok := s.(widget.RichTextBlock); ok {
				if l, ok := s.(*widget.ListSegment); ok {
					walk(l.Segments())
				} else {
					walk(blk.Segments())
				}
				continue
			}
			b.WriteString(s.Textual())
			if !s.Inline() {
				b.WriteByte('\n')
			}
		}
	}
	walk(segs)
	return b.String()
}

// tableModel is a narrative table laid out on a grid: every cell has its
// column and spans, computed as HTML does (a cell takes the next column
// not covered by a row span above it).
type tableModel struct {
	cells []tableCell
	rows  int
	cols  int
}

// tableCell is a cell of a tableModel.
type tableCell struct {
	segs             []widget.RichTextSegment
	text             string // plain text, to measure the column widths
	row, col         int
	colSpan, rowSpan int
	header, footer   bool
}

// Bounds of table columns, in Fyne units: a column is as wide as its
// widest cell's text up to maxColumn (then its text wraps), and never
// narrower than minColumn, even when the table is squeezed.
const (
	minColumn = 48
	maxColumn = 320
)

// newTableModel places the rows of t (header, body, footer) on a grid.
// Header rows and header cells are bold; footer rows italic.
func newTableModel(t *app.Table, notes map[string]int) *tableModel {
	m := &tableModel{}
	covered := map[[2]int]bool{}
	row := 0
	for part, rows := range [][]app.Row{t.Header, t.Body, t.Footer} {
		for _, r := range rows {
			col := 0
			for _, c := range r.Cells {
				for covered[[2]int{row, col}] {
					col++
				}
				cs, rs := max(c.ColSpan, 1), max(c.RowSpan, 1)
				cell := tableCell{row: row, col: col, colSpan: cs, rowSpan: rs,
					header: part == 0 || c.Header, footer: part == 2, text: c.Text()}
				style := app.Style(0)
				if cell.header {
					style |= app.Bold
				}
				if cell.footer {
					style |= app.Italic
				}
				for i := range c.Blocks {
					cell.segs = appendLine(cell.segs, itemSegs(&c.Blocks[i], notes, 0)...)
				}
				for _, s := range cell.segs {
					if ts, ok := s.(*widget.TextSegment); ok {
						ts.Style.TextStyle.Bold = ts.Style.TextStyle.Bold || style&app.Bold != 0
						ts.Style.TextStyle.Italic = ts.Style.TextStyle.Italic || style&app.Italic != 0
					}
				}
				for dr := range rs {
					for dc := range cs {
						covered[[2]int{row + dr, col + dc}] = true
					}
				}
				m.cells = append(m.cells, cell)
				col += cs
				m.cols = max(m.cols, col)
			}
			row++
		}
	}
	m.rows = row
	for _, c := range m.cells { // row spans past the last row
		m.rows = max(m.rows, c.row+c.rowSpan)
	}
	return m
}

// narrativeTable draws a tableModel: a grid of wrapping rich texts over
// cell backgrounds, header cells shaded, every cell outlined. Its columns
// take their natural widths and shrink proportionally when the table is
// narrower; its height follows its width, like a wrapping label.
type narrativeTable struct {
	widget.BaseWidget
	model   *tableModel
	cells   []*widget.RichText
	bgs     []*canvas.Rectangle
	natural []float32 // natural column widths
}

func newNarrativeTable(m *tableModel) *narrativeTable {
	t := &narrativeTable{model: m}
	t.ExtendBaseWidget(t)
	pad := theme.InnerPadding()
	size := theme.TextSize()
	t.natural = make([]float32, m.cols)
	for i := range t.natural {
		t.natural[i] = minColumn
	}
	for _, c := range m.cells {
		rt := widget.NewRichText(c.segs...)
		rt.Wrapping = fyne.TextWrapWord
		t.cells = append(t.cells, rt)
		bg := canvas.NewRectangle(theme.Color(theme.ColorNameBackground))
		if c.header {
			bg.FillColor = theme.Color(theme.ColorNameHeaderBackground)
		}
		bg.StrokeColor = theme.Color(theme.ColorNameSeparator)
		bg.StrokeWidth = 1
		t.bgs = append(t.bgs, bg)
		if c.colSpan != 1 {
			continue
		}
		w := fyne.MeasureText(c.text, size, fyne.TextStyle{Bold: c.header}).Width + 4*pad
		t.natural[c.col] = min(max(t.natural[c.col], w), maxColumn)
	}
	// A spanning cell wider than its columns widens them evenly.
	for _, c := range m.cells {
		if c.colSpan == 1 {
			continue
		}
		w := min(fyne.MeasureText(c.text, size, fyne.TextStyle{Bold: c.header}).Width+4*pad, maxColumn*float32(c.colSpan))
		have := float32(0)
		for i := c.col; i < c.col+c.colSpan; i++ {
			have += t.natural[i]
		}
		if w > have {
			for i := c.col; i < c.col+c.colSpan; i++ {
				t.natural[i] += (w - have) / float32(c.colSpan)
			}
		}
	}
	return t
}

// columns returns the column widths for a table of the given width.
func (t *narrativeTable) columns(width float32) []float32 {
	total := float32(0)
	for _, w := range t.natural {
		total += w
	}
	if width <= 0 || total <= width {
		return t.natural
	}
	out := make([]float32, len(t.natural))
	for i, w := range t.natural {
		out[i] = max(w*width/total, minColumn)
	}
	return out
}

// geometry returns the x of each column and the y of each row (one more
// than each), for the given column widths; it sizes the cell texts.
func (t *narrativeTable) geometry(cols []float32) (xs, ys []float32) {
	xs = make([]float32, len(cols)+1)
	for i, w := range cols {
		xs[i+1] = xs[i] + w
	}
	m := t.model
	heights := make([]float32, m.rows)
	pad := theme.InnerPadding()
	need := func(i int) float32 {
		c := m.cells[i]
		w := xs[c.col+c.colSpan] - xs[c.col] - pad
		rt := t.cells[i]
		if rt.Size().Width != w {
			rt.Resize(fyne.NewSize(w, rt.MinSize().Height))
		}
		return rt.MinSize().Height
	}
	for i, c := range m.cells {
		if c.rowSpan == 1 {
			heights[c.row] = max(heights[c.row], need(i))
		}
	}
	for i, c := range m.cells { // a row span taller than its rows grows its last row
		if c.rowSpan == 1 {
			continue
		}
		h, have := need(i), float32(0)
		for r := c.row; r < c.row+c.rowSpan; r++ {
			have += heights[r]
		}
		if h > have {
			heights[c.row+c.rowSpan-1] += h - have
		}
	}
	ys = make([]float32, m.rows+1)
	for i, h := range heights {
		ys[i+1] = ys[i] + h
	}
	return xs, ys
}

// CreateRenderer implements fyne.Widget.
func (t *narrativeTable) CreateRenderer() fyne.WidgetRenderer {
	objs := make([]fyne.CanvasObject, 0, 2*len(t.cells))
	for _, bg := range t.bgs {
		objs = append(objs, bg)
	}
	for _, c := range t.cells {
		objs = append(objs, c)
	}
	return &tableRenderer{t: t, objs: objs}
}

type tableRenderer struct {
	t    *narrativeTable
	objs []fyne.CanvasObject
}

func (r *tableRenderer) Destroy() {}

func (r *tableRenderer) Objects() []fyne.CanvasObject { return r.objs }

// MinSize is the height at the current width; the width asked is the
// narrowest the columns may shrink to.
func (r *tableRenderer) MinSize() fyne.Size {
	_, ys := r.t.geometry(r.t.columns(r.t.Size().Width))
	return fyne.NewSize(float32(len(r.t.natural))*minColumn, ys[len(ys)-1])
}

func (r *tableRenderer) Layout(size fyne.Size) {
	xs, ys := r.t.geometry(r.t.columns(size.Width))
	pad := theme.InnerPadding() / 2
	for i, c := range r.t.model.cells {
		pos := fyne.NewPos(xs[c.col], ys[c.row])
		sz := fyne.NewSize(xs[c.col+c.colSpan]-xs[c.col], ys[c.row+c.rowSpan]-ys[c.row])
		r.t.bgs[i].Move(pos)
		r.t.bgs[i].Resize(sz)
		r.t.cells[i].Move(pos.AddXY(pad, 0))
		r.t.cells[i].Resize(fyne.NewSize(sz.Width-2*pad, sz.Height))
	}
}

func (r *tableRenderer) Refresh() {
	for i, c := range r.t.model.cells {
		bg := r.t.bgs[i]
		bg.FillColor = theme.Color(theme.ColorNameBackground)
		if c.header {
			bg.FillColor = theme.Color(theme.ColorNameHeaderBackground)
		}
		bg.StrokeColor = theme.Color(theme.ColorNameSeparator)
		bg.Refresh()
		r.t.cells[i].Refresh()
	}
	r.Layout(r.t.Size())
}

// flowTexts returns every text of a rendered flow (rich texts and table
// cells), for tests.
func flowTexts(o fyne.CanvasObject) []string {
	var out []string
	var walk func(o fyne.CanvasObject)
	walk = func(o fyne.CanvasObject) {
		switch o := o.(type) {
		case *widget.RichText:
			out = append(out, segmentsText(o.Segments))
		case *narrativeTable:
			for _, c := range o.cells {
				out = append(out, segmentsText(c.Segments))
			}
		case *fyne.Container:
			for _, c := range o.Objects {
				walk(c)
			}
		}
	}
	walk(o)
	return out
}
