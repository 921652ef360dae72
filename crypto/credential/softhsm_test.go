//go:build cgo

package credential_test

import (
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/pkcs11"

	"github.com/carnetdesk/carnet/crypto/credential/credtest"
)

// The SoftHSM2 harness: a real PKCS#11 token in a temporary directory, its
// own softhsm2.conf (SOFTHSM2_CONF), initialised with softhsm2-util, the
// practitioner's key imported with softhsm2-util --import and the
// certificate written with C_CreateObject (no opensc/pkcs11-tool needed).
//
// Without SoftHSM2 the tests skip, unless CARNET_REQUIRE_SOFTHSM=1 (then
// they fail): `make test` installs softhsm2 (scripts/need-debs.sh).

const (
	testPIN   = "4321"
	testSOPIN = "87654321"
)

// softHSMModule finds libsofthsm2.so.
func softHSMModule() string {
	for _, p := range []string{
		"/usr/lib/softhsm/libsofthsm2.so",
		"/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
		"/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
		"/usr/local/lib/softhsm/libsofthsm2.so",
		"/opt/homebrew/lib/softhsm/libsofthsm2.so",
	} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// softHSM is one test's SoftHSM2 configuration.
type softHSM struct {
	dir    string // token directory
	conf   string
	module string
	util   string
}

// newSoftHSM writes a softhsm2.conf under a temporary directory and points
// SOFTHSM2_CONF at it for the test. Tests using it must not be parallel
// (the environment variable, and the library's process-wide state).
func newSoftHSM(t *testing.T) *softHSM {
	t.Helper()
	module := softHSMModule()
	util, utilErr := exec.LookPath("softhsm2-util")
	if module == "" || utilErr != nil {
		msg := "SoftHSM2 is not installed (Debian: apt-get install softhsm2, or make deps-test): PKCS#11 tests skipped"
		if os.Getenv("CARNET_REQUIRE_SOFTHSM") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	root := t.TempDir()
	h := &softHSM{dir: filepath.Join(root, "tokens"), conf: filepath.Join(root, "softhsm2.conf"), module: module, util: util}
	if err := os.Mkdir(h.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := "directories.tokendir = " + h.dir + "\n" +
		"objectstore.backend = file\n" +
		"log.level = ERROR\n" +
		"slots.removable = true\n" +
		"slots.mechanisms = ALL\n"
	if err := os.WriteFile(h.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SOFTHSM2_CONF", h.conf)
	return h
}

func (h *softHSM) run(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(h.util, args...)
	cmd.Env = append(os.Environ(), "SOFTHSM2_CONF="+h.conf)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("softhsm2-util %s: %v\n%s", args[0], err, out)
	}
	return string(out)
}

// addToken initialises a token labelled label and imports is's key and
// certificate under CKA_ID id (hex) and object label "practitioner".
func (h *softHSM) addToken(t *testing.T, label, id string, is *credtest.Issued) {
	t.Helper()
	h.run(t, "--init-token", "--free", "--label", label, "--pin", testPIN, "--so-pin", testSOPIN)
	keyFile := filepath.Join(filepath.Dir(h.dir), label+"-key.pem")
	if err := os.WriteFile(keyFile, is.KeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	h.run(t, "--import", keyFile, "--token", label, "--label", "practitioner", "--id", id, "--pin", testPIN)
	_ = os.Remove(keyFile)
	h.createCert(t, label, id, is)
}

// createCert writes the certificate object with C_CreateObject. It runs
// before any credential is open: the library is initialised and finalised
// here.
func (h *softHSM) createCert(t *testing.T, label, id string, is *credtest.Issued) {
	t.Helper()
	ctx := pkcs11.New(h.module)
	if ctx == nil {
		t.Fatalf("cannot load %s", h.module)
	}
	defer ctx.Destroy()
	if err := ctx.Initialize(); err != nil {
		t.Fatalf("C_Initialize: %v", err)
	}
	defer ctx.Finalize()
	slot := h.slotOf(t, ctx, label)
	sess, err := ctx.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		t.Fatalf("C_OpenSession: %v", err)
	}
	defer ctx.CloseSession(sess)
	if err := ctx.Login(sess, pkcs11.CKU_USER, testPIN); err != nil {
		t.Fatalf("C_Login: %v", err)
	}
	defer ctx.Logout(sess)
	ckaID, err := hex.DecodeString(id)
	if err != nil {
		t.Fatal(err)
	}
	_, err = ctx.CreateObject(sess, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_CERTIFICATE),
		pkcs11.NewAttribute(pkcs11.CKA_CERTIFICATE_TYPE, pkcs11.CKC_X_509),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, false),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, "practitioner"),
		pkcs11.NewAttribute(pkcs11.CKA_ID, ckaID),
		pkcs11.NewAttribute(pkcs11.CKA_SUBJECT, is.Cert.RawSubject),
		pkcs11.NewAttribute(pkcs11.CKA_ISSUER, is.Cert.RawIssuer),
		pkcs11.NewAttribute(pkcs11.CKA_SERIAL_NUMBER, is.Cert.SerialNumber.Bytes()),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE, is.Cert.Raw),
	})
	if err != nil {
		t.Fatalf("C_CreateObject (certificate): %v", err)
	}
}

func (h *softHSM) slotOf(t *testing.T, ctx *pkcs11.Ctx, label string) uint {
	t.Helper()
	slots, err := ctx.GetSlotList(true)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range slots {
		if info, err := ctx.GetTokenInfo(s); err == nil && strings.TrimSpace(info.Label) == label {
			return s
		}
	}
	t.Fatalf("no token %q", label)
	return 0
}

// slot returns the slot id of the token labelled label, through a context
// of its own (the library is already initialised by an open credential or
// not; both work).
func (h *softHSM) slot(t *testing.T, label string) uint {
	t.Helper()
	ctx := pkcs11.New(h.module)
	if ctx == nil {
		t.Fatalf("cannot load %s", h.module)
	}
	defer ctx.Destroy()
	err := ctx.Initialize()
	if err == nil {
		defer ctx.Finalize()
	} else if e, ok := err.(pkcs11.Error); !ok || e != pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED {
		t.Fatal(err)
	}
	return h.slotOf(t, ctx, label)
}
