package credential_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/crypto/credential"
	"github.com/carnetdesk/carnet/crypto/credential/credtest"
)

const p12PIN = "1234-p12-pin"

func writeP12(t *testing.T, is *credtest.Issued, pin string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "practitioner.p12")
	if err := is.WritePKCS12(path, []byte(pin)); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestPKCS12RoundTrip(t *testing.T) {
	ca := newCA(t)
	is := issue(t, ca, drDupont, credtest.Options{})
	path := writeP12(t, is, p12PIN)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("WritePKCS12 mode %04o, want 0600", fi.Mode().Perm())
	}

	cred, err := credential.OpenPKCS12(path, []byte(p12PIN))
	if err != nil {
		t.Fatal(err)
	}
	defer cred.Close()
	if cred.Kind() != credential.KindPKCS12 {
		t.Errorf("Kind = %q", cred.Kind())
	}
	if !cred.Leaf().Equal(is.Cert) {
		t.Error("Leaf is not the issued certificate")
	}
	if got := cred.Identity(); !reflect.DeepEqual(got, drDupont) {
		t.Errorf("Identity:\n got %+v\nwant %+v", got, drDupont)
	}
	if len(cred.Chain()) != 1 || !cred.Chain()[0].Equal(ca.Cert) {
		t.Errorf("Chain: %d certificates, want the CA", len(cred.Chain()))
	}
	tc := cred.Certificate()
	if len(tc.Certificate) != 2 || tc.PrivateKey != cred.Signer() || tc.Leaf != cred.Leaf() {
		t.Errorf("tls.Certificate: %d certificates, key %T", len(tc.Certificate), tc.PrivateKey)
	}
	if !cred.SupportsPSS() || cred.MaxTLSVersion() != tls.VersionTLS13 {
		t.Error("a file key should do PSS and TLS 1.3")
	}
	if err := cred.Alive(); err != nil {
		t.Errorf("Alive on a file credential: %v", err)
	}

	// The Signer signs with the certificate's key.
	digest := sha256.Sum256([]byte("assertion"))
	sig, err := cred.Signer().Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if err := rsa.VerifyPKCS1v15(is.Cert.PublicKey.(*rsa.PublicKey), crypto.SHA256, digest[:], sig); err != nil {
		t.Errorf("signature does not verify: %v", err)
	}
	if err := cred.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := cred.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestPKCS12ECDSA(t *testing.T) {
	ca := newCA(t)
	is := issue(t, ca, drDupont, credtest.Options{ECDSA: true})
	cred, err := credential.OpenPKCS12(writeP12(t, is, p12PIN), []byte(p12PIN))
	if err != nil {
		t.Fatal(err)
	}
	defer cred.Close()
	digest := sha256.Sum256([]byte("x"))
	sig, err := cred.Signer().Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if !ecdsa.VerifyASN1(is.Cert.PublicKey.(*ecdsa.PublicKey), digest[:], sig) {
		t.Error("ECDSA signature does not verify")
	}
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		if serial, got := mtls(t, ca, cred, v); serial != drDupont.RPPS || got != v {
			t.Errorf("mTLS: server saw %q at %x", serial, got)
		}
	}
}

func TestPKCS12WrongPIN(t *testing.T) {
	is := issue(t, newCA(t), drDupont, credtest.Options{})
	path := writeP12(t, is, p12PIN)
	for _, pin := range []string{"0000", "", p12PIN + " "} {
		_, err := credential.OpenPKCS12(path, []byte(pin))
		if !errors.Is(err, credential.ErrPIN) {
			t.Fatalf("PIN %q: %v, want ErrPIN", pin, err)
		}
		if pin != "" && strings.Contains(err.Error(), pin) {
			t.Errorf("the error names the PIN: %v", err)
		}
		if !strings.HasPrefix(err.Error(), "credential: ") {
			t.Errorf("error %q does not start with credential:", err)
		}
	}
}

func TestPKCS12FileMode(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("mode bits mean nothing on Windows: the owner-only ACL check is crypto's (TestSecretFileOwnerOnlyACL)")
	}
	is := issue(t, newCA(t), drDupont, credtest.Options{})
	path := writeP12(t, is, p12PIN)
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o666} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		_, err := credential.OpenPKCS12(path, []byte(p12PIN))
		if !errors.Is(err, credential.ErrFileMode) {
			t.Errorf("mode %04o: %v, want ErrFileMode", mode, err)
		}
	}
	if err := os.Chmod(path, 0o400); err != nil {
		t.Fatal(err)
	}
	if c, err := credential.OpenPKCS12(path, []byte(p12PIN)); err != nil {
		t.Errorf("mode 0400 refused: %v", err)
	} else {
		c.Close()
	}
	if _, err := credential.OpenPKCS12(filepath.Dir(path), []byte(p12PIN)); err == nil {
		t.Error("a directory was accepted")
	}
	if _, err := credential.OpenPKCS12(filepath.Join(t.TempDir(), "none.p12"), []byte(p12PIN)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func TestPKCS12Expired(t *testing.T) {
	ca := newCA(t)
	now := time.Now()
	for name, o := range map[string]credtest.Options{
		"expired":       {NotBefore: now.AddDate(-3, 0, 0), NotAfter: now.Add(-time.Minute)},
		"not yet valid": {NotBefore: now.Add(time.Hour), NotAfter: now.AddDate(1, 0, 0)},
	} {
		is := issue(t, ca, drDupont, o)
		_, err := credential.OpenPKCS12(writeP12(t, is, p12PIN), []byte(p12PIN))
		if !errors.Is(err, credential.ErrExpired) {
			t.Errorf("%s: %v, want ErrExpired", name, err)
		}
	}
}

func TestPKCS12Garbage(t *testing.T) {
	dir := t.TempDir()
	big := make([]byte, 2<<20)
	is := issue(t, newCA(t), drDupont, credtest.Options{})
	good, err := is.PKCS12([]byte(p12PIN))
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{
		"empty":     {},
		"text":      []byte("not a certificate\n"),
		"pem":       is.CertPEM,
		"truncated": good[:len(good)/2],
		"flipped":   flip(good, len(good)/3),
		"too large": big,
	} {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".p12")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := credential.OpenPKCS12(path, []byte(p12PIN))
		if err == nil {
			c.Close()
			t.Errorf("%s: accepted", name)
			continue
		}
		if !strings.HasPrefix(err.Error(), "credential: ") || strings.Contains(err.Error(), p12PIN) {
			t.Errorf("%s: error %q", name, err)
		}
	}
}

func flip(b []byte, i int) []byte {
	c := append([]byte(nil), b...)
	c[i] ^= 0xff
	return c
}

func TestPKCS12MTLS(t *testing.T) {
	ca := newCA(t)
	is := issue(t, ca, drDupont, credtest.Options{})
	cred, err := credential.OpenPKCS12(writeP12(t, is, p12PIN), []byte(p12PIN))
	if err != nil {
		t.Fatal(err)
	}
	defer cred.Close()
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		serial, got := mtls(t, ca, cred, v)
		if serial != drDupont.RPPS || got != v {
			t.Errorf("TLS %x: server saw %q at %x", v, serial, got)
		}
	}

	// A key restricted to PKCS#1 v1.5 (a card without PSS) still
	// authenticates at TLS 1.2, and TLSConfig caps the version there.
	credential.SetNoPSS(cred)
	if cred.MaxTLSVersion() != tls.VersionTLS12 || cred.TLSConfig(nil).MaxVersion != tls.VersionTLS12 {
		t.Error("no-PSS credential not capped at TLS 1.2")
	}
	if _, got := mtls(t, ca, cred, tls.VersionTLS12); got != tls.VersionTLS12 {
		t.Errorf("no-PSS: TLS %x", got)
	}

	// A certificate from another CA is refused by the server.
	other := issue(t, newCA(t), drDupont, credtest.Options{})
	stranger, err := credential.OpenPKCS12(writeP12(t, other, p12PIN), []byte(p12PIN))
	if err != nil {
		t.Fatal(err)
	}
	defer stranger.Close()
	if ok := mtlsFails(t, ca, stranger); !ok {
		t.Error("a certificate of another CA was accepted")
	}
}

// TestPKCS12CloseWipesKey: closing a file credential zeroes its private
// key's secret integers (RSA and ECDSA), so that `carnet import --watch`
// and the desktop do not keep the EXTERNAL key in memory across a lock.
func TestPKCS12CloseWipesKey(t *testing.T) {
	ca := newCA(t)
	for _, ec := range []bool{false, true} {
		is := issue(t, ca, drDupont, credtest.Options{ECDSA: ec})
		cred, err := credential.OpenPKCS12(writeP12(t, is, p12PIN), []byte(p12PIN))
		if err != nil {
			t.Fatal(err)
		}
		var secrets []*big.Int
		switch k := cred.Signer().(type) {
		case *rsa.PrivateKey:
			secrets = append([]*big.Int{k.D, k.Precomputed.Dp, k.Precomputed.Dq, k.Precomputed.Qinv}, k.Primes...)
		case *ecdsa.PrivateKey:
			secrets = []*big.Int{k.D}
		default:
			t.Fatalf("key %T", k)
		}
		words := make([][]big.Word, len(secrets))
		for i, n := range secrets {
			if n.Sign() == 0 {
				t.Fatalf("ECDSA %v: secret %d is zero before Close", ec, i)
			}
			words[i] = n.Bits()[:len(n.Bits()):len(n.Bits())] // the memory the integer held
		}
		if err := cred.Close(); err != nil {
			t.Fatal(err)
		}
		for i, ws := range words {
			for _, w := range ws {
				if w != 0 || secrets[i].Sign() != 0 {
					t.Fatalf("ECDSA %v: secret %d still in memory after Close", ec, i)
				}
			}
		}
	}
}
