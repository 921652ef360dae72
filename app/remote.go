package app

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// DenialReason says why the central service refused access. Each is its own
// clear message in the UI, never "error 403".
type DenialReason string

// The reasons for a denial.
const (
	DeniedBlocked         DenialReason = "blocked"          // the patient blocked this professional
	DeniedNoAuthorization DenialReason = "no_authorization" // no (or expired) authorisation of the patient
	DeniedClosed          DenialReason = "closed"           // the record is closed
	DeniedNoRecord        DenialReason = "no_record"        // the patient has no record
	DeniedProfession      DenialReason = "profession"       // this profession may not do this
	DeniedJustification   DenialReason = "justification"    // bris de glace without a justification
	DeniedNotRegulator    DenialReason = "not_regulator"    // centre de régulation without the role
	DeniedNotAuthor       DenialReason = "not_author"       // only the author may do this (delete)
	DeniedNotQualified    DenialReason = "not_qualified"    // feeding needs a qualified identity
	DeniedOther           DenialReason = "other"
)

// AccessError is a refusal of the central record service, with its reason.
// It wraps ErrAccessDenied.
type AccessError struct {
	Reason DenialReason
}

// Error implements error.
func (e *AccessError) Error() string { return fmt.Sprintf("access denied: %s", e.Reason) }

// Unwrap returns ErrAccessDenied.
func (e *AccessError) Unwrap() error { return ErrAccessDenied }

// Denial returns the reason of an access denial in err, or "" when err is not
// one.
func Denial(err error) DenialReason {
	var ae *AccessError
	if errors.As(err, &ae) {
		return ae.Reason
	}
	return ""
}

// Practitioner is the person acting in Carnet, as their credential (CPS card
// or certificate file) names them.
type Practitioner struct {
	RPPS       string // national id (RPPS/ADELI, "8" + 11 digits form), from the certificate
	Name       string // display name
	GivenName  string // given name, when the certificate gives it apart
	FamilyName string // family name, when the certificate gives it apart
	Profession Code   // TRE_G15 profession (10 = médecin …)
	Specialty  Code   // TRE_R38 savoir-faire, when given
	Structure  Structure
	Roles      []string // e.g. "regulation" for a SAMU regulation doctor
}

// HasRole reports whether p holds role.
func (p Practitioner) HasRole(role string) bool {
	for _, r := range p.Roles {
		if r == role {
			return true
		}
	}
	return false
}

// RoleRegulation is the role of regulation doctors (centre de régulation).
const RoleRegulation = "regulation"

// Structure is the organisation the practitioner works for.
type Structure struct {
	ID   string // FINESS or SIRET, with its type prefix as the certificate gives it
	Name string
}

// Access is the access context of every call to the central service: who,
// for which structure, in which mode, and why in an emergency.
type Access struct {
	Practitioner  Practitioner
	Mode          AccessMode
	Justification string // mandatory for AccessEmergency
}

// Validate checks the access context before anything is sent.
func (a Access) Validate() error {
	switch a.Mode {
	case AccessNormal:
	case AccessEmergency:
		if len(a.Justification) < 10 {
			return fmt.Errorf("access: bris de glace needs a written justification: %w", &AccessError{Reason: DeniedJustification})
		}
	case AccessRegulation:
		if !a.Practitioner.HasRole(RoleRegulation) {
			return fmt.Errorf("access: centre de régulation mode: %w", &AccessError{Reason: DeniedNotRegulator})
		}
	default:
		return fmt.Errorf("access: unknown mode: %w", ErrInvalid)
	}
	return nil
}

// AuthorizationStatus is the practitioner's authorisation on a record.
type AuthorizationStatus string

// The authorisation statuses (TD0.2).
const (
	AuthorizationGranted AuthorizationStatus = "granted"
	AuthorizationNone    AuthorizationStatus = "none" // never given, or expired
	AuthorizationBlocked AuthorizationStatus = "blocked"
	// AuthorizationUnknown: the service did not say (a generic FHIR server
	// without the authorisation extension). Not a refusal: the service
	// decides at each request (a 401/403 with a reason refuses).
	AuthorizationUnknown AuthorizationStatus = "unknown"
)

// RecordStatus is what the central service says of a patient's record
// (TD0.2 / ITI-78). Identity traits it may return are never shown: Carnet
// shows the local qualified identity.
type RecordStatus struct {
	Exists         bool
	Closed         bool
	Authorization  AuthorizationStatus
	TreatingDoctor bool      // this practitioner is the patient's médecin traitant DMP
	ServerTime     time.Time // the service's clock at the answer
	// Said is the DMP reason the service gave with its answer, when it
	// gave one (a 403/410 saying no_record): an explicit signal, unlike
	// a search that merely found nothing.
	Said DenialReason
}

// Visibility is who may see a document besides its author.
type Visibility struct {
	MaskedToProfessionals bool // MASQUE_PS
	HiddenFromPatient     bool // INVISIBLE_PATIENT
	HiddenFromLegalReps   bool // INVISIBLE_REPRESENTANTS_LEGAUX
}

// RemoteDocument is a document's entry in the central service
// (DocumentReference): its metadata, where to fetch it, and its versions.
type RemoteDocument struct {
	Meta        DocumentMeta
	RemoteID    string    // the service's resource id (entryUUID); not a stable key
	VersionID   string    // meta.versionId, for If-Match
	LastUpdated time.Time // meta.lastUpdated, server clock
	Status      string    // "current" or "superseded"
	Replaces    DocumentID
	Visibility  Visibility
	Archived    bool
	URL         string // attachment URL (absolute or relative to the base)
}

// DocumentQuery selects documents of a patient (ITI-67).
type DocumentQuery struct {
	ActSince     time.Time  // period ≥ (first open: two years back)
	UpdatedSince time.Time  // _lastUpdated ≥ (delta sync)
	Types        []string   // LOINC type codes; empty: all
	Statuses     []string   // default "current"
	ID           DocumentID // a single document by uniqueId
	PageSize     int        // _count; 0: the service's default
}

// NewDocument is a document Carnet sends (ITI-65).
type NewDocument struct {
	Meta       DocumentMeta
	Content    []byte // the CDA
	Visibility Visibility
	Replaces   *RemoteDocument // the version it replaces, if any
}

// Provided is the service's answer to a provide: the new entries.
type Provided struct {
	Documents []RemoteDocument
}

// MetadataChange changes a document's metadata (mask, visibility,
// archive). Nil fields are left alone.
type MetadataChange struct {
	Visibility *Visibility
	Archived   *bool
}

// AccessTrace is one access to a patient's record, as the central service
// traced it (who consulted the record).
type AccessTrace struct {
	Time         time.Time
	Practitioner string // name and RPPS as the service gives them
	Structure    string
	Action       string
	Mode         AccessMode
}

// RecordService is the central record service (the DMP, FHIR R4 IHE MHD as
// profiled by the French PDSm). It is implemented by package sync/dmp; the
// sandbox in sync/dmp/dmptest speaks the same protocol.
//
// Every method takes the access context; errors wrap ErrOffline,
// *AccessError (ErrAccessDenied), ErrWithdrawn, ErrConflict, ErrThrottled
// (*WaitError), ErrServer, ErrIntegrity or ErrInvalid.
type RecordService interface {
	// FindPatient tests the record's existence and the access conditions
	// (TD0.2, ITI-78 by INS only).
	FindPatient(ctx context.Context, acc Access, ins INS) (RecordStatus, error)
	// GrantAuthorization records the patient's authorisation for this
	// practitioner (TD0.3). Call it only after an explicit consent action.
	GrantAuthorization(ctx context.Context, acc Access, ins INS) error
	// ListDocuments lists documents (ITI-67), following the service's paging;
	// each page is handed to page, in order, as it arrives.
	ListDocuments(ctx context.Context, acc Access, ins INS, q DocumentQuery, page func([]RemoteDocument) error) error
	// Retrieve fetches a document's content (ITI-68) and verifies its size
	// and SHA-1 when the metadata gives them.
	Retrieve(ctx context.Context, acc Access, ins INS, doc RemoteDocument) ([]byte, error)
	// Provide sends documents (ITI-65): new ones, or replacements.
	Provide(ctx context.Context, acc Access, ins INS, docs []NewDocument) (Provided, error)
	// UpdateMetadata changes a document's visibility or archive flag, on
	// the version given (If-Match); a newer version fails with ErrConflict.
	UpdateMetadata(ctx context.Context, acc Access, ins INS, doc RemoteDocument, ch MetadataChange) (RemoteDocument, error)
	// Delete deletes a document (only its author may).
	Delete(ctx context.Context, acc Access, ins INS, doc RemoteDocument) error
	// AccessTraces returns who accessed the record.
	AccessTraces(ctx context.Context, acc Access, ins INS, since time.Time) ([]AccessTrace, error)
}

// EntryReader is implemented by a RecordService that can read one
// document entry by its service id (FHIR read). The sync engine uses it
// for evidence: a document that a listing omitted leaves the vault only
// when this read says it is deleted (ErrWithdrawn), entered-in-error
// (Status) or masked (Visibility), never because of the omission.
type EntryReader interface {
	ReadDocument(ctx context.Context, acc Access, ins INS, remoteID string) (RemoteDocument, error)
}

// NotConfirmedError says that the service accepted a write (2xx) but
// reading it back did not confirm it: the document is not there yet, or it
// does not point at the patient, or the version it replaces still reads
// current. The write may have landed; it must be re-checked, never counted
// as done. It wraps ErrServer.
type NotConfirmedError struct {
	Op  string         // "provide", "update metadata"
	Why string         // what the read-back showed, without health data
	Doc RemoteDocument // what the service answered, when it answered
}

// Error implements error.
func (e *NotConfirmedError) Error() string {
	return fmt.Sprintf("%s: sent, not confirmed: %s", e.Op, e.Why)
}

// Unwrap returns ErrServer.
func (e *NotConfirmedError) Unwrap() error { return ErrServer }

// WriteConfirmer is implemented by a RecordService that can re-check a
// document an earlier Provide may have written (its answer lost, or its
// read-back not confirming it): the same read-back as Provide's (the
// document points at the patient, reads current, its content intact, and
// the version it replaces reads superseded, superseding it when needed).
// The sync engine uses it before counting a document found again as done:
// existing under its uniqueId is not enough. A *NotConfirmedError says
// what still does not hold.
type WriteConfirmer interface {
	ConfirmProvided(ctx context.Context, acc Access, ins INS, found RemoteDocument, doc NewDocument) (RemoteDocument, error)
}

// AccessMode is how a practitioner opens a patient's record.
type AccessMode string

// The access modes of the central record service.
const (
	AccessNormal     AccessMode = "normal"            // with the patient's authorisation
	AccessEmergency  AccessMode = "bris_de_glace"     // break-the-glass, justified, shown on screen
	AccessRegulation AccessMode = "centre_regulation" // SAMU regulation doctor
)

// Session is the practitioner signed in with their card (or certificate
// file) and the central record service reached with that credential.
type Session struct {
	Practitioner Practitioner
	Records      RecordService
}
