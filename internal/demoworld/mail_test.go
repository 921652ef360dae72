package demoworld

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/apptest"
)

// testPass is the passphrase of the test vaults.
const testPass = "une phrase de passe de test assez longue"

// quiet is a logger that says nothing.
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// TestDemoPasswordResealed: a demo vault kept from an earlier run (--data)
// holds the password of that run's mailbox; the new run's password, which
// changes at every start, replaces it at the first unlock.
func TestDemoPasswordResealed(t *testing.T) {
	store := apptest.NewLockedStore(testPass)
	svc := app.NewService(app.Deps{Store: store, Log: quiet})
	ctx := context.Background()
	if _, err := svc.Unlock(ctx, []byte(testPass)); err != nil {
		t.Fatal(err)
	}
	mb := Mailbox{Account: app.MailAccount{Address: BAL}, Password: []byte("new-run-password")}
	if err := svc.SetMailPassword(ctx, BAL, []byte("earlier-run-password")); err != nil {
		t.Fatal(err)
	}
	woken := false
	sealOnce(svc, mb, func() { woken = true }, quiet)
	got, err := svc.MailPassword(ctx, BAL)
	if err != nil || string(got) != "new-run-password" || !woken {
		t.Fatalf("sealed %q %v (woken %v)", got, err, woken)
	}
}
