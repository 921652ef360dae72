package ui

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

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

// testRecoveryKey returns a fresh OpenPGP key: the armored public key, the
// armored private key and the fingerprint as summarizeKey shows it.
func testRecoveryKey(t *testing.T) (pub, priv []byte, fp string) {
	t.Helper()
	e, err := openpgp.NewEntity("Clinique du Test", "récupération", "it@clinique.test",
		&packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	if err != nil {
		t.Fatal(err)
	}
	serialize := func(blockType string, f func(io.Writer) error) []byte {
		var b bytes.Buffer
		w, err := armor.Encode(&b, blockType, map[string]string{"Comment": "test"})
		if err != nil {
			t.Fatal(err)
		}
		if err := f(w); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	pub = serialize(openpgp.PublicKeyType, e.Serialize)
	priv = serialize(openpgp.PrivateKeyType, func(w io.Writer) error { return e.SerializePrivate(w, nil) })
	hex := fmt.Sprintf("%X", e.PrimaryKey.Fingerprint)
	var groups []string
	for i := 0; i < len(hex); i += 4 {
		groups = append(groups, hex[i:i+4])
	}
	return pub, priv, strings.Join(groups, " ")
}

func TestSummarizeKeyBinary(t *testing.T) {
	pub, _, fp := testRecoveryKey(t)
	raw, err := dearmor(pub)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := summarizeKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Fingerprint != fp {
		t.Errorf("fingerprint = %s, want %s", sum.Fingerprint, fp)
	}
	for _, bad := range [][]byte{nil, {0x99}, {0xc6, 0x05, 4}, raw[:len(raw)/2]} {
		if _, err := summarizeKey(bad); err == nil {
			t.Errorf("summarizeKey(% x) accepted", bad)
		}
	}
}
