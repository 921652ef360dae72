package ui

import (
	"context"
	"fmt"
	"image/color"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/apptest"
)

// testNow is the fixture clock's start; the date filters count from it.
var testNow = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func init() {
	displayZone = time.UTC
	timeNow = func() time.Time { return testNow }
}

// The practitioners of the tests.
var (
	testDoctor    = app.Practitioner{RPPS: "810000000001", Name: "Dr Anne Durand", Structure: app.Structure{ID: "1750000001", Name: "Clinique du Parc"}}
	testRegulator = app.Practitioner{RPPS: "810000000002", Name: "Dr Paul Samu", Structure: app.Structure{ID: "1750000002", Name: "SAMU 75"},
		Roles: []string{app.RoleRegulation}}
)

// signIn starts a session as p with the fake central service rec.
func (f *fixture) signIn(p app.Practitioner, rec *apptest.Records) {
	f.svc.SignIn(app.Session{Practitioner: p, Records: rec})
}

// seedDocuments stores a manifest of docs for patient id, checked at
// checked (zero: never).
func (f *fixture) seedDocuments(id app.PatientID, docs []app.DocumentMeta, checked time.Time) {
	f.t.Helper()
	m := app.Manifest{Patient: id, Documents: docs, CheckedAt: checked}
	if err := f.store.Write(context.Background(), &app.Batch{Manifests: []app.Manifest{m}}); err != nil {
		f.t.Fatal(err)
	}
}

// openRecord searches q, chooses the first result and waits for the
// record to open.
func (f *fixture) openRecord(s *shell, q string) *recordView {
	f.t.Helper()
	s.search.query.SetText("")
	f.wait()
	f.typeAndWait(s.search.query, q)
	if len(s.search.results) == 0 {
		f.t.Fatalf("no result for %q", q)
	}
	s.search.list.Select(0)
	f.wait()
	if s.record == nil || s.page != pageRecord {
		f.t.Fatal("record page not shown")
	}
	return s.record
}

// testDocuments returns n documents, newest first, one every few days
// back from testNow, of three types; every tenth masked, every seventh
// superseded, the even ones cached.
func testDocuments(n int) []app.DocumentMeta {
	types := []struct{ code, title, author string }{
		{"11490-0", "Lettre de sortie", "Dr Claire Martin"},
		{"11502-2", "Compte rendu de biologie", "Laboratoire Bio+"},
		{"18748-4", "Compte rendu d'imagerie", "Dr Marc Petit"},
	}
	docs := make([]app.DocumentMeta, n)
	for i := range docs {
		ty := types[i%len(types)]
		docs[i] = app.DocumentMeta{
			ID:           app.DocumentID(fmt.Sprintf("1.2.250.1.999.%d", i)),
			TypeCode:     ty.code,
			Title:        ty.title,
			Author:       ty.author,
			Organisation: "Hôpital Saint-Louis",
			Date:         testNow.Add(-time.Duration(i) * 73 * time.Hour),
			MediaType:    "text/xml",
			Cached:       i%2 == 0,
			Superseded:   i%7 == 6,
			Visibility:   app.Visibility{MaskedToProfessionals: i%10 == 9},
			Source:       "dmp",
		}
	}
	return docs
}

func TestOpenRecord(t *testing.T) {
	f := newLockedFixture(t, Options{})
	s := f.unlock()
	rec := &apptest.Records{
		ListDocumentsFn: func(app.Access, app.INS, app.DocumentQuery) ([]app.RemoteDocument, error) {
			var out []app.RemoteDocument
			for _, d := range testDocuments(3) {
				out = append(out, app.RemoteDocument{Meta: d, Status: "current", LastUpdated: testNow, Visibility: d.Visibility})
			}
			return out, nil
		},
	}
	f.signIn(testDoctor, rec)
	r := f.openRecord(s, "mart")

	h := r.header
	assertText(t, "name", h.name.Text, "MARTIN Hélène")
	assertText(t, "identity", h.identity.Text, "née MARTIN · prénoms de naissance Hélène Marie · 12/03/1979 · Femme · INS 2 79 03 51 215 189 89")
	assertText(t, "status", h.status.Text, "QUAL")
	assertText(t, "status meaning", h.meaning.Text, "Identité qualifiée")
	assertText(t, "mode", h.mode.Text, "Accès normal")
	if h.emergency.Visible() || h.offline.Visible() || r.progress.box.Visible() {
		t.Error("bris de glace banner, offline notice or progress shown for a normal online access")
	}
	if got := rec.Last("FindPatient").(app.Access); got.Mode != app.AccessNormal {
		t.Errorf("opened in mode %q, want normal", got.Mode)
	}
	var titles []string
	for _, it := range r.tabs.Items {
		titles = append(titles, it.Text)
	}
	if strings.Join(titles, "|") != "Documents|Médicaments|Traces d'accès|Journal local|Rédiger|Allergies, problèmes, dispositifs|Synthèse (VSM)" {
		t.Errorf("tabs = %q", titles)
	}
	d := r.tabList[0].(*documentsTab)
	if d.list.Length() != 3 {
		t.Fatalf("documents listed = %d, want 3", d.list.Length())
	}
	assertText(t, "count", d.count.Text, "3 documents sur 3")
	if !d.notice.Visible() {
		t.Error("the two-year notice is not shown after a first consultation")
	}
	for _, want := range []string{"02/03/2026", "Lettre de sortie", "11502-2", "Dr Marc Petit", "Hôpital Saint-Louis"} {
		if !f.shows(want) {
			t.Errorf("the documents tab does not show %q", want)
		}
	}
}

func TestOpenRecordCancel(t *testing.T) {
	f := newLockedFixture(t, Options{})
	s := f.unlock()
	release := make(chan struct{})
	f.signIn(testDoctor, &apptest.Records{FindPatientFn: func(app.Access, app.INS) (app.RecordStatus, error) {
		<-release
		return app.RecordStatus{Exists: true, Authorization: app.AuthorizationGranted}, nil
	}})
	f.typeAndWait(s.search.query, "mart")
	s.search.list.Select(0)
	r := s.record
	if r == nil || !r.progress.box.Visible() || !r.progress.bar.Visible() {
		t.Fatal("no progress while the record opens")
	}
	assertText(t, "progress", r.progress.label.Text, "Ouverture du dossier de MARTIN Hélène…")
	test.Tap(r.progress.cancel)
	close(release)
	f.wait()
	if s.page != pageSearch || s.record != nil {
		t.Fatal("cancelling the opening did not go back to the search")
	}
	if !r.disposed || r.shown {
		t.Error("the cancelled opening was shown")
	}
	if len(s.search.results) == 0 {
		t.Error("the search results were lost")
	}
}

func TestOfflineRecord(t *testing.T) {
	f := newLockedFixture(t, Options{SignIn: func(context.Context, []byte) error { return nil }})
	s := f.unlock()
	checked := time.Date(2026, 2, 27, 10, 15, 0, 0, time.UTC)
	f.seedDocuments("p1", testDocuments(5), checked)

	// Not signed in: the cached copy, with the sign-in hint.
	r := f.openRecord(s, "mart")
	h := r.header
	assertText(t, "offline", h.offline.Text,
		"Copie hors ligne, dernière vérification le 27/02/2026 à 10:15. Connectez-vous pour consulter le DMP à jour.")
	assertText(t, "mode", h.mode.Text, "Copie locale")
	if !h.offline.Visible() || !h.signIn.Visible() {
		t.Error("offline notice or sign-in button hidden")
	}
	if d := r.tabList[0].(*documentsTab); d.list.Length() != 5 {
		t.Errorf("offline copy lists %d documents, want 5", d.list.Length())
	}
	// The traces are online only: a clear message, no call.
	r.tabs.SelectIndex(2)
	f.wait()
	tt := r.tabList[2].(*tracesTab)
	assertText(t, "traces", tt.msg.Text, "Les traces d'accès sont tenues par le DMP : elles ne sont consultables qu'en ligne, connecté avec votre carte.")

	// Signed in, the service unreachable: offline without the hint.
	rec := &apptest.Records{FindPatientFn: func(app.Access, app.INS) (app.RecordStatus, error) {
		return app.RecordStatus{}, fmt.Errorf("dmp: dial: %w", app.ErrOffline)
	}}
	f.signIn(testDoctor, rec)
	test.Tap(h.refresh)
	f.wait()
	assertText(t, "offline", h.offline.Text, "Copie hors ligne, dernière vérification le 27/02/2026 à 10:15.")
	if h.signIn.Visible() {
		t.Error("sign-in offered while signed in")
	}
	if rec.Calls("AccessTraces") != 0 {
		t.Error("traces asked for although offline")
	}

	// A record never checked.
	f.u.back()
	f.svc.SignOut()
	r = f.openRecord(s, "dupont")
	assertText(t, "offline", r.header.offline.Text,
		"Copie hors ligne, jamais vérifiée auprès du DMP. Connectez-vous pour consulter le DMP à jour.")
	assertText(t, "empty", r.tabList[0].(*documentsTab).empty.Text, "Aucun document dans ce dossier.")
}

func TestEscBack(t *testing.T) {
	f := newLockedFixture(t, Options{})
	s := f.unlock()
	f.signIn(testDoctor, &apptest.Records{})
	r := f.openRecord(s, "mart")
	if f.u.Window().Canvas().Focused() != nil {
		t.Error("something keeps the focus when the record opens: Esc would not reach the window")
	}
	f.u.Window().Canvas().OnTypedKey()(&fyne.KeyEvent{Name: fyne.KeyEscape})
	if s.page != pageSearch || s.record != nil || !r.disposed {
		t.Fatal("Esc did not go back to the search")
	}
	if f.u.Window().Canvas().Focused() != s.search.query {
		t.Error("the search entry is not focused after Esc")
	}
	// From the focused filter entry of the documents.
	r = f.openRecord(s, "mart")
	d := r.tabList[0].(*documentsTab)
	f.u.Window().Canvas().Focus(d.query)
	d.query.TypedKey(&fyne.KeyEvent{Name: fyne.KeyEscape})
	if s.page != pageSearch {
		t.Fatal("Esc in the filter entry did not go back")
	}
	// From the focused document list.
	r = f.openRecord(s, "mart")
	r.tabList[0].(*documentsTab).list.TypedKey(&fyne.KeyEvent{Name: fyne.KeyEscape})
	if s.page != pageSearch {
		t.Fatal("Esc in the document list did not go back")
	}
	// Esc on the search page does nothing; Ctrl+F from a record goes back.
	if f.u.back() {
		t.Error("Esc on the search page went somewhere")
	}
	f.openRecord(s, "mart")
	f.u.Window().Canvas().(fyne.Shortcutable).TypedShortcut(shortcutFind)
	if s.page != pageSearch || s.record != nil {
		t.Error("Ctrl+F did not leave the record for the search")
	}
	// Enter in the search opens the first result.
	s.search.query.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
	f.wait()
	if s.page != pageRecord || s.record.patient.ID != "p1" {
		t.Error("Enter did not open the first result")
	}
}

func TestLockDisposesRecord(t *testing.T) {
	f := newLockedFixture(t, Options{})
	s := f.unlock()
	f.seedDocuments("p1", testDocuments(20), testNow)
	f.signIn(testDoctor, &apptest.Records{FindPatientFn: func(app.Access, app.INS) (app.RecordStatus, error) {
		return app.RecordStatus{Exists: true, Authorization: app.AuthorizationNone}, nil
	}})
	r := f.openRecord(s, "mart")
	breakGlass(t, f, r, "patient inconscient aux urgences, pas de proche")
	d := r.tabList[0].(*documentsTab)
	d.list.Select(0) // the document viewer is open
	if r.viewer == nil {
		t.Fatal("document viewer not shown")
	}
	f.u.Window().Canvas().(fyne.Shortcutable).TypedShortcut(shortcutLock)
	checkLocked(t, f, s)
	if !r.disposed || r.rec.Patient.ID != "" || len(r.rec.Manifest.Documents) != 0 || d.shown != nil || r.tabs != nil || r.viewer != nil {
		t.Error("the record view still holds patient data")
	}
	if n := len(f.u.Window().Canvas().Overlays().List()); n != 0 {
		t.Errorf("%d dialogs left over the unlock screen", n)
	}
	for _, text := range []string{"Lettre de sortie", "inconscient", "Hélène", "Dr Claire Martin"} {
		if f.shows(text) {
			t.Errorf("the window still shows %q", text)
		}
	}
}

func TestIdentityLine(t *testing.T) {
	if err := applyLanguage(languageFrench); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		p    app.Patient
		want string
	}{
		{app.Patient{UsedName: "Durand", BirthName: "MARTIN", Sex: app.SexFemale, BirthDate: "1979-03-12", Status: app.IdentityValidated,
			INS: app.INS{Matricule: "279035121518989"}, BirthGivenNames: "Béatrice Anne"}, "née MARTIN · prénoms de naissance Béatrice Anne · 12/03/1979 · Femme"},
		{app.Patient{UsedName: "Martin", BirthName: "MARTIN", Sex: app.SexMale, BirthDate: "1950-11-02"}, "né MARTIN · 02/11/1950 · Homme"},
		{app.Patient{UsedName: "Roy", BirthName: "LEROY", Sex: app.SexUnknown}, "né(e) LEROY · Indéterminé"},
		{app.Patient{BirthName: "MARTIN", Sex: app.SexMale, Status: app.IdentityQualified, INS: app.INS{Matricule: "179035121518922"}},
			"né MARTIN · Homme · INS 1 79 03 51 215 189 22"},
	} {
		if got := identityLine(tc.p); got != tc.want {
			t.Errorf("identityLine(%+v) = %q, want %q", tc.p, got, tc.want)
		}
	}
}

// renderHeader renders a stand-alone record header for the goldens.
func renderHeader(t *testing.T, golden string, p app.Patient, acc app.Access, rec app.PatientRecord, signedIn bool) *recordHeader {
	t.Helper()
	h := newRecordHeader(func() {}, func() {}, func() {})
	w := test.NewTempWindow(t, container.NewVBox(h.box))
	w.Resize(fyne.NewSize(900, 300))
	h.show(p, acc, rec, signedIn, true)
	relayout(w.Content())
	test.AssertRendersToMarkup(t, golden, w.Canvas())
	return h
}

func TestRecordHeaderGoldens(t *testing.T) {
	newLockedFixture(t, Options{}) // the test app, in French
	p := testPatients(t)[0]
	p.UsedName = "DURAND"
	renderHeader(t, "record_header_normal.xml", p, app.Access{Mode: app.AccessNormal}, app.PatientRecord{}, true)
	h := renderHeader(t, "record_header_emergency.xml", p,
		app.Access{Mode: app.AccessEmergency, Justification: "Patiente inconsciente admise aux urgences"}, app.PatientRecord{}, true)
	if !h.emergency.Visible() || !strings.Contains(h.justification.Text, "Patiente inconsciente admise aux urgences") {
		t.Error("the bris de glace banner does not show the justification")
	}
	h = renderHeader(t, "record_header_offline.xml", testPatients(t)[1], app.Access{},
		app.PatientRecord{Offline: true, CheckedAt: time.Date(2026, 2, 27, 10, 15, 0, 0, time.UTC)}, false)
	if h.identity.Text != "né DUPONT · prénoms de naissance Jean · 02/11/1950 · Homme" {
		t.Errorf("VALI identity line = %q: the INS must not show", h.identity.Text)
	}
}

// tapDialogButton taps the button labelled text in the top dialog (see
// fixture.tapDialogButton).
func tapDialogButton(t *testing.T, f *fixture, text string) {
	t.Helper()
	f.tapDialogButton(text)
}

func TestIdleLockDropsRecord(t *testing.T) {
	f := newLockedFixture(t, Options{})
	s := f.unlock()
	f.seedDocuments("p1", testDocuments(5), testNow)
	r := f.openRecord(s, "mart")
	f.clock.Advance(10 * time.Minute)
	f.svc.Tick()
	checkLocked(t, f, s)
	if !r.disposed || r.tabs != nil || f.shows("Lettre de sortie") {
		t.Error("the idle lock left the record")
	}
}

func TestTabShortcuts(t *testing.T) {
	f := newLockedFixture(t, Options{})
	s := f.unlock()
	f.seedDocuments("p1", testDocuments(3), testNow)
	r := f.openRecord(s, "mart")
	c := f.u.Window().Canvas().(fyne.Shortcutable)
	c.TypedShortcut(shortcutTabs[1])
	if got := r.tabs.SelectedIndex(); got != 1 {
		t.Fatalf("Ctrl+2 selected tab %d, want 1", got)
	}
	c.TypedShortcut(shortcutTabs[0])
	if got := r.tabs.SelectedIndex(); got != 0 {
		t.Fatalf("Ctrl+1 selected tab %d, want 0", got)
	}
	c.TypedShortcut(shortcutTabs[8]) // no ninth tab: nothing happens
	if got := r.tabs.SelectedIndex(); got != 0 {
		t.Fatalf("Ctrl+9 moved to tab %d", got)
	}
}

func TestDemoOffersSignInAfterUnlock(t *testing.T) {
	f := newLockedFixture(t, Options{Demo: true, DemoPassphrase: testPassphrase, DemoPIN: "1234",
		SignIn: func(context.Context, []byte) error { return nil }})
	s := f.unlock()
	if s.signIn.dialog == nil || s.signIn.demoPIN == nil {
		t.Fatal("demo mode did not offer the sign-in with the PIN after unlock")
	}
}

// labelColor returns the colour the label's text is drawn in.
func labelColor(t *testing.T, l *widget.Label) color.Color {
	t.Helper()
	var found color.Color
	var walk func(o fyne.CanvasObject)
	walk = func(o fyne.CanvasObject) {
		switch o := o.(type) {
		case *canvas.Text:
			if found == nil {
				found = o.Color
			}
		case fyne.Widget:
			for _, c := range test.WidgetRenderer(o).Objects() {
				walk(c)
			}
		}
	}
	walk(l)
	if found == nil {
		t.Fatal("the label draws no text")
	}
	return found
}

func TestEmergencyBannerFollowsTheme(t *testing.T) {
	f := newLockedFixture(t, Options{})
	s := f.unlock()
	rec := noAuthorization()
	rec.AccessTracesFn = func(app.Access, app.INS, time.Time) ([]app.AccessTrace, error) { return nil, nil }
	f.signIn(testDoctor, rec)
	r := f.openRecord(s, "mart")
	breakGlass(t, f, r, "urgence vitale, patient inconscient")
	h := r.header
	if !h.emergency.Visible() {
		t.Fatal("no bris de glace banner")
	}
	fills := map[string]color.Color{}
	// Light, dark, then light again: the banner built under one theme
	// follows every change, as the settings page makes it.
	for _, choice := range []string{themeLight, themeDark, themeLight} {
		f.a.Preferences().SetString(prefTheme, choice)
		applyTheme(f.a)
		f.wait()
		th := f.a.Settings().Theme()
		v := th.(*variantTheme).variant
		fill := test.WidgetRenderer(h.banner).Objects()[0].(*canvas.Rectangle).FillColor
		if want := emergencyColor(th, v); fill != want {
			t.Errorf("%s: banner filled with %v, want %v", choice, fill, want)
		}
		text := labelColor(t, h.justification)
		if want := th.Color(theme.ColorNameForegroundOnError, v); text != want {
			t.Errorf("%s: banner text in %v, want the theme's %v", choice, text, want)
		}
		if c := contrast(text, fill); c < minContrast {
			t.Errorf("%s: banner text contrast %.2f:1, want at least %.1f:1", choice, c, minContrast)
		}
		if old, ok := fills[choice]; ok && old != fill {
			t.Errorf("%s: banner filled with %v, then %v", choice, old, fill)
		}
		fills[choice] = fill
	}
	if fills[themeLight] == fills[themeDark] {
		t.Errorf("the banner keeps the colour %v in both themes", fills[themeLight])
	}
}

func TestFillFor(t *testing.T) {
	white := color.NRGBA{R: 0xff, G: 0xff, B: 0xff, A: 0xff}
	black := color.NRGBA{A: 0xff}
	red := color.NRGBA{R: 0xf4, G: 0x43, B: 0x36, A: 0xff} // Fyne's error colour
	if got := contrast(black, white); got < 20.99 || got > 21.01 {
		t.Errorf("contrast(black, white) = %.2f, want 21", got)
	}
	for _, tc := range []struct {
		name       string
		fill, text color.Color
		darker     bool // the fill must be darkened
		same       bool // the fill is kept
	}{
		{"white on red", red, white, true, false},
		{"dark on red", red, color.NRGBA{R: 0x17, G: 0x17, B: 0x18, A: 0xff}, false, true},
		{"dark on dark red", color.NRGBA{R: 0x80, A: 0xff}, black, false, false},
	} {
		got := fillFor(tc.fill, tc.text)
		if c := contrast(got, tc.text); c < minContrast {
			t.Errorf("%s: fillFor = %v, contrast %.2f:1, want at least %.1f:1", tc.name, got, c, minContrast)
		}
		switch {
		case tc.same && got != tc.fill:
			t.Errorf("%s: fillFor = %v, want %v kept", tc.name, got, tc.fill)
		case !tc.same && tc.darker && luminance(got) >= luminance(tc.fill):
			t.Errorf("%s: fillFor = %v, want darker than %v", tc.name, got, tc.fill)
		case !tc.same && !tc.darker && luminance(got) <= luminance(tc.fill):
			t.Errorf("%s: fillFor = %v, want lighter than %v", tc.name, got, tc.fill)
		}
	}
}

// TestRecordHeaderNotQualified: a PROV identity opened in normal access
// says why the DMP was not consulted and what to do, and offers the bris
// de glace.
func TestRecordHeaderNotQualified(t *testing.T) {
	if err := applyLanguage(languageFrench); err != nil {
		t.Fatal(err)
	}
	h := newRecordHeader(func() {}, func() {}, func() {})
	tapped := false
	h.onBreakGlass(func() { tapped = true })
	test.NewTempWindow(t, container.NewVBox(h.box))
	p := testPatients(t)[3] // LE HÉNAFF Loïc, PROV
	h.show(p, app.Access{Mode: app.AccessNormal}, app.PatientRecord{NotQualified: true}, true, true)
	for _, want := range []string{"Identité provisoire (PROV)", "n'est pas consulté en accès normal", "Faites qualifier l'identité", "réimportez"} {
		if !strings.Contains(h.offline.Text, want) {
			t.Errorf("notice %q lacks %q", h.offline.Text, want)
		}
	}
	if !h.breakGlass.Visible() {
		t.Fatal("no bris de glace offered")
	}
	test.Tap(h.breakGlass)
	if !tapped {
		t.Fatal("the bris de glace button does nothing")
	}
	// A qualified record: no notice, no button.
	h.show(testPatients(t)[0], app.Access{Mode: app.AccessNormal}, app.PatientRecord{}, true, true)
	if h.offline.Text != "" || h.breakGlass.Visible() {
		t.Errorf("qualified record shows %q, bris de glace visible %v", h.offline.Text, h.breakGlass.Visible())
	}
}
