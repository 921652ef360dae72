// Package credtest is a test certification authority: it issues
// practitioner certificates whose subject carries an identity the way
// credential.ParseIdentity reads it (credential.SubjectFor), server
// certificates for loopback TLS, and writes PKCS#12 files. It is used by
// the tests of crypto/credential and by the sandbox central record service
// (sync/dmp/dmptest), which writes its practitioners' credentials with it.
//
// Nothing here is fit for production: keys are generated in memory and the
// CA has no revocation.
package credtest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	carnetcrypto "github.com/carnetdesk/carnet/crypto"
	"github.com/carnetdesk/carnet/crypto/credential"
	"software.sslmate.com/src/go-pkcs12"
)

// CA is a test certification authority.
type CA struct {
	Cert    *x509.Certificate
	Key     crypto.Signer
	CertPEM []byte
}

// NewCA creates a CA with an ECDSA P-256 key, valid from an hour ago for ten
// years, named name (a default when empty).
func NewCA(name string) (*CA, error) {
	if name == "" {
		name = "Carnet Test CA (not IGC-Santé)"
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("credtest: CA key: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{Country: []string{"FR"}, Organization: []string{"Carnet sandbox"}, CommonName: name},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
		SubjectKeyId:          keyID(key.Public()),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("credtest: CA certificate: %w", err)
	}
	return loadCA(der, key)
}

// LoadCA reads a CA back from its certificate and PKCS#8 key in PEM, as
// written by CertPEM and KeyPEM (for the sandbox's persistent data dir).
func LoadCA(certPEM, keyPEM []byte) (*CA, error) {
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	if cb == nil || kb == nil {
		return nil, errors.New("credtest: LoadCA: not PEM")
	}
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("credtest: LoadCA: %w", err)
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("credtest: LoadCA: key type %T", k)
	}
	return loadCA(cb.Bytes, signer)
}

func loadCA(der []byte, key crypto.Signer) (*CA, error) {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("credtest: CA certificate: %w", err)
	}
	return &CA{Cert: cert, Key: key, CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}, nil
}

// KeyPEM returns the CA's private key as PKCS#8 PEM.
func (ca *CA) KeyPEM() ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(ca.Key)
	if err != nil {
		return nil, fmt.Errorf("credtest: CA key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// Pool returns a pool holding only the CA: a server's ClientCAs, a client's
// RootCAs.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// Options tune an issued certificate.
type Options struct {
	NotBefore, NotAfter time.Time // zero: an hour ago, and three years later
	ECDSA               bool      // an ECDSA P-256 key instead of RSA
	RSABits             int       // RSA key size; zero: 2048
}

// Issued is an issued certificate and its private key.
type Issued struct {
	Cert    *x509.Certificate
	Key     crypto.Signer
	CertPEM []byte // CERTIFICATE
	KeyPEM  []byte // PRIVATE KEY (PKCS#8), as softhsm2-util --import wants it
	CA      *CA
}

// IssuePractitioner issues a client-authentication certificate for id,
// with id in the subject as credential.SubjectFor lays it out.
func (ca *CA) IssuePractitioner(id credential.Identity) (*Issued, error) {
	return ca.IssuePractitionerWith(id, Options{})
}

// IssuePractitionerWith is IssuePractitioner with options (validity, key
// type): an expired certificate for a test is NotAfter in the past.
func (ca *CA) IssuePractitionerWith(id credential.Identity, o Options) (*Issued, error) {
	tmpl := &x509.Certificate{
		Subject:     credential.SubjectFor(id),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	return ca.issue(tmpl, o)
}

// IssueServer issues a server certificate for hosts (DNS names or IP
// addresses; "localhost", 127.0.0.1 and ::1 when none are given).
func (ca *CA) IssueServer(hosts ...string) (*Issued, error) {
	if len(hosts) == 0 {
		hosts = []string{"localhost", "127.0.0.1", "::1"}
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{Country: []string{"FR"}, Organization: []string{"Carnet sandbox"}, CommonName: hosts[0]},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	return ca.issue(tmpl, Options{ECDSA: true})
}

func (ca *CA) issue(tmpl *x509.Certificate, o Options) (*Issued, error) {
	var (
		key crypto.Signer
		err error
	)
	if o.ECDSA {
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	} else {
		bits := o.RSABits
		if bits == 0 {
			bits = 2048
		}
		key, err = rsa.GenerateKey(rand.Reader, bits)
	}
	if err != nil {
		return nil, fmt.Errorf("credtest: key: %w", err)
	}
	now := time.Now()
	tmpl.SerialNumber = serial()
	tmpl.NotBefore, tmpl.NotAfter = o.NotBefore, o.NotAfter
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore = now.Add(-time.Hour)
	}
	if tmpl.NotAfter.IsZero() {
		tmpl.NotAfter = tmpl.NotBefore.AddDate(3, 0, 0)
	}
	tmpl.BasicConstraintsValid = true
	tmpl.SubjectKeyId = keyID(key.Public())
	tmpl.AuthorityKeyId = ca.Cert.SubjectKeyId
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		return nil, fmt.Errorf("credtest: certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("credtest: certificate: %w", err)
	}
	p8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("credtest: key: %w", err)
	}
	return &Issued{
		Cert:    cert,
		Key:     key,
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8}),
		CA:      ca,
	}, nil
}

// TLSCertificate returns the issued certificate and key for a tls.Config
// (a server's Certificates, or a client's without a card).
func (is *Issued) TLSCertificate() tls.Certificate {
	return tls.Certificate{Certificate: [][]byte{is.Cert.Raw}, PrivateKey: is.Key, Leaf: is.Cert}
}

// PKCS12 encodes the certificate, its key and the CA certificate as a
// PKCS#12 file protected by pin (go-pkcs12's Modern2023 encoder: AES-256,
// PBKDF2).
func (is *Issued) PKCS12(pin []byte) ([]byte, error) {
	data, err := pkcs12.Modern2023.Encode(is.Key, is.Cert, []*x509.Certificate{is.CA.Cert}, string(pin))
	if err != nil {
		return nil, fmt.Errorf("credtest: PKCS#12: %w", err)
	}
	return data, nil
}

// WritePKCS12 writes PKCS12(pin) to path with mode 0600, atomically (a
// temporary file renamed into place).
func (is *Issued) WritePKCS12(path string, pin []byte) error {
	data, err := is.PKCS12(pin)
	if err != nil {
		return err
	}
	return writeFile0600(path, data)
}

// writeFile0600 writes data to path, mode 0600 (on Windows an owner-only
// ACL: carnetcrypto.CreatePrivateFile), through a temporary file in the same
// directory.
func writeFile0600(path string, data []byte) error {
	tmp := filepath.Join(filepath.Dir(path), ".credtest-"+serial().Text(36))
	f, err := carnetcrypto.CreatePrivateFile(tmp)
	if err != nil {
		return fmt.Errorf("credtest: %w", err)
	}
	defer os.Remove(tmp)
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("credtest: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("credtest: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("credtest: %w", err)
	}
	return nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	if err != nil {
		panic("credtest: crypto/rand failed: " + err.Error())
	}
	return n.Add(n, big.NewInt(1))
}

func keyID(pub crypto.PublicKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil
	}
	sum := sha256.Sum256(der)
	return sum[:20]
}
