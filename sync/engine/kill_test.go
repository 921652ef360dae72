package engine_test

import (
	"crypto/x509"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/crypto/credential"
	"github.com/carnetdesk/carnet/sync/dmp"
	"github.com/carnetdesk/carnet/sync/dmp/dmptest"
	"github.com/carnetdesk/carnet/sync/engine"
)

// countingHandler counts the Binary reads (document downloads) by id.
type countingHandler struct {
	h  http.Handler
	mu sync.Mutex
	n  map[string]int
}

func (c *countingHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if i := strings.Index(r.URL.Path, "/Binary/"); i >= 0 {
		c.mu.Lock()
		c.n[r.URL.Path[i+8:]]++
		c.mu.Unlock()
	}
	c.h.ServeHTTP(w, r)
}

func (c *countingHandler) snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.n))
	for k, v := range c.n {
		out[k] = v
	}
	return out
}

// childSync is the child process of TestKillNineResume: one sync of the
// vault at CARNET_VAULT against the sandbox at CARNET_URL, as the
// practitioner of the PKCS#12 file CARNET_P12.
func childSync() {
	fail := func(err error) {
		os.Stderr.WriteString("child: " + err.Error() + "\n")
		os.Exit(3)
	}
	caPEM, err := os.ReadFile(os.Getenv("CARNET_CA"))
	if err != nil {
		fail(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	cr, err := credential.OpenPKCS12(os.Getenv("CARNET_P12"), []byte(os.Getenv("CARNET_PIN")))
	if err != nil {
		fail(err)
	}
	cfg := dmp.Config{BaseURL: os.Getenv("CARNET_URL"), RootCAs: pool, SoftwareName: "Carnet", SoftwareVersion: "test", Logger: quiet()}
	cfg.UseCredential(cr)
	rs, err := dmp.New(cfg)
	if err != nil {
		fail(err)
	}
	v := openVaultNoCleanup(os.Getenv("CARNET_VAULT"))
	if _, err := v.Unlock(ctx, append([]byte(nil), testPass...)); err != nil {
		fail(err)
	}
	eng, err := engine.New(engine.Config{Store: v, Logger: quiet(), Records: func() (app.RecordService, app.Practitioner, bool) {
		return rs, dmp.PractitionerFrom(cr.Identity()), true
	}})
	if err != nil {
		fail(err)
	}
	code := engine.RunCLI(ctx, eng, true, 0, os.Stderr)
	v.Close()
	os.Exit(code)
}

// TestKillNineResume: 50 runs of a child process syncing, killed with
// SIGKILL at random points; after each, the vault's check passes, and the
// next run downloads again at most one commit unit (plus the downloads in
// flight at the kill).
func TestKillNineResume(t *testing.T) {
	if os.Getenv("CARNET_ENGINE_CHILD") != "" {
		childSync()
		return
	}
	if testing.Short() {
		t.Skip("long")
	}
	runs := 50
	dir := t.TempDir()
	srv, err := dmptest.New(dmptest.Options{Patients: 5, Seed: 31, Throttle: 4 << 20,
		Fixed: []dmptest.FixedPatient{{Docs: 60, Size: 20000}, {Docs: 60, Size: 20000}, {Docs: 60, Size: 20000}, {Docs: 60, Size: 20000}, {Docs: 60, Size: 20000}}})
	if err != nil {
		t.Fatal(err)
	}
	pki, err := dmptest.NewPKI(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := pki.WriteFiles(dir, 31); err != nil {
		t.Fatal(err)
	}
	ch := &countingHandler{h: srv.Handler(), n: map[string]int{}}
	hs := httptest.NewUnstartedServer(ch)
	hs.TLS = pki.ServerTLS()
	hs.EnableHTTP2 = true
	hs.StartTLS()
	defer hs.Close()
	cred := pki.Credentials[dmptest.KeyGP]
	fixed := fixedPatients(t, srv)
	newVaultFile := func() string {
		path := filepath.Join(t.TempDir(), "carnet.vault")
		v := openVault(t, path, nil)
		if err := v.Create(ctx, append([]byte(nil), testPass...), app.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		watch(t, v, time.Now(), fixed...)
		v.Close()
		return path
	}
	path := newVaultFile()
	total := 60 * len(fixed)
	prev := ch.snapshot()
	seenBefore := map[string]bool{}
	rng := rand.New(rand.NewPCG(31, 1))
	completed, killed := 0, 0
	const maxDoc = 24 << 10
	for run := 0; run < runs; run++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKillNineResume$")
		cmd.Env = append(os.Environ(), "CARNET_ENGINE_CHILD=1", "CARNET_URL="+hs.URL+"/fhir", "CARNET_CA="+filepath.Join(dir, "ca.pem"),
			"CARNET_P12="+cred.Practitioner.P12Path, "CARNET_PIN="+cred.Practitioner.PIN, "CARNET_VAULT="+path)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("run %d: child failed: %v\n%s", run, err, stderr.String())
			}
		case <-time.After(time.Duration(100+rng.IntN(1400)) * time.Millisecond):
			_ = cmd.Process.Kill() // SIGKILL
			<-done
			killed++
		}
		// The vault checks, whatever the kill interrupted.
		v := openVault(t, path, nil)
		if _, err := v.Unlock(ctx, append([]byte(nil), testPass...)); err != nil {
			t.Fatalf("run %d: unlock after kill: %v", run, err)
		}
		mustCheck(t, v)
		cached := 0
		for _, p := range fixed {
			m, _ := v.Manifest(ctx, p.ID)
			for _, d := range m.Documents {
				if d.Cached {
					cached++
				}
			}
		}
		v.Close()
		// What this run downloaded that an earlier run had downloaded.
		now := ch.snapshot()
		again, bytes := 0, 0
		for id, n := range now {
			if n > prev[id] && seenBefore[id] {
				again++
				bytes += 20000
			}
		}
		if again > engine.DefaultCommitResources || bytes > engine.DefaultCommitBytes+engine.MaxFetchers*maxDoc {
			t.Fatalf("run %d: %d documents (%d bytes) downloaded again", run, again, bytes)
		}
		for id, n := range now {
			if n > prev[id] {
				seenBefore[id] = true
			}
		}
		prev = now
		if cached == total {
			completed++
			path = newVaultFile() // start over, to kill more syncs midway
			seenBefore = map[string]bool{}
		}
		t.Logf("run %d: cached %d/%d, downloaded again %d", run, cached, total, again)
	}
	if killed < runs/2 {
		t.Fatalf("only %d of %d runs were killed", killed, runs)
	}
}

// fixedPatients returns the sandbox's fixed patients (f001…).
func fixedPatients(t *testing.T, srv *dmptest.Server) []app.Patient {
	t.Helper()
	ps := srv.Fixed()
	if len(ps) == 0 {
		t.Fatal("no fixed patients")
	}
	return ps
}
