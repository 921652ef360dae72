//go:build cgo

package credential_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"errors"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/pkcs11"

	"github.com/carnetdesk/carnet/crypto/credential"
	"github.com/carnetdesk/carnet/crypto/credential/credtest"
)

// cardFixture is a SoftHSM2 token "carnet-test" holding Dr Dupont's RSA
// key and certificate.
type cardFixture struct {
	hsm *softHSM
	ca  *credtest.CA
	is  *credtest.Issued
}

func newCard(t *testing.T) *cardFixture {
	t.Helper()
	hsm := newSoftHSM(t)
	ca := newCA(t)
	is := issue(t, ca, drDupont, credtest.Options{})
	hsm.addToken(t, "carnet-test", "01", is)
	return &cardFixture{hsm: hsm, ca: ca, is: is}
}

func (f *cardFixture) open(t *testing.T, slotOrLabel string) *credential.Credential {
	t.Helper()
	cred, err := credential.OpenPKCS11(f.hsm.module, slotOrLabel, []byte(testPIN))
	if err != nil {
		t.Fatalf("OpenPKCS11(%q): %v", slotOrLabel, err)
	}
	t.Cleanup(func() { cred.Close() })
	return cred
}

func TestPKCS11OpenByLabelAndSlot(t *testing.T) {
	f := newCard(t)
	cred := f.open(t, "carnet-test")
	if cred.Kind() != credential.KindPKCS11 {
		t.Errorf("Kind = %q", cred.Kind())
	}
	if !cred.Leaf().Equal(f.is.Cert) {
		t.Error("Leaf is not the imported certificate")
	}
	if got := cred.Identity(); !reflect.DeepEqual(got, drDupont) {
		t.Errorf("Identity:\n got %+v\nwant %+v", got, drDupont)
	}
	if !cred.SupportsPSS() {
		t.Error("SoftHSM2 signs CKM_RSA_PKCS_PSS: SupportsPSS should be true")
	}
	if err := cred.Alive(); err != nil {
		t.Errorf("Alive: %v", err)
	}
	if err := cred.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := cred.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	digest := sha256.Sum256([]byte("x"))
	if _, err := cred.Signer().Sign(rand.Reader, digest[:], crypto.SHA256); !errors.Is(err, credential.ErrClosed) {
		t.Errorf("Sign after Close: %v, want ErrClosed", err)
	}

	// By slot id, by index (the only token: 0), and by default.
	slot := f.hsm.slot(t, "carnet-test")
	for _, sel := range []string{strconv.FormatUint(uint64(slot), 10), "0", ""} {
		c := f.open(t, sel)
		if !c.Leaf().Equal(f.is.Cert) {
			t.Errorf("slot %q: wrong certificate", sel)
		}
		if err := c.Close(); err != nil {
			t.Errorf("slot %q: Close: %v", sel, err)
		}
	}

	if _, err := credential.OpenPKCS11(f.hsm.module, "no-such-token", []byte(testPIN)); err == nil || !strings.Contains(err.Error(), "carnet-test") {
		t.Errorf("unknown label: %v (want an error listing the tokens present)", err)
	}
	if _, err := credential.OpenPKCS11("/nonexistent/libpkcs11.so", "", []byte(testPIN)); err == nil || !strings.HasPrefix(err.Error(), "credential: ") {
		t.Errorf("missing module: %v", err)
	}
}

func TestPKCS11Sign(t *testing.T) {
	f := newCard(t)
	cred := f.open(t, "carnet-test")
	pub := f.is.Cert.PublicKey.(*rsa.PublicKey)
	msg := []byte("jeton d'accès signé")

	d256 := sha256.Sum256(msg)
	sig, err := cred.Signer().Sign(rand.Reader, d256[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, d256[:], sig); err != nil {
		t.Errorf("PKCS#1 v1.5 SHA-256: %v", err)
	}
	d512 := sha512.Sum512(msg)
	sig, err = cred.Signer().Sign(rand.Reader, d512[:], crypto.SHA512)
	if err != nil {
		t.Fatal(err)
	}
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA512, d512[:], sig); err != nil {
		t.Errorf("PKCS#1 v1.5 SHA-512: %v", err)
	}
	for _, salt := range []int{rsa.PSSSaltLengthEqualsHash, rsa.PSSSaltLengthAuto, 20} {
		opts := &rsa.PSSOptions{SaltLength: salt, Hash: crypto.SHA256}
		sig, err := cred.Signer().Sign(rand.Reader, d256[:], opts)
		if err != nil {
			t.Fatalf("PSS salt %d: %v", salt, err)
		}
		if err := rsa.VerifyPSS(pub, crypto.SHA256, d256[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto}); err != nil {
			t.Errorf("PSS salt %d: %v", salt, err)
		}
	}
	if _, err := cred.Signer().Sign(rand.Reader, d256[:16], crypto.SHA256); err == nil {
		t.Error("a short digest was signed")
	}

	// Concurrent signatures share one session: serialised by the mutex
	// (run with -race).
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			d := sha256.Sum256([]byte{byte(i)})
			var opts crypto.SignerOpts = crypto.SHA256
			if i%2 == 1 {
				opts = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}
			}
			sig, err := cred.Signer().Sign(rand.Reader, d[:], opts)
			if err == nil {
				if i%2 == 1 {
					err = rsa.VerifyPSS(pub, crypto.SHA256, d[:], sig, nil)
				} else {
					err = rsa.VerifyPKCS1v15(pub, crypto.SHA256, d[:], sig)
				}
			}
			errs <- err
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

func TestPKCS11ECDSA(t *testing.T) {
	hsm := newSoftHSM(t)
	ca := newCA(t)
	is := issue(t, ca, drDupont, credtest.Options{ECDSA: true})
	hsm.addToken(t, "carnet-ec", "02", is)
	cred, err := credential.OpenPKCS11(hsm.module, "carnet-ec", []byte(testPIN))
	if err != nil {
		t.Fatal(err)
	}
	defer cred.Close()
	d := sha256.Sum256([]byte("ec"))
	sig, err := cred.Signer().Sign(rand.Reader, d[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if !ecdsa.VerifyASN1(is.Cert.PublicKey.(*ecdsa.PublicKey), d[:], sig) {
		t.Error("ECDSA signature from the token does not verify")
	}
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		if serial, got := mtls(t, ca, cred, v); serial != drDupont.RPPS || got != v {
			t.Errorf("ECDSA mTLS: server saw %q at %x", serial, got)
		}
	}
}

func TestPKCS11MTLS(t *testing.T) {
	f := newCard(t)
	cred := f.open(t, "carnet-test")
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		serial, got := mtls(t, f.ca, cred, v)
		if serial != drDupont.RPPS || got != v {
			t.Errorf("TLS %x: server saw %q at %x", v, serial, got)
		}
	}
	// As a card without PSS: PKCS#1 v1.5 at TLS 1.2, capped by TLSConfig.
	credential.SetNoPSS(cred)
	if cfg := cred.TLSConfig(&tls.Config{MaxVersion: tls.VersionTLS13}); cfg.MaxVersion != tls.VersionTLS12 {
		t.Errorf("no-PSS TLSConfig MaxVersion %x", cfg.MaxVersion)
	}
	if _, got := mtls(t, f.ca, cred, tls.VersionTLS12); got != tls.VersionTLS12 {
		t.Errorf("no-PSS: TLS %x", got)
	}
}

func TestPKCS11WrongPIN(t *testing.T) {
	f := newCard(t)
	for _, pin := range []string{"0000", "43210", ""} {
		_, err := credential.OpenPKCS11(f.hsm.module, "carnet-test", []byte(pin))
		if !errors.Is(err, credential.ErrPIN) {
			t.Fatalf("PIN %q: %v, want ErrPIN", pin, err)
		}
		if pin != "" && strings.Contains(err.Error(), pin) {
			t.Errorf("error names the PIN: %v", err)
		}
	}
	// The right PIN still works: the module was released cleanly after the
	// failures.
	f.open(t, "carnet-test")
}

// TestPKCS11PINRetries records what SoftHSM2 does after many wrong PINs.
// SoftHSM2 2.6 keeps no retry counter: it never returns CKR_PIN_LOCKED and
// the right PIN still works after 20 wrong ones. The mapping of
// CKR_PIN_LOCKED to ErrPINLocked is covered by TestClassify; a real CPS card
// locks after 3 wrong PINs.
func TestPKCS11PINRetries(t *testing.T) {
	f := newCard(t)
	locked := false
	for i := 0; i < 20; i++ {
		_, err := credential.OpenPKCS11(f.hsm.module, "carnet-test", []byte("9999"))
		if errors.Is(err, credential.ErrPINLocked) {
			locked = true
			t.Logf("SoftHSM2 locked the PIN after %d wrong tries", i+1)
			break
		}
		if !errors.Is(err, credential.ErrPIN) {
			t.Fatalf("try %d: %v", i+1, err)
		}
	}
	if locked {
		_, err := credential.OpenPKCS11(f.hsm.module, "carnet-test", []byte(testPIN))
		if !errors.Is(err, credential.ErrPINLocked) {
			t.Errorf("right PIN on a locked token: %v, want ErrPINLocked", err)
		}
		return
	}
	t.Log("SoftHSM2 does not lock the PIN after 20 wrong tries")
	f.open(t, "carnet-test")
}

// TestPKCS11CardRemoved simulates a card pulled out mid-session in the three
// ways SoftHSM2 allows: the session closed under the credential
// (C_CloseAllSessions, what a reader does on removal), the token's
// directory deleted, and the library finalised under it.
func TestPKCS11CardRemoved(t *testing.T) {
	d := sha256.Sum256([]byte("x"))

	t.Run("sessions closed", func(t *testing.T) {
		f := newCard(t)
		cred := f.open(t, "carnet-test")
		if _, err := cred.Signer().Sign(rand.Reader, d[:], crypto.SHA256); err != nil {
			t.Fatal(err)
		}
		other := pkcs11.New(f.hsm.module) // same library, same process state
		defer other.Destroy()
		if err := other.CloseAllSessions(f.hsm.slot(t, "carnet-test")); err != nil {
			t.Fatal(err)
		}
		_, err := cred.Signer().Sign(rand.Reader, d[:], crypto.SHA256)
		if !errors.Is(err, credential.ErrCardRemoved) {
			t.Fatalf("Sign after removal: %v, want ErrCardRemoved", err)
		}
		if err := cred.Alive(); !errors.Is(err, credential.ErrCardRemoved) {
			t.Errorf("Alive after removal: %v", err)
		}
		if err := cred.Close(); err != nil {
			t.Errorf("Close after removal: %v", err)
		}
		// The card "reinserted": a new credential works.
		f.open(t, "carnet-test")
	})

	t.Run("token deleted", func(t *testing.T) {
		f := newCard(t)
		cred := f.open(t, "carnet-test")
		if err := os.RemoveAll(f.hsm.dir); err != nil {
			t.Fatal(err)
		}
		_, err := cred.Signer().Sign(rand.Reader, d[:], crypto.SHA256)
		alive := cred.Alive()
		t.Logf("SoftHSM2 after its token directory was deleted: Sign: %v; Alive: %v", err, alive)
		// SoftHSM2 2.6 answers CKR_OBJECT_HANDLE_INVALID (the key object
		// vanished with its file): a card replaced, for us.
		if !errors.Is(err, credential.ErrCardRemoved) || !errors.Is(alive, credential.ErrCardRemoved) {
			t.Errorf("after the token was deleted: Sign %v, Alive %v; want ErrCardRemoved", err, alive)
		}
		if err := cred.Close(); err != nil && !strings.HasPrefix(err.Error(), "credential: ") {
			t.Errorf("Close: %v", err)
		}
		if _, err := credential.OpenPKCS11(f.hsm.module, "carnet-test", []byte(testPIN)); err == nil {
			t.Error("a deleted token opened again")
		} else {
			t.Logf("opening the deleted token: %v", err)
		}
	})

	t.Run("library finalised", func(t *testing.T) {
		f := newCard(t)
		cred := f.open(t, "carnet-test")
		other := pkcs11.New(f.hsm.module)
		defer other.Destroy()
		if err := other.Finalize(); err != nil {
			t.Fatal(err)
		}
		_, err := cred.Signer().Sign(rand.Reader, d[:], crypto.SHA256)
		if !errors.Is(err, credential.ErrCardRemoved) {
			t.Fatalf("Sign after finalise: %v, want ErrCardRemoved", err)
		}
		if err := cred.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
}

func TestPKCS11Expired(t *testing.T) {
	hsm := newSoftHSM(t)
	ca := newCA(t)
	now := time.Now()
	is := issue(t, ca, drDupont, credtest.Options{NotBefore: now.AddDate(-3, 0, 0), NotAfter: now.Add(-time.Hour)})
	hsm.addToken(t, "carnet-old", "03", is)
	_, err := credential.OpenPKCS11(hsm.module, "carnet-old", []byte(testPIN))
	if !errors.Is(err, credential.ErrExpired) {
		t.Errorf("expired card certificate: %v, want ErrExpired", err)
	}
}
