package ui

import (
	"errors"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"github.com/carnetdesk/carnet/app"
)

func TestUnlockShownWhenLocked(t *testing.T) {
	f := newLockedFixture(t, Options{Version: "test"})
	v := f.u.unlock
	if v == nil || f.u.firstRun != nil || f.u.shell != nil {
		t.Fatal("unlock screen not shown over a locked vault")
	}
	if v.demo != nil {
		t.Error("demo card shown outside demo mode")
	}
	if f.u.Window().Canvas().Focused() != v.pass {
		t.Error("passphrase entry not focused")
	}
	test.AssertRendersToMarkup(t, "unlock.xml", f.u.Window().Canvas())
}

func TestUnlockWrongPassphrase(t *testing.T) {
	f := newLockedFixture(t, Options{})
	v := f.u.unlock
	test.Type(v.pass, "pas la bonne phrase")
	test.Tap(v.button)
	f.wait()
	assertText(t, "message", v.msg.Text, "Phrase de passe incorrecte.")
	if v.button.Disabled() || v.pass.Disabled() {
		t.Error("unlock disabled after a single failure")
	}
	if v.pass.Text != "" {
		t.Error("passphrase entry not cleared")
	}
	if !f.svc.Locked() || f.u.shell != nil {
		t.Fatal("vault unlocked with a wrong passphrase")
	}
}

func TestUnlockEnterSubmits(t *testing.T) {
	f := newLockedFixture(t, Options{})
	v := f.u.unlock
	test.Type(v.pass, testPassphrase)
	v.pass.OnSubmitted(v.pass.Text)
	f.wait()
	if f.u.shell == nil {
		t.Fatal("Enter did not unlock")
	}
}

func TestUnlockThrottled(t *testing.T) {
	f := newLockedFixture(t, Options{})
	v := f.u.unlock
	for i := 0; i < app.FreeAttempts; i++ {
		test.Type(v.pass, "pas la bonne phrase")
		test.Tap(v.button)
		f.wait()
	}
	want := "Phrase de passe incorrecte. Trop de tentatives : réessayez dans 5 s."
	assertText(t, "message after 3 failures", v.msg.Text, want)
	if !v.button.Disabled() || !v.pass.Disabled() {
		t.Fatal("unlock still enabled during the delay")
	}
	test.Type(v.pass, testPassphrase) // ignored: disabled
	v.submit()                        // ignored: the countdown runs
	f.wait()
	if !f.svc.Locked() {
		t.Fatal("unlocked during the delay")
	}

	v.tickCountdown(time.Now().Add(2 * time.Second))
	assertText(t, "countdown", v.msg.Text, "Phrase de passe incorrecte. Trop de tentatives : réessayez dans 3 s.")

	// The countdown ends on the wall clock; the service's (fake) clock has
	// not moved, so the service still refuses: the UI shows its delay.
	v.tickCountdown(time.Now().Add(time.Minute))
	if v.button.Disabled() {
		t.Fatal("unlock still disabled after the delay")
	}
	assertText(t, "message after the delay", v.msg.Text, "Vous pouvez réessayer.")
	test.Type(v.pass, testPassphrase)
	test.Tap(v.button)
	f.wait()
	assertText(t, "message when the service refuses", v.msg.Text, "Trop de tentatives : réessayez dans 5 s.")
	if !v.button.Disabled() {
		t.Fatal("unlock enabled while the service refuses")
	}

	f.clock.Advance(app.FirstDelay)
	v.tickCountdown(time.Now().Add(time.Minute))
	test.Type(v.pass, testPassphrase)
	test.Tap(v.button)
	f.wait()
	if f.u.shell == nil {
		t.Fatalf("not unlocked after the delay; message %q", v.msg.Text)
	}
	if d := f.u.svc.RetryIn(); d != 0 {
		t.Errorf("RetryIn after a successful unlock = %v, want 0", d)
	}
}

func TestUnlockErrors(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{app.ErrDamaged, "Le coffre est endommagé"},
		{app.ErrNewerFormat, "version plus récente de Carnet"},
		{app.ErrInUse, "déjà ouvert par un autre Carnet"},
		{errors.New("vault: read page 12: unexpected EOF"), "Erreur interne (détails dans le journal)."},
	} {
		t.Run(tc.err.Error(), func(t *testing.T) {
			f := newLockedFixture(t, Options{})
			f.store.UnlockErr = tc.err
			v := f.u.unlock
			test.Type(v.pass, testPassphrase)
			test.Tap(v.button)
			f.wait()
			if !strings.Contains(v.msg.Text, tc.want) {
				t.Errorf("message = %q, want it to contain %q", v.msg.Text, tc.want)
			}
			if strings.Contains(v.msg.Text, tc.err.Error()) {
				t.Errorf("raw error shown: %q", v.msg.Text)
			}
			if v.button.Disabled() {
				t.Error("unlock disabled after an error")
			}
		})
	}
}

func TestUnlockWarnings(t *testing.T) {
	f := newLockedFixture(t, Options{})
	f.store.Warnings = []app.Warning{app.WarnNoKeyring, app.WarnNoRecovery}
	s := f.unlock()
	if len(s.banners.Objects) != 2 {
		t.Fatalf("%d banners, want 2", len(s.banners.Objects))
	}
	if !f.shows("Aucun trousseau système") || !f.shows("pas de clé de récupération") {
		t.Error("warning texts not shown")
	}
	// The close button of the first banner dismisses it.
	closeFirstBanner(t, s)
	if len(s.banners.Objects) != 1 || f.shows("Aucun trousseau système") {
		t.Error("banner not dismissed")
	}
}

func TestDemoPassphraseShown(t *testing.T) {
	f := newLockedFixture(t, Options{Demo: true, DemoPassphrase: testPassphrase})
	v := f.u.unlock
	if v.demo == nil || !v.demo.Visible() {
		t.Fatal("demo card not shown in demo mode")
	}
	assertText(t, "demo card title", v.demo.Title, "Mode démonstration")
	if !f.shows(testPassphrase) {
		t.Error("demo passphrase not shown")
	}
	test.Tap(v.demoFill)
	assertText(t, "passphrase entry", v.pass.Text, testPassphrase)
	test.Tap(v.button)
	f.wait()
	if f.u.shell == nil {
		t.Error("demo passphrase did not unlock")
	}
}

// TestUnlockOlderVaultChoice: an older copy of the vault is named as such,
// with a choice; "Non" leaves it closed, "Oui" and the passphrase again
// open it (Service.UnlockOlder).
func TestUnlockOlderVaultChoice(t *testing.T) {
	f := newLockedFixture(t, Options{})
	f.store.UnlockErr = app.ErrOlderVault
	v := f.u.unlock
	submit := func() {
		test.Type(v.pass, testPassphrase)
		test.Tap(v.button)
		f.wait()
	}
	submit()
	if !strings.Contains(v.msg.Text, "plus ancien") {
		t.Fatalf("message %q", v.msg.Text)
	}
	f.tapDialogButton("Non")
	f.wait()
	submit()
	if f.u.shell != nil || f.store.AcceptedOlder != 0 {
		t.Fatal("opened without the user's choice")
	}
	f.tapDialogButton("Oui")
	f.wait()
	if !strings.Contains(v.msg.Text, "de nouveau") {
		t.Fatalf("message after the choice %q", v.msg.Text)
	}
	submit()
	if f.u.shell == nil || f.store.AcceptedOlder != 1 {
		t.Fatalf("not opened after the choice (accepted %d, message %q)", f.store.AcceptedOlder, v.msg.Text)
	}
}

// TestUnlockIntegrityWarnings: an audit gap, an older copy opened by
// choice and removed leftovers are each shown as a banner.
func TestUnlockIntegrityWarnings(t *testing.T) {
	f := newLockedFixture(t, Options{})
	f.store.Warnings = []app.Warning{app.WarnAuditGap, app.WarnOlderVault, app.WarnLeftovers}
	s := f.unlock()
	if len(s.banners.Objects) != 3 {
		t.Fatalf("%d banners, want 3", len(s.banners.Objects))
	}
	for _, want := range []string{"journal d'audit", "copie plus ancienne", "fichiers temporaires"} {
		if !f.shows(want) {
			t.Errorf("no banner says %q", want)
		}
	}
}
