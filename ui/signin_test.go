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
