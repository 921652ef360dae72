package dmptest

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// BothSandbox serves the FHIR and the XDS.b/SOAP interfaces of one sandbox
// (one store) over TLS with client certificates.
type BothSandbox struct {
	*Server
	FHIRURL string // https://127.0.0.1:port/fhir
	XDSURL  string // https://127.0.0.1:port/si-dmp-server/v2/services
	PKI     *PKI
	http    *httptest.Server
}

// BothHandler routes XDSBasePath to the SOAP services and everything else
// to the FHIR interface.
func (s *Server) BothHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle(XDSBasePath+"/", s.XDSHandler())
	mux.Handle("/", s.Handler())
	return s.withOutage(mux)
}

// Client returns an HTTP client with the practitioner's certificate.
func (sb *BothSandbox) Client(key string) *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: sb.PKI.ClientTLS(key), ForceAttemptHTTP2: true}}
}

// NewTLSBoth starts a sandbox speaking both protocols on a loopback port and
// stops it when the test ends.
func NewTLSBoth(t testing.TB, opt Options) *BothSandbox {
	t.Helper()
	pki, err := NewPKI(nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(opt)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(s.BothHandler())
	hs.TLS = pki.ServerTLS()
	hs.EnableHTTP2 = true
	hs.Config.ErrorLog = quietLog()
	hs.StartTLS()
	sb := &BothSandbox{Server: s, FHIRURL: hs.URL + s.BasePath(), XDSURL: hs.URL + XDSBasePath, PKI: pki, http: hs}
	t.Cleanup(func() { hs.Close(); s.Close() })
	return sb
}
