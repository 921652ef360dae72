package main

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/carnetdesk/carnet/crypto"
)

// carnet runs the command line in-process and returns its exit status and
// output.
func carnet(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	log := slog.New(slog.NewTextHandler(&errOut, nil))
	code := run(args, strings.NewReader(""), &out, &errOut, log)
	return code, out.String() + errOut.String()
}

func secretFile(t *testing.T, dir, name, content string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content+"\n"), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestVaultCommands(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	pass := secretFile(t, dir, "pass", "une phrase de passe assez longue", 0o600)
	newPass := secretFile(t, dir, "new", "une autre phrase tout aussi longue", 0o600)
	common := []string{"--data", data, "--no-keyring"}

	steps := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
	}{
		{"check before init", []string{"vault", "check", "--passphrase-file", pass}, 1, "no vault"},
		{"init", []string{"vault", "init", "--insecure-test-kdf", "--passphrase-file", pass}, 0, "vault created"},
		{"test KDF refused outside init", []string{"vault", "check", "--insecure-test-kdf", "--passphrase-file", pass}, 2, "not defined"},
		{"init twice", []string{"vault", "init", "--passphrase-file", pass}, 1, "already exists"},
		{"check", []string{"vault", "check", "--passphrase-file", pass}, 0, "vault OK"},
		{"passwd", []string{"vault", "passwd", "--passphrase-file", pass, "--new-passphrase-file", newPass}, 0, "passphrase changed"},
		{"old passphrase refused", []string{"vault", "check", "--passphrase-file", pass}, 1, "wrong passphrase"},
		{"new passphrase works", []string{"vault", "check", "--passphrase-file", newPass}, 0, "vault OK"},
		{"compact", []string{"vault", "compact", "--passphrase-file", newPass}, 0, "compacted"},
		{"unknown subcommand", []string{"vault", "explode"}, 2, "unknown subcommand"},
		{"secret on the command line refused", []string{"vault", "check", "hunter2"}, 2, "never given on the command line"},
	}
	for _, st := range steps {
		args := append(append([]string{}, st.args[:2]...), common...)
		args = append(args, st.args[2:]...)
		code, out := carnet(t, args...)
		if code != st.wantCode || !strings.Contains(out, st.wantOut) {
			t.Fatalf("%s: carnet %v = %d, %q; want %d and %q", st.name, st.args, code, out, st.wantCode, st.wantOut)
		}
	}
}

func TestPassphraseFileMustBePrivate(t *testing.T) {
	dir := t.TempDir()
	open := secretFile(t, dir, "pass", "une phrase de passe assez longue", 0o644)
	code, out := carnet(t, "vault", "init", "--data", filepath.Join(dir, "d"), "--no-keyring", "--insecure-test-kdf", "--passphrase-file", open)
	if code != 1 || !strings.Contains(out, "readable by others") {
		t.Fatalf("init with a 0644 passphrase file = %d, %q; want a refusal", code, out)
	}
	if strings.Contains(out, "une phrase") {
		t.Fatal("the passphrase appears in the output")
	}
}

func TestRecoverWithClinicKey(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	priv, pub, err := crypto.GenerateRecoveryKey("Clinique", "dsi@clinique.test", []byte("clé de la clinique"))
	if err != nil {
		t.Fatal(err)
	}
	pubFile := secretFile(t, dir, "recovery.asc", pub, 0o644)
	privFile := secretFile(t, dir, "recovery-private.asc", priv, 0o600)
	keyPass := secretFile(t, dir, "keypass", "clé de la clinique", 0o600)
	lost := secretFile(t, dir, "lost", "phrase oubliée depuis longtemps", 0o600)
	reset := secretFile(t, dir, "reset", "nouvelle phrase après récupération", 0o600)
	common := []string{"--data", data, "--no-keyring"}

	if code, out := carnet(t, append(append([]string{"vault", "init", "--insecure-test-kdf"}, common...), "--passphrase-file", lost, "--recovery-key", pubFile)...); code != 0 || !strings.Contains(out, "fingerprint") {
		t.Fatalf("init with recovery key = %d, %q", code, out)
	}
	if code, out := carnet(t, append(append([]string{"vault", "recover"}, common...), "--key", privFile, "--key-passphrase-file", keyPass, "--new-passphrase-file", reset)...); code != 0 {
		t.Fatalf("recover = %d, %q", code, out)
	}
	if code, out := carnet(t, append(append([]string{"vault", "check"}, common...), "--passphrase-file", reset)...); code != 0 {
		t.Fatalf("check with the reset passphrase = %d, %q", code, out)
	}
	if code, _ := carnet(t, append(append([]string{"vault", "check"}, common...), "--passphrase-file", lost)...); code != 1 {
		t.Fatal("the lost passphrase still opens the vault")
	}
	// A private key file readable by others is refused.
	if err := os.Chmod(privFile, 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out := carnet(t, append(append([]string{"vault", "recover"}, common...), "--key", privFile, "--key-passphrase-file", keyPass, "--new-passphrase-file", reset)...); code != 1 || !strings.Contains(out, "readable by others") {
		t.Fatalf("recover with a 0644 key = %d, %q", code, out)
	}
}

func TestNoTerminal(t *testing.T) {
	if f, err := os.OpenFile("/dev/tty", os.O_RDWR, 0); err == nil {
		f.Close()
		t.Skip("a terminal is attached; this test checks the non-interactive path")
	}
	code, out := carnet(t, "vault", "init", "--data", t.TempDir(), "--no-keyring", "--insecure-test-kdf")
	if code != 1 || !strings.Contains(out, "no terminal") {
		t.Fatalf("init without terminal or file = %d, %q", code, out)
	}
}
