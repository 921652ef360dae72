package xds

import (
	"context"
	"encoding/pem"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/crypto/credential"
	"github.com/carnetdesk/carnet/crypto/credential/credtest"
	"github.com/carnetdesk/carnet/sync/dmp/dmptest"
)

// sealEnv is newEnv in indirect mode with two certificates: the
// practitioner's credential holds the TLS session and seal (a second
// certificate, the organisation's) signs the VIHF.
func sealEnv(t *testing.T, structure credential.Structure) (*env, *credtest.Issued) {
	t.Helper()
	e := newEnv(t, dmptest.KeyGP)
	if structure.ID == "" { // the practitioner's own structure
		st := e.sb.PKI.Credentials[dmptest.KeyGP].Practitioner.Structure
		structure = credential.Structure{ID: st.ID, Name: st.Name}
	}
	seal, err := e.sb.PKI.CA.IssuePractitioner(credential.Identity{Name: "CACHET " + structure.Name, Structure: structure})
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(Config{BaseURL: e.sb.XDSURL, HTTP: &http.Client{Transport: e.rec}, Signer: &VIHFSigner{Signer: seal.Key, Cert: seal.Cert},
		AuthMode: AuthIndirect, Sector: "SA07", SourceOID: "1.2.250.1.999.1.1",
		Software: Software{Name: "Carnet", Version: "0.9", Homologation: "CAR-2026-tmp1"}})
	if err != nil {
		t.Fatal(err)
	}
	e.client = c
	return e, seal
}

// xmlsec1VerifyWith runs xmlsec1 --verify with only the public key of
// certPEM (the X509Data of the message is not used to find the key).
func xmlsec1VerifyWith(t *testing.T, msg, certPEM []byte) error {
	t.Helper()
	x := needTool(t, "xmlsec1")
	dir := t.TempDir()
	f, cert := filepath.Join(dir, "msg.xml"), filepath.Join(dir, "cert.pem")
	if err := os.WriteFile(f, msg, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cert, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(x, "--verify", "--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
		"--pubkey-cert-pem", cert, "--enabled-key-data", "key-name", f).CombinedOutput()
	if err != nil {
		return errors.New(string(out))
	}
	return nil
}

// Indirect authentication with a separate signing certificate: the
// practitioner's certificate holds the TLS session, the organisation's seal
// signs the VIHF. The sandbox accepts it; xmlsec1 verifies the VIHF of
// every request against the seal's certificate and refuses it against the
// TLS certificate; a seal of another structure is refused by the sandbox.
func TestIndirectSealSignsVIHF(t *testing.T) {
	ctx := context.Background()
	e, seal := sealEnv(t, credential.Structure{})
	p := e.patient(t, func(exists, closed, authorised, blocked bool) bool {
		return exists && !closed && authorised && !blocked
	})
	if st, err := e.client.FindPatient(ctx, e.acc, p.INS); err != nil || !st.Exists {
		t.Fatalf("FindPatient with the seal signing the VIHF: %+v, %v", st, err)
	}
	n := 0
	if err := e.client.ListDocuments(ctx, e.acc, p.INS, app.DocumentQuery{}, func(d []app.RemoteDocument) error { n += len(d); return nil }); err != nil || n == 0 {
		t.Fatalf("ListDocuments: %d, %v", n, err)
	}
	tlsDER := e.sb.PKI.Credentials[dmptest.KeyGP].TLS.Certificate[0]
	checked := 0
	for _, m := range e.rec.msgs {
		if !strings.HasPrefix(m.what, "request") || !strings.Contains(string(m.body), "Assertion") {
			continue
		}
		body := infoset(t, m)
		if err := xmlsec1VerifyWith(t, body, seal.CertPEM); err != nil {
			t.Fatalf("xmlsec1 refuses the VIHF against the seal's certificate: %v", err)
		}
		if err := xmlsec1VerifyWith(t, body, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tlsDER})); err == nil {
			t.Fatal("xmlsec1 verifies the VIHF against the TLS certificate: it was not signed by the seal")
		}
		checked++
	}
	if checked == 0 {
		t.Fatal("no request recorded")
	}
	if e.client.Signatures() != 1 {
		t.Fatalf("%d VIHF signatures for one patient context, want 1", e.client.Signatures())
	}

	// Another structure's seal: refused by the sandbox, as the DMP would.
	other, _ := sealEnv(t, credential.Structure{ID: "10B9999999", Name: "AUTRE STRUCTURE"})
	if _, err := other.client.FindPatient(ctx, other.acc, p.INS); !errors.Is(err, app.ErrAccessDenied) {
		t.Fatalf("a seal of another structure = %v, want ErrAccessDenied", err)
	}
}
