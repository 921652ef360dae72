package ui

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/carnetdesk/carnet/app"
)

// tinyPDF returns a PDF of n pages of 200 × 100 points, page i holding a
// black bar 20·i points wide, with a correct cross-reference table.
func tinyPDF(n int) []byte {
	var objs []string
	kids := make([]string, n)
	for i := range n {
		kids[i] = fmt.Sprintf("%d 0 R", 3+2*i)
	}
	objs = append(objs, "<< /Type /Catalog /Pages 2 0 R >>",
		fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", strings.Join(kids, " "), n))
	for i := range n {
		s := fmt.Sprintf("0 0 0 rg 10 10 %d 30 re f", 20*(i+1))
		objs = append(objs, fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 100] /Contents %d 0 R >>", 4+2*i),
			fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(s), s))
	}
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n")
	offs := make([]int, len(objs))
	for i, o := range objs {
		offs[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
	return b.Bytes()
}

// TestPopplerRenderer runs the real pdftoppm and pdfinfo (Debian
// poppler-utils) through pipes; skipped when they are not installed.
func TestPopplerRenderer(t *testing.T) {
	r, err := newPopplerRenderer()
	if err != nil {
		t.Skipf("poppler-utils not installed: %v", err)
	}
	pdf := tinyPDF(3)
	ctx := context.Background()
	n, err := r.PageCount(ctx, pdf)
	if err != nil || n != 3 {
		t.Fatalf("PageCount = %d, %v; want 3", n, err)
	}
	out, err := r.RenderPage(ctx, pdf, 2)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(out))
	if err != nil {
		t.Fatalf("page 2 is not a PNG: %v", err)
	}
	// 200 × 100 points at 110 dpi.
	if b := img.Bounds(); b.Dx() < 300 || b.Dx() > 310 || b.Dy() < 150 || b.Dy() > 155 {
		t.Errorf("page 2 is %v, want about 306 × 153", b)
	}
	// The bar of page 2 is 40 points wide: black at 30 points, white at 60.
	dark := func(xPt float64) bool {
		r, g, b, _ := img.At(int(xPt*110/72), img.Bounds().Dy()-int(25*110/72)).RGBA()
		return r+g+b < 3*0x4000
	}
	if !dark(30) || dark(60) {
		t.Error("page 2 does not show its 40-point bar")
	}
	if _, err := r.RenderPage(ctx, pdf, 9); err == nil {
		t.Error("a page past the end rendered")
	}
	if _, err := r.PageCount(ctx, []byte("not a pdf")); err == nil {
		t.Error("garbage has a page count")
	}
	// The output cap kills the tool and fails.
	if _, err := r.run(ctx, pdf, 10, r.pdftoppm, "-png", "-f", "1", "-l", "1", "-singlefile", "-"); !errors.Is(err, errPDFTooLarge) {
		t.Errorf("output above the cap: %v, want errPDFTooLarge", err)
	}
	// A cancelled context stops it.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := r.RenderPage(cctx, pdf, 1); err == nil {
		t.Error("a cancelled rendering succeeded")
	}
}

func TestPDFTooLarge(t *testing.T) {
	r := &popplerRenderer{pdftoppm: "/nonexistent", pdfinfo: "/nonexistent"}
	if _, err := r.PageCount(context.Background(), make([]byte, pdfMaxBytes+1)); !errors.Is(err, errPDFTooLarge) {
		t.Errorf("PageCount of a huge PDF: %v, want errPDFTooLarge", err)
	}
}

func TestExtensionOf(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"application/pdf", ".pdf"}, {"image/TIFF", ".tiff"}, {"text/rtf; charset=x", ".rtf"}, {"application/x-foo", ".bin"},
	} {
		if got := extensionOf(tc.in); got != tc.want {
			t.Errorf("extensionOf(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestViewerCopiesCrashLeftWipedAtStart: plaintext copies a crashed session
// left in the private viewer directory are gone as soon as Carnet starts
// (before any new copy), and a lock removes copies that appeared while it
// ran, even when this session never made one.
func TestViewerCopiesCrashLeftWipedAtStart(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	dir := filepath.Join(cache, "carnet", "viewer")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(dir, "left-by-a-crash.pdf")
	if err := os.WriteFile(stale, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	f := newLockedFixture(t, Options{})
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Fatal("a copy left by a crashed session survived the start")
	}
	// Another (crashed) instance's copy appears; this session copies
	// nothing; the lock still removes it.
	if err := os.WriteFile(stale, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	f.unlock()
	f.svc.Lock(app.LockByUser)
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Fatal("a lock left a crash-left copy in place")
	}
	f.wait()
}

// stubRenderer stands for Options.PDFRenderer (package pdfrender in main).
type stubRenderer struct{}

func (stubRenderer) PageCount(context.Context, []byte) (int, error)          { return 1, nil }
func (stubRenderer) RenderPage(context.Context, []byte, int) ([]byte, error) { return nil, nil }

// TestPDFFallbackWithoutPoppler: without pdftoppm on the PATH (Windows),
// PDFs go to Options.PDFRenderer; with it, to poppler.
func TestPDFFallbackWithoutPoppler(t *testing.T) {
	old := pdfFallback.Load()
	t.Cleanup(func() { pdfFallback.Store(old) })
	pdfFallback.Store(nil)
	t.Setenv("PATH", t.TempDir())
	if r := pdfRendererFor(); r != nil {
		t.Fatalf("no poppler, no fallback: renderer %T, want none", r)
	}
	var f PDFRenderer = stubRenderer{}
	pdfFallback.Store(&f)
	if r, ok := pdfRendererFor().(stubRenderer); !ok {
		t.Fatalf("no poppler: renderer %T, want Options.PDFRenderer", r)
	}
}
