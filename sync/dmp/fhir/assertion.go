package fhir

import (
	"strings"
	"unicode"
)

// AssertionHeader is the HTTP header that carries the signed access
// assertion on every request: a compact JWS (JWT) signed with the
// practitioner credential's private key, the key of the TLS client
// certificate (RS256, PS256 or ES256). A custom header rather than
// Authorization, so it never collides with a gateway's own bearer token.
const AssertionHeader = "X-Carnet-Assertion"

// MaxAssertionLifetime is the longest exp − iat a server accepts, in seconds.
const MaxAssertionLifetime = 120

// MinJustification is the number of meaningful characters (letters and
// digits) a bris de glace justification needs.
const MinJustification = 10

// JustificationOK reports whether a bris de glace justification has at
// least MinJustification letters or digits once trimmed: spaces,
// punctuation and other filler do not count.
func JustificationOK(s string) bool {
	n := 0
	for _, r := range strings.TrimSpace(s) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			n++
		}
	}
	return n >= MinJustification
}

// The access modes of the assertion's mode claim (app.AccessMode values).
const (
	ModeNormal     = "normal"
	ModeEmergency  = "bris_de_glace"
	ModeRegulation = "centre_regulation"
)

// Assertion is the Carnet-specific claims of the access assertion, the FHIR
// counterpart of the DMP's VIHF. The JWT also carries the registered claims
// iat, exp (exp − iat ≤ MaxAssertionLifetime), jti (unique, never reused by
// the same practitioner; servers reject replays), sub (the RPPS, as rpps)
// and aud (the service base URL, required: an assertion made for another
// service is refused). Embed it next to jwt.RegisteredClaims:
//
//	type claims struct {
//		jwt.RegisteredClaims
//		fhir.Assertion
//	}
type Assertion struct {
	RPPS            string   `json:"rpps"`                     // must match the client certificate
	Structure       string   `json:"structure"`                // structure id (FINESS/SIRET with prefix)
	StructureName   string   `json:"structure_name,omitempty"` // display
	Profession      string   `json:"profession"`               // TRE_G15 code, e.g. "10" médecin
	Specialty       string   `json:"specialty,omitempty"`      // TRE_R38 code
	Roles           []string `json:"roles,omitempty"`          // e.g. "regulation"
	PatientINS      string   `json:"patient_ins,omitempty"`    // Token form urn:oid:<OID>|<matricule>; required for patient data
	Mode            string   `json:"mode"`                     // ModeNormal, ModeEmergency, ModeRegulation
	Justification   string   `json:"justification,omitempty"`  // required with ModeEmergency
	Software        string   `json:"software"`                 // "Carnet"
	SoftwareVersion string   `json:"software_version"`
}
