package app

import (
	"context"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
)

// Connection is how this desk reaches the outside world: the central
// record service, the practitioner's credential, the structure the
// documents written here belong to, and the secure mailboxes (BAL) whose
// reports are imported. It holds no secret: the PIN is asked for at each
// sign-in, mailbox passwords are sealed in the vault (SetMailPassword). A
// clinic's IT may deploy it as a file; the settings screen edits it
// (ConnectionStore).
type Connection struct {
	ServiceURL   string // FHIR base of the central record service (https)
	ServiceCA    string // PEM file of the authorities trusted for it; system roots when empty
	Credential   CredentialConfig
	FacilityType string // TRE_R02 code of the structure (SA04 when empty)
	Mailboxes    []MailAccount
	// How the central service is spoken to (connection_dmp.go): the
	// protocol, the authentication mode and the VIHF's signing file.
	Protocol, AuthMode, VIHFFile string
}

// CredentialKind is where the practitioner's certificate and key live.
type CredentialKind string

// The credential kinds.
const (
	CredentialNone CredentialKind = ""       // no credential: Carnet works on its vault alone
	CredentialCard CredentialKind = "pkcs11" // a CPS card (or any PKCS#11 token)
	CredentialFile CredentialKind = "pkcs12" // a PKCS#12 file (software certificate)
)

// CredentialConfig locates the practitioner's credential.
type CredentialConfig struct {
	Kind   CredentialKind
	Module string // PKCS#11 module (CredentialCard)
	Slot   string // slot number or token label (CredentialCard); the first token when empty
	File   string // PKCS#12 file (CredentialFile)
}

// MailSecurity is how a mail connection is protected. There is no
// plaintext choice.
type MailSecurity string

// The mail securities.
const (
	MailImplicitTLS MailSecurity = "implicit" // TLS from the first byte (IMAPS 993, SMTPS 465)
	MailStartTLS    MailSecurity = "starttls" // STARTTLS, required (IMAP 143, submission 587)
)

// MailAuth is how Carnet authenticates to a mailbox.
type MailAuth string

// The mailbox authentications.
const (
	MailAuthAuto        MailAuth = ""            // chosen from the server's capabilities
	MailAuthPlain       MailAuth = "plain"       // password, SASL PLAIN over TLS
	MailAuthLogin       MailAuth = "login"       // password, LOGIN over TLS
	MailAuthExternal    MailAuth = "external"    // the practitioner's client certificate
	MailAuthOAuthBearer MailAuth = "oauthbearer" // an OAuth access token
)

// The post-import marks of a message on the server.
const (
	MarkKeyword = "keyword" // the $CarnetImported keyword (the default)
	MarkMove    = "move"    // MOVE to a folder
)

// MailAccount is one secure mailbox (BAL) whose reports are imported.
type MailAccount struct {
	Address  string       // the BAL address, also the login
	Host     string       // IMAP server
	Port     int          // 993 (implicit) or 143 (starttls) when 0
	Security MailSecurity // no plaintext
	CAFile   string       // PEM file of the authorities trusted for the servers; system roots when empty
	Auth     MailAuth
	Folder   string // the folder imported; INBOX when empty
	Mark     string // MarkKeyword (or empty) or MarkMove
	MoveTo   string // the folder of MarkMove

	// SMTP submission, used only for read receipts.
	SMTPHost     string
	SMTPPort     int          // 465 (implicit) or 587 (starttls) when 0
	SMTPSecurity MailSecurity // MailStartTLS when empty
	// ReadReceipts sends a read receipt (RFC 8098) when a message asks for
	// one. Off by default; needs SMTPHost.
	ReadReceipts bool
}

// ImportedFolder returns the folder imported: Folder, or INBOX.
func (m MailAccount) ImportedFolder() string {
	if m.Folder == "" {
		return "INBOX"
	}
	return m.Folder
}

// NeedsPassword reports whether the account needs a password or token
// (everything but EXTERNAL).
func (m MailAccount) NeedsPassword() bool { return m.Auth != MailAuthExternal }

// Configured reports whether the central service and a credential are set:
// without them Carnet works on its vault alone.
func (c Connection) Configured() bool {
	return c.ServiceURL != "" && c.Credential.Kind != CredentialNone
}

// Validate checks a connection before it is saved; the error names the
// first field at fault and wraps ErrInvalid.
func (c Connection) Validate() error {
	if c.ServiceURL != "" {
		if err := checkServiceURL(c.ServiceURL); err != nil {
			return err
		}
	}
	switch c.Credential.Kind {
	case CredentialNone:
	case CredentialCard:
		if strings.TrimSpace(c.Credential.Module) == "" {
			return refuse(FieldModule, "connection: a card credential needs its PKCS#11 module")
		}
	case CredentialFile:
		if strings.TrimSpace(c.Credential.File) == "" {
			return refuse(FieldP12, "connection: a certificate-file credential needs its PKCS#12 file")
		}
	default:
		return refuse(FieldCredential, "connection: credential kind %q: want pkcs11 or pkcs12", string(c.Credential.Kind))
	}
	if err := c.validateDMP(); err != nil {
		return err
	}
	if f := c.FacilityType; f != "" && !isFacilityType(f) {
		return refuse(FieldFacility, "connection: facility type %q is not a TRE_R02 code (SA04…)", f)
	}
	seen := map[string]bool{}
	for i, m := range c.Mailboxes {
		if err := m.Validate(); err != nil {
			return fmt.Errorf("mailbox %d: %w", i+1, err)
		}
		key := strings.ToLower(m.Address) + "\x00" + m.ImportedFolder()
		if seen[key] {
			return refuse(FieldTwice, "mailbox %d: the same mailbox is listed twice", i+1)
		}
		seen[key] = true
	}
	return nil
}

// checkServiceURL accepts an https URL with a host (http only on loopback,
// for a local test service).
func checkServiceURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return refuse(FieldServiceURL, "connection: service URL %q: want https://host/path", s)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if ip, err := netip.ParseAddr(u.Hostname()); err != nil || !ip.IsLoopback() {
			return refuse(FieldHTTPS, "connection: service URL %q: https is required", s)
		}
	default:
		return refuse(FieldServiceURL, "connection: service URL %q: want https://host/path", s)
	}
	return nil
}

// isFacilityType reports whether s looks like a TRE_R02 code: two upper
// case letters and two digits.
func isFacilityType(s string) bool {
	return len(s) == 4 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z' &&
		s[2] >= '0' && s[2] <= '9' && s[3] >= '0' && s[3] <= '9'
}

// Validate checks one mailbox account; the error wraps ErrInvalid.
func (m MailAccount) Validate() error {
	switch {
	case strings.TrimSpace(m.Host) == "":
		return refuse(FieldHost, "host is required")
	case strings.ContainsAny(m.Host, " /:@"):
		return refuse(FieldHost, "host %q: a host name, without scheme or port", m.Host)
	case !strings.Contains(m.Address, "@") || strings.ContainsAny(m.Address, " \r\n<>"):
		return refuse(FieldAddress, "address %q: the BAL address (name@domain) is required", m.Address)
	case m.Port < 0 || m.Port > 65535:
		return refuse(FieldPort, "port %d out of range", m.Port)
	case m.SMTPPort < 0 || m.SMTPPort > 65535:
		return refuse(FieldPort, "SMTP port %d out of range", m.SMTPPort)
	case strings.ContainsAny(m.SMTPHost, " /:@"):
		return refuse(FieldHost, "SMTP host %q: a host name, without scheme or port", m.SMTPHost)
	}
	for _, s := range []struct {
		what string
		sec  MailSecurity
		need bool
	}{{"security", m.Security, true}, {"SMTP security", m.SMTPSecurity, false}} {
		switch s.sec {
		case MailImplicitTLS, MailStartTLS:
		case "":
			if s.need {
				return refuse(FieldSecurity, "%s is required (implicit or starttls)", s.what)
			}
		default:
			return refuse(FieldSecurity, "%s %q: want implicit or starttls (plaintext is refused)", s.what, string(s.sec))
		}
	}
	switch m.Auth {
	case MailAuthAuto, MailAuthPlain, MailAuthLogin, MailAuthExternal, MailAuthOAuthBearer:
	default:
		return refuse(FieldAuth, "auth %q: want plain, login, external or oauthbearer", string(m.Auth))
	}
	switch m.Mark {
	case "", MarkKeyword:
	case MarkMove:
		if m.MoveTo == "" {
			return refuse(FieldFolder, "mark %q needs a folder", MarkMove)
		}
	default:
		return refuse(FieldMark, "mark %q: want keyword or move", m.Mark)
	}
	if m.ReadReceipts && strings.TrimSpace(m.SMTPHost) == "" {
		return refuse(FieldSMTP, "read receipts need the SMTP submission server")
	}
	return nil
}

// ConnectionField is the field of a connection that Validate refused, so
// that the settings screen says which one in the user's language.
type ConnectionField string

// The fields Validate refuses.
const (
	FieldServiceURL ConnectionField = "service-url" // not an https://host/path URL
	FieldHTTPS      ConnectionField = "https"       // plain http to a remote service
	FieldModule     ConnectionField = "module"      // a card without its PKCS#11 module
	FieldP12        ConnectionField = "p12"         // a certificate file credential without its file
	FieldCredential ConnectionField = "credential"  // an unknown credential kind
	FieldFacility   ConnectionField = "facility"    // not a TRE_R02 code
	FieldTwice      ConnectionField = "twice"       // the same mailbox listed twice
	FieldHost       ConnectionField = "host"        // a mailbox's IMAP or SMTP host
	FieldAddress    ConnectionField = "address"     // a mailbox's BAL address
	FieldPort       ConnectionField = "port"        // an IMAP or SMTP port
	FieldSecurity   ConnectionField = "security"    // plaintext, or no security chosen
	FieldAuth       ConnectionField = "auth"        // an unknown authentication
	FieldMark       ConnectionField = "mark"        // an unknown post-import mark
	FieldFolder     ConnectionField = "folder"      // MOVE without its folder
	FieldSMTP       ConnectionField = "smtp"        // read receipts without a submission server
)

// ConnectionError is a connection Validate refused: the field at fault and
// what is wrong with it (English, for logs and the command line). It wraps
// ErrInvalid.
type ConnectionError struct {
	Field  ConnectionField
	Detail string
}

// Error implements error.
func (e *ConnectionError) Error() string { return e.Detail + ": " + ErrInvalid.Error() }

// Unwrap returns ErrInvalid.
func (e *ConnectionError) Unwrap() error { return ErrInvalid }

// refuse returns the ConnectionError of field.
func refuse(field ConnectionField, format string, args ...any) error {
	return &ConnectionError{Field: field, Detail: fmt.Sprintf(format, args...)}
}

// ConnectionStore keeps the connection (implemented by the main package
// over config.toml, and in memory in demo mode).
type ConnectionStore interface {
	// Connection returns the connection; the zero one when none is set.
	Connection(ctx context.Context) (Connection, error)
	// SaveConnection replaces the connection.
	SaveConnection(ctx context.Context, c Connection) error
}
