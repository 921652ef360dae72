//go:build cgo

package xds

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/pkcs11"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/crypto/credential"
	"github.com/carnetdesk/carnet/crypto/credential/credtest"
)

const hsmPIN = "123456"

// The VIHF signed by a real PKCS#11 token (SoftHSM2, through the project's
// crypto/credential signer, as a CPS card would) verifies with xmlsec1.
func TestVIHFSignedBySoftHSMVerifiesWithXmlsec1(t *testing.T) {
	module := ""
	for _, m := range []string{"/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so", "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so"} {
		if _, err := os.Stat(m); err == nil {
			module = m
		}
	}
	util, err := exec.LookPath("softhsm2-util")
	if module == "" || err != nil {
		if os.Getenv("CARNET_REQUIRE_SOFTHSM") == "1" {
			t.Fatal("SoftHSM2 is not installed")
		}
		t.Skip("SoftHSM2 is not installed (Debian softhsm2): skipped")
	}
	root := t.TempDir()
	tokens := filepath.Join(root, "tokens")
	if err := os.Mkdir(tokens, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(root, "softhsm2.conf")
	if err := os.WriteFile(conf, []byte("directories.tokendir = "+tokens+"\nobjectstore.backend = file\nlog.level = ERROR\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SOFTHSM2_CONF", conf)
	ca, err := credtest.NewCA("Carnet test CA")
	if err != nil {
		t.Fatal(err)
	}
	is, err := ca.IssuePractitioner(credential.Identity{RPPS: "810100012345", Name: "Marie DURAND", GivenName: "Marie", Surname: "DURAND",
		Profession: credential.Code{Code: "10"}, Structure: credential.Structure{ID: "10B0167011", Name: "CLINIQUE DU TEST"}})
	if err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) {
		cmd := exec.Command(util, args...)
		cmd.Env = append(os.Environ(), "SOFTHSM2_CONF="+conf)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("softhsm2-util %s: %v\n%s", args[0], err, out)
		}
	}
	run("--init-token", "--free", "--label", "carnet-xds", "--pin", hsmPIN, "--so-pin", "12345678")
	keyFile := filepath.Join(root, "key.pem")
	if err := os.WriteFile(keyFile, is.KeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	run("--import", keyFile, "--token", "carnet-xds", "--label", "practitioner", "--id", "01", "--pin", hsmPIN)
	_ = os.Remove(keyFile)
	createCert(t, module, is)

	cred, err := credential.OpenPKCS11(module, "carnet-xds", []byte(hsmPIN))
	if err != nil {
		t.Fatal(err)
	}
	defer cred.Close()
	s := &VIHFSigner{Signer: cred.Signer(), Cert: cred.Leaf()}
	r := testVIHFRequest(app.AccessNormal)
	a, _, err := s.Sign(r)
	if err != nil {
		t.Fatal(err)
	}
	msg := envelope(t, Header{To: "https://dmp.test/registry", Action: ActionRegistryStoredQuery, Security: a}, func(b *bytes.Buffer) {
		writeQuery(b, FindDocumentsQuery(testINS, nil, time.Time{}, nil))
	})
	if err := xmlsec1Verify(t, msg, ca.CertPEM); err != nil {
		t.Fatalf("xmlsec1 refuses the token-signed VIHF: %v", err)
	}
	if _, err := VerifyVIHF(a, ca.Pool(), time.Now()); err != nil {
		t.Fatal(err)
	}
}

// createCert puts the certificate on the token (softhsm2-util cannot).
func createCert(t *testing.T, module string, is *credtest.Issued) {
	t.Helper()
	ctx := pkcs11.New(module)
	if ctx == nil {
		t.Fatalf("cannot load %s", module)
	}
	defer ctx.Destroy()
	if err := ctx.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer ctx.Finalize()
	slots, err := ctx.GetSlotList(true)
	if err != nil {
		t.Fatal(err)
	}
	var slot uint
	found := false
	for _, s := range slots {
		if info, err := ctx.GetTokenInfo(s); err == nil && strings.TrimSpace(info.Label) == "carnet-xds" {
			slot, found = s, true
		}
	}
	if !found {
		t.Fatal("token not found")
	}
	sess, err := ctx.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		t.Fatal(err)
	}
	defer ctx.CloseSession(sess)
	if err := ctx.Login(sess, pkcs11.CKU_USER, hsmPIN); err != nil {
		t.Fatal(err)
	}
	defer ctx.Logout(sess)
	if _, err := ctx.CreateObject(sess, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_CERTIFICATE),
		pkcs11.NewAttribute(pkcs11.CKA_CERTIFICATE_TYPE, pkcs11.CKC_X_509),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, false),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, "practitioner"),
		pkcs11.NewAttribute(pkcs11.CKA_ID, []byte{1}),
		pkcs11.NewAttribute(pkcs11.CKA_SUBJECT, is.Cert.RawSubject),
		pkcs11.NewAttribute(pkcs11.CKA_ISSUER, is.Cert.RawIssuer),
		pkcs11.NewAttribute(pkcs11.CKA_SERIAL_NUMBER, is.Cert.SerialNumber.Bytes()),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE, is.Cert.Raw),
	}); err != nil {
		t.Fatal(err)
	}
}
