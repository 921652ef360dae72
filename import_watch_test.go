package main

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/vault"
	"github.com/carnetdesk/carnet/crypto"
	"github.com/carnetdesk/carnet/internal/config"
	"github.com/carnetdesk/carnet/internal/secret"
	"github.com/carnetdesk/carnet/internal/watchguard"
	"github.com/carnetdesk/carnet/sync/mailbox"
	"github.com/carnetdesk/carnet/sync/mailbox/mailtest"
)

// sessions counts, in Dovecot's log, the IMAP logins of user and the
// sessions of user that ended: the server's own view of the connections.
func sessions(srv *mailtest.Server, user string) (logins, ended int) {
	for _, l := range strings.Split(srv.Log(), "\n") {
		switch {
		case strings.Contains(l, "imap-login: ") && strings.Contains(l, "Login: user=<"+user+">"):
			logins++
		case strings.Contains(l, "imap("+user+")") && strings.Contains(l, "Disconnected"):
			ended++
		}
	}
	return logins, ended
}

// TestImportWatchLockClosesSessions (#15): `carnet import --watch` used to
// keep the mailbox password in memory, with its IMAP connection open,
// across the idle lock. Now the lock closes the connection (Dovecot sees
// the session end), zeroes every password slice the sessions were given
// and forgets the one read at start; the next round re-opens the vault
// from the passphrase file, reads the password again and imports the
// message that arrived meanwhile.
func TestImportWatchLockClosesSessions(t *testing.T) {
	srv := mailtest.StartDovecot(t)
	e := newImportEnv(t, srv, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute) // a hang guard
	defer cancel()
	first, _ := e.report(t, 0, false)
	if err := srv.Deliver(e.user, "INBOX", first); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(e.args[indexOf(e.args, "--config")+1])
	if err != nil {
		t.Fatal(err)
	}
	passFile, pwFile := e.args[indexOf(e.args, "--passphrase-file")+1], e.args[indexOf(e.args, "--password-file")+1]
	kdf := crypto.LightParams()
	v, err := vault.Open(filepath.Join(e.data, "vault.db"), vault.Options{KDF: &kdf, Keyring: crypto.NoKeyring{}, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	clk := &stepClock{t: time.Now()}
	svc := app.NewService(app.Deps{Store: v, Clock: clk, Log: quiet()})
	secrets := secret.Source{Stderr: io.Discard}
	if err := unlock(ctx, svc, &vaultFlags{passFile: passFile}, secrets, io.Discard); err != nil {
		t.Fatal(err)
	}
	fileSecret, err := secret.ReadFile(pwFile)
	if err != nil {
		t.Fatal(err)
	}
	creds := &importCredentials{svc: svc, cfg: cfg, f: importFlags{pwFile: pwFile, passFile: passFile}, fileSecret: fileSecret, secrets: secrets}
	var (
		mu     sync.Mutex
		handed [][]byte // every password slice given to a session
	)
	run := app.MailImport{
		Opener: mailbox.Opener{Log: quiet()}, Accounts: cfg.Connection().Mailboxes,
		Credentials: func(ctx context.Context, m app.MailAccount) (app.MailCredentials, error) {
			c, err := creds.get(ctx, m)
			mu.Lock()
			handed = append(handed, c.Secret)
			mu.Unlock()
			return c, err
		},
	}
	g := watchguard.New(svc, clk, func(ctx context.Context) error {
		return unlock(ctx, svc, &vaultFlags{passFile: passFile}, secrets, io.Discard)
	}, creds.release, io.Discard)
	done := make(chan int, 1)
	go func() { done <- watchImport(ctx, svc, g, run, 20*time.Second, io.Discard) }()
	// Rounds are seen in the vault (watchImport reports them on stderr).
	waitFiled := func(n int) {
		t.Helper()
		for {
			if c := filedCount(t, ctx, svc, e); c >= n {
				return
			}
			select {
			case <-ctx.Done():
				t.Fatalf("fewer than %d documents filed", n)
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	waitFiled(1)
	if logins, ended := sessions(srv, e.user); !srv.Memory() && (logins == 0 || ended == logins) {
		t.Fatalf("no session open while watching (logins %d, ended %d)\n%s", logins, ended, srv.Log())
	}
	// Idle past the auto-lock delay: the guard locks (once the round that
	// filed the message has ended).
	for !svc.Locked() {
		clk.add(6 * time.Minute)
		g.Tick()
		select {
		case <-ctx.Done():
			t.Fatal("not locked after the idle delay")
		case <-time.After(50 * time.Millisecond):
		}
	}
	mu.Lock()
	for i, s := range handed {
		for _, b := range s {
			if b != 0 {
				mu.Unlock()
				t.Fatalf("password slice %d still in memory after the lock", i)
			}
		}
	}
	mu.Unlock()
	if creds.fileSecret != nil || creds.asked != nil || creds.cred != nil {
		t.Fatal("the import's credentials kept a secret across the lock")
	}
	for !srv.Memory() { // Dovecot's log (the fallback server keeps none)
		logins, ended := sessions(srv, e.user)
		if ended >= logins {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("Dovecot still sees a session after the lock (logins %d, ended %d)\n%s", logins, ended, srv.Log())
		case <-time.After(100 * time.Millisecond):
		}
	}
	// New mail while locked: the next round re-opens the vault from the
	// passphrase file and the mailbox with the password read again.
	second, _ := e.report(t, 1, false)
	if err := srv.Deliver(e.user, "INBOX", second); err != nil {
		t.Fatal(err)
	}
	waitFiled(2)
	cancel()
	<-done
}

// filedCount counts the documents of the env's patients (while the vault
// is unlocked; 0 while locked).
func filedCount(t *testing.T, ctx context.Context, svc *app.Service, e *importEnv) int {
	t.Helper()
	if svc.Locked() {
		return 0
	}
	n := 0
	for _, p := range e.patients {
		man, err := svc.CachedManifest(context.WithoutCancel(ctx), p.ID)
		if err != nil {
			continue // none yet, or locked meanwhile
		}
		n += len(man.Documents)
	}
	return n
}

func indexOf(args []string, flag string) int {
	for i, a := range args {
		if a == flag {
			return i
		}
	}
	return -1
}

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
