package dmptest

import (
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// outage is what the demo's outage switch and `carnet sandbox --latency`
// do to the sandbox: pause it (every request is accepted and held without
// an answer, as a black-holed network does, not refused), or slow every
// answer by a fixed latency.
type outage struct {
	mu      sync.Mutex
	resumed chan struct{} // nil when running; closed by Resume
	latency time.Duration
	held    atomic.Int64 // requests held now by a pause
	served  atomic.Int64 // requests answered (not held) since the start
}

// Pause black-holes the sandbox: from now on every request is accepted and
// held unanswered until Resume (or until the client gives up). Requests
// already being served finish.
func (s *Server) Pause() {
	s.out.mu.Lock()
	defer s.out.mu.Unlock()
	if s.out.resumed == nil {
		s.out.resumed = make(chan struct{})
	}
}

// Resume ends a pause: the held requests are served.
func (s *Server) Resume() {
	s.out.mu.Lock()
	defer s.out.mu.Unlock()
	if s.out.resumed != nil {
		close(s.out.resumed)
		s.out.resumed = nil
	}
}

// Paused reports whether the sandbox is paused.
func (s *Server) Paused() bool {
	s.out.mu.Lock()
	defer s.out.mu.Unlock()
	return s.out.resumed != nil
}

// SetLatency delays every answer by d (0: none), as a slow network would.
func (s *Server) SetLatency(d time.Duration) {
	s.out.mu.Lock()
	s.out.latency = max(d, 0)
	s.out.mu.Unlock()
}

// Held returns how many requests a pause holds unanswered now.
func (s *Server) Held() int { return int(s.out.held.Load()) }

// Served returns how many requests were let through to the service (not
// held by a pause when they arrived or later released) since the start.
func (s *Server) Served() int { return int(s.out.served.Load()) }

// withOutage wraps h with the pause and the latency.
func (s *Server) withOutage(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.out.mu.Lock()
		resumed, latency := s.out.resumed, s.out.latency
		s.out.mu.Unlock()
		if resumed != nil {
			s.out.held.Add(1)
			select {
			case <-resumed:
				s.out.held.Add(-1)
			case <-r.Context().Done():
				// The client gave up: it never got an answer.
				s.out.held.Add(-1)
				return
			}
		}
		if latency > 0 {
			t := time.NewTimer(latency)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		s.out.served.Add(1)
		h.ServeHTTP(w, r)
	})
}
