package ui

import (
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/apptest"
)

// classTerms is a terminology with the TRE_A03 labels of the test
// documents' classes and no type labels.
type classTerms map[string]string

func (classTerms) DocumentType(string) (string, bool)         { return "", false }
func (c classTerms) DocumentClass(code string) (string, bool) { l, ok := c[code]; return l, ok }

var testClassTerms = classTerms{"10": "Compte rendu", "31": "Imagerie médicale", "60": "Données de remboursement"}

// classedDocuments returns testDocuments(n) with the class of their type
// (imaging 31, the others 10), every eleventh one unclassified.
func classedDocuments(n int) []app.DocumentMeta {
	docs := testDocuments(n)
	for i := range docs {
		switch {
		case i%11 == 10:
		case docs[i].TypeCode == "18748-4":
			docs[i].ClassCode = "31"
		default:
			docs[i].ClassCode = "10"
		}
	}
	return docs
}

func TestDocumentClassFilter(t *testing.T) {
	f := newFixtureWith(t, lockedStore(t), Options{}, app.Deps{Terminology: testClassTerms})
	s := f.unlock()
	docs := classedDocuments(2000)
	f.seedDocuments("p1", docs, testNow)
	f.signIn(testDoctor, &apptest.Records{})
	r := f.openRecord(s, "mart")
	d := r.tabList[0].(*documentsTab)

	// The classes present, sorted by label, between "every class" and
	// "unclassified"; no choice for a class the record does not have (60).
	want := []string{"Toutes les classes", "Compte rendu", "Imagerie médicale", "Non classé"}
	if strings.Join(d.classFilter.Options, "|") != strings.Join(want, "|") {
		t.Errorf("class options = %q, want %q", d.classFilter.Options, want)
	}
	assertText(t, "class selected", d.classFilter.Selected, "Toutes les classes")
	if d.list.Length() != 2000 {
		t.Fatalf("list length = %d, want 2000", d.list.Length())
	}

	count := func(keep func(app.DocumentMeta) bool) int {
		n := 0
		for _, doc := range docs {
			if keep(doc) {
				n++
			}
		}
		return n
	}
	d.classFilter.SetSelected("Imagerie médicale")
	imaging := count(func(m app.DocumentMeta) bool { return m.ClassCode == "31" })
	if got := d.list.Length(); got != imaging || got == 0 {
		t.Errorf("by class: %d documents, want %d", got, imaging)
	}
	for _, m := range d.shown {
		if m.ClassCode != "31" {
			t.Fatalf("class filter let %q through", m.ClassCode)
		}
	}
	// Still virtualised: only the rows on screen exist.
	if rows := strings.Count(strings.Join(textsOf(d.list), "\n"), "Compte rendu d'imagerie"); rows == 0 || rows > 100 {
		t.Errorf("%d rows rendered for %d documents", rows, imaging)
	}
	assertText(t, "count", d.count.Text, trN("documents.count", imaging, map[string]any{"N": imaging, "Total": 2000}))

	// Combined with the type and the date.
	d.classFilter.SetSelected("Compte rendu")
	d.typeFilter.SetSelected("Compte rendu de biologie (11502-2)")
	d.period.SetSelected("3 derniers mois")
	since := testNow.AddDate(0, -3, 0)
	if got, want := d.list.Length(), count(func(m app.DocumentMeta) bool {
		return m.ClassCode == "10" && m.TypeCode == "11502-2" && !m.Date.Before(since)
	}); got != want || got == 0 {
		t.Errorf("by class, type and 3 months: %d documents, want %d", got, want)
	}
	d.classFilter.SetSelected("Imagerie médicale") // no biology report is an imaging one
	assertText(t, "empty", d.empty.Text, "Aucun document ne correspond aux filtres.")
	if d.list.Visible() {
		t.Error("empty list shown")
	}

	// The documents without class.
	d.typeFilter.SetSelected("Tous les types")
	d.period.SetSelected("Toutes les dates")
	d.classFilter.SetSelected("Non classé")
	if got, want := d.list.Length(), count(func(m app.DocumentMeta) bool { return m.ClassCode == "" }); got != want || got == 0 {
		t.Errorf("unclassified: %d documents, want %d", got, want)
	}
	// The choice survives a change of the record that keeps the class.
	d.recordChanged()
	assertText(t, "class kept", d.classFilter.Selected, "Non classé")
	d.classFilter.SetSelected("Toutes les classes")
	if d.list.Length() != 2000 {
		t.Errorf("filters cleared: %d documents", d.list.Length())
	}
}

// TestDocumentClassChoicesWithoutTerminology: without terminology the
// choices are the codes; a record whose documents all have a class offers
// no "unclassified"; two codes with one label stay apart.
func TestDocumentClassChoicesWithoutTerminology(t *testing.T) {
	f := newLockedFixture(t, Options{})
	s := f.unlock()
	docs := testDocuments(6)
	for i := range docs {
		docs[i].ClassCode = []string{"31", "10", "77"}[i%3]
	}
	f.seedDocuments("p1", docs, testNow)
	r := f.openRecord(s, "mart")
	d := r.tabList[0].(*documentsTab)
	if got, want := strings.Join(d.classFilter.Options, "|"), "Toutes les classes|10|31|77"; got != want {
		t.Errorf("class options = %q, want %q", got, want)
	}
	f.svc.SetTerminology(classTerms{"10": "Compte rendu", "77": "Compte rendu"})
	d.classFilter.SetSelected("31")
	d.recordChanged()
	if got, want := strings.Join(d.classFilter.Options, "|"), "Toutes les classes|31|Compte rendu|Compte rendu (77)"; got != want {
		t.Errorf("class options = %q, want %q", got, want)
	}
	assertText(t, "class kept", d.classFilter.Selected, "31")
	d.classFilter.SetSelected("Compte rendu (77)")
	if d.list.Length() != 2 || d.shown[0].ClassCode != "77" {
		t.Errorf("by the second code of a label: %d documents", d.list.Length())
	}
}

func TestDocumentFilterApplyClass(t *testing.T) {
	docs := []app.DocumentMeta{
		{ID: "a", TypeCode: "X", ClassCode: "10", Date: testNow},
		{ID: "b", TypeCode: "Y", ClassCode: "31", Date: testNow.AddDate(-1, 0, 0)},
		{ID: "c", TypeCode: "X", Date: testNow},
	}
	for _, tc := range []struct {
		f    documentFilter
		want string
	}{
		{documentFilter{}, "abc"},
		{documentFilter{Class: "10", ByClass: true}, "a"},
		{documentFilter{Class: "", ByClass: true}, "c"},
		{documentFilter{Class: "10", ByClass: true, Type: "X", ByType: true}, "a"},
		{documentFilter{Class: "31", ByClass: true, Type: "X", ByType: true}, ""},
		{documentFilter{Class: "31", ByClass: true, Since: testNow.AddDate(0, -3, 0)}, ""},
		{documentFilter{Class: "", ByClass: false, Type: "X", ByType: true}, "ac"},
	} {
		got := ""
		for _, d := range tc.f.apply(docs) {
			got += string(d.ID)
		}
		if got != tc.want {
			t.Errorf("%+v.apply = %q, want %q", tc.f, got, tc.want)
		}
	}
}

// TestDocumentClassGolden: the filter bar with a class chosen, and the list
// it leaves.
func TestDocumentClassGolden(t *testing.T) {
	f := newFixtureWith(t, lockedStore(t), Options{}, app.Deps{Terminology: testClassTerms})
	s := f.unlock()
	f.seedDocuments("p1", classedDocuments(12), testNow)
	r := f.openRecord(s, "mart")
	d := r.tabList[0].(*documentsTab)
	d.classFilter.SetSelected("Imagerie médicale")
	if d.list.Length() != 4 {
		t.Fatalf("%d imaging documents, want 4", d.list.Length())
	}
	// The tab alone: the record header and the status bar around it have
	// goldens of their own.
	w := test.NewTempWindow(t, r.tabs.Items[0].Content)
	w.Resize(fyne.NewSize(1100, 420))
	test.AssertRendersToMarkup(t, "documents_class.xml", w.Canvas())
}
