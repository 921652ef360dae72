package xds

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/sync/dmp/dmptest"
)

// TestProbe: the probe of the sandbox's SOAP side answers while it runs;
// black-holed (every request held unanswered) it is ErrOffline within the
// probe's deadline, and a request is ErrOffline once the transport's
// header timeout passes, not a hang; resumed, the probe answers again.
func TestProbe(t *testing.T) {
	sb := dmptest.NewTLSBoth(t, dmptest.Options{Seed: 7, Patients: 4})
	hc := sb.Client(dmptest.KeyAnesthetist)
	hc.Transport.(*http.Transport).ResponseHeaderTimeout = 200 * time.Millisecond
	c, err := New(Config{BaseURL: sb.XDSURL, HTTP: hc, Signer: &VIHFSigner{Signer: sb.PKI.Credentials[dmptest.KeyAnesthetist].Signer,
		Cert: sb.PKI.Credentials[dmptest.KeyAnesthetist].Leaf}, Sector: "SA07", SourceOID: "1.2.250.1.999.1.1",
		Software: Software{Name: "Carnet", Version: "0.9", Homologation: "CAR-2026-tmp1"}})
	if err != nil {
		t.Fatal(err)
	}
	var _ app.Prober = c
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute) // only a real hang fails
	defer cancel()
	if err := c.Probe(ctx); err != nil {
		t.Fatalf("probe of a running sandbox: %v", err)
	}
	sb.Pause()
	if err := c.Probe(ctx); !errors.Is(err, app.ErrOffline) {
		t.Fatalf("probe while black-holed = %v, want ErrOffline", err)
	}
	p := sb.Population()[0]
	acc := app.Access{Practitioner: sb.PKI.Credentials[dmptest.KeyAnesthetist].Practitioner.Practitioner, Mode: app.AccessNormal}
	if _, err := c.FindPatient(ctx, acc, p.INS); !errors.Is(err, app.ErrOffline) || ctx.Err() != nil {
		t.Fatalf("find patient while black-holed = %v, want ErrOffline", err)
	}
	sb.Resume()
	if err := c.Probe(ctx); err != nil {
		t.Fatalf("probe after resume: %v", err)
	}
}
