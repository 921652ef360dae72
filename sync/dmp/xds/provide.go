package xds

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	"github.com/carnetdesk/carnet/app"
)

// Code systems and fixed codes of the submission metadata. Those marked as
// open questions are listed in COMPATIBILITY.md.
const (
	OIDIdNatPS           = "1.2.250.1.71.4.2.1" // XCN9 of a professional (IDNPS)
	OIDIdNatStruct       = "1.2.250.1.71.4.2.2" // XON6 of a structure (IDNST)
	OIDSecteurActivite   = "1.2.250.1.71.4.2.4" // healthcareFacilityTypeCode (JDV_J61), VIHF Secteur_Activite
	OIDContentType       = "1.2.250.1.213.2.2"  // submission set contentTypeCode (JDV_J59)
	OIDFormatCode        = "1.3.6.1.4.1.19376.1.2.3"
	OIDPracticeSetting   = "1.2.250.1.213.1.1.4.9" // JDV_J04 practiceSettingCode; open question (reference §8.1)
	DefaultFormatCode    = "urn:ihe:iti:xds-sd:pdf:2008"
	DefaultPracticeSet   = "ETABLISSEMENT"
	DefaultContentType   = "04"
	DefaultSector        = "SA07"
	confidentialityNorm  = "N"
	symbolicSubmissionID = "SubmissionSet01"
)

// Submission is an ITI-41 request: the documents of one patient, with the
// submitting professional and the software's source OID.
type Submission struct {
	INS          app.INS
	Author       app.Practitioner
	SourceOID    string // the LPS OID (SubmissionSet sourceId)
	UniqueID     string // SubmissionSet uniqueId (an OID); generated when empty
	Sector       string // healthcareFacilityTypeCode / Secteur_Activite code; DefaultSector when empty
	Time         time.Time
	Documents    []app.NewDocument
	ReplacesUUID map[int]string // index in Documents → entryUUID of the replaced entry (TD2.1)
	// Signer, when set, signs the submission set (XAdES, reference §9.1):
	// the signature travels as one more document with a "signs" association.
	Signer *VIHFSigner
}

// Attachment is an MTOM part of a request: its Content-ID (without <>) and
// its bytes (never copied).
type Attachment struct {
	ContentID string
	Data      []byte
}

// docID returns the symbolic id of document i.
func docID(i int) string { return "Document" + strconv.Itoa(i+1) }

// AuthorXCN returns the XCN of a professional.
func AuthorXCN(p app.Practitioner) string {
	return p.RPPS + "^" + p.FamilyName + "^" + p.GivenName + "^^^^^^&" + OIDIdNatPS + "&ISO^D^^^IDNPS"
}

// InstitutionXON returns the XON of a structure.
func InstitutionXON(s app.Structure) string {
	return s.Name + "^^^^^&" + OIDIdNatStruct + "&ISO^IDNST^^^" + s.ID
}

// writeProvide writes the xdsb:ProvideAndRegisterDocumentSetRequest body and
// returns the attachments it references (xop:Include).
func writeProvide(b *bytes.Buffer, s Submission) ([]Attachment, error) {
	if len(s.Documents) == 0 {
		return nil, fmt.Errorf("xds: provide: no document: %w", app.ErrInvalid)
	}
	if s.SourceOID == "" {
		return nil, fmt.Errorf("xds: provide: no source OID: %w", app.ErrNotConfigured)
	}
	if s.Time.IsZero() {
		s.Time = time.Now()
	}
	if s.Sector == "" {
		s.Sector = DefaultSector
	}
	if s.UniqueID == "" {
		s.UniqueID = uuidOID()
	}
	pid := PatientID(s.INS)
	now := hl7Time(s.Time)
	b.WriteString(`<xdsb:ProvideAndRegisterDocumentSetRequest xmlns:xdsb="` + NSXDSb + `" xmlns:lcm="` + NSLcm + `" xmlns:rim="` + NSRim + `" xmlns:xop="` + NSXOP + `">`)
	b.WriteString(`<lcm:SubmitObjectsRequest><rim:RegistryObjectList>`)
	// The submission set.
	b.WriteString(`<rim:RegistryPackage id="` + symbolicSubmissionID + `" objectType="urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:RegistryPackage">`)
	writeSlot(b, "submissionTime", now)
	writeName(b, "Carnet")
	writeAuthor(b, SchemeSSAuthor, symbolicSubmissionID, "urn:uuid:"+newUUID(), s.Author)
	writeCoded(b, SchemeSSContentType, symbolicSubmissionID, DefaultContentType, OIDContentType, "Hospitalisation de jour")
	b.WriteString(`<rim:Classification id="urn:uuid:` + newUUID() + `" classifiedObject="` + symbolicSubmissionID + `" classificationNode="` + NodeSubmissionSet + `"/>`)
	writeExtID(b, IdentifierSSUniqueID, symbolicSubmissionID, s.UniqueID, "XDSSubmissionSet.uniqueId")
	writeExtID(b, IdentifierSSSourceID, symbolicSubmissionID, s.SourceOID, "XDSSubmissionSet.sourceId")
	writeExtID(b, IdentifierSSPatientID, symbolicSubmissionID, pid, "XDSSubmissionSet.patientId")
	b.WriteString(`</rim:RegistryPackage>`)
	atts := make([]Attachment, 0, len(s.Documents))
	for i, d := range s.Documents {
		if d.Meta.ID == "" || len(d.Content) == 0 {
			return nil, fmt.Errorf("xds: provide: document %d without id or content: %w", i+1, app.ErrInvalid)
		}
		id := docID(i)
		sum := sha1.Sum(d.Content)
		mime := d.Meta.MediaType
		if mime == "" {
			mime = "text/xml"
		}
		b.WriteString(`<rim:ExtrinsicObject id="` + id + `" mimeType="` + attrEsc(mime) + `" objectType="` + ObjectTypeDocumentEntry + `">`)
		writeSlot(b, "creationTime", now)
		writeSlot(b, "hash", hex.EncodeToString(sum[:]))
		writeSlot(b, "languageCode", "fr-FR")
		writeSlot(b, "legalAuthenticator", AuthorXCN(s.Author))
		act := d.Meta.Date
		if act.IsZero() {
			act = s.Time
		}
		writeSlot(b, "serviceStartTime", hl7Time(act))
		writeSlot(b, "serviceStopTime", hl7Time(act))
		writeSlot(b, "size", strconv.Itoa(len(d.Content)))
		writeSlot(b, "sourcePatientId", pid)
		writeName(b, d.Meta.Title)
		writeAuthor(b, SchemeDEAuthor, id, "urn:uuid:"+newUUID(), s.Author)
		class := d.Meta.ClassCode
		if class == "" {
			class = app.ClassReport
		}
		writeCoded(b, SchemeDEClassCode, id, class, app.OIDClassCode, class)
		for _, c := range confidentialityCodes(d.Visibility) {
			writeCoded(b, SchemeDEConfidentiality, id, c.code, c.system, c.code)
		}
		writeCoded(b, SchemeDEFormatCode, id, DefaultFormatCode, OIDFormatCode, "Document à corps non structuré en Pdf/A-1")
		writeCoded(b, SchemeDEHealthcareFacility, id, s.Sector, OIDSecteurActivite, s.Sector)
		writeCoded(b, SchemeDEPracticeSetting, id, DefaultPracticeSet, OIDPracticeSetting, DefaultPracticeSet)
		writeCoded(b, SchemeDETypeCode, id, d.Meta.TypeCode, OIDLOINC, d.Meta.Title)
		writeExtID(b, IdentifierDEPatientID, id, pid, "XDSDocumentEntry.patientId")
		writeExtID(b, IdentifierDEUniqueID, id, string(d.Meta.ID), "XDSDocumentEntry.uniqueId")
		b.WriteString(`</rim:ExtrinsicObject>`)
		b.WriteString(`<rim:Association id="urn:uuid:` + newUUID() + `" associationType="` + AssocHasMember + `" sourceObject="` + symbolicSubmissionID + `" targetObject="` + id + `">`)
		writeSlot(b, "SubmissionSetStatus", "Original")
		b.WriteString(`</rim:Association>`)
		if old := s.ReplacesUUID[i]; old != "" {
			b.WriteString(`<rim:Association id="urn:uuid:` + newUUID() + `" associationType="` + AssocRPLC + `" sourceObject="` + id + `" targetObject="` + attrEsc(old) + `"/>`)
		}
		atts = append(atts, Attachment{ContentID: id + "@carnet.invalid", Data: d.Content})
	}
	ids := make([]string, len(atts))
	for i := range atts {
		ids[i] = docID(i)
	}
	if s.Signer != nil {
		signed := make([]SignedDoc, len(s.Documents))
		for i, d := range s.Documents {
			signed[i] = SignedDoc{UniqueID: string(d.Meta.ID), Content: d.Content}
		}
		sig, err := s.Signer.SignSubmission(s.UniqueID, signed, s.Time)
		if err != nil {
			return nil, err
		}
		const id = "Signature01"
		sum := sha1.Sum(sig)
		b.WriteString(`<rim:ExtrinsicObject id="` + id + `" mimeType="text/xml" objectType="` + ObjectTypeDocumentEntry + `">`)
		writeSlot(b, "creationTime", now)
		writeSlot(b, "hash", hex.EncodeToString(sum[:]))
		writeSlot(b, "languageCode", "art")
		writeSlot(b, "legalAuthenticator", AuthorXCN(s.Author))
		writeSlot(b, "serviceStartTime", now)
		writeSlot(b, "serviceStopTime", now)
		writeSlot(b, "size", strconv.Itoa(len(sig)))
		writeSlot(b, "sourcePatientId", pid)
		writeName(b, "Source")
		writeAuthor(b, SchemeDEAuthor, id, "urn:uuid:"+newUUID(), s.Author)
		writeCoded(b, SchemeDEClassCode, id, SignatureClassCode, "URN", "Digital Signature")
		for _, c := range confidentialityCodes(app.Visibility{MaskedToProfessionals: true, HiddenFromPatient: true}) {
			writeCoded(b, SchemeDEConfidentiality, id, c.code, c.system, c.code)
		}
		writeCoded(b, SchemeDEEventCode, id, SignatureEventCode, "1.2.840.10065.1.12", "Source")
		writeCoded(b, SchemeDEFormatCode, id, SignatureFormatCode, "URN", "Default Signature Style")
		writeCoded(b, SchemeDEHealthcareFacility, id, s.Sector, OIDSecteurActivite, s.Sector)
		writeCoded(b, SchemeDEPracticeSetting, id, DefaultPracticeSet, OIDPracticeSetting, DefaultPracticeSet)
		writeCoded(b, SchemeDETypeCode, id, SignatureTypeCode, "ASTM", "Full Document")
		writeExtID(b, IdentifierDEPatientID, id, pid, "XDSDocumentEntry.patientId")
		writeExtID(b, IdentifierDEUniqueID, id, uuidOID(), "XDSDocumentEntry.uniqueId")
		b.WriteString(`</rim:ExtrinsicObject>`)
		b.WriteString(`<rim:Association id="urn:uuid:` + newUUID() + `" associationType="` + AssocHasMember + `" sourceObject="` + symbolicSubmissionID + `" targetObject="` + id + `">`)
		writeSlot(b, "SubmissionSetStatus", "Original")
		b.WriteString(`</rim:Association>`)
		b.WriteString(`<rim:Association id="urn:uuid:` + newUUID() + `" associationType="` + AssocSigns + `" sourceObject="` + id + `" targetObject="` + symbolicSubmissionID + `"/>`)
		atts = append(atts, Attachment{ContentID: id + "@carnet.invalid", Data: sig})
		ids = append(ids, id)
	}
	b.WriteString(`</rim:RegistryObjectList></lcm:SubmitObjectsRequest>`)
	for i, a := range atts {
		b.WriteString(`<xdsb:Document id="` + ids[i] + `"><xop:Include href="cid:` + attrEsc(a.ContentID) + `"/></xdsb:Document>`)
	}
	b.WriteString(`</xdsb:ProvideAndRegisterDocumentSetRequest>`)
	return atts, nil
}

type coded struct{ code, system string }

// confidentialityCodes returns N plus the DMP masks of v.
func confidentialityCodes(v app.Visibility) []coded {
	out := []coded{{confidentialityNorm, OIDConfidentialityHL7}}
	if v.MaskedToProfessionals {
		out = append(out, coded{CodeMaskedPS, OIDConfidentialityDMP})
	}
	if v.HiddenFromPatient {
		out = append(out, coded{CodeInvisiblePatient, OIDConfidentialityDMP})
	}
	if v.HiddenFromLegalReps {
		out = append(out, coded{CodeInvisibleLegalReps, OIDConfidentialityDMP})
	}
	return out
}

func writeName(b *bytes.Buffer, s string) {
	b.WriteString(`<rim:Name><rim:LocalizedString xml:lang="fr-FR" charset="UTF-8" value="` + attrEsc(s) + `"/></rim:Name>`)
}

func writeCoded(b *bytes.Buffer, scheme, obj, code, system, display string) {
	b.WriteString(`<rim:Classification id="urn:uuid:` + newUUID() + `" classificationScheme="` + scheme + `" classifiedObject="` + obj + `" nodeRepresentation="` + attrEsc(code) + `">`)
	writeSlot(b, "codingScheme", system)
	writeName(b, display)
	b.WriteString(`</rim:Classification>`)
}

func writeAuthor(b *bytes.Buffer, scheme, obj, id string, p app.Practitioner) {
	b.WriteString(`<rim:Classification id="` + id + `" classificationScheme="` + scheme + `" classifiedObject="` + obj + `" nodeRepresentation="">`)
	writeSlot(b, "authorPerson", AuthorXCN(p))
	writeSlot(b, "authorInstitution", InstitutionXON(p.Structure))
	if p.Specialty.Code != "" {
		writeSlot(b, "authorSpecialty", p.Specialty.Code+"^"+p.Specialty.Display+"^"+p.Specialty.System)
	}
	b.WriteString(`</rim:Classification>`)
}

func writeExtID(b *bytes.Buffer, scheme, obj, value, name string) {
	b.WriteString(`<rim:ExternalIdentifier id="urn:uuid:` + newUUID() + `" registryObject="` + obj + `" identificationScheme="` + scheme + `" value="` + attrEsc(value) + `">`)
	writeName(b, name)
	b.WriteString(`</rim:ExternalIdentifier>`)
}

// uuidOID returns a unique OID under 2.25 (ITU-T X.667) from a random UUID.
func uuidOID() string {
	u := newUUID()
	var n [16]byte
	hexs := ""
	for _, c := range u {
		if c != '-' {
			hexs += string(c)
		}
	}
	raw, _ := hex.DecodeString(hexs)
	copy(n[:], raw)
	return "2.25." + bigDecimal(n)
}

// bigDecimal returns the 128-bit big-endian n in decimal.
func bigDecimal(n [16]byte) string {
	digits := []byte{}
	v := n
	for {
		rem := 0
		zero := true
		for i := range v {
			cur := rem<<8 | int(v[i])
			v[i] = byte(cur / 10)
			rem = cur % 10
			if v[i] != 0 {
				zero = false
			}
		}
		digits = append(digits, byte('0'+rem))
		if zero {
			break
		}
	}
	for i, j := 0, len(digits)-1; i < j; i, j = i+1, j-1 {
		digits[i], digits[j] = digits[j], digits[i]
	}
	return string(digits)
}
