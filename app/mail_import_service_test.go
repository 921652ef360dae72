package app_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
)

// fakeConn is an open mailbox over a fake Mailbox (crossing the port: the
// real adapter is tested against Dovecot in package main and sync/mailbox).
type fakeConn struct {
	app.Mailbox
	mu     sync.Mutex
	closed chan struct{}
	wake   chan struct{}
}

func (c *fakeConn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.closed:
	default:
		close(c.closed)
	}
	return nil
}

func (c *fakeConn) isClosed() bool {
	select {
	case <-c.closed:
		return true
	default:
		return false
	}
}

func (c *fakeConn) WaitNewMail(ctx context.Context, interval time.Duration) error {
	select {
	case <-ctx.Done():
	case <-c.wake:
	case <-c.closed:
		return app.ErrOffline
	}
	return nil
}

func (c *fakeConn) Receipts() app.ReceiptSender { return nil }

// fakeOpener opens mb; it records every connection and every secret it
// was given.
type fakeOpener struct {
	mb      app.Mailbox
	mu      sync.Mutex
	conns   []*fakeConn
	secrets [][]byte
}

func (o *fakeOpener) OpenMailbox(_ context.Context, _ app.MailAccount, cred app.MailCredentials) (app.MailConnection, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	c := &fakeConn{Mailbox: o.mb, closed: make(chan struct{}), wake: make(chan struct{}, 1)}
	o.conns = append(o.conns, c)
	o.secrets = append(o.secrets, cred.Secret)
	return c, nil
}

func (o *fakeOpener) last() (*fakeConn, []byte) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.conns[len(o.conns)-1], o.secrets[len(o.secrets)-1]
}

func freshSecret(context.Context, app.MailAccount) (app.MailCredentials, error) {
	return app.MailCredentials{Secret: []byte("mailbox password")}, nil
}

// importOne imports mb once through the use case, as the account "bal".
func importOne(ctx context.Context, svc *app.Service, mb app.Mailbox) (app.ImportSummary, error) {
	return svc.ImportMail(ctx, app.MailImport{
		Opener: &fakeOpener{mb: mb}, Credentials: freshSecret,
		Accounts: []app.MailAccount{{Address: "bal"}},
	})
}

func zeroed(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// TestMailImportOnceWipes: a run once closes every session it opened and
// zeroes the secret it was given; a locked vault imports nothing and asks
// for no credential.
func TestMailImportOnceWipes(t *testing.T) {
	svc, _ := unlockedService(t)
	ctx := context.Background()
	op := &fakeOpener{mb: &fakeMailbox{validity: 1}}
	run := app.MailImport{Opener: op, Credentials: freshSecret, Accounts: []app.MailAccount{{Address: "a"}, {Address: "b"}}}
	if _, err := svc.ImportMail(ctx, run); err != nil {
		t.Fatal(err)
	}
	if len(op.conns) != 2 {
		t.Fatalf("%d sessions, want 2", len(op.conns))
	}
	for i, c := range op.conns {
		if !c.isClosed() || !zeroed(op.secrets[i]) {
			t.Fatalf("session %d: closed %v, secret wiped %v", i, c.isClosed(), zeroed(op.secrets[i]))
		}
	}
	svc.Lock(app.LockByUser)
	asked := false
	run.Credentials = func(context.Context, app.MailAccount) (app.MailCredentials, error) {
		asked = true
		return app.MailCredentials{}, nil
	}
	if sum, err := svc.ImportMail(ctx, run); err != nil || sum.Messages != 0 || asked {
		t.Fatalf("locked: %+v %v (credentials asked %v)", sum, err, asked)
	}
}

// TestMailWatchLockClosesAndWipes: in watch mode the session stays open
// between rounds (IDLE); the lock closes it and zeroes its secret at once;
// the next round re-opens it with fresh credentials, only after Enter
// unlocked the vault again.
func TestMailWatchLockClosesAndWipes(t *testing.T) {
	svc, _ := unlockedService(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute) // a hang guard
	defer cancel()
	op := &fakeOpener{mb: &fakeMailbox{validity: 1}}
	rounds := make(chan app.MailboxStatus, 16)
	var unlockedAtOpen []bool
	run := app.MailImport{
		Opener: op, Accounts: []app.MailAccount{{Address: "bal"}}, Watch: 50 * time.Millisecond,
		Credentials: func(ctx context.Context, a app.MailAccount) (app.MailCredentials, error) {
			unlockedAtOpen = append(unlockedAtOpen, !svc.Locked())
			return freshSecret(ctx, a)
		},
		Enter: func(ctx context.Context) (func(), error) {
			if svc.Locked() {
				if _, err := svc.Unlock(ctx, []byte(svcPass)); err != nil {
					return nil, err
				}
			}
			return func() {}, nil
		},
		Round: func(_ int, st app.MailboxStatus) { rounds <- st },
	}
	done := make(chan error, 1)
	go func() { _, err := svc.ImportMail(ctx, run); done <- err }()
	next := func() app.MailboxStatus {
		t.Helper()
		select {
		case st := <-rounds:
			return st
		case <-ctx.Done():
			t.Fatal("no round")
		}
		return app.MailboxStatus{}
	}
	if st := next(); st.Err != nil {
		t.Fatal(st.Err)
	}
	first, secret := op.last()
	first.wake <- struct{}{} // new mail: a second round on the same session
	next()
	if c, _ := op.last(); c != first || first.isClosed() || zeroed(secret) {
		t.Fatal("the session was not kept open between rounds")
	}
	svc.Lock(app.LockIdle)
	if !first.isClosed() || !zeroed(secret) {
		t.Fatalf("after the lock: connection closed %v, secret wiped %v", first.isClosed(), zeroed(secret))
	}
	if st := next(); st.Err != nil {
		t.Fatal(st.Err)
	}
	again, secret2 := op.last()
	if again == first || zeroed(secret2) || &secret2[0] == &secret[0] {
		t.Fatal("the round after the lock did not open a new session with fresh credentials")
	}
	for i, u := range unlockedAtOpen {
		if !u {
			t.Fatalf("credentials asked while locked (session %d)", i)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("watch ended with %v", err)
	}
	if !again.isClosed() || !zeroed(secret2) {
		t.Fatal("the end of the watch left a session open")
	}
}

// TestMailImportNoOpener: a run without its ports is refused.
func TestMailImportNoOpener(t *testing.T) {
	svc, _ := unlockedService(t)
	if _, err := svc.ImportMail(context.Background(), app.MailImport{}); !errors.Is(err, app.ErrNotConfigured) {
		t.Fatalf("err %v", err)
	}
}
