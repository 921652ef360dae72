//go:build cgo

package credential

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/miekg/pkcs11"
)

// TestClassify checks the mapping of PKCS#11 return values to this
// package's errors, CKR_PIN_LOCKED included (SoftHSM2 never returns it).
func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		code uint
		want error
	}{
		{pkcs11.CKR_PIN_INCORRECT, ErrPIN},
		{pkcs11.CKR_PIN_INVALID, ErrPIN},
		{pkcs11.CKR_PIN_LEN_RANGE, ErrPIN},
		{pkcs11.CKR_PIN_EXPIRED, ErrPIN},
		{pkcs11.CKR_PIN_LOCKED, ErrPINLocked},
		{pkcs11.CKR_DEVICE_REMOVED, ErrCardRemoved},
		{pkcs11.CKR_TOKEN_NOT_PRESENT, ErrCardRemoved},
		{pkcs11.CKR_SESSION_HANDLE_INVALID, ErrCardRemoved},
		{pkcs11.CKR_SESSION_CLOSED, ErrCardRemoved},
		{pkcs11.CKR_DEVICE_ERROR, ErrCardRemoved},
		{pkcs11.CKR_OBJECT_HANDLE_INVALID, ErrCardRemoved},
		{pkcs11.CKR_KEY_HANDLE_INVALID, ErrCardRemoved},
		{pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED, ErrCardRemoved},
		{pkcs11.CKR_MECHANISM_INVALID, nil},
		{pkcs11.CKR_GENERAL_ERROR, nil},
	} {
		err := tokenError("op", pkcs11.Error(tc.code))
		if tc.want == nil {
			for _, s := range []error{ErrPIN, ErrPINLocked, ErrCardRemoved} {
				if errors.Is(err, s) {
					t.Errorf("%v: classified as %v", pkcs11.Error(tc.code), s)
				}
			}
		} else if !errors.Is(err, tc.want) {
			t.Errorf("%v: %v, want %v", pkcs11.Error(tc.code), err, tc.want)
		}
		// The PKCS#11 code stays reachable, and the message is ours.
		var pe pkcs11.Error
		if !errors.As(err, &pe) || uint(pe) != tc.code {
			t.Errorf("%v: code lost in %v", pkcs11.Error(tc.code), err)
		}
		if s := err.Error(); len(s) < 12 || s[:12] != "credential: " {
			t.Errorf("message %q", s)
		}
	}
	// PIN locked stays distinct from a wrong PIN.
	if locked := loginError(pkcs11.Error(pkcs11.CKR_PIN_LOCKED), "carte"); errors.Is(locked, ErrPIN) || !errors.Is(locked, ErrPINLocked) {
		t.Errorf("locked: %v", locked)
	}
	if exp := loginError(pkcs11.Error(pkcs11.CKR_PIN_EXPIRED), "carte"); !errors.Is(exp, ErrPIN) {
		t.Errorf("expired PIN: %v", exp)
	}
	if classify(fmt.Errorf("plain")) != nil {
		t.Error("a non-PKCS#11 error was classified")
	}
}

// TestMissingModule: a card module that is not there (the CPS middleware
// not installed, a wrong path in the settings) is ErrNoModule, which the
// sign-in turns into a translated message.
func TestMissingModule(t *testing.T) {
	for _, path := range []string{
		filepath.Join(t.TempDir(), "cps3_pkcs11_w64.dll"),
		filepath.Join(t.TempDir(), "Hélène Dupont", "libcps3_pkcs11_lux.so"),
	} {
		if _, err := OpenPKCS11(path, "", []byte("1234")); !errors.Is(err, ErrNoModule) {
			t.Errorf("%s: err %v, want ErrNoModule", path, err)
		}
	}
	// A file that is no shared library cannot be loaded either.
	bogus := filepath.Join(t.TempDir(), "not-a-module.so")
	if err := os.WriteFile(bogus, []byte("not a library"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenPKCS11(bogus, "", []byte("1234")); !errors.Is(err, ErrNoModule) {
		t.Errorf("a file that is not a library: err %v, want ErrNoModule", err)
	}
}
