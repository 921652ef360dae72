//go:build windows

package vault

import "os"

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
