package fhir

import (
	"fmt"
	"strings"
	"time"

	"github.com/carnetdesk/carnet/app"
)

// URNOID returns "urn:oid:" + oid (unchanged when already prefixed).
func URNOID(oid string) string {
	if strings.HasPrefix(oid, "urn:oid:") {
		return oid
	}
	return "urn:oid:" + oid
}

// TrimURNOID returns the bare OID of "urn:oid:…" (unchanged otherwise).
func TrimURNOID(s string) string { return strings.TrimPrefix(s, "urn:oid:") }

// Token is a search token: system|value.
type Token struct {
	System string
	Value  string
}

// String returns "system|value" (or value alone when there is no system).
// Put it in url.Values: it is not escaped here.
func (t Token) String() string {
	if t.System == "" {
		return t.Value
	}
	return t.System + "|" + t.Value
}

// ParseToken splits "system|value"; a value without "|" has no system.
func ParseToken(s string) Token {
	if sys, val, ok := strings.Cut(s, "|"); ok {
		return Token{System: sys, Value: val}
	}
	return Token{Value: s}
}

// INSToken returns the INS as an identifier token: urn:oid:<OID>|<matricule>.
func INSToken(ins app.INS) Token { return Token{System: URNOID(ins.OID), Value: ins.Matricule} }

// INSIdentifier returns the INS as an Identifier.
func INSIdentifier(ins app.INS) Identifier {
	return Identifier{System: URNOID(ins.OID), Value: ins.Matricule}
}

// INSFromToken checks a token as an INS (known domain, valid key).
func INSFromToken(t Token) (app.INS, error) {
	if !strings.HasPrefix(t.System, "urn:oid:") {
		return app.INS{}, fmt.Errorf("fhir: ins system must be urn:oid: %w", app.ErrInvalid)
	}
	return app.ParseINS(t.Value, TrimURNOID(t.System))
}

// PatientRefByINS returns the conditional reference PDSm uses for subjects:
// "Patient?identifier=urn:oid:…|matricule".
func PatientRefByINS(ins app.INS) string { return "Patient?identifier=" + INSToken(ins).String() }

// PatientRefToken reads the identifier of a conditional reference
// "Patient?identifier=system|value", or of a logical reference, without
// checking it as an INS.
func PatientRefToken(r *Reference) (Token, error) {
	if r == nil {
		return Token{}, fmt.Errorf("fhir: no patient reference: %w", app.ErrInvalid)
	}
	if r.Identifier != nil {
		return Token{System: r.Identifier.System, Value: r.Identifier.Value}, nil
	}
	if q, ok := strings.CutPrefix(r.Reference, "Patient?identifier="); ok {
		return ParseToken(q), nil
	}
	return Token{}, fmt.Errorf("fhir: patient reference is not by identifier: %w", app.ErrInvalid)
}

// INSFromPatientRef reads and checks the INS of a patient reference (see
// PatientRefToken).
func INSFromPatientRef(r *Reference) (app.INS, error) {
	t, err := PatientRefToken(r)
	if err != nil {
		return app.INS{}, err
	}
	return INSFromToken(t)
}

// UniqueIDURN returns the masterIdentifier value of a document uniqueId
// given as an OID (or OID^extension per CDA, kept as is): "urn:oid:…".
// Values already in urn: form are unchanged.
func UniqueIDURN(id app.DocumentID) string {
	s := string(id)
	if strings.HasPrefix(s, "urn:") {
		return s
	}
	return "urn:oid:" + s
}

// DocumentIDFromURN is the reverse of UniqueIDURN.
func DocumentIDFromURN(v string) app.DocumentID {
	return app.DocumentID(strings.TrimPrefix(v, "urn:oid:"))
}

// Time layouts of FHIR dateTime and instant.
const (
	layoutInstant = "2006-01-02T15:04:05.000Z07:00"
)

// FormatInstant writes t as a FHIR instant in UTC with milliseconds.
func FormatInstant(t time.Time) string { return t.UTC().Format(layoutInstant) }

// ParseTime reads a FHIR date, dateTime or instant (YYYY, YYYY-MM,
// YYYY-MM-DD, or full with seconds, optional fraction and zone). Partial
// dates are the start of their period, in UTC.
func ParseTime(s string) (time.Time, error) {
	for _, l := range []string{time.RFC3339Nano, "2006-01-02T15:04Z07:00", "2006-01-02T15:04:05", "2006-01-02", "2006-01", "2006"} {
		if t, err := time.Parse(l, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("fhir: bad date %q: %w", truncate(s, 40), app.ErrInvalid)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// The DMP visibility codes (JDV_J08) and the HL7 confidentiality codes.
const (
	LabelMaskedPS        = "MASQUE_PS"
	LabelHiddenPatient   = "INVISIBLE_PATIENT"
	LabelHiddenLegalReps = "INVISIBLE_REPRESENTANTS_LEGAUX"
	LabelNormal          = "N"
)

// SecurityLabels returns the securityLabel array of a visibility: "N", then
// the DMP codes that apply.
func SecurityLabels(v app.Visibility) []CodeableConcept {
	out := []CodeableConcept{Concept(SystemConfidentiality, LabelNormal, "normal")}
	if v.MaskedToProfessionals {
		out = append(out, Concept(SystemDMPVisibility, LabelMaskedPS, "Masqué aux professionnels de santé"))
	}
	if v.HiddenFromPatient {
		out = append(out, Concept(SystemDMPVisibility, LabelHiddenPatient, "Non visible par le patient"))
	}
	if v.HiddenFromLegalReps {
		out = append(out, Concept(SystemDMPVisibility, LabelHiddenLegalReps, "Non visible par les représentants légaux"))
	}
	return out
}

// VisibilityOf reads a securityLabel array.
func VisibilityOf(labels []CodeableConcept) app.Visibility {
	var v app.Visibility
	for i := range labels {
		v.MaskedToProfessionals = v.MaskedToProfessionals || labels[i].Has("", LabelMaskedPS)
		v.HiddenFromPatient = v.HiddenFromPatient || labels[i].Has("", LabelHiddenPatient)
		v.HiddenFromLegalReps = v.HiddenFromLegalReps || labels[i].Has("", LabelHiddenLegalReps)
	}
	return v
}

// WeakETag returns the ETag of a version: W/"versionId".
func WeakETag(versionID string) string { return `W/"` + versionID + `"` }

// VersionFromETag reads the version of an ETag or If-Match value
// (W/"3", "3" or 3).
func VersionFromETag(s string) string {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "W/")
	return strings.Trim(s, `"`)
}
