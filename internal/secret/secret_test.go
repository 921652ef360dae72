package secret

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/carnetdesk/carnet/app"
)

// TestReadFile: a private file gives its first line (CRLF too); a file
// others can read is refused with app.ErrInsecureFile and its content is
// not returned.
func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	got, err := ReadFile(write("ok", "une phrase\r\nsecond line\n", 0o600))
	if err != nil || string(got) != "une phrase" {
		t.Fatalf("private file: %q %v", got, err)
	}
	got, err = ReadFile(write("open", "lisible par tous\n", 0o644))
	if !errors.Is(err, app.ErrInsecureFile) || got != nil {
		t.Fatalf("0644 file: %q %v", got, err)
	}
	if _, err := ReadFile(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("a missing file gave a secret")
	}
}
