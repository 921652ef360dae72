//go:build linux

package mailbox

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/apptest"
	"github.com/carnetdesk/carnet/sync/mailbox/mailtest"
)

// startVariant starts a Dovecot of one auth variant for one test (stopped
// at its end). It skips like startDovecot.
func startVariant(t *testing.T, o mailtest.Options) *dovecot {
	t.Helper()
	mailtest.Require(t)
	if testing.Short() {
		t.Skip("-short: skipping the Dovecot integration test")
	}
	d := &dovecot{Server: mailtest.StartDovecotOptions(t, o)}
	// Runs before the harness's Stop (cleanups are LIFO): the log is still there.
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("CARNET_DOVECOT_LOG") == "1" {
			t.Logf("dovecot.log:\n%s", d.Log())
		}
	})
	return d
}

// certAccount returns an account of user authenticating with a TLS client
// certificate only (no password).
func certAccount(d *dovecot, user string, sec Security, cert tls.Certificate) Account {
	a := d.account(user, sec)
	a.Password = nil
	a.ClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil }
	return a
}

// dialBounded dials within a context timeout and fails the test if the
// dial does not return by then (a hung AUTHENTICATE).
func dialBounded(t *testing.T, a Account, limit time.Duration) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		c, err := a.dial(ctx, nil)
		if c != nil {
			c.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		t.Fatalf("dial (%s) still running after %v", a.Auth, limit)
		return nil
	}
}

// TestDovecotExternal: SASL EXTERNAL with a TLS client certificate (the
// CPS card stand-in, reference §4.7), the username being the certificate
// CN (the mailbox address).
func TestDovecotExternal(t *testing.T) {
	d := startVariant(t, mailtest.Options{External: true})

	t.Run("import", func(t *testing.T) {
		for _, sec := range []Security{ImplicitTLS, StartTLS} {
			u := d.newUser()
			cert, err := d.ClientCert(u)
			if err != nil {
				t.Fatal(err)
			}
			p := testPatient(t, "p1", "2800175123456")
			d.deliver(t, u, "INBOX", xdmMail(t, "ext-"+string(sec)+"@labo", cdaDoc{ID: "1.2.250.1.999.40", Patient: p}, xdmOpts{}))
			store := apptest.NewMailStore(p)
			// Auth left to Auto: a certificate and AUTH=EXTERNAL choose EXTERNAL.
			sum := runImport(t, store, certAccount(d, u, sec, cert))
			if sum.Filed != 1 {
				t.Fatalf("%s: summary %+v\n%s", sec, sum, d.Log())
			}
			if _, ok := store.Document(p.ID, "1.2.250.1.999.40"); !ok {
				t.Fatalf("%s: document not filed", sec)
			}
		}
	})

	t.Run("explicit", func(t *testing.T) {
		u := d.newUser()
		cert, err := d.ClientCert(u)
		if err != nil {
			t.Fatal(err)
		}
		a := certAccount(d, u, ImplicitTLS, cert)
		a.Auth = AuthExternal
		if err := dialBounded(t, a, 10*time.Second); err != nil {
			t.Fatalf("%v\n%s", err, d.Log())
		}
	})

	t.Run("other CA refused", func(t *testing.T) {
		other, err := mailtest.NewClientCA("Not IGC-Santé client CA")
		if err != nil {
			t.Fatal(err)
		}
		u := d.newUser()
		cert, err := other.Issue(u)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range []AuthMethod{AuthAuto, AuthExternal} {
			a := certAccount(d, u, ImplicitTLS, cert)
			a.Auth = m
			err := dialBounded(t, a, 10*time.Second)
			if !errors.Is(err, ErrAuthFailed) || !errors.Is(err, app.ErrCredential) || !strings.Contains(err.Error(), "EXTERNAL refused [AUTHENTICATIONFAILED]") {
				t.Fatalf("%q: err %v, want ErrAuthFailed naming EXTERNAL\n%s", m, err, d.Log())
			}
			t.Logf("%q: %v", m, err)
		}
	})

	t.Run("no certificate", func(t *testing.T) {
		a := d.account(d.newUser(), ImplicitTLS)
		a.Password = nil
		a.Auth = AuthExternal
		if err := dialBounded(t, a, 10*time.Second); !errors.Is(err, ErrAuthFailed) {
			t.Fatalf("err %v, want ErrAuthFailed", err)
		}
		a.Auth = AuthAuto
		if err := dialBounded(t, a, 10*time.Second); !errors.Is(err, ErrNoAuth) {
			t.Fatalf("auto without certificate nor password: %v, want ErrNoAuth", err)
		}
	})

	t.Run("password still works", func(t *testing.T) {
		// The client CA adds a mechanism; PLAIN without a certificate is
		// unaffected (auth_ssl_require_client_cert is off).
		if err := dialBounded(t, d.account(d.newUser(), ImplicitTLS), 10*time.Second); err != nil {
			t.Fatal(err)
		}
	})
}

// TestDovecotOAuth: OAUTHBEARER and XOAUTH2 with an access token that
// Dovecot's oauth2 passdb validates against an introspection endpoint
// served here on loopback (reference §4.6).
func TestDovecotOAuth(t *testing.T) {
	mailtest.Require(t)
	in := &mailtest.Introspector{}
	hs := httptest.NewServer(in)
	t.Cleanup(hs.Close)
	d := startVariant(t, mailtest.Options{OAuth2IntrospectionURL: hs.URL + "/introspect"})
	tokenAccount := func(user, tok string, m AuthMethod) Account {
		a := d.account(user, ImplicitTLS)
		a.Password = nil
		a.Auth = m
		a.Token = func(context.Context) (string, error) { return tok, nil }
		return a
	}

	t.Run("oauthbearer import", func(t *testing.T) {
		u := d.newUser()
		p := testPatient(t, "p1", "2800175123456")
		d.deliver(t, u, "INBOX", xdmMail(t, "oauth@labo", cdaDoc{ID: "1.2.250.1.999.41", Patient: p}, xdmOpts{}))
		store := apptest.NewMailStore(p)
		before := in.Calls()
		// Auth left to Auto: a token and AUTH=OAUTHBEARER choose OAUTHBEARER.
		sum := runImport(t, store, tokenAccount(u, in.Issue(u), AuthAuto))
		if sum.Filed != 1 {
			t.Fatalf("summary %+v\n%s", sum, d.Log())
		}
		if in.Calls() == before {
			t.Fatal("the token was never introspected")
		}
	})

	for _, m := range []AuthMethod{AuthOAuthBearer, AuthXOAUTH2} {
		t.Run(string(m), func(t *testing.T) {
			u := d.newUser()
			if err := dialBounded(t, tokenAccount(u, in.Issue(u), m), 10*time.Second); err != nil {
				t.Fatalf("%v\n%s", err, d.Log())
			}
			// A wrong token, a revoked one and another user's token: the
			// server's error challenge is answered and the command fails
			// cleanly, well before the context deadline.
			revoked := in.Issue(u)
			in.Revoke(revoked)
			for name, tok := range map[string]string{"wrong": "psc-not-a-token", "revoked": revoked, "other user's": in.Issue(d.newUser())} {
				start := time.Now()
				err := dialBounded(t, tokenAccount(u, tok, m), 10*time.Second)
				if !errors.Is(err, ErrAuthFailed) || !errors.Is(err, app.ErrCredential) ||
					!strings.Contains(err.Error(), string(m)+" refused [AUTHENTICATIONFAILED]") || !strings.Contains(err.Error(), "token status") {
					t.Fatalf("%s token: err %v, want ErrAuthFailed naming %s and the token status\n%s", name, err, m, d.Log())
				}
				if strings.Contains(err.Error(), tok) {
					t.Fatalf("the token is in the error: %v", err)
				}
				if el := time.Since(start); el > 5*time.Second {
					t.Fatalf("%s token: refused after %v", name, el)
				}
				t.Logf("%s token: %v", name, err)
			}
		})
	}

	t.Run("password is no token", func(t *testing.T) {
		// Only the oauth2 passdb judges a token: the mailbox password sent
		// as a token does not fall through to the passwd-file passdb.
		for _, m := range []AuthMethod{AuthOAuthBearer, AuthXOAUTH2} {
			err := dialBounded(t, tokenAccount(d.newUser(), mailtest.Password, m), 10*time.Second)
			if !errors.Is(err, ErrAuthFailed) {
				t.Fatalf("%s: err %v, want ErrAuthFailed\n%s", m, err, d.Log())
			}
		}
	})

	t.Run("introspection down", func(t *testing.T) {
		// The token may be valid: not a credential error but a server one.
		in.SetDown(true)
		defer in.SetDown(false)
		for _, m := range []AuthMethod{AuthOAuthBearer, AuthXOAUTH2} {
			u := d.newUser()
			err := dialBounded(t, tokenAccount(u, in.Issue(u), m), 10*time.Second)
			if !errors.Is(err, ErrAuthUnavailable) || !errors.Is(err, app.ErrServer) || errors.Is(err, app.ErrCredential) {
				t.Fatalf("%s: err %v, want ErrAuthUnavailable\n%s", m, err, d.Log())
			}
			t.Logf("%s: %v", m, err)
		}
	})

	t.Run("token source error", func(t *testing.T) {
		a := tokenAccount(d.newUser(), "", AuthOAuthBearer)
		a.Token = func(context.Context) (string, error) { return "", errors.New("PSC session expired") }
		err := dialBounded(t, a, 10*time.Second)
		if !errors.Is(err, app.ErrCredential) || !strings.Contains(err.Error(), "PSC session expired") {
			t.Fatalf("err %v", err)
		}
	})
}

// stallingServer is a TLS IMAP server (test CA of the harness) that sends
// greeting (when not empty), answers CAPABILITY, then reads and never
// answers anything else: an AUTHENTICATE left without a reply.
func stallingServer(t *testing.T, greeting string) (port int, roots *x509.CertPool) {
	t.Helper()
	certPEM, keyPEM, _, roots, err := mailtest.TestCA("Stalling test CA")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
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
				if greeting != "" {
					io.WriteString(c, greeting)
				}
				br := bufio.NewReader(c)
				for {
					line, err := br.ReadString('\n')
					if err != nil {
						return
					}
					if tag, rest, _ := strings.Cut(line, " "); strings.HasPrefix(strings.ToUpper(rest), "CAPABILITY") {
						io.WriteString(c, "* CAPABILITY IMAP4rev1 AUTH=PLAIN AUTH=OAUTHBEARER\r\n"+tag+" OK done\r\n")
					}
				}
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port, roots
}

// TestAuthStallBounded: a server that accepts the connection and then
// never greets, or never answers AUTHENTICATE, does not hang the dial: the
// context and the dial timeout bound the greeting and the authentication.
func TestAuthStallBounded(t *testing.T) {
	for _, tc := range []struct {
		name, greeting string
		ctxLimit, dial time.Duration
		want           error
	}{
		{"no greeting, dial timeout", "", time.Minute, 500 * time.Millisecond, app.ErrOffline},
		{"no greeting, context", "", 500 * time.Millisecond, time.Minute, context.DeadlineExceeded},
		{"no auth answer, dial timeout", "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN AUTH=OAUTHBEARER] ready\r\n", time.Minute, 500 * time.Millisecond, app.ErrOffline},
		{"no auth answer, context", "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN AUTH=OAUTHBEARER] ready\r\n", 500 * time.Millisecond, time.Minute, context.DeadlineExceeded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			port, roots := stallingServer(t, tc.greeting)
			a := Account{Name: "x", Host: "localhost", Port: port, Security: ImplicitTLS, RootCAs: roots,
				Username: "x", Token: func(context.Context) (string, error) { return "tok", nil }, DialTimeout: tc.dial}
			ctx, cancel := context.WithTimeout(context.Background(), tc.ctxLimit)
			defer cancel()
			done := make(chan error, 1)
			start := time.Now()
			go func() {
				c, err := a.dial(ctx, nil)
				if c != nil {
					c.Close()
				}
				done <- err
			}()
			select {
			case err := <-done:
				if !errors.Is(err, tc.want) {
					t.Fatalf("err %v, want %v", err, tc.want)
				}
				t.Logf("after %v: %v", time.Since(start).Round(time.Millisecond), err)
			case <-time.After(2 * time.Minute): // a hang guard, not a deadline
				t.Fatal("dial still blocked after 2 minutes")
			}
		})
	}
}
