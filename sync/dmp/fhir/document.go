package fhir

import "encoding/json"

// DocumentReference is a document's entry (fiche) in the record: PDSm
// Comprehensive DocumentReference (MHD ITI-65/67).
type DocumentReference struct {
	ResourceType     string              `json:"resourceType"`
	ID               string              `json:"id,omitempty"`
	Meta             *Meta               `json:"meta,omitempty"`
	Contained        []RawResource       `json:"contained,omitempty"`
	Extension        []Extension         `json:"extension,omitempty"`
	MasterIdentifier *Identifier         `json:"masterIdentifier,omitempty"`
	Identifier       []Identifier        `json:"identifier,omitempty"`
	Status           string              `json:"status,omitempty"` // current | superseded | entered-in-error
	DocStatus        string              `json:"docStatus,omitempty"`
	Type             *CodeableConcept    `json:"type,omitempty"`
	Category         []CodeableConcept   `json:"category,omitempty"`
	Subject          *Reference          `json:"subject,omitempty"`
	Date             string              `json:"date,omitempty"` // instant
	Author           []Reference         `json:"author,omitempty"`
	Authenticator    *Reference          `json:"authenticator,omitempty"`
	Custodian        *Reference          `json:"custodian,omitempty"`
	RelatesTo        []RelatesTo         `json:"relatesTo,omitempty"`
	Description      string              `json:"description,omitempty"`
	SecurityLabel    []CodeableConcept   `json:"securityLabel,omitempty"`
	Content          []DocumentContent   `json:"content,omitempty"`
	Context          *DocumentRefContext `json:"context,omitempty"`
}

// RelatesTo links a DocumentReference to another (replaces, transforms,
// signs, appends).
type RelatesTo struct {
	Code   string    `json:"code"`
	Target Reference `json:"target"`
}

// DocumentContent is one rendition of the document.
type DocumentContent struct {
	Attachment Attachment `json:"attachment"`
	Format     *Coding    `json:"format,omitempty"`
}

// Attachment is where the document is and what it is. Size and Hash are
// absent for on-demand documents; size 0 with the SHA-1 of nothing means
// delayed assembly.
type Attachment struct {
	ContentType string `json:"contentType,omitempty"`
	Language    string `json:"language,omitempty"`
	Data        []byte `json:"data,omitempty"` // base64 on the wire
	URL         string `json:"url,omitempty"`
	Size        *int64 `json:"size,omitempty"`
	Hash        string `json:"hash,omitempty"` // base64 SHA-1
	Title       string `json:"title,omitempty"`
	Creation    string `json:"creation,omitempty"` // dateTime
}

// DocumentRefContext is the clinical context of the document.
type DocumentRefContext struct {
	Encounter         []Reference       `json:"encounter,omitempty"`
	Event             []CodeableConcept `json:"event,omitempty"`
	Period            *Period           `json:"period,omitempty"`
	FacilityType      *CodeableConcept  `json:"facilityType,omitempty"`
	PracticeSetting   *CodeableConcept  `json:"practiceSetting,omitempty"`
	SourcePatientInfo *Reference        `json:"sourcePatientInfo,omitempty"`
	Related           []Reference       `json:"related,omitempty"`
}

func (*DocumentReference) resourceType() string { return "DocumentReference" }

// MarshalJSON sets resourceType.
func (d DocumentReference) MarshalJSON() ([]byte, error) {
	type alias DocumentReference
	d.ResourceType = "DocumentReference"
	return json.Marshal(alias(d))
}

// UniqueID returns the document's uniqueId (masterIdentifier value), "" when
// absent.
func (d *DocumentReference) UniqueID() string {
	if d.MasterIdentifier == nil {
		return ""
	}
	return d.MasterIdentifier.Value
}

// Archived reports the PDSm isArchived extension.
func (d *DocumentReference) Archived() bool { return FindExtension(d.Extension, ExtIsArchived).Bool() }

// HasSecurityLabel reports whether the document carries the label code
// (MASQUE_PS, INVISIBLE_PATIENT, INVISIBLE_REPRESENTANTS_LEGAUX, N …), in
// any code system.
func (d *DocumentReference) HasSecurityLabel(code string) bool {
	for i := range d.SecurityLabel {
		if d.SecurityLabel[i].Has("", code) {
			return true
		}
	}
	return false
}

// Replaces returns the reference of the document this one replaces, "" if
// none.
func (d *DocumentReference) Replaces() string {
	for _, r := range d.RelatesTo {
		if r.Code == "replaces" {
			return r.Target.Reference
		}
	}
	return ""
}

// List is a submission set (code submissionset) or a folder (ITI-65, ITI-66).
type List struct {
	ResourceType string           `json:"resourceType"`
	ID           string           `json:"id,omitempty"`
	Meta         *Meta            `json:"meta,omitempty"`
	Contained    []RawResource    `json:"contained,omitempty"`
	Extension    []Extension      `json:"extension,omitempty"`
	Identifier   []Identifier     `json:"identifier,omitempty"`
	Status       string           `json:"status,omitempty"` // current | retired | entered-in-error
	Mode         string           `json:"mode,omitempty"`   // working
	Title        string           `json:"title,omitempty"`
	Code         *CodeableConcept `json:"code,omitempty"`
	Subject      *Reference       `json:"subject,omitempty"`
	Date         string           `json:"date,omitempty"` // submission time
	Source       *Reference       `json:"source,omitempty"`
	Note         []Annotation     `json:"note,omitempty"`
	Entry        []ListEntry      `json:"entry,omitempty"`
}

// ListEntry is a member of a List.
type ListEntry struct {
	Item Reference `json:"item"`
}

// Annotation is a text note.
type Annotation struct {
	Text string `json:"text"`
}

func (*List) resourceType() string { return "List" }

// MarshalJSON sets resourceType.
func (l List) MarshalJSON() ([]byte, error) {
	type alias List
	l.ResourceType = "List"
	return json.Marshal(alias(l))
}

// Binary is a document's bytes (ITI-68 with Accept: application/fhir+json,
// and the Binary entries of ITI-65).
type Binary struct {
	ResourceType    string     `json:"resourceType"`
	ID              string     `json:"id,omitempty"`
	Meta            *Meta      `json:"meta,omitempty"`
	ContentType     string     `json:"contentType"`
	SecurityContext *Reference `json:"securityContext,omitempty"`
	Data            []byte     `json:"data,omitempty"` // base64 on the wire
}

func (*Binary) resourceType() string { return "Binary" }

// MarshalJSON sets resourceType.
func (b Binary) MarshalJSON() ([]byte, error) {
	type alias Binary
	b.ResourceType = "Binary"
	return json.Marshal(alias(b))
}
