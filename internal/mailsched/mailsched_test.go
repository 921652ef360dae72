package mailsched_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/apptest"
	"github.com/carnetdesk/carnet/internal/mailsched"
	"github.com/carnetdesk/carnet/sync/mailbox"
)

// TestDeskMailExternalNeedsSession: a mailbox that authenticates with the
// practitioner's card is not imported while nobody is signed in, even when
// the signer still holds the card open (after a re-authentication lock the
// service drops the session, the signer keeps the credential).
func TestDeskMailExternalNeedsSession(t *testing.T) {
	store := apptest.NewLockedStore(importPass)
	svc := app.NewService(store, nil, quiet())
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
	svc := app.NewService(store, nil, quiet())
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
