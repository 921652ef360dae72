package dmptest

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/sync/dmp/fhir"
)

// classOfType is the TRE_A03 class each generated type must carry.
var classOfType = map[string]string{
	kindVSM.Type: "11", kindREMB.Type: "60", kindLDL.Type: "10", kindBIO.Type: "10",
	kindIMG.Type: "31", kindCPA.Type: "10", kindCONS.Type: "10",
}

// TestGeneratedClasses: every generated document has one category, in
// TRE_A03, with the class of its type.
func TestGeneratedClasses(t *testing.T) {
	_, docs := generated(t, 1, 20)
	if len(docs) == 0 {
		t.Fatal("no documents")
	}
	for _, d := range docs {
		typ := d.Ref.Type.First().Code
		want, ok := classOfType[typ]
		if !ok {
			t.Fatalf("type %s has no expected class", typ)
		}
		if len(d.Ref.Category) != 1 || !d.Ref.Category[0].Has(fhir.SystemClassCode, want) || d.Ref.Category[0].First().Display == "" {
			t.Fatalf("type %s: category %+v, want %s", typ, d.Ref.Category, want)
		}
	}
}

// TestProvideCategory: the category sent is kept and served back (in the
// answer and in searches by category); a bundle without category is
// accepted; a TRE_A03 coding without code is refused.
func TestProvideCategory(t *testing.T) {
	sb := start(t, Options{Patients: 60})
	gp := sb.as(t, KeyGP)
	p := sb.patientWhere(t, openPatient)
	withCategory := func(uid string, cats []fhir.CodeableConcept) []byte {
		var b fhir.Bundle
		if err := json.Unmarshal(provideBundle(p, uid, testCDA(p, uid), "", app.Visibility{}), &b); err != nil {
			t.Fatal(err)
		}
		for i, e := range b.Entry {
			if e.Resource != nil && e.Resource.ResourceType == "DocumentReference" {
				var d fhir.DocumentReference
				if err := e.Resource.Decode(&d); err != nil {
					t.Fatal(err)
				}
				d.Category = cats
				b.Entry[i].Resource = fhir.MustWrap(d)
			}
		}
		out, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	st, resp, _ := provide(t, gp, p, withCategory("1.2.250.1.999.8.1", []fhir.CodeableConcept{fhir.Concept(fhir.SystemClassCode, "52", "")}))
	if st != http.StatusOK {
		t.Fatalf("provide with category: %d", st)
	}
	if d := createdDoc(t, resp); !d.Category[0].Has(fhir.SystemClassCode, "52") {
		t.Fatalf("answer category %+v", d.Category)
	}
	found := gp.searchAll(docsPath(p.INS, "category", fhir.SystemClassCode+"|52"), p.INS)
	if len(found) != 1 || found[0].UniqueID() != "urn:oid:1.2.250.1.999.8.1" {
		t.Fatalf("by category: %d documents", len(found))
	}
	if st, _, _ := provide(t, gp, p, withCategory("1.2.250.1.999.8.2", nil)); st != http.StatusOK {
		t.Fatalf("provide without category: %d", st)
	}
	if st, _, _ := provide(t, gp, p, withCategory("1.2.250.1.999.8.3", []fhir.CodeableConcept{{Coding: []fhir.Coding{{System: fhir.SystemClassCode}}}})); st != http.StatusUnprocessableEntity {
		t.Fatalf("provide with an empty class code: %d", st)
	}
}
