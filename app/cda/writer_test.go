package cda

import (
	"testing"

	"github.com/carnetdesk/carnet/app"
)

// TestWriterClass: the notes and the pre-anesthesia reports written in
// Carnet are reports (TRE_A03 "10"), which the CDA header cannot say.
func TestWriterClass(t *testing.T) {
	w := Writer{FacilityType: app.Code{Code: "SA04", System: "1.2.250.1.71.4.2.4", Display: "Etablissement privé non PSPH"}, AllowTestINS: true}
	author := app.Practitioner{RPPS: "810000000001", Name: "Dr Anne Durand", Structure: app.Structure{ID: "1750000001", Name: "Clinique du Parc"}}
	note, err := w.WriteNote(testPatient(), author, app.NoteDraft{Text: "Examen normal."}, nil, testStart)
	if err != nil {
		t.Fatal(err)
	}
	cpa, err := w.WritePreAnesthesia(testPatient(), author, app.Reconciliation{Conclusion: "ASA 1."}, testStart)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		meta     app.DocumentMeta
		typeCode string
	}{{"note", note.Meta, "11488-4"}, {"pre-anesthesia", cpa.Meta, "34749-2"}} {
		if tc.meta.ClassCode != app.ClassReport || tc.meta.TypeCode != tc.typeCode {
			t.Errorf("%s: class %q type %q, want %q %q", tc.name, tc.meta.ClassCode, tc.meta.TypeCode, app.ClassReport, tc.typeCode)
		}
	}
}
