package watchguard

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/vault"
	"github.com/carnetdesk/carnet/crypto"
	"github.com/carnetdesk/carnet/internal/secret"
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
	secrets := secret.Source{Stderr: io.Discard}
	fromFile := passFile
	released := 0
	g := New(svc, clk, func(ctx context.Context) error {
		p, err := secrets.Get(fromFile, "Vault passphrase", false)
		if err != nil {
			return err
		}
		_, err = svc.Unlock(ctx, p)
		return err
	}, func() { released++ }, io.Discard)

	cycle := func() {
		t.Helper()
		if err := g.Enter(ctx); err != nil {
			t.Fatal(err)
		}
		if svc.Locked() {
			t.Fatal("a cycle runs on a locked vault")
		}
		g.Leave()
	}
	cycle()
	clk.add(4 * time.Minute)
	g.Tick()
	if svc.Locked() {
		t.Fatal("locked before the idle delay")
	}
	clk.add(time.Minute + time.Second)
	g.Tick()
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
		g.Tick()
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
	g.Tick()
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
	if err := g.Enter(ctx); !errors.Is(err, secret.ErrNoTTY) || !svc.Locked() {
		t.Fatalf("re-open without a file or a terminal: %v (locked %v)", err, svc.Locked())
	}
}
