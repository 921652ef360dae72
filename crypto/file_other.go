//go:build !unix && !windows

package crypto

import (
	"fmt"
	"os"
)

// openPrivate opens path and checks the open file (regular; the mode check
// of checkPrivateInfo). Owners and symbolic links are not checked on this
// platform.
func openPrivate(path string) (*os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("crypto: secret file: %w", err)
	}
	st, err := f.Stat()
	if err == nil {
		err = checkPrivateInfo(st)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// createPrivate creates path for writing with mode 0600, failing if it
// exists.
func createPrivate(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
}
