package xds

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// The submission set signature verifies with xmlsec1; a changed signed
// property or manifest digest is refused.
func TestXAdESVerifiesWithXmlsec1(t *testing.T) {
	s, ca, _ := testSigner(t)
	x := needTool(t, "xmlsec1")
	sig, err := s.SignSubmission("2.25.1234", []SignedDoc{{UniqueID: "1.2.250.1.999.1", Content: []byte("<ClinicalDocument/>")}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	verify := func(b []byte) error {
		dir := t.TempDir()
		f, caf := filepath.Join(dir, "sig.xml"), filepath.Join(dir, "ca.pem")
		_ = os.WriteFile(f, b, 0o600)
		_ = os.WriteFile(caf, ca.CertPEM, 0o600)
		out, err := exec.Command(x, "--verify", "--ignore-manifests", "--trusted-pem", caf, "--enabled-key-data", "x509",
			"--id-attr:Id", "http://uri.etsi.org/01903/v1.3.2#:SignedProperties", "--id-attr:Id", "http://www.w3.org/2000/09/xmldsig#:Manifest", f).CombinedOutput()
		if err != nil {
			return &verifyErr{string(out)}
		}
		return nil
	}
	if err := verify(sig); err != nil {
		t.Fatalf("xmlsec1 refuses Carnet's XAdES: %v\n%s", err, sig)
	}
	for _, tamper := range [][2]string{{"SignaturePolicyImplied", "SignaturePolicyImplicit"}, {`URI="urn:oid:1.2.250.1.999.1"`, `URI="urn:oid:1.2.250.1.999.2"`}} {
		bad := bytes.Replace(sig, []byte(tamper[0]), []byte(tamper[1]), -1)
		if verify(bad) == nil {
			t.Fatalf("xmlsec1 accepts a tampered XAdES (%s)", tamper[0])
		}
	}
}

type verifyErr struct{ s string }

func (e *verifyErr) Error() string { return e.s }
