package ui

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"

	"github.com/carnetdesk/carnet/app/apptest"
)

func TestFirstRunShownWithoutVault(t *testing.T) {
	f := newFixture(t, apptest.NewStore(), Options{Version: "test"})
	v := f.u.firstRun
	if v == nil || f.u.unlock != nil || f.u.shell != nil {
		t.Fatal("first-run screen not shown when no vault exists")
	}
	if !v.create.Disabled() {
		t.Error("create button enabled with no passphrase")
	}
	if !v.noKey.Visible() {
		t.Error("no warning while no recovery key is chosen")
	}
	test.AssertRendersToMarkup(t, "firstrun.xml", f.u.Window().Canvas())
}

func TestFirstRunMismatch(t *testing.T) {
	f := newFixture(t, apptest.NewStore(), Options{})
	v := f.u.firstRun
	test.Type(v.pass1, testPassphrase)
	test.Type(v.pass2, testPassphrase+"x")
	if !v.mismatch.Visible() {
		t.Fatal("mismatch message hidden")
	}
	assertText(t, "mismatch", v.mismatch.Text, "Les deux phrases de passe ne sont pas identiques.")
	if !v.create.Disabled() {
		t.Error("create button enabled while the passphrases differ")
	}
	v.submit() // Enter in the confirmation entry
	assertText(t, "message", v.msg.Text, "Vérifiez la phrase de passe : au moins 12 caractères, saisie deux fois à l'identique.")
	f.wait()
	if f.store.Exists() {
		t.Error("vault created with differing passphrases")
	}
}

func TestFirstRunStrength(t *testing.T) {
	f := newFixture(t, apptest.NewStore(), Options{})
	v := f.u.firstRun
	for _, tc := range []struct {
		pass, want string
		enabled    bool
	}{
		{"court", "Trop courte", false},
		{"abcdefghijkl", "Faible", true},
		{"abcdefghijklmn", "Correcte", true},
		{"cheval agrafe correct batterie", "Forte", true},
	} {
		v.pass1.SetText(tc.pass)
		v.pass2.SetText(tc.pass)
		assertText(t, "strength of "+tc.pass, v.strength.label.Text, tc.want)
		if got := !v.create.Disabled(); got != tc.enabled {
			t.Errorf("%q: create enabled = %v, want %v", tc.pass, got, tc.enabled)
		}
	}
	v.pass1.SetText("court")
	v.pass2.SetText("court")
	test.Tap(v.create) // disabled: nothing happens
	v.submit()
	f.wait()
	if f.store.Exists() {
		t.Error("vault created with a passphrase too short")
	}
}

func TestFirstRunCreates(t *testing.T) {
	f := newFixture(t, apptest.NewStore(), Options{})
	v := f.u.firstRun
	test.Type(v.pass1, testPassphrase)
	test.Type(v.pass2, testPassphrase)
	if v.create.Disabled() {
		t.Fatal("create button disabled with good, equal passphrases")
	}
	test.Tap(v.create)
	f.wait()
	if !f.store.Exists() || f.svc.Locked() {
		t.Fatal("vault not created and unlocked")
	}
	if f.store.Passphrase() != testPassphrase {
		t.Error("vault created with another passphrase")
	}
	if f.u.shell == nil || f.u.firstRun != nil {
		t.Fatal("shell not shown after creation")
	}
	if len(f.u.shell.banners.Objects) != 1 || !f.shows("pas de clé de récupération") {
		t.Error("no banner warning that the vault has no recovery key")
	}
	if v.pass1.Text != "" || v.pass2.Text != "" {
		t.Error("first-run entries still hold the passphrase")
	}
}

func TestFirstRunRecoveryKey(t *testing.T) {
	pub, priv, fp := testRecoveryKey(t)
	f := newFixture(t, apptest.NewStore(), Options{})
	v := f.u.firstRun

	v.readKey(io.NopCloser(bytes.NewReader(priv)))
	f.wait()
	assertText(t, "private key error", v.keyError.Text, "Ce fichier contient une clé privée. Choisissez la clé publique de récupération de la clinique.")
	if v.key != nil {
		t.Fatal("private key accepted")
	}

	v.readKey(io.NopCloser(strings.NewReader("not a key")))
	f.wait()
	assertText(t, "invalid key error", v.keyError.Text, "Ce fichier n'est pas une clé publique OpenPGP.")

	v.readKey(io.NopCloser(bytes.NewReader(pub)))
	f.wait()
	if v.keyError.Visible() {
		t.Errorf("public key refused: %q", v.keyError.Text)
	}
	if !strings.Contains(v.keySummary.Text, "Clinique du Test (récupération) <it@clinique.test>") ||
		!strings.Contains(v.keySummary.Text, fp) {
		t.Errorf("key summary = %q, want the user id and fingerprint %s", v.keySummary.Text, fp)
	}
	if v.noKey.Visible() {
		t.Error("no-key warning still shown")
	}

	test.Type(v.pass1, testPassphrase)
	test.Type(v.pass2, testPassphrase)
	test.Tap(v.create)
	f.wait()
	if got := f.store.CreateOptions().RecoveryKey; !bytes.Equal(got, pub) {
		t.Errorf("recovery key given to the store = %q, want the chosen file", got)
	}
	if f.u.shell == nil || len(f.u.shell.banners.Objects) != 0 {
		t.Error("shell not shown, or shown with a warning although a recovery key was given")
	}
}

func TestFirstRunRemoveKey(t *testing.T) {
	pub, _, _ := testRecoveryKey(t)
	f := newFixture(t, apptest.NewStore(), Options{})
	v := f.u.firstRun
	v.readKey(io.NopCloser(bytes.NewReader(pub)))
	f.wait()
	test.Tap(v.removeKey)
	if v.key != nil || !v.noKey.Visible() || v.keySummary.Visible() {
		t.Error("key not removed")
	}
}

// testRecoveryKey returns an armored public key block, an armored private
// key block, and the fingerprint the fake store reports, grouped as shown.
func testRecoveryKey(t *testing.T) (pub, priv []byte, fp string) {
	t.Helper()
	pub = []byte("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nxjMEZ0test\n-----END PGP PUBLIC KEY BLOCK-----\n")
	priv = []byte("-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nxVgEZ0test\n-----END PGP PRIVATE KEY BLOCK-----\n")
	info, err := apptest.NewStore().InspectRecoveryKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pub, priv, keySummaryFingerprint(info.Fingerprint)
}

func keySummaryFingerprint(hex string) string {
	var groups []string
	for i := 0; i < len(hex); i += 4 {
		groups = append(groups, hex[i:min(i+4, len(hex))])
	}
	return strings.Join(groups, " ")
}
