// Package dmp is Carnet's client of the central record service (the DMP's
// FHIR R4 interface: IHE MHD as profiled by the French PDSm, and PDQm for the
// patient lookup). It implements app.RecordService.
//
// Every request goes over mutual TLS with the practitioner's credential and
// carries a signed access assertion (see assertion.go); every answer is read
// with a size bound and every failure is classified into one app error kind
// (see errors.go). The client relies only on standard FHIR R4 behaviour plus
// the few Carnet extensions documented in COMPATIBILITY.md, so that it works
// against any FHIR R4 server that has them, not only the sandbox
// (sync/dmp/dmptest).
//
// The client never caches anything: Retrieve returns verified bytes or an
// error, and what to keep is the Service's decision.
package dmp

import (
	"bytes"
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/crypto/credential"
	"github.com/carnetdesk/carnet/sync/dmp/fhir"
)

// Defaults of Config.
const (
	DefaultTimeout     = 30 * time.Second
	DefaultMaxDocument = 64 << 20 // 64 MiB
	DefaultMaxBundle   = 16 << 20 // 16 MiB
	DefaultMaxPages    = 1000
	maxErrorBody       = 64 << 10 // OperationOutcome of an error answer
)

// Config configures a Client.
type Config struct {
	// BaseURL is the FHIR base of the central service
	// ("https://host:port/fhir"). Only https is accepted, except http for
	// loopback addresses in tests.
	BaseURL string
	// Certificate is the practitioner's TLS client certificate (from
	// crypto/credential: Credential.Certificate()).
	Certificate tls.Certificate
	// Signer is the credential's private key, which signs the access
	// assertions. When nil, Certificate.PrivateKey is used if it is a
	// crypto.Signer.
	Signer crypto.Signer
	// RootCAs are the authorities trusted for the server's certificate:
	// IGC-Santé in production, the sandbox CA in tests. Nil means the
	// system pool.
	RootCAs *x509.CertPool
	// MaxTLSVersion caps the TLS version (tls.VersionTLS12 for cards that
	// cannot sign RSA-PSS, see credential.Credential.MaxTLSVersion). Zero:
	// TLS 1.3. The minimum is always TLS 1.2.
	MaxTLSVersion uint16
	// SigningAlgorithm forces the assertion's JWS algorithm ("RS256",
	// "PS256", "ES256"); empty picks RS256 for RSA keys, ES256 for P-256.
	SigningAlgorithm string
	// SoftwareName and SoftwareVersion name Carnet in the assertion.
	SoftwareName, SoftwareVersion string
	// Timeout bounds each HTTP request, answer body included (default
	// 30 s). A page of a listing is one request.
	Timeout time.Duration
	// MaxDocument bounds a retrieved document (default 64 MiB).
	MaxDocument int64
	// MaxBundle bounds a FHIR answer: a page of search results, a
	// transaction response (default 16 MiB).
	MaxBundle int64
	// MaxPages bounds the pages one listing follows (default 1000).
	MaxPages int
	// Clock gives the time of the assertions (default: system clock).
	Clock app.Clock
	// Logger receives debug lines; identifiers never appear in them
	// (default: slog.Default()).
	Logger *slog.Logger
}

// UseCredential fills Certificate, Signer and MaxTLSVersion from an opened
// credential.
func (cfg *Config) UseCredential(cr *credential.Credential) {
	cfg.Certificate = cr.Certificate()
	cfg.Signer = cr.Signer()
	cfg.MaxTLSVersion = cr.MaxTLSVersion()
	if !cr.SupportsPSS() && cfg.SigningAlgorithm == "PS256" {
		cfg.SigningAlgorithm = "RS256"
	}
}

// Client is the central record service client. It is safe for concurrent
// use.
type Client struct {
	base            *url.URL // without trailing slash in Path
	baseStr         string
	http            *http.Client
	signer          crypto.Signer
	method          *signerMethod
	softwareName    string
	softwareVersion string
	audience        string
	timeout         time.Duration
	maxDocument     int64
	maxBundle       int64
	maxPages        int
	clock           app.Clock
	log             *slog.Logger
	mem             memory // remembered service ids (known.go)
}

// Client implements the central record service port.
var _ app.RecordService = (*Client)(nil)

// New returns a client for cfg. It fails with an error wrapping
// app.ErrInvalid when the configuration is unusable, app.ErrCredential when
// the credential cannot sign.
func New(cfg Config) (*Client, error) {
	base, err := url.Parse(strings.TrimSpace(cfg.BaseURL))
	if err != nil || base.Host == "" || base.Opaque != "" || base.User != nil || base.RawQuery != "" || base.Fragment != "" {
		return nil, fail("new", app.ErrInvalid, "base URL must be an absolute https URL without query")
	}
	base.Scheme = strings.ToLower(base.Scheme)
	switch base.Scheme {
	case "https":
	case "http":
		if !isLoopback(base.Hostname()) {
			return nil, fail("new", app.ErrInvalid, "plain http is allowed for loopback tests only")
		}
	default:
		return nil, fail("new", app.ErrInvalid, "base URL must be https")
	}
	base.Host = strings.ToLower(base.Host)
	base.Path = strings.TrimRight(base.Path, "/")
	base.RawPath = ""
	if len(cfg.Certificate.Certificate) == 0 {
		return nil, fail("new", app.ErrCredential, "no client certificate")
	}
	signer := cfg.Signer
	if signer == nil {
		s, ok := cfg.Certificate.PrivateKey.(crypto.Signer)
		if !ok {
			return nil, fail("new", app.ErrCredential, "no signing key")
		}
		signer = s
	}
	method, err := chooseMethod(signer, cfg.SigningAlgorithm)
	if err != nil {
		return nil, fail("new", app.ErrCredential, err.Error())
	}
	c := &Client{
		base:            base,
		baseStr:         base.String(),
		signer:          signer,
		method:          method,
		softwareName:    cfg.SoftwareName,
		softwareVersion: cfg.SoftwareVersion,
		timeout:         cfg.Timeout,
		maxDocument:     cfg.MaxDocument,
		maxBundle:       cfg.MaxBundle,
		maxPages:        cfg.MaxPages,
		clock:           cfg.Clock,
		log:             cfg.Logger,
		audience:        base.String(), // the assertion's aud: this service only
	}
	if c.softwareName == "" {
		c.softwareName = "Carnet"
	}
	if c.softwareVersion == "" {
		c.softwareVersion = "dev"
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	if c.maxDocument <= 0 {
		c.maxDocument = DefaultMaxDocument
	}
	if c.maxBundle <= 0 {
		c.maxBundle = DefaultMaxBundle
	}
	if c.maxPages <= 0 {
		c.maxPages = DefaultMaxPages
	}
	if c.clock == nil {
		c.clock = app.SystemClock{}
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	cert := cfg.Certificate
	tlsCfg := &tls.Config{
		MinVersion: tls.VersionTLS12,
		MaxVersion: cfg.MaxTLSVersion,
		RootCAs:    cfg.RootCAs,
		// present the credential, or fail the handshake on our side with a
		// clear error when the server names the authorities it accepts and
		// ours is not one (under TLS 1.3 a server-side refusal may reach
		// the client only as a reset)
		GetClientCertificate: func(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
			if err := cri.SupportsCertificate(&cert); err != nil {
				return nil, fmt.Errorf("%w: %v", errCertNotAccepted, err)
			}
			return &cert, nil
		},
	}
	if tlsCfg.MaxVersion != 0 && tlsCfg.MaxVersion < tls.VersionTLS12 {
		tlsCfg.MaxVersion = tls.VersionTLS12
	}
	if onlyPKCS1(cfg.Certificate) && (tlsCfg.MaxVersion == 0 || tlsCfg.MaxVersion > tls.VersionTLS12) {
		// TLS 1.3 allows only PSS for RSA client signatures
		tlsCfg.MaxVersion = tls.VersionTLS12
	}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       tlsCfg,
		TLSHandshakeTimeout:   10 * time.Second,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          16,
		MaxIdleConnsPerHost:   8,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
		ResponseHeaderTimeout: c.timeout,
	}
	c.http = &http.Client{Transport: tr, CheckRedirect: c.checkRedirect}
	return c, nil
}

// Close releases idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// BaseURL returns the service's FHIR base, normalised.
func (c *Client) BaseURL() string { return c.baseStr }

// onlyPKCS1 reports whether the certificate is restricted to RSA PKCS#1
// v1.5 signatures (a card without PSS), which TLS 1.3 cannot use.
func onlyPKCS1(cert tls.Certificate) bool {
	if len(cert.SupportedSignatureAlgorithms) == 0 {
		return false
	}
	for _, s := range cert.SupportedSignatureAlgorithms {
		switch s {
		case tls.PKCS1WithSHA256, tls.PKCS1WithSHA384, tls.PKCS1WithSHA512, tls.PKCS1WithSHA1:
		default:
			return false
		}
	}
	return true
}

// isLoopback reports whether host is a loopback name or address.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// sameOrigin reports whether u has the base URL's scheme, host and port.
func (c *Client) sameOrigin(u *url.URL) bool {
	if u == nil || !strings.EqualFold(u.Scheme, c.base.Scheme) {
		return false
	}
	return strings.EqualFold(u.Hostname(), c.base.Hostname()) && effectivePort(u) == effectivePort(c.base)
}

// effectivePort is u's port, or its scheme's default.
func effectivePort(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if strings.EqualFold(u.Scheme, "http") {
		return "80"
	}
	return "443"
}

// resolve turns a URL given by the service (a next link, an attachment URL)
// into an absolute URL on the service's origin; anything else is refused.
// Relative references resolve against the base ("Binary/1" →
// base/Binary/1), absolute ones are kept verbatim.
func (c *Client) resolve(ref string) (*url.URL, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return nil, errors.New("empty URL")
	}
	u, err := url.Parse(ref)
	if err != nil {
		return nil, errors.New("unreadable URL")
	}
	if !u.IsAbs() {
		if u.Host != "" || strings.HasPrefix(ref, "//") {
			return nil, errors.New("scheme-relative URL refused")
		}
		if strings.HasPrefix(u.Path, "/") {
			u = c.base.ResolveReference(u)
		} else {
			b := *c.base
			b.Path += "/"
			u = b.ResolveReference(u)
		}
	}
	if !c.sameOrigin(u) {
		return nil, errors.New("URL on another host refused")
	}
	if u.User != nil {
		return nil, errors.New("URL with credentials refused")
	}
	return u, nil
}

// endpoint returns base/path?query.
func (c *Client) endpoint(path string, q url.Values) string {
	s := c.baseStr + "/" + path
	if len(q) > 0 {
		s += "?" + q.Encode()
	}
	return s
}

// call is one HTTP request of an operation.
type call struct {
	op          string
	method      string
	url         string
	body        []byte
	contentType string
	accept      string
	ifMatch     string
	prefer      string
	acc         app.Access
	ins         app.INS
}

// ctxKey carries the *call in the request context, for CheckRedirect.
type ctxKey struct{}

// checkRedirect follows redirects on the service's own origin only (with a
// fresh assertion: the old one's jti was spent), at most 5.
func (c *Client) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 5 {
		return errRedirect
	}
	if !c.sameOrigin(req.URL) {
		return errRedirect
	}
	if cl, ok := req.Context().Value(ctxKey{}).(*call); ok {
		tok, err := c.sign(cl.acc, cl.ins)
		if err != nil {
			return err
		}
		req.Header.Set(fhir.AssertionHeader, tok)
	}
	return nil
}

// do sends one request. On a 2xx answer it returns the response, whose body
// the caller reads (bounded) and closes, then calls done. Every other
// outcome is classified here.
func (c *Client) do(ctx context.Context, cl *call) (resp *http.Response, done func(), err error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, &opError{op: cl.op, kind: err}
	}
	tok, err := c.sign(cl.acc, cl.ins)
	if err != nil {
		return nil, nil, fail(cl.op, app.ErrCredential, "cannot sign the access assertion")
	}
	rctx, cancel := context.WithTimeout(context.WithValue(ctx, ctxKey{}, cl), c.timeout)
	var body io.Reader
	if cl.body != nil {
		body = bytes.NewReader(cl.body)
	}
	req, err := http.NewRequestWithContext(rctx, cl.method, cl.url, body)
	if err != nil {
		cancel()
		return nil, nil, fail(cl.op, app.ErrInvalid, "cannot build the request")
	}
	req.Header.Set(fhir.AssertionHeader, tok)
	if cl.accept == "" {
		cl.accept = fhir.MediaFHIRJSON
	}
	req.Header.Set("Accept", cl.accept)
	if cl.contentType != "" {
		req.Header.Set("Content-Type", cl.contentType)
	}
	if cl.ifMatch != "" {
		req.Header.Set("If-Match", cl.ifMatch)
	}
	if cl.prefer != "" {
		req.Header.Set("Prefer", cl.prefer)
	}
	req.Header.Set("User-Agent", c.softwareName+"/"+c.softwareVersion)
	start := c.clock.Now()
	resp, err = c.http.Do(req)
	if err != nil {
		cancel()
		e := classifyTransport(cl.op, ctx, err)
		c.log.Debug("dmp request failed", "op", cl.op, "error", e)
		return nil, nil, e
	}
	c.log.Debug("dmp request", "op", cl.op, "method", cl.method, "status", resp.StatusCode, "duration", c.clock.Now().Sub(start))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp, func() { resp.Body.Close(); cancel() }, nil
	}
	defer cancel()
	defer resp.Body.Close()
	var oo *fhir.OperationOutcome
	if b, rerr := fhir.ReadBounded(resp.Body, maxErrorBody); rerr == nil && len(b) > 0 {
		var o fhir.OperationOutcome
		if fhir.Unmarshal(b, &o) == nil && o.ResourceType == "OperationOutcome" {
			oo = &o
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, &opError{op: cl.op, kind: err}
	}
	return nil, nil, classifyStatus(cl.op, resp.StatusCode, resp.Header, oo, c.clock.Now())
}

// errTooLarge marks an answer over its bound.
var errTooLarge = errors.New("answer too large")

// readLimited reads the body, at most limit bytes (more fails with
// errTooLarge without reading further). sizeHint preallocates when the size
// is known.
func readLimited(r io.Reader, limit, sizeHint int64) ([]byte, error) {
	if sizeHint <= 0 || sizeHint > limit {
		sizeHint = 32 << 10
		if sizeHint > limit {
			sizeHint = limit
		}
	}
	buf := make([]byte, 0, sizeHint+1)
	lr := io.LimitReader(r, limit+1)
	for {
		if len(buf) == cap(buf) {
			// grow by doubling, never past the bound: a hostile body
			// costs at most about twice the bound in allocations
			n := min(2*int64(cap(buf)), limit+1)
			nb := make([]byte, len(buf), max(n, int64(cap(buf))+1))
			copy(nb, buf)
			buf = nb
		}
		n, err := lr.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > limit {
			return nil, errTooLarge
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// getJSON sends cl and decodes a FHIR JSON answer into v (bounded by
// MaxBundle). It returns the answer's headers.
func (c *Client) getJSON(ctx context.Context, cl *call, v any) (http.Header, error) {
	resp, done, err := c.do(ctx, cl)
	if err != nil {
		return nil, err
	}
	defer done()
	b, err := readLimited(resp.Body, c.maxBundle, resp.ContentLength)
	if err != nil {
		return nil, c.readError(ctx, cl.op, err)
	}
	if v != nil {
		if len(bytes.TrimSpace(b)) == 0 {
			return nil, malformed(cl.op, "answer (empty body)")
		}
		if err := fhir.Unmarshal(b, v); err != nil {
			return nil, malformed(cl.op, "answer (not the expected FHIR JSON)")
		}
	}
	return resp.Header, nil
}

// readError classifies a failure while reading an answer body.
func (c *Client) readError(ctx context.Context, op string, err error) error {
	if errors.Is(err, errTooLarge) {
		return fail(op, app.ErrServer, "answer larger than the allowed size")
	}
	return classifyTransport(op, ctx, err)
}

// serverTime reads the Date header of an answer, or the client's clock.
func (c *Client) serverTime(h http.Header) time.Time {
	if h != nil {
		if t, err := http.ParseTime(h.Get("Date")); err == nil {
			return t
		}
	}
	return c.clock.Now()
}

// String describes the client without identifiers.
func (c *Client) String() string {
	return fmt.Sprintf("dmp.Client{%s, timeout %s, alg %s}", c.baseStr, c.timeout, c.method.alg)
}

// PractitionerFrom returns the app.Practitioner a credential's certificate
// names (RPPS, name, profession, specialty, structure, roles), for the
// access context.
func PractitionerFrom(id credential.Identity) app.Practitioner {
	return app.Practitioner{
		RPPS:       id.RPPS,
		Name:       id.Name,
		Profession: app.Code{Code: id.Profession.Code, System: id.Profession.System, Display: id.Profession.Display},
		Specialty:  app.Code{Code: id.Specialty.Code, System: id.Specialty.System, Display: id.Specialty.Display},
		Structure:  app.Structure{ID: id.Structure.ID, Name: id.Structure.Name},
		Roles:      append([]string(nil), id.Roles...),
	}
}
