package mailbox

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-message/charset"
	"github.com/emersion/go-sasl"

	"github.com/carnetdesk/carnet/app"
)

// Security is how the connection to the server is protected. There is no
// plaintext choice: credentials and health data never travel in clear, not
// even on loopback.
type Security string

// The security modes.
const (
	ImplicitTLS Security = "tls"      // TLS from the first byte (port 993)
	StartTLS    Security = "starttls" // STARTTLS, required to be advertised (port 143)
)

// AuthMethod is a SASL mechanism (or IMAP LOGIN).
type AuthMethod string

// The authentication methods. Auto chooses from the server's capabilities
// and the credentials the account has.
const (
	AuthAuto        AuthMethod = ""
	AuthPlain       AuthMethod = "PLAIN"
	AuthLogin       AuthMethod = "LOGIN"
	AuthExternal    AuthMethod = "EXTERNAL"    // TLS client certificate (CPS card)
	AuthOAuthBearer AuthMethod = "OAUTHBEARER" // RFC 7628, Pro Santé Connect token
	AuthXOAUTH2     AuthMethod = "XOAUTH2"
)

// MarkMode is how imported messages are marked on the server.
type MarkMode string

// The mark modes.
const (
	MarkAuto    MarkMode = ""        // keyword where permitted, else MOVE when a folder is configured
	MarkKeyword MarkMode = "keyword" // keyword only
	MarkMove    MarkMode = "move"    // MOVE to ImportedFolder only
)

// Account is one secure mailbox (BAL) and how to reach it. Secrets
// (Password, the token source, the client certificate) come from the vault
// or the card; they are never logged.
type Account struct {
	Name     string   // the BAL address; the app.MailboxState account
	Host     string   // server name, checked against its certificate
	Port     int      // 993 for ImplicitTLS, 143 for StartTLS when 0
	Security Security // ImplicitTLS or StartTLS; anything else is refused
	// RootCAs is the trust store (the IGC-Santé roots in production, the
	// test CA in tests); the system pool when nil.
	RootCAs *x509.CertPool
	// ClientCertificate provides the TLS client certificate (CPS card) for
	// mutual TLS and SASL EXTERNAL; nil for none.
	ClientCertificate func(*tls.CertificateRequestInfo) (*tls.Certificate, error)

	Auth     AuthMethod
	Username string
	Password []byte                                    // PLAIN or LOGIN
	Token    func(ctx context.Context) (string, error) // OAUTHBEARER or XOAUTH2 access token

	Mailbox        string   // the folder to import from; "INBOX" when empty
	Mark           MarkMode // how to mark imported messages
	ImportedFolder string   // MOVE target; empty: never move
	Limits         Limits
	Demo           bool          // accept test and demo INS domains
	DialTimeout    time.Duration // 15 s when 0
	// Submission is the account's SMTP submission server, with the same
	// credentials, authentication, RootCAs and client certificate as the
	// IMAP side; nil: no SMTP, read receipts cannot be sent.
	Submission *Submission
	// ReadReceipts sends this account's read receipts (see
	// Config.ReadReceipts, which turns them on for every account).
	ReadReceipts bool
}

// Submission is the SMTP submission server of an account (MSSanté: STARTTLS on 587, or implicit TLS on 465), used only to send read receipts.
type Submission struct {
	Host     string
	Port     int      // 0: 465 for ImplicitTLS, 587 for StartTLS
	Security Security // ImplicitTLS or StartTLS; anything else is refused
}

func (a Account) mailbox() string {
	if a.Mailbox == "" {
		return "INBOX"
	}
	return a.Mailbox
}

func (a Account) address() string {
	port := a.Port
	if port == 0 {
		port = 993
		if a.Security == StartTLS {
			port = 143
		}
	}
	return net.JoinHostPort(a.Host, strconv.Itoa(port))
}

// Errors of the connection. They wrap an app error kind.
var (
	// ErrPlaintext: the account asks for an unprotected connection.
	ErrPlaintext = fmt.Errorf("mailbox: plaintext connection refused: %w", app.ErrInvalid)
	// ErrNoStartTLS: the server does not advertise STARTTLS (or it was
	// stripped on the way): the connection is refused before any
	// credential is sent.
	ErrNoStartTLS = fmt.Errorf("mailbox: server does not offer STARTTLS: %w", app.ErrAccessDenied)
	// ErrNoAuth: no authentication method fits the server and the account.
	ErrNoAuth = fmt.Errorf("mailbox: no usable authentication method: %w", app.ErrCredential)
	// ErrAuthFailed: the server refused the credentials.
	ErrAuthFailed = fmt.Errorf("mailbox: authentication failed: %w", app.ErrCredential)
	// ErrAuthUnavailable: the server could not check the credentials for
	// now (NO [UNAVAILABLE], e.g. its token introspection endpoint or its
	// directory is down): they may well be valid, try again later.
	ErrAuthUnavailable = fmt.Errorf("mailbox: authentication temporarily unavailable: %w", app.ErrServer)
)

// tlsConfig returns the TLS configuration: TLS 1.2 at least, host name
// verified against RootCAs, optional client certificate.
func (a Account) tlsConfig() *tls.Config {
	return &tls.Config{
		ServerName:           a.Host,
		RootCAs:              a.RootCAs,
		MinVersion:           tls.VersionTLS12,
		GetClientCertificate: a.ClientCertificate,
	}
}

// netDialer checks that a connection of the account (IMAP or SMTP) is
// protected and has a host, and returns the dialer with the account's
// timeout (15 s when unset). op names the side in the error.
func (a Account) netDialer(sec Security, host, op string) (*net.Dialer, error) {
	if sec != ImplicitTLS && sec != StartTLS {
		return nil, ErrPlaintext
	}
	if host == "" {
		return nil, fmt.Errorf("%s: no host: %w", op, app.ErrInvalid)
	}
	timeout := a.DialTimeout
	if timeout <= 0 {
		timeout = 15 * time.Second
	}
	return &net.Dialer{Timeout: timeout}, nil
}

// dial connects and authenticates. handler receives unilateral data.
func (a Account) dial(ctx context.Context, handler *imapclient.UnilateralDataHandler) (*imapclient.Client, error) {
	dialer, err := a.netDialer(a.Security, a.Host, "mailbox")
	if err != nil {
		return nil, err
	}
	timeout := dialer.Timeout
	opts := &imapclient.Options{
		TLSConfig:             a.tlsConfig(),
		WordDecoder:           &mime.WordDecoder{CharsetReader: charset.Reader},
		Dialer:                dialer,
		UnilateralDataHandler: handler,
	}
	switch a.Security {
	case ImplicitTLS:
		conn, err := (&tls.Dialer{NetDialer: dialer, Config: a.tlsConfig()}).DialContext(ctx, "tcp", a.address())
		if err != nil {
			return nil, connErr("connect", err)
		}
		bound := boundSetup(ctx, conn, timeout)
		return a.setup(ctx, imapclient.New(conn, opts), bound)
	case StartTLS:
		conn, err := dialer.DialContext(ctx, "tcp", a.address())
		if err != nil {
			return nil, connErr("connect", err)
		}
		replay, err := requireStartTLS(conn, timeout)
		if err != nil {
			conn.Close()
			return nil, err
		}
		bound := boundSetup(ctx, conn, timeout)
		c, err := imapclient.NewStartTLS(replay, opts)
		if err != nil {
			conn.Close()
			return nil, bound.err("starttls", err)
		}
		return a.setup(ctx, c, bound)
	}
	return nil, ErrPlaintext
}

// setupBound bounds what follows the connection (STARTTLS, greeting,
// authentication) by the dial timeout and by ctx: a server that accepts
// the connection and then stalls, or never answers AUTHENTICATE, must not
// hang the import. The connection is closed when the bound is reached
// (read deadlines would not do: the IMAP client sets its own).
type setupBound struct {
	ctx     context.Context // the caller's
	timeout time.Duration
	stop    func() bool
	cancel  context.CancelFunc
	fired   atomic.Bool
}

func boundSetup(ctx context.Context, conn net.Conn, timeout time.Duration) *setupBound {
	b := &setupBound{ctx: ctx, timeout: timeout}
	tctx, cancel := context.WithTimeout(ctx, timeout)
	b.cancel = cancel
	b.stop = context.AfterFunc(tctx, func() {
		b.fired.Store(true)
		_ = conn.Close()
	})
	return b
}

// lift ends the bound; it reports whether the bound was reached.
func (b *setupBound) lift() bool {
	fired := !b.stop()
	b.cancel()
	return fired || b.fired.Load()
}

// err is the error of step op: the end of the caller's context or the
// timeout when the bound was reached, else err (nil stays nil; a network
// error is wrapped by connErr, except for "authenticate", whose errors
// authenticate already built).
func (b *setupBound) err(op string, err error) error {
	if b.lift() {
		if b.ctx.Err() != nil {
			return fmt.Errorf("mailbox: %s: %w: %w", op, b.ctx.Err(), app.ErrOffline)
		}
		return fmt.Errorf("mailbox: %s: no answer from the server within %v: %w", op, b.timeout, app.ErrOffline)
	}
	if err == nil || op == "authenticate" {
		return err
	}
	return connErr(op, err)
}

// setup waits for the greeting and authenticates within the bound.
func (a Account) setup(ctx context.Context, c *imapclient.Client, bound *setupBound) (*imapclient.Client, error) {
	if err := c.WaitGreeting(); err != nil {
		c.Close()
		return nil, bound.err("greeting", err)
	}
	if err := a.authenticate(ctx, c); err != nil {
		c.Close()
		return nil, bound.err("authenticate", err)
	}
	if err := bound.err("authenticate", nil); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// connErr wraps a network or TLS failure. Certificate errors are
// credential/trust problems, the rest means the server cannot be reached.
func connErr(op string, err error) error {
	var ue x509.UnknownAuthorityError
	var he x509.HostnameError
	var ce x509.CertificateInvalidError
	var te *tls.CertificateVerificationError
	if errors.As(err, &ue) || errors.As(err, &he) || errors.As(err, &ce) || errors.As(err, &te) {
		return fmt.Errorf("mailbox: %s: server certificate not trusted: %v: %w", op, err, app.ErrAccessDenied)
	}
	return fmt.Errorf("mailbox: %s: %v: %w", op, err, app.ErrOffline)
}

// requireStartTLS reads the greeting and the capabilities on the clear
// connection, refuses a server that does not advertise STARTTLS (a
// stripping attack or a misconfigured server: no credential is ever sent),
// and returns a connection that replays the greeting to the IMAP client.
func requireStartTLS(conn net.Conn, timeout time.Duration) (net.Conn, error) {
	_ = conn.SetDeadline(time.Now().Add(timeout))
	defer conn.SetDeadline(time.Time{})
	br := bufio.NewReaderSize(conn, 4096)
	greeting, err := readLine(br)
	if err != nil {
		return nil, connErr("greeting", err)
	}
	up := strings.ToUpper(string(greeting))
	if !strings.HasPrefix(up, "* OK") {
		// PREAUTH on a clear connection, BYE, garbage: refuse.
		return nil, ErrNoStartTLS
	}
	caps := ""
	if i := strings.Index(up, "[CAPABILITY "); i >= 0 {
		caps = up[i:]
		if j := strings.IndexByte(caps, ']'); j > 0 {
			caps = caps[:j]
		}
	} else {
		if _, err := io.WriteString(conn, "C0 CAPABILITY\r\n"); err != nil {
			return nil, connErr("capability", err)
		}
		for n := 0; ; n++ {
			line, err := readLine(br)
			if err != nil || n > 32 {
				return nil, connErr("capability", errors.New("no capability answer"))
			}
			u := strings.ToUpper(string(line))
			if strings.HasPrefix(u, "* CAPABILITY ") {
				caps = u
			}
			if strings.HasPrefix(u, "C0 ") {
				break
			}
		}
	}
	if !hasAtom(caps, "STARTTLS") {
		return nil, ErrNoStartTLS
	}
	return &replayConn{Conn: conn, r: io.MultiReader(bytes.NewReader(greeting), br)}, nil
}

// hasAtom reports whether the space-separated list s holds atom.
func hasAtom(s, atom string) bool {
	for _, f := range strings.Fields(strings.Trim(s, "[]")) {
		if f == atom {
			return true
		}
	}
	return false
}

// readLine reads one CRLF-terminated line (at most 8 KiB), CRLF included.
func readLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	for len(line) < 8192 {
		frag, err := br.ReadSlice('\n')
		line = append(line, frag...)
		if err == nil {
			return line, nil
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return nil, err
		}
	}
	return nil, errors.New("line too long")
}

// replayConn is a connection whose first bytes are replayed from a buffer.
type replayConn struct {
	net.Conn
	r io.Reader
}

func (c *replayConn) Read(b []byte) (int, error) { return c.r.Read(b) }

// authenticate chooses and runs the authentication.
func (a Account) authenticate(ctx context.Context, c *imapclient.Client) error {
	caps := c.Caps()
	if c.State() == imap.ConnStateAuthenticated {
		return nil // PREAUTH over TLS (certificate-authenticated)
	}
	has := func(m AuthMethod) bool { return caps.Has(imap.AuthCap(string(m))) }
	method, err := a.chooseAuth(has, !caps.Has(imap.CapLoginDisabled))
	if err != nil {
		return err
	}
	var challenge *string // the OAuth error challenge, for the error text
	if method == AuthLogin {
		err = c.Login(a.Username, string(a.Password)).Wait() // IMAP LOGIN, not SASL
	} else {
		var client sasl.Client
		if client, challenge, err = a.saslClient(ctx, method, a.address()); err != nil {
			return err
		}
		err = c.Authenticate(client)
	}
	if err != nil {
		var ie *imap.Error
		if errors.As(err, &ie) {
			return authRefused(method, ie, challenge)
		}
		return connErr("authenticate", err)
	}
	return nil
}

// chooseAuth returns the configured mechanism, or, when automatic, the
// first the server offers (has) and the account can use: the client
// certificate, a token, then the password (LOGIN when loginOK).
func (a Account) chooseAuth(has func(AuthMethod) bool, loginOK bool) (AuthMethod, error) {
	if a.Auth != AuthAuto {
		return a.Auth, nil
	}
	switch {
	case a.ClientCertificate != nil && has(AuthExternal):
		return AuthExternal, nil
	case a.Token != nil && has(AuthOAuthBearer):
		return AuthOAuthBearer, nil
	case a.Token != nil && has(AuthXOAUTH2):
		return AuthXOAUTH2, nil
	case len(a.Password) > 0 && has(AuthPlain):
		return AuthPlain, nil
	case len(a.Password) > 0 && loginOK:
		return AuthLogin, nil
	}
	return "", ErrNoAuth
}

// saslClient builds the SASL client of method for the server at addr
// (host:port, for OAUTHBEARER), fetching the token for the OAuth
// mechanisms; challenge receives the OAuth error challenge, for the error
// text.
func (a Account) saslClient(ctx context.Context, method AuthMethod, addr string) (client sasl.Client, challenge *string, err error) {
	switch method {
	case AuthPlain:
		return sasl.NewPlainClient("", a.Username, string(a.Password)), nil, nil
	case AuthLogin:
		return sasl.NewLoginClient(a.Username, string(a.Password)), nil, nil
	case AuthExternal:
		return sasl.NewExternalClient(""), nil, nil
	case AuthOAuthBearer, AuthXOAUTH2:
		if a.Token == nil {
			return nil, nil, ErrNoAuth
		}
		tok, err := a.Token(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("mailbox: access token: %v: %w", err, app.ErrCredential)
		}
		if method == AuthOAuthBearer {
			host, port, _ := net.SplitHostPort(addr)
			p, _ := strconv.Atoi(port)
			ob := &oauthBearer{Client: sasl.NewOAuthBearerClient(&sasl.OAuthBearerOptions{
				Username: a.Username, Token: tok, Host: host, Port: p})}
			return ob, &ob.challenge, nil
		}
		x := &xoauth2{user: a.Username, token: tok}
		return x, &x.challenge, nil
	}
	return nil, nil, ErrNoAuth
}

// authRefused is the error of a NO (or BAD) answer to the authentication:
// ErrAuthFailed, or ErrAuthUnavailable when the server says it could not
// check the credentials. The text names the mechanism and carries the
// server's answer and, for OAuth, the status of its error challenge
// (never a credential).
func authRefused(method AuthMethod, ie *imap.Error, challenge *string) error {
	kind := ErrAuthFailed
	if ie.Code == imap.ResponseCodeUnavailable {
		kind = ErrAuthUnavailable
	}
	detail := fmt.Sprintf("%s refused", method)
	if ie.Code != "" {
		detail += fmt.Sprintf(" [%s]", ie.Code)
	}
	if ie.Text != "" {
		detail += fmt.Sprintf(" %q", ie.Text)
	}
	if challenge != nil && *challenge != "" {
		if st := challengeStatus(*challenge); st != "" {
			detail += fmt.Sprintf(", token status %q", st)
		}
	}
	return fmt.Errorf("%w (%s)", kind, detail)
}

// challengeStatus returns the status of an OAuth error challenge (RFC 7628
// JSON), "" when it has none.
func challengeStatus(challenge string) string {
	var ch struct {
		Status string `json:"status"`
	}
	if json.Unmarshal([]byte(challenge), &ch) != nil {
		return ""
	}
	return ch.Status
}

// oauthBearer wraps go-sasl's OAUTHBEARER client: on the server's JSON
// error challenge, go-sasl returns an error and go-imap leaves the
// AUTHENTICATE command waiting for a reply, so the connection hangs until
// the server times out (with go-imap v2.0.0-beta.8 against Dovecot 2.3 the
// command fails instead with go-sasl's error, which would read as a
// network failure). RFC 7628 §3.2.3: answer the challenge with 0x01; the
// server then fails the command cleanly (NO [AUTHENTICATIONFAILED]);
// TestDovecotOAuth checks both.
type oauthBearer struct {
	sasl.Client
	challenge string // the server's error challenge (JSON), for diagnostics
}

// Next implements sasl.Client.
func (o *oauthBearer) Next(challenge []byte) ([]byte, error) {
	o.challenge = string(challenge)
	return []byte{0x01}, nil
}

// xoauth2 is the XOAUTH2 mechanism (not in go-sasl). Its error challenge
// is answered with 0x01 too: an empty reply is encoded "=", which Dovecot
// rejects as invalid base64.
type xoauth2 struct {
	user, token string
	challenge   string // the server's error challenge (JSON), for diagnostics
}

// Start implements sasl.Client.
func (x *xoauth2) Start() (string, []byte, error) {
	return "XOAUTH2", []byte("user=" + x.user + "\x01auth=Bearer " + x.token + "\x01\x01"), nil
}

// Next implements sasl.Client.
func (x *xoauth2) Next(challenge []byte) ([]byte, error) {
	x.challenge = string(challenge)
	return []byte{0x01}, nil
}
