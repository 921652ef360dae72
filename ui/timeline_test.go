package ui

import (
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
)

// timelineRows are a regular monthly treatment, an interrupted one and an
// irregular one.
func timelineRows() []timelineRow {
	var regular, interrupted, irregular []time.Time
	for m := 23; m >= 0; m-- {
		regular = append(regular, testNow.AddDate(0, -m, -1))
	}
	for _, m := range []int{22, 21, 20, 19, 6, 5, 4} {
		interrupted = append(interrupted, testNow.AddDate(0, -m, 0))
	}
	for _, d := range []int{700, 640, 500, 480, 200, 90, 85, 10} {
		irregular = append(irregular, testNow.AddDate(0, 0, -d))
	}
	return []timelineRow{
		{label: "ELIQUIS 5 mg", marks: regular, level: 2},
		{label: "METFORMINE 850 mg", marks: interrupted, level: 1},
		{label: "TRAMADOL 50 mg, gélule à libération prolongée", marks: irregular},
	}
}

func TestTimelineState(t *testing.T) {
	test.NewTempApp(t)
	tl := newDispensingTimeline()
	w := test.NewTempWindow(t, tl)
	tl.set(testNow, timelineRows())
	w.Resize(fyne.NewSize(700, 140))
	r := test.WidgetRenderer(tl).(*timelineRenderer)
	if len(r.marks) != 24+7+8 || len(r.labels) != 3 {
		t.Fatalf("%d marks and %d labels, want 39 and 3", len(r.marks), len(r.labels))
	}
	if len(r.grid) != 24 {
		t.Errorf("%d month lines, want 24", len(r.grid))
	}
	// Marks sit in their row, left to right in date order, within the
	// plot; today is the right edge.
	width := tl.Size().Width
	prevX, prevRow := float32(0), -1
	for i, k := range r.marks {
		row := r.markRow[i]
		x := k.Position().X + timelineMarkWidth/2
		if row == prevRow && x < prevX {
			t.Errorf("mark %d of row %d at %v, left of the previous one at %v", i, row, x, prevX)
		}
		if x < timelineLabelWidth || x > width {
			t.Errorf("mark %d at %v outside the plot", i, x)
		}
		if y := k.Position().Y; y < float32(row)*timelineRowHeight || y > float32(row+1)*timelineRowHeight {
			t.Errorf("mark %d at y %v outside row %d", i, y, row)
		}
		prevX, prevRow = x, row
	}
	if x := r.today.Position1.X; x != width {
		t.Errorf("today at %v, want the right edge %v", x, width)
	}
	// The gap of the interrupted treatment is wider than a month.
	var xs []float32
	for i, k := range r.marks {
		if r.markRow[i] == 1 {
			xs = append(xs, k.Position().X)
		}
	}
	month := (width - timelineLabelWidth) / 24
	if gap := xs[4] - xs[3]; gap < 10*month {
		t.Errorf("interruption gap %v, want more than 10 months (%v)", gap, 10*month)
	}
	if got := r.labels[2].Text; got == timelineRows()[2].label || len([]rune(got)) < 5 {
		t.Errorf("long label shown as %q, want it cut with an ellipsis", got)
	}
	tl.set(testNow, nil)
	if r := test.WidgetRenderer(tl).(*timelineRenderer); len(r.marks) != 0 || len(r.labels) != 0 {
		t.Error("rows not cleared")
	}
}

func TestTimelineImage(t *testing.T) {
	test.NewTempApp(t)
	tl := newDispensingTimeline()
	w := test.NewTempWindow(t, tl)
	tl.set(testNow, timelineRows())
	w.Resize(fyne.NewSize(700, 110))
	test.AssertImageMatches(t, "timeline.png", w.Canvas().Capture())
}
