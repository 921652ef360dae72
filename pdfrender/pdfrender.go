// Package pdfrender renders the pages of a PDF held in memory with PDFium
// compiled to WebAssembly (github.com/klippa-app/go-pdfium, run by wazero):
// no cgo, no external program, nothing written to disk. It is Carnet's PDF
// renderer where poppler's pdftoppm is absent, which is every Windows
// machine; package ui uses it through its own small renderer interface.
//
// The WebAssembly module gets no file system (an empty wazero FSConfig): a
// document goes in as bytes and comes out as a PNG, so the
// no-plaintext-on-disk rule holds by construction.
package pdfrender

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"math"
	"sync"
	"time"

	"github.com/klippa-app/go-pdfium"
	"github.com/klippa-app/go-pdfium/requests"
	"github.com/klippa-app/go-pdfium/webassembly"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
)

// Limits of a Renderer. They match package ui's poppler path.
const (
	// MaxBytes is the largest PDF a Renderer opens.
	MaxBytes = 64 << 20
	// Resolution is the page resolution, in dots per inch.
	Resolution = 110
	// MaxWidth and MaxHeight bound a page's bitmap: a page whose media box
	// would exceed them at Resolution is rendered smaller, to fit.
	MaxWidth, MaxHeight = 2400, 3400
	// callTimeout bounds one call into PDFium (a hostile document that
	// loops is killed with its instance).
	callTimeout = 60 * time.Second
)

// Errors of a Renderer.
var (
	// ErrTooLarge: the PDF is over MaxBytes.
	ErrTooLarge = errors.New("pdfrender: pdf too large")
	// ErrBadPage: the page number is out of the document's range.
	ErrBadPage = errors.New("pdfrender: no such page")
)

// Renderer renders PDF pages with PDFium in WebAssembly. The zero value is
// not usable: call New. The WebAssembly module is compiled on first use
// (seconds), off the caller's UI goroutine since every method may block.
// Its methods are safe for concurrent use; calls run one at a time.
type Renderer struct {
	mu   sync.Mutex // one call at a time; guards pool
	pool pdfium.Pool
	err  error // of the first initialisation, kept
}

// New returns a Renderer; nothing is compiled until the first call.
func New() *Renderer { return &Renderer{} }

// instance returns a PDFium instance, initialising the pool once. Called
// with r.mu held.
func (r *Renderer) instance(ctx context.Context) (pdfium.Pdfium, error) {
	if r.pool == nil && r.err == nil {
		r.pool, r.err = webassembly.Init(webassembly.Config{
			MinIdle: 0, MaxIdle: 1, MaxTotal: 1,
			// PDFium's own output is dropped: a Windows GUI program has no
			// standard output (wazero would fail on its handle), and it may
			// quote the document.
			Stdout: io.Discard, Stderr: io.Discard,
			// No mounts: the module cannot read or write any file.
			FSConfig: wazero.NewFSConfig(),
			RuntimeConfig: wazero.NewRuntimeConfig().
				WithCoreFeatures(api.CoreFeaturesV2 | experimental.CoreFeaturesExceptionHandling).
				WithCloseOnContextDone(true),
		})
		if r.err != nil {
			r.err = fmt.Errorf("pdfrender: init pdfium: %w", r.err)
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	inst, err := r.pool.GetInstanceWithContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("pdfrender: pdfium instance: %w", err)
	}
	return inst, nil
}

// with opens pdf in a PDFium instance and runs f on it, killing the
// instance when ctx ends or callTimeout passes first.
func (r *Renderer) with(ctx context.Context, pdf []byte, f func(pdfium.Pdfium, *requests.Page) error) error {
	if len(pdf) > MaxBytes {
		return ErrTooLarge
	}
	if len(pdf) == 0 {
		return errors.New("pdfrender: empty pdf")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	inst, err := r.instance(ctx)
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() {
		data := pdf
		doc, err := inst.OpenDocument(&requests.OpenDocument{File: &data})
		if err != nil {
			// PDFium's message names the failure (format, password), never
			// the content.
			done <- fmt.Errorf("pdfrender: open: %w", err)
			return
		}
		defer inst.FPDF_CloseDocument(&requests.FPDF_CloseDocument{Document: doc.Document}) //nolint:errcheck // closing
		done <- f(inst, &requests.Page{ByIndex: &requests.PageByIndex{Document: doc.Document}})
	}()
	select {
	case err := <-done:
		_ = inst.Close()
		return err
	case <-ctx.Done():
		// The call is stuck in PDFium: kill the instance (the pool makes a
		// new one next time); the goroutine ends with the module.
		_ = inst.Kill()
		return fmt.Errorf("pdfrender: %w", ctx.Err())
	}
}

// PageCount returns the number of pages of pdf.
func (r *Renderer) PageCount(ctx context.Context, pdf []byte) (int, error) {
	var n int
	err := r.with(ctx, pdf, func(inst pdfium.Pdfium, p *requests.Page) error {
		res, err := inst.FPDF_GetPageCount(&requests.FPDF_GetPageCount{Document: p.ByIndex.Document})
		if err != nil {
			return fmt.Errorf("pdfrender: page count: %w", err)
		}
		if res.PageCount < 1 {
			return errors.New("pdfrender: no page")
		}
		n = res.PageCount
		return nil
	})
	return n, err
}

// RenderPage renders page n (from 1) of pdf as a PNG image at Resolution,
// scaled down to fit MaxWidth × MaxHeight.
func (r *Renderer) RenderPage(ctx context.Context, pdf []byte, n int) ([]byte, error) {
	var img image.Image
	err := r.with(ctx, pdf, func(inst pdfium.Pdfium, p *requests.Page) error {
		count, err := inst.FPDF_GetPageCount(&requests.FPDF_GetPageCount{Document: p.ByIndex.Document})
		if err != nil {
			return fmt.Errorf("pdfrender: page count: %w", err)
		}
		if n < 1 || n > count.PageCount {
			return ErrBadPage
		}
		p.ByIndex.Index = n - 1
		size, err := inst.FPDF_GetPageSizeByIndex(&requests.FPDF_GetPageSizeByIndex{Document: p.ByIndex.Document, Index: n - 1})
		if err != nil {
			return fmt.Errorf("pdfrender: page size: %w", err)
		}
		dpi := fitDPI(size.Width, size.Height)
		res, err := inst.RenderPageInDPI(&requests.RenderPageInDPI{Page: *p, DPI: dpi})
		if err != nil {
			return fmt.Errorf("pdfrender: render: %w", err)
		}
		defer res.Cleanup()
		// The image lives in the module's memory until Cleanup: copy it.
		src := res.Result.Image
		cp := image.NewRGBA(src.Bounds())
		copy(cp.Pix, src.Pix)
		img = cp
		return nil
	})
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("pdfrender: png: %w", err)
	}
	return buf.Bytes(), nil
}

// fitDPI returns Resolution, or less so that a page of w × h points fits
// MaxWidth × MaxHeight pixels (at least 1 dpi).
func fitDPI(w, h float64) int {
	if !(w > 0) || !(h > 0) || math.IsInf(w, 0) || math.IsInf(h, 0) {
		return Resolution
	}
	dpi := float64(Resolution)
	if px := w * dpi / 72; px > MaxWidth {
		dpi = MaxWidth * 72 / w
	}
	if px := h * dpi / 72; px > MaxHeight {
		dpi = MaxHeight * 72 / h
	}
	return max(1, int(dpi))
}

// Close frees the WebAssembly runtime, if it was started.
func (r *Renderer) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pool == nil {
		return nil
	}
	err := r.pool.Close()
	r.pool, r.err = nil, errors.New("pdfrender: closed")
	return err
}

// Warm compiles the WebAssembly module now (seconds), so that the first
// page a person opens does not wait for it. Safe to call in a goroutine.
func (r *Renderer) Warm(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	inst, err := r.instance(ctx)
	if err != nil {
		return err
	}
	return inst.Close()
}
