package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/vault"
	"github.com/carnetdesk/carnet/crypto"
	"github.com/carnetdesk/carnet/sync/dmp"
	"github.com/carnetdesk/carnet/sync/dmp/dmptest"
)

// TestIdentityGateSandbox: a patient whose local identity is provisional
// (PROV) never reaches the central service in normal access — the
// sandbox, behind a counting handler, sees no request — through every
// path: opening the record (which says why), the record status, a
// document not cached, the sync engine's view of the service. Bris de
// glace, justified, still reaches it; a qualified patient does too.
func TestIdentityGateSandbox(t *testing.T) {
	s, err := dmptest.New(dmptest.Options{Seed: 14, Patients: 30})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	pki, err := dmptest.NewPKI(nil)
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int64
	h := s.Handler()
	hs := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		h.ServeHTTP(w, r)
	}))
	hs.TLS = pki.ServerTLS()
	hs.EnableHTTP2 = true
	hs.StartTLS()
	t.Cleanup(hs.Close)
	cred := pki.Credentials[dmptest.KeyAnesthetist]
	client, err := dmp.New(dmp.Config{BaseURL: hs.URL + s.BasePath(), Certificate: cred.TLS, Signer: cred.Signer, RootCAs: pki.Pool()})
	if err != nil {
		t.Fatal(err)
	}

	// Two patients the anesthesiologist may open: one kept qualified,
	// one made provisional locally (the sandbox would answer for it).
	var picked []app.Patient
	for len(picked) < 2 {
		p, ok := s.FindPatient(func(p app.Patient, exists, closed bool, authz, blocked map[string]bool) bool {
			for _, q := range picked {
				if q.ID == p.ID {
					return false
				}
			}
			return exists && !closed && authz[dmptest.KeyAnesthetist] && !blocked[dmptest.KeyAnesthetist] && p.Status == app.IdentityQualified
		})
		if !ok {
			t.Fatal("no suitable synthetic patient")
		}
		picked = append(picked, p)
	}
	qual, prov := picked[0], picked[1]
	prov.Status = app.IdentityProvisional

	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	light := crypto.LightParams()
	v, err := vault.Open(filepath.Join(t.TempDir(), "vault.db"), vault.Options{KDF: &light, Keyring: crypto.NoKeyring{}, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	ctx := context.Background()
	svc := app.NewService(app.Deps{Store: v, Log: log})
	if err := svc.Create(ctx, []byte("une phrase de passe assez longue"), app.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := v.Write(ctx, &app.Batch{Patients: []app.Patient{qual, prov},
		Manifests: []app.Manifest{{Patient: prov.ID, Documents: []app.DocumentMeta{{ID: "doc-remote", Title: "CR"}}}}}); err != nil {
		t.Fatal(err)
	}
	svc.SignIn(app.Session{Practitioner: cred.Practitioner.Practitioner, Records: client})

	for _, tc := range []struct {
		name string
		call func() error
	}{
		{"open", func() error {
			rec, err := svc.OpenPatient(ctx, prov.ID, app.AccessNormal, "")
			if err == nil && !rec.NotQualified {
				return errors.New("record not flagged NotQualified")
			}
			return err
		}},
		{"find", func() error {
			_, err := svc.FindPatient(ctx, prov.ID)
			if app.Denial(err) != app.DeniedNotQualified {
				return err
			}
			return nil
		}},
		{"document", func() error {
			_, err := svc.Document(ctx, prov.ID, "doc-remote", app.Access{Mode: app.AccessNormal})
			if app.Denial(err) != app.DeniedNotQualified {
				return err
			}
			return nil
		}},
		{"engine's service", func() error {
			rs, pr, ok := svc.Records()
			if !ok {
				return errors.New("no session")
			}
			_, err := rs.FindPatient(ctx, app.Access{Practitioner: pr, Mode: app.AccessNormal}, prov.INS)
			if app.Denial(err) != app.DeniedNotQualified {
				return err
			}
			return nil
		}},
	} {
		if err := tc.call(); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if n := calls.Load(); n != 0 {
			t.Fatalf("%s: the sandbox received %d requests for a PROV patient in normal access", tc.name, n)
		}
	}

	// Bris de glace, justified: the central service is reached.
	rec, err := svc.OpenPatient(ctx, prov.ID, app.AccessEmergency, "urgence vitale, patient inconscient")
	if err != nil || rec.NotQualified || calls.Load() == 0 {
		t.Fatalf("bris de glace: %+v, %v, %d requests", rec.NotQualified, err, calls.Load())
	}
	// A qualified patient in normal access: reached.
	before := calls.Load()
	rec, err = svc.OpenPatient(ctx, qual.ID, app.AccessNormal, "")
	if err != nil || rec.NotQualified || calls.Load() == before {
		t.Fatalf("qualified: %+v, %v, %d requests", rec.NotQualified, err, calls.Load()-before)
	}
}
