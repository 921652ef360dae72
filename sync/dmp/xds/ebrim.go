package xds

import (
	"fmt"
	"strings"
	"time"

	"github.com/carnetdesk/carnet/app"
)

// IHE XDS.b identifiers (reference §8.1, NIST MetadataSupport.java).
const (
	ObjectTypeDocumentEntry = "urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1"
	NodeSubmissionSet       = "urn:uuid:a54d6aa5-d40d-43f9-88c5-b4633d873bdd"

	SchemeDEAuthor              = "urn:uuid:93606bcf-9494-43ec-9b4e-a7748d1a838d"
	SchemeDEClassCode           = "urn:uuid:41a5887f-8865-4c09-adf7-e362475b143a"
	SchemeDETypeCode            = "urn:uuid:f0306f51-975f-434e-a61c-c59651d33983"
	SchemeDEConfidentiality     = "urn:uuid:f4f85eac-e6cb-4883-b524-f2705394840f"
	SchemeDEFormatCode          = "urn:uuid:a09d5840-386c-46f2-b5ad-9c3699a4309d"
	SchemeDEHealthcareFacility  = "urn:uuid:f33fb8ac-18af-42cc-ae0e-ed0b0bdb91e1"
	SchemeDEPracticeSetting     = "urn:uuid:cccf5598-8b07-4b77-a05e-ae952c785ead"
	SchemeDEEventCode           = "urn:uuid:2c6b8cb7-8b2a-4051-b291-b1ae6a575ef4"
	IdentifierDEPatientID       = "urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427"
	IdentifierDEUniqueID        = "urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab"
	SchemeSSAuthor              = "urn:uuid:a7058bb9-b4e4-4307-ba5b-e3f0ab85e12d"
	SchemeSSContentType         = "urn:uuid:aa543740-bdda-424e-8c96-df4873be8500"
	IdentifierSSPatientID       = "urn:uuid:6b5aea1a-874d-4603-a4bc-96a0a7b38446"
	IdentifierSSSourceID        = "urn:uuid:554ac39e-e3fe-47fe-b233-965d2a147832"
	IdentifierSSUniqueID        = "urn:uuid:96fdda7c-d067-4183-912e-bf5ee74998a8"
	ClassificationObjectType    = "urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:Classification"
	ExternalIdentifierObjectTyp = "urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:ExternalIdentifier"

	QueryFindDocuments = "urn:uuid:14d4debf-8f97-4251-9a74-a90016b0af0d"
	QueryGetDocuments  = "urn:uuid:5c4f972b-d56b-40ac-a5fc-c8ca9b40b9d4"

	AssocHasMember                = "urn:oasis:names:tc:ebxml-regrep:AssociationType:HasMember"
	AssocRPLC                     = "urn:ihe:iti:2007:AssociationType:RPLC"
	AssocSigns                    = "urn:ihe:iti:2007:AssociationType:signs"
	AssocUpdateAvailabilityStatus = "urn:ihe:iti:2010:AssociationType:UpdateAvailabilityStatus"
)

// Availability statuses (JDV_J52).
const (
	StatusApproved   = "urn:oasis:names:tc:ebxml-regrep:StatusType:Approved"
	StatusDeprecated = "urn:oasis:names:tc:ebxml-regrep:StatusType:Deprecated"
	StatusArchived   = "urn:asip:ci-sis:2010:StatusType:Archived"
	StatusDeleted    = "urn:asip:ci-sis:2010:StatusType:Deleted"
)

// Response statuses of ebRS 3.0 and IHE.
const (
	ResponseSuccess        = "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Success"
	ResponseFailure        = "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Failure"
	ResponsePartialSuccess = "urn:ihe:iti:2007:ResponseStatusType:PartialSuccess"
	SeverityError          = "urn:oasis:names:tc:ebxml-regrep:ErrorSeverityType:Error"
	SeverityWarning        = "urn:oasis:names:tc:ebxml-regrep:ErrorSeverityType:Warning"
)

// Confidentiality codes of the DMP (JDV_J58).
const (
	OIDConfidentialityHL7 = "2.16.840.1.113883.5.25"
	OIDConfidentialityDMP = "1.2.250.1.213.1.1.4.13"
	CodeMaskedPS          = "MASQUE_PS"
	CodeInvisiblePatient  = "INVISIBLE_PATIENT"
	// CodeInvisibleLegalReps is the code that hides a document from the
	// patient's legal representatives. Open question (reference §8.1, §14.10):
	// the HL7 v2 table of the V2IG uses this spelling.
	CodeInvisibleLegalReps = "INVISIBLE_REP_LEGAUX"
)

// PatientID returns the XDS patient id of ins: "matricule^^^&OID&ISO^NH".
func PatientID(ins app.INS) string {
	return ins.Matricule + "^^^&" + ins.OID + "&ISO^NH"
}

// patientIDMatches compares a patient id received from the registry with ins
// (the ^NH suffix is optional).
func patientIDMatches(got string, ins app.INS) bool {
	got = strings.TrimSpace(got)
	want := ins.Matricule + "^^^&" + ins.OID + "&ISO"
	return got == want || got == want+"^NH"
}

// hl7Time formats t as an HL7 DTM in UTC: yyyyMMddHHmmss.
func hl7Time(t time.Time) string { return t.UTC().Format("20060102150405") }

// parseHL7Time reads an HL7 DTM of any precision (yyyy … yyyyMMddHHmmss), UTC.
func parseHL7Time(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	layouts := map[int]string{4: "2006", 6: "200601", 8: "20060102", 10: "2006010215", 12: "200601021504", 14: "20060102150405"}
	l, ok := layouts[len(s)]
	if !ok {
		return time.Time{}, false
	}
	t, err := time.ParseInLocation(l, s, time.UTC)
	return t, err == nil
}

// RegistryError is one entry of an ebRS RegistryErrorList.
type RegistryError struct {
	Code     string // errorCode, e.g. XDSRegistryError
	Context  string // codeContext (the service's text; never shown as is)
	Severity string
	Location string
}

// ResponseError is a registry or repository answer that is not a plain
// success: a failure, a partial success, or a success carrying errors.
type ResponseError struct {
	Status string
	Errors []RegistryError
}

// Error implements error. It names the status and the error codes only.
func (e *ResponseError) Error() string {
	codes := make([]string, 0, len(e.Errors))
	for _, x := range e.Errors {
		codes = append(codes, x.Code)
	}
	return fmt.Sprintf("xds: %s: %s", localStatus(e.Status), strings.Join(codes, ", "))
}

// Partial reports whether the service applied part of the request.
func (e *ResponseError) Partial() bool { return e.Status == ResponsePartialSuccess }

// Unwrap classifies the first error of the list (or the status alone).
func (e *ResponseError) Unwrap() error {
	for _, x := range e.Errors {
		if x.Severity == SeverityWarning {
			continue
		}
		return classifyCode(x.Code)
	}
	return app.ErrServer
}

func localStatus(s string) string {
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// classifyCode maps an XDS error code to an app error kind. Classification
// happens here and only here.
func classifyCode(code string) error {
	switch code {
	case "XDSUnknownPatientId":
		return &app.AccessError{Reason: app.DeniedNoRecord}
	case "XDSRegistryBusy", "XDSRegistryOutOfResources", "XDSRepositoryOutOfResources":
		return app.ErrThrottled
	case "XDSRegistryNotAvailable":
		return app.ErrOffline
	case "XDSDuplicateUniqueIdInRegistry", "XDSNonIdenticalHash", "XDSMetadataVersionError":
		return app.ErrConflict
	case "XDSMissingDocument", "XDSUnknownRepositoryId", "XDSDocumentUniqueIdError":
		return app.ErrWithdrawn
	case "XDSResultNotSinglePatient", "XDSNonIdenticalSize":
		return app.ErrIntegrity
	case "XDSPatientIdDoesNotMatch", "XDSRegistryMetadataError", "XDSRepositoryMetadataError",
		"XDSMissingDocumentMetadata", "XDSRegistryDuplicateUniqueIdInMessage", "XDSRepositoryDuplicateUniqueIdInMessage",
		"XDSStoredQueryMissingParam", "XDSStoredQueryParamNumber", "XDSUnknownStoredQuery", "XDSTooManyResults",
		"XDSExtraMetadataNotSaved", "XDSRepositoryWrongRepositoryUniqueId", "XDSMetadataUpdateError",
		"XDSMetadataUpdateOperationError", "XDSPatientIDReconciliationError", "XDSObjectTypeError",
		"XDSMetadataIdentifierError", "XDSInvalidRequestException", "XDSUnreferencedObjectException":
		return app.ErrInvalid
	default: // XDSRegistryError, XDSRepositoryError, and codes of the DMP's own catalogue
		return app.ErrServer
	}
}

// readRegistryResponse checks an rs:RegistryResponse (or any element with
// the same status attribute and rs:RegistryErrorList child). It returns nil
// only on a plain success without errors.
func readRegistryResponse(n *node) error {
	if n == nil {
		return fmt.Errorf("xds: no registry response: %w", app.ErrServer)
	}
	status := n.attr("status")
	var errs []RegistryError
	hard := false
	for _, el := range n.child(NSRs, "RegistryErrorList").all(NSRs, "RegistryError") {
		e := RegistryError{Code: el.attr("errorCode"), Context: el.attr("codeContext"), Severity: el.attr("severity"), Location: el.attr("location")}
		if e.Severity != SeverityWarning {
			hard = true
		}
		errs = append(errs, e)
	}
	switch status {
	case ResponseSuccess:
		if hard {
			return &ResponseError{Status: status, Errors: errs}
		}
		return nil
	case ResponseFailure, ResponsePartialSuccess:
		return &ResponseError{Status: status, Errors: errs}
	default:
		return fmt.Errorf("xds: unknown response status: %w", app.ErrServer)
	}
}
