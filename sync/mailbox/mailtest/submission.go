package mailtest

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// submissionLogin is the binary of Dovecot's submission service.
const submissionLogin = "/usr/lib/dovecot/submission-login"

// SubmissionAvailable reports why Dovecot's submission service cannot be
// used here, nil when it can.
func SubmissionAvailable() error {
	if err := Available(); err != nil {
		return err
	}
	if _, err := os.Stat(submissionLogin); err != nil {
		return errors.New("dovecot submission not installed (apt-get install dovecot-submissiond)")
	}
	return nil
}

// RequireSubmission skips the test when Dovecot's submission service is
// absent, or fails it with CARNET_REQUIRE_DOVECOT=1 (make test sets it).
func RequireSubmission(t TB) {
	t.Helper()
	if err := SubmissionAvailable(); err != nil {
		if os.Getenv("CARNET_REQUIRE_DOVECOT") == "1" {
			t.Fatalf("CARNET_REQUIRE_DOVECOT=1 but %v", err)
		}
		t.Skip(err.Error() + ": skipping the SMTP submission integration test")
	}
}

// submissionConf picks the submission ports and returns the configuration
// of the service relaying to relay ("host:port").
func (s *Server) submissionConf(relay string) (string, error) {
	host, port, err := net.SplitHostPort(relay)
	if err != nil {
		return "", fmt.Errorf("mailtest: submission relay %q: %w", relay, err)
	}
	if s.Submission, err = freePort(); err != nil {
		return "", err
	}
	if s.Submissions, err = freePort(); err != nil {
		return "", err
	}
	return fmt.Sprintf(`hostname = localhost
submission_relay_host = %s
submission_relay_port = %s
submission_relay_ssl = no
submission_relay_trusted = no
service submission-login {
  chroot =
  inet_listener submission {
    address = 127.0.0.1
    port = %d
  }
  inet_listener submissions {
    address = 127.0.0.1
    port = %d
    ssl = yes
  }
}
`, host, port, s.Submission, s.Submissions), nil
}

// SubmissionAddr is the implicit-TLS submission address ("" without
// Options.SubmissionRelay).
func (s *Server) SubmissionAddr() string {
	if s.Submissions == 0 {
		return ""
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Submissions))
}

// Mail is a message a Sink received, with its envelope.
type Mail struct {
	From string   // MAIL FROM, "" for the null sender
	To   []string // RCPT TO
	Data []byte   // the message as received (CRLF line ends)
	Auth string   // the user authenticated on the sink ("" without)
}

// SinkOptions selects a Sink variant. The zero value is the relay target
// of Dovecot's submission service: plain SMTP on loopback, no TLS, no
// authentication.
type SinkOptions struct {
	// TLS, when set, makes the sink a TLS server (see Implicit).
	TLS *tls.Config
	// Implicit (with TLS) speaks TLS from the first byte; without it the
	// sink offers STARTTLS.
	Implicit bool
	// Password, when not empty, makes the sink offer AUTH PLAIN (any
	// user, this password) and require it.
	Password string
}

// Sink is an SMTP server on loopback that keeps what it receives: the
// relay target of Dovecot's submission service, or a bare SMTP peer
// (without STARTTLS, to check that a client refuses it).
type Sink struct {
	Addr string // "127.0.0.1:port"
	srv  *smtp.Server
	ln   net.Listener

	mu    sync.Mutex
	mails []Mail
	auths int // AUTH commands received
	got   chan struct{}
}

// StartSink starts a sink for one test (closed at its end).
func StartSink(t TB, o SinkOptions) *Sink {
	t.Helper()
	s, err := NewSink(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// NewSink starts a sink; the caller closes it.
func NewSink(o SinkOptions) (*Sink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Sink{Addr: ln.Addr().String(), got: make(chan struct{}, 64)}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &sinkSession{sink: s, password: o.Password}, nil
	}))
	srv.Domain = "sink.localhost"
	srv.ReadTimeout, srv.WriteTimeout = 30*time.Second, 30*time.Second
	srv.MaxMessageBytes = 64 << 20
	srv.AllowInsecureAuth = o.Password != "" && o.TLS == nil
	if o.TLS != nil {
		srv.TLSConfig = o.TLS
		if o.Implicit {
			ln = tls.NewListener(ln, o.TLS)
		}
	}
	s.srv, s.ln = srv, ln
	go func() { _ = srv.Serve(ln) }()
	return s, nil
}

// Close stops the sink.
func (s *Sink) Close() error { return s.srv.Close() }

// Mails returns what the sink received so far.
func (s *Sink) Mails() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Mail(nil), s.mails...)
}

// Auths is how many AUTH commands the sink received.
func (s *Sink) Auths() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.auths
}

// Wait waits until the sink holds n messages, or d has passed; it returns
// what it holds.
func (s *Sink) Wait(n int, d time.Duration) []Mail {
	deadline := time.After(d)
	for {
		if m := s.Mails(); len(m) >= n {
			return m
		}
		select {
		case <-s.got:
		case <-deadline:
			return s.Mails()
		}
	}
}

// sinkSession is one SMTP session of a Sink.
type sinkSession struct {
	sink     *Sink
	password string
	user     string
	cur      Mail
}

// AuthMechanisms implements smtp.AuthSession.
func (ss *sinkSession) AuthMechanisms() []string {
	if ss.password == "" {
		return nil
	}
	return []string{sasl.Plain}
}

// Auth implements smtp.AuthSession.
func (ss *sinkSession) Auth(mech string) (sasl.Server, error) {
	ss.sink.mu.Lock()
	ss.sink.auths++
	ss.sink.mu.Unlock()
	if ss.password == "" || mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if password != ss.password {
			return smtp.ErrAuthFailed
		}
		ss.user = username
		return nil
	}), nil
}

// Mail implements smtp.Session.
func (ss *sinkSession) Mail(from string, _ *smtp.MailOptions) error {
	if ss.password != "" && ss.user == "" {
		return smtp.ErrAuthRequired
	}
	ss.cur = Mail{From: from, Auth: ss.user}
	return nil
}

// Rcpt implements smtp.Session.
func (ss *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.cur.To = append(ss.cur.To, to)
	return nil
}

// Data implements smtp.Session.
func (ss *sinkSession) Data(r io.Reader) error {
	var b bytes.Buffer
	if _, err := io.Copy(&b, r); err != nil {
		return err
	}
	m := ss.cur
	m.Data = b.Bytes()
	ss.sink.mu.Lock()
	ss.sink.mails = append(ss.sink.mails, m)
	ss.sink.mu.Unlock()
	select {
	case ss.sink.got <- struct{}{}:
	default:
	}
	return nil
}

// Reset implements smtp.Session.
func (ss *sinkSession) Reset() { ss.cur = Mail{Auth: ss.user} }

// Logout implements smtp.Session.
func (ss *sinkSession) Logout() error { return nil }
