package ui

import (
	"testing"
	"time"

	"fyne.io/fyne/v2/test"
)

func TestSettingsAutoLock(t *testing.T) {
	f := newLockedFixture(t, Options{Version: "1.2.3"})
	s := f.unlock()
	test.Tap(s.openPrefs)
	v := s.settings
	if s.page != pageSettings || v == nil {
		t.Fatal("settings page not shown")
	}
	assertText(t, "auto-lock", v.autoLock.Text, "5")
	if !f.shows("Carnet, version 1.2.3") {
		t.Error("version not shown")
	}
	for _, tc := range []struct{ in, want string }{
		{"90", "Valeur invalide. Entre 1 et 60 minutes sans activité."},
		{"0", "Valeur invalide. Entre 1 et 60 minutes sans activité."},
		{"dix", "Saisissez un nombre entier de minutes."},
		{"10", "Paramètres enregistrés."},
	} {
		v.autoLock.SetText(tc.in)
		test.Tap(v.save)
		f.wait()
		assertText(t, "message for "+tc.in, v.saveMsg.Text, tc.want)
	}
	if got := f.svc.Settings().AutoLock; got != 10*time.Minute {
		t.Errorf("auto-lock = %v, want 10m", got)
	}
	assertText(t, "status", s.status.Text, "Coffre déverrouillé — verrouillage automatique dans 10 min")

	test.Tap(v.back)
	if s.page != pageSearch || s.settings != nil {
		t.Error("back did not return to the search")
	}
}

func TestSettingsChangePassphrase(t *testing.T) {
	f := newLockedFixture(t, Options{})
	s := f.unlock()
	test.Tap(s.openPrefs)
	v := s.settings
	const newPass = "une toute nouvelle phrase"

	test.Type(v.oldPass, testPassphrase)
	test.Type(v.newPass, "court")
	assertText(t, "strength", v.strength.label.Text, "Trop courte")
	test.Tap(v.change)
	assertText(t, "message", v.passMsg.Text, "La phrase de passe est trop courte : au moins 12 caractères.")

	v.newPass.SetText(newPass)
	v.confirm.SetText(newPass + "!")
	test.Tap(v.change)
	assertText(t, "message", v.passMsg.Text, "Les deux phrases de passe ne sont pas identiques.")

	v.oldPass.SetText("pas la bonne phrase")
	v.confirm.SetText(newPass)
	test.Tap(v.change)
	f.wait()
	assertText(t, "message", v.passMsg.Text, "Phrase de passe incorrecte.")

	v.oldPass.SetText(testPassphrase)
	test.Tap(v.change)
	f.wait()
	assertText(t, "message", v.passMsg.Text, "Phrase de passe modifiée.")
	if f.store.Passphrase() != newPass {
		t.Error("passphrase not changed in the store")
	}
	if v.oldPass.Text != "" || v.newPass.Text != "" || v.confirm.Text != "" {
		t.Error("passphrase entries not cleared")
	}
}

func TestSettingsLanguage(t *testing.T) {
	f := newLockedFixture(t, Options{})
	t.Cleanup(func() {
		if err := applyLanguage(languageFrench); err != nil {
			t.Error(err)
		}
	})
	s := f.unlock()
	test.Tap(s.openPrefs)
	assertText(t, "language", s.settings.language.Selected, "Français")
	s.settings.language.SetSelected("English")

	if got := f.a.Preferences().String(prefLanguage); got != languageEnglish {
		t.Errorf("language preference = %q, want en", got)
	}
	s = f.u.shell
	if s == nil || s.page != pageSettings || s.settings == nil {
		t.Fatal("settings page not shown again after the change of language")
	}
	assertText(t, "lock button", s.lock.Text, "Lock")
	assertText(t, "settings title", s.settings.back.Text, "Back")
	assertText(t, "placeholder", s.search.query.PlaceHolder, "Search for a patient (name, first name or INS)")
	assertText(t, "Fyne string", tr("Cancel"), "Cancel")

	s.settings.language.SetSelected("Français")
	assertText(t, "lock button", f.u.shell.lock.Text, "Verrouiller")
	assertText(t, "Fyne string", tr("Cancel"), "Annuler")
}
