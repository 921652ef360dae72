//go:build unix

package crypto

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestSecretFileNoFollow: a symbolic link to a private file, a FIFO and a
// directory are refused, through the descriptor that would be read.
func TestSecretFileNoFollow(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real.device")
	secret := bytes.Repeat([]byte{0x5a}, DeviceSecretSize)
	if err := WriteSecretFile(real, secret); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.device")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadSecretFile(link); !errors.Is(err, ErrInsecureFile) {
		t.Fatalf("ReadSecretFile(symlink) = %v, want ErrInsecureFile", err)
	}
	if err := CheckPrivateFile(link); !errors.Is(err, ErrInsecureFile) {
		t.Fatalf("CheckPrivateFile(symlink) = %v, want ErrInsecureFile", err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := ReadSecretFile(fifo); done <- err }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("ReadSecretFile(fifo) succeeded")
		}
	case <-time.After(time.Minute): // a hang guard, not a deadline
		t.Fatal("ReadSecretFile(fifo) blocks")
	}
	if _, err := ReadSecretFile(dir); err == nil {
		t.Fatal("ReadSecretFile(directory) succeeded")
	}
	if _, err := ReadSecretFile(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("ReadSecretFile(missing) = %v, want ErrNotExist", err)
	}
	long := filepath.Join(dir, "long")
	if err := os.WriteFile(long, bytes.Repeat([]byte("a"), 4096), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadSecretFile(long); !errors.Is(err, ErrFormat) {
		t.Fatalf("ReadSecretFile(long) = %v, want ErrFormat", err)
	}
	if got, err := ReadPrivateFile(real, 100); err != nil || len(got) != 2*DeviceSecretSize+1 {
		t.Fatalf("ReadPrivateFile = %d bytes, %v", len(got), err)
	}
}
