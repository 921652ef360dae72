package mailtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ClientCA is a test certification authority issuing TLS client
// certificates: the stand-in of the IGC-Santé CA behind a CPS card.
type ClientCA struct {
	Name string
	PEM  []byte // the CA certificate
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	n    atomic.Int64
}

// NewClientCA makes a client certificate CA.
func NewClientCA(name string) (*ClientCA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(48 * time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	ca := &ClientCA{Name: name, PEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), cert: cert, key: key}
	ca.n.Store(1)
	return ca, nil
}

// Issue returns a client certificate (with its key) whose CN is cn: the
// mailbox address, which Dovecot takes as the username of SASL EXTERNAL.
func (ca *ClientCA) Issue(cn string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(ca.n.Add(1)), Subject: pkix.Name{CommonName: cn},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(48 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// ClientCert issues a client certificate for a mailbox user from the
// server's client CA (Options.External).
func (s *Server) ClientCert(user string) (tls.Certificate, error) {
	if s.ClientCA == nil {
		return tls.Certificate{}, os.ErrInvalid
	}
	return s.ClientCA.Issue(user)
}

// Log returns Dovecot's log so far (for failure messages).
func (s *Server) Log() string {
	b, _ := os.ReadFile(filepath.Join(s.Dir, "dovecot.log"))
	return string(b)
}

// Introspector is the OAuth2 token introspection endpoint Dovecot's oauth2
// passdb calls (introspection_mode = auth): a GET with "Authorization:
// Bearer <token>", answered 200 with {"email": <user>, "active": true} for
// a token it issued, and 200 with {"active": false} otherwise (a 401 or a
// body without JSON makes Dovecot answer "Temporary authentication
// failure" instead of refusing the token). Serve it with httptest on
// loopback and give its URL to Options.OAuth2IntrospectionURL.
type Introspector struct {
	mu     sync.Mutex
	tokens map[string]string // token → user
	calls  atomic.Int64
	down   atomic.Bool
}

// SetDown makes the endpoint answer 503 (down: true) or work again.
func (in *Introspector) SetDown(down bool) { in.down.Store(down) }

// Issue returns a fresh access token for user.
func (in *Introspector) Issue(user string) string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	tok := "psc-" + hex.EncodeToString(b)
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.tokens == nil {
		in.tokens = map[string]string{}
	}
	in.tokens[tok] = user
	return tok
}

// Revoke makes a token unknown.
func (in *Introspector) Revoke(tok string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	delete(in.tokens, tok)
}

// Calls is how many introspection requests were served.
func (in *Introspector) Calls() int64 { return in.calls.Load() }

// ServeHTTP implements http.Handler.
func (in *Introspector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	in.calls.Add(1)
	if in.down.Load() {
		http.Error(w, "introspection down", http.StatusServiceUnavailable)
		return
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	in.mu.Lock()
	user, known := in.tokens[tok]
	in.mu.Unlock()
	res := map[string]any{"active": false}
	if ok && known {
		res = map[string]any{"active": true, "email": user}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(res)
}
