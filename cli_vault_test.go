package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/carnetdesk/carnet/app"
)

// TestVaultCheckThrottled: six wrong `carnet vault check` runs in a row
// used to never wait (the throttle lived in each process's memory); now
// the fourth and later runs are told to wait, and so is the right
// passphrase during the delay.
func TestVaultCheckThrottled(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	pass := secretFile(t, dir, "pass", "une phrase de passe assez longue", 0o600)
	wrong := secretFile(t, dir, "wrong", "une phrase de passe fausse, longue", 0o600)
	if code, out := carnet(t, "vault", "init", "--data", data, "--no-keyring", "--insecure-test-kdf", "--passphrase-file", pass); code != 0 {
		t.Fatalf("init: %d %s", code, out)
	}
	for i := 1; i <= 6; i++ {
		code, out := carnet(t, "vault", "check", "--data", data, "--no-keyring", "--passphrase-file", wrong)
		want := app.ErrWrongPassphrase.Error()
		if i > app.FreeAttempts {
			want = app.ErrTooManyAttempts.Error()
		}
		if code == 0 || !strings.Contains(out, want) {
			t.Fatalf("run %d: %d %q, want %q", i, code, out, want)
		}
	}
	if code, out := carnet(t, "vault", "check", "--data", data, "--no-keyring", "--passphrase-file", pass); code == 0 || !strings.Contains(out, app.ErrTooManyAttempts.Error()) {
		t.Fatalf("right passphrase during the delay: %d %q", code, out)
	}
}

// TestVaultCheckOlderCopy: `carnet vault check` on a restored older copy
// of the vault says so and how to open it anyway; --accept-older opens it
// with a warning.
func TestVaultCheckOlderCopy(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	pass := secretFile(t, dir, "pass", "une phrase de passe assez longue", 0o600)
	common := []string{"--data", data, "--no-keyring", "--passphrase-file", pass}
	if code, out := carnet(t, append([]string{"vault", "init", "--insecure-test-kdf"}, common...)...); code != 0 {
		t.Fatalf("init: %d %s", code, out)
	}
	file := filepath.Join(data, "vault.db") // openVault
	older, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if code, out := carnet(t, append([]string{"vault", "check"}, common...)...); code != 0 {
		t.Fatalf("check: %d %s", code, out)
	}
	if err := os.WriteFile(file, older, 0o600); err != nil {
		t.Fatal(err)
	}
	code, out := carnet(t, append([]string{"vault", "check"}, common...)...)
	if code == 0 || !strings.Contains(out, "older than the last one used here") || !strings.Contains(out, "--accept-older") {
		t.Fatalf("older copy: %d %q", code, out)
	}
	code, out = carnet(t, append([]string{"vault", "check", "--accept-older"}, common...)...)
	if code != 0 || !strings.Contains(out, "warning: "+string(app.WarnOlderVault)) {
		t.Fatalf("--accept-older: %d %q", code, out)
	}
}
