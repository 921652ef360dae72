package ui

import (
	"fmt"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/carnetdesk/carnet/app"
)

func TestBuildFlow(t *testing.T) {
	if err := applyLanguage(languageFrench); err != nil {
		t.Fatal(err)
	}
	parts := buildFlow(letter().Sections)
	// Text, table, text: the caption before the table, the media and the
	// nested section after it.
	if len(parts) != 3 || parts[0].table != nil || parts[1].table == nil || parts[2].table != nil {
		t.Fatalf("flow of %d parts, want text, table, text", len(parts))
	}
	got := segmentsText(parts[0].segs)
	for _, want := range []string{
		"Motif d'hospitalisation\n",
		"Patiente hospitalisée pour fibrillation atriale découverte fortuitement[1]\nVoir le protocole ⟨https://example.org/p⟩\n",
		"•  Échographie cardiaque\n", "    1. Créatinine\n", "1. Lors d'un bilan préopératoire.\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("flow text lacks %q in\n%s", want, got)
		}
	}
	var bold, italic []string
	var walk func([]widget.RichTextSegment)
	walk = func(segs []widget.RichTextSegment) {
		for _, s := range segs {
			switch s := s.(type) {
			case *widget.TextSegment:
				if s.Style.TextStyle.Bold {
					bold = append(bold, s.Text)
				}
				if s.Style.TextStyle.Italic {
					italic = append(italic, s.Text)
				}
			case widget.RichTextBlock:
				walk(s.Segments())
			}
		}
	}
	walk(parts[0].segs)
	if !strings.Contains(strings.Join(bold, "|"), "fibrillation atriale") || !strings.Contains(strings.Join(italic, "|"), "fortuitement") {
		t.Errorf("styles lost: bold %q, italic %q", bold, italic)
	}
}

func TestTableModelSpans(t *testing.T) {
	tb := &app.Table{Body: []app.Row{
		{Cells: []app.Cell{{RowSpan: 2, Blocks: []app.Block{npara(ntext("A", 0))}}, ncell("B", 1), ncell("C", 1)}},
		{Cells: []app.Cell{ncell("D", 2)}},
		{Cells: []app.Cell{ncell("E", 1), {Header: true, Blocks: []app.Block{npara(ntext("F", 0))}}}},
	}}
	m := newTableModel(tb, nil)
	got := map[string][4]int{}
	for _, c := range m.cells {
		got[c.text] = [4]int{c.row, c.col, c.rowSpan, c.colSpan}
	}
	want := map[string][4]int{"A": {0, 0, 2, 1}, "B": {0, 1, 1, 1}, "C": {0, 2, 1, 1}, "D": {1, 1, 1, 2}, "E": {2, 0, 1, 1}, "F": {2, 1, 1, 1}}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("cell %s at (row, col, rowspan, colspan) %v, want %v", k, got[k], w)
		}
	}
	if m.rows != 3 || m.cols != 3 || !m.cells[5].header {
		t.Errorf("grid %d×%d, header cell %v", m.rows, m.cols, m.cells[5].header)
	}
}

// longNarrative returns about 50 pages of narrative: 50 sections, each
// with 12 paragraphs of about 90 words, a list and a table of 10 rows.
func longNarrative() []app.Section {
	words := strings.Repeat("patiente suivie pour une fibrillation atriale sous anticoagulant ", 9)
	ss := make([]app.Section, 50)
	for i := range ss {
		var blocks []app.Block
		for j := range 12 {
			blocks = append(blocks, npara(ntext(fmt.Sprintf("%d.%d ", i, j), app.Bold), ntext(words, 0)))
		}
		blocks = append(blocks, app.Block{Kind: app.BlockList, Items: []app.Item{
			{Blocks: []app.Block{npara(ntext("Échographie", 0))}}, {Blocks: []app.Block{npara(ntext("Bilan", 0))}}}})
		tb := &app.Table{Header: []app.Row{{Cells: []app.Cell{ncell("Date", 1), ncell("Examen", 1), ncell("Résultat", 1)}}}}
		for r := range 10 {
			tb.Body = append(tb.Body, app.Row{Cells: []app.Cell{ncell(fmt.Sprintf("%02d/01/2026", r+1), 1), ncell("Créatinine", 1), ncell("72 µmol/L", 1)}})
		}
		blocks = append(blocks, app.Block{Kind: app.BlockTable, Table: tb})
		ss[i] = app.Section{Title: fmt.Sprintf("Section %d", i), Text: app.Narrative{Blocks: blocks}}
	}
	return ss
}

// BenchmarkRenderNarrative measures a 50-page narrative from the sections
// to the widgets laid out at 800 units wide in the test driver: buildFlow
// (off the UI goroutine in the viewer), renderFlow and the first layout.
func BenchmarkRenderNarrative(b *testing.B) {
	test.NewTempApp(b)
	ss := longNarrative()
	w := test.NewTempWindow(b, widget.NewLabel(""))
	w.Resize(fyne.NewSize(800, 600))
	b.ResetTimer()
	for b.Loop() {
		box := renderFlow(buildFlow(ss))
		box.Resize(fyne.NewSize(800, box.MinSize().Height))
	}
}
