package ui

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/apptest"
)

// readerDocs is a fake document reader over documents built by hand,
// found by id.
type readerDocs struct {
	mu   sync.Mutex
	docs map[app.DocumentID]app.ClinicalDocument
	// gate, when set, blocks every read until it is closed.
	gate chan struct{}
}

func (r *readerDocs) read(_ []byte, meta app.DocumentMeta) (app.ClinicalDocument, error) {
	if r.gate != nil {
		<-r.gate
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	cd, ok := r.docs[meta.ID]
	if !ok {
		return app.ClinicalDocument{Meta: meta, Title: meta.Title}, nil
	}
	cd.Meta = meta
	return cd, nil
}

// seedRecord unlocks f, stores the manifest of patient p1 with docs (the
// cached ones with some content), wires a reader over cds and returns the
// record as the record view would hold it.
func seedRecord(f *fixture, docs []app.DocumentMeta, cds map[app.DocumentID]app.ClinicalDocument) (app.PatientRecord, *readerDocs) {
	f.t.Helper()
	f.unlock()
	b := &app.Batch{Manifests: []app.Manifest{{Patient: "p1", Documents: docs, CheckedAt: testNow}}}
	for _, d := range docs {
		if d.Cached {
			b.Documents = append(b.Documents, app.DocumentContent{Patient: "p1", ID: d.ID, Bytes: []byte("content of " + d.ID)})
		}
	}
	if err := f.store.Write(context.Background(), b); err != nil {
		f.t.Fatal(err)
	}
	r := &readerDocs{docs: cds}
	f.svc.SetDocumentReader(&apptest.Reader{ReadFn: r.read})
	p, err := f.store.Patient(context.Background(), "p1")
	if err != nil {
		f.t.Fatal(err)
	}
	return app.PatientRecord{Patient: p, Manifest: app.Manifest{Patient: "p1", Documents: docs, CheckedAt: testNow},
		Access: app.Access{Mode: app.AccessNormal}}, r
}

// showView puts a view's content in the window at a fixed size.
func showView(f *fixture, content fyne.CanvasObject, size fyne.Size) {
	w := f.u.Window()
	w.SetContent(content)
	w.Resize(size)
	relayout(content)
}

// letterMeta is the metadata of the test letter.
var letterMeta = app.DocumentMeta{
	ID: "1.2.250.1.999.1", TypeCode: "11490-0", Title: "Lettre de liaison", Date: testNow.AddDate(0, 0, -3),
	Author: "Dr Claire Martin", Organisation: "Hôpital Saint-Louis", MediaType: "text/xml", Cached: true,
	Visibility: app.Visibility{HiddenFromPatient: true},
}

func ntext(s string, st app.Style) app.Inline {
	return app.Inline{Kind: app.InlineText, Text: s, Style: st}
}

func npara(in ...app.Inline) app.Block { return app.Block{Kind: app.BlockParagraph, Inlines: in} }

func ncell(s string, span int) app.Cell {
	return app.Cell{ColSpan: span, RowSpan: 1, Blocks: []app.Block{npara(ntext(s, 0))}}
}

// letter is a structured document with every kind of block: paragraphs
// with styles, a link and a footnote call, a nested list, a table with a
// header (one cell spanning two columns), a body and a footer, a media
// reference, and nested sections.
func letter() app.ClinicalDocument {
	table := &app.Table{
		Caption: []app.Inline{ntext("Traitement de sortie", 0)},
		Header: []app.Row{{Cells: []app.Cell{ncell("Médicament", 1), ncell("Posologie", 2)}},
			{Cells: []app.Cell{ncell("", 1), ncell("Matin", 1), ncell("Soir", 1)}}},
		Body: []app.Row{
			{Cells: []app.Cell{ncell("ELIQUIS 5 mg", 1), ncell("1", 1), ncell("1", 1)}},
			{Cells: []app.Cell{ncell("AMLODIPINE 5 mg", 1), ncell("1", 1), ncell("0", 1)}},
		},
		Footer: []app.Row{{Cells: []app.Cell{ncell("Ordonnance remise au patient", 3)}}},
	}
	return app.ClinicalDocument{
		Title:   "Lettre de liaison à la sortie",
		Type:    app.Code{Code: "11490-0", Display: "Lettre de liaison à la sortie d'un établissement de soins"},
		Authors: []string{"Dr Claire Martin"},
		Flags:   []string{app.ReadFlagTestINS},
		Sections: []app.Section{
			{Title: "Motif d'hospitalisation", Text: app.Narrative{
				Blocks: []app.Block{
					npara(ntext("Patiente hospitalisée pour ", 0), ntext("fibrillation atriale", app.Bold),
						ntext(" découverte ", 0), ntext("fortuitement", app.Italic),
						app.Inline{Kind: app.InlineFootnoteRef, Ref: "fn-a"}, app.Inline{Kind: app.InlineBreak},
						ntext("Voir ", 0), app.Inline{Kind: app.InlineLink, Text: "le protocole", Href: "https://example.org/p"}),
					{Kind: app.BlockList, Items: []app.Item{
						{Blocks: []app.Block{npara(ntext("Échographie cardiaque", 0))}},
						{Blocks: []app.Block{npara(ntext("Bilan biologique", 0)), {Kind: app.BlockList, Ordered: true,
							Items: []app.Item{{Blocks: []app.Block{npara(ntext("Créatinine", 0))}}}}}},
					}},
				},
				Footnotes: []app.Footnote{{ID: "fn-a", Inlines: []app.Inline{ntext("Lors d'un bilan préopératoire.", 0)}}},
			}},
			{Title: "Traitements", Text: app.Narrative{Blocks: []app.Block{
				{Kind: app.BlockTable, Table: table},
				{Kind: app.BlockMedia, Media: &app.Media{Refs: []string{"ecg-1"}}},
			}}, Sections: []app.Section{{Title: "Allergies", Text: app.Narrative{Blocks: []app.Block{
				npara(ntext("Aucune allergie connue.", 0))}}}}},
		},
	}
}

// openViewer shows the viewer of doc over the window and waits for the
// reading.
func openViewer(f *fixture, rec app.PatientRecord, doc app.DocumentID) (*viewerView, *bool) {
	back := false
	v := newViewerView(f.u, rec, rec.Access, doc)
	v.onBack = func() { back = true }
	showView(f, v.buildUI(), fyne.NewSize(800, 700))
	f.wait()
	relayout(v.root)
	return v, &back
}

func TestViewerNarrative(t *testing.T) {
	f := newLockedFixture(t, Options{})
	rec, _ := seedRecord(f, []app.DocumentMeta{letterMeta}, map[app.DocumentID]app.ClinicalDocument{letterMeta.ID: letter()})
	v, back := openViewer(f, rec, letterMeta.ID)

	assertText(t, "title", v.title.Text, "Lettre de liaison à la sortie")
	assertText(t, "details", v.details.Text,
		"Lettre de liaison à la sortie d'un établissement de soins · 27/02/2026 · Dr Claire Martin · Hôpital Saint-Louis")
	assertText(t, "visibility", v.visibility.Text, "Invisible pour le patient")
	assertText(t, "warning", v.warning.Text, "INS de test : ce document ne concerne pas un patient réel.")
	if !v.warning.Visible() || v.msg.Visible() {
		t.Error("the reader's warning is hidden, or an error shows")
	}
	if v.flow == nil {
		t.Fatal("no narrative rendered")
	}
	all := strings.Join(flowTexts(v.flow), "\n")
	for _, want := range []string{
		"Motif d'hospitalisation", "fibrillation atriale", "fortuitement[1]", "le protocole ⟨https://example.org/p⟩",
		"•  Échographie cardiaque", "1. Créatinine", "Traitement de sortie", "Médicament", "Posologie", "ELIQUIS 5 mg",
		"Ordonnance remise au patient", "1. Lors d'un bilan préopératoire.", "[image intégrée non affichée : ecg-1]",
		"Allergies", "Aucune allergie connue.",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("narrative does not show %q", want)
		}
	}
	test.Tap(v.back)
	if !*back {
		t.Error("the back button did not go back")
	}
	test.AssertRendersToMarkup(t, "viewer_narrative.xml", f.u.Window().Canvas())
}

func TestViewerTableLayout(t *testing.T) {
	test.NewTempApp(t)
	tb := newNarrativeTable(newTableModel(letter().Sections[1].Text.Blocks[0].Table, nil))
	w := test.NewTempWindow(t, tb)
	w.Resize(fyne.NewSize(600, 400))
	m := tb.model
	if m.rows != 5 || m.cols != 3 {
		t.Fatalf("grid %d×%d, want 5×3", m.rows, m.cols)
	}
	byText := map[string]int{}
	for i, c := range m.cells {
		byText[c.text] = i
	}
	span := tb.cells[byText["Posologie"]]
	matin, soir := tb.cells[byText["Matin"]], tb.cells[byText["Soir"]]
	if span.Position().X != matin.Position().X || span.Size().Width < soir.Position().X+soir.Size().Width-matin.Position().X-1 {
		t.Errorf("the spanning header cell does not cover its two columns: %v %v, %v %v", span.Position(), span.Size(), matin.Position(), soir.Position())
	}
	if !m.cells[byText["Médicament"]].header || m.cells[byText["ELIQUIS 5 mg"]].header || !m.cells[byText["Ordonnance remise au patient"]].footer {
		t.Error("header, body and footer rows are not told apart")
	}
	if seg, ok := tb.cells[byText["Médicament"]].Segments[0].(*widget.TextSegment); !ok || !seg.Style.TextStyle.Bold {
		t.Error("header cells are not bold")
	}
	// Squeezed, the columns shrink and the table grows taller.
	tall := tb.MinSize().Height
	tb.Resize(fyne.NewSize(160, tall))
	if h := tb.MinSize().Height; h <= tall {
		t.Errorf("a narrow table is %v tall, not taller than %v", h, tall)
	}
}

func TestViewerPDF(t *testing.T) {
	fake := &fakePDF{pages: 3}
	defer swapPDFRenderer(fake)()
	f := newLockedFixture(t, Options{})
	meta := letterMeta
	meta.MediaType = "application/pdf"
	rec, _ := seedRecord(f, []app.DocumentMeta{meta}, map[app.DocumentID]app.ClinicalDocument{meta.ID: {
		Title: "Compte rendu", Attachment: &app.Attachment{MediaType: "application/pdf", DeclaredType: "application/pdf", Data: []byte("%PDF-1.4 fake")},
	}})
	v, _ := openViewer(f, rec, meta.ID)
	p := v.pdf
	if p == nil {
		t.Fatal("no PDF view")
	}
	assertText(t, "page", p.pageLabel.Text, "Page 1 / 3")
	if !p.prev.Disabled() || p.next.Disabled() {
		t.Error("on page 1: previous should be disabled, next enabled")
	}
	if b := p.page.Image.Bounds(); b.Dx() != 100 {
		t.Errorf("page 1 image is %d wide, want 100", b.Dx())
	}
	test.Tap(p.next)
	f.wait()
	test.Tap(p.next)
	f.wait()
	assertText(t, "page", p.pageLabel.Text, "Page 3 / 3")
	if !p.next.Disabled() || p.prev.Disabled() {
		t.Error("on the last page: next should be disabled, previous enabled")
	}
	if b := p.page.Image.Bounds(); b.Dx() != 300 {
		t.Errorf("page 3 image is %d wide, want 300", b.Dx())
	}
	test.Tap(p.prev)
	f.wait()
	assertText(t, "page", p.pageLabel.Text, "Page 2 / 3")
	if got := fake.rendered(); got != 3 {
		t.Errorf("%d pages rendered, want 3 (page 2 kept in memory)", got)
	}
	v.dispose()
	if p.pages != nil || p.data != nil {
		t.Error("the PDF view still holds the document")
	}
}

func TestViewerFallbackAndLockWipes(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	dir := filepath.Join(cache, "carnet", "viewer")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(dir, "left-by-a-crash.pdf")
	if err := os.WriteFile(stale, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	f := newLockedFixture(t, Options{})
	meta := letterMeta
	meta.MediaType = "image/tiff"
	tiff := []byte("II*\x00 a scanned letter")
	rec, _ := seedRecord(f, []app.DocumentMeta{meta}, map[app.DocumentID]app.ClinicalDocument{meta.ID: {
		Title: "Courrier scanné", Flags: []string{app.ReadFlagMediaMismatch},
		Attachment: &app.Attachment{MediaType: "image/tiff", DeclaredType: "application/pdf", Data: tiff},
	}})
	v, _ := openViewer(f, rec, meta.ID)
	assertText(t, "warning", v.warning.Text, "Le type déclaré du fichier (application/pdf) ne correspond pas à son contenu (image/tiff).")
	if v.external == nil {
		t.Fatal("no system viewer button")
	}
	if !f.shows("copie temporaire non chiffrée") {
		t.Error("the temporary copy is not announced")
	}
	test.AssertRendersToMarkup(t, "viewer_external.xml", f.u.Window().Canvas())
	test.Tap(v.external)
	f.wait()
	if filepath.Dir(v.opened) != dir || filepath.Ext(v.opened) != ".tiff" {
		t.Fatalf("copy written to %q, want a .tiff in %s", v.opened, dir)
	}
	if got, err := os.ReadFile(v.opened); err != nil || !bytes.Equal(got, tiff) {
		t.Errorf("copy holds %q (%v)", got, err)
	}
	for path, want := range map[string]os.FileMode{dir: 0o700, v.opened: 0o600} {
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v (%v), want %v", path, fi.Mode().Perm(), err, want)
		}
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Error("a copy left by an earlier session was not removed")
	}
	f.svc.Lock(app.LockByUser)
	if entries, err := os.ReadDir(dir); err != nil || len(entries) != 0 {
		t.Errorf("after the lock the copies directory holds %d files (%v)", len(entries), err)
	}
	f.wait()
}

func TestViewerPDFWithoutRenderer(t *testing.T) {
	defer swapPDFRenderer(nil)()
	f := newLockedFixture(t, Options{})
	meta := letterMeta
	rec, _ := seedRecord(f, []app.DocumentMeta{meta}, map[app.DocumentID]app.ClinicalDocument{meta.ID: {
		Attachment: &app.Attachment{MediaType: "application/pdf", Data: []byte("%PDF-1.4")},
	}})
	v, _ := openViewer(f, rec, meta.ID)
	if v.pdf != nil || v.external == nil || !f.shows("poppler-utils") {
		t.Error("without a renderer a PDF should offer the system viewer and say why")
	}
}

func TestViewerImageAndText(t *testing.T) {
	f := newLockedFixture(t, Options{})
	img := image.NewRGBA(image.Rect(0, 0, 1800, 600))
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	a, b := letterMeta, letterMeta
	b.ID = "1.2.250.1.999.2"
	rec, _ := seedRecord(f, []app.DocumentMeta{a, b}, map[app.DocumentID]app.ClinicalDocument{
		a.ID: {Attachment: &app.Attachment{MediaType: "image/png", Data: buf.Bytes()}},
		b.ID: {Attachment: &app.Attachment{MediaType: "text/plain", Data: []byte("Compte rendu\tbrut\xff")}},
	})
	v, _ := openViewer(f, rec, a.ID)
	if v.image == nil || v.image.MinSize() != fyne.NewSize(viewerImageWidth, 300) {
		t.Errorf("image not shown scaled to %d wide", viewerImageWidth)
	}
	v, _ = openViewer(f, rec, b.ID)
	if v.text == nil || v.text.Text != "Compte rendu\tbrut\uFFFD" || !v.text.TextStyle.Monospace {
		t.Error("plain text not shown in a monospace label")
	}
}

func TestViewerCancel(t *testing.T) {
	f := newLockedFixture(t, Options{})
	rec, r := seedRecord(f, []app.DocumentMeta{letterMeta}, map[app.DocumentID]app.ClinicalDocument{letterMeta.ID: letter()})
	r.gate = make(chan struct{})
	v := newViewerView(f.u, rec, rec.Access, letterMeta.ID)
	showView(f, v.buildUI(), fyne.NewSize(800, 600))
	if !v.progress.box.Visible() {
		t.Fatal("no progress while reading")
	}
	test.Tap(v.progress.cancel)
	close(r.gate)
	f.wait()
	if v.flow != nil || !v.retry.Visible() || v.msg.Text != "Lecture du document annulée." {
		t.Error("a cancelled reading should show nothing but the retry")
	}
	test.Tap(v.retry)
	f.wait()
	if v.flow == nil {
		t.Error("retry did not show the document")
	}
}

// fakePDF renders page n as a blank PNG n×100 wide.
type fakePDF struct {
	pages int
	mu    sync.Mutex
	calls int
}

func (p *fakePDF) PageCount(context.Context, []byte) (int, error) { return p.pages, nil }

func (p *fakePDF) RenderPage(_ context.Context, _ []byte, n int) ([]byte, error) {
	p.mu.Lock()
	p.calls++
	p.mu.Unlock()
	img := image.NewRGBA(image.Rect(0, 0, 100*n, 140))
	img.Set(0, 0, color.Black)
	var b bytes.Buffer
	err := png.Encode(&b, img)
	return b.Bytes(), err
}

func (p *fakePDF) rendered() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls
}

// swapPDFRenderer makes r the PDF renderer until the returned function
// runs.
func swapPDFRenderer(r pdfRenderer) func() {
	old := pdfRendererFor
	pdfRendererFor = func() pdfRenderer {
		if r == nil {
			return nil
		}
		return r
	}
	return func() { pdfRendererFor = old }
}
