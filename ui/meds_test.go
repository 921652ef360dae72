package ui

import (
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/carnetdesk/carnet/app"
)

// The documents of the medication tests: a dispensing history, a
// synthesis, a discharge letter as a PDF (no structured line) and a
// pre-anaesthesia report not in the vault.
var (
	dispMeta   = app.DocumentMeta{ID: "1.2.250.1.999.10", TypeCode: "60593-1", Title: "Historique de délivrances", Date: testNow.AddDate(0, 0, -2), Author: "Assurance Maladie", MediaType: "text/xml", Cached: true}
	synthMeta  = app.DocumentMeta{ID: "1.2.250.1.999.11", TypeCode: "60591-5", Title: "Synthèse médicale", Date: testNow.AddDate(0, -5, 0), Author: "Dr Jean Lebrun", MediaType: "text/xml", Cached: true}
	letterPDF  = app.DocumentMeta{ID: "1.2.250.1.999.12", TypeCode: "11490-0", Title: "Lettre de liaison", Date: testNow.AddDate(0, -1, 0), Author: "Dr Claire Martin", MediaType: "application/pdf", Cached: true}
	cpaMissing = app.DocumentMeta{ID: "1.2.250.1.999.13", TypeCode: "34749-2", Title: "CR de consultation pré-anesthésique", Date: testNow.AddDate(-1, 0, 0), Author: "Dr Hugo Blanc", MediaType: "text/xml"}
)

// medsDocuments returns the manifest and the documents as read.
func medsDocuments() ([]app.DocumentMeta, map[app.DocumentID]app.ClinicalDocument) {
	atc := func(c string) app.Code { return app.Code{Code: c, System: app.SystemATC} }
	disp := func(name string, code app.Code, at time.Time) app.Medication {
		return app.Medication{Kind: app.MedicationDispensed, Name: name, ATC: code, Dispensed: at, Prescriber: "Dr Paul Morel"}
	}
	var lines []app.Medication
	for m := 12; m >= 1; m-- { // apixaban every month for a year
		lines = append(lines, disp("ELIQUIS 5 mg", atc("B01AF02"), testNow.AddDate(0, -m, 3)))
	}
	for _, m := range []int{20, 19, 8} { // amlodipine, interrupted
		lines = append(lines, disp("AMLODIPINE 5 mg", atc("C08CA01"), testNow.AddDate(0, -m, 0)))
	}
	lines = append(lines, disp("PRODUIT X 75 mg", app.Code{Code: "B01", System: app.SystemCNAMATC3}, testNow.AddDate(0, -15, 0)))
	synth := []app.Medication{
		{Kind: app.MedicationTreatment, Name: "ELIQUIS", Substance: "apixaban", ATC: atc("B01AF02"), End: testNow.AddDate(0, -6, 0)},
		{Kind: app.MedicationTreatment, Name: "METFORMINE 850 mg", ATC: atc("A10BA02"), Start: testNow.AddDate(0, -2, 0)},
		{Kind: app.MedicationTreatment, Name: "DOLIPRANE 1 g", Substance: "paracétamol", ATC: atc("N02BE01")},
	}
	docs := []app.DocumentMeta{dispMeta, letterPDF, synthMeta, cpaMissing}
	return docs, map[app.DocumentID]app.ClinicalDocument{
		dispMeta.ID:  {Title: dispMeta.Title, Medications: lines},
		synthMeta.ID: {Title: synthMeta.Title, Medications: synth},
		letterPDF.ID: {Title: "Lettre de liaison à la sortie", Attachment: &app.Attachment{MediaType: "text/plain", Data: []byte("Traitement de sortie : ELIQUIS")}},
	}
}

// openMeds shows the medication view of the test record and reads it.
func openMeds(t *testing.T) (*fixture, *medsView, *readerDocs) {
	f := newLockedFixture(t, Options{})
	docs, cds := medsDocuments()
	rec, r := seedRecord(f, docs, cds)
	v := newMedsView(f.u, rec, rec.Access)
	showView(f, v.buildUI(), fyne.NewSize(900, 1400))
	return f, v, r
}

func TestMedsList(t *testing.T) {
	f, v, _ := openMeds(t)
	v.start()
	f.wait()
	relayout(v.root)

	l := v.list
	if l.Entries != 5 || len(l.Groups) < 3 {
		t.Fatalf("%d entries in %d groups, want 5 entries", l.Entries, len(l.Groups))
	}
	flaggedDone := false
	for _, g := range l.Groups {
		if !g.Flagged {
			flaggedDone = true
		} else if flaggedDone {
			t.Errorf("flagged group %q after an unflagged one", g.Label)
		}
	}
	v.showDetails()
	first := v.groups.Objects[0].(*fyne.Container).Objects[0].(*widget.Label)
	assertText(t, "first group", first.Text, l.Groups[0].Label)
	if !l.Groups[0].Flagged || first.Importance != widget.DangerImportance {
		t.Errorf("first group %q is not a high-severity flagged group in red", first.Text)
	}
	for _, want := range []string{
		"ELIQUIS 5 mg (apixaban)", "B01AF02", "⚠ Anticoagulant, inhibiteur direct du facteur Xa",
		"à vérifier avant anesthésie : ", "classe approximative (ATC niveau 3)",
		"Dernière délivrance le 05/02/2026 · prescripteur : Dr Paul Morel · délivré il y a moins de 3 mois",
		"débuté il y a moins de 3 mois", "plus ancien (dernière activité connue le 02/07/2025)",
		"sources divergentes : fin de traitement le 02/09/2025",
		"Dispensation médicamenteuse du 28/02/2026", "Synthèse médicale du 02/10/2025",
		"À lire : ces documents peuvent contenir des traitements",
		"CR de consultation pré-anesthésique du 02/03/2025 · Dr Hugo Blanc",
		"Anesthésie ou chirurgie · non disponible hors ligne : téléchargé à l'ouverture",
		"5 médicament(s), dont 3 à vérifier avant anesthésie et 1 aux sources divergentes",
	} {
		if !f.shows(want) {
			t.Errorf("the medication view does not show %q", want)
		}
	}
	test.AssertRendersToMarkup(t, "meds.xml", f.u.Window().Canvas())
}

func TestMedsTimelineRows(t *testing.T) {
	f, v, _ := openMeds(t)
	v.start()
	f.wait()
	rows := v.timeline.rows
	if len(rows) != 3 {
		t.Fatalf("%d timeline rows, want 3 (the dispensed substances)", len(rows))
	}
	marks := map[string]int{}
	for _, r := range rows {
		marks[r.label] = len(r.marks)
	}
	if marks["ELIQUIS 5 mg"] != 12 || marks["AMLODIPINE 5 mg"] != 3 || marks["PRODUIT X 75 mg"] != 1 {
		t.Errorf("marks per row %v", marks)
	}
	if rows[0].level != 2 {
		t.Errorf("first row %q level %d, want 2 (high severity)", rows[0].label, rows[0].level)
	}
}

// buttonWith returns the first visible button under o whose text
// contains s.
func buttonWith(o fyne.CanvasObject, s string) *widget.Button {
	var found *widget.Button
	var walk func(o fyne.CanvasObject)
	walk = func(o fyne.CanvasObject) {
		if found != nil || o == nil || !o.Visible() {
			return
		}
		switch o := o.(type) {
		case *widget.Button:
			if strings.Contains(o.Text, s) {
				found = o
			}
		case *fyne.Container:
			for _, c := range o.Objects {
				walk(c)
			}
		case fyne.Widget:
			for _, c := range test.WidgetRenderer(o).Objects() {
				walk(c)
			}
		}
	}
	walk(o)
	return found
}

func TestMedsSourceOpensViewer(t *testing.T) {
	f, v, _ := openMeds(t)
	v.start()
	f.wait()
	v.showDetails() // the detail by class, built on demand
	b := buttonWith(v.root, "Synthèse médicale du 02/10/2025")
	if b == nil {
		t.Fatal("no source button")
	}
	test.Tap(b)
	f.wait()
	if v.viewer == nil || v.page.Visible() {
		t.Fatal("the source did not open the viewer over the list")
	}
	assertText(t, "viewer title", v.viewer.title.Text, "Synthèse médicale")
	test.Tap(v.viewer.back)
	if v.viewer != nil || !v.page.Visible() {
		t.Error("back did not return to the list")
	}
	// A host opens the documents itself; the unstructured ones too.
	var opened []app.DocumentID
	v.onOpen = func(id app.DocumentID) { opened = append(opened, id) }
	test.Tap(buttonWith(v.toRead, "CR de consultation pré-anesthésique"))
	v.showDetails()
	test.Tap(buttonWith(v.groups, "Dispensation médicamenteuse"))
	if len(opened) != 2 || opened[0] != cpaMissing.ID || opened[1] != dispMeta.ID {
		t.Errorf("opened %v", opened)
	}
}

func TestMedsCancel(t *testing.T) {
	f, v, r := openMeds(t)
	r.gate = make(chan struct{})
	v.start()
	if !v.progress.box.Visible() {
		t.Fatal("no progress while reading")
	}
	test.Tap(v.progress.cancel)
	close(r.gate)
	f.wait()
	if v.loaded || len(v.groups.Objects) != 0 || !v.retry.Visible() {
		t.Error("a cancelled reading should show nothing but the retry")
	}
	assertText(t, "message", v.msg.Text, "Lecture de la liste des médicaments annulée.")
	test.Tap(v.retry)
	f.wait()
	if !v.loaded || len(v.table.rows) == 0 {
		t.Error("retry did not read the list")
	}
	v.dispose()
	if len(v.groups.Objects) != 0 || v.list.Entries != 0 || v.timeline.rows != nil || len(v.table.rows) != 0 {
		t.Error("dispose left patient data")
	}
}

func TestMedsTabInRecord(t *testing.T) {
	f := newLockedFixture(t, Options{})
	docs, cds := medsDocuments()
	seedRecord(f, docs, cds)
	s := f.u.shell
	r := f.openRecord(s, "mart")
	var tab *medsTab
	for i, rt := range r.tabList {
		if mt, ok := rt.(*medsTab); ok {
			tab = mt
			r.tabs.SelectIndex(i)
		}
	}
	if tab == nil {
		t.Fatal("no Médicaments tab")
	}
	f.wait()
	if !tab.v.loaded || tab.v.list.Flagged != 3 {
		t.Fatalf("medications not read when the tab was shown (loaded %v)", tab.v.loaded)
	}
	tab.v.showDetails()
	test.Tap(buttonWith(tab.v.groups, "Synthèse médicale du 02/10/2025"))
	f.wait()
	if r.viewer == nil || r.viewer.title.Text != "Synthèse médicale" {
		t.Fatal("the source did not open the record's document viewer")
	}
	f.u.Window().Canvas().OnTypedKey()(&fyne.KeyEvent{Name: fyne.KeyEscape})
	if r.viewer != nil || r.tabs.Selected() != tab.tab || s.page != pageRecord {
		t.Error("Esc did not bring back the Médicaments tab")
	}
}
