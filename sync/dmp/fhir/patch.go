package fhir

import "encoding/json"

// PatchOp is one JSON Patch (RFC 6902) operation, the body of a metadata
// update: PATCH [base]/DocumentReference/{id} with Content-Type
// application/json-patch+json and If-Match.
type PatchOp struct {
	Op    string          `json:"op"` // add | remove | replace | test | move | copy
	Path  string          `json:"path"`
	From  string          `json:"from,omitempty"`
	Value json.RawMessage `json:"value,omitempty"`
}

// VisibilityPatch sets the whole securityLabel array. It is an "add": RFC
// 6902 "add" on an object member replaces it when present and creates it
// when absent, where "replace" fails on a document without labels.
func VisibilityPatch(labels []CodeableConcept) []PatchOp {
	b, _ := json.Marshal(labels)
	return []PatchOp{{Op: "add", Path: "/securityLabel", Value: b}}
}

// ArchivedPatch sets the isArchived extension given the document's current
// extension array: replaces its value when present, appends it otherwise,
// creates the array when there is none.
func ArchivedPatch(current []Extension, archived bool) []PatchOp {
	for i := range current {
		if current[i].URL == ExtIsArchived {
			b, _ := json.Marshal(archived)
			return []PatchOp{{Op: "replace", Path: "/extension/" + itoa(i) + "/valueBoolean", Value: b}}
		}
	}
	ext := BoolExtension(ExtIsArchived, archived)
	if current == nil {
		b, _ := json.Marshal([]Extension{ext})
		return []PatchOp{{Op: "add", Path: "/extension", Value: b}}
	}
	b, _ := json.Marshal(ext)
	return []PatchOp{{Op: "add", Path: "/extension/-", Value: b}}
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}
