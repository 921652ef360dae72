package app

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The OIDs of the INS domains. A test or demo OID where production is
// expected is a flag, not a silent fallback.
const (
	OIDINSNIR     = "1.2.250.1.213.1.4.8"  // INS-NIR, the NIR of a person born in France
	OIDINSNIA     = "1.2.250.1.213.1.4.9"  // INS-NIA, an attente number
	OIDINSNIRTest = "1.2.250.1.213.1.4.10" // test INS-NIR (examples, test platforms)
	OIDINSNIRDemo = "1.2.250.1.213.1.4.11" // demo INS-NIR (demonstration platforms)
)

// INS is the Identifiant National de Santé: a 15-character matricule (13
// characters and a 2-digit key) and the OID of its domain.
type INS struct {
	Matricule string // 13 characters then the 2-digit control key, e.g. "279035121518989"
	OID       string // one of the OIDINS… constants
}

// IsZero reports whether ins is empty.
func (ins INS) IsZero() bool { return ins.Matricule == "" && ins.OID == "" }

// Production reports whether the INS belongs to a production domain (NIR or
// NIA), as opposed to a test or demo one.
func (ins INS) Production() bool { return ins.OID == OIDINSNIR || ins.OID == OIDINSNIA }

// String returns the matricule. Never log it: use Redact.
func (ins INS) String() string { return ins.Matricule }

// ParseINS checks a matricule and its OID: 15 characters, digits except the
// Corsican department codes 2A and 2B, a known OID, and a control key equal to
// 97 − (the 13-character number mod 97). The error never repeats the input.
func ParseINS(matricule, oid string) (INS, error) {
	m := strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(matricule), " ", ""))
	switch oid {
	case OIDINSNIR, OIDINSNIA, OIDINSNIRTest, OIDINSNIRDemo:
	default:
		return INS{}, fmt.Errorf("ins: unknown domain oid: %w", ErrInvalid)
	}
	if len(m) != 15 {
		return INS{}, fmt.Errorf("ins: matricule must have 15 characters, has %d: %w", len(m), ErrInvalid)
	}
	want, err := INSKey(m[:13])
	if err != nil {
		return INS{}, fmt.Errorf("ins: matricule is not numeric: %w", ErrInvalid)
	}
	if m[13:] != want {
		return INS{}, fmt.Errorf("ins: control key does not match: %w", ErrInvalid)
	}
	return INS{Matricule: m, OID: oid}, nil
}

// INSKey computes the 2-digit control key of a 13-character NIR body (2A and
// 2B accepted). Used to build valid synthetic identities.
func INSKey(body string) (string, error) {
	if len(body) != 13 {
		return "", fmt.Errorf("ins: body must have 13 characters: %w", ErrInvalid)
	}
	b := strings.ToUpper(body)
	switch b[5:7] {
	case "2A":
		b = b[:5] + "19" + b[7:]
	case "2B":
		b = b[:5] + "18" + b[7:]
	}
	n, err := strconv.ParseInt(b, 10, 64)
	if err != nil || n < 0 {
		return "", fmt.Errorf("ins: body is not numeric: %w", ErrInvalid)
	}
	return fmt.Sprintf("%02d", 97-n%97), nil
}

// IdentityStatus is the status of a local identity in the French national
// identity-vigilance framework (RNIV). Only QUAL lets the INS travel in
// documents and messages.
type IdentityStatus string

// The four exclusive identity statuses.
const (
	IdentityProvisional IdentityStatus = "PROV"  // no INSi call, no identity document checked
	IdentityRecovered   IdentityStatus = "RECUP" // INS obtained from INSi, no identity document checked
	IdentityValidated   IdentityStatus = "VALI"  // identity document checked, no INSi call
	IdentityQualified   IdentityStatus = "QUAL"  // INSi and identity document: the INS may be used
)

// Sex is the administrative sex of the INS traits.
type Sex string

// The values of Sex.
const (
	SexFemale  Sex = "F"
	SexMale    Sex = "M"
	SexUnknown Sex = "U"
)

// PatientID is Carnet's own, opaque identifier of a patient in the vault.
// It is random and reveals nothing.
type PatientID string

// Patient is a patient whose record Carnet keeps: the local identity (never
// the traits returned by the central service) and what Carnet needs to manage
// the cache.
type Patient struct {
	ID              PatientID
	INS             INS
	Status          IdentityStatus
	BirthName       string    // nom de naissance
	BirthGivenNames string    // prénoms de naissance, space-separated
	UsedName        string    // nom utilisé, when different
	UsedGivenName   string    // prénom utilisé, when different
	BirthDate       string    // YYYY-MM-DD
	Sex             Sex       // F, M or U
	BirthPlace      string    // INSEE COG code of the birth place
	LastAccess      time.Time // last time the record was opened in Carnet
	Pinned          bool      // kept on the watch list whatever the date
	// Scheduled is the date of a planned intervention (imported operating
	// list): the record is prefetched ahead of it and kept until it has
	// passed. Zero: none.
	Scheduled time.Time
	// Revalidated is when the central service last confirmed this
	// practitioner's access (sync engine). Past Settings.RevalidationDays
	// the cached record is unreadable until access is confirmed again
	// (see RevalidationDue). Zero: never checked by the engine.
	Revalidated time.Time
}

// DisplayName is the name shown in lists: used name (or birth name) in
// capitals, then the used (or first birth) given name.
func (p Patient) DisplayName() string {
	name := p.UsedName
	if name == "" {
		name = p.BirthName
	}
	given := p.UsedGivenName
	if given == "" {
		given, _, _ = strings.Cut(p.BirthGivenNames, " ")
	}
	return strings.TrimSpace(strings.ToUpper(name) + " " + given)
}

// PatientStore is the vault's patient directory: the part of Store that
// reads and forgets patients (written through Batch). Every method fails
// with ErrLocked while the vault is locked.
type PatientStore interface {
	// SearchPatients searches the directory (see Directory.Search).
	SearchPatients(ctx context.Context, query string, limit int) ([]Patient, error)
	// Patient returns one patient of the directory.
	Patient(ctx context.Context, id PatientID) (Patient, error)
	// Patients returns the whole directory, sorted by name.
	Patients(ctx context.Context) ([]Patient, error)
	// PatientsByINS returns the patients of the directory carrying ins
	// (Directory.ByINS): a lookup by key, none when nobody does.
	PatientsByINS(ctx context.Context, ins INS) ([]Patient, error)
	// Purge forgets a patient by crypto-shredding: the patient's data key is
	// destroyed first, then the records and the directory entry. A patient
	// with outbox items is refused (ErrConflict).
	Purge(ctx context.Context, id PatientID) error
}
