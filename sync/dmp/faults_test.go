package dmp

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/crypto/credential"
	"github.com/carnetdesk/carnet/crypto/credential/credtest"
	"github.com/carnetdesk/carnet/sync/dmp/dmptest"
	"github.com/carnetdesk/carnet/sync/dmp/fhir"
)

// Faults, assertions and certificates against the sandbox over TLS.

// TestFaults: every injected fault kind maps to its kind, and nothing is
// returned from a failed or unverified answer.
func TestFaults(t *testing.T) {
	e := newEnv(t, dmptest.Options{})
	p := e.open()
	gp, acc := e.client(dmptest.KeyGP)
	ctx := t.Context()
	docs, err := list(t, gp, acc, p.INS, app.DocumentQuery{})
	if err != nil || len(docs) == 0 {
		t.Fatal(err)
	}
	doc := docs[0]

	t.Run("5xx", func(t *testing.T) {
		e.sb.FailNext(dmptest.Fault5xx, 1)
		_, err := gp.FindPatient(ctx, acc, p.INS)
		wantKind(t, err, app.ErrServer)
	})
	t.Run("429", func(t *testing.T) {
		e.sb.FailNext(dmptest.Fault429, 1)
		_, err := list(t, gp, acc, p.INS, app.DocumentQuery{})
		var we *app.WaitError
		if !errors.As(err, &we) || !errors.Is(err, app.ErrThrottled) || we.Wait != time.Second {
			t.Fatalf("%v", err)
		}
	})
	t.Run("reset", func(t *testing.T) {
		fresh, _ := e.client(dmptest.KeyGP) // no pooled connection to retry on
		e.sb.FailNext(dmptest.FaultReset, 1)
		_, err := fresh.FindPatient(ctx, acc, p.INS)
		wantKind(t, err, app.ErrOffline)
	})
	t.Run("truncate", func(t *testing.T) {
		e.sb.FailNext(dmptest.FaultTruncate, 1)
		got, err := gp.Retrieve(ctx, acc, p.INS, doc)
		if got != nil {
			t.Fatal("bytes returned from a truncated answer")
		}
		if !errors.Is(err, app.ErrOffline) && !errors.Is(err, app.ErrIntegrity) {
			t.Fatalf("%v", err)
		}
		e.sb.FailNext(dmptest.FaultTruncate, 1)
		_, err = list(t, gp, acc, p.INS, app.DocumentQuery{})
		wantKind(t, err, app.ErrOffline)
	})
	t.Run("badhash", func(t *testing.T) {
		e.sb.FailNext(dmptest.FaultBadHash, 1)
		got, err := gp.Retrieve(ctx, acc, p.INS, doc)
		wantKind(t, err, app.ErrIntegrity)
		if got != nil {
			t.Fatal("bytes returned from an unverified answer")
		}
		if got, err := gp.Retrieve(ctx, acc, p.INS, doc); err != nil || len(got) == 0 {
			t.Fatalf("clean retry: %v", err)
		}
	})
	t.Run("droppost", func(t *testing.T) {
		nd := note(newUID())
		e.sb.FailNext(dmptest.FaultDropPost, 1)
		_, err := gp.Provide(ctx, acc, p.INS, []app.NewDocument{nd})
		wantKind(t, err, app.ErrOffline)
		// committed: the idempotency lookup finds it, a resend is a conflict
		found, err := list(t, gp, acc, p.INS, app.DocumentQuery{ID: nd.Meta.ID})
		if err != nil || len(found) != 1 {
			t.Fatalf("lookup after a dropped answer: %d %v", len(found), err)
		}
		_, err = gp.Provide(ctx, acc, p.INS, []app.NewDocument{nd})
		wantKind(t, err, app.ErrConflict)
	})
	t.Run("latency timeout and cancel", func(t *testing.T) {
		slow := newEnv(t, dmptest.Options{Faults: dmptest.Faults{Latency: 2 * time.Second}})
		sp := slow.open()
		c, sacc := slow.client(dmptest.KeyGP, func(cfg *Config) { cfg.Timeout = 200 * time.Millisecond })
		_, err := c.FindPatient(ctx, sacc, sp.INS)
		wantKind(t, err, app.ErrOffline)
		c2, _ := slow.client(dmptest.KeyGP)
		cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		_, err = c2.FindPatient(cctx, sacc, sp.INS)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("caller deadline: %v", err)
		}
		cctx, cancel2 := context.WithCancel(ctx)
		time.AfterFunc(100*time.Millisecond, cancel2)
		_, err = c2.FindPatient(cctx, sacc, sp.INS)
		if !errors.Is(err, context.Canceled) || app.KindOf(err) != nil {
			t.Fatalf("cancel: %v", err)
		}
	})
}

// TestAssertionRejected: an expired assertion (a client whose clock is ten
// minutes late) and a replayed one are refused by the service.
func TestAssertionRejected(t *testing.T) {
	e := newEnv(t, dmptest.Options{})
	p := e.open()
	late, acc := e.client(dmptest.KeyGP, func(cfg *Config) { cfg.Clock = fixedClock{time.Now().Add(-10 * time.Minute)} })
	_, err := late.FindPatient(t.Context(), acc, p.INS)
	wantDenial(t, err, app.DeniedOther)
	if !strings.Contains(err.Error(), "401") {
		t.Fatalf("%v", err)
	}

	gp, _ := e.client(dmptest.KeyGP)
	tok, err := gp.sign(acc, p.INS)
	if err != nil {
		t.Fatal(err)
	}
	hc := e.sb.Client(dmptest.KeyGP)
	u := gp.endpoint("Patient", map[string][]string{"identifier": {fhir.INSToken(p.INS).String()}})
	status := func() int {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
		req.Header.Set(fhir.AssertionHeader, tok)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := status(); s != http.StatusOK {
		t.Fatalf("first use: %d", s)
	}
	if s := status(); s != http.StatusUnauthorized {
		t.Fatalf("replay: %d", s)
	}
}

// TestWrongCertificates: a practitioner certificate from an unknown CA is
// refused (ErrCredential, decided during the handshake because the service
// names the authorities it accepts); a service certificate the client does
// not trust is ErrOffline with a clear message.
func TestWrongCertificates(t *testing.T) {
	e := newEnv(t, dmptest.Options{})
	p := e.open()
	foreignCA, err := credtest.NewCA("Autorité inconnue")
	if err != nil {
		t.Fatal(err)
	}
	gpc := e.sb.PKI.Credentials[dmptest.KeyGP]
	is, err := foreignCA.IssuePractitioner(credential.Identity{RPPS: gpc.Practitioner.RPPS, Name: gpc.Practitioner.Name,
		Profession: credential.Code{Code: "10"}})
	if err != nil {
		t.Fatal(err)
	}
	c, acc := e.client(dmptest.KeyGP, func(cfg *Config) { cfg.Certificate, cfg.Signer = is.TLSCertificate(), is.Key })
	for i := 0; i < 5; i++ { // deterministic, not a race with the server's alert
		_, err = c.FindPatient(t.Context(), acc, p.INS)
		wantKind(t, err, app.ErrCredential)
	}
	t.Logf("foreign client certificate: %v", err)

	// a foreign CA with the same name as the sandbox's: the server's alert
	// decides; under TLS 1.3 it may arrive as a reset
	foreign, err := dmptest.NewPKI(nil)
	if err != nil {
		t.Fatal(err)
	}
	fc := foreign.Credentials[dmptest.KeyGP]
	c1, _ := e.client(dmptest.KeyGP, func(cfg *Config) { cfg.Certificate, cfg.Signer = fc.TLS, fc.Signer })
	_, err = c1.FindPatient(t.Context(), acc, p.INS)
	if !errors.Is(err, app.ErrCredential) && !errors.Is(err, app.ErrOffline) {
		t.Fatalf("same-name foreign CA: %v", err)
	}
	// under TLS 1.2 the refusal comes inside the handshake: always ErrCredential
	c12, _ := e.client(dmptest.KeyGP, func(cfg *Config) {
		cfg.Certificate, cfg.Signer, cfg.MaxTLSVersion = fc.TLS, fc.Signer, tls.VersionTLS12
	})
	for i := 0; i < 3; i++ {
		_, err = c12.FindPatient(t.Context(), acc, p.INS)
		wantKind(t, err, app.ErrCredential)
	}

	c2, _ := e.client(dmptest.KeyGP, func(cfg *Config) { cfg.RootCAs = foreign.Pool() })
	_, err = c2.FindPatient(t.Context(), acc, p.INS)
	wantKind(t, err, app.ErrOffline)
	if !strings.Contains(err.Error(), "not trusted") {
		t.Fatalf("%v", err)
	}
}
