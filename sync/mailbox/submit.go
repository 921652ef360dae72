package mailbox

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/carnetdesk/carnet/app"
)

// This file is the SMTP side of an account: the submission client that
// sends read receipts. Its rules are those of the IMAP side: TLS only
// (implicit, or STARTTLS that the server must advertise, checked before
// anything else is sent), the server certificate verified against the
// account's RootCAs, the account's authentication mechanism and
// credentials, and every step bounded by the dial timeout and by ctx.

// ErrNoSubmission: the account has no submission server (Account.Submission
// is nil): read receipts cannot be sent.
var ErrNoSubmission = fmt.Errorf("mailbox: no submission server configured: %w", app.ErrInvalid)

// submitTimeout bounds a whole submission (connection, authentication,
// transaction): a receipt is small, and the import waits for it.
const submitTimeout = 2 * time.Minute

// ehloName is the name Carnet gives in EHLO: nothing of the workstation.
const ehloName = "localhost"

// address returns host:port, with the default port of the security mode.
func (s Submission) address() string {
	port := s.Port
	if port == 0 {
		port = 465
		if s.Security == StartTLS {
			port = 587
		}
	}
	return net.JoinHostPort(s.Host, strconv.Itoa(port))
}

// submissionTLS is the TLS configuration of the submission server: that
// of the IMAP side with the submission host name.
func (a Account) submissionTLS() *tls.Config {
	cfg := a.tlsConfig()
	cfg.ServerName = a.Submission.Host
	return cfg
}

// smtpSession is a connected, authenticated SMTP client and the bound that
// closes its connection when ctx ends or the whole submission takes too
// long.
type smtpSession struct {
	c       *smtp.Client
	ctx     context.Context // the caller's
	timeout time.Duration
	stop    func() bool
	cancel  context.CancelFunc
	fired   atomic.Bool
}

// dialSubmission connects to the submission server and authenticates.
func (a Account) dialSubmission(ctx context.Context) (*smtpSession, error) {
	sub := a.Submission
	if sub == nil {
		return nil, ErrNoSubmission
	}
	dialer, err := a.netDialer(sub.Security, sub.Host, "mailbox: submit")
	if err != nil {
		return nil, err
	}
	timeout := dialer.Timeout
	var conn net.Conn
	switch sub.Security {
	case ImplicitTLS:
		c, err := (&tls.Dialer{NetDialer: dialer, Config: a.submissionTLS()}).DialContext(ctx, "tcp", sub.address())
		if err != nil {
			return nil, submitErr(ctx, "connect", err)
		}
		conn = c
	case StartTLS:
		c, err := dialer.DialContext(ctx, "tcp", sub.address())
		if err != nil {
			return nil, submitErr(ctx, "connect", err)
		}
		tc, err := smtpStartTLS(ctx, c, a.submissionTLS(), timeout)
		if err != nil {
			c.Close()
			return nil, err
		}
		conn = tc
	}
	s := &smtpSession{ctx: ctx, timeout: submitTimeout}
	tctx, cancel := context.WithTimeout(ctx, submitTimeout)
	s.cancel = cancel
	s.stop = context.AfterFunc(tctx, func() {
		s.fired.Store(true)
		_ = conn.Close()
	})
	s.c = smtp.NewClient(conn)
	// go-smtp sets a deadline per command: the dial timeout for each
	// answer, a minute for the answer to the end of the data.
	s.c.CommandTimeout, s.c.SubmissionTimeout = timeout, time.Minute
	if err := s.c.Hello(ehloName); err != nil {
		s.close()
		return nil, s.err("greeting", err)
	}
	if err := a.smtpAuth(ctx, s.c); err != nil {
		s.close()
		return nil, s.err("authenticate", err)
	}
	return s, nil
}

// close ends the session without QUIT.
func (s *smtpSession) close() {
	s.stop()
	s.cancel()
	_ = s.c.Close()
}

// quit ends the session politely.
func (s *smtpSession) quit() {
	_ = s.c.Quit()
	s.close()
}

// err is the error of step op: the end of ctx or the timeout when the
// bound closed the connection, else err classified (an error that is
// already one of the package's is kept as is).
func (s *smtpSession) err(op string, err error) error {
	if s.fired.Load() {
		if s.ctx.Err() != nil {
			return fmt.Errorf("mailbox: submit: %s: %w: %w", op, s.ctx.Err(), app.ErrOffline)
		}
		return fmt.Errorf("mailbox: submit: %s: not done within %v: %w", op, s.timeout, app.ErrOffline)
	}
	return submitErr(s.ctx, op, err)
}

// submitErr classifies an error of step op of a submission.
func submitErr(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	for _, known := range []error{ErrNoStartTLS, ErrNoAuth, ErrAuthFailed, ErrAuthUnavailable, ErrPlaintext} {
		if errors.Is(err, known) {
			return err
		}
	}
	if ctx.Err() != nil {
		return fmt.Errorf("mailbox: submit: %s: %w: %w", op, ctx.Err(), app.ErrOffline)
	}
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		kind := app.ErrServer
		if se.Code >= 500 && op == "recipient" {
			kind = app.ErrInvalid
		}
		return fmt.Errorf("mailbox: submit: %s: server answered %d %s: %w", op, se.Code, oneLine(se.Message), kind)
	}
	return connErr("submit: "+op, err)
}

// oneLine bounds a server's answer for an error text.
func oneLine(s string) string { return cleanText(s, 200) }

// smtpStartTLS reads the greeting and the EHLO answer on the clear
// connection, refuses a server that does not advertise STARTTLS (a
// stripping attack or a misconfigured server: nothing else is ever sent in
// clear), upgrades the connection, verifies the certificate, and returns a
// connection that replays the greeting to the SMTP client (which then says
// EHLO again, over TLS, as RFC 3207 requires).
func smtpStartTLS(ctx context.Context, conn net.Conn, cfg *tls.Config, timeout time.Duration) (net.Conn, error) {
	_ = conn.SetDeadline(time.Now().Add(timeout))
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	br := bufio.NewReaderSize(conn, 4096)
	fail := func(op string, err error) (net.Conn, error) { return nil, submitErr(ctx, op, err) }
	greeting, code, _, err := readReply(br)
	if err != nil {
		return fail("greeting", err)
	}
	if code != 220 {
		return nil, fmt.Errorf("mailbox: submit: greeting: server answered %d: %w", code, app.ErrServer)
	}
	if _, err := io.WriteString(conn, "EHLO "+ehloName+"\r\n"); err != nil {
		return fail("ehlo", err)
	}
	_, code, lines, err := readReply(br)
	if err != nil {
		return fail("ehlo", err)
	}
	if code != 250 || !hasExtension(lines, "STARTTLS") {
		return nil, ErrNoStartTLS
	}
	if _, err := io.WriteString(conn, "STARTTLS\r\n"); err != nil {
		return fail("starttls", err)
	}
	if _, code, _, err = readReply(br); err != nil {
		return fail("starttls", err)
	}
	if code != 220 {
		return nil, ErrNoStartTLS
	}
	if br.Buffered() > 0 {
		// Clear-text bytes after the STARTTLS answer would be read as if
		// they came over TLS (response injection): refuse.
		return nil, fmt.Errorf("mailbox: submit: starttls: data sent in clear after the answer: %w", app.ErrAccessDenied)
	}
	tc := tls.Client(conn, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		return fail("starttls", err)
	}
	_ = conn.SetDeadline(time.Time{})
	return &replayConn{Conn: tc, r: io.MultiReader(bytes.NewReader(greeting), tc)}, nil
}

// readReply reads one SMTP reply (one or more lines "250-…", "250 …"; at
// most 64 lines of 8 KiB): its raw bytes, its code, and the text of its
// lines.
func readReply(br *bufio.Reader) (raw []byte, code int, lines []string, err error) {
	for n := 0; n < 64; n++ {
		line, err := readLine(br)
		if err != nil {
			return nil, 0, nil, err
		}
		raw = append(raw, line...)
		l := strings.TrimRight(string(line), "\r\n")
		if len(l) < 3 {
			return nil, 0, nil, errors.New("malformed reply")
		}
		c, err := strconv.Atoi(l[:3])
		if err != nil || (code != 0 && c != code) {
			return nil, 0, nil, errors.New("malformed reply")
		}
		code = c
		lines = append(lines, strings.TrimSpace(l[3:]))
		if len(l) == 3 || l[3] == ' ' {
			return raw, code, lines, nil
		}
		if l[3] != '-' {
			return nil, 0, nil, errors.New("malformed reply")
		}
	}
	return nil, 0, nil, errors.New("reply too long")
}

// hasExtension reports whether an EHLO answer (its lines, the first being
// the greeting) lists the extension ext.
func hasExtension(lines []string, ext string) bool {
	for i, l := range lines {
		if i == 0 {
			continue
		}
		l = strings.TrimPrefix(strings.TrimPrefix(l, "-"), " ")
		if f := strings.Fields(l); len(f) > 0 && strings.EqualFold(f[0], ext) {
			return true
		}
	}
	return false
}

// smtpAuth chooses and runs the authentication, as the IMAP side does:
// the account's mechanism, or (AuthAuto) EXTERNAL with a client
// certificate, OAUTHBEARER or XOAUTH2 with a token, PLAIN or LOGIN with a
// password, among those the server lists. The connection is TLS: the
// caller built it.
func (a Account) smtpAuth(ctx context.Context, c *smtp.Client) error {
	ok, list := c.Extension("AUTH")
	if !ok {
		return fmt.Errorf("%w (the submission server offers no AUTH)", ErrNoAuth)
	}
	has := func(m AuthMethod) bool { return hasAtomFold(list, string(m)) }
	method, err := a.chooseAuth(has, has(AuthLogin))
	if err != nil {
		return err
	}
	client, challenge, err := a.saslClient(ctx, method, a.Submission.address())
	if err != nil {
		return err
	}
	if err := c.Auth(client); err != nil {
		var se *smtp.SMTPError
		if errors.As(err, &se) {
			return smtpAuthRefused(method, se, challenge)
		}
		return err
	}
	return nil
}

// hasAtomFold reports whether the space-separated list s holds atom,
// compared case-insensitively.
func hasAtomFold(s, atom string) bool {
	for _, f := range strings.Fields(s) {
		if strings.EqualFold(f, atom) {
			return true
		}
	}
	return false
}

// smtpAuthRefused is the error of a refused SMTP authentication:
// ErrAuthUnavailable for a temporary failure (4xx, such as "454 4.7.0
// Temporary authentication failure"), else ErrAuthFailed. The text names
// the mechanism and carries the server's answer and, for OAuth, the status
// of its error challenge (never a credential).
func smtpAuthRefused(method AuthMethod, se *smtp.SMTPError, challenge *string) error {
	kind := ErrAuthFailed
	if se.Code >= 400 && se.Code < 500 {
		kind = ErrAuthUnavailable
	}
	detail := fmt.Sprintf("%s refused: %d", method, se.Code)
	if ec := se.EnhancedCode; ec != smtp.NoEnhancedCode && ec != (smtp.EnhancedCode{}) {
		detail += fmt.Sprintf(" %d.%d.%d", ec[0], ec[1], ec[2])
	}
	if se.Message != "" {
		detail += fmt.Sprintf(" %q", oneLine(se.Message))
	}
	if challenge != nil && *challenge != "" {
		if st := challengeStatus(*challenge); st != "" {
			detail += fmt.Sprintf(", token status %q", st)
		}
	}
	return fmt.Errorf("%w (%s)", kind, detail)
}

// ReceiptSender sends read receipts through an account's submission
// server: one SMTP session per receipt, with the null reverse path
// (RFC 8098 §2.1: no bounce of a receipt), or the account's address when
// the server refuses it. It implements app.ReceiptSender and is safe for
// concurrent use.
type ReceiptSender struct {
	acct Account
	from string // the BAL address: From and Final-Recipient
	log  *slog.Logger
	// MaxAttach bounds the original documents re-attached to a receipt
	// (20 MiB when 0; negative: never re-attach). A receipt over the
	// server's SIZE goes without them.
	MaxAttach int64
	now       func() time.Time
}

var _ app.ReceiptSender = (*ReceiptSender)(nil)

// NewReceiptSender returns the read-receipt sender of acct. It fails when
// acct has no submission server (ErrNoSubmission), a plaintext one
// (ErrPlaintext), or no mail address (Name, else Username). log may be
// nil.
func NewReceiptSender(acct Account, log *slog.Logger) (*ReceiptSender, error) {
	if acct.Submission == nil {
		return nil, ErrNoSubmission
	}
	if acct.Submission.Security != ImplicitTLS && acct.Submission.Security != StartTLS {
		return nil, ErrPlaintext
	}
	if acct.Submission.Host == "" {
		return nil, fmt.Errorf("mailbox: submit: no host: %w", app.ErrInvalid)
	}
	from, ok := cleanAddress(acct.Name)
	if !ok {
		if from, ok = cleanAddress(acct.Username); !ok {
			return nil, fmt.Errorf("mailbox: submit: the account has no mail address: %w", app.ErrInvalid)
		}
	}
	if log == nil {
		log = slog.Default()
	}
	return &ReceiptSender{acct: acct, from: from, log: log, now: time.Now}, nil
}

// SendReceipt implements app.ReceiptSender: it builds the MDN (mdn.go)
// and submits it to the message's Disposition-Notification-To. It does
// not check the RFC 8098 loop rule: ImportMail does (app.ReceiptWanted),
// and a person may send a receipt the rule held back (Receipt.Manual).
func (s *ReceiptSender) SendReceipt(ctx context.Context, r app.Receipt) error {
	to, ok := cleanAddress(r.Message.NotifyTo)
	if !ok {
		return ErrBadRecipient
	}
	in := mdnInput{Receipt: r, From: s.from, Date: s.now(), MessageID: newMessageID(s.from), MaxAttach: s.MaxAttach}
	msg, err := buildMDN(in)
	if err != nil {
		return err
	}
	sess, err := s.acct.dialSubmission(ctx)
	if err != nil {
		return err
	}
	if max, ok := sess.c.MaxMessageSize(); ok && max > 0 && len(msg) > max && in.MaxAttach >= 0 {
		in.MaxAttach = -1 // without the original documents
		if msg, err = buildMDN(in); err != nil {
			sess.close()
			return err
		}
	}
	if err := sess.send(s.from, to, msg); err != nil {
		sess.close()
		return err
	}
	sess.quit()
	code := 0
	if r.Failed() {
		code, _ = ansError(r.Outcome, r.Reason)
	}
	s.log.Info("mailbox: read receipt sent", "uid", r.Message.Ref.UID, "failed", r.Failed(), "code", code, "bytes", len(msg))
	return nil
}

// send runs one transaction: MAIL FROM:<> (or from, when the server
// refuses the null reverse path), RCPT TO:<to>, DATA.
func (s *smtpSession) send(from, to string, msg []byte) error {
	opts := &smtp.MailOptions{Size: int64(len(msg))}
	if err := s.c.Mail("", opts); err != nil {
		var se *smtp.SMTPError
		if !errors.As(err, &se) || se.Code < 500 {
			return s.err("sender", err)
		}
		if err := s.c.Reset(); err != nil {
			return s.err("reset", err)
		}
		if err := s.c.Mail(from, opts); err != nil {
			return s.err("sender", err)
		}
	}
	if err := s.c.Rcpt(to, nil); err != nil {
		return s.err("recipient", err)
	}
	w, err := s.c.Data()
	if err != nil {
		return s.err("data", err)
	}
	if _, err := w.Write(msg); err != nil {
		_ = w.Close()
		return s.err("data", err)
	}
	if err := w.Close(); err != nil {
		return s.err("data", err)
	}
	return nil
}
