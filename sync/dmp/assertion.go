package dmp

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/sync/dmp/fhir"
)

// The signed access assertion is the FHIR counterpart of the DMP's VIHF: a
// JWT carried in the fhir.AssertionHeader of every request, signed with the
// practitioner credential's key (the key of the TLS client certificate, which
// may live on a smart card: it is used only through crypto.Signer). Its
// claims say who asks (RPPS, structure, profession, roles), for which patient
// (INS as a token), in which access mode (with the bris de glace
// justification), from which software; iat, exp (iat + AssertionLifetime,
// well under fhir.MaxAssertionLifetime) and a random jti, so that a captured
// assertion cannot be replayed.

// AssertionLifetime is the validity of each assertion.
const AssertionLifetime = 2 * time.Minute

// claims is the JWT body: the registered claims and Carnet's.
type claims struct {
	jwt.RegisteredClaims
	fhir.Assertion
}

// signerMethod is a jwt.SigningMethod over a crypto.Signer: RS256 (RSA
// PKCS#1 v1.5), PS256 (RSA-PSS) or ES256 (ECDSA P-256, raw r‖s signature as
// JWS wants, converted from the signer's ASN.1). Verification works with the
// matching public key, for tests.
type signerMethod struct {
	alg string
}

// The methods the client signs with.
var (
	methodRS256 = &signerMethod{alg: "RS256"}
	methodPS256 = &signerMethod{alg: "PS256"}
	methodES256 = &signerMethod{alg: "ES256"}
)

// Alg implements jwt.SigningMethod.
func (m *signerMethod) Alg() string { return m.alg }

// Sign implements jwt.SigningMethod; key must be a crypto.Signer.
func (m *signerMethod) Sign(signingString string, key any) ([]byte, error) {
	s, ok := key.(crypto.Signer)
	if !ok {
		return nil, jwt.ErrInvalidKeyType
	}
	sum := sha256.Sum256([]byte(signingString))
	switch m.alg {
	case "RS256":
		return s.Sign(rand.Reader, sum[:], crypto.SHA256)
	case "PS256":
		return s.Sign(rand.Reader, sum[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256})
	case "ES256":
		der, err := s.Sign(rand.Reader, sum[:], crypto.SHA256)
		if err != nil {
			return nil, err
		}
		var sig struct{ R, S *big.Int }
		if _, err := asn1.Unmarshal(der, &sig); err != nil {
			return nil, fmt.Errorf("ecdsa signature: %w", err)
		}
		out := make([]byte, 64)
		sig.R.FillBytes(out[:32])
		sig.S.FillBytes(out[32:])
		return out, nil
	}
	return nil, jwt.ErrSignatureInvalid
}

// Verify implements jwt.SigningMethod with the public key (or a Signer,
// whose public key is used).
func (m *signerMethod) Verify(signingString string, sig []byte, key any) error {
	if s, ok := key.(crypto.Signer); ok {
		key = s.Public()
	}
	sum := sha256.Sum256([]byte(signingString))
	switch m.alg {
	case "RS256", "PS256":
		pub, ok := key.(*rsa.PublicKey)
		if !ok {
			return jwt.ErrInvalidKeyType
		}
		var err error
		if m.alg == "RS256" {
			err = rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig)
		} else {
			err = rsa.VerifyPSS(pub, crypto.SHA256, sum[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto, Hash: crypto.SHA256})
		}
		if err != nil {
			return jwt.ErrSignatureInvalid
		}
		return nil
	case "ES256":
		pub, ok := key.(*ecdsa.PublicKey)
		if !ok {
			return jwt.ErrInvalidKeyType
		}
		if len(sig) != 64 {
			return jwt.ErrSignatureInvalid
		}
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		if !ecdsa.Verify(pub, sum[:], r, s) {
			return jwt.ErrSignatureInvalid
		}
		return nil
	}
	return jwt.ErrSignatureInvalid
}

// chooseMethod picks the JWS algorithm for the signer's key: ES256 for a
// P-256 ECDSA key, RS256 for RSA (PKCS#1 v1.5 is what every CPS card can
// do; PS256 when the caller asks for it), an error for anything else.
func chooseMethod(s crypto.Signer, want string) (*signerMethod, error) {
	switch pub := s.Public().(type) {
	case *rsa.PublicKey:
		if want == "PS256" {
			return methodPS256, nil
		}
		if want != "" && want != "RS256" {
			return nil, fmt.Errorf("algorithm %s does not fit an RSA key", want)
		}
		return methodRS256, nil
	case *ecdsa.PublicKey:
		if pub.Curve != elliptic.P256() {
			return nil, errors.New("only P-256 ECDSA keys can sign ES256 assertions")
		}
		if want != "" && want != "ES256" {
			return nil, fmt.Errorf("algorithm %s does not fit an ECDSA key", want)
		}
		return methodES256, nil
	}
	return nil, errors.New("the credential's key type cannot sign assertions (RSA or ECDSA P-256 needed)")
}

// newJTI returns a random assertion id (128 bits, hex).
func newJTI() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("dmp: no randomness: " + err.Error())
	}
	return hex.EncodeToString(b[:])
}

// assertionClaims builds the claims of one request. ins may be zero for
// calls that concern no patient.
func (c *Client) assertionClaims(acc app.Access, ins app.INS, now time.Time) claims {
	p := acc.Practitioner
	var insTok string
	if !ins.IsZero() {
		insTok = fhir.INSToken(ins).String()
	}
	roles := append([]string(nil), p.Roles...)
	cl := claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   p.RPPS,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(AssertionLifetime)),
			ID:        newJTI(),
		},
		Assertion: fhir.Assertion{
			RPPS:            p.RPPS,
			Structure:       p.Structure.ID,
			StructureName:   p.Structure.Name,
			Profession:      p.Profession.Code,
			Specialty:       p.Specialty.Code,
			Roles:           roles,
			PatientINS:      insTok,
			Mode:            string(acc.Mode),
			Software:        c.softwareName,
			SoftwareVersion: c.softwareVersion,
		},
	}
	if c.audience != "" {
		cl.Audience = jwt.ClaimStrings{c.audience}
	}
	if acc.Mode == app.AccessEmergency {
		cl.Justification = acc.Justification
	}
	return cl
}

// sign returns the compact JWS of one request's assertion.
func (c *Client) sign(acc app.Access, ins app.INS) (string, error) {
	tok := jwt.NewWithClaims(c.method, c.assertionClaims(acc, ins, c.clock.Now()))
	s, err := tok.SignedString(c.signer)
	if err != nil {
		// a card removed or locked: the credential is unusable
		return "", err
	}
	return s, nil
}

// validateAccess checks the access context before anything is sent: the
// app rules (justification, regulation role) and the fields the assertion
// needs. INS, when given, must be well formed.
func validateAccess(op string, acc app.Access, ins *app.INS) error {
	if err := acc.Validate(); err != nil {
		var ae *app.AccessError
		if errors.As(err, &ae) {
			return &opError{op: op, msg: "access context", kind: ae}
		}
		return fail(op, app.ErrInvalid, "access context")
	}
	if acc.Mode == app.AccessEmergency && !fhir.JustificationOK(acc.Justification) {
		// what the server would refuse: padding and punctuation do not
		// make a justification
		return &opError{op: op, msg: "access context", kind: &app.AccessError{Reason: app.DeniedJustification}}
	}
	if strings.TrimSpace(acc.Practitioner.RPPS) == "" {
		return fail(op, app.ErrInvalid, "no practitioner identifier in the access context")
	}
	if ins != nil {
		if _, err := app.ParseINS(ins.Matricule, ins.OID); err != nil {
			return fail(op, app.ErrInvalid, "malformed INS")
		}
	}
	return nil
}
