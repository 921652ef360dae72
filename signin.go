package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/crypto/credential"
	"github.com/carnetdesk/carnet/sync/dmp"
)

// signer opens the practitioner's credential with a PIN and builds the
// session with the central record service. It keeps the credential open
// until Close (a card session).
type signer struct {
	// config returns the configuration at sign-in time: the settings
	// screen may have changed the service or the credential since start.
	config func() Config
	log    *slog.Logger
	svc    *app.Service

	mu   sync.Mutex // guards cred
	cred *credential.Credential

	// signedIn, when set, runs after each successful sign-in (main wakes
	// the sync engine with it).
	signedIn func()
}

// SignIn opens the credential with pin (wiped) and starts the session.
func (s *signer) SignIn(ctx context.Context, pin []byte) error {
	defer app.Wipe(pin)
	if len(pin) == 0 {
		return fmt.Errorf("sign in: %w", &app.PINError{Empty: true})
	}
	cfg := s.config()
	if !cfg.Configured() {
		return fmt.Errorf("sign in: the central service or the credential is not set: %w", app.ErrNotConfigured)
	}
	cred, err := openCredential(cfg, pin)
	if err != nil {
		return err
	}
	sess, err := newSession(cfg, cred, s.log)
	if err != nil {
		cred.Close()
		return err
	}
	s.mu.Lock()
	old := s.cred
	s.cred = cred
	s.mu.Unlock()
	if old != nil {
		old.Close()
	}
	s.svc.SignIn(sess)
	if s.signedIn != nil {
		s.signedIn()
	}
	return nil
}

// Certificate returns the certificate of the open credential (EXTERNAL
// authentication to a mailbox), or nil when none is open.
func (s *signer) Certificate() *tls.Certificate {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cred == nil {
		return nil
	}
	c := s.cred.Certificate()
	return &c
}

// Close ends the card session.
func (s *signer) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cred != nil {
		s.cred.Close()
		s.cred = nil
	}
}

// openCredential opens the configured PKCS#11 token or PKCS#12 file. Its
// errors wrap app.ErrCredential; they never contain the PIN.
func openCredential(cfg Config, pin []byte) (*credential.Credential, error) {
	var (
		cred *credential.Credential
		err  error
	)
	switch {
	case cfg.Credential.PKCS11Module != "":
		cred, err = credential.OpenPKCS11(cfg.Credential.PKCS11Module, cfg.Credential.PKCS11Slot, pin)
	case cfg.Credential.PKCS12File != "":
		cred, err = credential.OpenPKCS12(cfg.Credential.PKCS12File, pin)
	default:
		return nil, fmt.Errorf("sign in: no credential configured: %w", app.ErrCredential)
	}
	if err != nil {
		if errors.Is(err, credential.ErrFileMode) {
			return nil, fmt.Errorf("sign in: %w: %w", app.ErrInsecureFile, err)
		}
		if errors.Is(err, credential.ErrNoModule) {
			return nil, fmt.Errorf("sign in: %w: %w", app.ErrCardModule, err)
		}
		if pe := pinError(err, pin); pe != nil {
			return nil, fmt.Errorf("sign in: %w", pe)
		}
		return nil, fmt.Errorf("sign in: %w: %w", app.ErrCredential, err)
	}
	return cred, nil
}

// pinError says what the card or file said of the PIN: locked, wrong with
// one try left (the token's final-try flag), wrong, or missing; nil when
// the error is not about the PIN.
func pinError(err error, pin []byte) *app.PINError {
	switch {
	case errors.Is(err, credential.ErrPINLocked):
		return &app.PINError{Locked: true}
	case len(pin) == 0 && errors.Is(err, credential.ErrPIN):
		return &app.PINError{Empty: true}
	case errors.Is(err, credential.ErrPINFinalTry):
		return &app.PINError{TriesLeft: 1}
	case errors.Is(err, credential.ErrPIN):
		return &app.PINError{}
	}
	return nil
}

// newSession builds the central-service client with the credential and
// names the practitioner from its certificate.
func newSession(cfg Config, cred *credential.Credential, log *slog.Logger) (app.Session, error) {
	var roots *x509.CertPool
	if cfg.DMP.CAFile != "" {
		pem, err := os.ReadFile(cfg.DMP.CAFile)
		if err != nil {
			return app.Session{}, fmt.Errorf("sign in: trusted authorities: %w", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return app.Session{}, fmt.Errorf("sign in: %s holds no PEM certificate: %w", cfg.DMP.CAFile, app.ErrInvalid)
		}
	}
	if cfg.DMP.Protocol == ProtocolXDS {
		return newXDSSession(cfg, cred, roots)
	}
	if cfg.DMP.Protocol != "" && cfg.DMP.Protocol != ProtocolFHIR {
		return app.Session{}, fmt.Errorf("sign in: [dmp] protocol %q is neither %q nor %q: %w", cfg.DMP.Protocol, ProtocolXDS, ProtocolFHIR, app.ErrInvalid)
	}
	client, err := dmp.New(dmp.Config{
		BaseURL:         cfg.DMP.URL,
		Certificate:     cred.Certificate(),
		Signer:          cred.Signer(),
		RootCAs:         roots,
		MaxTLSVersion:   cred.MaxTLSVersion(),
		SoftwareName:    "Carnet",
		SoftwareVersion: Version,
		Logger:          log,
	})
	if err != nil {
		return app.Session{}, fmt.Errorf("sign in: %w", err)
	}
	return app.Session{Practitioner: practitioner(cred.Identity()), Records: client}, nil
}

// practitioner converts the credential's identity into the domain's.
func practitioner(id credential.Identity) app.Practitioner {
	return app.Practitioner{
		RPPS:       id.RPPS,
		Name:       id.Name,
		GivenName:  id.GivenName,
		FamilyName: id.Surname,
		Profession: app.Code(id.Profession),
		Specialty:  app.Code(id.Specialty),
		Structure:  app.Structure(id.Structure),
		Roles:      append([]string(nil), id.Roles...),
	}
}

// fixedConfig is the config function of a signer whose configuration does
// not change (the command line).
func fixedConfig(cfg Config) func() Config { return func() Config { return cfg } }

// configOf is the configuration of a connection (the [sync] table empty).
func configOf(conn app.Connection) Config {
	var c Config
	c.setConnection(conn)
	return c
}
