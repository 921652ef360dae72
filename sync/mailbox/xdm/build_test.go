package xdm

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
)

// classTests: the class code an XDM classCode gives the record.
var classTests = []struct {
	name string
	in   app.Code
	want string
}{
	{"absent", app.Code{}, ""},
	{"TRE_A03", app.Code{Code: "10", System: app.OIDClassCode, Display: "Compte rendu"}, "10"},
	{"no coding scheme", app.Code{Code: "31"}, "31"},
	{"trimmed", app.Code{Code: " 11 ", System: " " + app.OIDClassCode + " "}, "11"},
	{"other scheme", app.Code{Code: "REPORT", System: "1.2.3.4"}, ""},
	{"LOINC in the class slot", app.Code{Code: "11490-0", System: "2.16.840.1.113883.6.1"}, ""},
	{"control characters", app.Code{Code: "1\x1b[0m", System: app.OIDClassCode}, ""},
	{"overlong", app.Code{Code: strings.Repeat("1", 65), System: app.OIDClassCode}, ""},
}

func TestDocumentClassCode(t *testing.T) {
	for _, tc := range classTests {
		d := Document{UniqueID: "1.2.3", Class: tc.in}
		if got := d.ClassCode(); got != tc.want {
			t.Errorf("%s: ClassCode() = %q, want %q", tc.name, got, tc.want)
		}
		if got := d.Meta().ClassCode; got != tc.want {
			t.Errorf("%s: Meta().ClassCode = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestBuildReadBack(t *testing.T) {
	ins := app.INS{Matricule: "279035121518989", OID: app.OIDINSNIRTest}
	docs := []BuildDoc{
		{Content: []byte("<ClinicalDocument>one</ClinicalDocument>"), UniqueID: "1.2.3.1", Patient: ins, Title: "CR <1> & co"},
		{Content: []byte("<ClinicalDocument>two</ClinicalDocument>"), UniqueID: "1.2.3.2", Patient: ins, Class: app.ClassReport},
	}
	z, err := Build(docs, BuildOptions{Submitted: time.Date(2026, 11, 20, 8, 30, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	a, err := Read(z, DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	got := a.Documents()
	if len(got) != 2 {
		t.Fatalf("%d documents", len(got))
	}
	for i, d := range got {
		if d.UniqueID != docs[i].UniqueID || !bytes.Equal(d.Content, docs[i].Content) {
			t.Fatalf("document %d: %+v", i, d)
		}
		if p, err := d.PatientID.INS(); err != nil || p != ins {
			t.Fatalf("patient %+v %v", p, err)
		}
	}
	if got[0].Title != "CR <1> & co" {
		t.Fatalf("title %q", got[0].Title)
	}
	if got[0].Meta().ClassCode != "" || got[1].Meta().ClassCode != app.ClassReport || got[1].Class.System != app.OIDClassCode {
		t.Fatalf("classes %+v, %+v", got[0].Class, got[1].Class)
	}
	if _, err := Build(nil, BuildOptions{}); !errors.Is(err, app.ErrInvalid) {
		t.Fatalf("empty build: %v", err)
	}
	if _, err := Build([]BuildDoc{{Content: []byte("x")}}, BuildOptions{}); !errors.Is(err, app.ErrInvalid) {
		t.Fatalf("build without uniqueId: %v", err)
	}
}
