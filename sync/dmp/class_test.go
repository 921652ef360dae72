package dmp

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/sync/dmp/dmptest"
	"github.com/carnetdesk/carnet/sync/dmp/fhir"
)

// classTests map DocumentReference.category to DocumentMeta.ClassCode.
var classTests = []struct {
	name string
	cats []fhir.CodeableConcept
	want string
}{
	{"absent", nil, ""},
	{"empty category", []fhir.CodeableConcept{{}}, ""},
	{"TRE_A03", []fhir.CodeableConcept{fhir.Concept(fhir.SystemClassCode, "10", "Compte rendu")}, "10"},
	{"TRE_A03 as OID", []fhir.CodeableConcept{fhir.Concept("urn:oid:1.2.250.1.213.1.1.4.1", "31", "")}, "31"},
	{"trimmed", []fhir.CodeableConcept{fhir.Concept(fhir.SystemClassCode, " 11 ", "")}, "11"},
	{"other system only", []fhir.CodeableConcept{fhir.Concept("http://loinc.org", "11488-4", "")}, ""},
	{"no system", []fhir.CodeableConcept{{Coding: []fhir.Coding{{Code: "10"}}}}, ""},
	{"text only", []fhir.CodeableConcept{{Text: "Compte rendu"}}, ""},
	{"other system first", []fhir.CodeableConcept{{Coding: []fhir.Coding{
		{System: "http://example.org/classes", Code: "REPORT"}, {System: fhir.SystemClassCode, Code: "42"}}}}, "42"},
	{"several categories", []fhir.CodeableConcept{fhir.Concept("http://example.org/classes", "X", ""),
		fhir.Concept(fhir.SystemClassCode, "60", "")}, "60"},
	{"several class codings: the first", []fhir.CodeableConcept{{Coding: []fhir.Coding{
		{System: fhir.SystemClassCode, Code: "10"}, {System: fhir.SystemClassCode, Code: "11"}}}}, "10"},
	{"FHIR address before OID", []fhir.CodeableConcept{fhir.Concept("urn:oid:1.2.250.1.213.1.1.4.1", "31", ""),
		fhir.Concept(fhir.SystemClassCode, "10", "")}, "10"},
	{"empty code skipped", []fhir.CodeableConcept{{Coding: []fhir.Coding{
		{System: fhir.SystemClassCode}, {System: fhir.SystemClassCode, Code: "44"}}}}, "44"},
	{"control characters", []fhir.CodeableConcept{fhir.Concept(fhir.SystemClassCode, "1\x000", "")}, ""},
	{"overlong", []fhir.CodeableConcept{fhir.Concept(fhir.SystemClassCode, string(make([]byte, 100)), "")}, ""},
	{"unknown code kept", []fhir.CodeableConcept{fhir.Concept(fhir.SystemClassCode, "77", "")}, "77"},
}

func TestClassCode(t *testing.T) {
	for _, tc := range classTests {
		t.Run(tc.name, func(t *testing.T) {
			d := fhir.DocumentReference{ResourceType: "DocumentReference", ID: "r1", Status: "current",
				MasterIdentifier: &fhir.Identifier{System: fhir.SystemRFC3986, Value: "urn:oid:1.2.3.4"},
				Type:             &fhir.CodeableConcept{Coding: []fhir.Coding{{System: fhir.SystemLOINC, Code: "11488-4"}}},
				Category:         tc.cats}
			// through the wire, as a search page reads it
			b := fhir.Bundle{Type: "searchset", Entry: []fhir.BundleEntry{{Resource: fhir.MustWrap(d)}}}
			docs, _, err := decodeSearchset(pageOf(t, b), nil, nil)
			if err != nil || len(docs) != 1 {
				t.Fatalf("%d documents, %v", len(docs), err)
			}
			if got := docs[0].Meta.ClassCode; got != tc.want {
				t.Errorf("ClassCode = %q, want %q", got, tc.want)
			}
			if docs[0].Meta.TypeCode != "11488-4" {
				t.Errorf("type %q", docs[0].Meta.TypeCode)
			}
		})
	}
}

// TestSamplesClass: the ANS searchset example carries TRE_A03 "11" (its
// display says "Compte rendu": the code wins, the display is not read).
func TestSamplesClass(t *testing.T) {
	var b searchPage
	if err := fhir.Unmarshal(readSample(t, "Bundle-example-annexe-searchset-documentreferences.json"), &b); err != nil {
		t.Fatal(err)
	}
	docs, _, err := decodeSearchset(&b, nil, nil)
	if err != nil || len(docs) != 2 {
		t.Fatalf("%d docs, %v", len(docs), err)
	}
	for _, d := range docs {
		if d.Meta.ClassCode != "11" {
			t.Errorf("%s: class %q", d.Meta.ID, d.Meta.ClassCode)
		}
	}
}

// TestProvideCategory: a document with a class is sent with its category
// in TRE_A03; one without has no category rather than an invented one.
func TestProvideCategory(t *testing.T) {
	c, err := New(Config{BaseURL: "https://dmp.example/fhir", Certificate: issue(t, true).TLSCertificate()})
	if err != nil {
		t.Fatal(err)
	}
	classed, bare := note("1.2.250.1.999.7.1"), note("1.2.250.1.999.7.2")
	classed.Meta.ClassCode = app.ClassReport
	tx, _, err := c.provideBundle(unitAccess(), unitINS, []app.NewDocument{classed, bare}, time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []fhir.DocumentReference
	for _, e := range tx.Entry {
		if e.Resource != nil && e.Resource.ResourceType == "DocumentReference" {
			var d fhir.DocumentReference
			if err := e.Resource.Decode(&d); err != nil {
				t.Fatal(err)
			}
			got = append(got, d)
		}
	}
	if len(got) != 2 {
		t.Fatalf("%d DocumentReferences", len(got))
	}
	if len(got[0].Category) != 1 || !got[0].Category[0].Has(fhir.SystemClassCode, "10") || len(got[0].Category[0].Coding) != 1 {
		t.Errorf("category %+v", got[0].Category)
	}
	if got[1].Category != nil {
		t.Errorf("a document without class sent category %+v", got[1].Category)
	}
	raw, err := json.Marshal(got[1])
	if err != nil || containsKey(raw, "category") {
		t.Errorf("empty category on the wire: %s", raw)
	}
}

func containsKey(raw []byte, key string) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return false
	}
	_, ok := m[key]
	return ok
}

// TestSandboxClassRoundTrip: a class sent with a document comes back in
// the listing, and the sandbox's own documents carry the TRE_A03 class of
// their type.
func TestSandboxClassRoundTrip(t *testing.T) {
	e := newEnv(t, dmptest.Options{})
	gp, acc := e.client(dmptest.KeyGP)
	p := e.open()
	doc := note(newUID())
	doc.Meta.ClassCode = app.ClassReport
	pr, err := gp.Provide(t.Context(), acc, p.INS, []app.NewDocument{doc})
	if err != nil {
		t.Fatal(err)
	}
	if pr.Documents[0].Meta.ClassCode != app.ClassReport {
		t.Errorf("provided class %q", pr.Documents[0].Meta.ClassCode)
	}
	docs, err := list(t, gp, acc, p.INS, app.DocumentQuery{})
	if err != nil {
		t.Fatal(err)
	}
	byType := map[string]string{"SYNTH": "11", "REMB": "60", "11490-0": "10", "11502-2": "10", "18748-4": "31", "34749-2": "10", "11488-4": "10"}
	found := false
	for _, d := range docs {
		if d.Meta.ID == doc.Meta.ID {
			found = true
			if d.Meta.ClassCode != app.ClassReport {
				t.Errorf("listed class %q, want %q", d.Meta.ClassCode, app.ClassReport)
			}
			continue
		}
		want, ok := byType[d.Meta.TypeCode]
		if !ok {
			t.Errorf("sandbox type %q without an expected class", d.Meta.TypeCode)
			continue
		}
		if d.Meta.ClassCode != want {
			t.Errorf("sandbox document of type %s has class %q, want %q", d.Meta.TypeCode, d.Meta.ClassCode, want)
		}
	}
	if !found {
		t.Fatal("the provided document is not listed")
	}
}
