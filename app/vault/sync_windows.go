//go:build windows

package vault

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/windows"

	"github.com/carnetdesk/carnet/app"
)

// syncPath flushes a file to disk. On Windows FlushFileBuffers needs a
// handle opened for writing (a read-only one gets "Access denied", the
// first failure of `carnet --demo` under Wine), so the file is opened
// read-write; nothing is written.
func syncPath(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// syncDir does nothing on Windows: a directory cannot be flushed there
// (NTFS journals its metadata, renames and links included, itself).
func syncDir(string) {}

// classifyOS classifies Windows errors: a file another program holds open
// without sharing (an antivirus scanning the vault, a backup tool) or
// locked is app.ErrInUse; a full disk is app.ErrNoSpace.
func classifyOS(err error) error {
	switch {
	case errors.Is(err, windows.ERROR_SHARING_VIOLATION), errors.Is(err, windows.ERROR_LOCK_VIOLATION):
		return fmt.Errorf("%w: %v", app.ErrInUse, err)
	case errors.Is(err, windows.ERROR_DISK_FULL), errors.Is(err, windows.ERROR_HANDLE_DISK_FULL):
		return fmt.Errorf("%w: %v", app.ErrNoSpace, err)
	}
	return nil
}
