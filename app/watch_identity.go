package app

import (
	"context"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The identity an operating list carries. The clinic's identity system
// (GAM), which exports the list, is the source of a patient's identity:
// Carnet never takes it from the central service (RG_0320), and uses the
// INS only for a qualified identity (RNIV). So a patient of the list who is
// not yet in the vault is added only when the list itself gives a
// qualified, complete identity, and the central service is asked only
// whether a record exists for that INS.

// ListedIdentity is the identity of an operating-list row: the strict
// traits and the identity status, as the clinic's identity system exported
// them. A trait the list does not give, or gives unreadable, is empty.
type ListedIdentity struct {
	Status          IdentityStatus // QUAL, VALI, RECUP or PROV
	BirthName       string         // nom de naissance
	BirthGivenNames string         // prénoms de naissance, space-separated
	BirthDate       string         // YYYY-MM-DD
	Sex             Sex            // F, M or U
	BirthPlace      string         // COG code of the birth place, 5 characters
}

// OperatingListReason says, as a code the UI translates, why an entry of an
// operating list was not scheduled.
type OperatingListReason string

// The reasons of OperatingListResult.ToIdentify.
const (
	// ListNotQualified: the INS is unknown to the vault and the list
	// gives no qualified identity (PROV, VALI, RECUP, or no status): the
	// INS may not be used; nothing was asked.
	ListNotQualified OperatingListReason = "not-qualified"
	// ListTraitsIncomplete: qualified, but a strict trait (birth name,
	// birth given names, birth date, sex F/M, birth place) is missing or
	// unreadable; nothing was asked.
	ListTraitsIncomplete OperatingListReason = "traits-incomplete"
	// ListTraitsDisagree: the traits of the list disagree with the
	// vault's identity carrying this INS (or two rows give the INS two
	// identities): an identity-vigilance alert; nothing was scheduled.
	ListTraitsDisagree OperatingListReason = "traits-disagree"
	// ListNoRecord: the central service has no record for this INS.
	ListNoRecord OperatingListReason = "no-record"
	// ListNoAccess: a record exists but this practitioner may not read
	// it (no authorisation, blocked, closed).
	ListNoAccess OperatingListReason = "no-access"
	// ListNotSignedIn: nobody is signed in: the central service could
	// not be asked.
	ListNotSignedIn OperatingListReason = "not-signed-in"
	// ListOffline: the central service did not answer.
	ListOffline OperatingListReason = "offline"
	// ListLookupFailed: the central service answered with an error.
	ListLookupFailed OperatingListReason = "lookup-failed"
	// ListINSUnsure: the INS was not read from the list's INS column (or
	// iCalendar X-INS) but from free text or another property, or the row
	// gives two: it may schedule a patient the vault knows, never add one;
	// nothing was asked.
	ListINSUnsure OperatingListReason = "ins-unsure"
)

// statusConflict is the status of a row whose status columns disagree
// (say PROV in one, VALI in the legacy HL7 one): not qualified.
const statusConflict IdentityStatus = "conflict"

// listColumn is a column of an operating list (CSV header, or iCalendar X-
// property without its "X-").
type listColumn int

const (
	colINS listColumn = iota + 1
	colDate
	colOID
	colBirthName
	colGivenNames
	colBirthDate
	colSex
	colBirthPlace
	colStatus
	colStatusHL7 // legacy HL7 v2 table 0445, whose VALI meant qualified
)

// listColumns maps column names (columnKey: folded, letters and digits
// only), French and English, to columns.
var listColumns = map[string]listColumn{
	"ins": colINS, "matriculeins": colINS, "insmatricule": colINS, "matricule": colINS,
	"date": colDate, "dateintervention": colDate, "datedintervention": colDate, "interventiondate": colDate,
	"oid": colOID, "insoid": colOID, "oidins": colOID,
	"nomdenaissance": colBirthName, "nomnaissance": colBirthName, "birthname": colBirthName,
	"prenomsdenaissance": colGivenNames, "prenomsnaissance": colGivenNames, "prenomdenaissance": colGivenNames,
	"prenoms": colGivenNames, "birthgivennames": colGivenNames, "givennames": colGivenNames, "birthgivenname": colGivenNames,
	"datedenaissance": colBirthDate, "datenaissance": colBirthDate, "birthdate": colBirthDate, "dateofbirth": colBirthDate, "ddn": colBirthDate,
	"sexe": colSex, "sex": colSex,
	"lieudenaissance": colBirthPlace, "lieunaissance": colBirthPlace, "birthplace": colBirthPlace, "cognaissance": colBirthPlace,
	"statut": colStatus, "status": colStatus, "statutidentite": colStatus, "statutdelidentite": colStatus, "identitystatus": colStatus,
	"statuthl7": colStatusHL7, "statushl7": colStatusHL7, "statuthl7v2": colStatusHL7, "statushl7v2": colStatusHL7,
}

// columnKey folds a column name: "Date de naissance" → "datedenaissance".
func columnKey(s string) string {
	if len(s) > 64 {
		return ""
	}
	return strings.ReplaceAll(Fold(s), " ", "")
}

// headerColumns reads a header row: nil unless it holds no INS and names
// the INS or date column.
func headerColumns(fields []string) map[int]listColumn {
	cols := map[int]listColumn{}
	key := false
	for j, f := range fields {
		if _, ok := findINS(f, true); ok {
			return nil
		}
		if c, ok := listColumns[columnKey(f)]; ok {
			if _, dup := cols[j]; !dup {
				cols[j] = c
			}
			key = key || c == colINS || c == colDate
		}
	}
	if !key {
		return nil
	}
	return cols
}

// setTrait reads one identity field of the row; an unreadable value is
// left empty (the identity is then incomplete), never guessed.
func (s *Scheduled) setTrait(c listColumn, v string) {
	id := &s.Identity
	switch c {
	case colOID:
		switch v = strings.TrimSpace(strings.TrimPrefix(v, "urn:oid:")); v {
		case OIDINSNIR, OIDINSNIA, OIDINSNIRTest, OIDINSNIRDemo:
			s.OID = v
		}
	case colBirthName:
		id.BirthName = listName(v)
	case colGivenNames:
		id.BirthGivenNames = listName(v)
	case colBirthDate:
		id.BirthDate = listBirthDate(v)
	case colSex:
		id.Sex = listSex(v)
	case colBirthPlace:
		if p := strings.ToUpper(strings.TrimSpace(v)); len(p) == 5 && isAlnum(p) {
			id.BirthPlace = p
		}
	case colStatus, colStatusHL7:
		// Two status columns that disagree make the row not qualified.
		switch st := listStatus(v, c == colStatusHL7); {
		case id.Status == "":
			id.Status = st
		case st != "" && st != id.Status:
			id.Status = statusConflict
		}
	}
}

// listName keeps a name of 1–100 characters made of letters, spaces,
// hyphens and apostrophes (white space collapsed); anything else is
// unreadable ("").
func listName(v string) string {
	v = squash(v)
	if v == "" || utf8.RuneCountInString(v) > 100 || !utf8.ValidString(v) {
		return ""
	}
	letter := false
	for _, r := range v {
		switch {
		case unicode.IsLetter(r):
			letter = true
		case r == ' ', r == '-', r == '\'', r == '’':
		default:
			return ""
		}
	}
	if !letter {
		return ""
	}
	return v
}

// listBirthDate reads YYYY-MM-DD, DD/MM/YYYY or YYYYMMDD into YYYY-MM-DD,
// as a string (a birth date is never a time.Time: day or month 00 exist).
func listBirthDate(v string) string {
	v = strings.TrimSpace(v)
	var y, m, d string
	switch {
	case len(v) == 10 && v[4] == '-' && v[7] == '-':
		y, m, d = v[:4], v[5:7], v[8:]
	case len(v) == 10 && v[2] == '/' && v[5] == '/':
		y, m, d = v[6:], v[3:5], v[:2]
	case len(v) == 8:
		y, m, d = v[:4], v[4:6], v[6:]
	default:
		return ""
	}
	if !isDigits(y+m+d) || y < "1850" || y > "2100" || m > "12" || d > "31" {
		return ""
	}
	return y + "-" + m + "-" + d
}

// listSex reads F, M or U, in letters or words (French or English).
func listSex(v string) Sex {
	switch Fold(strings.TrimSpace(v)) {
	case "f", "feminin", "femme", "female", "2":
		return SexFemale
	case "m", "h", "masculin", "homme", "male", "1":
		return SexMale
	case "u", "i", "inconnu", "indetermine", "unknown":
		return SexUnknown
	}
	return ""
}

// listStatus reads an identity status. In the legacy HL7 v2 column, VALI
// meant qualified.
func listStatus(v string, hl7 bool) IdentityStatus {
	st := IdentityStatus(strings.ToUpper(strings.TrimSpace(v)))
	switch Fold(strings.TrimSpace(v)) {
	case "qualifiee":
		st = IdentityQualified
	case "validee":
		st = IdentityValidated
	case "recuperee":
		st = IdentityRecovered
	case "provisoire":
		st = IdentityProvisional
	}
	if hl7 {
		switch st {
		case IdentityValidated:
			return IdentityQualified
		case IdentityProvisional:
			return IdentityProvisional
		}
		return ""
	}
	switch st {
	case IdentityQualified, IdentityValidated, IdentityRecovered, IdentityProvisional:
		return st
	}
	return ""
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func isAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		if !alnum(s[i]) {
			return false
		}
	}
	return true
}

// firstGiven is the first birth given name, folded.
func firstGiven(names string) string {
	f := strings.Fields(Fold(names))
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

// Agrees reports whether the strict traits the list gives (birth name,
// first birth given name, birth date, sex; those it does not give are not
// compared) agree with the local identity p: names compared folded (case,
// accents and punctuation aside), date and sex exactly.
func (id ListedIdentity) Agrees(p Patient) bool {
	switch {
	case id.BirthName != "" && squash(Fold(id.BirthName)) != squash(Fold(p.BirthName)):
		return false
	case id.BirthGivenNames != "" && firstGiven(id.BirthGivenNames) != firstGiven(p.BirthGivenNames):
		return false
	case id.BirthDate != "" && id.BirthDate != p.BirthDate:
		return false
	case id.Sex != "" && id.Sex != p.Sex:
		return false
	}
	return true
}

// lookupable returns why the central service may not be asked about this
// identity ("" when it may): it must be qualified and complete.
func (id ListedIdentity) lookupable() OperatingListReason {
	switch {
	case id.Status != IdentityQualified:
		return ListNotQualified
	case id.BirthName == "", id.BirthGivenNames == "", len(id.BirthDate) != 10,
		strings.HasSuffix(id.BirthDate, "-00"), strings.Contains(id.BirthDate, "-00-"),
		id.Sex != SexFemale && id.Sex != SexMale, id.BirthPlace == "":
		return ListTraitsIncomplete
	}
	return ""
}

// sameAs reports whether two rows give the same identity.
func (id ListedIdentity) sameAs(o ListedIdentity) bool {
	return id.Agrees(o.patient()) && o.Agrees(id.patient()) && id.BirthPlace == o.BirthPlace
}

// patient is the local identity the traits make (no ID, INS or dates).
func (id ListedIdentity) patient() Patient {
	return Patient{Status: id.Status, BirthName: id.BirthName, BirthGivenNames: id.BirthGivenNames,
		BirthDate: id.BirthDate, Sex: id.Sex, BirthPlace: id.BirthPlace}
}

// ListedPatient is the local identity an entry of Lookup makes once the
// central service has confirmed a record for its INS: the list's traits
// and status, its INS (domain: the list's OID, else INS-NIR, or INS-NIA for
// a matricule starting with 7 or 8), scheduled for the entry's date. The
// ID is empty (the Store draws one).
func ListedPatient(s Scheduled) Patient {
	p := s.Identity.patient()
	p.BirthName = strings.ToUpper(p.BirthName)
	p.BirthGivenNames = strings.ToUpper(p.BirthGivenNames)
	oid := s.OID
	if oid == "" {
		oid = OIDINSNIR
		if strings.HasPrefix(s.Matricule, "7") || strings.HasPrefix(s.Matricule, "8") {
			oid = OIDINSNIA
		}
	}
	p.INS = INS{Matricule: s.Matricule, OID: oid}
	p.Scheduled = s.Date
	return p
}

// listedKey is the context key of WithListedIdentity.
type listedKey struct{}

// WithListedIdentity returns a context in which the gate of the central
// service lets one call through for an INS no local identity carries yet:
// a record lookup (FindPatient, TD0.2) for p, a qualified identity exported
// by the clinic's identity system with the operating list (ListedPatient).
// Every other call, and a p that is not qualified, stay gated.
func WithListedIdentity(ctx context.Context, p Patient) context.Context {
	return context.WithValue(ctx, listedKey{}, p)
}

// listedIdentity returns the identity of WithListedIdentity when it is
// qualified and carries ins.
func listedIdentity(ctx context.Context, ins INS) bool {
	p, ok := ctx.Value(listedKey{}).(Patient)
	return ok && p.Status == IdentityQualified && p.INS == ins
}
