package mailbox

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"

	"github.com/carnetdesk/carnet/app"
)

var _ app.MailboxOpener = Opener{}

// Opener opens the secure mailboxes of the connection; it implements
// app.MailboxOpener for the mail-import use case (app.Service.ImportMail).
type Opener struct {
	Demo bool         // accept the test and demo INS domains
	Log  *slog.Logger // slog.Default() when nil
}

// OpenMailbox implements app.MailboxOpener: a Client for acct (it connects
// on first use), authenticating with cred. The client reads cred's slices
// (never copied into strings it keeps) until it is closed.
func (o Opener) OpenMailbox(_ context.Context, m app.MailAccount, cred app.MailCredentials) (app.MailConnection, error) {
	acct, err := AccountOf(m, cred)
	if err != nil {
		return nil, err
	}
	acct.Demo = o.Demo
	cl, err := New(acct, o.Log)
	if err != nil {
		return nil, err
	}
	if acct.ReadReceipts && acct.Submission != nil {
		rs, err := NewReceiptSender(acct, o.Log)
		if err != nil {
			// A submission server that cannot be used: every receipt
			// fails with the reason, which the import notes.
			cl.receipts = failedSender{err}
		} else {
			cl.receipts = rs
		}
	}
	return cl, nil
}

// failedSender is the receipt sender of an account whose submission
// server cannot be used: it fails with the reason.
type failedSender struct{ err error }

// SendReceipt implements app.ReceiptSender.
func (f failedSender) SendReceipt(context.Context, app.Receipt) error { return f.err }

// AccountOf builds the adapter's account of m. cred.Secret is the
// password (plain, login, automatic) or the access token (oauthbearer),
// used in place (the token is turned into a string only for the SASL
// exchange); cred.Certificate the client certificate for external.
func AccountOf(m app.MailAccount, cred app.MailCredentials) (Account, error) {
	a := Account{
		Name: m.Address, Host: m.Host, Port: m.Port, Username: m.Address,
		Mailbox: m.ImportedFolder(), Mark: MarkMode(m.Mark), ImportedFolder: m.MoveTo,
	}
	switch m.Security {
	case app.MailImplicitTLS:
		a.Security = ImplicitTLS
	case app.MailStartTLS:
		a.Security = StartTLS
	}
	if m.CAFile != "" {
		pem, err := os.ReadFile(m.CAFile)
		if err != nil {
			return a, fmt.Errorf("mailbox %s: trusted authorities: %w", m.Address, err)
		}
		a.RootCAs = x509.NewCertPool()
		if !a.RootCAs.AppendCertsFromPEM(pem) {
			return a, fmt.Errorf("mailbox %s: %s holds no PEM certificate: %w", m.Address, m.CAFile, app.ErrInvalid)
		}
	}
	secret := cred.Secret
	switch m.Auth {
	case app.MailAuthPlain:
		a.Auth, a.Password = AuthPlain, secret
	case app.MailAuthLogin:
		a.Auth, a.Password = AuthLogin, secret
	case app.MailAuthOAuthBearer:
		a.Auth, a.Token = AuthOAuthBearer, func(context.Context) (string, error) { return string(secret), nil }
	case app.MailAuthExternal:
		a.Auth = AuthExternal
	default:
		a.Password = secret
	}
	switch cert := cred.Certificate.(type) {
	case nil:
	case *tls.Certificate:
		if cert != nil {
			a.ClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil }
		}
	default:
		return a, fmt.Errorf("mailbox %s: client certificate of type %T: %w", m.Address, cred.Certificate, app.ErrInvalid)
	}
	if m.ReadReceipts && m.SMTPHost != "" {
		sec := StartTLS
		if m.SMTPSecurity == app.MailImplicitTLS {
			sec = ImplicitTLS
		}
		a.Submission = &Submission{Host: m.SMTPHost, Port: m.SMTPPort, Security: sec}
		a.ReadReceipts = true
	}
	return a, nil
}
