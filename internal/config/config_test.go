package config

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/carnetdesk/carnet/app"
)

// TestConfigFileRoundTrip saves a connection into a config.toml that has a
// [sync] table and reads it back: the connection is whole, [sync] stays,
// the file is 0600, no temporary file is left beside it.
func TestConfigFileRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "carnet")
	path := filepath.Join(dir, "config.toml")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("[sync]\ninterval = \"2m\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f := &File{Path: path}
	ctx := context.Background()
	conn := app.Connection{
		ServiceURL: "https://dmp.example/fhir", ServiceCA: "/etc/carnet/igc-sante.pem",
		Credential:   app.CredentialConfig{Kind: app.CredentialCard, Module: "/usr/lib/libcps3_pkcs11_lux.so", Slot: "CPS"},
		FacilityType: "SA01",
		Mailboxes: []app.MailAccount{
			{Address: "dr.martin@clinique.mssante.fr", Host: "imap.op.mssante.fr", Security: app.MailImplicitTLS, Auth: app.MailAuthPlain,
				Mark: app.MarkMove, MoveTo: "Carnet/Importés", ReadReceipts: true, SMTPHost: "smtp.op.mssante.fr", SMTPSecurity: app.MailStartTLS},
			{Address: "secretariat@clinique.mssante.fr", Host: "imap.op.mssante.fr", Port: 143, Security: app.MailStartTLS, Auth: app.MailAuthExternal},
		},
	}
	if err := f.SaveConnection(ctx, conn); err != nil {
		t.Fatal(err)
	}
	got, err := f.Connection(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, conn) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, conn)
	}
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if d, err := cfg.SyncInterval(); err != nil || d.Minutes() != 2 {
		t.Fatalf("[sync] lost: %v %v", d, err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", st.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("files beside config.toml: %v", entries)
	}
	// Switching to a certificate file drops the card's keys; an empty
	// connection empties the file's sections.
	conn.Credential = app.CredentialConfig{Kind: app.CredentialFile, File: "/home/dr/cps.p12"}
	conn.Mailboxes = nil
	if err := f.SaveConnection(ctx, conn); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(path)
	if strings.Contains(string(raw), "pkcs11_") || strings.Contains(string(raw), "[[mailbox]]") {
		t.Fatalf("stale keys:\n%s", raw)
	}
	if got, _ := f.Connection(ctx); !reflect.DeepEqual(got, conn) {
		t.Fatalf("second round trip: %+v", got)
	}
}

// TestConfigFileRefusals: a configuration file that does not load is not
// overwritten by a save (the IT's file is never clobbered), and no path
// means not editable.
func TestConfigFileRefusals(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.toml")
	bad := "[dmp]\nurl = \"https://dmp.example\"\ntypo = 1\n"
	if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	f := &File{Path: path}
	if err := f.SaveConnection(context.Background(), app.Connection{}); err == nil || !strings.Contains(err.Error(), "unknown key") {
		t.Fatalf("save over a broken file: %v", err)
	}
	if raw, _ := os.ReadFile(path); string(raw) != bad {
		t.Fatal("the broken file was overwritten")
	}
	if err := (&File{}).SaveConnection(context.Background(), app.Connection{}); !errors.Is(err, app.ErrInvalid) {
		t.Fatalf("no path: %v", err)
	}
	// A missing file is an empty connection, created by the first save.
	f = &File{Path: filepath.Join(t.TempDir(), "new", "config.toml")}
	if c, err := f.Connection(context.Background()); err != nil || c.Configured() {
		t.Fatalf("missing file: %+v %v", c, err)
	}
	if err := f.SaveConnection(context.Background(), app.Connection{ServiceURL: "https://dmp.example/fhir"}); err != nil {
		t.Fatal(err)
	}
}

// TestConfigFileDeployed: a config.toml deployed by the clinic's IT as a
// symbolic link is written through the link (the link stays, the file it
// names changes), and a read-only one is refused, not replaced.
func TestConfigFileDeployed(t *testing.T) {
	dir := t.TempDir()
	deployed := filepath.Join(dir, "deployed.toml")
	if err := os.WriteFile(deployed, []byte("[sync]\ninterval = \"2m\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "carnet", "config.toml")
	if err := os.MkdirAll(filepath.Dir(link), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(deployed, link); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	conn := app.Connection{ServiceURL: "https://dmp.example/fhir"}
	if err := (&File{Path: link}).SaveConnection(ctx, conn); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Lstat(link); err != nil || st.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the link was replaced: %v %v", st.Mode(), err)
	}
	if got, err := (&File{Path: deployed}).Connection(ctx); err != nil || got.ServiceURL != conn.ServiceURL {
		t.Fatalf("the deployed file: %+v %v", got, err)
	}

	ro := filepath.Join(dir, "readonly.toml")
	orig := "[dmp]\nurl = \"https://dmp.example/fhir\"\n"
	if err := os.WriteFile(ro, []byte(orig), 0o400); err != nil {
		t.Fatal(err)
	}
	if err := (&File{Path: ro}).SaveConnection(ctx, app.Connection{ServiceURL: "https://other.example/fhir"}); !errors.Is(err, app.ErrReadOnly) {
		t.Fatalf("a read-only configuration: err %v, want app.ErrReadOnly (a translated message)", err)
	}
	if raw, _ := os.ReadFile(ro); string(raw) != orig {
		t.Fatalf("read-only file changed:\n%s", raw)
	}
}

// TestConfigFileProtocolSettings: the protocol, the authentication mode
// and the VIHF signing file the settings screen edits go to [dmp] and back,
// the [dmp] keys the connection does not hold (source_oid, homologation)
// stay, and a file with an unknown protocol or mode, or a VIHF signing
// file in the direct mode, does not load.
func TestConfigFileProtocolSettings(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.toml")
	deployed := "[dmp]\nurl = \"https://dmp.example/services\"\nsource_oid = \"1.2.250.1.999.1\"\nhomologation = \"CAR-1\"\n"
	if err := os.WriteFile(path, []byte(deployed), 0o600); err != nil {
		t.Fatal(err)
	}
	f := &File{Path: path}
	ctx := context.Background()
	conn, err := f.Connection(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if conn.DMPProtocol() != ProtocolXDS || conn.DMPAuthMode() != app.AuthIndirect || conn.VIHFFile != "" {
		t.Fatalf("defaults: protocol %q mode %q vihf %q", conn.DMPProtocol(), conn.DMPAuthMode(), conn.VIHFFile)
	}
	conn.Protocol, conn.AuthMode, conn.VIHFFile = ProtocolXDS, app.AuthIndirect, "/etc/carnet/cachet.p12"
	conn.Credential = app.CredentialConfig{Kind: app.CredentialFile, File: "/etc/carnet/structure.p12"}
	if err := f.SaveConnection(ctx, conn); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DMP.Protocol != "xds" || cfg.DMP.AuthMode != "indirecte" || cfg.DMP.VIHFPKCS12File != "/etc/carnet/cachet.p12" ||
		cfg.DMP.SourceOID != "1.2.250.1.999.1" || cfg.DMP.Homologation != "CAR-1" {
		t.Fatalf("[dmp] after save: %+v", cfg.DMP)
	}
	if got, _ := f.Connection(ctx); !reflect.DeepEqual(got, conn) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, conn)
	}
	conn.Protocol, conn.AuthMode, conn.VIHFFile = ProtocolFHIR, "", ""
	if err := f.SaveConnection(ctx, conn); err != nil {
		t.Fatal(err)
	}
	if cfg, _ := Load(path); cfg.Protocol() != ProtocolFHIR || cfg.DMP.AuthMode != "" || cfg.DMP.VIHFPKCS12File != "" {
		t.Fatalf("[dmp] after the switch to fhir: %+v", cfg.DMP)
	}
	for _, tc := range []struct {
		dmp   string
		field app.ConnectionField
	}{
		{"protocol = \"soap\"\n", app.FieldProtocol},
		{"auth_mode = \"carte\"\n", app.FieldAuthMode},
		{"auth_mode = \"directe\"\nvihf_pkcs12_file = \"/etc/carnet/cachet.p12\"\n", app.FieldVIHF},
	} {
		bad := filepath.Join(t.TempDir(), "config.toml")
		if err := os.WriteFile(bad, []byte("[dmp]\n"+tc.dmp), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Load(bad)
		var ce *app.ConnectionError
		if !errors.As(err, &ce) || ce.Field != tc.field || !errors.Is(err, app.ErrInvalid) {
			t.Errorf("load %q = %v, want a refusal of %s", tc.dmp, err, tc.field)
		}
	}
	// Written in upper case by hand, the direct mode is still the direct mode.
	if err := (app.Connection{AuthMode: "DIRECTE"}).Validate(); err != nil {
		t.Errorf("DIRECTE: %v", err)
	}
}
