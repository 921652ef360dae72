package mailsched_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/apptest"
	"github.com/carnetdesk/carnet/internal/mailsched"
	"github.com/carnetdesk/carnet/sync/mailbox"
	"github.com/carnetdesk/carnet/sync/mailbox/mailtest"
)

// TestDeskMailExternalNeedsSession: a mailbox that authenticates with the
// practitioner's card is not imported while nobody is signed in, even when
// the signer still holds the card open (after a re-authentication lock the
// service drops the session, the signer keeps the credential).
func TestDeskMailExternalNeedsSession(t *testing.T) {
	store := apptest.NewLockedStore(importPass)
	svc := app.NewService(app.Deps{Store: store, Log: quiet()})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	acct := app.MailAccount{Address: "dr@clinique.mssante.fr", Host: "127.0.0.1", Port: 1, Security: app.MailImplicitTLS, Auth: app.MailAuthExternal}
	if err := svc.SetConnectionStore(ctx, &memConnection{c: app.Connection{Mailboxes: []app.MailAccount{acct}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Unlock(ctx, []byte(importPass)); err != nil {
		t.Fatal(err)
	}
	used := false
	d := &mailsched.Mail{Svc: svc, Opener: mailbox.Opener{}, Log: quiet(), Cert: func() *tls.Certificate {
		used = true
		return &tls.Certificate{}
	}}
	_, err := d.Once(ctx)
	if used {
		t.Fatal("the card's certificate was used with no practitioner signed in")
	}
	if !errors.Is(err, app.ErrNotConfigured) {
		t.Fatalf("err %v, want ErrNotConfigured", err)
	}
}

// TestDeskMailWaitEndsWithContext: while an import runs, a second one
// (Ctrl+R) waits for it, and its cancel button ends the wait.
func TestDeskMailWaitEndsWithContext(t *testing.T) {
	store := apptest.NewLockedStore(importPass)
	svc := app.NewService(app.Deps{Store: store, Log: quiet()})
	ctx := context.Background()
	acct := app.MailAccount{Address: "dr@clinique.mssante.fr", Host: "127.0.0.1", Port: 1, Security: app.MailImplicitTLS}
	if err := svc.SetConnectionStore(ctx, &memConnection{c: app.Connection{Mailboxes: []app.MailAccount{acct}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Unlock(ctx, []byte(importPass)); err != nil {
		t.Fatal(err)
	}
	d := &mailsched.Mail{Svc: svc, Opener: mailbox.Opener{}, Log: quiet(), Cert: func() *tls.Certificate { return nil }}
	release := d.Busy() // an import runs
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := d.Once(cctx)
		done <- err
	}()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err %v, want context.Canceled", err)
		}
	case <-time.After(2 * time.Minute): // a hang guard, not a deadline
		t.Fatal("the wait did not end with its context")
	}
	release()
}

const importPass = "une phrase de passe assez longue"

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// memConnection is an in-memory app.ConnectionStore.
type memConnection struct {
	mu sync.Mutex
	c  app.Connection
}

func (m *memConnection) Connection(context.Context) (app.Connection, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.c, nil
}

func (m *memConnection) SaveConnection(_ context.Context, c app.Connection) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.c = c
	return nil
}

// recordingOpener opens the real mailbox (sync/mailbox against the test
// IMAP server) and keeps every secret it was given; lockAtFetch locks the
// vault as the import starts reading.
type recordingOpener struct {
	svc         *app.Service
	lockAtFetch bool
	mu          sync.Mutex
	secrets     [][]byte
}

func (o *recordingOpener) OpenMailbox(ctx context.Context, m app.MailAccount, cred app.MailCredentials) (app.MailConnection, error) {
	o.mu.Lock()
	o.secrets = append(o.secrets, cred.Secret)
	o.mu.Unlock()
	c, err := mailbox.Opener{Demo: true, Log: quiet()}.OpenMailbox(ctx, m, cred)
	if err != nil || !o.lockAtFetch {
		return c, err
	}
	return lockingConn{c, o.svc}, nil
}

type lockingConn struct {
	app.MailConnection
	svc *app.Service
}

func (c lockingConn) Fetch(ctx context.Context, st app.MailboxState, each func(app.Message) error) (app.MailboxState, error) {
	c.svc.Lock(app.LockIdle)
	return c.MailConnection.Fetch(ctx, st, each)
}

// TestDeskMailLockEndsSession (#15, the desktop side): the desktop keeps
// no mailbox session nor password between imports (the password slice it
// took from the vault is zeroed when the import ends), and a lock during
// an import closes its session at once: the import stops, nothing stays
// open or in memory.
func TestDeskMailLockEndsSession(t *testing.T) {
	srv := mailtest.StartDovecot(t)
	user := srv.NewUser()
	if err := srv.Deliver(user, "INBOX", mailtest.XDMMail(mailtest.Header{MessageID: "lock@labo"}, nil, nil)); err != nil {
		t.Fatal(err)
	}
	store := apptest.NewLockedStore(importPass)
	svc := app.NewService(app.Deps{Store: store, Log: quiet()})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute) // a hang guard
	defer cancel()
	acct := app.MailAccount{Address: user, Host: "localhost", Port: srv.IMAPS, Security: app.MailImplicitTLS, CAFile: srv.CAFile, Auth: app.MailAuthPlain}
	if err := svc.SetConnectionStore(ctx, &memConnection{c: app.Connection{Mailboxes: []app.MailAccount{acct}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Unlock(ctx, []byte(importPass)); err != nil {
		t.Fatal(err)
	}
	if err := svc.SetMailPassword(ctx, user, []byte(mailtest.Password)); err != nil {
		t.Fatal(err)
	}
	op := &recordingOpener{svc: svc}
	d := &mailsched.Mail{Svc: svc, Opener: op, Demo: true, Log: quiet()}
	sum, err := d.Once(ctx)
	if err != nil || sum.Messages != 1 {
		t.Fatalf("import: %+v %v", sum, err)
	}
	wiped := func() bool {
		op.mu.Lock()
		defer op.mu.Unlock()
		for _, s := range op.secrets {
			if len(s) == 0 {
				return false
			}
			for _, b := range s {
				if b != 0 {
					return false
				}
			}
		}
		return len(op.secrets) > 0
	}
	if !wiped() {
		t.Fatal("the mailbox password stayed in memory after the import")
	}
	// A lock during the next import.
	if err := srv.Deliver(user, "INBOX", mailtest.XDMMail(mailtest.Header{MessageID: "lock2@labo"}, nil, nil)); err != nil {
		t.Fatal(err)
	}
	op.lockAtFetch = true
	op.secrets = nil
	sum, err = d.Once(ctx)
	if err == nil || sum.Messages != 0 || !svc.Locked() {
		t.Fatalf("import under the lock: %+v %v (locked %v)", sum, err, svc.Locked())
	}
	if !wiped() {
		t.Fatal("the lock left the mailbox password in memory")
	}
	if !srv.Memory() && !strings.Contains(srv.Log(), "imap("+user+")") {
		t.Fatalf("no session in Dovecot's log:\n%s", srv.Log())
	}
}
