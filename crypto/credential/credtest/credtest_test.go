package credtest_test

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"

	"github.com/carnetdesk/carnet/crypto/credential"
	"github.com/carnetdesk/carnet/crypto/credential/credtest"
)

func TestCA(t *testing.T) {
	ca, err := credtest.NewCA("")
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := ca.KeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	again, err := credtest.LoadCA(ca.CertPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Cert.Equal(ca.Cert) {
		t.Fatal("LoadCA: another certificate")
	}
	if _, err := credtest.LoadCA([]byte("x"), keyPEM); err == nil {
		t.Error("LoadCA accepted garbage")
	}

	id := credential.Identity{RPPS: "810001234567", Name: "Jean DUPONT", Structure: credential.Structure{ID: "10B0123456", Name: "Clinique"}}
	is, err := again.IssuePractitioner(id) // issued by the reloaded CA, verified against the original
	if err != nil {
		t.Fatal(err)
	}
	opts := x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if _, err := is.Cert.Verify(opts); err != nil {
		t.Errorf("practitioner certificate does not verify: %v", err)
	}
	if got := credential.ParseIdentity(is.Cert); got.RPPS != id.RPPS || got.Name != id.Name || got.Structure != id.Structure {
		t.Errorf("identity %+v", got)
	}

	srv, err := ca.IssueServer()
	if err != nil {
		t.Fatal(err)
	}
	sopts := x509.VerifyOptions{Roots: ca.Pool(), DNSName: "127.0.0.1"}
	if _, err := srv.Cert.Verify(sopts); err != nil {
		t.Errorf("server certificate for 127.0.0.1: %v", err)
	}
	if tc := srv.TLSCertificate(); tc.Leaf != srv.Cert || tc.PrivateKey == nil {
		t.Error("TLSCertificate")
	}

	path := filepath.Join(t.TempDir(), "p.p12")
	if err := is.WritePKCS12(path, []byte("pin")); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("WritePKCS12: %v %v", fi.Mode(), err)
	}
}
