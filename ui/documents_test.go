package ui

import (
	"context"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/apptest"
)

func TestDocumentFilters(t *testing.T) {
	f := newLockedFixture(t, Options{})
	s := f.unlock()
	docs := testDocuments(2000)
	f.seedDocuments("p1", docs, testNow)
	f.signIn(testDoctor, &apptest.Records{})
	r := f.openRecord(s, "mart")
	d := r.tabList[0].(*documentsTab)
	if d.list.Length() != 2000 {
		t.Fatalf("list length = %d, want 2000", d.list.Length())
	}
	assertText(t, "count", d.count.Text, "2000 documents sur 2000")
	// Virtualised: only the rows on screen exist.
	rows := 0
	for _, o := range textsOf(d.list) {
		if strings.HasPrefix(o, "Lettre de sortie") {
			rows++
		}
	}
	if rows == 0 || rows > 100 {
		t.Errorf("%d rows rendered for 2000 documents", rows)
	}
	// The type choices are the types present, sorted, after "all".
	want := []string{"Tous les types", "Compte rendu d'imagerie (18748-4)", "Compte rendu de biologie (11502-2)", "Lettre de sortie (11490-0)"}
	if strings.Join(d.typeFilter.Options, "|") != strings.Join(want, "|") {
		t.Errorf("type options = %q", d.typeFilter.Options)
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
	d.typeFilter.SetSelected("Compte rendu de biologie (11502-2)")
	if got, want := d.list.Length(), count(func(m app.DocumentMeta) bool { return m.TypeCode == "11502-2" }); got != want {
		t.Errorf("by type: %d documents, want %d", got, want)
	}
	for _, m := range d.shown {
		if m.TypeCode != "11502-2" {
			t.Fatalf("type filter let %q through", m.TypeCode)
		}
	}
	d.period.SetSelected("3 derniers mois")
	since := testNow.AddDate(0, -3, 0)
	if got, want := d.list.Length(), count(func(m app.DocumentMeta) bool { return m.TypeCode == "11502-2" && !m.Date.Before(since) }); got != want || got == 0 {
		t.Errorf("by type and 3 months: %d documents, want %d", got, want)
	}
	d.typeFilter.SetSelected("Tous les types")
	d.period.SetSelected("Toutes les dates")
	test.Type(d.query, "petit")
	if got, want := d.list.Length(), count(func(m app.DocumentMeta) bool { return m.Author == "Dr Marc Petit" }); got != want {
		t.Errorf("by text: %d documents, want %d", got, want)
	}
	d.query.SetText("zzz")
	assertText(t, "empty", d.empty.Text, "Aucun document ne correspond aux filtres.")
	if d.list.Visible() {
		t.Error("empty list shown")
	}
	d.query.SetText("")
	if d.list.Length() != 2000 {
		t.Errorf("filters cleared: %d documents", d.list.Length())
	}
}

func TestDocumentFilterApply(t *testing.T) {
	docs := []app.DocumentMeta{
		{ID: "a", TypeCode: "X", Title: "Compte rendu opératoire", Author: "Dr Hélène Roy", Date: testNow},
		{ID: "b", TypeCode: "Y", Title: "Ordonnance", Author: "Dr Paul Léger", Date: testNow.AddDate(-1, 0, 0)},
	}
	for _, tc := range []struct {
		f    documentFilter
		want string
	}{
		{documentFilter{}, "ab"},
		{documentFilter{Type: "Y", ByType: true}, "b"},
		{documentFilter{Since: testNow.AddDate(0, -3, 0)}, "a"},
		{documentFilter{Query: "operatoire"}, "a"},
		{documentFilter{Query: " LEGER "}, "b"},
		{documentFilter{Query: "helene", Type: "Y", ByType: true}, ""},
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

func TestDocumentRow(t *testing.T) {
	newLockedFixture(t, Options{}) // the test app, in French
	r := newDocumentRow().(*documentRow)
	r.update(app.DocumentMeta{Title: "CR", TypeCode: "11490-0", Date: testNow, Superseded: true, Cached: true,
		Visibility: app.Visibility{MaskedToProfessionals: true, HiddenFromPatient: true, HiddenFromLegalReps: true}},
		"Lettre de liaison à la sortie d'un établissement de soins")
	assertText(t, "title", r.title.Text, "CR (remplacé)")
	assertText(t, "type", r.code.Text, "Lettre de liaison à la sortie d'un établissement de soins")
	if r.code.TextStyle.Monospace {
		t.Error("a French type label shown as a code")
	}
	assertText(t, "flags", r.flags.Text, "Masqué aux PS · Invisible patient · Invisible représentants légaux")
	assertText(t, "date", r.date.Text, "02/03/2026")
	if r.offline.Resource == nil {
		t.Error("cached document without the offline icon")
	}
	r.update(app.DocumentMeta{Title: "CR", TypeCode: "X-LOCAL"}, "X-LOCAL") // unknown type: its code
	if !r.code.TextStyle.Monospace || r.code.Text != "X-LOCAL" {
		t.Errorf("unknown type shown as %q", r.code.Text)
	}
	if r.offline.Resource != nil || r.flags.Text != "" || r.title.Text != "CR" {
		t.Error("a row kept the previous document's marks")
	}
}

func TestWidenRecord(t *testing.T) {
	f := newLockedFixture(t, Options{})
	s := f.unlock()
	old := app.DocumentMeta{ID: "old", TypeCode: "11490-0", Title: "Lettre de 2019", Date: time.Date(2019, 5, 1, 0, 0, 0, 0, time.UTC)}
	rec := &apptest.Records{ListDocumentsFn: func(_ app.Access, _ app.INS, q app.DocumentQuery) ([]app.RemoteDocument, error) {
		recent := app.RemoteDocument{Meta: testDocuments(1)[0], Status: "current", LastUpdated: testNow}
		if q.ActSince.IsZero() && q.UpdatedSince.IsZero() {
			return []app.RemoteDocument{recent, {Meta: old, Status: "current", LastUpdated: old.Date}}, nil
		}
		return []app.RemoteDocument{recent}, nil
	}}
	f.signIn(testDoctor, rec)
	r := f.openRecord(s, "mart")
	d := r.tabList[0].(*documentsTab)
	if !d.notice.Visible() || d.list.Length() != 1 {
		t.Fatalf("notice visible=%v, %d documents", d.notice.Visible(), d.list.Length())
	}
	calls := rec.Calls("ListDocuments")
	test.Tap(d.widen)
	if !d.progress.box.Visible() || !d.widen.Disabled() {
		t.Error("no progress while widening")
	}
	f.wait()
	if rec.Calls("ListDocuments") != calls+1 {
		t.Fatalf("widen listed %d times", rec.Calls("ListDocuments")-calls)
	}
	if q := rec.Last("ListDocuments").(app.DocumentQuery); !q.ActSince.IsZero() {
		t.Errorf("widen query %+v, want every date", q)
	}
	if d.list.Length() != 2 || d.notice.Visible() || d.progress.box.Visible() {
		t.Errorf("after widening: %d documents, notice visible=%v", d.list.Length(), d.notice.Visible())
	}
	if !f.shows("Lettre de 2019") {
		t.Error("the old document is not listed")
	}
	// A new visit remembers the widened window.
	f.u.back()
	r = f.openRecord(s, "mart")
	if r.tabList[0].(*documentsTab).notice.Visible() {
		t.Error("the notice is back after the record was widened")
	}
}

func TestWidenOfflineMessage(t *testing.T) {
	f := newLockedFixture(t, Options{})
	s := f.unlock()
	f.seedDocuments("p1", testDocuments(3), testNow)
	r := f.openRecord(s, "mart") // not signed in
	d := r.tabList[0].(*documentsTab)
	test.Tap(d.widen)
	f.wait()
	assertText(t, "message", d.widenMsg.Text, "Carte CPS ou certificat indisponible : vérifiez la carte, le lecteur et le code PIN.")
	if d.widen.Disabled() || d.list.Length() != 3 {
		t.Error("a failed widen changed the list or left the button disabled")
	}
}

func TestOpenDocument(t *testing.T) {
	f := newLockedFixture(t, Options{})
	s := f.unlock()
	docs := testDocuments(10)
	f.seedDocuments("p1", docs, testNow)
	r := f.openRecord(s, "mart")
	d := r.tabList[0].(*documentsTab)
	d.list.Select(9)
	f.wait()
	if r.viewer == nil || r.body.Objects[0] != r.viewer.root {
		t.Fatal("no document viewer in place of the tabs")
	}
	for _, want := range []string{docs[9].Title, "Masqué aux professionnels", "Hôpital Saint-Louis", "Retour à la liste"} {
		if !f.shows(want) {
			t.Errorf("document viewer does not show %q", want)
		}
	}
	// Esc closes the viewer first, then leaves the record.
	f.u.Window().Canvas().OnTypedKey()(&fyne.KeyEvent{Name: fyne.KeyEscape})
	if r.viewer != nil || r.body.Objects[0] != r.tabs || s.page != pageRecord {
		t.Fatal("Esc did not just close the viewer")
	}
	f.u.Window().Canvas().OnTypedKey()(&fyne.KeyEvent{Name: fyne.KeyEscape})
	if s.page != pageSearch {
		t.Fatal("second Esc did not go back")
	}
}

// BenchmarkOpenPatientView measures, with the test driver, from the choice
// of a patient in the search results to the Documents tab rendered (the
// window painted by the software painter), for a cached patient with 200
// documents and a signed-in practitioner (the central service answers at
// once with no change).
func BenchmarkOpenPatientView(b *testing.B) {
	f := newLockedFixture(b, Options{})
	v := f.u.unlock
	test.Type(v.pass, testPassphrase)
	test.Tap(v.button)
	f.wait()
	s := f.u.shell
	f.seedDocuments("p1", testDocuments(200), testNow)
	if err := f.store.Write(context.Background(), &app.Batch{Cursors: []app.Cursor{{Patient: "p1", Stream: "documents", Time: testNow}}}); err != nil {
		b.Fatal(err)
	}
	f.signIn(testDoctor, &apptest.Records{})
	f.typeAndWait(s.search.query, "mart")
	c := f.u.Window().Canvas()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.search.list.Select(0)
		f.wait()
		if s.record == nil || !s.record.shown || s.record.tabList[0].(*documentsTab).list.Length() != 200 {
			b.Fatal("record not shown")
		}
		c.Capture()
		b.StopTimer()
		f.u.back()
		b.StartTimer()
	}
}

func TestDialogClosedByItsButton(t *testing.T) {
	f := newLockedFixture(t, Options{})
	s := f.unlock()
	f.seedDocuments("p1", testDocuments(3), testNow)
	r := f.openRecord(s, "mart")
	r.showDialog(dialog.NewCustom("Document", tr("dialog.close"), widget.NewLabel(""), f.u.w))
	tapDialogButton(t, f, "Fermer")
	if len(r.dialogs) != 0 {
		t.Fatal("a closed dialog is still counted")
	}
	f.u.Window().Canvas().OnTypedKey()(escape())
	if s.page != pageSearch {
		t.Error("Esc after closing the dialog did not go back")
	}
}
