package dmptest

import (
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/crypto/credential"
	"github.com/carnetdesk/carnet/sync/dmp/fhir"
	"github.com/golang-jwt/jwt/v5"
)

// clockSkew is the tolerance on iat and exp.
const clockSkew = 30 * time.Second

// claims are the assertion's claims as the sandbox reads them.
type claims struct {
	jwt.RegisteredClaims
	fhir.Assertion
}

// caller is the authenticated practitioner of a request: identity from the
// client certificate, access context from the assertion.
type caller struct {
	RPPS          string
	Name          string
	Profession    string
	Structure     string
	StructureName string
	Roles         []string // from the certificate, not the assertion
	Mode          string
	Justification string
	Patient       fhir.Token // the INS the assertion is for
}

func (c *caller) hasRole(r string) bool {
	for _, x := range c.Roles {
		if x == r {
			return true
		}
	}
	return false
}

type callerKey struct{}

// jtiCache remembers assertion ids until they expire.
type jtiCache struct {
	mu      sync.Mutex
	seen    map[string]time.Time
	inserts int // since the last sweep
}

// sweepEvery is how many insertions pass between two sweeps of expired
// ids: sweeping on every request once the map is large made long runs
// quadratic.
const sweepEvery = 4096

// use records jti until exp; false when it was already used.
func (c *jtiCache) use(jti string, exp, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.inserts >= sweepEvery {
		c.inserts = 0
		for k, t := range c.seen {
			if now.After(t) {
				delete(c.seen, k)
			}
		}
	}
	if t, ok := c.seen[jti]; ok && !now.After(t) {
		return false
	}
	c.seen[jti] = exp.Add(clockSkew)
	c.inserts++
	return true
}

// audienceIs reports whether aud names base (the only audience; scheme and
// host compared without case, trailing slash ignored). An assertion
// without aud is refused: one signed for another service must not be
// usable here.
func audienceIs(aud jwt.ClaimStrings, base string) bool {
	if len(aud) != 1 {
		return false
	}
	norm := func(s string) string { return strings.ToLower(strings.TrimRight(s, "/")) }
	return norm(aud[0]) == norm(base)
}

// authed wraps a handler with the checks of every request: a verified
// client certificate and a valid, fresh, unreplayed access assertion whose
// RPPS matches the certificate.
func (s *Server) authed(h func(http.ResponseWriter, *http.Request, *caller)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, status, err := s.authenticate(r)
		if err != nil {
			code := "security"
			if status == http.StatusUnauthorized {
				code = "login"
				w.Header().Set("WWW-Authenticate", `Carnet-Assertion realm="dmp"`)
			}
			writeOutcome(w, status, fhir.NewOutcome(code, err.Error()))
			return
		}
		// The handler answers into a buffer, sent once it has returned:
		// handlers hold the data lock while they write, and a slow link
		// (the throttle, a slow client) must not hold it for everyone.
		bw := &bufferedWriter{header: w.Header()}
		h(bw, r.WithContext(context.WithValue(r.Context(), callerKey{}, c)), c)
		w.WriteHeader(bw.status())
		_, _ = w.Write(bw.body.Bytes())
	})
}

func (s *Server) authenticate(r *http.Request) (*caller, int, error) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return nil, http.StatusUnauthorized, errors.New("a client certificate is required")
	}
	cert := r.TLS.PeerCertificates[0]
	id := credential.ParseIdentity(cert)
	if id.RPPS == "" {
		return nil, http.StatusForbidden, errors.New("the client certificate names no practitioner")
	}
	raw := r.Header.Get(fhir.AssertionHeader)
	if raw == "" {
		return nil, http.StatusUnauthorized, fmt.Errorf("missing access assertion (%s header)", fhir.AssertionHeader)
	}
	now := s.now()
	var cl claims
	_, err := jwt.ParseWithClaims(raw, &cl, func(t *jwt.Token) (any, error) {
		switch cert.PublicKey.(type) {
		case *rsa.PublicKey:
			if _, ok := t.Method.(*jwt.SigningMethodRSA); ok {
				return cert.PublicKey, nil
			}
			if _, ok := t.Method.(*jwt.SigningMethodRSAPSS); ok {
				return cert.PublicKey, nil
			}
		case *ecdsa.PublicKey:
			if _, ok := t.Method.(*jwt.SigningMethodECDSA); ok {
				return cert.PublicKey, nil
			}
		}
		return nil, fmt.Errorf("algorithm %s does not fit the certificate's key", t.Method.Alg())
	}, jwt.WithValidMethods([]string{"RS256", "PS256", "ES256", "ES384", "PS384", "RS384"}),
		jwt.WithTimeFunc(func() time.Time { return now }), jwt.WithLeeway(clockSkew),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt())
	if err != nil {
		return nil, http.StatusUnauthorized, fmt.Errorf("access assertion rejected: %v", err)
	}
	if cl.IssuedAt == nil {
		return nil, http.StatusUnauthorized, errors.New("access assertion rejected: no iat")
	}
	if life := cl.ExpiresAt.Sub(cl.IssuedAt.Time); life > fhir.MaxAssertionLifetime*time.Second || life <= 0 {
		return nil, http.StatusUnauthorized, fmt.Errorf("access assertion rejected: lifetime %s exceeds %ds", life, fhir.MaxAssertionLifetime)
	}
	if cl.ID == "" {
		return nil, http.StatusUnauthorized, errors.New("access assertion rejected: no jti")
	}
	if !audienceIs(cl.Audience, s.baseURL(r)) {
		return nil, http.StatusUnauthorized, fmt.Errorf("access assertion rejected: aud %q does not name this service (%s)", []string(cl.Audience), s.baseURL(r))
	}
	// Replays are keyed by the practitioner the certificate names: one
	// practitioner's jti never blocks another's.
	if !s.jtis.use(id.RPPS+"\x00"+cl.ID, cl.ExpiresAt.Time, now) {
		return nil, http.StatusUnauthorized, errors.New("access assertion rejected: jti already used (replay)")
	}
	if cl.RPPS != id.RPPS {
		return nil, http.StatusForbidden, errors.New("access assertion rpps does not match the client certificate")
	}
	if cl.Subject != "" && cl.Subject != id.RPPS {
		return nil, http.StatusForbidden, errors.New("access assertion sub does not match the client certificate")
	}
	switch cl.Mode {
	case fhir.ModeNormal, fhir.ModeEmergency, fhir.ModeRegulation:
	default:
		return nil, http.StatusBadRequest, fmt.Errorf("access assertion: unknown mode %q", cl.Mode)
	}
	if cl.Software == "" {
		return nil, http.StatusBadRequest, errors.New("access assertion: software is required")
	}
	c := &caller{RPPS: id.RPPS, Name: id.Name, Profession: id.Profession.Code, Structure: id.Structure.ID, StructureName: id.Structure.Name,
		Roles: id.Roles, Mode: cl.Mode, Justification: cl.Justification}
	if c.Profession == "" {
		c.Profession = cl.Profession
	}
	if cl.PatientINS != "" {
		c.Patient = fhir.ParseToken(cl.PatientINS)
	}
	return c, 0, nil
}

// checkPatient verifies that the assertion is for the patient tok.
func checkPatient(w http.ResponseWriter, c *caller, tok fhir.Token) bool {
	if c.Patient.Value == "" {
		writeOutcome(w, http.StatusForbidden, fhir.NewOutcome("security", "the access assertion names no patient (patient_ins)"))
		return false
	}
	if c.Patient != tok {
		writeOutcome(w, http.StatusForbidden, fhir.NewOutcome("security", "the access assertion is for another patient"))
		return false
	}
	return true
}

// op is what a request does to a record, for the access rules.
type op int

const (
	opRead      op = iota // search, read, retrieve, traces
	opFeed                // provide (ITI-65)
	opAuthorize           // record an authorisation (TD0.3)
	opUpdate              // metadata update, delete (author only, checked by the handler)
)

// authorised reports whether rpps holds an unexpired authorisation, or is
// the médecin traitant.
func (s *Server) authorised(rec *record, rpps string) bool {
	if rec.Treating == rpps && rpps != "" {
		return true
	}
	until, ok := rec.Authz[rpps]
	return ok && s.now().Before(until)
}

// access applies the DMP's rules (reference §1.4): record exists and is
// open, profession allowed, professional not blocked, then the mode: normal
// needs an authorisation (for reading), bris de glace a justification,
// centre de régulation the regulation role. Feeding needs no authorisation
// but a qualified identity. "" means allowed.
func (s *Server) access(rec *record, c *caller, o op) app.DenialReason {
	switch {
	case rec == nil || !rec.Exists:
		return app.DeniedNoRecord
	case !allowedProfessions[c.Profession]:
		return app.DeniedProfession
	case rec.Closed:
		return app.DeniedClosed
	case rec.Blocked[c.RPPS]:
		return app.DeniedBlocked
	}
	switch c.Mode {
	case fhir.ModeEmergency:
		if !fhir.JustificationOK(c.Justification) {
			return app.DeniedJustification
		}
	case fhir.ModeRegulation:
		if !c.hasRole(app.RoleRegulation) {
			return app.DeniedNotRegulator
		}
	}
	switch o {
	case opFeed:
		if rec.Patient.Status != app.IdentityQualified {
			return app.DeniedNotQualified
		}
	case opRead, opUpdate:
		if c.Mode == fhir.ModeNormal && !s.authorised(rec, c.RPPS) {
			return app.DeniedNoAuthorization
		}
	}
	return ""
}
