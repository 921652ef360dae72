//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package vault

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/carnetdesk/carnet/app"
)

// staleCreateLock is the age after which a creation lock file is taken to
// be left by a crashed process (creation takes seconds).
const staleCreateLock = 10 * time.Minute

// lockCreate takes the creation lock of the vault at path: path+".lock"
// created with O_EXCL, waited for up to timeout (then app.ErrInUse). A lock
// file older than staleCreateLock is removed first. The returned function
// removes the lock file.
func lockCreate(path string, timeout time.Duration) (func(), error) {
	lp := path + ".lock"
	deadline := time.Now().Add(timeout)
	for {
		f, err := os.OpenFile(lp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			f.Close()
			return func() { _ = os.Remove(lp) }, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("creation lock: %w", classify(err))
		}
		if fi, err := os.Stat(lp); err == nil && time.Since(fi.ModTime()) > staleCreateLock {
			_ = os.Remove(lp)
			continue
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("another Carnet is creating this vault: %w", app.ErrInUse)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
