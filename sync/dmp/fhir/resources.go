package fhir

import "encoding/json"

// Patient is a patient as ITI-78 returns it. Carnet reads only its
// identifiers, Active and the record-status extensions: identity traits the
// service returns are never shown (RG_0320).
type Patient struct {
	ResourceType string        `json:"resourceType"`
	ID           string        `json:"id,omitempty"`
	Meta         *Meta         `json:"meta,omitempty"`
	Extension    []Extension   `json:"extension,omitempty"`
	Identifier   []Identifier  `json:"identifier,omitempty"`
	Active       *bool         `json:"active,omitempty"`
	Name         []HumanName   `json:"name,omitempty"`
	Gender       string        `json:"gender,omitempty"`
	BirthDate    string        `json:"birthDate,omitempty"`
	Link         []PatientLink `json:"link,omitempty"`
}

// PatientLink links merged patients.
type PatientLink struct {
	Other Reference `json:"other"`
	Type  string    `json:"type"`
}

func (*Patient) resourceType() string { return "Patient" }

// MarshalJSON sets resourceType.
func (p Patient) MarshalJSON() ([]byte, error) {
	type alias Patient
	p.ResourceType = "Patient"
	return json.Marshal(alias(p))
}

// Practitioner is a health professional (contained author).
type Practitioner struct {
	ResourceType string       `json:"resourceType"`
	ID           string       `json:"id,omitempty"`
	Meta         *Meta        `json:"meta,omitempty"`
	Identifier   []Identifier `json:"identifier,omitempty"`
	Name         []HumanName  `json:"name,omitempty"`
}

func (*Practitioner) resourceType() string { return "Practitioner" }

// MarshalJSON sets resourceType.
func (p Practitioner) MarshalJSON() ([]byte, error) {
	type alias Practitioner
	p.ResourceType = "Practitioner"
	return json.Marshal(alias(p))
}

// PractitionerRole is a professional acting in a role for an organisation
// (contained author in PDSm).
type PractitionerRole struct {
	ResourceType string            `json:"resourceType"`
	ID           string            `json:"id,omitempty"`
	Meta         *Meta             `json:"meta,omitempty"`
	Identifier   []Identifier      `json:"identifier,omitempty"`
	Practitioner *Reference        `json:"practitioner,omitempty"`
	Organization *Reference        `json:"organization,omitempty"`
	Code         []CodeableConcept `json:"code,omitempty"`
	Specialty    []CodeableConcept `json:"specialty,omitempty"`
}

func (*PractitionerRole) resourceType() string { return "PractitionerRole" }

// MarshalJSON sets resourceType.
func (p PractitionerRole) MarshalJSON() ([]byte, error) {
	type alias PractitionerRole
	p.ResourceType = "PractitionerRole"
	return json.Marshal(alias(p))
}

// Organization is a structure (custodian, author's organisation).
type Organization struct {
	ResourceType string       `json:"resourceType"`
	ID           string       `json:"id,omitempty"`
	Identifier   []Identifier `json:"identifier,omitempty"`
	Name         string       `json:"name,omitempty"`
}

func (*Organization) resourceType() string { return "Organization" }

// MarshalJSON sets resourceType.
func (o Organization) MarshalJSON() ([]byte, error) {
	type alias Organization
	o.ResourceType = "Organization"
	return json.Marshal(alias(o))
}

// Device is an automated author (e.g. the Assurance Maladie feed, ALIM_AM).
type Device struct {
	ResourceType string       `json:"resourceType"`
	ID           string       `json:"id,omitempty"`
	Identifier   []Identifier `json:"identifier,omitempty"`
	DeviceName   []DeviceName `json:"deviceName,omitempty"`
}

// DeviceName is a device's name.
type DeviceName struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

func (*Device) resourceType() string { return "Device" }

// MarshalJSON sets resourceType.
func (d Device) MarshalJSON() ([]byte, error) {
	type alias Device
	d.ResourceType = "Device"
	return json.Marshal(alias(d))
}

// Bundle is a searchset, a transaction (ITI-65) or its response, or a
// FHIR document.
type Bundle struct {
	ResourceType string        `json:"resourceType"`
	ID           string        `json:"id,omitempty"`
	Meta         *Meta         `json:"meta,omitempty"`
	Identifier   *Identifier   `json:"identifier,omitempty"`
	Type         string        `json:"type"` // searchset | transaction | transaction-response | document …
	Timestamp    string        `json:"timestamp,omitempty"`
	Total        *int          `json:"total,omitempty"`
	Link         []BundleLink  `json:"link,omitempty"`
	Entry        []BundleEntry `json:"entry,omitempty"`
}

// BundleLink is a paging or self link.
type BundleLink struct {
	Relation string `json:"relation"` // self | next | previous | first | last
	URL      string `json:"url"`
}

// BundleEntry is one entry of a Bundle.
type BundleEntry struct {
	Link     []BundleLink   `json:"link,omitempty"`
	FullURL  string         `json:"fullUrl,omitempty"`
	Resource *RawResource   `json:"resource,omitempty"`
	Search   *EntrySearch   `json:"search,omitempty"`
	Request  *EntryRequest  `json:"request,omitempty"`
	Response *EntryResponse `json:"response,omitempty"`
}

// EntrySearch says why an entry is in a searchset (match | include | outcome).
type EntrySearch struct {
	Mode string `json:"mode,omitempty"`
}

// EntryRequest is the request of a transaction entry.
type EntryRequest struct {
	Method      string `json:"method"` // POST | PUT | PATCH | DELETE | GET
	URL         string `json:"url"`
	IfMatch     string `json:"ifMatch,omitempty"`
	IfNoneExist string `json:"ifNoneExist,omitempty"`
}

// EntryResponse is the outcome of a transaction entry.
type EntryResponse struct {
	Status       string       `json:"status"` // "201 Created"
	Location     string       `json:"location,omitempty"`
	Etag         string       `json:"etag,omitempty"`
	LastModified string       `json:"lastModified,omitempty"`
	Outcome      *RawResource `json:"outcome,omitempty"`
}

func (*Bundle) resourceType() string { return "Bundle" }

// MarshalJSON sets resourceType.
func (b Bundle) MarshalJSON() ([]byte, error) {
	type alias Bundle
	b.ResourceType = "Bundle"
	return json.Marshal(alias(b))
}

// LinkURL returns the URL of the link with relation rel, "" when absent.
func (b *Bundle) LinkURL(rel string) string {
	for _, l := range b.Link {
		if l.Relation == rel {
			return l.URL
		}
	}
	return ""
}

// Parameters carries operation parameters, and FHIRPath Patch operations
// (the MHD UpdateDocumentRefs slice of ITI-65).
type Parameters struct {
	ResourceType string      `json:"resourceType"`
	ID           string      `json:"id,omitempty"`
	Parameter    []Parameter `json:"parameter,omitempty"`
}

// Parameter is one named parameter: a value, a resource, or parts.
type Parameter struct {
	Name                 string           `json:"name"`
	ValueString          string           `json:"valueString,omitempty"`
	ValueCode            string           `json:"valueCode,omitempty"`
	ValueBoolean         *bool            `json:"valueBoolean,omitempty"`
	ValueInteger         *int64           `json:"valueInteger,omitempty"`
	ValueDateTime        string           `json:"valueDateTime,omitempty"`
	ValueInstant         string           `json:"valueInstant,omitempty"`
	ValueURI             string           `json:"valueUri,omitempty"`
	ValueCoding          *Coding          `json:"valueCoding,omitempty"`
	ValueCodeableConcept *CodeableConcept `json:"valueCodeableConcept,omitempty"`
	ValueIdentifier      *Identifier      `json:"valueIdentifier,omitempty"`
	ValueReference       *Reference       `json:"valueReference,omitempty"`
	Resource             *RawResource     `json:"resource,omitempty"`
	Part                 []Parameter      `json:"part,omitempty"`
}

func (*Parameters) resourceType() string { return "Parameters" }

// MarshalJSON sets resourceType.
func (p Parameters) MarshalJSON() ([]byte, error) {
	type alias Parameters
	p.ResourceType = "Parameters"
	return json.Marshal(alias(p))
}

// Get returns the first parameter named name, or nil.
func (p *Parameters) Get(name string) *Parameter {
	return findParam(p.Parameter, name)
}

// PartNamed returns the first part named name, or nil.
func (p *Parameter) PartNamed(name string) *Parameter { return findParam(p.Part, name) }

func findParam(ps []Parameter, name string) *Parameter {
	for i := range ps {
		if ps[i].Name == name {
			return &ps[i]
		}
	}
	return nil
}

// Value returns the parameter's value as a string, whichever of the
// string-like value fields holds it.
func (p *Parameter) Value() string {
	switch {
	case p == nil:
		return ""
	case p.ValueCode != "":
		return p.ValueCode
	case p.ValueString != "":
		return p.ValueString
	case p.ValueURI != "":
		return p.ValueURI
	case p.ValueDateTime != "":
		return p.ValueDateTime
	}
	return p.ValueInstant
}

// Consent is a patient's consent. Carnet uses it for TD0.3: the
// practitioner's access authorisation, recorded after the patient agreed
// (POST [base]/Consent, see NewAuthorizationConsent).
type Consent struct {
	ResourceType string            `json:"resourceType"`
	ID           string            `json:"id,omitempty"`
	Meta         *Meta             `json:"meta,omitempty"`
	Status       string            `json:"status"` // active
	Scope        *CodeableConcept  `json:"scope,omitempty"`
	Category     []CodeableConcept `json:"category,omitempty"`
	Patient      *Reference        `json:"patient,omitempty"`
	DateTime     string            `json:"dateTime,omitempty"`
	Performer    []Reference       `json:"performer,omitempty"`
	Provision    *ConsentProvision `json:"provision,omitempty"`
}

// ConsentProvision is what the consent permits, to whom, until when.
type ConsentProvision struct {
	Type   string         `json:"type,omitempty"` // permit | deny
	Period *Period        `json:"period,omitempty"`
	Actor  []ConsentActor `json:"actor,omitempty"`
}

// ConsentActor is who the provision applies to.
type ConsentActor struct {
	Role      CodeableConcept `json:"role"`
	Reference Reference       `json:"reference"`
}

func (*Consent) resourceType() string { return "Consent" }

// MarshalJSON sets resourceType.
func (c Consent) MarshalJSON() ([]byte, error) {
	type alias Consent
	c.ResourceType = "Consent"
	return json.Marshal(alias(c))
}

// NewAuthorizationConsent is the Consent a client posts to record the
// patient's authorisation for the practitioner rpps (TD0.3, AJOUT): patient
// and actor are logical references by identifier (ins is a token
// "urn:oid:…|matricule"), dateTime is now (an instant).
func NewAuthorizationConsent(ins Token, rpps, now string) Consent {
	return Consent{
		Status:   "active",
		Scope:    &CodeableConcept{Coding: []Coding{{System: SystemConsentScope, Code: "patient-privacy"}}},
		Category: []CodeableConcept{Concept(ConsentAuthorizationCategory, "dmp-authorization", "Autorisation d'accès au DMP")},
		Patient:  &Reference{Identifier: &Identifier{System: ins.System, Value: ins.Value}},
		DateTime: now,
		Provision: &ConsentProvision{Type: "permit", Actor: []ConsentActor{{
			Role:      Concept("http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "PRCP", "primary information recipient"),
			Reference: Reference{Identifier: &Identifier{System: SystemRPPS, Value: rpps}},
		}}},
	}
}
