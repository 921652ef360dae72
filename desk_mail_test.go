package main

import (
	"context"
	"crypto/tls"
	"errors"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/apptest"
	"github.com/carnetdesk/carnet/internal/config"
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
	if err := svc.SetConnectionStore(ctx, config.NewMemory(app.Connection{Mailboxes: []app.MailAccount{acct}})); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Unlock(ctx, []byte(importPass)); err != nil {
		t.Fatal(err)
	}
	used := false
	d := &deskMail{svc: svc, log: quiet(), cert: func() *tls.Certificate {
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
	if err := svc.SetConnectionStore(ctx, config.NewMemory(app.Connection{Mailboxes: []app.MailAccount{acct}})); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Unlock(ctx, []byte(importPass)); err != nil {
		t.Fatal(err)
	}
	d := &deskMail{svc: svc, log: quiet(), cert: func() *tls.Certificate { return nil }}
	d.runOnce.Do(func() { d.run = make(chan struct{}, 1) })
	d.run <- struct{}{} // an import runs
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
	<-d.run
}
