//go:build windows

package credential

import (
	"fmt"
	"io/fs"
	"os"

	carnetcrypto "github.com/carnetdesk/carnet/crypto"
)

// checkOwnerOnly refuses a certificate file whose ACL lets another user in
// (crypto.CheckOwnerOnly, on the descriptor that is then read).
func checkOwnerOnly(f *os.File, _ fs.FileInfo, name string) error {
	if err := carnetcrypto.CheckOwnerOnly(f); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrFileMode, name, err)
	}
	return nil
}
