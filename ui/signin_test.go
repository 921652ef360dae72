package ui

import (
	"context"
	"fmt"
	"testing"

	"fyne.io/fyne/v2/test"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/apptest"
)

func TestSignInWithPIN(t *testing.T) {
	var f *fixture
	var gotPIN string
	opt := Options{
		DemoPIN: "1234",
		SignIn: func(_ context.Context, pin []byte) error {
			gotPIN = string(pin)
			if string(pin) != "1234" {
				return fmt.Errorf("sign in: %w", app.ErrCredential)
			}
			f.svc.SignIn(app.Session{Practitioner: app.Practitioner{Name: "Dr Anne Durand", Structure: app.Structure{Name: "Clinique du Parc"}}, Records: &apptest.Records{}})
			return nil
		},
	}
	f = newLockedFixture(t, opt)
	s := f.unlock()
	v := s.signIn
	if !v.button.Visible() || v.who.Visible() {
		t.Fatal("sign-in button not offered")
	}
	test.Tap(v.button)
	if v.demoPIN == nil || v.demoPIN.Text != "Mode démonstration — PIN : 1234" {
		t.Error("demo PIN not shown in the dialog")
	}
	test.Type(v.pin, "0000")
	test.Tap(v.submit)
	f.wait()
	assertText(t, "wrong PIN message", v.msg.Text, "Carte CPS ou certificat indisponible : vérifiez la carte, le lecteur et le code PIN.")
	if v.pin.Text != "" {
		t.Error("the PIN stays in the entry after an attempt")
	}
	test.Type(v.pin, "1234")
	test.Tap(v.submit)
	f.wait()
	if gotPIN != "1234" {
		t.Fatalf("SignIn got %q", gotPIN)
	}
	if v.button.Visible() || v.who.Text != "Dr Anne Durand — Clinique du Parc" {
		t.Fatalf("after sign-in: button visible=%v, who=%q", v.button.Visible(), v.who.Text)
	}
}

func TestNoCredentialConfigured(t *testing.T) {
	f := newLockedFixture(t, Options{})
	s := f.unlock()
	if s.signIn.button.Visible() || s.signIn.who.Text != "Hors ligne (aucune carte configurée)" {
		t.Fatalf("without a credential: button visible=%v, label %q", s.signIn.button.Visible(), s.signIn.who.Text)
	}
}

// TestSignInPINMessages: an empty PIN says what is missing without asking
// the card; a wrong PIN says "PIN incorrect", with the tries left when the
// token says so, or that the PIN is locked.
func TestSignInPINMessages(t *testing.T) {
	calls := 0
	var answer error
	opt := Options{SignIn: func(_ context.Context, pin []byte) error {
		calls++
		return answer
	}}
	f := newLockedFixture(t, opt)
	s := f.unlock()
	v := s.signIn
	test.Tap(v.button)
	test.Tap(v.submit)
	f.wait()
	assertText(t, "empty PIN", v.msg.Text, "Saisissez le code PIN de la carte ou du certificat.")
	if calls != 0 {
		t.Fatal("the card was asked with an empty PIN")
	}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&app.PINError{}, "PIN incorrect."},
		{&app.PINError{TriesLeft: 1}, "PIN incorrect. Il ne reste qu'un essai : au prochain code faux, la carte sera bloquée."},
		{&app.PINError{TriesLeft: 2}, "PIN incorrect. Essais restants : 2."},
		{&app.PINError{Locked: true}, "Code PIN bloqué après trop d'essais : débloquez la carte avec son code PUK (ou demandez-le à votre gestionnaire de cartes)."},
	} {
		answer = fmt.Errorf("sign in: %w", tc.err)
		test.Type(v.pin, "0000")
		test.Tap(v.submit)
		f.wait()
		assertText(t, "message", v.msg.Text, tc.want)
	}
}

// TestUnlockEmptyPassphrase: an empty passphrase says what is missing.
func TestUnlockEmptyPassphrase(t *testing.T) {
	f := newLockedFixture(t, Options{})
	v := f.u.unlock
	if v == nil {
		t.Fatal("unlock screen not shown")
	}
	test.Tap(v.button)
	f.wait()
	assertText(t, "empty passphrase", v.msg.Text, "Saisissez la phrase de passe du coffre.")
	if !f.svc.Locked() {
		t.Fatal("unlocked with an empty passphrase")
	}
}
