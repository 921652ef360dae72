package ui

import (
	"slices"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/carnetdesk/carnet/app"
)

// TestMedsClinicalPanel: the anesthesia view lists the allergies, the
// problems the patient has (not the negated ones), the implanted devices
// and the drugs recorded as not given, each with its date at the precision
// the document gave.
func TestMedsClinicalPanel(t *testing.T) {
	f := newLockedFixture(t, Options{})
	meta := synthMeta
	year := time.Date(1975, 1, 1, 0, 0, 0, 0, time.UTC)
	cd := app.ClinicalDocument{Title: meta.Title,
		Medications: []app.Medication{
			{Kind: app.MedicationAdminister, Name: "Vaccin antituberculeux", Negated: true},
			{Kind: app.MedicationPlanned, Name: "Vaccin contre l'hépatite B", Start: time.Date(2024, 12, 1, 0, 0, 0, 0, time.UTC), StartPrecision: app.PrecisionMonth},
		},
		Allergies: []app.Allergy{
			{Text: "Paracétamol", Reaction: "urticaire", ReactionNegated: true, Start: year, StartPrecision: app.PrecisionYear},
			{Text: "Pénicilline", Negated: true},
		},
		Problems: []app.Problem{
			{Text: "Hypothyroïdie", Start: year, StartPrecision: app.PrecisionYear},
			{Text: "Hypertension essentielle", Negated: true},
		},
		Devices: []app.Device{{Name: "DÉFIBRILLATEURS IMPLANTABLES", Model: "Victory SR 5610", Date: time.Date(2008, 9, 29, 9, 49, 0, 0, time.UTC), Precision: app.PrecisionDay},
			{Name: "LITS MÉDICAUX", Status: app.DevicePlanned},
			{Name: "INJECTEURS DE PRODUITS DE CONTRASTE", Status: app.DeviceUsed},
			{Name: "STIMULATEUR CARDIAQUE TRIPLE CHAMBRE", Status: app.DevicePlanned},
			{Name: "PANSEMENTS HYDROCELLULAIRES", Status: app.DeviceDispensed},
			{Name: "SONDE", Status: app.DeviceImplanted, Negated: true}},
	}
	rec, _ := seedRecord(f, []app.DocumentMeta{meta}, map[app.DocumentID]app.ClinicalDocument{meta.ID: cd})
	v := newMedsView(f.u, rec, rec.Access)
	showView(f, v.buildUI(), fyne.NewSize(900, 1400))
	v.start()
	f.wait()
	v.showDetails() // the detail by class, built on demand
	relayout(v.root)
	for _, want := range []string{
		"Allergies et intolérances", "Paracétamol — réaction urticaire non observée · 1975",
		"Problèmes et antécédents", "Hypothyroïdie · 1975",
		"Dispositifs médicaux implantés", "DÉFIBRILLATEURS IMPLANTABLES (Victory SR 5610) · 29/09/2008",
		"Non administrés (selon les documents)", "Vaccin antituberculeux — non administré",
		"prévu 12/2024",
	} {
		if !f.shows(want) {
			t.Errorf("the anesthesia view does not show %q", want)
		}
	}
	if f.shows("Hypertension essentielle") {
		t.Errorf("the anesthesia view shows a problem the document negates")
	}
	// Each line under its heading: the negated allergy is a documented
	// absence, never an allergy; only the implanted device is an implant.
	docDate := formatDate(meta.Date)
	wantSections := map[string][]string{
		"Allergies et intolérances": {"Paracétamol — réaction urticaire non observée · 1975",
			"Pas d'allergie à Pénicilline (document du " + docDate + ")"},
		"Dispositifs médicaux implantés": {"DÉFIBRILLATEURS IMPLANTABLES (Victory SR 5610) · 29/09/2008"},
		"Autres dispositifs (non implantés : prévus, prescrits, délivrés ou utilisés)": {
			"LITS MÉDICAUX — prévu ou prescrit", "INJECTEURS DE PRODUITS DE CONTRASTE — utilisé, non implanté",
			"STIMULATEUR CARDIAQUE TRIPLE CHAMBRE — prévu ou prescrit", "PANSEMENTS HYDROCELLULAIRES — délivré", "SONDE : non posé"},
	}
	got := clinicalSections(v.clinical.Objects)
	for h, want := range wantSections {
		if !slices.Equal(got[h], want) {
			t.Errorf("under %q:\n got %q\nwant %q", h, got[h], want)
		}
	}
	if v.list.Entries != 1 || len(v.list.NotGiven) != 1 {
		t.Errorf("%d entries, %d not given", v.list.Entries, len(v.list.NotGiven))
	}
	v.dispose()
	if len(v.clinical.Objects) != 0 {
		t.Error("the clinical panel still holds patient data after dispose")
	}
}

// TestViewerEmbeddedMedia: a structured document's embedded PDF opens in
// the viewer through the in-memory PDF path, and back.
func TestViewerEmbeddedMedia(t *testing.T) {
	fake := &fakePDF{pages: 2}
	defer swapPDFRenderer(fake)()
	f := newLockedFixture(t, Options{})
	cd := letter()
	cd.Media = []app.Attachment{{ID: "DOC-001", Title: "CR Echo-Doppler", MediaType: "application/pdf", DeclaredType: "application/pdf", Data: []byte("%PDF-1.4 fake")}}
	rec, _ := seedRecord(f, []app.DocumentMeta{letterMeta}, map[app.DocumentID]app.ClinicalDocument{letterMeta.ID: cd})
	v, _ := openViewer(f, rec, letterMeta.ID)
	if v.flow == nil || v.pdf != nil {
		t.Fatal("the narrative is not shown first")
	}
	if !f.shows("Pièces jointes :") || !f.shows("CR Echo-Doppler (DOC-001, application/pdf)") {
		t.Fatal("no attachment button")
	}
	open := buttonWith(v.root, "CR Echo-Doppler (DOC-001, application/pdf)")
	if open == nil {
		t.Fatal("no attachment button")
	}
	test.Tap(open)
	f.wait()
	if v.pdf == nil {
		t.Fatal("the embedded PDF is not shown")
	}
	assertText(t, "page", v.pdf.pageLabel.Text, "Page 1 / 2")
	p := v.pdf
	back := buttonWith(v.root, "Retour au document")
	if back == nil {
		t.Fatal("no back button")
	}
	test.Tap(back)
	f.wait()
	if v.pdf != nil || p.data != nil || !f.shows("Pièces jointes :") {
		t.Error("back to the narrative: the PDF view is still held")
	}
	v.dispose()
}

// TestClinicalTabInRecord: the record's "Allergies, problèmes,
// dispositifs" tab reads the cached documents when shown, leaves the
// negated facts out, and opens a fact's document.
func TestClinicalTabInRecord(t *testing.T) {
	f := newLockedFixture(t, Options{})
	docs, cds := medsDocuments()
	synth := cds[synthMeta.ID]
	synth.Allergies = []app.Allergy{{Text: "Latex", Start: time.Date(2001, 5, 1, 0, 0, 0, 0, time.UTC), StartPrecision: app.PrecisionMonth}}
	synth.Problems = []app.Problem{{Text: "Hypertension essentielle", Negated: true}, {Text: "Diabète de type 2"}}
	synth.Devices = []app.Device{{Name: "STIMULATEUR CARDIAQUE IMPLANTABLE TRIPLE CHAMBRE", Date: time.Date(2019, 8, 11, 0, 0, 0, 0, time.UTC), Precision: app.PrecisionDay}}
	cds[synthMeta.ID] = synth
	seedRecord(f, docs, cds)
	r := f.openRecord(f.u.shell, "mart")
	var tab *clinicalTab
	for i, rt := range r.tabList {
		if ct, ok := rt.(*clinicalTab); ok {
			tab = ct
			r.tabs.SelectIndex(i)
		}
	}
	if tab == nil {
		t.Fatal("no clinical tab")
	}
	f.wait()
	relayout(r.root)
	if !tab.loaded {
		t.Fatal("not read when shown")
	}
	for _, want := range []string{"Latex · 05/2001", "Diabète de type 2", "STIMULATEUR CARDIAQUE IMPLANTABLE TRIPLE CHAMBRE · 11/08/2019"} {
		if !f.shows(want) {
			t.Errorf("the clinical tab does not show %q", want)
		}
	}
	if f.shows("Hypertension essentielle") {
		t.Error("a negated problem is shown")
	}
	b := buttonWith(tab.box, "Synthèse médicale")
	if b == nil {
		t.Fatal("no source button")
	}
	test.Tap(b)
	f.wait()
	if r.viewer == nil || r.viewer.id != synthMeta.ID {
		t.Error("the source button does not open the document")
	}
}

// clinicalSections returns the first text of each line of the clinical
// panel, by heading.
func clinicalSections(objs []fyne.CanvasObject) map[string][]string {
	out := map[string][]string{}
	heading := ""
	for _, o := range objs {
		if l, ok := o.(*widget.Label); ok && l.TextStyle.Bold {
			heading = l.Text
			continue
		}
		if ts := textsOf(o); len(ts) > 0 && strings.TrimSpace(ts[0]) != "" {
			out[heading] = append(out[heading], ts[0])
		}
	}
	return out
}

// TestClinicalAllergyInformation: "no known allergy" is shown as a
// documented absence with its document's date; documents that say nothing
// of allergies give "no information", never an empty section that reads
// like no allergy.
func TestClinicalAllergyInformation(t *testing.T) {
	src := app.MedicationSource{Document: "d1", Title: "VSM", Date: time.Date(2024, 3, 5, 12, 0, 0, 0, time.UTC)}
	cases := []struct {
		name    string
		reading app.MedicationReading
		want    []string
	}{
		{"no known allergy", app.MedicationReading{Allergies: []app.Allergy{{Text: "Aucune allergie connue", Negated: true, NoneKnown: true, Source: src}}},
			[]string{"Aucune allergie connue (document du " + formatDate(src.Date) + ")"}},
		{"nothing said of allergies", app.MedicationReading{Problems: []app.Problem{{Text: "Diabète", Source: src}}},
			[]string{"Aucune information sur les allergies dans les documents disponibles"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			test.NewTempApp(t)
			got := clinicalSections(clinicalObjects(c.reading, nil, nil))["Allergies et intolérances"]
			if !slices.Equal(got, c.want) {
				t.Errorf("allergies %q, want %q", got, c.want)
			}
		})
	}
}
