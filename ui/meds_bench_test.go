package ui

import (
	"context"
	"fmt"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/cda"
)

// benchPreopRecord stores, for patient p1, nDocs real CDA documents (written
// by the writer, read back by cda.Reader) holding nLines distinct
// medications between them.
func benchPreopRecord(b *testing.B, f *fixture, nDocs, nLines int) app.PatientRecord {
	f.unlock()
	ctx := context.Background()
	p, err := f.store.Patient(ctx, "p1")
	if err != nil {
		b.Fatal(err)
	}
	w := cda.Writer{FacilityType: app.Code{Code: "SA04", System: "1.2.250.1.71.4.2.4"}, AllowTestINS: true}
	doctor := app.Practitioner{RPPS: "810000000001", Name: "Dr Anne Durand", GivenName: "Anne", FamilyName: "Durand",
		Profession: app.Code{Code: "10", System: "1.2.250.1.71.1.2.7", Display: "Médecin"}, Structure: app.Structure{ID: "1750000001", Name: "Clinique du Parc"}}
	batch := &app.Batch{}
	var docs []app.DocumentMeta
	for d := 0; d < nDocs; d++ {
		var lines []app.Medication
		for l := d % 5; l < nLines; l += 5 {
			code := preopATC[l%len(preopATC)]
			lines = append(lines, app.Medication{Kind: app.MedicationTreatment, Name: fmt.Sprintf("MEDICAMENT %02d %s", l, code),
				ATC: app.Code{Code: code, System: app.SystemATC}})
		}
		doc, err := w.WritePreAnesthesia(p, doctor, app.Reconciliation{Lines: lines}, testNow.AddDate(0, 0, -d))
		if err != nil {
			b.Fatal(err)
		}
		meta := doc.Meta
		meta.Source, meta.Cached = "dmp", true
		docs = append(docs, meta)
		batch.Documents = append(batch.Documents, app.DocumentContent{Patient: "p1", ID: meta.ID, Bytes: doc.Content})
	}
	m := app.Manifest{Patient: "p1", Documents: docs, CheckedAt: testNow}
	batch.Manifests = []app.Manifest{m}
	if err := f.store.Write(ctx, batch); err != nil {
		b.Fatal(err)
	}
	f.svc.SetDocumentReader(cda.Reader{})
	return app.PatientRecord{Patient: p, Manifest: m, Access: app.Access{Mode: app.AccessNormal}}
}

// BenchmarkPreopView: from the click on the Médicaments tab to the rendered
// decision table, for a patient with 40 medication lines from 200
// documents. Each iteration is a new view over the same unlocked session
// (the service keeps the documents it parsed: the first iteration parses
// all 200, the next ones hit its cache — run with -benchtime 1x for the
// cold figure). The window holds the record's header above the view, as
// the record view does: what else is on the screen is laid out and
// refreshed with it (the header's theme override once emptied Fyne's
// text-measure cache at each layout pass).
func BenchmarkPreopView(b *testing.B) {
	f := newLockedFixture(b, Options{})
	rec := benchPreopRecord(b, f, 200, 40)
	b.ResetTimer()
	cpu0 := processCPU()
	defer func() { // the CPU used per view: what the view costs, whatever the machine's load
		b.ReportMetric(float64(processCPU()-cpu0)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
	}()
	for i := 0; i < b.N; i++ {
		v := newMedsView(f.u, rec, rec.Access)
		h := newRecordHeader(func() {}, func() {}, func() {})
		f.u.Window().SetContent(container.NewBorder(h.box, nil, nil, nil, v.buildUI()))
		f.u.Window().Resize(fyne.NewSize(1366, 768))
		v.start()
		f.wait()
		relayout(v.root)
		if len(v.table.rows) < 40 {
			b.Fatalf("%d rows", len(v.table.rows))
		}
		v.dispose()
	}
}
