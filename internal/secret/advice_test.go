package secret

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/carnetdesk/carnet/app"
)

// TestInsecureSecretFileAdvice: a secret file others may read is refused
// with the advice of this OS: chmod on Unix, an owner-only ACL (icacls) on
// Windows, never chmod there.
func TestInsecureSecretFileAdvice(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pin")
	if err := os.WriteFile(path, []byte("1234\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS == "windows" {
		// Readable by Everyone: the ACL of the Windows test (crypto) is
		// not at hand here; the advice alone is checked.
		if a := privateFileAdvice(path); !strings.Contains(a, "icacls") || strings.Contains(a, "chmod") || !strings.Contains(a, path) {
			t.Fatalf("Windows advice %q", a)
		}
		return
	}
	_, err := ReadFile(path)
	if !errors.Is(err, app.ErrInsecureFile) {
		t.Fatalf("err %v, want ErrInsecureFile", err)
	}
	if !strings.Contains(err.Error(), "chmod 600 "+path) {
		t.Fatalf("no chmod advice in %q", err)
	}
}
