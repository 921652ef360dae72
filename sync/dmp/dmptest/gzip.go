package dmptest

import (
	"bufio"
	"compress/gzip"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// Compression: like most FHIR servers, the sandbox compresses its FHIR JSON
// answers (search Bundles, resources, OperationOutcomes, a Binary resource
// asked for as application/fhir+json) with gzip when the request accepts it
// (Accept-Encoding: gzip, which Go's http.Transport sends by itself). The
// content of a document retrieved as such (ITI-68: GET Binary/{id} with the
// document's own media type) is served as stored, without a
// Content-Encoding, whatever the request accepts: every client, Carnet or a
// plain download, gets the same bytes for it. Options.NoCompression turns
// compression off.
//
// Compression sits between the throttle and the fault injection: the
// throttle paces the compressed bytes (what crosses the link), and the
// faults are drawn on the identity answer (a truncated answer is a
// truncated gzip stream).

// gzipMin is the smallest answer compressed (when its length is known).
const gzipMin = 1024

// gzipChunk is the size of the writes of compressed bytes to the layers
// below (the throttle): compress/flate hands its output over a couple of
// hundred bytes at a time, and the throttle, which queues every write
// behind all those already reserved, would charge a 5 kB answer twenty
// trips through the queue where a link charges about one. It is the
// throttle's own chunk.
const gzipChunk = 16 << 10

var gzipPool = sync.Pool{New: func() any {
	zw, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed)
	return zw
}}

var gzipBufPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, gzipChunk) }}

// acceptsGzip reports whether the request accepts a gzip answer.
func acceptsGzip(r *http.Request) bool {
	if r.Method == http.MethodHead {
		return false
	}
	for _, v := range r.Header.Values("Accept-Encoding") {
		for _, part := range strings.Split(v, ",") {
			coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
				continue
			}
			q := 1.0
			for _, p := range strings.Split(params, ";") {
				if k, v, ok := strings.Cut(strings.TrimSpace(p), "="); ok && strings.EqualFold(k, "q") {
					if f, err := strconv.ParseFloat(v, 64); err == nil {
						q = f
					}
				}
			}
			return q > 0
		}
	}
	return false
}

// compressible reports whether an answer of this Content-Type is compressed:
// FHIR JSON only (documents keep their stored form).
func compressible(ctype string) bool {
	mt, _, err := mime.ParseMediaType(ctype)
	if err != nil {
		return false
	}
	return mt == "application/fhir+json" || mt == "application/json"
}

// gzipWriter compresses the answer when its headers allow it, decided at
// WriteHeader (or at the first Write).
type gzipWriter struct {
	http.ResponseWriter
	zw      *gzip.Writer
	bw      *bufio.Writer // between zw and ResponseWriter
	decided bool
}

func (g *gzipWriter) WriteHeader(code int) {
	if !g.decided {
		g.decided = true
		h := g.Header()
		n, lerr := strconv.Atoi(h.Get("Content-Length"))
		if code >= 200 && code != http.StatusNoContent && code != http.StatusNotModified &&
			h.Get("Content-Encoding") == "" && compressible(h.Get("Content-Type")) && (lerr != nil || n >= gzipMin) {
			h.Del("Content-Length")
			h.Set("Content-Encoding", "gzip")
			h.Add("Vary", "Accept-Encoding")
			g.bw = gzipBufPool.Get().(*bufio.Writer)
			g.bw.Reset(g.ResponseWriter)
			g.zw = gzipPool.Get().(*gzip.Writer)
			g.zw.Reset(g.bw)
		}
	}
	g.ResponseWriter.WriteHeader(code)
}

func (g *gzipWriter) Write(p []byte) (int, error) {
	if !g.decided {
		if g.Header().Get("Content-Type") == "" {
			g.Header().Set("Content-Type", http.DetectContentType(p))
		}
		g.WriteHeader(http.StatusOK)
	}
	if g.zw != nil {
		return g.zw.Write(p)
	}
	return g.ResponseWriter.Write(p)
}

func (g *gzipWriter) Flush() {
	if g.zw != nil {
		_ = g.zw.Flush()
		_ = g.bw.Flush()
	}
	if f, ok := g.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// finish ends the gzip stream of a handler that returned normally.
func (g *gzipWriter) finish() {
	if g.zw != nil {
		_ = g.zw.Close()
		_ = g.bw.Flush()
		g.zw.Reset(nil)
		gzipPool.Put(g.zw)
		g.zw = nil
		g.release()
	}
}

// abort sends what the compressor has put out so far, without ending the
// stream: an aborted handler leaves it cut, as the connection.
func (g *gzipWriter) abort() {
	if g.zw != nil {
		_ = g.bw.Flush()
		g.zw = nil // not reused: it holds the cut stream's state
		g.release()
	}
}

func (g *gzipWriter) release() {
	g.bw.Reset(nil)
	gzipBufPool.Put(g.bw)
	g.bw = nil
}
