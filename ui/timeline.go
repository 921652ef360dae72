package ui

import (
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/carnetdesk/carnet/app/meds"
)

// timelineRow is one substance of the dispensing timeline.
type timelineRow struct {
	label string
	marks []time.Time // dispensing days, oldest first
	// level colours the label: 2 for a high-severity perioperative flag,
	// 1 for a medium one, 0 for none.
	level int
}

// Geometry of the dispensing timeline, in Fyne units.
const (
	timelineLabelWidth = 190
	timelineMonthWidth = 16 // at least; the months share the width given
	timelineRowHeight  = 22
	timelineAxisHeight = 20
	timelineMarkWidth  = 3
)

// dispensingTimeline is a chart of the dispensings of the last
// meds.TimelineMonths months: one row per substance, a mark per dispensing
// day, a month grid, today at the right edge. A regular treatment shows as
// evenly spaced marks; an interruption as a gap; an irregular one as
// uneven marks. Drawn with canvas primitives by its own renderer.
type dispensingTimeline struct {
	widget.BaseWidget
	now  time.Time
	rows []timelineRow
}

func newDispensingTimeline() *dispensingTimeline {
	t := &dispensingTimeline{}
	t.ExtendBaseWidget(t)
	return t
}

// set shows rows over the months before now.
func (t *dispensingTimeline) set(now time.Time, rows []timelineRow) {
	t.now, t.rows = now, rows
	t.Refresh()
}

// span returns the first and last instant of the chart.
func (t *dispensingTimeline) span() (from, to time.Time) {
	return t.now.AddDate(0, -meds.TimelineMonths, 0), t.now
}

// xOf returns the x of instant at in a chart of the given width.
func (t *dispensingTimeline) xOf(at time.Time, width float32) float32 {
	from, to := t.span()
	plot := max(width-timelineLabelWidth, meds.TimelineMonths*timelineMonthWidth)
	f := float32(at.Sub(from)) / float32(to.Sub(from))
	return timelineLabelWidth + min(max(f, 0), 1)*plot
}

// CreateRenderer implements fyne.Widget.
func (t *dispensingTimeline) CreateRenderer() fyne.WidgetRenderer {
	r := &timelineRenderer{t: t}
	r.build()
	return r
}

// timelineRenderer draws a dispensingTimeline. build makes the objects
// from the rows (at each Refresh); Layout places them for the size.
type timelineRenderer struct {
	t *dispensingTimeline

	stripes []*canvas.Rectangle // every other row
	labels  []*canvas.Text
	grid    []*canvas.Line // one per month start
	months  []time.Time    // the month of each grid line
	ticks   []*canvas.Text // month names under some grid lines
	tickAt  []time.Time
	marks   []*canvas.Rectangle
	markAt  []time.Time
	markRow []int
	today   *canvas.Line
	axis    *canvas.Line
	objects []fyne.CanvasObject
}

func (r *timelineRenderer) build() {
	*r = timelineRenderer{t: r.t}
	t := r.t
	th := t.Theme()
	v := fyne.CurrentApp().Settings().ThemeVariant()
	small := th.Size(theme.SizeNameCaptionText)
	for i, row := range t.rows {
		if i%2 == 1 {
			s := canvas.NewRectangle(th.Color(theme.ColorNameHover, v))
			r.stripes = append(r.stripes, s)
			r.objects = append(r.objects, s)
		}
		name := theme.ColorNameForeground
		switch row.level {
		case 2:
			name = theme.ColorNameError
		case 1:
			name = theme.ColorNameWarning
		}
		l := canvas.NewText(fitText(row.label, timelineLabelWidth-theme.Padding(), th.Size(theme.SizeNameText)), th.Color(name, v))
		r.labels = append(r.labels, l)
		r.objects = append(r.objects, l)
	}
	if t.now.IsZero() {
		return
	}
	from, _ := t.span()
	m := time.Date(from.Year(), from.Month(), 1, 0, 0, 0, 0, t.now.Location()).AddDate(0, 1, 0)
	for ; !m.After(t.now); m = m.AddDate(0, 1, 0) {
		g := canvas.NewLine(th.Color(theme.ColorNameSeparator, v))
		g.StrokeWidth = 1
		r.grid = append(r.grid, g)
		r.months = append(r.months, m)
		r.objects = append(r.objects, g)
		if m.Month()%3 == 1 { // January, April, July, October
			tk := canvas.NewText(m.Format("01/06"), th.Color(theme.ColorNamePlaceHolder, v))
			tk.TextSize = small
			r.ticks = append(r.ticks, tk)
			r.tickAt = append(r.tickAt, m)
			r.objects = append(r.objects, tk)
		}
	}
	for i, row := range t.rows {
		for _, at := range row.marks {
			k := canvas.NewRectangle(th.Color(theme.ColorNamePrimary, v))
			r.marks = append(r.marks, k)
			r.markAt = append(r.markAt, at)
			r.markRow = append(r.markRow, i)
			r.objects = append(r.objects, k)
		}
	}
	r.axis = canvas.NewLine(th.Color(theme.ColorNameForeground, v))
	r.axis.StrokeWidth = 1
	r.today = canvas.NewLine(th.Color(theme.ColorNameError, v))
	r.today.StrokeWidth = 2
	r.objects = append(r.objects, r.axis, r.today)
}

// fitText cuts s with an ellipsis so that it fits width at size.
func fitText(s string, width, size float32) string {
	if fyne.MeasureText(s, size, fyne.TextStyle{}).Width <= width {
		return s
	}
	rs := []rune(s)
	for n := len(rs) - 1; n > 0; n-- {
		c := string(rs[:n]) + "…"
		if fyne.MeasureText(c, size, fyne.TextStyle{}).Width <= width {
			return c
		}
	}
	return "…"
}

func (r *timelineRenderer) Destroy() {}

func (r *timelineRenderer) Objects() []fyne.CanvasObject { return r.objects }

func (r *timelineRenderer) MinSize() fyne.Size {
	return fyne.NewSize(timelineLabelWidth+meds.TimelineMonths*timelineMonthWidth,
		float32(len(r.t.rows))*timelineRowHeight+timelineAxisHeight)
}

func (r *timelineRenderer) Layout(size fyne.Size) {
	t := r.t
	rowsH := float32(len(t.rows)) * timelineRowHeight
	right := t.xOf(t.now, size.Width)
	s := 0
	for i, l := range r.labels {
		y := float32(i) * timelineRowHeight
		if i%2 == 1 {
			r.stripes[s].Move(fyne.NewPos(0, y))
			r.stripes[s].Resize(fyne.NewSize(right, timelineRowHeight))
			s++
		}
		l.Resize(l.MinSize())
		l.Move(fyne.NewPos(theme.Padding(), y+(timelineRowHeight-l.MinSize().Height)/2))
	}
	if t.now.IsZero() {
		return
	}
	for i, g := range r.grid {
		x := t.xOf(r.months[i], size.Width)
		g.Position1, g.Position2 = fyne.NewPos(x, 0), fyne.NewPos(x, rowsH)
	}
	for i, tk := range r.ticks {
		x := t.xOf(r.tickAt[i], size.Width)
		tk.Resize(tk.MinSize())
		tk.Move(fyne.NewPos(x-tk.MinSize().Width/2, rowsH+2))
	}
	for i, k := range r.marks {
		x := t.xOf(r.markAt[i], size.Width)
		y := float32(r.markRow[i]) * timelineRowHeight
		k.Move(fyne.NewPos(x-timelineMarkWidth/2, y+4))
		k.Resize(fyne.NewSize(timelineMarkWidth, timelineRowHeight-8))
	}
	r.axis.Position1, r.axis.Position2 = fyne.NewPos(timelineLabelWidth, rowsH), fyne.NewPos(right, rowsH)
	r.today.Position1, r.today.Position2 = fyne.NewPos(right, 0), fyne.NewPos(right, rowsH+timelineAxisHeight/2)
}

func (r *timelineRenderer) Refresh() {
	r.build()
	r.Layout(r.t.Size())
	canvas.Refresh(r.t)
}
