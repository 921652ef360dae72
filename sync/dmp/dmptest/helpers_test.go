package dmptest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/sync/dmp/fhir"
	"github.com/golang-jwt/jwt/v5"
)

// testEpoch is the fixed "now" of the synthetic history in tests.
var testEpoch = time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)

var (
	pkiOnce sync.Once
	pkiVal  *PKI
	pkiErr  error
)

// sharedPKI issues the test credentials once for the package.
func sharedPKI(t testing.TB) *PKI {
	pkiOnce.Do(func() { pkiVal, pkiErr = NewPKI(nil) })
	if pkiErr != nil {
		t.Fatal(pkiErr)
	}
	return pkiVal
}

// start runs a sandbox over TLS on loopback with the shared PKI.
func start(t testing.TB, opt Options) *Sandbox {
	t.Helper()
	if opt.Epoch.IsZero() {
		opt.Epoch = testEpoch
	}
	if opt.Seed == 0 {
		opt.Seed = 1
	}
	sb, err := startWith(opt, "", sharedPKI(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sb.Close)
	return sb
}

// actor is a practitioner talking to the sandbox with raw net/http.
type actor struct {
	t       testing.TB
	sb      *Sandbox
	key     string
	cl      *http.Client
	mode    string
	just    string
	mutate  func(*claims) // changes the claims before signing
	signer  any           // overrides the signing key
	lastJTI string
}

func (sb *Sandbox) as(t testing.TB, key string) *actor {
	return &actor{t: t, sb: sb, key: key, cl: sb.Client(key), mode: fhir.ModeNormal}
}

// assertion signs an access assertion for ins.
func (a *actor) assertion(ins app.INS) string {
	cred := a.sb.PKI.Credentials[a.key]
	now := time.Now()
	jti := make([]byte, 12)
	_, _ = rand.Read(jti)
	cl := claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject: cred.Practitioner.RPPS, ID: string(fhirSafe(jti)), Audience: jwt.ClaimStrings{a.sb.URL},
			IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(2 * time.Minute)),
		},
		Assertion: fhir.Assertion{
			RPPS: cred.Practitioner.RPPS, Structure: cred.Practitioner.Structure.ID, Profession: cred.Practitioner.Profession.Code,
			Mode: a.mode, Justification: a.just, Software: "carnet-test", SoftwareVersion: "0",
		},
	}
	if !ins.IsZero() {
		cl.PatientINS = fhir.INSToken(ins).String()
	}
	if a.mutate != nil {
		a.mutate(&cl)
	}
	a.lastJTI = cl.ID
	key := a.signer
	if key == nil {
		key = cred.Signer
	}
	var m jwt.SigningMethod
	switch key.(type) {
	case *rsa.PrivateKey:
		m = jwt.SigningMethodPS256
	case *ecdsa.PrivateKey:
		m = jwt.SigningMethodES256
	default:
		a.t.Fatalf("key type %T", key)
	}
	s, err := jwt.NewWithClaims(m, cl).SignedString(key)
	if err != nil {
		a.t.Fatal(err)
	}
	return s
}

func fhirSafe(b []byte) string {
	const hex = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, hex[c>>4], hex[c&15])
	}
	return string(out)
}

// do sends a request with a fresh assertion for ins; path is relative to
// the base ("/DocumentReference?…") or absolute.
func (a *actor) do(method, path string, ins app.INS, body []byte, hdr ...string) *http.Response {
	a.t.Helper()
	u := path
	if path == "" || path[0] == '/' {
		u = a.sb.URL + path
	}
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		a.t.Fatal(err)
	}
	req.Header.Set(fhir.AssertionHeader, a.assertion(ins))
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	if body != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", fhir.MediaFHIRJSON)
	}
	resp, err := a.cl.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp
}

// get does a GET and decodes the JSON answer into v when v is not nil,
// returning the status.
func (a *actor) get(path string, ins app.INS, v any) int {
	a.t.Helper()
	resp := a.do("GET", path, ins, nil)
	defer resp.Body.Close()
	if v != nil {
		if err := fhir.DecodeBounded(resp.Body, 64<<20, v); err != nil {
			a.t.Fatalf("GET %s: %d: %v", path, resp.StatusCode, err)
		}
	}
	return resp.StatusCode
}

// denial does a request expected to fail with a denial reason.
func (a *actor) denial(method, path string, ins app.INS, body []byte) (int, app.DenialReason) {
	a.t.Helper()
	resp := a.do(method, path, ins, body)
	defer resp.Body.Close()
	var o fhir.OperationOutcome
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &o)
	return resp.StatusCode, o.Denial()
}

func q(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v.Encode()
}

func insTok(ins app.INS) string { return fhir.INSToken(ins).String() }

// docsPath is the ITI-67 search of current documents of ins.
func docsPath(ins app.INS, extra ...string) string {
	return "/DocumentReference?" + q(append([]string{"patient.identifier", insTok(ins), "status", "current"}, extra...)...)
}

// searchAll follows next links and returns every DocumentReference.
func (a *actor) searchAll(path string, ins app.INS) []fhir.DocumentReference {
	a.t.Helper()
	var out []fhir.DocumentReference
	for path != "" {
		var b fhir.Bundle
		if st := a.get(path, ins, &b); st != http.StatusOK {
			a.t.Fatalf("search %s: status %d", path, st)
		}
		for _, e := range b.Entry {
			var d fhir.DocumentReference
			if err := e.Resource.Decode(&d); err != nil {
				a.t.Fatal(err)
			}
			out = append(out, d)
		}
		path = b.LinkURL("next")
	}
	return out
}

// patientWhere finds a synthetic patient for a rule.
func (sb *Sandbox) patientWhere(t testing.TB, pred func(p app.Patient, exists, closed bool, authz, blocked map[string]bool) bool) app.Patient {
	t.Helper()
	p, ok := sb.FindPatient(pred)
	if !ok {
		t.Fatal("no synthetic patient fits the rule")
	}
	return p
}

// openPatient: record exists, open, QUAL, GP and anesthetist authorised,
// nobody blocked.
func openPatient(p app.Patient, exists, closed bool, az, bl map[string]bool) bool {
	return exists && !closed && p.Status == app.IdentityQualified && az[KeyGP] && az[KeyAnesthetist] && !bl[KeyBlocked]
}
