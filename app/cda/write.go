package cda

// The CDA writer: documents authored in Carnet (a consultation note, the
// pre-anesthesia consultation) following the CI-SIS header rules
// ("structuration minimale"), ready to be pushed to the DMP. This file holds
// the input types shared by every document and their checks; write_xml.go
// the header, write_note.go and write_anest.go the bodies, write_pdf.go the
// PDF rendering of N1 notes.

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"math/big"
	"regexp"
	"strings"
	"time"

	"github.com/carnetdesk/carnet/app"
)

// OIDs written in document headers.
const (
	// OIDPractitionerID is the root of the national identifier of health
	// professionals ("8" + RPPS), as in author/assignedAuthor/id.
	OIDPractitionerID = "1.2.250.1.71.4.2.1"
	// OIDStructureID is the root of the national identifier of structures
	// ("1" + FINESS, "3" + SIRET).
	OIDStructureID = "1.2.250.1.71.4.2.2"
	// OIDProfession is TRE_G15 (profession and speciality, e.g. G15_10/SM02).
	OIDProfession = "1.2.250.1.213.1.1.4.5"
	// OIDFacilityType is TRE_R02 (healthcare facility type, e.g. SA01,
	// SA07): the XDS healthcareFacilityTypeCode.
	OIDFacilityType = "1.2.250.1.71.4.2.4"
	// OIDPracticeSetting is the code system of the practice setting
	// (standardIndustryClassCode, e.g. ETABLISSEMENT, AMBULATOIRE).
	OIDPracticeSetting = "1.2.250.1.213.1.1.4.9"
	// OIDConfidentiality is HL7 Confidentiality (N, R, V).
	OIDConfidentiality = "2.16.840.1.113883.5.25"
	// OIDVisibility is TRE_A07 StatutVisibiliteDocument (MASQUE_PS,
	// INVISIBLE_PATIENT, INVISIBLE_REPRESENTANTS_LEGAUX).
	OIDVisibility = "1.2.250.1.213.1.1.4.13"
	// OIDEDQM is the EDQM Standard Terms (routes, dose forms).
	OIDEDQM = "0.4.0.127.0.16.1.1.2.1"
)

// Practitioner is the health professional who writes (author) or signs
// (legal authenticator) a document written in Carnet.
type Practitioner struct {
	RPPS       string   // 11-digit RPPS number; written as "8"+RPPS under OIDPractitionerID
	Prefix     string   // civilité as in the samples ("M", "MME"), optional
	Suffix     string   // title ("DR", "PR"), optional
	Given      string   // given name
	Family     string   // family name
	Profession app.Code // TRE_G15 profession/speciality, e.g. {G15_10/SM02, 1.2.250.1.213.1.1.4.5, "Médecin - Anesthésie-réanimation (SM)"}
	Structure  Structure
}

// Structure is the organisation a practitioner works for: the represented
// organisation of the author, and by default the custodian and the place of
// the encounter.
type Structure struct {
	FINESS          string   // 9-character FINESS (written "1"+FINESS); or
	SIRET           string   // 14-digit SIRET (written "3"+SIRET)
	Name            string   // name of the structure
	FacilityType    app.Code // TRE_R02 facility type (SA01 …), required: it becomes the XDS healthcareFacilityTypeCode
	PracticeSetting app.Code // practice setting (ETABLISSEMENT, AMBULATOIRE …), optional
}

// Visibility is how visible a document is, chosen by the author at feeding
// time (reference §1.5). The CDA confidentialityCode carries only the HL7 level
// (N, R, V); the DMP visibility codes go into the XDS/FHIR metadata, which
// Codes returns.
type Visibility struct {
	Level                          string // "N" (default), "R" or "V"
	MaskedToProfessionals          bool   // MASQUE_PS
	HiddenFromPatient              bool   // INVISIBLE_PATIENT (e.g. before an "annonce")
	HiddenFromLegalRepresentatives bool   // INVISIBLE_REPRESENTANTS_LEGAUX (minor's connexion secrète)
}

var confidentialityNames = map[string]string{"N": "Normal", "R": "Restreint", "V": "Très restreint"}

// Confidentiality returns the HL7 confidentialityCode written in the CDA
// header.
func (v Visibility) Confidentiality() app.Code {
	l := v.Level
	if l == "" {
		l = "N"
	}
	return app.Code{Code: l, System: OIDConfidentiality, Display: confidentialityNames[l]}
}

// Codes returns the XDS confidentialityCode list (JDV_J08) for the
// document's metadata: the HL7 level, then each DMP visibility code set.
func (v Visibility) Codes() []app.Code {
	codes := []app.Code{v.Confidentiality()}
	if v.MaskedToProfessionals {
		codes = append(codes, app.Code{Code: "MASQUE_PS", System: OIDVisibility, Display: "Masqué aux professionnels de santé"})
	}
	if v.HiddenFromPatient {
		codes = append(codes, app.Code{Code: "INVISIBLE_PATIENT", System: OIDVisibility, Display: "Non visible par le patient"})
	}
	if v.HiddenFromLegalRepresentatives {
		codes = append(codes, app.Code{Code: "INVISIBLE_REPRESENTANTS_LEGAUX", System: OIDVisibility, Display: "Non visible par les représentants légaux du patient"})
	}
	return codes
}

func (v Visibility) check() error {
	if _, ok := confidentialityNames[v.Confidentiality().Code]; !ok {
		return invalid("confidentiality level must be N, R or V")
	}
	// EX_2.1-1050: not both invisible to the patient and masked to
	// professionals while the DMP parameter cumul-invisible_patient-masque_ps
	// is false, which is the default.
	if v.MaskedToProfessionals && v.HiddenFromPatient {
		return invalid("a document cannot be both masked to professionals and invisible to the patient")
	}
	return nil
}

// Previous identifies the version a new document replaces: the new document
// keeps SetID, takes Version+1 and points to ID with relatedDocument RPLC.
type Previous struct {
	ID      app.DocumentID // uniqueId of the replaced version
	SetID   string         // its setId
	Version int            // its versionNumber
}

// PreviousOf returns the Previous of a parsed document, to write its
// replacement.
func PreviousOf(d *Document) Previous {
	return Previous{ID: d.ID, SetID: d.SetID, Version: d.Version}
}

// WriteOptions are the choices made when a document is written. The zero
// value writes a new document (version 1) created now, with random ids.
type WriteOptions struct {
	// Created is the creation time of the document (effectiveTime,
	// author/time, legalAuthenticator/time). Zero: time.Now().
	Created time.Time
	// ID is the uniqueId to write; empty: a new 2.25.<UUID> OID is
	// generated. Generate it with NewUniqueID beforehand to know it (the
	// outbox keys on it).
	ID app.DocumentID
	// SetID is the setId of a new document; empty: generated. Ignored when
	// Replaces is set.
	SetID string
	// Replaces, when set, makes the document a replacement of that version.
	Replaces *Previous
	// Rand is the source of randomness for generated ids; nil: crypto/rand.
	// Tests pass a fixed stream to get byte-identical documents.
	Rand io.Reader
	// AllowTestINS accepts test and demo INS domains (…4.10, …4.11), for
	// test platforms only. Production builds leave it false.
	AllowTestINS bool
	// Custodian is the organisation keeping the document; nil: the author's
	// structure.
	Custodian *Structure
}

// invalid returns a writer error wrapping app.ErrInvalid. reason never
// contains patient data.
func invalid(reason string) error {
	return fmt.Errorf("cda: write: %s: %w", reason, app.ErrInvalid)
}

// ErrNotQualified is returned when the patient's identity is not qualified
// (QUAL) or its INS does not validate: the INS may not be written, and a DMP
// document may not be written without it. It wraps app.ErrInvalid.
var ErrNotQualified = fmt.Errorf("cda: write: patient identity is not qualified (QUAL) with a valid INS: %w", app.ErrInvalid)

var (
	reOID        = regexp.MustCompile(`^[0-2](\.(0|[1-9][0-9]*))+$`)
	reUUID       = regexp.MustCompile(`^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$`)
	reDigits     = regexp.MustCompile(`^[0-9]+$`)
	reFINESS     = regexp.MustCompile(`^[0-9]{2}[0-9AB][0-9]{6}$`)
	reATC        = regexp.MustCompile(`^[A-Z]([0-9]{2}([A-Z]([A-Z]([0-9]{2})?)?)?)?$`)
	reCodeToken  = regexp.MustCompile(`^[^\s<>&"']{1,64}$`)
	reDecimal    = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?$`)
	errShortRand = errors.New("cda: write: random source exhausted")
)

// NewUniqueID returns a new document uniqueId: the OID 2.25.<n>, where n is
// a random (version 4) UUID read as a 128-bit unsigned integer (ITU-T X.667
// / ISO/IEC 9834-8 §6.3). It is a plain OID, so it fits the XDS uniqueId
// rule (OID, at most 64 characters: here at most 44) without a registered
// Carnet root. r nil means crypto/rand.
func NewUniqueID(r io.Reader) (app.DocumentID, error) {
	u, err := newUUID(r)
	if err != nil {
		return "", err
	}
	return app.DocumentID("2.25." + new(big.Int).SetBytes(u[:]).String()), nil
}

func newUUID(r io.Reader) ([16]byte, error) {
	var u [16]byte
	if r == nil {
		r = rand.Reader
	}
	if _, err := io.ReadFull(r, u[:]); err != nil {
		return u, errShortRand
	}
	u[6] = u[6]&0x0f | 0x40 // version 4
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	return u, nil
}

// uuidString formats u as the samples write entry ids: upper-case, dashed.
func uuidString(u [16]byte) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b.WriteByte('-')
		}
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// splitID splits a uniqueId (root or root^extension) and checks it.
func splitID(s, what string) (ID, error) {
	root, ext, _ := strings.Cut(s, "^")
	if len(s) > 64 {
		return ID{}, invalid(what + " is longer than 64 characters")
	}
	if !reOID.MatchString(root) && !reUUID.MatchString(root) {
		return ID{}, invalid(what + " root is neither an OID nor a UUID")
	}
	if strings.Contains(s, "^") && !reCodeToken.MatchString(ext) {
		return ID{}, invalid(what + " extension is empty or malformed")
	}
	return ID{Root: root, Extension: ext}, nil
}

// qualifiedINS returns the INS the document may carry, or ErrNotQualified.
func qualifiedINS(p app.Patient, allowTest bool) (app.INS, error) {
	if p.Status != app.IdentityQualified {
		return app.INS{}, ErrNotQualified
	}
	ins, err := app.ParseINS(p.INS.Matricule, p.INS.OID)
	if err != nil {
		return app.INS{}, ErrNotQualified
	}
	if !ins.Production() && !allowTest {
		return app.INS{}, invalid("the INS belongs to a test or demo domain")
	}
	return ins, nil
}

func checkPatient(p app.Patient) error {
	if strings.TrimSpace(p.BirthName) == "" || strings.TrimSpace(p.BirthGivenNames) == "" {
		return invalid("patient birth name and birth given names are required")
	}
	if _, err := time.Parse("2006-01-02", p.BirthDate); err != nil {
		return invalid("patient birth date must be YYYY-MM-DD")
	}
	switch p.Sex {
	case app.SexFemale, app.SexMale, app.SexUnknown:
	default:
		return invalid("patient sex must be F, M or U")
	}
	if p.BirthPlace != "" && !reCodeToken.MatchString(p.BirthPlace) {
		return invalid("patient birth place must be an INSEE code")
	}
	return nil
}

func (s Structure) id() (ID, error) {
	switch {
	case s.FINESS != "" && s.SIRET != "":
		return ID{}, invalid("structure has both a FINESS and a SIRET")
	case s.FINESS != "":
		if !reFINESS.MatchString(s.FINESS) {
			return ID{}, invalid("structure FINESS must have 9 characters")
		}
		return ID{Root: OIDStructureID, Extension: "1" + s.FINESS}, nil
	case s.SIRET != "":
		if len(s.SIRET) != 14 || !reDigits.MatchString(s.SIRET) {
			return ID{}, invalid("structure SIRET must have 14 digits")
		}
		return ID{Root: OIDStructureID, Extension: "3" + s.SIRET}, nil
	}
	return ID{}, invalid("structure needs a FINESS or a SIRET")
}

func (s Structure) check(what string) error {
	if _, err := s.id(); err != nil {
		return err
	}
	if strings.TrimSpace(s.Name) == "" {
		return invalid(what + " structure name is required")
	}
	if err := checkCode(s.FacilityType, what+" facility type", true); err != nil {
		return err
	}
	return checkCode(s.PracticeSetting, what+" practice setting", false)
}

func (p Practitioner) check(what string) error {
	if len(p.RPPS) != 11 || !reDigits.MatchString(p.RPPS) {
		return invalid(what + " RPPS must have 11 digits")
	}
	if strings.TrimSpace(p.Family) == "" {
		return invalid(what + " family name is required")
	}
	if err := checkCode(p.Profession, what+" profession", true); err != nil {
		return err
	}
	return p.Structure.check(what)
}

// checkCode checks that a code and its system are plain tokens.
func checkCode(c app.Code, what string, required bool) error {
	if c.IsZero() {
		if required {
			return invalid(what + " code is required")
		}
		return nil
	}
	if !reCodeToken.MatchString(c.Code) || !reOID.MatchString(c.System) {
		return invalid(what + " code or code system is malformed")
	}
	return nil
}

// ids holds the identifiers of a document being written.
type ids struct {
	id, setID ID
	version   int
	replaces  ID
	rand      io.Reader
}

func newIDs(opt WriteOptions) (ids, error) {
	r := opt.Rand
	if r == nil {
		r = rand.Reader
	}
	out := ids{rand: r, version: 1}
	id := opt.ID
	if id == "" {
		var err error
		if id, err = NewUniqueID(r); err != nil {
			return out, err
		}
	}
	var err error
	if out.id, err = splitID(string(id), "uniqueId"); err != nil {
		return out, err
	}
	setID := opt.SetID
	if p := opt.Replaces; p != nil {
		if p.Version < 1 {
			return out, invalid("replaced version number must be at least 1")
		}
		if out.replaces, err = splitID(string(p.ID), "replaced uniqueId"); err != nil {
			return out, err
		}
		if p.ID == id {
			return out, invalid("a replacement needs a new uniqueId")
		}
		setID, out.version = p.SetID, p.Version+1
		if setID == "" {
			return out, invalid("replaced setId is required")
		}
	} else if setID == "" {
		s, err := NewUniqueID(r)
		if err != nil {
			return out, err
		}
		setID = string(s)
	}
	out.setID, err = splitID(setID, "setId")
	return out, err
}

// entryID returns a new random id for a section or an entry.
func (x *ids) entryID() (string, error) {
	u, err := newUUID(x.rand)
	if err != nil {
		return "", err
	}
	return uuidString(u), nil
}
