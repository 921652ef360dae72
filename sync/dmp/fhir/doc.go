// Package fhir holds the FHIR R4 wire types that Carnet's client of the
// central record service (sync/dmp) and the sandbox service
// (sync/dmp/dmptest) both speak: IHE MHD as profiled by the French PDSm
// (ITI-65/66/67/68), PDQm (ITI-78), plus the few things Carnet adds (the
// signed access assertion, the authorisation Consent, the record-status
// extensions on Patient and the denial-reason code system).
//
// The types are tolerant: unknown fields are ignored on decoding, extensions
// are kept generic ([]Extension), and resources of any type can travel
// through RawResource (Bundle entries, contained resources). Decode untrusted
// input with DecodeBounded, which bounds both the size and the nesting depth.
//
// Dates stay strings on the wire (FHIR dateTime and instant have several
// precisions); ParseTime and FormatInstant convert them.
package fhir

// FHIR and IHE code systems and identifier systems.
const (
	// SystemRFC3986 is the identifier system of masterIdentifier values
	// written as URIs ("urn:oid:…", "urn:uuid:…").
	SystemRFC3986 = "urn:ietf:rfc:3986"
	// SystemLOINC is LOINC in FHIR form.
	SystemLOINC = "http://loinc.org"
	// SystemConfidentiality is the HL7 v3 confidentiality code system (N, R, V).
	SystemConfidentiality = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
	// SystemDMPVisibility is TRE_A07 StatutVisibiliteDocument (MASQUE_PS,
	// INVISIBLE_PATIENT, INVISIBLE_REPRESENTANTS_LEGAUX), in urn:oid form.
	SystemDMPVisibility = "urn:oid:1.2.250.1.213.1.1.4.13"
	// SystemClassCode is TRE_A03 ClasseDocument (document category).
	SystemClassCode = "https://mos.esante.gouv.fr/NOS/TRE_A03-ClasseDocument/FHIR/TRE-A03-ClasseDocument"
	// SystemTypeCodeA05 is TRE_A05 TypeDocComplementaire (SYNTH, REMB, …).
	SystemTypeCodeA05 = "urn:oid:1.2.250.1.213.1.1.4.12"
	// SystemFormatCode is the IHE format code system.
	SystemFormatCode = "http://ihe.net/fhir/ihe.formatcode.fhir/CodeSystem/formatcode"
	// SystemMHDListTypes is the code system of List.code (submissionset, folder).
	SystemMHDListTypes = "https://profiles.ihe.net/ITI/MHD/CodeSystem/MHDlistTypes"
	// SystemRPPS is the national identifier of health professionals
	// (1.2.250.1.71.4.2.1), as used in author identifiers.
	SystemRPPS = "urn:oid:1.2.250.1.71.4.2.1"
	// SystemStructure is the identifier system of structures (FINESS/SIRET
	// with their prefix, 1.2.250.1.71.4.2.2).
	SystemStructure = "urn:oid:1.2.250.1.71.4.2.2"
	// SystemProfession is TRE_G15 ProfessionSante.
	SystemProfession = "urn:oid:1.2.250.1.213.1.1.4.5"
	// SystemAuditEventType is the DICOM audit event type code system.
	SystemAuditEventType = "http://dicom.nema.org/resources/ontology/DCM"
	// SystemRestfulInteraction is the FHIR interaction code system (AuditEvent.subtype).
	SystemRestfulInteraction = "http://hl7.org/fhir/restful-interaction"
	// SystemConsentScope is the FHIR consent scope code system.
	SystemConsentScope = "http://terminology.hl7.org/CodeSystem/consentscope"
)

// The INS identifier systems (urn:oid form of the app.OIDINS… constants).
const (
	SystemINSNIR     = "urn:oid:1.2.250.1.213.1.4.8"
	SystemINSNIA     = "urn:oid:1.2.250.1.213.1.4.9"
	SystemINSNIRTest = "urn:oid:1.2.250.1.213.1.4.10"
	SystemINSNIRDemo = "urn:oid:1.2.250.1.213.1.4.11"
)

// PDSm and IHE MHD extension URLs.
const (
	// ExtIsArchived is the PDSm isArchived flag on DocumentReference
	// (valueBoolean; the DMP's Archived status).
	ExtIsArchived = "https://interop.esante.gouv.fr/ig/fhir/pdsm/StructureDefinition/pdsm-ext-is-archived"
	// ExtDesignationType is the MHD submission-set designation type (List).
	ExtDesignationType = "https://profiles.ihe.net/ITI/MHD/StructureDefinition/ihe-designationType"
	// ExtSourceID is the MHD submission-set source id (List).
	ExtSourceID = "https://profiles.ihe.net/ITI/MHD/StructureDefinition/ihe-sourceId"
	// ExtSourcePatientID is the MHD source patient reference (List).
	ExtSourcePatientID = "https://profiles.ihe.net/ITI/MHD/StructureDefinition/ihe-sourcePatientId"
)

// CarnetBase is the namespace of what Carnet defines itself, where the
// PDSm4DMP draft says "to be specified".
const CarnetBase = "https://carnetdesk.github.io/fhir"

// Carnet's extensions on Patient, in answers to ITI-78 (TD0.2). They describe
// the record and the caller's standing; their values are never identity
// traits.
const (
	// ExtRecordClosure marks a closed record: valueDateTime is the closure
	// date (Patient.active is false as well). PDSm4DMP "dmp-fermeture".
	ExtRecordClosure = CarnetBase + "/StructureDefinition/dmp-fermeture"
	// ExtTreatingDoctor is valueBoolean: the caller is the patient's
	// médecin traitant DMP. PDSm4DMP "dmp-medecin-traitant".
	ExtTreatingDoctor = CarnetBase + "/StructureDefinition/dmp-medecin-traitant"
	// ExtAuthorization is valueCode: the caller's authorisation on the
	// record, one of AuthorizationGranted, AuthorizationNone,
	// AuthorizationBlocked (app.AuthorizationStatus values).
	ExtAuthorization = CarnetBase + "/StructureDefinition/dmp-autorisation"
	// ExtAttachedMES is valueBoolean: the record is attached to an activated
	// Mon espace santé account. PDSm4DMP "dmp-rattachement-mes".
	ExtAttachedMES = CarnetBase + "/StructureDefinition/dmp-rattachement-mes"
	// ExtAccessMode is valueCode on AuditEvent: the access mode of the
	// traced access (normal, bris_de_glace, centre_regulation).
	ExtAccessMode = CarnetBase + "/StructureDefinition/access-mode"
	// ExtJustification is valueString on AuditEvent: the bris de glace
	// justification.
	ExtJustification = CarnetBase + "/StructureDefinition/access-justification"
)

// The values of ExtAuthorization (the same strings as app.AuthorizationStatus).
const (
	AuthorizationGranted = "granted"
	AuthorizationNone    = "none"
	AuthorizationBlocked = "blocked"
)

// DenialCodeSystem is the code system of OperationOutcome.issue.details
// codings that say why access was refused. Its codes are the
// app.DenialReason strings (blocked, no_authorization, closed, no_record,
// profession, justification, not_regulator, not_author, not_qualified,
// other), so the client can classify a refusal without parsing text.
const DenialCodeSystem = CarnetBase + "/CodeSystem/denial-reason"

// ConsentAuthorizationCategory is the Consent.category coding of a
// practitioner's access authorisation (TD0.3, action AJOUT).
const ConsentAuthorizationCategory = CarnetBase + "/CodeSystem/consent-category"

// Media types.
const (
	MediaFHIRJSON  = "application/fhir+json"
	MediaJSONPatch = "application/json-patch+json"
)
