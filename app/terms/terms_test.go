package terms_test

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/terms"
)

func TestTablesParse(t *testing.T) {
	if err := terms.Err(); err != nil {
		t.Fatalf("embedded terminology is malformed: %v", err)
	}
}

func TestLookups(t *testing.T) {
	tests := []struct {
		name   string
		lookup func(string) (string, bool)
		code   string
		want   string
	}{
		{"type LDL", terms.DocumentType, "11490-0", "Lettre de liaison à la sortie d'un établissement de soins"},
		{"type REMB", terms.DocumentType, "REMB", "Données de remboursement"},
		{"type SYNTH", terms.DocumentType, "SYNTH", "Synthèse"},
		{"type CPA", terms.DocumentType, "34749-2", ""},
		{"type trimmed", terms.DocumentType, " 11490-0 ", "Lettre de liaison à la sortie d'un établissement de soins"},
		{"class 10", terms.DocumentClass, "10", "Compte rendu"},
		{"class 60", terms.DocumentClass, "60", "Données de remboursement"},
		{"facility SA01", terms.FacilityType, "SA01", "Etablissement public de santé"},
		{"practice", terms.PracticeSetting, "AMBULATOIRE", "Ambulatoire"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tt.lookup(tt.code)
			if !ok || got == "" {
				t.Fatalf("%q: not found", tt.code)
			}
			if tt.want != "" && got != tt.want {
				t.Errorf("%q = %q, want %q", tt.code, got, tt.want)
			}
		})
	}
	for _, code := range []string{"", "99999-9", "xx"} {
		if _, ok := terms.DocumentType(code); ok {
			t.Errorf("DocumentType(%q) found", code)
		}
	}
	if _, ok := terms.DocumentClass("77"); ok {
		t.Error("DocumentClass(77) found")
	}
}

// TestLabelsTerminology: Labels answers the app.Terminology questions from
// the tables, TRE_A03 classes included, and every class has its source.
func TestLabelsTerminology(t *testing.T) {
	var l app.Terminology = terms.Labels{}
	if got, ok := l.DocumentClass("31"); !ok || got != "Imagerie médicale" {
		t.Errorf("DocumentClass(31) = %q, %v", got, ok)
	}
	if got, ok := l.DocumentClass(""); ok {
		t.Errorf("DocumentClass(\"\") = %q", got)
	}
	if got, ok := l.DocumentType("11490-0"); !ok || got == "" {
		t.Errorf("DocumentType(11490-0) = %q, %v", got, ok)
	}
	found := false
	for _, s := range terms.Provenance() {
		if s.Set == terms.SetDocumentClass {
			found = s.ID == app.OIDClassCode && s.Concepts == len(terms.Concepts(terms.SetDocumentClass))
		}
	}
	if !found {
		t.Error("TRE_A03 has no provenance matching its code system and concept count")
	}
	for _, c := range terms.Concepts(terms.SetDocumentClass) {
		if c.System != app.OIDClassCode {
			t.Errorf("class %s in system %s", c.Code, c.System)
		}
	}
}

func TestConfidentiality(t *testing.T) {
	tests := []struct {
		code       string
		label      string
		visibility bool
	}{
		{"N", "Normal", false},
		{"R", "Restreint", false},
		{"V", "Très restreint", false},
		{"MASQUE_PS", "Masqué aux professionnels de santé", true},
		{"INVISIBLE_PATIENT", "Non visible par le patient", true},
		{"INVISIBLE_REPRESENTANTS_LEGAUX", "Non visible par les représentants légaux du patient", true},
	}
	for _, tt := range tests {
		c, ok := terms.Confidentiality(tt.code)
		if !ok || c.Label != tt.label {
			t.Errorf("Confidentiality(%q) = %q, %v; want %q", tt.code, c.Label, ok, tt.label)
		}
		if got := terms.IsVisibilityCode(tt.code); got != tt.visibility {
			t.Errorf("IsVisibilityCode(%q) = %v", tt.code, got)
		}
	}
	if _, ok := terms.Confidentiality("X"); ok {
		t.Error("Confidentiality(X) found")
	}
}

func TestATCGroup(t *testing.T) {
	c, ok := terms.ATCGroup("b01af02")
	if !ok || c.Code != "B" || c.Label != "Sang et organes hématopoïétiques" {
		t.Errorf("ATCGroup(b01af02) = %+v, %v", c, ok)
	}
	if _, ok := terms.ATCGroup("W99"); ok {
		t.Error("W99 (CNAM homeopathy group) is not ATC")
	}
	if len(terms.Concepts(terms.SetATCGroup)) != 14 {
		t.Error("ATC has 14 level-1 groups")
	}
}

// TestCountsMatchValueSets compares every embedded value set with the SVS
// file it was extracted from, when the shared samples are present.
func TestCountsMatchValueSets(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "shared", "samples", "valuesets")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("shared samples not found at %s: %v", dir, err)
	}
	byFile := map[string]terms.Source{}
	for _, s := range terms.Provenance() {
		byFile[s.Origin] = s
	}
	files, _ := filepath.Glob(filepath.Join(dir, "JDV_*.xml"))
	if len(files) != 4 {
		t.Fatalf("%d value set files, want 4", len(files))
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var v struct {
			Concepts []struct {
				Code  string `xml:"code,attr"`
				Label string `xml:"displayName,attr"`
			} `xml:"ValueSet>ConceptList>Concept"`
		}
		if err := xml.Unmarshal(data, &v); err != nil {
			t.Fatal(err)
		}
		src, ok := byFile[filepath.Base(file)]
		if !ok {
			t.Errorf("%s: no provenance", filepath.Base(file))
			continue
		}
		got := terms.Concepts(src.Set)
		if len(got) != len(v.Concepts) || src.Concepts != len(v.Concepts) {
			t.Errorf("%s: %d concepts embedded (provenance %d), file has %d", src.Set, len(got), src.Concepts, len(v.Concepts))
			continue
		}
		for i, c := range v.Concepts {
			if got[i].Code != c.Code || got[i].Label != strings.Join(strings.Fields(c.Label), " ") {
				t.Errorf("%s #%d: %+v, file %+v", src.Set, i, got[i], c)
			}
		}
	}
}

func TestProvenance(t *testing.T) {
	want := map[string]bool{terms.SetDocumentType: true, terms.SetConfidentiality: true, terms.SetFacilityType: true,
		terms.SetPracticeSetting: true, terms.SetDocumentClass: true, terms.SetATCGroup: true, terms.SetPerioperative: true}
	for _, s := range terms.Provenance() {
		if s.Origin == "" || s.Concepts == 0 {
			t.Errorf("%s: incomplete provenance %+v", s.Set, s)
		}
		delete(want, s.Set)
	}
	if len(want) != 0 {
		t.Errorf("no provenance for %v", want)
	}
	for _, s := range terms.Provenance() {
		if s.Set == terms.SetDocumentType && (s.ID != "1.2.250.1.213.1.1.5.471" || s.Version == "") {
			t.Errorf("JDV_J07 provenance: %+v", s)
		}
	}
}
