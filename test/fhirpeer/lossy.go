package fhirpeer

import (
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
)

// Lossy is an HTTPS proxy in front of the peer that forwards every request
// and, when its Drop function says so, reads the peer's whole answer (the
// server has committed) and then cuts the connection instead of passing
// the answer on: a response lost after commit.
type Lossy struct {
	// URL is the FHIR base through the proxy.
	URL string
	// Drop decides, per request, whether its answer is lost. It may be
	// replaced between requests only under the test's own ordering.
	Drop func(r *http.Request) bool
	// Rewrite, when set, may change an answer's body before it is passed
	// on (a server that omits entries, forgets total …).
	Rewrite func(r *http.Request, body []byte) []byte
	// Answer, when set and returning a status, answers the request itself
	// (with that status and a FHIR JSON body) instead of the peer.
	Answer  func(r *http.Request) (status int, body []byte)
	dropped atomic.Int64
	passed  atomic.Int64
}

// Dropped is the number of answers lost so far.
func (l *Lossy) Dropped() int64 { return l.dropped.Load() }

// Passed is the number of answers passed on.
func (l *Lossy) Passed() int64 { return l.passed.Load() }

// NewLossy starts a lossy proxy before p for the test's duration. It
// presents the peer's certificate, so clients trust it the same way.
func (p *Peer) NewLossy(t testing.TB, drop func(r *http.Request) bool) *Lossy {
	t.Helper()
	up, err := url.Parse(p.URL)
	if err != nil {
		t.Fatal(err)
	}
	l := &Lossy{Drop: drop}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.CA.Pool(), MinVersion: tls.VersionTLS12}, MaxIdleConnsPerHost: 16}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if l.Answer != nil {
			if status, body := l.Answer(r); status != 0 {
				w.Header().Set("Content-Type", "application/fhir+json")
				w.WriteHeader(status)
				_, _ = w.Write(body)
				return
			}
		}
		out := r.Clone(r.Context())
		out.RequestURI = ""
		out.URL.Scheme, out.URL.Host = up.Scheme, up.Host
		out.Host = up.Host
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "proxy: request body", http.StatusBadGateway)
			return
		}
		out.Body = io.NopCloser(strings.NewReader(string(body)))
		out.ContentLength = int64(len(body))
		resp, err := tr.RoundTrip(out)
		if err != nil {
			http.Error(w, "proxy: upstream", http.StatusBadGateway)
			return
		}
		answer, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			http.Error(w, "proxy: upstream body", http.StatusBadGateway)
			return
		}
		if l.Drop != nil && l.Drop(r) {
			l.dropped.Add(1)
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					if tc, ok := conn.(*tls.Conn); ok {
						if tcp, ok := tc.NetConn().(*net.TCPConn); ok {
							_ = tcp.SetLinger(0)
						}
					}
					conn.Close()
					return
				}
			}
			panic(http.ErrAbortHandler)
		}
		l.passed.Add(1)
		if l.Rewrite != nil {
			answer = l.Rewrite(r, answer)
			resp.Header.Del("Content-Length")
		}
		for k, vs := range resp.Header {
			for _, v := range vs {
				w.Header().Add(k, v)
			}
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(answer)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{p.ServerCert}, ClientAuth: tls.RequestClientCert, MinVersion: tls.VersionTLS12}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	t.Cleanup(tr.CloseIdleConnections)
	l.URL = srv.URL + up.Path
	return l
}
