//go:build !windows

package credential

import (
	"fmt"
	"io/fs"
	"os"
)

// checkOwnerOnly refuses a certificate file group or others may read or
// write (mode bits).
func checkOwnerOnly(_ *os.File, fi fs.FileInfo, name string) error {
	if fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("%w: %s has mode %04o", ErrFileMode, name, fi.Mode().Perm())
	}
	return nil
}
