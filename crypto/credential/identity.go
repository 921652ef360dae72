package credential

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The code systems of Identity's codes (FHIR canonical URLs of the ANS
// nomenclatures).
const (
	// SystemProfession is TRE_G15 ProfessionSante (10 = médecin …).
	SystemProfession = "https://mos.esante.gouv.fr/NOS/TRE_G15-ProfessionSante/FHIR/TRE-G15-ProfessionSante"
	// SystemSpecialty is TRE_R38 SpecialiteOrdinale (SM26 = …).
	SystemSpecialty = "https://mos.esante.gouv.fr/NOS/TRE_R38-SpecialiteOrdinale/FHIR/TRE-R38-SpecialiteOrdinale"
)

// The subject attribute types read (or written) beyond those pkix.Name has
// fields for.
var (
	OIDTitle            = asn1.ObjectIdentifier{2, 5, 4, 12}
	OIDSurname          = asn1.ObjectIdentifier{2, 5, 4, 4}
	OIDGivenName        = asn1.ObjectIdentifier{2, 5, 4, 42}
	OIDBusinessCategory = asn1.ObjectIdentifier{2, 5, 4, 15}
	OIDUID              = asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}
)

// Code is a coded value; same fields, in the same order, as app.Code, so
// that app.Code(c) converts it.
type Code struct {
	Code    string
	System  string
	Display string
}

// Structure is the organisation the practitioner works for; same fields as
// app.Structure.
type Structure struct {
	ID   string // the structure's national id as the certificate gives it ("1"+FINESS, "3"+SIRET, …)
	Name string
}

// Identity is the practitioner as the certificate names them. Its first
// fields mirror app.Practitioner; GivenName and Surname are extra.
type Identity struct {
	RPPS       string // national PS id: "8"+RPPS (or "0"+ADELI …), verbatim otherwise
	Name       string // display name
	Profession Code   // TRE_G15
	Specialty  Code   // TRE_R38, often empty
	Structure  Structure
	Roles      []string // Carnet convention (businessCategory), e.g. "regulation"
	GivenName  string
	Surname    string
}

func (id Identity) clone() Identity {
	id.Roles = append([]string(nil), id.Roles...)
	return id
}

// professions maps the TRE_G15 codes of the common professions to their
// labels; the reverse direction (label to code) is used for certificates
// whose title carries a label.
var professions = map[string]string{
	"10": "Médecin",
	"21": "Pharmacien",
	"40": "Chirurgien-Dentiste",
	"50": "Sage-Femme",
	"60": "Infirmier",
	"70": "Masseur-Kinésithérapeute",
	"80": "Pédicure-Podologue",
	"91": "Orthophoniste",
	"92": "Orthoptiste",
}

// maxField bounds every value taken from a certificate.
const maxField = 256

// ParseIdentity reads the practitioner's identity from the subject of cert
// (see the package documentation for the fields). It never fails: a missing
// or odd field gives an empty value. A nil cert gives a zero Identity.
func ParseIdentity(cert *x509.Certificate) Identity {
	if cert == nil {
		return Identity{}
	}
	return IdentityFromName(cert.Subject)
}

// IdentityFromName is ParseIdentity on a subject name.
func IdentityFromName(n pkix.Name) Identity {
	var id Identity
	attr := func(oid asn1.ObjectIdentifier) []string {
		var out []string
		for _, a := range n.Names {
			if a.Type.Equal(oid) {
				if s, ok := a.Value.(string); ok {
					if s = clean(s); s != "" {
						out = append(out, s)
					}
				}
			}
		}
		return out
	}
	first := func(vs []string) string {
		if len(vs) == 0 {
			return ""
		}
		return vs[0]
	}

	id.GivenName = first(attr(OIDGivenName))
	id.Surname = first(attr(OIDSurname))
	cn := clean(n.CommonName)

	// National id: serialNumber, else UID, else a token of the CN.
	switch {
	case clean(n.SerialNumber) != "":
		id.RPPS = normaliseID(clean(n.SerialNumber))
	case first(attr(OIDUID)) != "":
		id.RPPS = normaliseID(first(attr(OIDUID)))
	default:
		for _, t := range cnTokens(cn) {
			if looksLikeNationalID(t) {
				id.RPPS = normaliseID(t)
				break
			}
		}
	}

	// Name: the CN without its id tokens, else given name and surname.
	id.Name = nameFromCN(cn)
	if id.Name == "" {
		id.Name = strings.TrimSpace(id.GivenName + " " + id.Surname)
	}

	if t := first(attr(OIDTitle)); t != "" {
		id.Profession, id.Specialty = parseTitle(t)
	}

	var ous []string
	for _, ou := range n.OrganizationalUnit {
		if ou = clean(ou); ou != "" {
			ous = append(ous, ou)
		}
	}
	for _, ou := range ous {
		if r, _ := utf8.DecodeRuneInString(ou); unicode.IsDigit(r) {
			id.Structure.ID = ou
			break
		}
	}
	if id.Structure.ID == "" {
		id.Structure.ID = first(ous)
	}
	for _, o := range n.Organization {
		if o = clean(o); o != "" {
			id.Structure.Name = o
			break
		}
	}
	id.Roles = attr(OIDBusinessCategory)
	return id
}

// SubjectFor is the inverse of IdentityFromName: the subject name under
// which a certificate carries id, as the test CA (credtest) issues it.
// IdentityFromName(SubjectFor(id)) gives id back (Profession and Specialty
// displays and systems filled in from their codes).
func SubjectFor(id Identity) pkix.Name {
	n := pkix.Name{Country: []string{"FR"}, CommonName: id.Name, SerialNumber: id.RPPS}
	if id.Structure.Name != "" {
		n.Organization = []string{id.Structure.Name}
	}
	if id.Structure.ID != "" {
		n.OrganizationalUnit = []string{id.Structure.ID}
	}
	add := func(oid asn1.ObjectIdentifier, v string) {
		if v != "" {
			n.ExtraNames = append(n.ExtraNames, pkix.AttributeTypeAndValue{Type: oid, Value: v})
		}
	}
	add(OIDGivenName, id.GivenName)
	add(OIDSurname, id.Surname)
	title := id.Profession.Code
	if title == "" {
		title = id.Profession.Display
	}
	if id.Specialty.Code != "" {
		title += "/" + id.Specialty.Code
	}
	add(OIDTitle, title)
	for _, r := range id.Roles {
		add(OIDBusinessCategory, r)
	}
	return n
}

// parseTitle reads the title attribute: "10", "G15_10", "Médecin",
// optionally followed by "/" and a TRE_R38 specialty code ("10/SM26").
func parseTitle(t string) (prof, spec Code) {
	p, s, _ := strings.Cut(t, "/")
	p, s = strings.TrimSpace(p), strings.TrimSpace(s)
	if len(p) > 4 && strings.EqualFold(p[:4], "G15_") {
		p = p[4:]
	}
	switch {
	case p == "":
	case isDigits(p) && len(p) <= 3:
		prof = Code{Code: p, System: SystemProfession, Display: professions[p]}
	default:
		prof = Code{Display: p}
		key := foldLabel(p)
		for code, label := range professions {
			if foldLabel(label) == key {
				prof = Code{Code: code, System: SystemProfession, Display: label}
				break
			}
		}
	}
	if s != "" {
		spec = Code{Code: s, System: SystemSpecialty}
	}
	return prof, spec
}

// cnTokens splits a CN on the separators seen around national ids.
func cnTokens(cn string) []string {
	return strings.FieldsFunc(cn, func(r rune) bool {
		return r == '/' || r == ',' || r == ';' || r == '|' || unicode.IsSpace(r)
	})
}

// nameFromCN removes the national-id words from a CN ("810001234567/Jean
// DUPONT" → "Jean DUPONT"). A CN that is only an id gives "".
func nameFromCN(cn string) string {
	parts := strings.FieldsFunc(cn, func(r rune) bool { return r == '/' || r == '|' || r == ';' })
	var keep []string
	for _, p := range parts {
		for _, w := range strings.Fields(p) {
			if !looksLikeNationalID(w) {
				keep = append(keep, w)
			}
		}
	}
	return strings.Join(keep, " ")
}

// looksLikeNationalID matches "8"+RPPS (12 digits), a bare RPPS (11
// digits) and "0"+ADELI (10 characters, digits but for the Corsican 2A/2B).
func looksLikeNationalID(s string) bool {
	switch len(s) {
	case 11, 12:
		return isDigits(s) && (len(s) == 11 || s[0] == '8')
	case 10:
		if s[0] != '0' {
			return false
		}
		for i := 1; i < len(s); i++ {
			c := s[i]
			if !(c >= '0' && c <= '9') && !(i == 2 && (c == 'A' || c == 'B')) {
				return false
			}
		}
		return true
	}
	return false
}

// normaliseID gives a bare 11-digit RPPS its "8" prefix and keeps anything
// else verbatim.
func normaliseID(s string) string {
	if len(s) == 11 && isDigits(s) {
		return "8" + s
	}
	return s
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// clean makes a certificate value safe to show: valid UTF-8, no control
// characters, inner spaces collapsed, trimmed, at most maxField runes.
func clean(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	space, n := false, 0
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) || r == '\u200b' || r == '\ufeff' {
			space = true
			continue
		}
		if n >= maxField {
			break
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
			n++
		}
		space = false
		b.WriteRune(r)
		n++
	}
	return b.String()
}

// foldLabel lowercases a label and drops accents, spaces and hyphens, to
// compare profession labels ("Chirurgien-dentiste", "CHIRURGIEN DENTISTE").
func foldLabel(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch r {
		case 'é', 'è', 'ê', 'ë':
			r = 'e'
		case 'à', 'â', 'ä':
			r = 'a'
		case 'î', 'ï':
			r = 'i'
		case 'ô', 'ö':
			r = 'o'
		case 'ù', 'û', 'ü':
			r = 'u'
		case 'ç':
			r = 'c'
		case ' ', '-', '_', '\'', '.':
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
