package fhir

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Meta is a resource's metadata.
type Meta struct {
	VersionID   string   `json:"versionId,omitempty"`
	LastUpdated string   `json:"lastUpdated,omitempty"` // instant
	Profile     []string `json:"profile,omitempty"`
	Security    []Coding `json:"security,omitempty"`
	Tag         []Coding `json:"tag,omitempty"`
}

// Coding is a code in a code system.
type Coding struct {
	System  string `json:"system,omitempty"`
	Version string `json:"version,omitempty"`
	Code    string `json:"code,omitempty"`
	Display string `json:"display,omitempty"`
}

// CodeableConcept is a concept given by one or more codings and/or text.
type CodeableConcept struct {
	Coding []Coding `json:"coding,omitempty"`
	Text   string   `json:"text,omitempty"`
}

// Has reports whether c holds the code in system (any system when system
// is "").
func (c *CodeableConcept) Has(system, code string) bool {
	if c == nil {
		return false
	}
	for _, cd := range c.Coding {
		if cd.Code == code && (system == "" || cd.System == system) {
			return true
		}
	}
	return false
}

// First returns the first coding, or a zero Coding.
func (c *CodeableConcept) First() Coding {
	if c == nil || len(c.Coding) == 0 {
		return Coding{}
	}
	return c.Coding[0]
}

// Concept returns a CodeableConcept with one coding.
func Concept(system, code, display string) CodeableConcept {
	return CodeableConcept{Coding: []Coding{{System: system, Code: code, Display: display}}}
}

// Identifier is a business identifier.
type Identifier struct {
	Use    string           `json:"use,omitempty"`
	Type   *CodeableConcept `json:"type,omitempty"`
	System string           `json:"system,omitempty"`
	Value  string           `json:"value,omitempty"`
}

// Reference points to another resource: literally (reference), logically
// (identifier), or both.
type Reference struct {
	Reference  string      `json:"reference,omitempty"`
	Type       string      `json:"type,omitempty"`
	Identifier *Identifier `json:"identifier,omitempty"`
	Display    string      `json:"display,omitempty"`
}

// Period is a time range; both ends are dateTime strings.
type Period struct {
	Start string `json:"start,omitempty"`
	End   string `json:"end,omitempty"`
}

// HumanName is a person's name.
type HumanName struct {
	Use    string   `json:"use,omitempty"`
	Text   string   `json:"text,omitempty"`
	Family string   `json:"family,omitempty"`
	Given  []string `json:"given,omitempty"`
	Prefix []string `json:"prefix,omitempty"`
}

// Extension is a FHIR extension, kept generic: one of the value fields is
// set, or nested extensions.
type Extension struct {
	URL                  string           `json:"url"`
	ValueBoolean         *bool            `json:"valueBoolean,omitempty"`
	ValueString          string           `json:"valueString,omitempty"`
	ValueCode            string           `json:"valueCode,omitempty"`
	ValueURI             string           `json:"valueUri,omitempty"`
	ValueDateTime        string           `json:"valueDateTime,omitempty"`
	ValueInstant         string           `json:"valueInstant,omitempty"`
	ValueInteger         *int64           `json:"valueInteger,omitempty"`
	ValueCoding          *Coding          `json:"valueCoding,omitempty"`
	ValueCodeableConcept *CodeableConcept `json:"valueCodeableConcept,omitempty"`
	ValueIdentifier      *Identifier      `json:"valueIdentifier,omitempty"`
	ValueReference       *Reference       `json:"valueReference,omitempty"`
	ValuePeriod          *Period          `json:"valuePeriod,omitempty"`
	Extension            []Extension      `json:"extension,omitempty"`
}

// FindExtension returns the first extension with url in exts, or nil.
func FindExtension(exts []Extension, url string) *Extension {
	for i := range exts {
		if exts[i].URL == url {
			return &exts[i]
		}
	}
	return nil
}

// BoolExtension returns an extension with a valueBoolean.
func BoolExtension(url string, v bool) Extension { return Extension{URL: url, ValueBoolean: &v} }

// Bool returns the extension's valueBoolean, false when absent.
func (e *Extension) Bool() bool { return e != nil && e.ValueBoolean != nil && *e.ValueBoolean }

// Narrative is a resource's human-readable text.
type Narrative struct {
	Status string `json:"status,omitempty"`
	Div    string `json:"div,omitempty"`
}

// RawResource is a resource of any type as it travels inside a Bundle entry
// or a contained list: its type and id are decoded, the rest is kept raw
// until Decode. It marshals back to the raw JSON unchanged.
type RawResource struct {
	ResourceType string
	ID           string
	Identifier   []Identifier // when the resource has a top-level identifier array
	Raw          json.RawMessage
}

type rawHeader struct {
	ResourceType string          `json:"resourceType"`
	ID           string          `json:"id"`
	Identifier   json.RawMessage `json:"identifier"`
}

// UnmarshalJSON keeps a copy of the raw resource and decodes its header.
func (r *RawResource) UnmarshalJSON(b []byte) error {
	var h rawHeader
	if err := json.Unmarshal(b, &h); err != nil {
		return err
	}
	if h.ResourceType == "" {
		return errors.New("fhir: resource without resourceType")
	}
	r.ResourceType, r.ID = h.ResourceType, h.ID
	r.Identifier = nil
	if len(h.Identifier) > 0 && h.Identifier[0] == '[' {
		// Bundle.identifier is a single object; only arrays are kept
		_ = json.Unmarshal(h.Identifier, &r.Identifier)
	}
	r.Raw = append(json.RawMessage(nil), b...)
	return nil
}

// MarshalJSON writes the raw resource.
func (r RawResource) MarshalJSON() ([]byte, error) {
	if len(r.Raw) == 0 {
		return []byte("null"), nil
	}
	return r.Raw, nil
}

// Decode decodes the resource into v (a *DocumentReference, *Patient …). It
// fails when v's type does not match the resource type.
func (r *RawResource) Decode(v any) error {
	if r == nil || len(r.Raw) == 0 {
		return errors.New("fhir: empty resource")
	}
	if t, ok := v.(interface{ resourceType() string }); ok && t.resourceType() != r.ResourceType {
		return fmt.Errorf("fhir: resource is a %s, not a %s", r.ResourceType, t.resourceType())
	}
	return json.Unmarshal(r.Raw, v)
}

// Wrap marshals a resource into a RawResource.
func Wrap(v any) (*RawResource, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("fhir: wrap: %w", err)
	}
	r := new(RawResource)
	if err := r.UnmarshalJSON(b); err != nil {
		return nil, err
	}
	return r, nil
}

// MustWrap is Wrap for values known to marshal (the package's own types).
func MustWrap(v any) *RawResource {
	r, err := Wrap(v)
	if err != nil {
		panic(err)
	}
	return r
}

// FindContained returns the contained resource that a local reference
// ("#id") points to, or nil.
func FindContained(contained []RawResource, ref string) *RawResource {
	if len(ref) < 2 || ref[0] != '#' {
		return nil
	}
	for i := range contained {
		if contained[i].ID == ref[1:] {
			return &contained[i]
		}
	}
	return nil
}
