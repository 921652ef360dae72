package ui

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"fyne.io/fyne/v2/test"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/apptest"
	"github.com/carnetdesk/carnet/app/cda"
)

// openSynthesisTab opens MARTIN Hélène's record, whose vault holds the ANS
// sample VSM, and its synthesis tab, with the real CDA reader and writer.
func openSynthesisTab(t *testing.T) (*fixture, *recordView, *synthesisTab, app.DocumentMeta) {
	t.Helper()
	sample, err := os.ReadFile(filepath.Join("..", "..", "shared", "samples", "cda", "VSM_1.4_2022.01.xml"))
	if os.IsNotExist(err) {
		t.Skip("ANS sample VSM_1.4_2022.01.xml not found: skipped")
	}
	if err != nil {
		t.Fatal(err)
	}
	f, s, _ := newSyncFixture(t)
	f.svc.SetDocumentReader(cda.Reader{})
	f.svc.SetDocumentWriter(cda.Writer{FacilityType: app.Code{Code: "SA04", System: cda.OIDFacilityType, Display: "Etablissement privé non PSPH"}, AllowTestINS: true})
	doc, err := cda.ParseBytes(sample, cda.Options{})
	if err != nil {
		t.Fatal(err)
	}
	meta := doc.Meta()
	meta.Source, meta.Cached = "dmp", true
	if err := f.store.Write(context.Background(), &app.Batch{
		Manifests: []app.Manifest{{Patient: "p1", Documents: []app.DocumentMeta{meta}, CheckedAt: testNow}},
		Documents: []app.DocumentContent{{Patient: "p1", ID: meta.ID, Bytes: sample}},
	}); err != nil {
		t.Fatal(err)
	}
	f.signIn(testDoctor, &apptest.Records{})
	r := f.openRecord(s, "mart")
	for i, tab := range r.tabList {
		if st, ok := tab.(*synthesisTab); ok {
			r.selectTab(i)
			f.wait()
			return f, r, st, meta
		}
	}
	t.Fatal("no synthesis tab")
	return nil, nil, nil, meta
}

// TestSynthesisForm: "Rédiger une synthèse (VSM)" pre-fills the form from
// the vault; a removed line and an edited one are written as the form
// says; the VSM goes to the outbox replacing the record's synthesis, which
// the record then shows superseded.
func TestSynthesisForm(t *testing.T) {
	f, r, st, sampleVSM := openSynthesisTab(t)
	if !f.shows("Rédiger une synthèse (VSM)") {
		t.Fatal("the start button is not shown")
	}
	test.Tap(st.start)
	f.wait()
	if st.msg.Visible() {
		t.Fatalf("drafting failed: %s", st.msg.Text)
	}
	problems, treatments := st.lists[vsmProblems], st.lists[vsmTreatments]
	if len(problems.rows) == 0 || len(treatments.rows) == 0 {
		t.Fatalf("%d problems, %d treatments pre-filled", len(problems.rows), len(treatments.rows))
	}
	if !f.shows("Cette synthèse remplacera la synthèse actuelle du dossier.") {
		t.Error("the replacement is not announced")
	}
	// The source of a line opens in the viewer.
	if problems.rows[0].open == nil {
		t.Fatal("a pre-filled line has no source button")
	}
	removed := problems.rows[0].text.Text
	test.Tap(problems.rows[0].remove)
	treatments.rows[0].text.SetText("Traitement modifié <à la main>")
	test.Tap(st.send)
	f.wait()
	if !st.msg.Visible() || st.msg.Text != "Synthèse enregistrée : elle est dans le dossier et sera envoyée dès que le service répondra." {
		t.Fatalf("after sending: %q", st.msg.Text)
	}
	items, err := f.svc.Outbox(context.Background())
	if err != nil || len(items) != 1 {
		t.Fatalf("outbox: %d items, %v", len(items), err)
	}
	it := items[0]
	if it.Kind != app.OutboxReplace || it.Replaces != sampleVSM.ID || it.Meta.TypeCode != app.TypeCodeSynthesis {
		t.Errorf("outbox item %+v", it.Meta)
	}
	cd, err := cda.Reader{}.Read(it.Payload, it.Meta)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range app.PresentProblems(cd.Problems) {
		if p.Text == removed {
			t.Errorf("the removed line %q was written", removed)
		}
	}
	found := false
	for _, m := range cd.Medications {
		if m.Name == "Traitement modifié <à la main>" {
			found = true
			if !m.Product.IsZero() || !m.ATC.IsZero() {
				t.Errorf("an edited line kept the codes of the line it was: %+v", m)
			}
		}
	}
	if !found {
		t.Error("the edited treatment was not written")
	}
	var current int
	for _, d := range r.rec.Manifest.Documents {
		if d.IsSynthesis() && !d.Superseded {
			current++
		}
	}
	if current != 1 {
		t.Errorf("the record shows %d current syntheses", current)
	}
	if len(st.lists) != 0 {
		t.Error("the form was not cleared after sending")
	}
}
