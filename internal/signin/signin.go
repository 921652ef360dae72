// Package signin opens the practitioner's credential (a CPS card through
// PKCS#11, or a PKCS#12 file) with a PIN, classifies what went wrong
// (app.PINError: wrong, last try, locked, empty; app.ErrInsecureFile;
// app.ErrCredential) and builds the session with the central record
// service over the configured protocol (FHIR: sync/dmp; XDS.b/SOAP with
// VIHF: sync/dmp/xds). A Signer keeps the credential open until Close: a
// card session.
package signin

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
	"github.com/carnetdesk/carnet/internal/buildinfo"
	"github.com/carnetdesk/carnet/internal/config"
	"github.com/carnetdesk/carnet/sync/dmp"
)

// Signer opens the practitioner's credential with a PIN and builds the
// session with the central record service. It keeps the credential open
// until Close (a card session).
type Signer struct {
	// Config returns the configuration at sign-in time: the settings
	// screen may have changed the service or the credential since start.
	Config func() config.Config
	Log    *slog.Logger
	Svc    *app.Service // receives the session (Service.SignIn)

	mu   sync.Mutex // guards cred
	cred *credential.Credential

	// SignedIn, when set, runs after each successful sign-in (main wakes
	// the sync engine with it).
	SignedIn func()
}

// SignIn opens the credential with pin (wiped) and starts the session.
func (s *Signer) SignIn(ctx context.Context, pin []byte) error {
	defer app.Wipe(pin)
	if len(pin) == 0 {
		return fmt.Errorf("sign in: %w", &app.PINError{Empty: true})
	}
	cfg := s.Config()
	if !cfg.Configured() {
		return fmt.Errorf("sign in: the central service or the credential is not set: %w", app.ErrNotConfigured)
	}
	cred, err := OpenCredential(cfg, pin)
	if err != nil {
		return err
	}
	sess, err := newSession(cfg, cred, pin, s.Log)
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
	s.Svc.SignIn(sess)
	if s.SignedIn != nil {
		s.SignedIn()
	}
	return nil
}

// Certificate returns the certificate of the open credential (EXTERNAL
// authentication to a mailbox), or nil when none is open.
func (s *Signer) Certificate() *tls.Certificate {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cred == nil {
		return nil
	}
	c := s.cred.Certificate()
	return &c
}

// Close ends the card session.
func (s *Signer) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cred != nil {
		s.cred.Close()
		s.cred = nil
	}
}

// OpenCredential opens the configured PKCS#11 token or PKCS#12 file. Its
// errors wrap app.ErrCredential (and app.PINError or app.ErrInsecureFile
// when they are about the PIN or the file's mode); they never contain the
// PIN.
func OpenCredential(cfg config.Config, pin []byte) (*credential.Credential, error) {
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
// names the practitioner from its certificate. pin opens a second signing
// credential when one is configured (xds: dmp.vihf_pkcs12_file).
func newSession(cfg config.Config, cred *credential.Credential, pin []byte, log *slog.Logger) (app.Session, error) {
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
	if cfg.Protocol() == config.ProtocolXDS {
		return newXDSSession(cfg, cred, pin, roots)
	}
	if cfg.DMP.Protocol != config.ProtocolFHIR {
		return app.Session{}, fmt.Errorf("sign in: [dmp] protocol %q is neither %q nor %q: %w", cfg.DMP.Protocol, config.ProtocolXDS, config.ProtocolFHIR, app.ErrInvalid)
	}
	client, err := dmp.New(dmp.Config{
		BaseURL:         cfg.DMP.URL,
		Certificate:     cred.Certificate(),
		Signer:          cred.Signer(),
		RootCAs:         roots,
		MaxTLSVersion:   cred.MaxTLSVersion(),
		SoftwareName:    "Carnet",
		SoftwareVersion: buildinfo.Version,
		Logger:          log,
	})
	if err != nil {
		return app.Session{}, fmt.Errorf("sign in: %w", err)
	}
	return app.Session{Practitioner: Practitioner(cred.Identity()), Records: client}, nil
}

// Practitioner converts the credential's identity into the domain's.
func Practitioner(id credential.Identity) app.Practitioner {
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

// FixedConfig is the Config function of a Signer whose configuration does
// not change (the command line, tests).
func FixedConfig(cfg config.Config) func() config.Config {
	return func() config.Config { return cfg }
}
