package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/crypto/credential"
	"github.com/carnetdesk/carnet/internal/config"
	"github.com/carnetdesk/carnet/internal/signin"
)

// Without `protocol`, [dmp] speaks XDS.b (the DMP in production); "fhir"
// stays selectable; anything else is refused at sign-in.
func TestDefaultProtocolIsXDS(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(path, []byte("[dmp]\nurl = \"https://lps.example/si-dmp-server/v2/services\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Protocol(); got != config.ProtocolXDS {
		t.Fatalf("protocol without a setting = %q, want %q", got, config.ProtocolXDS)
	}
	cfg.DMP.Protocol = config.ProtocolFHIR
	if got := cfg.Protocol(); got != config.ProtocolFHIR {
		t.Fatalf("protocol = %q, want %q", got, config.ProtocolFHIR)
	}
	w := newE2EWorldOn(t, 3, config.ProtocolFHIR)
	w.cfg.DMP.Protocol = "soap"
	sg := &signin.Signer{Config: signin.FixedConfig(w.cfg), Log: w.log, Svc: w.svc}
	defer sg.Close()
	if err := sg.SignIn(context.Background(), []byte(w.an.PIN)); !errors.Is(err, app.ErrInvalid) {
		t.Fatalf("sign in with protocol %q = %v, want ErrInvalid", w.cfg.DMP.Protocol, err)
	}
}

// Indirect authentication with two certificates, from the configuration:
// [credential] holds the TLS session and dmp.vihf_pkcs12_file (a second
// PKCS#12 file, the structure's seal, same PIN) signs the VIHF. The
// sandbox accepts the seal of the practitioner's structure and refuses
// another structure's (so the second file really signs); direct mode with a
// second file is refused. xmlsec1's check of such a VIHF against the seal's
// certificate is TestIndirectSealSignsVIHF in sync/dmp/xds.
func TestXDSIndirectSealFromConfig(t *testing.T) {
	w := newE2EWorldOn(t, 7, config.ProtocolXDS)
	ctx := context.Background()
	p := w.authorised(t)
	seal := func(name string, st credential.Structure) string {
		is, err := w.sb.PKI.CA.IssuePractitioner(credential.Identity{Name: name, Structure: st})
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "cachet.p12")
		if err := is.WritePKCS12(path, []byte(w.an.PIN)); err != nil {
			t.Fatal(err)
		}
		return path
	}
	own := credential.Structure{ID: w.an.Structure.ID, Name: w.an.Structure.Name}
	for _, tc := range []struct {
		name, mode, file string
		signIn, find     error
	}{
		{"own structure's seal", "indirecte", seal("CACHET CLINIQUE", own), nil, nil},
		{"another structure's seal", "indirecte", seal("CACHET AUTRE", credential.Structure{ID: "10B9999999", Name: "AUTRE"}), nil, app.ErrAccessDenied},
		{"a seal in direct mode", "directe", seal("CACHET CLINIQUE", own), app.ErrInvalid, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := w.cfg
			cfg.DMP.AuthMode, cfg.DMP.VIHFPKCS12File = tc.mode, tc.file
			sg := &signin.Signer{Config: signin.FixedConfig(cfg), Log: w.log, Svc: w.svc}
			defer sg.Close()
			err := sg.SignIn(ctx, []byte(w.an.PIN))
			if tc.signIn != nil {
				if !errors.Is(err, tc.signIn) {
					t.Fatalf("sign in = %v, want %v", err, tc.signIn)
				}
				return
			}
			if err != nil {
				t.Fatalf("sign in: %v", err)
			}
			st, err := w.svc.FindPatient(ctx, p.ID)
			if tc.find != nil {
				if !errors.Is(err, tc.find) {
					t.Fatalf("FindPatient = %+v, %v; want %v", st, err, tc.find)
				}
				return
			}
			if err != nil || !st.Exists {
				t.Fatalf("FindPatient = %+v, %v", st, err)
			}
		})
	}
}
