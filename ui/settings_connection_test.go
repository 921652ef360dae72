package ui

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/apptest"
)

// memConnections is an in-memory app.ConnectionStore for the UI tests.
type memConnections struct {
	mu    sync.Mutex
	c     app.Connection
	saves int
}

func (m *memConnections) Connection(context.Context) (app.Connection, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.c, nil
}

func (m *memConnections) SaveConnection(_ context.Context, c app.Connection) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.c, m.saves = c, m.saves+1
	return nil
}

// connectionFixture is an unlocked fixture whose service keeps its
// connection in memory, on the settings page.
func connectionFixture(t *testing.T, c app.Connection) (*fixture, *shell, *memConnections) {
	t.Helper()
	cs := &memConnections{c: c}
	f := newFixtureWith(t, lockedStore(t), Options{SignIn: func(context.Context, []byte) error { return nil }},
		app.Deps{Connections: cs, Connection: c})
	s := f.unlock()
	s.openSettings()
	f.wait()
	return f, s, cs
}

func TestSettingsConnectionReadOnly(t *testing.T) {
	f := newLockedFixture(t, Options{})
	s := f.unlock()
	s.openSettings()
	f.wait()
	if s.settings.conn.url != nil {
		t.Fatal("editable without a connection store")
	}
	for _, want := range []string{"Non configuré", "Aucun (consultation du coffre seule)", "Aucune messagerie configurée."} {
		if !f.shows(want) {
			t.Errorf("settings do not show %q", want)
		}
	}
	if !s.settings.mail.add.Disabled() {
		t.Error("a mailbox can be added without a connection store")
	}
}

func TestSettingsConnectionEdit(t *testing.T) {
	f, s, cs := connectionFixture(t, app.Connection{})
	c := s.settings.conn
	if c.kind() != app.CredentialNone || c.cardRows.Visible() || c.p12Row.Visible() {
		t.Fatal("an empty connection shows credential fields")
	}
	if s.signIn.button.Visible() {
		t.Error("sign-in offered without a configured service")
	}
	c.credKind.SetSelected("Carte CPS (PKCS#11)")
	if !c.cardRows.Visible() || c.p12Row.Visible() {
		t.Fatal("the card's fields are not shown")
	}
	for _, tc := range []struct {
		url, module, facility, want string
	}{
		{"http://dmp.example/fhir", "/usr/lib/libcps.so", "", "L'adresse du service central doit être en https."},
		{"dmp.example", "/usr/lib/libcps.so", "", "Adresse du service central invalide : https://hôte/chemin attendu."},
		// (an empty PKCS#11 module is no longer an error: the OS's default
		// card module, app.DefaultCardModule, applies)
		{"https://dmp.example/fhir", "/usr/lib/libcps.so", "clinique", "Type de structure invalide : un code TRE_R02 comme SA04."},
	} {
		c.url.SetText(tc.url)
		c.module.SetText(tc.module)
		c.facility.SetText(tc.facility)
		test.Tap(c.save)
		f.wait()
		assertText(t, "message for "+tc.url, c.msg.Text, tc.want)
	}
	if cs.saves != 0 {
		t.Fatal("an invalid connection was saved")
	}
	c.facility.SetText("sa01")
	c.slot.SetText("CPS")
	test.Tap(c.save)
	f.wait()
	test.AssertRendersToMarkup(t, "settings_connection.xml", f.u.Window().Canvas())
	assertText(t, "saved", c.msg.Text, "Connexion enregistrée : elle s'applique à la prochaine connexion.")
	got := f.svc.Connection()
	want := app.Connection{ServiceURL: "https://dmp.example/fhir", FacilityType: "SA01",
		Credential: app.CredentialConfig{Kind: app.CredentialCard, Module: "/usr/lib/libcps.so", Slot: "CPS"}}
	if cs.saves != 1 || got.ServiceURL != want.ServiceURL || got.Credential != want.Credential || got.FacilityType != want.FacilityType {
		t.Fatalf("saved %+v (%d saves)", got, cs.saves)
	}
	// The sign-in is offered now, and names the card.
	s.signIn.refresh()
	if !s.signIn.button.Visible() {
		t.Error("sign-in not offered once configured")
	}
	if l := f.u.credentialLabel(); l != "carte CPS" {
		t.Errorf("credential label %q", l)
	}
	// A certificate file: the module is dropped.
	c.credKind.SetSelected("Certificat logiciel (PKCS#12)")
	if c.cardRows.Visible() || !c.p12Row.Visible() {
		t.Fatal("the file's field is not shown")
	}
	c.p12.SetText("/home/dr/praticien.p12")
	test.Tap(c.save)
	f.wait()
	if cr := f.svc.Connection().Credential; cr.Kind != app.CredentialFile || cr.Module != "" || cr.File != "/home/dr/praticien.p12" {
		t.Fatalf("credential %+v", cr)
	}
	if l := f.u.credentialLabel(); l != "praticien.p12" {
		t.Errorf("credential label %q", l)
	}
}

func TestSettingsMailbox(t *testing.T) {
	f, s, cs := connectionFixture(t, app.Connection{ServiceURL: "https://dmp.example/fhir"})
	m := s.settings.mail
	if !f.shows("Aucune messagerie configurée.") {
		t.Fatal("empty list not said")
	}
	test.Tap(m.add)
	d := m.edit
	if d == nil {
		t.Fatal("no dialog")
	}
	if d.receipts.Checked || d.smtpRows.Visible() {
		t.Fatal("read receipts are on by default")
	}
	assertText(t, "default security", d.security.Selected, "TLS")
	d.address.SetText("dr.martin@clinique.mssante.fr")
	d.host.SetText("imaps://imap.op.mssante.fr")
	test.Tap(d.save)
	f.wait()
	assertText(t, "host", d.msg.Text, "Serveur invalide : un nom d'hôte, sans protocole ni port.")
	d.host.SetText("imap.op.mssante.fr")
	d.port.SetText("neuf")
	test.Tap(d.save)
	assertText(t, "port", d.msg.Text, "Port invalide : un nombre entre 1 et 65535.")
	d.port.SetText("")
	d.receipts.SetChecked(true)
	if !d.smtpRows.Visible() {
		t.Fatal("the SMTP fields are not shown with read receipts")
	}
	test.Tap(d.save)
	f.wait()
	assertText(t, "smtp", d.msg.Text, "Les accusés de lecture demandent le serveur d'envoi (SMTP).")
	d.smtpHost.SetText("smtp.op.mssante.fr")
	test.Type(d.password, "mot-de-passe-bal")
	test.AssertRendersToMarkup(t, "settings_mailbox_dialog.xml", f.u.Window().Canvas())
	test.Tap(d.save)
	f.wait()
	if m.edit != nil {
		t.Fatalf("dialog still open: %q", d.msg.Text)
	}
	if d.password.Text != "" {
		t.Error("the password stays in the closed dialog")
	}
	conn := f.svc.Connection()
	if len(conn.Mailboxes) != 1 || cs.saves != 1 {
		t.Fatalf("mailboxes %+v (%d saves)", conn.Mailboxes, cs.saves)
	}
	mb := conn.Mailboxes[0]
	if mb.Address != "dr.martin@clinique.mssante.fr" || !mb.ReadReceipts || mb.SMTPHost != "smtp.op.mssante.fr" || mb.SMTPSecurity != app.MailStartTLS {
		t.Fatalf("mailbox %+v", mb)
	}
	if conn.ServiceURL != "https://dmp.example/fhir" {
		t.Fatal("saving a mailbox lost the service")
	}
	sec, err := f.store.MailSecret(context.Background(), mb.Address)
	if err != nil || string(sec) != "mot-de-passe-bal" {
		t.Fatalf("sealed password %q %v", sec, err)
	}
	for _, want := range []string{"dr.martin@clinique.mssante.fr", "Mot de passe scellé dans le coffre", "accusés de lecture activés"} {
		if !f.shows(want) {
			t.Errorf("the list does not show %q", want)
		}
	}

	// Editing without typing a password keeps the sealed one.
	m.showDialog(0)
	m.edit.folder.SetText("Résultats")
	test.Tap(m.edit.save)
	f.wait()
	if sec, _ := f.store.MailSecret(context.Background(), mb.Address); string(sec) != "mot-de-passe-bal" {
		t.Fatal("an edit without password changed the sealed one")
	}
	if got := f.svc.Connection().Mailboxes[0].Folder; got != "Résultats" {
		t.Fatalf("folder %q", got)
	}

	// Removing: confirmed, the password is forgotten.
	m.confirmRemove(0)
	f.tapDialogButton("Retirer")
	f.wait()
	if n := len(f.svc.Connection().Mailboxes); n != 0 {
		t.Fatalf("%d mailboxes after removal", n)
	}
	if _, err := f.store.MailSecret(context.Background(), mb.Address); !errors.Is(err, app.ErrNotFound) {
		t.Fatalf("password after removal: %v", err)
	}
	audit, err := f.svc.Audit(context.Background(), app.AuditFilter{Action: "settings."})
	if err != nil || len(audit) < 4 {
		t.Fatalf("audit %v %d", err, len(audit))
	}
}

// TestSettingsMailboxStates: a mailbox that signs in with the card needs
// no password; one without a sealed password says it is not imported; the
// last import of each mailbox is shown, a failure with its reason.
func TestSettingsMailboxStates(t *testing.T) {
	accounts := []app.MailAccount{
		{Address: "a@clinique.mssante.fr", Host: "imap.op.mssante.fr", Security: app.MailImplicitTLS, Auth: app.MailAuthExternal},
		{Address: "b@clinique.mssante.fr", Host: "imap.op.mssante.fr", Security: app.MailStartTLS},
	}
	conn := app.Connection{Mailboxes: accounts}
	store := lockedStore(t)
	sy := &apptest.Syncer{Store: store}
	at := time.Date(2026, 3, 2, 10, 32, 0, 0, time.Local)
	sy.SetStatus(app.SyncStatus{Mailboxes: []app.MailboxStatus{
		{Account: "A@clinique.mssante.fr", At: at, Summary: app.ImportSummary{Filed: 3, Manual: 1}},
		{Account: "b@clinique.mssante.fr", At: at, Err: fmt.Errorf("mail import: %w", app.ErrCredential)},
	}})
	f := newFixtureWith(t, store, Options{}, app.Deps{Connections: &memConnections{c: conn}, Connection: conn, Syncer: sy})
	s := f.unlock()
	s.openSettings()
	f.wait()
	for _, want := range []string{"Authentification par la carte (connectez-vous)", "Mot de passe à saisir : non importée",
		"accusés de lecture désactivés", "Dernier import à 10:32 : 3 classé(s), 1 à traiter", "Dernier import à 10:32 : échec — identifiants refusés par le serveur de messagerie"} {
		if !f.shows(want) {
			t.Errorf("the list does not show %q", want)
		}
	}
}

// TestSettingsMailboxPasswordBeforeWake: the password of a new mailbox is
// sealed before the connection is saved, since saving wakes the sync cycle
// whose import must find it (else the mailbox waits a whole interval).
func TestSettingsMailboxPasswordBeforeWake(t *testing.T) {
	f, s, _ := connectionFixture(t, app.Connection{})
	const addr = "dr.martin@clinique.mssante.fr"
	var mu sync.Mutex
	var sealedAtSave []bool
	f.svc.OnConnection(func(app.Connection) {
		ok, _ := f.svc.MailPasswordSet(context.Background(), addr)
		mu.Lock()
		sealedAtSave = append(sealedAtSave, ok)
		mu.Unlock()
	})
	m := s.settings.mail
	test.Tap(m.add)
	d := m.edit
	d.address.SetText(addr)
	d.host.SetText("imap.op.mssante.fr")
	test.Type(d.password, "mot-de-passe-bal")
	test.Tap(d.save)
	f.wait()
	mu.Lock()
	defer mu.Unlock()
	if len(sealedAtSave) != 1 || !sealedAtSave[0] {
		t.Fatalf("password sealed when the connection changed: %v", sealedAtSave)
	}
}

// TestSettingsMailboxRemoveKeepsSharedPassword: one account may be listed
// with two folders; removing one of them keeps the password the other
// still uses.
func TestSettingsMailboxRemoveKeepsSharedPassword(t *testing.T) {
	const addr = "dr.martin@clinique.mssante.fr"
	accounts := []app.MailAccount{
		{Address: addr, Host: "imap.op.mssante.fr", Security: app.MailImplicitTLS},
		{Address: addr, Host: "imap.op.mssante.fr", Security: app.MailImplicitTLS, Folder: "Résultats"},
	}
	f, s, _ := connectionFixture(t, app.Connection{Mailboxes: accounts})
	ctx := context.Background()
	if err := f.svc.SetMailPassword(ctx, addr, []byte("mot-de-passe-bal")); err != nil {
		t.Fatal(err)
	}
	m := s.settings.mail
	m.confirmRemove(1)
	f.tapDialogButton("Retirer")
	f.wait()
	if n := len(f.svc.Connection().Mailboxes); n != 1 {
		t.Fatalf("%d mailboxes after removal", n)
	}
	if sec, err := f.store.MailSecret(ctx, addr); err != nil || string(sec) != "mot-de-passe-bal" {
		t.Fatalf("the password the remaining mailbox uses: %q %v", sec, err)
	}
	// Renaming the remaining one (the old address no longer listed)
	// forgets the old password.
	m.showDialog(0)
	m.edit.address.SetText("secretariat@clinique.mssante.fr")
	test.Tap(m.edit.save)
	f.wait()
	if _, err := f.store.MailSecret(ctx, addr); !errors.Is(err, app.ErrNotFound) {
		t.Fatalf("old password after renaming: %v", err)
	}
}

// TestConnectionProblemNamesTheField: the field named is the one at fault,
// whatever the value quoted in the error (an address "localhost" is not a
// server problem; an SMTP host with a scheme is a server problem).
func TestConnectionProblemNamesTheField(t *testing.T) {
	newLockedFixture(t, Options{}) // the test app, in French
	mb := app.MailAccount{Address: "localhost", Host: "imap.op.mssante.fr", Security: app.MailImplicitTLS}
	err := app.Connection{Mailboxes: []app.MailAccount{mb}}.Validate()
	assertText(t, "address", connectionProblem(err), "Adresse de messagerie invalide : nom@domaine.mssante.fr attendu.")
	mb.Address, mb.ReadReceipts, mb.SMTPHost = "dr@clinique.mssante.fr", true, "smtps://smtp.op.mssante.fr"
	err = app.Connection{Mailboxes: []app.MailAccount{mb}}.Validate()
	assertText(t, "smtp host", connectionProblem(err), "Serveur invalide : un nom d'hôte, sans protocole ni port.")
	// A configuration file edited by hand: the protocol and the mode, which
	// the settings offer only as choices, are named in French too.
	err = app.Connection{Protocol: "soap"}.Validate()
	assertText(t, "protocol", connectionProblem(err), "Protocole du DMP inconnu : « xds » (DMP en service) ou « fhir » attendu.")
	err = app.Connection{AuthMode: "carte"}.Validate()
	assertText(t, "auth mode", connectionProblem(err), "Mode d'authentification inconnu : « directe » (carte CPS) ou « indirecte » (certificat de structure) attendu.")
}
