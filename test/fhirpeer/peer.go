// Package fhirpeer runs Carnet's independent FHIR R4 peer in tests: the
// Node.js program server.js beside this file (@medplum/fhir-router 4.5.2
// with its MemoryRepository, no code of Carnet's inside but the HTTP glue),
// on loopback HTTPS, started once per test binary and shared by its tests.
// It also gives a lossy HTTPS proxy in front of it, which lets the server
// commit a request and then drops the answer, and the means to create
// Patients there as any other system would (a plain FHIR create).
//
// The peer needs node (≥ 20.19) and `npm ci` run in this directory (make
// test does it). Without them the tests that need the peer are skipped with
// a message, or fail when CARNET_REQUIRE_FHIRPEER=1.
package fhirpeer

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/crypto/credential/credtest"
)

// Peer is a running peer.
type Peer struct {
	// URL is the FHIR base ("https://127.0.0.1:<port>/fhir").
	URL string
	// CA signed the peer's certificate; its Pool is what clients trust.
	// It also issues the practitioners' client certificates.
	CA *credtest.CA
	// ServerCert is the peer's TLS certificate (the lossy proxy presents
	// it too).
	ServerCert tls.Certificate

	http   *http.Client
	cmd    *exec.Cmd
	stderr *bytes.Buffer
}

var (
	once      sync.Once
	shared    *Peer
	sharedErr error
	insSeq    atomic.Int64
)

// Shared returns the peer of this test binary, starting it on first use
// (never per test). It skips t when node or the peer's node_modules are
// missing, unless CARNET_REQUIRE_FHIRPEER=1.
func Shared(t testing.TB) *Peer {
	t.Helper()
	once.Do(func() { shared, sharedErr = start() })
	if sharedErr != nil {
		if os.Getenv("CARNET_REQUIRE_FHIRPEER") == "1" {
			t.Fatalf("fhirpeer: %v", sharedErr)
		}
		t.Skipf("fhirpeer: %v (run `make test`, or `npm ci` in test/fhirpeer)", sharedErr)
	}
	return shared
}

// Dir is the directory of server.js.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(file)
}

func start() (*Peer, error) {
	dir := Dir()
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, errors.New("node is not installed")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@medplum", "fhir-router", "package.json")); err != nil {
		return nil, errors.New("the peer's node_modules are missing")
	}
	ca, err := credtest.NewCA("Carnet FHIR peer test CA")
	if err != nil {
		return nil, err
	}
	srv, err := ca.IssueServer("127.0.0.1")
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "carnet-fhirpeer-")
	if err != nil {
		return nil, err
	}
	certFile, keyFile := filepath.Join(tmp, "cert.pem"), filepath.Join(tmp, "key.pem")
	if err := os.WriteFile(certFile, srv.CertPEM, 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(keyFile, srv.KeyPEM, 0o600); err != nil {
		return nil, err
	}
	cmd := exec.Command(node, "server.js", certFile, keyFile)
	cmd.Dir = dir
	// stdin stays open for the life of the test binary: the peer exits
	// when it closes, so it never outlives the tests.
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	_ = stdin
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &syncWriter{w: &stderr}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	port := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if p, ok := strings.CutPrefix(sc.Text(), "LISTENING "); ok {
				port <- strings.TrimSpace(p)
			}
		}
		close(port)
	}()
	// Loading the FHIR definitions takes seconds on a loaded machine; a
	// start that hangs for minutes is a failure, not a slow machine.
	var p string
	select {
	case v, ok := <-port:
		if !ok {
			_ = cmd.Wait()
			return nil, fmt.Errorf("the peer exited: %s", lastLines(stderr.String()))
		}
		p = v
	case <-time.After(3 * time.Minute):
		_ = cmd.Process.Kill()
		return nil, errors.New("the peer did not start within 3 minutes")
	}
	_ = os.RemoveAll(tmp)
	peer := &Peer{URL: "https://127.0.0.1:" + p + "/fhir", CA: ca, ServerCert: srv.TLSCertificate(), cmd: cmd, stderr: &stderr}
	peer.http = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}}, Timeout: 2 * time.Minute}
	return peer, nil
}

// syncWriter serialises writes to a buffer.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(b)
}

func lastLines(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > 5 {
		lines = lines[len(lines)-5:]
	}
	return strings.Join(lines, " | ")
}

// NewINS returns a fresh, well-formed test INS (NIR test OID), unique in
// this test binary, so that tests sharing the peer never share a patient.
func NewINS() app.INS {
	n := insSeq.Add(1)
	body := fmt.Sprintf("1%02d%02d75%03d%03d", 70+n%30, 1+n%12, 100+(n/1000)%900, n%1000)
	key, err := app.INSKey(body)
	if err != nil {
		panic(err)
	}
	return app.INS{Matricule: body + key, OID: app.OIDINSNIRTest}
}

// CreatePatient creates a Patient carrying ins, as another system would
// (a plain FHIR create, no Carnet extension), and returns its id.
func (p *Peer) CreatePatient(ctx context.Context, ins app.INS) (string, error) {
	body, _ := json.Marshal(map[string]any{
		"resourceType": "Patient",
		"identifier":   []map[string]string{{"system": "urn:oid:" + ins.OID, "value": ins.Matricule}},
		"active":       true,
	})
	var out struct {
		ID string `json:"id"`
	}
	if err := p.Do(ctx, http.MethodPost, "Patient", "application/fhir+json", body, &out); err != nil {
		return "", err
	}
	if out.ID == "" {
		return "", errors.New("fhirpeer: create patient: no id")
	}
	return out.ID, nil
}

// Do sends one request to the peer directly (test set-up and inspection,
// not through Carnet's client) and decodes a 2xx JSON answer into v.
func (p *Peer) Do(ctx context.Context, method, path, ctype string, body []byte, v any) error {
	req, err := http.NewRequestWithContext(ctx, method, p.URL+"/"+strings.TrimPrefix(path, "/"), bytes.NewReader(body))
	if err != nil {
		return err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("Accept", "application/fhir+json")
	resp, err := p.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("fhirpeer: %s %s: HTTP %d: %.300s", method, path, resp.StatusCode, b)
	}
	if v != nil {
		return json.Unmarshal(b, v)
	}
	return nil
}

// Search runs a search on the peer directly and returns the matching
// resources (following no paging: tests ask with a large _count).
func (p *Peer) Search(ctx context.Context, query string) ([]json.RawMessage, error) {
	var b struct {
		Entry []struct {
			Resource json.RawMessage `json:"resource"`
		} `json:"entry"`
	}
	if err := p.Do(ctx, http.MethodGet, query, "", nil, &b); err != nil {
		return nil, err
	}
	out := make([]json.RawMessage, 0, len(b.Entry))
	for _, e := range b.Entry {
		out = append(out, e.Resource)
	}
	return out, nil
}
