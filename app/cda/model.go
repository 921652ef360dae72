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
	Allergies   []Allergy        // allergies and intolerances
	Problems    []Problem        // problems, diagnoses, history (negated ones marked)
	Devices     []app.Device     // implanted or used medical devices
	// Observations are the numeric results (laboratory, vital signs):
	// observations with a PQ value, neither negated nor intended.
	Observations []app.Observation
	Media        []Attachment // observationMedia of the structured body, each with its ID

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
	NonXML   *Attachment // component/nonXMLBody
	Sections []Section   // component/structuredBody/component/section
}

// Attachment is the decoded content of a nonXMLBody: MediaType is the type
// detected from the magic bytes ("application/pdf" …), or DeclaredType
// (text/@mediaType) when the bytes tell nothing. It is app.Attachment.
type Attachment = app.Attachment

// Section is a section of a structured body, with its nested sections.
type Section struct {
	Code     app.Code  // section code (LOINC usually)
	Title    string    // title
	ID       ID        // section id, when present
	Template []string  // templateId/@root values
	Text     Narrative // section/text converted
	Sections []Section // nested sections, in order
}

// The neutral rich-text model of section narratives is app's (package app,
// richtext.go): the aliases below keep the reader and the writer in the
// words of CDA. A Block's ID is the @ID of its element, Style its styleCode
// (and the sup/sub elements), a Media block a renderMultiMedia whose Refs
// are its referencedObject split on spaces, an InlineLink a linkHtml whose
// href is kept as text and never followed, an InlineFootnoteRef a footnote
// or footnoteRef.
type (
	// Narrative is the neutral rich text of a section's text element.
	Narrative = app.Narrative
	// BlockKind says what a Block is.
	BlockKind = app.BlockKind
	// Block is a block of narrative (paragraph, list, table, caption, media).
	Block = app.Block
	// Item is a list item.
	Item = app.Item
	// Table is a narrative table (thead, tbody, tfoot rows).
	Table = app.Table
	// Row is a table row (tr).
	Row = app.Row
	// Cell is a table cell (td or th).
	Cell = app.Cell
	// Media is a renderMultiMedia reference to observationMedia.
	Media = app.Media
	// Style is a set of text styles (styleCode, sup, sub).
	Style = app.Style
	// InlineKind says what an Inline is.
	InlineKind = app.InlineKind
	// Inline is a piece of inline narrative.
	Inline = app.Inline
	// Footnote is a footnote of a narrative.
	Footnote = app.Footnote
)

// The kinds of Block (see app.BlockKind).
const (
	BlockParagraph = app.BlockParagraph
	BlockList      = app.BlockList
	BlockTable     = app.BlockTable
	BlockCaption   = app.BlockCaption
	BlockMedia     = app.BlockMedia
)

// The styles (see app.Style).
const (
	Bold        = app.Bold
	Italic      = app.Italic
	Underline   = app.Underline
	Emphasis    = app.Emphasis
	Superscript = app.Superscript
	Subscript   = app.Subscript
)

// The kinds of Inline (see app.InlineKind).
const (
	InlineText        = app.InlineText
	InlineBreak       = app.InlineBreak
	InlineLink        = app.InlineLink
	InlineFootnoteRef = app.InlineFootnoteRef
)

// PlainInlines returns the inlines as plain text (app.PlainInlines).
func PlainInlines(in []Inline) string { return app.PlainInlines(in) }

// Allergy is an allergy or intolerance entry (IHE allergy and intolerance
// concern, CI-SIS FR-Allergie-ou-intolerance): Code is the observation's
// code or value, Agent the participant's playingEntity code, Start and End
// the effectiveTime low and high. It is app.Allergy.
type Allergy = app.Allergy

// Problem is a problem, diagnosis or history entry (FR-Probleme): Code is
// the observation's value (CIM-10, SNOMED …), Kind its code, Status its
// statusCode. It is app.Problem.
type Problem = app.Problem

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
