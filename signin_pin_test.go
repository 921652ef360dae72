package main

import (
	"context"
	"errors"
	"testing"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/internal/signin"
)

// TestSignInPINAndLock: with the sandbox's real PKCS#12 credential, a
// wrong PIN is a PINError ("PIN incorrect"), an empty PIN says it is
// missing without opening the file; and a lock of the vault ends the card
// session: the credential is closed, and after the unlock the PIN is
// asked again. On both [dmp] protocols.
func TestSignInPINAndLock(t *testing.T) {
	for _, protocol := range e2eProtocols {
		t.Run(protocol, func(t *testing.T) { signInPINAndLock(t, newE2EWorldOn(t, 11, protocol)) })
	}
}

// signInPINAndLock is TestSignInPINAndLock on world (one [dmp] protocol).
func signInPINAndLock(t *testing.T, world *e2eWorld) {
	an, cfg, svc, log := world.an, world.cfg, world.svc, world.log
	ctx := context.Background()
	sg := &signin.Signer{Config: signin.FixedConfig(cfg), Log: log, Svc: svc}
	defer sg.Close()
	svc.OnLock(func(app.LockReason) { sg.Close() }) // as main wires it

	var pe *app.PINError
	err := sg.SignIn(ctx, []byte("0000"))
	if !errors.As(err, &pe) || pe.Empty || pe.Locked || !errors.Is(err, app.ErrCredential) {
		t.Fatalf("wrong PIN: %v, want a PINError", err)
	}
	err = sg.SignIn(ctx, nil)
	if !errors.As(err, &pe) || !pe.Empty {
		t.Fatalf("empty PIN: %v, want PINError{Empty}", err)
	}
	if err := sg.SignIn(ctx, []byte(an.PIN)); err != nil {
		t.Fatalf("sign in: %v", err)
	}
	if _, ok := svc.Practitioner(); !ok || sg.Certificate() == nil {
		t.Fatal("not signed in")
	}
	svc.Lock(app.LockIdle)
	if _, ok := svc.Practitioner(); ok {
		t.Fatal("the lock kept the card session")
	}
	if sg.Certificate() != nil {
		t.Fatal("the lock left the credential open")
	}
	if _, err := svc.Unlock(ctx, []byte(e2ePass)); err != nil {
		t.Fatal(err)
	}
	if _, ok := svc.Practitioner(); ok {
		t.Fatal("signed in again without the PIN")
	}
}
