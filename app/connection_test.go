package app_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
)

// goodMail is a valid mailbox account.
func goodMail() app.MailAccount {
	return app.MailAccount{Address: "dr.martin@clinique.mssante.fr", Host: "imap.operateur.mssante.fr", Security: app.MailImplicitTLS}
}

func TestConnectionValidate(t *testing.T) {
	card := app.CredentialConfig{Kind: app.CredentialCard, Module: "/usr/lib/libcps3_pkcs11_lux.so"}
	mail := func(f func(*app.MailAccount)) app.Connection {
		m := goodMail()
		f(&m)
		return app.Connection{Mailboxes: []app.MailAccount{m}}
	}
	cases := []struct {
		name string
		c    app.Connection
		want string // "" when valid
	}{
		{"empty", app.Connection{}, ""},
		{"full", app.Connection{ServiceURL: "https://dmp.example/fhir", Credential: card, FacilityType: "SA01", Mailboxes: []app.MailAccount{goodMail()}}, ""},
		{"loopback http", app.Connection{ServiceURL: "http://127.0.0.1:8443/fhir"}, ""},
		{"remote http", app.Connection{ServiceURL: "http://dmp.example/fhir"}, "https is required"},
		{"no host", app.Connection{ServiceURL: "https:///fhir"}, "want https://host/path"},
		{"user info", app.Connection{ServiceURL: "https://u:p@dmp.example/fhir"}, "want https://host/path"},
		{"ftp", app.Connection{ServiceURL: "ftp://dmp.example/"}, "want https://host/path"},
		{"garbage", app.Connection{ServiceURL: "%zz"}, "want https://host/path"},
		{"card without module", app.Connection{Credential: app.CredentialConfig{Kind: app.CredentialCard}}, "PKCS#11 module"},
		{"file without file", app.Connection{Credential: app.CredentialConfig{Kind: app.CredentialFile}}, "PKCS#12 file"},
		{"unknown credential", app.Connection{Credential: app.CredentialConfig{Kind: "floppy"}}, "want pkcs11 or pkcs12"},
		{"facility", app.Connection{FacilityType: "sa4"}, "TRE_R02"},
		{"mail no host", mail(func(m *app.MailAccount) { m.Host = "" }), "host is required"},
		{"mail host with scheme", mail(func(m *app.MailAccount) { m.Host = "imaps://x" }), "without scheme"},
		{"mail no address", mail(func(m *app.MailAccount) { m.Address = "dr" }), "BAL address"},
		{"mail address injection", mail(func(m *app.MailAccount) { m.Address = "a@b\r\nBcc: c@d" }), "BAL address"},
		{"mail plaintext", mail(func(m *app.MailAccount) { m.Security = "none" }), "plaintext is refused"},
		{"mail no security", mail(func(m *app.MailAccount) { m.Security = "" }), "security is required"},
		{"mail port", mail(func(m *app.MailAccount) { m.Port = 70000 }), "out of range"},
		{"mail auth", mail(func(m *app.MailAccount) { m.Auth = "cram-md5" }), "want plain, login"},
		{"mail move without folder", mail(func(m *app.MailAccount) { m.Mark = app.MarkMove }), "needs a folder"},
		{"mail mark", mail(func(m *app.MailAccount) { m.Mark = "delete" }), "want keyword or move"},
		{"receipts without smtp", mail(func(m *app.MailAccount) { m.ReadReceipts = true }), "SMTP submission"},
		{"smtp plaintext", mail(func(m *app.MailAccount) { m.SMTPHost, m.SMTPSecurity = "smtp.x", "none" }), "plaintext is refused"},
		{"receipts", mail(func(m *app.MailAccount) { m.ReadReceipts, m.SMTPHost = true, "smtp.operateur.mssante.fr" }), ""},
		{"smtp host with scheme", mail(func(m *app.MailAccount) { m.ReadReceipts, m.SMTPHost = true, "smtps://smtp.x:465" }), "SMTP host"},
		{"twice", app.Connection{Mailboxes: []app.MailAccount{goodMail(), func() app.MailAccount {
			m := goodMail()
			m.Address = strings.ToUpper(m.Address)
			return m
		}()}}, "listed twice"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.c.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("valid connection refused: %v", err)
				}
				return
			}
			if !errors.Is(err, app.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want ErrInvalid with %q", err, tc.want)
			}
		})
	}
}

// memConns is an in-memory app.ConnectionStore that counts saves.
type memConns struct {
	c     app.Connection
	saves int
	err   error
}

func (m *memConns) Connection(context.Context) (app.Connection, error) { return m.c, nil }
func (m *memConns) SaveConnection(_ context.Context, c app.Connection) error {
	if m.err != nil {
		return m.err
	}
	m.c, m.saves = c, m.saves+1
	return nil
}

func TestSaveConnection(t *testing.T) {
	svc, store := unlockedService(t)
	ctx := context.Background()
	if svc.CanEditConnection() {
		t.Fatal("editable without a store")
	}
	if err := svc.SaveConnection(ctx, app.Connection{}); !errors.Is(err, app.ErrInvalid) {
		t.Fatalf("save without a store: %v", err)
	}
	cs := &memConns{c: app.Connection{ServiceURL: "https://dmp.example/fhir"}}
	if err := svc.SetConnectionStore(ctx, cs); err != nil {
		t.Fatal(err)
	}
	if !svc.CanEditConnection() || svc.Connection().ServiceURL != "https://dmp.example/fhir" {
		t.Fatalf("loaded connection %+v", svc.Connection())
	}
	var heard []app.Connection
	svc.OnConnection(func(c app.Connection) { heard = append(heard, c) })

	// Invalid: nothing saved, nobody told.
	bad := app.Connection{ServiceURL: "http://dmp.example"}
	if err := svc.SaveConnection(ctx, bad); !errors.Is(err, app.ErrInvalid) || cs.saves != 0 || len(heard) != 0 {
		t.Fatalf("invalid connection: %v, %d saves, %d told", err, cs.saves, len(heard))
	}
	// Valid: saved, cached, told, audited (without the URL or the address).
	good := app.Connection{ServiceURL: "https://dmp2.example/fhir", Credential: app.CredentialConfig{Kind: app.CredentialFile, File: "/home/dr/cps.p12"},
		Mailboxes: []app.MailAccount{goodMail()}}
	if err := svc.SaveConnection(ctx, good); err != nil {
		t.Fatal(err)
	}
	got := svc.Connection()
	if cs.saves != 1 || len(heard) != 1 || got.ServiceURL != good.ServiceURL || len(got.Mailboxes) != 1 {
		t.Fatalf("after save: %d saves, %d told, %+v", cs.saves, len(heard), got)
	}
	got.Mailboxes[0].Host = "changed" // the caller's copy
	if svc.Connection().Mailboxes[0].Host == "changed" {
		t.Fatal("Connection shares its mailboxes")
	}
	events, err := svc.Audit(ctx, app.AuditFilter{Action: "settings.connection"})
	if err != nil || len(events) != 1 {
		t.Fatalf("audit: %v, %d events", err, len(events))
	}
	if d := events[0].Detail; d != `service="https://dmp2.example/fhir" credential=pkcs12 mailboxes=[dr.martin@clinique.mssante.fr]` {
		t.Fatalf("audit detail %q does not say where patient data goes", d)
	}
	// A failing store: the cache keeps the saved connection.
	cs.err = errors.New("disk full")
	if err := svc.SaveConnection(ctx, app.Connection{}); err == nil || svc.Connection().ServiceURL != good.ServiceURL {
		t.Fatalf("failed save: %v, cache %+v", err, svc.Connection())
	}
	// Locked: refused.
	store.Lock()
	cs.err = nil
	if err := svc.SaveConnection(ctx, good); !errors.Is(err, app.ErrLocked) {
		t.Fatalf("locked: %v", err)
	}
}

func TestMailPassword(t *testing.T) {
	svc, store := unlockedService(t)
	ctx := context.Background()
	const acct = "dr.martin@clinique.mssante.fr"
	if set, err := svc.MailPasswordSet(ctx, acct); set || err != nil {
		t.Fatalf("set before: %v %v", set, err)
	}
	if _, err := svc.MailPassword(ctx, acct); !errors.Is(err, app.ErrNotFound) {
		t.Fatalf("password before: %v", err)
	}
	if err := svc.SetMailPassword(ctx, acct, []byte("s3cret-canary")); err != nil {
		t.Fatal(err)
	}
	if set, err := svc.MailPasswordSet(ctx, acct); !set || err != nil {
		t.Fatalf("set after: %v %v", set, err)
	}
	if pw, err := svc.MailPassword(ctx, acct); err != nil || string(pw) != "s3cret-canary" {
		t.Fatalf("password: %q %v", pw, err)
	}
	events, err := svc.Audit(ctx, app.AuditFilter{Action: "settings.mailbox-password"})
	if err != nil || len(events) != 1 {
		t.Fatalf("audit: %v %d", err, len(events))
	}
	for _, e := range events {
		if strings.Contains(e.Detail+e.Result, "canary") {
			t.Fatal("the audit log holds the secret")
		}
	}
	if err := svc.SetMailPassword(ctx, acct, nil); err != nil {
		t.Fatal(err)
	}
	if set, _ := svc.MailPasswordSet(ctx, acct); set {
		t.Fatal("forgotten password still set")
	}
	store.Lock()
	if _, err := svc.MailPasswordSet(ctx, acct); !errors.Is(err, app.ErrLocked) {
		t.Fatalf("locked: %v", err)
	}
}

// slowConns is a ConnectionStore whose first save lingers after writing,
// so that a second save can overtake it.
type slowConns struct {
	mu      sync.Mutex
	c       app.Connection
	n       int
	entered chan struct{}
}

func (s *slowConns) Connection(context.Context) (app.Connection, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.c, nil
}

func (s *slowConns) SaveConnection(_ context.Context, c app.Connection) error {
	s.mu.Lock()
	s.c, s.n = c, s.n+1
	first := s.n == 1
	s.mu.Unlock()
	if first {
		close(s.entered)
		time.Sleep(150 * time.Millisecond)
	}
	return nil
}

// TestSaveConnectionConcurrent: two saves at once leave the cached
// connection equal to the one stored (the last written), not the older.
func TestSaveConnectionConcurrent(t *testing.T) {
	svc, _ := unlockedService(t)
	ctx := context.Background()
	cs := &slowConns{entered: make(chan struct{})}
	if err := svc.SetConnectionStore(ctx, cs); err != nil {
		t.Fatal(err)
	}
	a := app.Connection{ServiceURL: "https://a.example/fhir"}
	b := app.Connection{ServiceURL: "https://b.example/fhir"}
	done := make(chan error, 1)
	go func() { done <- svc.SaveConnection(ctx, a) }()
	<-cs.entered
	if err := svc.SaveConnection(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	stored, _ := cs.Connection(ctx)
	if got := svc.Connection().ServiceURL; got != stored.ServiceURL {
		t.Fatalf("cached %q, stored %q", got, stored.ServiceURL)
	}
}

// mailSyncer is a syncer whose cycle also imports mailboxes.
type mailSyncer struct {
	app.Syncer
	calls int
}

func (m *mailSyncer) ImportMailboxes(context.Context) (app.ImportSummary, error) {
	m.calls++
	return app.ImportSummary{Filed: 1}, nil
}

func TestImportMailboxes(t *testing.T) {
	svc, _ := unlockedService(t)
	ctx := context.Background()
	if _, err := svc.ImportMailboxes(ctx); err == nil {
		t.Fatal("imported without a syncer")
	}
	sy := &mailSyncer{}
	svc.SetSyncer(sy)
	if _, err := svc.ImportMailboxes(ctx); !errors.Is(err, app.ErrNotConfigured) || sy.calls != 0 {
		t.Fatalf("no mailbox: %v, %d calls", err, sy.calls)
	}
	if err := svc.SetConnectionStore(ctx, &memConns{c: app.Connection{Mailboxes: []app.MailAccount{goodMail()}}}); err != nil {
		t.Fatal(err)
	}
	if sum, err := svc.ImportMailboxes(ctx); err != nil || sum.Filed != 1 || sy.calls != 1 {
		t.Fatalf("import: %+v %v %d", sum, err, sy.calls)
	}
}
