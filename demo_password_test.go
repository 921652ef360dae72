package main

import (
	"context"
	"testing"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/apptest"
)

// TestDemoPasswordResealed: a demo vault kept from an earlier run (--data)
// holds the password of that run's mailbox; the new run's password, which
// changes at every start, replaces it at the first unlock.
func TestDemoPasswordResealed(t *testing.T) {
	store := apptest.NewLockedStore(importPass)
	svc := app.NewService(store, nil, quiet())
	ctx := context.Background()
	if _, err := svc.Unlock(ctx, []byte(importPass)); err != nil {
		t.Fatal(err)
	}
	mb := demoMailbox{account: app.MailAccount{Address: demoBAL}, password: []byte("new-run-password")}
	if err := svc.SetMailPassword(ctx, demoBAL, []byte("earlier-run-password")); err != nil {
		t.Fatal(err)
	}
	woken := false
	sealOnce(svc, mb, func() { woken = true }, quiet())
	got, err := svc.MailPassword(ctx, demoBAL)
	if err != nil || string(got) != "new-run-password" || !woken {
		t.Fatalf("sealed %q %v (woken %v)", got, err, woken)
	}
}
