//go:build !cgo

package credential_test

import (
	"errors"
	"testing"

	"github.com/carnetdesk/carnet/crypto/credential"
)

func TestPKCS11NeedsCgo(t *testing.T) {
	_, err := credential.OpenPKCS11("/usr/lib/softhsm/libsofthsm2.so", "", []byte("1234"))
	if !errors.Is(err, credential.ErrNoCgo) {
		t.Fatalf("OpenPKCS11 without cgo: %v, want ErrNoCgo", err)
	}
}
