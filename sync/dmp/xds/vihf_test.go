package xds

import (
	"bytes"
	"crypto/x509"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/crypto/credential"
	"github.com/carnetdesk/carnet/crypto/credential/credtest"
)

// testSigner returns a VIHF signer with an RSA key issued by a test CA.
func testSigner(t testing.TB) (*VIHFSigner, *credtest.CA, *credtest.Issued) {
	t.Helper()
	ca, err := credtest.NewCA("Carnet test CA")
	if err != nil {
		t.Fatal(err)
	}
	is, err := ca.IssuePractitioner(credential.Identity{RPPS: "810100012345", Name: "Marie DURAND", GivenName: "Marie", Surname: "DURAND", Structure: credential.Structure{ID: "10B0167011", Name: "CLINIQUE DU TEST"}})
	if err != nil {
		t.Fatal(err)
	}
	return &VIHFSigner{Signer: is.Key, Cert: is.Cert}, ca, is
}

func testVIHFRequest(mode app.AccessMode) VIHFRequest {
	ins := testINS
	acc := app.Access{Practitioner: testPractitioner, Mode: mode}
	if mode == app.AccessEmergency {
		acc.Justification = "Patient inconscient aux urgences, pronostic vital engagé"
	}
	return VIHFRequest{Access: acc, INS: &ins, Mode: AuthIndirect, Sector: "SA07",
		Software: Software{Name: "Carnet", Version: "1.0.0", Homologation: "CAR-2026-tmp1", InstallID: "1.2.250.1.999.1.1"}, Now: time.Now()}
}

// xmlsec1Verify runs xmlsec1 --verify on a whole SOAP message with the CA as
// the only trusted certificate.
func xmlsec1Verify(t *testing.T, msg []byte, caPEM []byte) error {
	t.Helper()
	x := needTool(t, "xmlsec1")
	dir := t.TempDir()
	f := filepath.Join(dir, "msg.xml")
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(f, msg, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ca, caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(x, "--verify", "--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
		"--trusted-pem", ca, "--enabled-key-data", "x509", f).CombinedOutput()
	if err != nil {
		return errors.New(string(out))
	}
	return nil
}

// An ECDSA key signs too (ecdsa-sha256, r‖s), verified by xmlsec1.
func TestVIHFECDSAVerifiesWithXmlsec1(t *testing.T) {
	ca, err := credtest.NewCA("Carnet test CA")
	if err != nil {
		t.Fatal(err)
	}
	is, err := ca.IssuePractitionerWith(credential.Identity{RPPS: "810100012345", Name: "Marie DURAND"}, credtest.Options{ECDSA: true})
	if err != nil {
		t.Fatal(err)
	}
	s := &VIHFSigner{Signer: is.Key, Cert: is.Cert}
	a, _, err := s.Sign(testVIHFRequest(app.AccessNormal))
	if err != nil {
		t.Fatal(err)
	}
	msg := envelope(t, Header{To: "https://dmp.test/registry", Action: ActionRegistryStoredQuery, Security: a}, func(b *bytes.Buffer) {
		writeQuery(b, FindDocumentsQuery(testINS, nil, time.Time{}, nil))
	})
	if err := xmlsec1Verify(t, msg, ca.CertPEM); err != nil {
		t.Fatalf("xmlsec1 refuses the ECDSA VIHF: %v", err)
	}
	if _, err := VerifyVIHF(a, ca.Pool(), time.Now()); err != nil {
		t.Fatal(err)
	}
}

// Carnet's VIHF, inside a real request, passes the official schemas and
// verifies with xmlsec1 (an independent implementation) and goxmldsig.
func TestVIHFVerifiesWithXmlsec1(t *testing.T) {
	s, ca, _ := testSigner(t)
	for _, mode := range []app.AccessMode{app.AccessNormal, app.AccessEmergency} {
		t.Run(string(mode), func(t *testing.T) {
			r := testVIHFRequest(mode)
			r.Access.Practitioner.Name = `Marie "Élodie" <Durand> & fils`
			r.Access.Practitioner.GivenName = "Marie \"Élodie\""
			a, id, err := s.Sign(r)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(id, "_") {
				t.Fatalf("ID %q", id)
			}
			msg := envelope(t, Header{To: "https://dmp.test/registry", Action: ActionRegistryStoredQuery, Security: a}, func(b *bytes.Buffer) {
				writeQuery(b, FindDocumentsQuery(testINS, nil, time.Time{}, nil))
			})
			// The reference set holds no HL7 v3 datatypes schema, so xmllint
			// cannot resolve xsi:type="CE" of the role and purposeofuse
			// values: those two attributes are taken out for the schema check
			// only (VerifyVIHF checks the CE values themselves).
			validate(t, "request with VIHF", bytes.ReplaceAll(msg, []byte(` xsi:type="CE"`), nil))
			if err := xmlsec1Verify(t, msg, ca.CertPEM); err != nil {
				t.Fatalf("xmlsec1 refuses Carnet's VIHF:\n%s\n%s", err, a)
			}
			v, err := VerifyVIHF(a, ca.Pool(), time.Now())
			if err != nil {
				t.Fatal(err)
			}
			want, _ := accessModeCode(mode)
			if v.PurposeOfUse != want || len(v.Roles) != 2 || v.Attributes[AttrResourceID][0] != PatientID(testINS) ||
				v.Attributes[AttrVersion][0] != "3.0" || v.Attributes[AttrAuthMode][0] != "INDIRECTE" ||
				v.Attributes[AttrLPSHomolog][0] != "CAR-2026-tmp1" || v.Attributes[AttrStructure][0] != "10B0167011" {
				t.Fatalf("%+v", v)
			}
			if mode == app.AccessEmergency && v.Attributes[AttrJustification][0] != r.Access.Justification {
				t.Fatal("justification lost")
			}
			// Tampered: one attribute changed after signing.
			bad := bytes.Replace(msg, []byte(">3.0<"), []byte(">4.0<"), 1)
			if err := xmlsec1Verify(t, bad, ca.CertPEM); err == nil {
				t.Fatal("xmlsec1 accepts a tampered VIHF: the check proves nothing")
			}
			badA := bytes.Replace(a, []byte(">3.0<"), []byte(">4.0<"), 1)
			if _, err := VerifyVIHF(badA, ca.Pool(), time.Now()); !errors.Is(err, app.ErrAccessDenied) {
				t.Fatalf("tampered VIHF: %v", err)
			}
		})
	}
}

// The reverse: a VIHF signed by xmlsec1 verifies in Carnet's verifier; a
// tampered one, one signed by another CA, and an expired one are refused.
func TestXmlsec1SignedVIHFVerifies(t *testing.T) {
	s, ca, is := testSigner(t)
	x := needTool(t, "xmlsec1")
	// A template: Carnet's own layout with the signature values blanked,
	// re-signed by xmlsec1 with the test key.
	a, _, err := s.Sign(testVIHFRequest(app.AccessNormal))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := blankSignature(t, a)
	dir := t.TempDir()
	in := filepath.Join(dir, "tmpl.xml")
	key := filepath.Join(dir, "key.pem")
	crt := filepath.Join(dir, "crt.pem")
	out := filepath.Join(dir, "signed.xml")
	for f, b := range map[string][]byte{in: tmpl, key: is.KeyPEM, crt: is.CertPEM} {
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(x, "--sign", "--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
		"--privkey-pem", key+","+crt, "--output", out, in)
	if o, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("xmlsec1 --sign: %v\n%s", err, o)
	}
	signed, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(signed, tmpl) {
		t.Fatal("xmlsec1 did not sign")
	}
	if _, err := VerifyVIHF(signed, ca.Pool(), time.Now()); err != nil {
		t.Fatalf("xmlsec1-signed VIHF refused: %v\n%s", err, signed)
	}
	tampered := bytes.Replace(signed, []byte("CAR-2026-tmp1"), []byte("CAR-2026-tmp2"), 1)
	if _, err := VerifyVIHF(tampered, ca.Pool(), time.Now()); !errors.Is(err, app.ErrAccessDenied) {
		t.Fatalf("tampered: %v", err)
	}
	other, _ := credtest.NewCA("Other CA")
	if _, err := VerifyVIHF(signed, other.Pool(), time.Now()); !errors.Is(err, app.ErrAccessDenied) {
		t.Fatalf("untrusted CA: %v", err)
	}
	if _, err := VerifyVIHF(signed, ca.Pool(), time.Now().Add(VIHFLifetime+time.Minute)); !errors.Is(err, ErrVIHFExpired) {
		t.Fatalf("expired: %v", err)
	}
	_ = x509.Certificate{}
}

// blankSignature empties DigestValue, SignatureValue and X509Certificate:
// an xmlsec1 signing template.
func blankSignature(t *testing.T, a []byte) []byte {
	t.Helper()
	s := string(a)
	for _, tag := range []string{"ds:DigestValue", "ds:SignatureValue"} {
		i := strings.Index(s, "<"+tag+">")
		j := strings.Index(s, "</"+tag+">")
		if i < 0 || j < i {
			t.Fatalf("no %s", tag)
		}
		s = s[:i+len(tag)+2] + s[j:]
	}
	i := strings.Index(s, "<ds:X509Certificate>")
	j := strings.Index(s, "</ds:X509Certificate>")
	s = s[:i] + "" + s[j+len("</ds:X509Certificate>"):]
	return []byte(s)
}

// One assertion per session and patient context, reused within its lifetime.
func TestVIHFCacheReuses(t *testing.T) {
	s, _, _ := testSigner(t)
	c := &VIHFCache{Signer: s}
	r := testVIHFRequest(app.AccessNormal)
	for i := 0; i < 10; i++ {
		if _, err := c.Get(r); err != nil {
			t.Fatal(err)
		}
	}
	if s.Signatures() != 1 {
		t.Fatalf("%d signatures for one context", s.Signatures())
	}
	other := testINS
	other.Matricule = "180012B01234567"
	r2 := r
	r2.INS = &other
	_, _ = c.Get(r2)
	r3 := testVIHFRequest(app.AccessEmergency)
	_, _ = c.Get(r3)
	if s.Signatures() != 3 {
		t.Fatalf("%d signatures for three contexts", s.Signatures())
	}
	late := r
	late.Now = r.Now.Add(VIHFLifetime)
	_, _ = c.Get(late)
	c.Forget(r)
	_, _ = c.Get(r)
	if s.Signatures() != 5 {
		t.Fatalf("%d signatures after expiry and forget", s.Signatures())
	}
}

func TestVIHFRefusesBadInput(t *testing.T) {
	s, _, _ := testSigner(t)
	r := testVIHFRequest(app.AccessEmergency)
	r.Access.Justification = "court"
	if _, _, err := s.Sign(r); app.Denial(err) != app.DeniedJustification {
		t.Fatalf("short justification: %v", err)
	}
	r = testVIHFRequest(app.AccessNormal)
	r.Software.Homologation = ""
	if _, _, err := s.Sign(r); !errors.Is(err, app.ErrNotConfigured) {
		t.Fatalf("no homologation: %v", err)
	}
	r = testVIHFRequest(app.AccessNormal)
	r.Access.Practitioner.Structure.ID = "10B\x01"
	if _, _, err := s.Sign(r); !errors.Is(err, app.ErrInvalid) {
		t.Fatalf("control character: %v", err)
	}
}
