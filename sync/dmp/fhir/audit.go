package fhir

import "encoding/json"

// AuditEvent is an access trace: who accessed a patient's record, when, how
// (AuditEvent?patient=…).
type AuditEvent struct {
	ResourceType   string            `json:"resourceType"`
	ID             string            `json:"id,omitempty"`
	Meta           *Meta             `json:"meta,omitempty"`
	Extension      []Extension       `json:"extension,omitempty"`
	Type           Coding            `json:"type"`
	Subtype        []Coding          `json:"subtype,omitempty"`
	Action         string            `json:"action,omitempty"`  // C | R | U | D | E
	Recorded       string            `json:"recorded"`          // instant
	Outcome        string            `json:"outcome,omitempty"` // 0 success, 4 minor, 8 serious, 12 major failure
	OutcomeDesc    string            `json:"outcomeDesc,omitempty"`
	PurposeOfEvent []CodeableConcept `json:"purposeOfEvent,omitempty"`
	Agent          []AuditAgent      `json:"agent"`
	Source         AuditSource       `json:"source"`
	Entity         []AuditEntity     `json:"entity,omitempty"`
}

// AuditAgent is an actor of the event.
type AuditAgent struct {
	Type      *CodeableConcept `json:"type,omitempty"`
	Who       *Reference       `json:"who,omitempty"`
	Name      string           `json:"name,omitempty"`
	Requestor bool             `json:"requestor"`
}

// AuditSource is the system that recorded the event.
type AuditSource struct {
	Site     string    `json:"site,omitempty"`
	Observer Reference `json:"observer"`
	Type     []Coding  `json:"type,omitempty"`
}

// AuditEntity is what the event was about (the patient, a document).
type AuditEntity struct {
	What        *Reference `json:"what,omitempty"`
	Type        *Coding    `json:"type,omitempty"`
	Role        *Coding    `json:"role,omitempty"`
	Description string     `json:"description,omitempty"`
}

func (*AuditEvent) resourceType() string { return "AuditEvent" }

// MarshalJSON sets resourceType.
func (a AuditEvent) MarshalJSON() ([]byte, error) {
	type alias AuditEvent
	a.ResourceType = "AuditEvent"
	return json.Marshal(alias(a))
}

// CapabilityStatement is the server's capability statement (GET metadata),
// reduced to what a client checks: FHIR version and supported search
// parameters per resource.
type CapabilityStatement struct {
	ResourceType string       `json:"resourceType"`
	Status       string       `json:"status"`
	Date         string       `json:"date,omitempty"`
	Kind         string       `json:"kind"`
	FHIRVersion  string       `json:"fhirVersion"`
	Format       []string     `json:"format"`
	Software     *CapSoftware `json:"software,omitempty"`
	Rest         []CapRest    `json:"rest,omitempty"`
}

// CapSoftware names the server software.
type CapSoftware struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
}

// CapRest is the server side of the REST capabilities.
type CapRest struct {
	Mode     string        `json:"mode"`
	Resource []CapResource `json:"resource,omitempty"`
}

// CapResource is one resource type's capabilities.
type CapResource struct {
	Type        string     `json:"type"`
	Interaction []CapCode  `json:"interaction,omitempty"`
	SearchParam []CapParam `json:"searchParam,omitempty"`
}

// CapCode is a code element.
type CapCode struct {
	Code string `json:"code"`
}

// CapParam is a supported search parameter.
type CapParam struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

func (*CapabilityStatement) resourceType() string { return "CapabilityStatement" }

// MarshalJSON sets resourceType.
func (c CapabilityStatement) MarshalJSON() ([]byte, error) {
	type alias CapabilityStatement
	c.ResourceType = "CapabilityStatement"
	return json.Marshal(alias(c))
}
