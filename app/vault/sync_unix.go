//go:build !windows

package vault

import "os"

// syncPath fsyncs a file or a directory.
func syncPath(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// syncDir makes a rename or link durable, where the platform allows
// syncing a directory (not on Windows: best effort).
func syncDir(dir string) { _ = syncPath(dir) }

// classifyOS classifies the errors only this platform gives (none here:
// ENOSPC is shared).
func classifyOS(error) error { return nil }
