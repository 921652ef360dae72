package credential

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"sync"
	"time"
)

// The errors of this package, matched with errors.Is.
var (
	// ErrPIN is a wrong (or malformed) PIN.
	ErrPIN = errors.New("credential: wrong PIN")
	// ErrPINFinalTry is wrapped together with ErrPIN when the card says the
	// next wrong PIN will lock it.
	ErrPINFinalTry = errors.New("credential: one try left before the card locks")
	// ErrPINLocked is a card whose PIN is locked after too many wrong tries:
	// only the card's PUK (or its issuer) can unlock it.
	ErrPINLocked = errors.New("credential: PIN locked")
	// ErrExpired is a certificate outside its validity period (expired or
	// not yet valid).
	ErrExpired = errors.New("credential: certificate expired or not yet valid")
	// ErrCardRemoved is a card removed (or replaced, or its session lost)
	// while in use. The credential must be closed and opened again.
	ErrCardRemoved = errors.New("credential: card removed")
	// ErrFileMode is a PKCS#12 file readable by others than its owner.
	ErrFileMode = errors.New("credential: certificate file must be readable by its owner only (chmod 600)")
	// ErrNoModule is a PKCS#11 module (the card's middleware library, e.g.
	// cps3_pkcs11_w64.dll) that is not there or cannot be loaded.
	ErrNoModule = errors.New("credential: PKCS#11 module not found or not loadable")
	// ErrNoCgo is OpenPKCS11 in a build without cgo.
	ErrNoCgo = errors.New("credential: PKCS#11 needs a cgo build")
	// ErrClosed is a use of a closed credential.
	ErrClosed = errors.New("credential: closed")
)

// Kind says where a credential comes from.
type Kind string

// The kinds of credential.
const (
	KindPKCS11 Kind = "pkcs11" // a card (or any token) through a PKCS#11 module
	KindPKCS12 Kind = "pkcs12" // a PKCS#12 certificate file
)

// Credential is an open practitioner credential. It is safe for concurrent
// use; signatures on a card are serialised. Close it when done (for a card:
// logout and release of the PKCS#11 module).
type Credential struct {
	kind     Kind
	cert     tls.Certificate
	leaf     *x509.Certificate
	chain    []*x509.Certificate
	signer   crypto.Signer
	identity Identity
	noPSS    bool // the key cannot do RSA-PSS: TLS 1.2 at most

	closeOnce sync.Once
	closeErr  error
	closer    func() error
}

// newCredential assembles a Credential from its parts and checks that the key
// matches the certificate and that the certificate is valid now.
func newCredential(kind Kind, leaf *x509.Certificate, chain []*x509.Certificate, signer crypto.Signer, now time.Time) (*Credential, error) {
	if err := checkValidity(leaf, now); err != nil {
		return nil, err
	}
	if !samePublicKey(leaf.PublicKey, signer.Public()) {
		return nil, errors.New("credential: the private key does not match the certificate")
	}
	switch signer.Public().(type) {
	case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
	default:
		return nil, fmt.Errorf("credential: unsupported key type %T", signer.Public())
	}
	c := &Credential{kind: kind, leaf: leaf, chain: chain, signer: signer, identity: ParseIdentity(leaf)}
	c.cert = tls.Certificate{PrivateKey: signer, Leaf: leaf}
	c.cert.Certificate = append(c.cert.Certificate, leaf.Raw)
	for _, ca := range chain {
		c.cert.Certificate = append(c.cert.Certificate, ca.Raw)
	}
	return c, nil
}

// checkValidity returns ErrExpired when now is outside the certificate's
// validity period.
func checkValidity(leaf *x509.Certificate, now time.Time) error {
	if now.Before(leaf.NotBefore) {
		return fmt.Errorf("%w: valid from %s", ErrExpired, leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	if now.After(leaf.NotAfter) {
		return fmt.Errorf("%w: expired on %s", ErrExpired, leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	return nil
}

// samePublicKey reports whether a and b are the same public key.
func samePublicKey(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}

// Kind says whether the credential is a card (PKCS#11) or a file (PKCS#12).
func (c *Credential) Kind() Kind { return c.kind }

// Certificate returns the credential as a tls.Certificate for client
// authentication: the leaf and any intermediate certificates found with it,
// and the Signer as PrivateKey. When the key cannot sign RSA-PSS (some
// cards), SupportedSignatureAlgorithms is restricted to PKCS#1 v1.5 and the
// TLS connection must stay at TLS 1.2: use TLSConfig, or honour MaxTLSVersion.
func (c *Credential) Certificate() tls.Certificate {
	cert := c.cert
	cert.Certificate = append([][]byte(nil), c.cert.Certificate...)
	if c.noPSS {
		cert.SupportedSignatureAlgorithms = []tls.SignatureScheme{
			tls.PKCS1WithSHA256, tls.PKCS1WithSHA384, tls.PKCS1WithSHA512,
		}
	}
	return cert
}

// Signer returns the credential's private key as a crypto.Signer (the key
// stays on the card for PKCS#11). RSA keys sign PKCS#1 v1.5 and, when given
// *rsa.PSSOptions, PSS; ECDSA keys return ASN.1 signatures.
func (c *Credential) Signer() crypto.Signer { return c.signer }

// Leaf returns the practitioner's certificate.
func (c *Credential) Leaf() *x509.Certificate { return c.leaf }

// Chain returns the intermediate (and root) certificates found with the
// credential, possibly none.
func (c *Credential) Chain() []*x509.Certificate {
	return append([]*x509.Certificate(nil), c.chain...)
}

// Identity returns the practitioner's identity read from the certificate.
func (c *Credential) Identity() Identity { return c.identity.clone() }

// SupportsPSS reports whether the key can sign RSA-PSS (always true for
// ECDSA and Ed25519 keys, which do not need it).
func (c *Credential) SupportsPSS() bool { return !c.noPSS }

// MaxTLSVersion is the highest TLS version the credential can authenticate
// with: tls.VersionTLS12 for an RSA key that cannot sign PSS (TLS 1.3 allows
// only PSS for RSA), else tls.VersionTLS13.
func (c *Credential) MaxTLSVersion() uint16 {
	if c.noPSS {
		return tls.VersionTLS12
	}
	return tls.VersionTLS13
}

// TLSConfig returns a copy of base (or a new config when base is nil) that
// presents this credential as the client certificate, with MinVersion at
// least TLS 1.2 and MaxVersion lowered to MaxTLSVersion when needed.
func (c *Credential) TLSConfig(base *tls.Config) *tls.Config {
	var cfg *tls.Config
	if base != nil {
		cfg = base.Clone()
	} else {
		cfg = &tls.Config{}
	}
	cert := c.Certificate()
	cfg.Certificates = []tls.Certificate{cert}
	if cfg.MinVersion < tls.VersionTLS12 {
		cfg.MinVersion = tls.VersionTLS12
	}
	if max := c.MaxTLSVersion(); cfg.MaxVersion == 0 || cfg.MaxVersion > max {
		cfg.MaxVersion = max
	}
	return cfg
}

// Close releases the credential: for a card, logout, session closed and the
// PKCS#11 module finalised when no other credential uses it. Close is
// idempotent; signing with a card credential after Close fails with
// ErrClosed; a file credential's private key is zeroed (see wipeKey).
func (c *Credential) Close() error {
	c.closeOnce.Do(func() {
		if c.closer != nil {
			c.closeErr = c.closer()
		}
	})
	return c.closeErr
}
