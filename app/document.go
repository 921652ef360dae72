package app

import "time"

// DocumentReader reads the content of a clinical document (a CDA R2
// document, or a bare PDF or image received as such) into a
// ClinicalDocument the UI can show and the medication list can use. It is
// implemented by package app/cda; main wires it with
// Service.SetDocumentReader.
//
// Read must not keep content nor the returned document's slices after it
// returns, must be safe for concurrent use, and must return errors that
// never contain document content (they wrap ErrInvalid for a document it
// refuses).
type DocumentReader interface {
	Read(content []byte, meta DocumentMeta) (ClinicalDocument, error)
}

// StructuredReader is a DocumentReader that can also read a document
// without decoding its embedded media (observationMedia): the header and
// the entries only. ReadMedications uses it when the reader offers it,
// since the medication list needs no embedded PDF or image.
type StructuredReader interface {
	DocumentReader
	ReadStructured(content []byte, meta DocumentMeta) (ClinicalDocument, error)
}

// ClinicalDocument is a document as read: its metadata, its human-readable
// body (sections of narrative, or an attachment such as a PDF) and the
// structured entries Carnet uses.
type ClinicalDocument struct {
	// Meta is the metadata the document was read with (the manifest's),
	// whose empty fields were completed from the document itself.
	Meta DocumentMeta
	// Title is the document's own title (Meta.Title when it has none).
	Title string
	// Type is the document type as coded in the document (LOINC or the
	// French TRE_A05); zero when the document does not say.
	Type Code
	// Authors are the display names of the authors, in document order.
	Authors []string
	// Sections is the structured body (CDA level 3): empty for an
	// attachment.
	Sections []Section
	// Attachment is the unstructured body (CDA level 1, or a bare PDF or
	// image): nil for a structured body.
	Attachment *Attachment
	// Medications are the medication lines of the document's structured
	// entries, each with its Source.
	Medications []Medication
	// Allergies are the allergy and intolerance entries.
	Allergies []Allergy
	// Problems are the problem, diagnosis and history entries, negated
	// ones included (Problem.Negated): the problem list leaves them out.
	Problems []Problem
	// Devices are the implanted or used medical devices the entries name.
	Devices []Device
	// Observations are the numeric results of the entries (laboratory
	// results, vital signs), observation.go.
	Observations []Observation
	// Media are the objects embedded in a structured body
	// (observationMedia: PDFs, images), each with its ID.
	Media []Attachment
	// Flags are what the reader noticed without refusing the document:
	// machine codes (the ReadFlag… constants), each once, in the order
	// first seen. The UI translates them.
	Flags []string
}

// HasFlag reports whether the reader noticed flag.
func (d *ClinicalDocument) HasFlag(flag string) bool {
	for _, f := range d.Flags {
		if f == flag {
			return true
		}
	}
	return false
}

// Structured reports whether the document has a structured body (sections)
// rather than an attachment.
func (d *ClinicalDocument) Structured() bool { return d.Attachment == nil && len(d.Sections) > 0 }

// The flags a DocumentReader may set in ClinicalDocument.Flags.
const (
	ReadFlagTestINS       = "test-ins"       // a test or demonstration INS where a production one was expected
	ReadFlagBadINS        = "bad-ins"        // an INS whose number or key is invalid (kept as written)
	ReadFlagBadDate       = "bad-date"       // a malformed date: the field was left zero
	ReadFlagMediaMismatch = "media-mismatch" // the attachment's declared media type does not match its bytes
	ReadFlagEncoding      = "encoding"       // text that was not valid UTF-8 was repaired
	ReadFlagMissing       = "missing"        // an expected header element is absent
	ReadFlagUnsupported   = "unsupported"    // an element the reader does not interpret was left out
)

// Section is a section of a structured document, with its nested sections.
type Section struct {
	Code     Code      // the section code (LOINC usually)
	Title    string    // the section title
	Text     Narrative // the section's human-readable text
	Sections []Section // nested sections, in order
}

// Attachment is an unstructured document body: a PDF, an image, plain or
// rich text.
type Attachment struct {
	MediaType    string // the media type told by the bytes ("application/pdf" …), or DeclaredType when they tell nothing
	DeclaredType string // the media type the document declared
	Data         []byte // the decoded bytes
	// ID is the observationMedia's ID the narrative refers to
	// (renderMultiMedia); empty for a document body.
	ID string
	// Title is what the document calls an embedded object (its narrative
	// caption or its organizer's text), when it says; empty otherwise.
	Title string
	// Mismatch: the declared media type does not match the bytes.
	Mismatch bool
}

// Allergy is an allergy or intolerance entry of a document.
type Allergy struct {
	Code     Code      // the kind of allergy or intolerance
	Agent    Code      // the substance it is to
	Reaction string    // the reaction, as written or as its code's display
	Start    time.Time // onset
	End      time.Time // resolution
	Text     string    // the name or text as written

	Negated bool // the document says there is NO such allergy (negationInd)
	// NoneKnown: the document states that the patient has no known
	// allergy at all ("no known allergy" code, or a negated allergy to no
	// named agent); Negated is then true.
	NoneKnown bool
	// Unspecified: the entry names only a kind of allergy ("allergie
	// médicamenteuse") — no substance, no description, its text reference
	// resolving to nothing. It asserts no allergy the reader could act on:
	// shown as an entry to check against the document, never as a fact.
	Unspecified     bool
	ReactionNegated bool          // the reaction is recorded as NOT observed
	StartPrecision  DatePrecision // how much of Start the document gave
	EndPrecision    DatePrecision
	Source          MedicationSource // the document it was read from (ReadMedications fills it)
}

// Problem is a problem, diagnosis or history entry of a document.
type Problem struct {
	Code   Code      // the problem (CIM-10, SNOMED …)
	Kind   Code      // problem, diagnosis, symptom …
	Start  time.Time // onset
	End    time.Time // resolution
	Text   string    // the text as written
	Status string    // the entry's status code ("completed", "active" …)

	Negated        bool          // the document says the patient does NOT have it (negationInd)
	StartPrecision DatePrecision // how much of Start the document gave
	EndPrecision   DatePrecision
	Source         MedicationSource // the document it was read from (ReadMedications fills it)
}

// NoteDraft is a note a practitioner writes in Carnet.
type NoteDraft struct {
	Title      string     // empty: "Compte rendu de consultation"
	Text       string     // the body; paragraphs separated by blank lines
	Visibility Visibility // masked to professionals, hidden from the patient or legal representatives
	Replaces   DocumentID // when set: a new version of this document of the record
}

// WrittenDocument is a document produced by a DocumentWriter: its content
// (CDA) and the metadata it is sent with.
type WrittenDocument struct {
	Meta    DocumentMeta
	Content []byte
}

// DocumentWriter writes clinical documents (implemented by app/cda: the
// CI-SIS header, the INS only for a qualified identity). previous is the
// document replaced, or nil.
type DocumentWriter interface {
	WriteNote(p Patient, author Practitioner, d NoteDraft, previous *DocumentMeta, at time.Time) (WrittenDocument, error)
	// WritePreAnesthesia writes the pre-anesthesia consultation report
	// (LOINC 34749-2) carrying the medication list the anesthesiologist
	// reconciled, as structured entries (see Service.Reconcile).
	WritePreAnesthesia(p Patient, author Practitioner, r Reconciliation, at time.Time) (WrittenDocument, error)
}
