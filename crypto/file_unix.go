//go:build unix

package crypto

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// openPrivate opens path for reading without following a final symbolic
// link and without blocking on a pipe, then checks the open file itself
// (fstat): a regular file, owned by the effective user, mode 0600 or 0400.
func openPrivate(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			return nil, fmt.Errorf("crypto: secret file is a symbolic link: %w", ErrInsecureFile)
		}
		return nil, fmt.Errorf("crypto: secret file: %w", err)
	}
	st, err := f.Stat()
	if err == nil {
		err = checkPrivateInfo(st)
	}
	if err == nil {
		if sys, ok := st.Sys().(*syscall.Stat_t); ok && int(sys.Uid) != os.Geteuid() {
			err = fmt.Errorf("crypto: secret file owned by uid %d, not %d: %w", sys.Uid, os.Geteuid(), ErrInsecureFile)
		}
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
