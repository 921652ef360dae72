//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package vault

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/carnetdesk/carnet/app"
)

// lockCreate takes the creation lock of the vault at path: an exclusive
// flock on path+".lock", waited for up to timeout (then app.ErrInUse). The
// kernel drops the lock of a crashed process. The returned function removes
// the lock file, then releases the lock; a waiter that then locks the
// removed file notices (its descriptor no longer names path+".lock") and
// starts again.
func lockCreate(path string, timeout time.Duration) (func(), error) {
	lp := path + ".lock"
	deadline := time.Now().Add(timeout)
	for {
		f, err := os.OpenFile(lp, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("creation lock: %w", classify(err))
		}
		for {
			err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
			if err == nil {
				break
			}
			if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
				f.Close()
				return nil, fmt.Errorf("creation lock: %w", err)
			}
			if time.Now().After(deadline) {
				f.Close()
				return nil, fmt.Errorf("another Carnet is creating this vault: %w", app.ErrInUse)
			}
			time.Sleep(5 * time.Millisecond)
		}
		held, err1 := f.Stat()
		named, err2 := os.Stat(lp)
		if err1 == nil && err2 == nil && os.SameFile(held, named) {
			return func() {
				_ = os.Remove(lp)
				f.Close()
			}, nil
		}
		f.Close()
	}
}
