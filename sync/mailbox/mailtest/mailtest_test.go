package mailtest_test

import (
	"bytes"
	"crypto/tls"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/sync/mailbox"
	"github.com/carnetdesk/carnet/sync/mailbox/mailtest"
)

func patient(t *testing.T) app.Patient {
	k, err := app.INSKey("2800175123456")
	if err != nil {
		t.Fatal(err)
	}
	return app.Patient{ID: "p1", INS: app.INS{Matricule: "2800175123456" + k, OID: app.OIDINSNIR}, Status: app.IdentityQualified,
		BirthName: "DUPONT", BirthGivenNames: "ÉLODIE MARIE", BirthDate: "1980-01-01", Sex: app.SexFemale, BirthPlace: "75112"}
}

// TestComposeParses checks that what the harness composes is what a
// compliant sender sends: the parser finds one report with the patient's
// INS, in a plain and in a forwarded mail.
func TestComposeParses(t *testing.T) {
	p := patient(t)
	z, err := mailtest.XDM(mailtest.CDA{ID: "1.2.250.1.999.1", Patient: p, Payload: mailtest.RandomPDF(2048), MediaType: "application/pdf"})
	if err != nil {
		t.Fatal(err)
	}
	raw := mailtest.XDMMail(mailtest.Header{MessageID: "a@labo", Subject: "XDM/1.0/DDM+CR DUPONT Élodie"}, z, mailtest.RandomPDF(100))
	fwd := mailtest.Message(mailtest.Header{MessageID: "b@sec"}, mailtest.Multipart("mixed", mailtest.Text("TR"), mailtest.Forwarded(raw)))
	for _, r := range [][]byte{raw, fwd} {
		m := mailbox.ParseMessage(r, app.MessageRef{UID: 1}, mailbox.Limits{}, false)
		if len(m.Reports) != 1 || m.Reports[0].Identity.INS != p.INS || m.Quarantined() {
			t.Fatalf("reports %d problems %+v", len(m.Reports), m.Problems)
		}
	}
	if m := mailbox.ParseMessage(raw, app.MessageRef{}, mailbox.Limits{}, false); !strings.HasPrefix(m.Subject, "XDM/1.0/DDM+CR DUPONT") {
		t.Fatalf("subject %q", m.Subject)
	}
}

// TestDovecotHarness starts a Dovecot, delivers with doveadm and by
// Maildir drop, and reads the flags back.
func TestDovecotHarness(t *testing.T) {
	s := mailtest.StartDovecot(t)
	u := s.NewUser()
	if err := s.Deliver(u, "INBOX", mailtest.Message(mailtest.Header{MessageID: "1@x"}, mailtest.Text("un"))); err != nil {
		t.Fatal(err)
	}
	var raws [][]byte
	for i := 0; i < 5; i++ {
		raws = append(raws, mailtest.Message(mailtest.Header{MessageID: "m@x"}, mailtest.Text("deux")))
	}
	if err := s.DeliverMaildir(u, raws); err != nil {
		t.Fatal(err)
	}
	if err := s.DeliverMaildir(u, raws[:2]); err != nil {
		t.Fatal(err)
	}
	flags, err := s.Flags(u, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	if len(flags) != 8 {
		t.Fatalf("%d messages, want 8", len(flags))
	}
}

// TestDovecotSubmission starts Dovecot's submission service relaying to a
// sink, submits a message over implicit TLS with AUTH PLAIN (go-smtp's
// client, not Carnet's) and finds it in the sink.
func TestDovecotSubmission(t *testing.T) {
	mailtest.RequireSubmission(t)
	sink := mailtest.StartSink(t, mailtest.SinkOptions{})
	s := mailtest.StartDovecotOptions(t, mailtest.Options{SubmissionRelay: sink.Addr})
	u := s.NewUser()
	c, err := smtp.DialTLS(s.SubmissionAddr(), &tls.Config{ServerName: "localhost", RootCAs: s.Roots})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Auth(sasl.NewPlainClient("", u, mailtest.Password)); err != nil {
		t.Fatalf("auth: %v\n%s", err, s.Log())
	}
	msg := mailtest.Message(mailtest.Header{MessageID: "sub@x"}, mailtest.Text("relayed"))
	if err := c.SendMail(u, []string{"labo@labo.mssante.fr"}, bytes.NewReader(msg)); err != nil {
		t.Fatalf("send: %v\n%s", err, s.Log())
	}
	_ = c.Quit()
	got := sink.Wait(1, 10*time.Second)
	if len(got) != 1 || got[0].From != u || len(got[0].To) != 1 || got[0].To[0] != "labo@labo.mssante.fr" ||
		!bytes.Contains(got[0].Data, []byte("relayed")) {
		t.Fatalf("sink got %+v\n%s", got, s.Log())
	}
}

// TestMemoryFallback: go-imap's in-memory server, the fallback of
// StartDovecot without Dovecot, serves what the harness promises: a user
// with the harness's password over implicit TLS and STARTTLS trusting the
// test CA only, delivery, and the flags Carnet sets read back.
func TestMemoryFallback(t *testing.T) {
	s, err := mailtest.LaunchMemory()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	if !s.Memory() {
		t.Fatal("Memory() is false")
	}
	u := s.NewUser()
	zip, err := mailtest.XDM(mailtest.CDA{ID: "1.2.250.1.999.1", Patient: patient(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Deliver(u, "INBOX", mailtest.XDMMail(mailtest.Header{MessageID: "mem@labo"}, zip, nil)); err != nil {
		t.Fatal(err)
	}
	for _, sec := range []mailbox.Security{mailbox.ImplicitTLS, mailbox.StartTLS} {
		port := s.IMAPS
		if sec == mailbox.StartTLS {
			port = s.IMAP
		}
		acct := mailbox.Account{Name: u, Host: "localhost", Port: port, Security: sec, RootCAs: s.Roots,
			Username: u, Password: []byte(mailtest.Password), Demo: true, DialTimeout: time.Minute}
		cl, err := mailbox.New(acct, nil)
		if err != nil {
			t.Fatal(err)
		}
		var got []app.Message
		if _, err := cl.Fetch(t.Context(), app.MailboxState{Account: u, Mailbox: "INBOX"}, func(m app.Message) error {
			got = append(got, m)
			return nil
		}); err != nil || len(got) != 1 || len(got[0].Reports) != 1 {
			t.Fatalf("%s: %d messages, err %v", sec, len(got), err)
		}
		if sec == mailbox.ImplicitTLS {
			if err := cl.MarkImported(t.Context(), got[0].Ref); err != nil {
				t.Fatal(err)
			}
		}
		cl.Close()
		acct.RootCAs = s.OtherRoots
		if cl, _ := mailbox.New(acct, nil); cl != nil {
			if _, err := cl.Fetch(t.Context(), app.MailboxState{}, func(app.Message) error { return nil }); err == nil {
				t.Fatalf("%s: a server certificate from another CA was trusted", sec)
			}
			cl.Close()
		}
	}
	flags, err := s.Flags(u, "INBOX")
	if err != nil || len(flags) != 1 || !strings.Contains(strings.ToLower(flags[1]), strings.ToLower(app.ImportedKeyword)) { // keywords are case-insensitive
		t.Fatalf("flags %v %v", flags, err)
	}
}
