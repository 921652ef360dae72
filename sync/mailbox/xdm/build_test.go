package xdm

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
)

func TestBuildReadBack(t *testing.T) {
	ins := app.INS{Matricule: "279035121518989", OID: app.OIDINSNIRTest}
	docs := []BuildDoc{
		{Content: []byte("<ClinicalDocument>one</ClinicalDocument>"), UniqueID: "1.2.3.1", Patient: ins, Title: "CR <1> & co"},
		{Content: []byte("<ClinicalDocument>two</ClinicalDocument>"), UniqueID: "1.2.3.2", Patient: ins},
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
	if _, err := Build(nil, BuildOptions{}); !errors.Is(err, app.ErrInvalid) {
		t.Fatalf("empty build: %v", err)
	}
	if _, err := Build([]BuildDoc{{Content: []byte("x")}}, BuildOptions{}); !errors.Is(err, app.ErrInvalid) {
		t.Fatalf("build without uniqueId: %v", err)
	}
}
