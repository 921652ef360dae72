package dmptest

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"hash/fnv"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/carnetdesk/carnet/crypto/credential"
	"github.com/carnetdesk/carnet/crypto/credential/credtest"
)

// PKI is the sandbox's test public-key infrastructure: a CA (not IGC-Santé),
// the server certificate, and a credential per practitioner.
type PKI struct {
	CA          *credtest.CA
	Server      tls.Certificate
	Credentials map[string]*Credential // by practitioner key
}

// Credential is a practitioner's test credential.
type Credential struct {
	Practitioner Practitioner
	TLS          tls.Certificate // for the client's tls.Config
	Signer       crypto.Signer   // to sign access assertions
	Leaf         *x509.Certificate
	issued       *credtest.Issued
}

// NewPKI creates a CA (or reuses ca when not nil), a server certificate for
// hosts (loopback when none) and credentials for every practitioner.
// Practitioners alternate RSA and ECDSA keys so both signature families
// are exercised.
func NewPKI(ca *credtest.CA, hosts ...string) (*PKI, error) {
	var err error
	if ca == nil {
		if ca, err = credtest.NewCA("Carnet sandbox test CA (not IGC-Santé)"); err != nil {
			return nil, err
		}
	}
	srv, err := ca.IssueServer(hosts...)
	if err != nil {
		return nil, err
	}
	p := &PKI{CA: ca, Server: srv.TLSCertificate(), Credentials: map[string]*Credential{}}
	for i, pr := range Practitioners() {
		c, err := p.Issue(pr, credtest.Options{ECDSA: i%2 == 1})
		if err != nil {
			return nil, err
		}
		p.Credentials[pr.Key] = c
	}
	return p, nil
}

// Issue issues a credential for pr with options (key type, validity): for
// tests of expired or foreign certificates.
func (p *PKI) Issue(pr Practitioner, o credtest.Options) (*Credential, error) {
	parts := splitName(pr.Name)
	is, err := p.CA.IssuePractitionerWith(credential.Identity{
		RPPS: pr.RPPS, Name: pr.Name, GivenName: parts[0], Surname: parts[1],
		Profession: credential.Code{Code: pr.Profession.Code}, Specialty: credential.Code{Code: pr.Specialty.Code},
		Structure: credential.Structure(pr.Structure), Roles: pr.Roles,
	}, o)
	if err != nil {
		return nil, fmt.Errorf("dmptest: credential for %s: %w", pr.Key, err)
	}
	return &Credential{Practitioner: pr, TLS: is.TLSCertificate(), Signer: is.Key, Leaf: is.Cert, issued: is}, nil
}

func splitName(n string) [2]string {
	var out [2]string
	name := n
	if len(name) > 3 && name[:3] == "Dr " {
		name = name[3:]
	}
	for i := 0; i < len(name); i++ {
		if name[i] == ' ' {
			out[0], out[1] = name[:i], name[i+1:]
			return out
		}
	}
	out[1] = name
	return out
}

// Pool returns the CA pool (the client's RootCAs).
func (p *PKI) Pool() *x509.CertPool { return p.CA.Pool() }

// ServerTLS returns the server's TLS configuration: TLS 1.2+, client
// certificates from the sandbox CA required and verified.
func (p *PKI) ServerTLS() *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{p.Server},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    p.CA.Pool(),
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"h2", "http/1.1"},
	}
}

// ClientTLS returns a client TLS configuration for the practitioner key.
func (p *PKI) ClientTLS(key string) *tls.Config {
	c := p.Credentials[key]
	if c == nil {
		panic("dmptest: no credential " + key)
	}
	return &tls.Config{Certificates: []tls.Certificate{c.TLS}, RootCAs: p.CA.Pool(), MinVersion: tls.VersionTLS12}
}

// PIN returns the PIN of the practitioner's PKCS#12 file for a seed: four
// digits, deterministic, printed by `carnet sandbox`.
func PIN(seed uint64, key string) string {
	h := fnv.New32a()
	fmt.Fprintf(h, "%d/%s", seed, key)
	return fmt.Sprintf("%04d", h.Sum32()%10000)
}

// WriteFiles writes the CA (ca.pem, ca-key.pem), the server certificate
// (server.pem) and each practitioner's PKCS#12 file (<key>.p12, mode 0600,
// protected by PIN(seed, key)) into dir, and records the paths and PINs in
// p.Credentials.
func (p *PKI) WriteFiles(dir string, seed uint64) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("dmptest: %w", err)
	}
	keyPEM, err := p.CA.KeyPEM()
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), p.CA.CertPEM, 0o644); err != nil {
		return fmt.Errorf("dmptest: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ca-key.pem"), keyPEM, 0o600); err != nil {
		return fmt.Errorf("dmptest: %w", err)
	}
	for key, c := range p.Credentials {
		path := filepath.Join(dir, key+".p12")
		pin := PIN(seed, key)
		if err := c.issued.WritePKCS12(path, []byte(pin)); err != nil {
			return err
		}
		c.Practitioner.P12Path, c.Practitioner.PIN = path, pin
	}
	return nil
}

// loadOrCreateCA reuses dir/ca.pem and dir/ca-key.pem when present.
func loadOrCreateCA(dir string) (*credtest.CA, error) {
	cp, err1 := os.ReadFile(filepath.Join(dir, "ca.pem"))
	kp, err2 := os.ReadFile(filepath.Join(dir, "ca-key.pem"))
	if err1 == nil && err2 == nil {
		return credtest.LoadCA(cp, kp)
	}
	return nil, nil
}

// Sandbox is a sandbox running in process over real TLS on loopback.
type Sandbox struct {
	*Server
	URL  string // the FHIR base URL, https://127.0.0.1:port/fhir
	PKI  *PKI
	http *httptest.Server
}

// Client returns an HTTP client presenting the practitioner's certificate
// (key: KeyGP, KeyAnesthetist …) and trusting the sandbox CA.
func (sb *Sandbox) Client(key string) *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: sb.PKI.ClientTLS(key), ForceAttemptHTTP2: true}}
}

// Close stops the server.
func (sb *Sandbox) Close() {
	sb.http.Close()
	sb.Server.Close()
}

// NewTLS starts a sandbox with opt on a loopback port, over TLS with client
// certificates, and stops it when the test ends.
func NewTLS(t testing.TB, opt Options) *Sandbox {
	t.Helper()
	sb, err := StartTLS(opt, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sb.Close)
	return sb
}

// StartTLS starts a sandbox on addr ("" or "127.0.0.1:0": a free loopback
// port) with a fresh PKI.
func StartTLS(opt Options, addr string) (*Sandbox, error) {
	pki, err := NewPKI(nil)
	if err != nil {
		return nil, err
	}
	return startWith(opt, addr, pki)
}

func startWith(opt Options, addr string, pki *PKI) (*Sandbox, error) {
	s, err := New(opt)
	if err != nil {
		return nil, err
	}
	hs := httptest.NewUnstartedServer(s.BothHandler()) // FHIR and XDS.b/SOAP (xds_tls.go)
	if addr != "" {
		l, err := listen(addr)
		if err != nil {
			s.Close()
			return nil, err
		}
		hs.Listener.Close()
		hs.Listener = l
	}
	hs.TLS = pki.ServerTLS()
	hs.EnableHTTP2 = true
	hs.Config.ErrorLog = quietLog()
	hs.StartTLS()
	return &Sandbox{Server: s, URL: hs.URL + s.BasePath(), PKI: pki, http: hs}, nil
}
