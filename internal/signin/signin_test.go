package signin

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/crypto/credential"
	"github.com/carnetdesk/carnet/internal/config"
)

// TestPINErrorClassification: what the token or file said of the PIN
// becomes the app's PINError (locked, last try, wrong, empty); anything
// else is not about the PIN.
func TestPINErrorClassification(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("C_Login: %w", err) }
	cases := []struct {
		name string
		err  error
		pin  string
		want *app.PINError
	}{
		{"locked", wrap(credential.ErrPINLocked), "1234", &app.PINError{Locked: true}},
		{"final try", wrap(credential.ErrPINFinalTry), "1234", &app.PINError{TriesLeft: 1}},
		{"wrong", wrap(credential.ErrPIN), "1234", &app.PINError{}},
		{"empty", wrap(credential.ErrPIN), "", &app.PINError{Empty: true}},
		{"not about the PIN", errors.New("no such slot"), "1234", nil},
		{"file mode", wrap(credential.ErrFileMode), "1234", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := pinError(tc.err, []byte(tc.pin))
			if (got == nil) != (tc.want == nil) || (got != nil && *got != *tc.want) {
				t.Fatalf("pinError = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestOpenCredentialRefusals: without a credential, or with a missing
// PKCS#12 file, the error is classified app.ErrCredential and never holds
// the PIN.
func TestOpenCredentialRefusals(t *testing.T) {
	pin := "9876-secret-pin"
	if _, err := OpenCredential(config.Config{}, []byte(pin)); !errors.Is(err, app.ErrCredential) {
		t.Fatalf("no credential: %v", err)
	}
	var cfg config.Config
	cfg.Credential.PKCS12File = t.TempDir() + "/missing.p12"
	_, err := OpenCredential(cfg, []byte(pin))
	if err == nil || errors.Is(err, app.ErrInsecureFile) {
		t.Fatalf("missing file: %v", err)
	}
	if s := err.Error(); len(s) == 0 || strings.Contains(s, pin) {
		t.Fatalf("error %q holds the PIN", s)
	}
}
