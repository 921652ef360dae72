package dmptest

import (
	"bytes"
	"hash/fnv"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/carnetdesk/carnet/sync/dmp/fhir"
)

// faultState draws faults deterministically.
type faultState struct {
	seed  uint64
	f     Faults
	mu    sync.Mutex
	count map[uint64]uint64 // request key → times seen
}

func newFaultState(seed uint64, f Faults) *faultState {
	return &faultState{seed: seed, f: f, count: map[uint64]uint64{}}
}

// order is the order in which fault probabilities are laid on [0,1).
var order = []Fault{Fault5xx, Fault429, FaultReset, FaultTruncate, FaultBadHash, FaultDropPost}

// draw returns the fault for this request, or "".
func (fs *faultState) draw(r *http.Request) Fault {
	if len(fs.f.Rate) == 0 {
		return ""
	}
	h := fnv.New64a()
	h.Write([]byte(r.Method + " " + r.URL.RequestURI()))
	k := h.Sum64()
	fs.mu.Lock()
	n := fs.count[k]
	fs.count[k] = n + 1
	fs.mu.Unlock()
	u := rand.New(rand.NewPCG(fs.seed^k, n)).Float64()
	acc := 0.0
	for _, f := range order {
		acc += fs.f.Rate[f]
		if u < acc {
			return f
		}
	}
	return ""
}

// FailNext forces fault f on the next n requests that it applies to
// (badhash: Binary reads; droppost: POST, PATCH, DELETE; others: any
// request but metadata), whatever the probabilities. For tests.
func (s *Server) FailNext(f Fault, n int) {
	s.nextMu.Lock()
	defer s.nextMu.Unlock()
	for i := 0; i < n; i++ {
		s.next = append(s.next, f)
	}
}

func applies(f Fault, r *http.Request) bool {
	switch f {
	case FaultBadHash:
		return r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/Binary/")
	case FaultDropPost:
		return r.Method == http.MethodPost || r.Method == http.MethodPatch || r.Method == http.MethodDelete
	case FaultTruncate:
		return r.Method == http.MethodGet
	}
	return true
}

func (s *Server) pickFault(r *http.Request) Fault {
	if strings.HasSuffix(r.URL.Path, "/metadata") {
		return ""
	}
	s.nextMu.Lock()
	for i, f := range s.next {
		if applies(f, r) {
			s.next = append(s.next[:i], s.next[i+1:]...)
			s.nextMu.Unlock()
			return f
		}
	}
	s.nextMu.Unlock()
	if f := s.faults.draw(r); f != "" && applies(f, r) {
		return f
	}
	return ""
}

// withFaults wraps h with latency, fault injection, compression (gzip.go)
// and the throttle.
func (s *Server) withFaults(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if d := s.opt.Faults.Latency; d > 0 {
			select {
			case <-time.After(d):
			case <-r.Context().Done():
				return
			}
		}
		if s.throttle != nil {
			w = &throttledWriter{ResponseWriter: w, t: s.throttle}
		}
		if !s.opt.NoCompression && acceptsGzip(r) {
			gw := &gzipWriter{ResponseWriter: w}
			defer func() {
				if v := recover(); v != nil {
					gw.abort()
					panic(v) // an aborted answer: its gzip stream stays cut
				}
				gw.finish()
			}()
			w = gw
		}
		if !strings.HasSuffix(r.URL.Path, "/metadata") && s.limited(w, r) {
			return
		}
		switch s.pickFault(r) {
		case Fault5xx:
			writeOutcome(w, http.StatusServiceUnavailable, fhir.NewOutcome("transient", "injected fault: service unavailable"))
		case Fault429:
			w.Header().Set("Retry-After", "1")
			writeOutcome(w, http.StatusTooManyRequests, fhir.NewOutcome("throttled", "injected fault: too many requests"))
		case FaultReset:
			panic(http.ErrAbortHandler) // closes the connection, no response
		case FaultDropPost:
			rec := &bufferedWriter{header: http.Header{}}
			h.ServeHTTP(rec, r) // committed
			panic(http.ErrAbortHandler)
		case FaultTruncate:
			rec := &bufferedWriter{header: http.Header{}}
			h.ServeHTTP(rec, r)
			copyHeader(w.Header(), rec.header)
			w.Header().Set("Content-Length", itoa(rec.body.Len()))
			w.WriteHeader(rec.status())
			_, _ = w.Write(rec.body.Bytes()[:rec.body.Len()/2])
			if f, ok := w.(http.Flusher); ok {
				f.Flush()
			}
			panic(http.ErrAbortHandler)
		case FaultBadHash:
			rec := &bufferedWriter{header: http.Header{}}
			h.ServeHTTP(rec, r)
			b := rec.body.Bytes()
			if rec.status() == http.StatusOK && len(b) > 0 {
				if strings.Contains(rec.header.Get("Content-Type"), "json") {
					// alter a byte inside the base64 data of the Binary
					if i := bytes.Index(b, []byte(`"data":"`)); i >= 0 && i+12 < len(b) {
						b[i+10] = flipB64(b[i+10])
					}
				} else {
					b[len(b)/2] ^= 0x20
				}
			}
			copyHeader(w.Header(), rec.header)
			w.WriteHeader(rec.status())
			_, _ = w.Write(b)
		default:
			h.ServeHTTP(w, r)
		}
	})
}

func flipB64(c byte) byte {
	if c == 'A' {
		return 'B'
	}
	return 'A'
}

func copyHeader(dst, src http.Header) {
	for k, v := range src {
		dst[k] = v
	}
}

// bufferedWriter records a response.
type bufferedWriter struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (b *bufferedWriter) Header() http.Header         { return b.header }
func (b *bufferedWriter) Write(p []byte) (int, error) { return b.body.Write(p) }
func (b *bufferedWriter) WriteHeader(code int) {
	if b.code == 0 {
		b.code = code
	}
}
func (b *bufferedWriter) status() int {
	if b.code == 0 {
		return http.StatusOK
	}
	return b.code
}

// throttle is a bandwidth limit shared by all responses.
type throttle struct {
	rate int64 // bytes per second
	mu   sync.Mutex
	next time.Time
	sent int64 // bytes paced so far
}

// wait blocks until n bytes may be sent.
func (t *throttle) wait(n int) {
	t.mu.Lock()
	t.sent += int64(n)
	now := time.Now()
	if t.next.Before(now) {
		t.next = now
	}
	t.next = t.next.Add(time.Duration(float64(n) / float64(t.rate) * float64(time.Second)))
	until := t.next
	t.mu.Unlock()
	time.Sleep(time.Until(until))
}

// throttledWriter paces body writes.
type throttledWriter struct {
	http.ResponseWriter
	t *throttle
}

func (w *throttledWriter) Write(p []byte) (int, error) {
	const chunk = 16 << 10
	n := 0
	for len(p) > 0 {
		k := min(len(p), chunk)
		w.t.wait(k)
		m, err := w.ResponseWriter.Write(p[:k])
		n += m
		if err != nil {
			return n, err
		}
		p = p[k:]
	}
	return n, nil
}

func (w *throttledWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// ThrottledBytes is the number of response body bytes paced by the
// throttle so far (what crossed the simulated link; 0 without a throttle).
// Benchmarks report it to compare the protocols' bytes on the wire.
func (s *Server) ThrottledBytes() int64 {
	if s.throttle == nil {
		return 0
	}
	s.throttle.mu.Lock()
	defer s.throttle.mu.Unlock()
	return s.throttle.sent
}
