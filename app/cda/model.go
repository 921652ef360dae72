// Package cda reads (and, in the write*.go files, writes) HL7 CDA R2
// clinical documents as profiled by the French CI-SIS: the header, N1
// (nonXMLBody) and N3 (structuredBody) bodies, the section narrative as
// app's neutral rich-text model (app.Narrative, aliased here), and the
// medication, allergy and problem entries. Reader is the app.DocumentReader
// the Service reads documents with: it maps a Document to an
// app.ClinicalDocument.
//
// The reader uses only the standard library. It makes a single streaming
// pass over the XML, refuses DOCTYPE and entity declarations, and bounds
// size, depth and element count. Every error it returns is a *ParseError
// wrapping app.ErrInvalid whose text never contains document content.
package cda

import (
	"strings"
	"time"

	"github.com/carnetdesk/carnet/app"
)

// Document is a CDA R2 clinical document as read by Parse (or built for
// writing).
type Document struct {
	ID              app.DocumentID // uniqueId: id/@root, or root^extension when an extension is present
	TemplateIDs     []string       // templateId/@root values of the ClinicalDocument
	Type            app.Code       // code: the document type (LOINC or TRE_A05)
	Title           string         // title
	Effective       time.Time      // effectiveTime: creation of the document
	Confidentiality app.Code       // confidentialityCode (N, R, V)
	Language        string         // languageCode/@code, e.g. "fr-FR"
	SetID           string         // setId, same form as ID
	Version         int            // versionNumber/@value
	Replaces        app.DocumentID // relatedDocument[@typeCode=RPLC]/parentDocument/id, same form as ID

	Patient            Patient      // recordTarget/patientRole
	Authors            []Author     // author, in document order
	Custodian          Organisation // custodian/assignedCustodian/representedCustodianOrganization
	LegalAuthenticator *Author      // legalAuthenticator, when present
	ServiceStart       time.Time    // documentationOf/serviceEvent/effectiveTime/low
	ServiceEnd         time.Time    // documentationOf/serviceEvent/effectiveTime/high
	ServiceEvent       app.Code     // documentationOf/serviceEvent/code, when present
	EncounterStart     time.Time    // componentOf/encompassingEncounter/effectiveTime/low (or @value)
	EncounterEnd       time.Time    // componentOf/encompassingEncounter/effectiveTime/high
	Facility           app.Code     // componentOf/encompassingEncounter/location/healthCareFacility/code
	FacilityName       string       // …/healthCareFacility/serviceProviderOrganization/name, when present

	Body Body // the N1 or N3 body

	Medications []app.Medication // medication lines, each with Source filled from the header
	Allergies   []app.Allergy    // allergies and intolerances
	Problems    []app.Problem    // problems, diagnoses, history (negated ones marked)
	Devices     []app.Device     // implanted or used medical devices
	// Observations are the numeric results (laboratory, vital signs):
	// observations with a PQ value, neither negated nor intended.
	Observations []app.Observation
	Media        []app.Attachment // observationMedia of the structured body, each with its ID

	Flags []Flag // what the reader noticed but did not refuse
}

// ID is an instance identifier (II): an OID root and an optional extension.
type ID struct {
	Root      string
	Extension string
}

// IsZero reports whether id is empty.
func (id ID) IsZero() bool { return id.Root == "" && id.Extension == "" }

// String returns root^extension, or root alone when there is no extension,
// the form the DMP uses for uniqueIds.
func (id ID) String() string {
	if id.Extension == "" {
		return id.Root
	}
	return id.Root + "^" + id.Extension
}

// INSStatus says which kind of INS domain the patient's INS belongs to.
type INSStatus string

// The values of INSStatus.
const (
	INSNone       INSStatus = ""           // no INS in the document
	INSProduction INSStatus = "production" // INS-NIR (…4.8) or INS-NIA (…4.9)
	INSTest       INSStatus = "test"       // test INS-NIR (…4.10)
	INSDemo       INSStatus = "demo"       // demo INS-NIR (…4.11)
)

// Patient is the recordTarget/patientRole of a document: the INS, local
// identifiers and the identity traits as written in the document (not the
// local qualified identity).
type Patient struct {
	INS        app.INS   // the INS with its domain OID; zero when absent
	INSStatus  INSStatus // production, test or demo domain
	LocalIDs   []ID      // the other patientRole/id (IPP and such)
	BirthName  string    // family[@qualifier=BR] (or the first family)
	GivenNames string    // given names, space-separated (given[@qualifier=BR] first)
	UsedName   string    // family[@qualifier=CL or SP]
	UsedGiven  string    // given[@qualifier=CL]
	Sex        app.Sex   // administrativeGenderCode
	BirthDate  string    // YYYY-MM-DD (or YYYY-MM, YYYY when partial); empty when absent or malformed
	BirthPlace string    // birthplace/place/addr/county (INSEE COG), else city
	// Repeated lists the identity elements that appear more than once in
	// the one recordTarget ("patientRole", "patient", "name", "family-BR",
	// "administrativeGenderCode", "birthTime", "birthplace"): such a
	// document designates no single patient and is never filed
	// automatically (ANS 904).
	Repeated []string
}

// Person is a named person (assignedPerson, informant …).
type Person struct {
	ID     ID     // assignedAuthor/id: root 1.2.250.1.71.4.2.1 = national PS id ("8"+RPPS)
	Prefix string // prefix, e.g. "M", "MME"
	Suffix string // suffix; French documents put the title there, e.g. "DR", "PR"
	Given  string // given names, space-separated
	Family string // family name
}

// Name returns the display name: the title when the prefix or suffix is
// one ("Dr", "Pr"), the given names and the family name, e.g.
// "Dr Antoine DUPONT". Civilities (M, MME) are left out.
func (p Person) Name() string {
	title := ""
	for _, t := range []string{p.Prefix, p.Suffix} {
		switch strings.ToUpper(strings.TrimRight(strings.TrimSpace(t), ".")) {
		case "DR":
			title = "Dr"
		case "PR":
			title = "Pr"
		}
	}
	return strings.Join(strings.Fields(title+" "+p.Given+" "+p.Family), " ")
}

// Organisation is an organisation (representedOrganization, custodian).
type Organisation struct {
	ID   ID     // root 1.2.250.1.71.4.2.2: "1"+FINESS or "3"+SIRET
	Name string // name
}

// Author is a document author, or the legal authenticator: a person or a
// device (such as the Assurance Maladie feed), with the organisation it acts
// for.
type Author struct {
	Time         time.Time    // author/time (legalAuthenticator/time)
	Person       *Person      // assignedPerson with assignedAuthor/id; nil for a device
	Device       string       // assignedAuthoringDevice/softwareName (or manufacturerModelName)
	DeviceID     ID           // assignedAuthor/id when the author is a device
	Organisation Organisation // representedOrganization
	Role         app.Code     // assignedAuthor/code (TRE_G15 profession/speciality)
}

// Name returns the person's display name, or the device name.
func (a Author) Name() string {
	if a.Person != nil {
		if n := a.Person.Name(); n != "" {
			return n
		}
	}
	return a.Device
}

// Body is a document body: exactly one of NonXML (level 1) and Sections
// (level 3) is set.
type Body struct {
	NonXML   *app.Attachment // component/nonXMLBody
	Sections []Section       // component/structuredBody/component/section
}

// Section is a section of a structured body, with its nested sections.
type Section struct {
	Code     app.Code      // section code (LOINC usually)
	Title    string        // title
	ID       ID            // section id, when present
	Template []string      // templateId/@root values
	Text     app.Narrative // section/text converted
	Sections []Section     // nested sections, in order
}

// FlagKind says what the reader noticed.
type FlagKind string

// The kinds of Flag.
const (
	FlagTestINS        FlagKind = "test-ins"       // a test or demo INS OID where production was expected
	FlagBadDate        FlagKind = "bad-date"       // a malformed date: the field was left zero
	FlagMediaMismatch  FlagKind = "media-mismatch" // N1 declared media type does not match the magic bytes
	FlagBadINS         FlagKind = "bad-ins"        // an INS whose matricule or key is invalid (kept as written)
	FlagUnknownCharset FlagKind = "encoding"       // text that was not valid UTF-8 was repaired
	FlagMissing        FlagKind = "missing"        // an expected header element is absent
	FlagUnsupported    FlagKind = "unsupported"    // an element the reader does not interpret
)

// Flag is something the reader noticed and did not refuse. Detail names the
// element, never its content.
type Flag struct {
	Kind   FlagKind
	Detail string // e.g. "effectiveTime", "recordTarget/patientRole/id"
}

// Meta returns the document's metadata as the document list shows it.
func (d *Document) Meta() app.DocumentMeta {
	m := app.DocumentMeta{
		ID:              d.ID,
		SetID:           d.SetID,
		Version:         d.Version,
		TypeCode:        d.Type.Code,
		Title:           d.Title,
		Date:            d.Effective,
		Confidentiality: d.Confidentiality.Code,
		MediaType:       "text/xml",
	}
	if !d.ServiceStart.IsZero() {
		m.Date = d.ServiceStart
	}
	if len(d.Authors) > 0 {
		m.Author = d.Authors[0].Name()
		m.Organisation = d.Authors[0].Organisation.Name
	}
	if m.Organisation == "" {
		m.Organisation = d.Custodian.Name
	}
	return m
}
