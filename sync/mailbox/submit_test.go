//go:build linux

package mailbox

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/apptest"
	"github.com/carnetdesk/carnet/sync/mailbox/mailtest"
)

// startSubmission starts, for one test, a sink and a Dovecot whose
// submission service relays to it (plus the variant's options).
func startSubmission(t *testing.T, o mailtest.Options) (*dovecot, *mailtest.Sink) {
	t.Helper()
	mailtest.RequireSubmission(t)
	sink := mailtest.StartSink(t, mailtest.SinkOptions{})
	o.SubmissionRelay = sink.Addr
	return startVariant(t, o), sink
}

// submitAccount is d.account(user, ImplicitTLS) with d's submission
// service, in security mode sec.
func submitAccount(d *dovecot, user string, sec Security) Account {
	a := d.account(user, ImplicitTLS)
	port := d.Submissions
	if sec == StartTLS {
		port = d.Submission
	}
	a.Submission = &Submission{Host: "localhost", Port: port, Security: sec}
	return a
}

// askingMail is an MSSanté mail of p asking for a read receipt
// (Disposition-Notification-To equal to Return-Path unless notifyTo says
// otherwise).
func askingMail(t testing.TB, msgID string, p app.Patient, notifyTo, returnPath string) []byte {
	extra := "X-MSS-INS: O\r\nX-MSS-CODECDA: 11502-2"
	if notifyTo != "" {
		extra += "\r\nDisposition-Notification-To: <" + notifyTo + ">"
	}
	if returnPath != "" {
		extra += "\r\nReturn-Path: <" + returnPath + ">"
	}
	return mail(msgID, "XDM/1.0/DDM+CR d'examens biologiques DUPONT Élodie", extra,
		multipart("mixed", "b1",
			textPart("Bonjour,\r\nci-joint le compte rendu."),
			attach("application/pdf", `filename="CR.pdf"`, []byte("%PDF-1.4 test")),
			attach("application/zip", `filename="IHE_XDM.ZIP"`, xdmZip(t, cdaDoc{ID: "1.2.250.1.999." + strings.Split(msgID, "@")[0], Patient: p}, xdmOpts{}))))
}

func sendReceipt(t *testing.T, a Account, r app.Receipt) error {
	t.Helper()
	rs, err := NewReceiptSender(a, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	return rs.SendReceipt(ctx, r)
}

// TestDovecotReceipt sends read receipts through Dovecot's submission
// service (implicit TLS and STARTTLS, AUTH PLAIN) and reads what the relay
// received: the envelope (null reverse path, the requester as the only
// recipient) and the ANS report.
func TestDovecotReceipt(t *testing.T) {
	d, sink := startSubmission(t, mailtest.Options{})
	p := testPatient(t, "p1", "2800175123456")
	raw := askingMail(t, "r1@labo", p, "labo@labo-x.mssante.fr", "labo@labo-x.mssante.fr")
	m := ParseMessage(raw, app.MessageRef{UID: 3, MessageID: "r1@labo"}, Limits{}, true)
	for i, tc := range []struct {
		sec         Security
		outcome     app.MailOutcome
		reason      app.MatchReason
		disposition string
	}{
		{ImplicitTLS, app.OutcomeFiled, app.MatchAuto, "automatic-action/MDN-sent-automatically; processed"},
		{StartTLS, app.OutcomeManual, app.ReasonUnknownPatient, "automatic-action/MDN-sent-automatically; processed/Error: 902^Identifiant patient inconnu"},
	} {
		t.Run(string(tc.sec), func(t *testing.T) {
			u := d.newUser()
			if err := sendReceipt(t, submitAccount(d, u, tc.sec), app.Receipt{Message: m, Outcome: tc.outcome, Reason: tc.reason}); err != nil {
				t.Fatal(err)
			}
			got := sink.Wait(i+1, 10*time.Second)
			if len(got) != i+1 {
				t.Fatalf("sink holds %d messages, want %d", len(got), i+1)
			}
			env := got[i]
			if env.From != "" || len(env.To) != 1 || env.To[0] != "labo@labo-x.mssante.fr" {
				t.Fatalf("envelope from %q to %q", env.From, env.To)
			}
			mdn := parseMDN(t, env.Data)
			if mdn.reportType != "disposition-notification" || mdn.disposition[0] != tc.disposition {
				t.Fatalf("report-type %q, Disposition %q", mdn.reportType, mdn.disposition[0])
			}
			if id := mdn.dn.Get("Original-Message-ID"); id != "<r1@labo>" {
				t.Fatalf("Original-Message-ID %q", id)
			}
			if fr := mdn.dn.Get("Final-Recipient"); fr != "rfc822;"+u {
				t.Fatalf("Final-Recipient %q", fr)
			}
			if from, _ := mdn.top.AddressList("From"); len(from) != 1 || from[0].Address != u {
				t.Fatalf("From %v", from)
			}
			if len(mdn.parts) != 5 || mdn.parts[4].filename != "IHE_XDM.ZIP" {
				t.Fatalf("%d parts, want the report and the 2 documents", len(mdn.parts))
			}
		})
	}
}

// TestDovecotReceiptAuth: the submission side authenticates as the IMAP
// side does, with a client certificate (EXTERNAL) or a token
// (OAUTHBEARER, XOAUTH2); a wrong password is a clear credential error.
func TestDovecotReceiptAuth(t *testing.T) {
	in := &mailtest.Introspector{}
	hs := httptest.NewServer(in)
	t.Cleanup(hs.Close)
	d, sink := startSubmission(t, mailtest.Options{External: true, OAuth2IntrospectionURL: hs.URL + "/introspect"})
	m := app.Message{Ref: app.MessageRef{MessageID: "a@labo"}, NotifyTo: "labo@labo-x.mssante.fr", Subject: "XDM/1.0/DDM+CR"}
	r := app.Receipt{Message: m, Outcome: app.OutcomeFiled, Reason: app.MatchAuto}
	sent := 0
	for _, m := range []AuthMethod{AuthExternal, AuthOAuthBearer, AuthXOAUTH2, AuthLogin, AuthPlain} {
		t.Run(string(m), func(t *testing.T) {
			u := d.newUser()
			a := submitAccount(d, u, StartTLS)
			a.Auth = m
			switch m {
			case AuthExternal:
				cert, err := d.ClientCert(u)
				if err != nil {
					t.Fatal(err)
				}
				a = certAccount(d, u, ImplicitTLS, cert)
				a.Submission = &Submission{Host: "localhost", Port: d.Submission, Security: StartTLS}
				a.Auth = AuthExternal
			case AuthOAuthBearer, AuthXOAUTH2:
				tok := in.Issue(u)
				a.Password, a.Token = nil, func(context.Context) (string, error) { return tok, nil }
			}
			if err := sendReceipt(t, a, r); err != nil {
				t.Fatal(err)
			}
			sent++
			if got := sink.Wait(sent, 10*time.Second); len(got) != sent {
				t.Fatalf("sink holds %d", len(got))
			}
		})
	}

	t.Run("wrong password", func(t *testing.T) {
		a := submitAccount(d, d.newUser(), ImplicitTLS)
		a.Password = []byte("not-the-password")
		err := sendReceipt(t, a, r)
		if !errors.Is(err, ErrAuthFailed) || !errors.Is(err, app.ErrCredential) || !strings.Contains(err.Error(), "PLAIN refused: 535") {
			t.Fatalf("err %v, want ErrAuthFailed (535)", err)
		}
		if strings.Contains(err.Error(), "not-the-password") {
			t.Fatalf("the password is in the error: %v", err)
		}
		t.Logf("%v", err)
	})

	t.Run("wrong token", func(t *testing.T) {
		a := submitAccount(d, d.newUser(), ImplicitTLS)
		a.Auth, a.Password = AuthOAuthBearer, nil
		a.Token = func(context.Context) (string, error) { return "psc-not-a-token", nil }
		err := sendReceipt(t, a, r)
		if !errors.Is(err, ErrAuthFailed) || !strings.Contains(err.Error(), "token status") || strings.Contains(err.Error(), "psc-not-a-token") {
			t.Fatalf("err %v, want ErrAuthFailed with the token status", err)
		}
	})
	if got := sink.Mails(); len(got) != sent {
		t.Fatalf("sink holds %d messages after the refusals, want %d", len(got), sent)
	}
}

// TestDovecotReceiptRefusals: no receipt over plaintext, to a server of
// another CA, nor to one that does not offer STARTTLS.
func TestDovecotReceiptRefusals(t *testing.T) {
	d, sink := startSubmission(t, mailtest.Options{})
	r := app.Receipt{Message: app.Message{Ref: app.MessageRef{MessageID: "a@labo"}, NotifyTo: "labo@x.fr"}, Outcome: app.OutcomeFiled}

	t.Run("plaintext", func(t *testing.T) {
		for _, sec := range []Security{"", "plain", "none"} {
			a := submitAccount(d, d.newUser(), ImplicitTLS)
			a.Submission.Security = sec
			if _, err := NewReceiptSender(a, nil); !errors.Is(err, ErrPlaintext) {
				t.Fatalf("%q: err %v, want ErrPlaintext", sec, err)
			}
			if _, err := a.dialSubmission(context.Background()); !errors.Is(err, ErrPlaintext) {
				t.Fatalf("%q: dial err %v, want ErrPlaintext", sec, err)
			}
		}
		a := submitAccount(d, d.newUser(), ImplicitTLS)
		a.Submission = nil
		if _, err := NewReceiptSender(a, nil); !errors.Is(err, ErrNoSubmission) {
			t.Fatalf("no submission: err %v", err)
		}
	})

	t.Run("wrong CA", func(t *testing.T) {
		for _, sec := range []Security{ImplicitTLS, StartTLS} {
			a := submitAccount(d, d.newUser(), sec)
			a.RootCAs = d.OtherRoots
			err := sendReceipt(t, a, r)
			if !errors.Is(err, app.ErrAccessDenied) || !strings.Contains(err.Error(), "not trusted") {
				t.Fatalf("%s: err %v, want a trust error", sec, err)
			}
		}
	})

	t.Run("STARTTLS stripped", func(t *testing.T) {
		// A real SMTP server offering AUTH PLAIN in clear, without
		// STARTTLS: nothing but EHLO is sent to it.
		plain := mailtest.StartSink(t, mailtest.SinkOptions{Password: mailtest.Password})
		host, port, _ := net.SplitHostPort(plain.Addr)
		a := submitAccount(d, d.newUser(), StartTLS)
		a.Submission.Host = host
		a.Submission.Port, _ = strconv.Atoi(port)
		a.RootCAs = nil
		if err := sendReceipt(t, a, r); !errors.Is(err, ErrNoStartTLS) {
			t.Fatalf("err %v, want ErrNoStartTLS", err)
		}
		if plain.Auths() != 0 || len(plain.Mails()) != 0 {
			t.Fatalf("the stripped server got %d AUTH and %d messages", plain.Auths(), len(plain.Mails()))
		}
		// Implicit TLS to it fails in the handshake.
		a.Submission.Security = ImplicitTLS
		if err := sendReceipt(t, a, r); err == nil || plain.Auths() != 0 {
			t.Fatalf("implicit TLS to a plain server: err %v, AUTH %d", err, plain.Auths())
		}
	})

	if n := len(sink.Mails()); n != 0 {
		t.Fatalf("the relay got %d messages", n)
	}
}

// stallingSMTP is an SMTP peer that greets (implicit TLS with the
// harness's test CA when tlsOn, else in clear, offering STARTTLS) and then
// reads and never answers.
func stallingSMTP(t *testing.T, tlsOn bool) (port int, a Account) {
	t.Helper()
	certPEM, keyPEM, _, roots, err := mailtest.TestCA("Stalling SMTP CA")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if tlsOn {
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}})
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.WriteString(c, "220 stall ESMTP\r\n")
				br := bufio.NewReader(c)
				for {
					if _, err := br.ReadString('\n'); err != nil {
						return
					}
				}
			}()
		}
	}()
	port = ln.Addr().(*net.TCPAddr).Port
	sec := StartTLS
	if tlsOn {
		sec = ImplicitTLS
	}
	a = Account{Name: "dr@c.fr", Host: "localhost", Security: ImplicitTLS, RootCAs: roots, Username: "dr@c.fr",
		Password: []byte("x"), Submission: &Submission{Host: "localhost", Port: port, Security: sec}}
	return port, a
}

// TestSubmitBounded: a submission server that stops answering does not
// hang the import: the caller's cancel, its deadline and the dial timeout
// end the sending, as errors of kind app.ErrOffline.
func TestSubmitBounded(t *testing.T) {
	r := app.Receipt{Message: app.Message{Ref: app.MessageRef{MessageID: "a@labo"}, NotifyTo: "labo@x.fr"}, Outcome: app.OutcomeFiled}
	for _, tc := range []struct {
		name  string
		tls   bool
		stop  string // "cancel", "deadline" or "timeout"
		want  error
		limit time.Duration
	}{
		{"implicit, cancel", true, "cancel", context.Canceled, 5 * time.Second},
		{"implicit, deadline", true, "deadline", context.DeadlineExceeded, 5 * time.Second},
		{"implicit, dial timeout", true, "timeout", app.ErrOffline, 5 * time.Second},
		{"starttls, cancel", false, "cancel", context.Canceled, 5 * time.Second},
		{"starttls, dial timeout", false, "timeout", app.ErrOffline, 5 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, a := stallingSMTP(t, tc.tls)
			a.DialTimeout = time.Minute
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			switch tc.stop {
			case "cancel":
				time.AfterFunc(300*time.Millisecond, cancel)
			case "deadline":
				ctx, cancel = context.WithTimeout(ctx, 300*time.Millisecond)
				defer cancel()
			case "timeout":
				a.DialTimeout = 300 * time.Millisecond
			}
			rs, err := NewReceiptSender(a, nil)
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			start := time.Now()
			go func() { done <- rs.SendReceipt(ctx, r) }()
			select {
			case err := <-done:
				if !errors.Is(err, tc.want) || !errors.Is(err, app.ErrOffline) {
					t.Fatalf("err %v, want %v and ErrOffline", err, tc.want)
				}
				t.Logf("after %v: %v", time.Since(start).Round(time.Millisecond), err)
			case <-time.After(tc.limit):
				t.Fatalf("still sending after %v", tc.limit)
			}
		})
	}
}

// TestDovecotImportReceipts: ImportMail over IMAP with read receipts on
// sends, through Dovecot's submission service, exactly one receipt per
// message that asks for one (an error one for the manual queue), none for
// a message whose Disposition-Notification-To differs from its
// Return-Path (noted instead), none when the setting is off, and none
// again when the messages come back.
func TestDovecotImportReceipts(t *testing.T) {
	d, sink := startSubmission(t, mailtest.Options{})
	p := testPatient(t, "p1", "2800175123456")
	stranger := testPatient(t, "p2", "1750299123456")
	const labo = "labo@labo-x.mssante.fr"

	t.Run("off", func(t *testing.T) {
		u := d.newUser()
		d.deliver(t, u, "INBOX", askingMail(t, "101@labo", p, labo, labo))
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		sum, err := Import(ctx, apptest.NewMailStore(p), Config{Accounts: []Account{submitAccount(d, u, StartTLS)}, Demo: true})
		if err != nil || sum.Filed != 1 || sum.Receipts != 0 {
			t.Fatalf("summary %+v, err %v", sum, err)
		}
		if n := len(sink.Wait(1, 500*time.Millisecond)); n != 0 {
			t.Fatalf("%d receipts sent with the setting off", n)
		}
	})

	t.Run("on", func(t *testing.T) {
		u := d.newUser()
		for _, raw := range [][]byte{
			askingMail(t, "201@labo", p, labo, labo),                 // filed: success receipt
			askingMail(t, "202@labo", p, "", ""),                     // no request
			askingMail(t, "203@labo", p, "other@elsewhere.fr", labo), // loop rule: a person decides
			askingMail(t, "204@labo", stranger, labo, "<"+labo+">"),  // 902: error receipt
		} {
			d.deliver(t, u, "INBOX", raw)
		}
		store := apptest.NewMailStore(p)
		cfg := Config{Accounts: []Account{submitAccount(d, u, StartTLS)}, Demo: true, ReadReceipts: true}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		sum, err := Import(ctx, store, cfg)
		if err != nil || sum.Filed != 3 || sum.Manual != 1 || sum.Receipts != 2 {
			t.Fatalf("summary %+v, err %v\n%s", sum, err, d.Log())
		}
		got := sink.Wait(2, 10*time.Second)
		if len(got) != 2 {
			t.Fatalf("sink holds %d receipts, want 2", len(got))
		}
		want := map[string]string{
			"<201@labo>": "automatic-action/MDN-sent-automatically; processed",
			"<204@labo>": "automatic-action/MDN-sent-automatically; processed/Error: 902^Identifiant patient inconnu",
		}
		for _, env := range got {
			mdn := parseMDN(t, env.Data)
			id := mdn.dn.Get("Original-Message-ID")
			if w, ok := want[id]; !ok || mdn.disposition[0] != w || len(env.To) != 1 || env.To[0] != labo {
				t.Fatalf("receipt for %s: Disposition %q to %v", id, mdn.disposition[0], env.To)
			}
			delete(want, id)
		}
		var loop int
		for _, n := range sum.Notes {
			if strings.Contains(n.Reason, "differs from Return-Path") {
				loop++
			}
		}
		if loop != 1 {
			t.Fatalf("notes %+v, want one for the loop rule", sum.Notes)
		}
		// The same messages again, under a new UIDVALIDITY (the
		// mailbox recreated): duplicates, no second receipt.
		if _, err := d.Doveadm("mailbox", "update", "-u", u, "--uid-validity", "4242", "INBOX"); err != nil {
			t.Fatal(err)
		}
		sum, err = Import(ctx, store, cfg)
		if err != nil || sum.Receipts != 0 || sum.Duplicates != 4 {
			t.Fatalf("re-import summary %+v, err %v", sum, err)
		}
		if n := len(sink.Wait(3, 500*time.Millisecond)); n != 2 {
			t.Fatalf("sink holds %d receipts after the re-import, want 2", n)
		}
	})
}

// TestSubmitStartTLSInjection: clear-text bytes pipelined after the
// answer to STARTTLS (a man in the middle answering in advance) are
// refused, not read as if they came over TLS.
func TestSubmitStartTLSInjection(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.WriteString(c, "220 mitm ESMTP\r\n")
		br := bufio.NewReader(c)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			switch {
			case strings.HasPrefix(line, "EHLO"):
				io.WriteString(c, "250-mitm\r\n250-STARTTLS\r\n250 AUTH PLAIN\r\n")
			case strings.HasPrefix(line, "STARTTLS"):
				io.WriteString(c, "220 go ahead\r\n250-injected\r\n250 AUTH PLAIN\r\n")
			}
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	p, _ := strconv.Atoi(port)
	a := Account{Name: "dr@c.fr", Host: "localhost", Security: ImplicitTLS, Username: "dr@c.fr", Password: []byte("x"),
		DialTimeout: 2 * time.Second, Submission: &Submission{Host: "127.0.0.1", Port: p, Security: StartTLS}}
	_, err = a.dialSubmission(context.Background())
	if !errors.Is(err, app.ErrAccessDenied) || !strings.Contains(err.Error(), "in clear") {
		t.Fatalf("err %v, want the injection refused", err)
	}
}
