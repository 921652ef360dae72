package pdfrender

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/png"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-pdf/fpdf"
)

// samplePDF makes an A4 PDF of pages pages, each with a heading, a line of
// text and a filled black rectangle (so that a rendered page is not blank).
func samplePDF(t testing.TB, pages int) []byte {
	t.Helper()
	f := fpdf.New("P", "mm", "A4", "")
	f.SetFont("Helvetica", "", 14)
	for i := 1; i <= pages; i++ {
		f.AddPage()
		f.Cell(40, 10, "Compte rendu, page "+strconv.Itoa(i))
		f.Rect(20, 40, 80, 30, "F")
	}
	var b bytes.Buffer
	if err := f.Output(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

var shared = New()

func ctx(t testing.TB) context.Context {
	// A hang guard, not a deadline that decides the outcome: the first
	// call compiles the WebAssembly module (seconds on a loaded machine).
	c, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return c
}

// TestRenderAgainstPoppler: the page count and the page image agree with
// poppler (pdfinfo, pdftoppm at the same resolution), an independent PDF
// implementation: same pixel size, ink in the same places.
func TestRenderAgainstPoppler(t *testing.T) {
	pdf := samplePDF(t, 3)
	n, err := shared.PageCount(ctx(t), pdf)
	if err != nil || n != 3 {
		t.Fatalf("PageCount = %d, %v; want 3", n, err)
	}
	b, err := shared.RenderPage(ctx(t), pdf, 2)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	// A4 at 110 dpi: 909 × 1286 pixels.
	if got := img.Bounds().Size(); got.X < 905 || got.X > 912 || got.Y < 1282 || got.Y > 1290 {
		t.Fatalf("page size %v, want about 909x1286", got)
	}
	// The filled rectangle (20..100 mm, 40..70 mm) is dark, the margin white.
	if !dark(img, mm(60), mm(55)) || dark(img, mm(150), mm(200)) {
		t.Fatal("the rectangle is not where the PDF draws it")
	}
	if _, err := exec.LookPath("pdftoppm"); err != nil {
		t.Skip("pdftoppm (poppler-utils) not installed: no cross-check")
	}
	cmd := exec.Command("pdftoppm", "-png", "-f", "2", "-l", "2", "-r", strconv.Itoa(Resolution), "-singlefile", "-")
	cmd.Stdin = bytes.NewReader(pdf)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	ref, err := png.Decode(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	rs, gs := ref.Bounds().Size(), img.Bounds().Size()
	if abs(rs.X-gs.X) > 2 || abs(rs.Y-gs.Y) > 2 {
		t.Fatalf("pdfium %v, poppler %v", gs, rs)
	}
	// Ink agrees on a coarse grid (anti-aliasing differs at edges).
	var differ, total int
	for y := 5; y < min(rs.Y, gs.Y)-5; y += 7 {
		for x := 5; x < min(rs.X, gs.X)-5; x += 7 {
			total++
			if dark(img, x, y) != dark(ref, x, y) {
				differ++
			}
		}
	}
	if differ*100 > total {
		t.Fatalf("%d of %d sampled pixels differ from poppler's rendering", differ, total)
	}
}

func mm(v float64) int { return int(v * Resolution / 25.4) }

func dark(img image.Image, x, y int) bool {
	r, g, b, _ := img.At(x, y).RGBA()
	return (r+g+b)/3 < 0x8000
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

// TestHostileInput: bad documents and page numbers give an error, never a
// panic or a hang, and the renderer still works afterwards.
func TestHostileInput(t *testing.T) {
	good := samplePDF(t, 1)
	truncated := good[:len(good)/2]
	cases := []struct {
		name string
		pdf  []byte
		page int
		want error
	}{
		{"empty", nil, 1, nil},
		{"not a pdf", []byte("MIME-Version: 1.0\r\n\r\nhello"), 1, nil},
		{"header only", []byte("%PDF-1.7\n"), 1, nil},
		{"garbage after header", append([]byte("%PDF-1.4\n"), bytes.Repeat([]byte{0xff, 0x00, '(', ')'}, 4096)...), 1, nil},
		{"page 0", good, 0, ErrBadPage},
		{"page past the end", good, 2, ErrBadPage},
		{"negative page", good, -3, ErrBadPage},
		{"too large", make([]byte, MaxBytes+1), 1, ErrTooLarge},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := shared.RenderPage(ctx(t), c.pdf, c.page)
			if err == nil {
				t.Fatal("no error")
			}
			if c.want != nil && !errors.Is(err, c.want) {
				t.Fatalf("err %v, want %v", err, c.want)
			}
			if strings.Contains(err.Error(), "Compte rendu") {
				t.Fatalf("the error quotes the document: %v", err)
			}
		})
	}
	// A truncated PDF: PDFium may repair it; either way no panic, and a
	// page, when rendered, decodes.
	if b, err := shared.RenderPage(ctx(t), truncated, 1); err == nil {
		if _, err := png.Decode(bytes.NewReader(b)); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := shared.PageCount(ctx(t), good); err != nil || n != 1 {
		t.Fatalf("after hostile input: PageCount = %d, %v", n, err)
	}
}

// TestCancelled: a context already ended fails at once.
func TestCancelled(t *testing.T) {
	c, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := shared.RenderPage(c, samplePDF(t, 1), 1); err == nil {
		t.Fatal("no error with a cancelled context")
	}
}

func TestFitDPI(t *testing.T) {
	for _, c := range []struct {
		w, h float64
		want int
	}{
		{595, 842, Resolution}, // A4
		{14400, 842, 12},       // a very wide page: 2400 px wide
		{595, 14400, 17},       // a very tall page
		{0, 0, Resolution},     // broken size: default
		{-1, 100, Resolution},  // broken size: default
		{1e300, 1e300, 1},      // absurd: at least 1 dpi
	} {
		if got := fitDPI(c.w, c.h); got != c.want {
			t.Errorf("fitDPI(%v, %v) = %d, want %d", c.w, c.h, got, c.want)
		}
	}
}

// FuzzRenderPage: no input panics or hangs the renderer.
func FuzzRenderPage(f *testing.F) {
	f.Add(samplePDF(f, 1), 1)
	f.Add([]byte("%PDF-1.7\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF"), 1)
	// Compile the module before the first input, in every fuzzing
	// process: the fuzzer takes a first call of seconds for a hang.
	if err := shared.Warm(ctx(f)); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, pdf []byte, page int) {
		b, err := shared.RenderPage(context.Background(), pdf, page)
		if err == nil {
			if _, err := png.Decode(bytes.NewReader(b)); err != nil {
				t.Fatalf("rendered page does not decode: %v", err)
			}
		}
	})
}

// BenchmarkPDFPageRender: one A4 page, PDFium in WebAssembly (the module
// already compiled), PNG included: what a Windows user waits per page.
func BenchmarkPDFPageRender(b *testing.B) {
	pdf := samplePDF(b, 1)
	if _, err := shared.RenderPage(context.Background(), pdf, 1); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := shared.RenderPage(context.Background(), pdf, 1); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPDFPageRenderPoppler: the same page through today's Linux path,
// pdftoppm with the PDF on its standard input, for comparison.
func BenchmarkPDFPageRenderPoppler(b *testing.B) {
	if _, err := exec.LookPath("pdftoppm"); err != nil {
		b.Skip("pdftoppm not installed")
	}
	pdf := samplePDF(b, 1)
	for b.Loop() {
		cmd := exec.Command("pdftoppm", "-png", "-f", "1", "-l", "1", "-r", strconv.Itoa(Resolution), "-singlefile", "-")
		cmd.Stdin = bytes.NewReader(pdf)
		if _, err := cmd.Output(); err != nil {
			b.Fatal(err)
		}
	}
}
