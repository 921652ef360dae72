package ui

import (
	"testing"

	"fyne.io/fyne/v2/test"

	"github.com/carnetdesk/carnet/app"
)

// TestSettingsConnectionProtocol: the protocol, the XDS authentication
// mode and the VIHF's signing file are edited in the Connexion card and
// saved into the connection store: XDS and the indirect mode by default,
// the signing file only in the indirect mode, the XDS rows hidden with
// FHIR (their values kept).
func TestSettingsConnectionProtocol(t *testing.T) {
	f, s, cs := connectionFixture(t, app.Connection{ServiceURL: "https://dmp.example/services",
		Credential: app.CredentialConfig{Kind: app.CredentialFile, File: "/etc/carnet/structure.p12"}})
	c := s.settings.conn
	assertText(t, "default protocol", c.protocol.Selected, "XDS.b / SOAP (DMP en service)")
	assertText(t, "default mode", c.mode.Selected, "Indirecte (certificat de la structure)")
	if !c.xdsRows.Visible() || !c.vihfRow.Visible() {
		t.Fatal("the XDS rows are not shown by default")
	}
	for _, want := range []string{"Protocole", "Authentification", "Certificat de signature du VIHF"} {
		if !f.shows(want) {
			t.Errorf("the card does not show %q", want)
		}
	}
	// Indirect, with the organisation's seal signing the VIHF.
	c.vihf.SetText(" /etc/carnet/cachet.p12 ")
	test.Tap(c.save)
	f.wait()
	assertText(t, "saved", c.msg.Text, "Connexion enregistrée : elle s'applique à la prochaine connexion.")
	got := f.svc.Connection()
	if got.Protocol != app.ProtocolXDS || got.AuthMode != app.AuthIndirect || got.VIHFFile != "/etc/carnet/cachet.p12" || cs.saves != 1 {
		t.Fatalf("saved protocol %q mode %q vihf %q (%d saves)", got.Protocol, got.AuthMode, got.VIHFFile, cs.saves)
	}
	// Direct: the card signs, the second file is neither shown nor saved.
	c.credKind.SetSelected("Carte CPS (PKCS#11)")
	c.module.SetText("/usr/lib/libcps.so")
	c.mode.SetSelected("Directe (la carte CPS signe)")
	if !c.xdsRows.Visible() || c.vihfRow.Visible() {
		t.Fatal("the VIHF file is shown in the direct mode")
	}
	test.Tap(c.save)
	f.wait()
	got = f.svc.Connection()
	if got.AuthMode != app.AuthDirect || got.VIHFFile != "" || cs.saves != 2 {
		t.Fatalf("direct: mode %q vihf %q (%d saves, %q)", got.AuthMode, got.VIHFFile, cs.saves, c.msg.Text)
	}
	// FHIR: no XDS rows; the XDS settings stay for a switch back.
	c.protocol.SetSelected("FHIR (API PDSm, brouillon)")
	if c.xdsRows.Visible() || c.vihfRow.Visible() {
		t.Fatal("the XDS rows are shown with FHIR")
	}
	test.Tap(c.save)
	f.wait()
	got = f.svc.Connection()
	if got.Protocol != app.ProtocolFHIR || got.AuthMode != app.AuthDirect || cs.saves != 3 {
		t.Fatalf("fhir: protocol %q mode %q (%d saves)", got.Protocol, got.AuthMode, cs.saves)
	}
	c.protocol.SetSelected("XDS.b / SOAP (DMP en service)")
	if !c.xdsRows.Visible() || c.vihfRow.Visible() {
		t.Fatal("back to XDS in the direct mode: wrong rows")
	}
	// A VIHF file in the direct mode (a hand-edited config.toml) is said.
	err := app.Connection{AuthMode: "DIRECTE", VIHFFile: "/etc/carnet/cachet.p12"}.Validate()
	assertText(t, "vihf refusal", connectionProblem(err), "Le certificat de signature du VIHF ne sert qu'en authentification indirecte.")
}

// TestSettingsConnectionProtocolShown: without a connection store the
// card names the protocol (the default, XDS), read-only.
func TestSettingsConnectionProtocolShown(t *testing.T) {
	f := newLockedFixture(t, Options{})
	s := f.unlock()
	s.openSettings()
	f.wait()
	if s.settings.conn.protocol != nil || !f.shows("XDS.b / SOAP (DMP en service)") {
		t.Error("the read-only card does not name the default protocol")
	}
}
