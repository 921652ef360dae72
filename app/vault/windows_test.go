//go:build windows

package vault

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/windows"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/crypto"
)

// TestWindowsCreateCompactReopen runs the file paths that differ on
// Windows (flushing a file opened read-write, no directory sync, the
// temporary link dropped before the vault is opened, the rename over the
// closed vault in Compact) on a path with spaces and accents: create,
// compact, lock, unlock, with a device secret in an owner-only file. No
// temporary file is left.
func TestWindowsCreateCompactReopen(t *testing.T) {
	dir := filepath.Join(winTempDir(t), "Hélène Dupont")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	light := crypto.LightParams()
	ctx := context.Background()
	pass := []byte("correct horse battery staple")
	v, err := Open(filepath.Join(dir, "vault.db"), Options{KDF: &light, Keyring: crypto.NoKeyring{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Create(ctx, pass, app.CreateOptions{}); err != nil {
		t.Fatalf("Create: %v", err)
	}
	if _, err := v.Compact(ctx); err != nil {
		t.Fatalf("Compact: %v", err)
	}
	v.Lock()
	if _, err := v.Unlock(ctx, pass); err != nil {
		t.Fatalf("Unlock after compact: %v", err)
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if n := e.Name(); strings.Contains(n, ".creating-") || strings.Contains(n, ".compact-") || strings.HasSuffix(n, ".lock") {
			t.Errorf("temporary file left: %s", n)
		}
	}
	if err := crypto.CheckPrivateFile(filepath.Join(dir, "vault.db.device")); err != nil {
		t.Fatalf("device secret file: %v", err)
	}
}

// TestWindowsFileHeldByAnotherProgram: a vault file another program holds
// open without sharing (an antivirus) is app.ErrInUse, a clear error,
// and the vault opens once it lets go.
func TestWindowsFileHeldByAnotherProgram(t *testing.T) {
	dir := winTempDir(t)
	path := filepath.Join(dir, "vault.db")
	light := crypto.LightParams()
	ctx := context.Background()
	pass := []byte("correct horse battery staple")
	v, err := Open(path, Options{KDF: &light, Keyring: crypto.NoKeyring{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Create(ctx, pass, app.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	p, _ := windows.UTF16PtrFromString(path)
	h, err := windows.CreateFile(p, windows.GENERIC_READ, 0, nil, windows.OPEN_EXISTING, windows.FILE_ATTRIBUTE_NORMAL, 0)
	if err != nil {
		t.Fatal(err)
	}
	v2, err := Open(path, Options{KDF: &light, Keyring: crypto.NoKeyring{}, Timeout: time.Second})
	if err == nil {
		_, err = v2.Unlock(ctx, pass)
	}
	if !errors.Is(err, app.ErrInUse) {
		t.Errorf("vault held by another program: %v, want ErrInUse", err)
	}
	if v2 != nil {
		v2.Close()
	}
	windows.CloseHandle(h)
	v3, err := Open(path, Options{KDF: &light, Keyring: crypto.NoKeyring{}})
	if err != nil {
		t.Fatal(err)
	}
	defer v3.Close()
	if _, err := v3.Unlock(ctx, pass); err != nil {
		t.Fatalf("Unlock once released: %v", err)
	}
}

// winTempDir is t.TempDir with a cleanup that Wine 8 supports (os.Remove
// per file; Wine answers os.RemoveAll's POSIX delete with "Invalid
// function").
func winTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "carnet-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		var rm func(string)
		rm = func(d string) {
			entries, _ := os.ReadDir(d)
			for _, e := range entries {
				p := filepath.Join(d, e.Name())
				if e.IsDir() {
					rm(p)
				}
				_ = os.Remove(p)
			}
		}
		rm(dir)
		if err := os.Remove(dir); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return dir
}
