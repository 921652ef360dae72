package main

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/vault"
	"github.com/carnetdesk/carnet/crypto"
)

// stepClock is a clock the test moves.
type stepClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *stepClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *stepClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TestWatchLocksWhenIdle: the --watch modes used to keep the keys (and the
// signer) in memory for as long as they ran. Now, between cycles, the
// vault locks after the idle delay and the credential is released; the
// next cycle re-opens it from the passphrase file; cycles close enough to
// never be idle still lock at the 12-hour limit; without a passphrase
// file and without a terminal, the re-open fails (nothing was kept to do
// it unattended).
func TestWatchLocksWhenIdle(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	clk := &stepClock{t: time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)}
	kdf := crypto.LightParams()
	v, err := vault.Open(filepath.Join(dir, "carnet.vault"), vault.Options{KDF: &kdf, Keyring: crypto.NoKeyring{}, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	pass := "a watch passphrase, long enough 42"
	svc := app.NewService(app.Deps{Store: v, Clock: clk})
	if err := svc.Create(ctx, []byte(pass), app.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	passFile := filepath.Join(dir, "pass")
	if err := os.WriteFile(passFile, []byte(pass+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var reasons []app.LockReason
	svc.OnLock(func(r app.LockReason) { reasons = append(reasons, r) })
	secrets := secretSource{stderr: io.Discard}
	fromFile := passFile
	released := 0
	g := newWatchGuard(svc, clk, func(ctx context.Context) error {
		p, err := secrets.get(fromFile, "Vault passphrase", false)
		if err != nil {
			return err
		}
		_, err = svc.Unlock(ctx, p)
		return err
	}, func() { released++ }, io.Discard)

	cycle := func() {
		t.Helper()
		if err := g.enter(ctx); err != nil {
			t.Fatal(err)
		}
		if svc.Locked() {
			t.Fatal("a cycle runs on a locked vault")
		}
		g.leave()
	}
	cycle()
	clk.add(4 * time.Minute)
	g.tick()
	if svc.Locked() {
		t.Fatal("locked before the idle delay")
	}
	clk.add(time.Minute + time.Second)
	g.tick()
	if !svc.Locked() || released != 1 {
		t.Fatalf("not locked after the idle delay (locked %v, credential released %d times)", svc.Locked(), released)
	}
	cycle() // re-opened from the passphrase file
	// Busy all day: a cycle every 2 minutes is never idle for 5, yet the
	// 12-hour limit locks.
	reasons = nil
	for i := 0; i < 12*30+2; i++ {
		clk.add(2 * time.Minute)
		cycle()
		g.tick()
	}
	found := false
	for _, r := range reasons {
		found = found || r == app.LockReauth
	}
	if !found {
		t.Fatalf("no re-authentication lock in 12 hours of cycles: %v", reasons)
	}
	// Locked while idle, with no file to re-open from and no terminal.
	clk.add(6 * time.Minute)
	g.tick()
	if !svc.Locked() {
		t.Fatal("not locked")
	}
	fromFile = ""
	if _, err := os.Stat("/dev/tty"); err == nil {
		if f, err := os.OpenFile("/dev/tty", os.O_RDWR, 0); err == nil {
			f.Close()
			t.Skip("a terminal is attached: the re-open would prompt")
		}
	}
	if err := g.enter(ctx); !errors.Is(err, errNoTTY) || !svc.Locked() {
		t.Fatalf("re-open without a file or a terminal: %v (locked %v)", err, svc.Locked())
	}
}

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
