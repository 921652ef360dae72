package ui

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// This file shows PDF attachments as page images without writing them to
// disk, and keeps the temporary copies of the documents Carnet cannot show
// itself (opened in the system viewer) in a private directory wiped at
// every lock. These are the only places where package ui runs a program or
// writes a file.

// pdfRenderer renders the pages of a PDF held in memory. Tests fake it.
type pdfRenderer interface {
	// PageCount returns the number of pages of pdf.
	PageCount(ctx context.Context, pdf []byte) (int, error)
	// RenderPage renders page n (from 1) of pdf as a PNG image.
	RenderPage(ctx context.Context, pdf []byte, n int) ([]byte, error)
}

// PDFRenderer renders the pages of a PDF held in memory, nothing written
// to disk; its methods block and are called off the UI goroutine.
// Options.PDFRenderer sets the one Carnet uses where poppler's pdftoppm is
// not installed, which is every Windows machine (main passes package
// pdfrender's: PDFium in WebAssembly).
type PDFRenderer interface {
	// PageCount returns the number of pages of pdf.
	PageCount(ctx context.Context, pdf []byte) (int, error)
	// RenderPage renders page n (from 1) of pdf as a PNG image.
	RenderPage(ctx context.Context, pdf []byte, n int) ([]byte, error)
}

// pdfFallback holds Options.PDFRenderer (set by New).
var pdfFallback atomic.Pointer[PDFRenderer]

// pdfRendererFor returns the PDF renderer of this machine: poppler when
// installed, else Options.PDFRenderer, else nil: the viewer then offers
// the system viewer. Tests replace it.
var pdfRendererFor = func() pdfRenderer {
	r, err := newPopplerRenderer()
	if err == nil {
		return r
	}
	if f := pdfFallback.Load(); f != nil {
		return *f
	}
	return nil
}

// Limits of the PDF rendering.
const (
	pdfMaxBytes    = 64 << 20         // a larger PDF goes to the system viewer
	pdfMaxPNGBytes = 48 << 20         // output of one page
	pdfTimeout     = 20 * time.Second // per call of pdftoppm or pdfinfo
	pdfResolution  = 110              // dots per inch: an A4 page is 910 × 1286 pixels
	// pdfMaxPixels bounds the page bitmap (pdftoppm -W -H crops the page to
	// it), so that a page with a huge media box cannot exhaust memory.
	pdfMaxWidth, pdfMaxHeight = 2400, 3400
)

// errPDFTooLarge is returned for a PDF above pdfMaxBytes or a page above
// pdfMaxPNGBytes.
var errPDFTooLarge = errors.New("ui: pdf: too large to render")

// popplerRenderer runs pdfinfo and pdftoppm (Debian poppler-utils) with the
// PDF on their standard input and the image on their standard output:
// nothing is written to disk.
type popplerRenderer struct {
	pdftoppm, pdfinfo string
}

func newPopplerRenderer() (*popplerRenderer, error) {
	ppm, err := exec.LookPath("pdftoppm")
	if err != nil {
		return nil, fmt.Errorf("ui: pdf: %w", err)
	}
	info, err := exec.LookPath("pdfinfo")
	if err != nil {
		return nil, fmt.Errorf("ui: pdf: %w", err)
	}
	return &popplerRenderer{pdftoppm: ppm, pdfinfo: info}, nil
}

// PageCount implements pdfRenderer with pdfinfo.
func (p *popplerRenderer) PageCount(ctx context.Context, pdf []byte) (int, error) {
	out, err := p.run(ctx, pdf, 1<<20, p.pdfinfo, "-")
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "Pages:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || n < 1 {
				return 0, errors.New("ui: pdf: bad page count")
			}
			return n, nil
		}
	}
	return 0, errors.New("ui: pdf: no page count")
}

// RenderPage implements pdfRenderer with pdftoppm.
func (p *popplerRenderer) RenderPage(ctx context.Context, pdf []byte, n int) ([]byte, error) {
	page := strconv.Itoa(n)
	return p.run(ctx, pdf, pdfMaxPNGBytes, p.pdftoppm, "-png", "-f", page, "-l", page,
		"-r", strconv.Itoa(pdfResolution), "-x", "0", "-y", "0",
		"-W", strconv.Itoa(pdfMaxWidth), "-H", strconv.Itoa(pdfMaxHeight), "-singlefile", "-")
}

// run runs a poppler tool with pdf on its standard input and returns its
// standard output, at most limit bytes, within pdfTimeout. Its standard
// error is dropped: it may quote the document.
func (p *popplerRenderer) run(ctx context.Context, pdf []byte, limit int64, tool string, args ...string) ([]byte, error) {
	if len(pdf) > pdfMaxBytes {
		return nil, errPDFTooLarge
	}
	ctx, cancel := context.WithTimeout(ctx, pdfTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, tool, args...)
	cmd.Stdin = bytes.NewReader(pdf)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("ui: pdf: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("ui: pdf: start %s: %w", filepath.Base(tool), err)
	}
	out, readErr := io.ReadAll(io.LimitReader(stdout, limit+1))
	if int64(len(out)) > limit {
		cancel() // kills the tool
		_ = cmd.Wait()
		return nil, errPDFTooLarge
	}
	waitErr := cmd.Wait()
	switch {
	case ctx.Err() != nil:
		return nil, fmt.Errorf("ui: pdf: %s: %w", filepath.Base(tool), ctx.Err())
	case waitErr != nil:
		return nil, fmt.Errorf("ui: pdf: %s: %w", filepath.Base(tool), waitErr)
	case readErr != nil:
		return nil, fmt.Errorf("ui: pdf: %s: %w", filepath.Base(tool), readErr)
	}
	return out, nil
}

// pdfPageCache bounds the pages a pdfView keeps decoded.
const pdfPageCache = 6

// pdfView shows a PDF one page at a time, rendered off the UI goroutine by
// a pdfRenderer, with previous / next buttons and the page number.
type pdfView struct {
	taskFrame // u, disposed, and the background work (tasks.go)
	renderer  pdfRenderer
	data      []byte

	prev, next *widget.Button
	pageLabel  *widget.Label
	msg        *widget.Label
	page       *canvas.Image
	scroll     *container.Scroll
	box        *fyne.Container

	ctx     context.Context
	cancel  context.CancelFunc
	count   int // pages, 0 until known
	current int // page shown (from 1), 0 before the first
	wanted  int // page asked last
	pages   map[int]image.Image
	order   []int // pages, least recently shown first
}

func newPDFView(u *UI, r pdfRenderer, data []byte) *pdfView {
	ctx, cancel := context.WithCancel(u.ctx)
	v := &pdfView{taskFrame: frame(u), renderer: r, data: data, ctx: ctx, cancel: cancel, pages: map[int]image.Image{}}
	v.prev = widget.NewButtonWithIcon(tr("viewer.pdf.prev"), theme.NavigateBackIcon(), func() { v.show(v.wanted - 1) })
	v.next = widget.NewButtonWithIcon(tr("viewer.pdf.next"), theme.NavigateNextIcon(), func() { v.show(v.wanted + 1) })
	v.next.IconPlacement = widget.ButtonIconTrailingText
	v.pageLabel = widget.NewLabel("")
	v.msg = newMessage(widget.DangerImportance)
	v.page = canvas.NewImageFromImage(nil)
	v.page.FillMode = canvas.ImageFillContain
	v.page.ScaleMode = canvas.ImageScaleSmooth
	v.scroll = container.NewScroll(container.NewCenter(v.page))
	bar := container.NewHBox(v.prev, v.pageLabel, v.next)
	v.box = container.NewBorder(container.NewVBox(container.NewCenter(bar), v.msg), nil, nil, nil, v.scroll)
	v.updateBar()
	return v
}

// start counts the pages and shows the first.
func (v *pdfView) start() {
	v.pageLabel.SetText(tr("viewer.pdf.rendering"))
	ctx, r, data := v.ctx, v.renderer, v.data // the page's context: dispose cancels it
	v.run(func(context.Context) func() {
		n, err := r.PageCount(ctx, data)
		return func() {
			if err != nil {
				v.failed(err)
				return
			}
			v.count = n
			v.show(1)
		}
	})
}

// show shows page n, rendering it off the UI goroutine when it is not
// kept.
func (v *pdfView) show(n int) {
	if v.disposed || n < 1 || (v.count > 0 && n > v.count) {
		return
	}
	v.u.svc.Touch()
	v.wanted = n
	if img, ok := v.pages[n]; ok {
		v.display(n, img)
		return
	}
	v.updateBar()
	ctx, r, data := v.ctx, v.renderer, v.data
	v.run(func(context.Context) func() {
		img, err := renderPNG(ctx, r, data, n)
		return func() {
			if n != v.wanted {
				return // another page was asked meanwhile
			}
			if err != nil {
				v.failed(err)
				return
			}
			v.keep(n, img)
			v.display(n, img)
		}
	})
}

// renderPNG renders and decodes page n.
func renderPNG(ctx context.Context, r pdfRenderer, data []byte, n int) (image.Image, error) {
	b, err := r.RenderPage(ctx, data, n)
	if err != nil {
		return nil, err
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("ui: pdf: page image: %w", err)
	}
	return img, nil
}

// keep remembers a rendered page, dropping the least recently shown.
func (v *pdfView) keep(n int, img image.Image) {
	v.pages[n] = img
	v.order = append(v.order, n)
	for len(v.order) > pdfPageCache {
		delete(v.pages, v.order[0])
		v.order = v.order[1:]
	}
}

// display shows a rendered page at its pixel size (1 pixel per unit at
// the renderer's resolution), scrolled to its top.
func (v *pdfView) display(n int, img image.Image) {
	v.current = n
	v.page.Image = img
	b := img.Bounds()
	v.page.SetMinSize(fyne.NewSize(float32(b.Dx()), float32(b.Dy())))
	v.page.Refresh()
	v.scroll.ScrollToTop()
	setMessage(v.msg, "")
	v.updateBar()
	v.scroll.Refresh()
}

// failed shows that the PDF could not be rendered.
func (v *pdfView) failed(err error) {
	v.u.log.Warn("pdf rendering failed", "err", err)
	setMessage(v.msg, tr("viewer.pdf.failed"))
	v.updateBar()
}

// updateBar enables the buttons and shows "Page n / N".
func (v *pdfView) updateBar() {
	switch {
	case v.count == 0:
		v.pageLabel.SetText("")
	case v.wanted != v.current:
		v.pageLabel.SetText(tr("viewer.pdf.rendering"))
	default:
		v.pageLabel.SetText(tr("viewer.pdf.page", map[string]any{"N": v.current, "Count": v.count}))
	}
	setEnabled(v.prev, v.wanted > 1)
	setEnabled(v.next, v.count > 0 && v.wanted < v.count)
}

// dispose stops the rendering and drops the pages.
func (v *pdfView) dispose() {
	v.end()
	v.cancel()
	v.pages, v.order, v.data = nil, nil, nil
	v.page.Image = nil
}

// setEnabled enables or disables b.
func setEnabled(b *widget.Button, on bool) {
	if on {
		b.Enable()
	} else {
		b.Disable()
	}
}

// systemCopies keeps the temporary plaintext copies of the documents opened
// in the system viewer, in a private directory (0700) under the user cache
// directory, and removes them all at start-up, at every lock and when the
// window closes: copies a crashed session left behind are gone at the next
// start (or lock), not only at the next copy. Safe for concurrent use: the
// lock hook runs on the goroutine that locks.
type systemCopies struct {
	mu  sync.Mutex
	dir string // empty until the first copy
	log *slog.Logger
}

func newSystemCopies(log *slog.Logger) *systemCopies { return &systemCopies{log: log} }

// viewerDir is where the copies live.
func viewerDir() (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("ui: viewer copies: %w", err)
	}
	return filepath.Join(base, "carnet", "viewer"), nil
}

// copiesDir returns the private directory, created 0700 and emptied of
// copies left by an earlier session on first use. mu is held.
func (c *systemCopies) copiesDir() (string, error) {
	if c.dir != "" {
		return c.dir, nil
	}
	dir, err := viewerDir()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("ui: viewer copies: %w", err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return "", fmt.Errorf("ui: viewer copies: %w", err)
	}
	if !fi.IsDir() {
		return "", errors.New("ui: viewer copies: not a directory")
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return "", fmt.Errorf("ui: viewer copies: %w", err)
	}
	c.dir = dir
	c.wipeLocked(dir)
	return dir, nil
}

// write writes data to a new file of the private directory, named at
// random with the extension of mediaType, and returns its path.
func (c *systemCopies) write(data []byte, mediaType string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	dir, err := c.copiesDir()
	if err != nil {
		return "", err
	}
	var name [12]byte
	if _, err := rand.Read(name[:]); err != nil {
		return "", fmt.Errorf("ui: viewer copies: %w", err)
	}
	path := filepath.Join(dir, hex.EncodeToString(name[:])+extensionOf(mediaType))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("ui: viewer copies: %w", err)
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
		return "", fmt.Errorf("ui: viewer copies: %w", err)
	}
	return path, nil
}

// wipe removes every copy, this session's and any an earlier (crashed)
// session left: the directory is looked up even before the first copy. A
// system viewer that still has one open keeps reading it until it closes
// it; the name is gone at once.
func (c *systemCopies) wipe() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dir != "" {
		c.wipeLocked(c.dir)
		return
	}
	dir, err := viewerDir()
	if err != nil {
		return
	}
	if fi, err := os.Lstat(dir); err == nil && fi.IsDir() {
		c.wipeLocked(dir) // copiesDir still checks and sets its mode at the first copy
	}
}

func (c *systemCopies) wipeLocked(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		c.log.Warn("viewer copies: read directory", "err", err)
		return
	}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		if err := os.RemoveAll(p); err != nil {
			c.log.Warn("viewer copies: remove", "err", err)
		}
	}
}

// extensionOf returns the file extension the system viewer needs to
// recognise a media type.
func extensionOf(mediaType string) string {
	mt, _, _ := strings.Cut(strings.ToLower(mediaType), ";")
	switch strings.TrimSpace(mt) {
	case "application/pdf":
		return ".pdf"
	case "image/tiff":
		return ".tiff"
	case "image/jpeg":
		return ".jpg"
	case "image/png":
		return ".png"
	case "text/rtf", "application/rtf":
		return ".rtf"
	case "text/plain":
		return ".txt"
	case "text/xml", "application/xml":
		return ".xml"
	}
	return ".bin"
}
