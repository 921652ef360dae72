package ui

import (
	"fmt"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/apptest"
)

// noAuthorization is a central service where the practitioner has no
// authorisation until GrantAuthorization is called.
func noAuthorization() *apptest.Records {
	rec := &apptest.Records{}
	rec.FindPatientFn = func(app.Access, app.INS) (app.RecordStatus, error) {
		if rec.Calls("GrantAuthorization") > 0 {
			return app.RecordStatus{Exists: true, Authorization: app.AuthorizationGranted}, nil
		}
		return app.RecordStatus{Exists: true, Authorization: app.AuthorizationNone}, nil
	}
	return rec
}

// breakGlass opens r, shown on the no-authorisation screen, in bris de
// glace with the justification just.
func breakGlass(t *testing.T, f *fixture, r *recordView, just string) {
	t.Helper()
	if r.denied == nil || r.denied.emergency == nil {
		t.Fatal("bris de glace not offered")
	}
	test.Tap(r.denied.emergency)
	test.Type(r.denied.justification, just)
	test.Tap(r.denied.emergencyConfirm)
	f.wait()
	if !r.shown {
		t.Fatal("the record did not open in bris de glace")
	}
}

func TestAccessDeniedScreens(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status app.RecordStatus
		err    error
		reason app.DenialReason
		title  string
	}{
		{"blocked", app.RecordStatus{Exists: true, Authorization: app.AuthorizationBlocked}, nil, app.DeniedBlocked, "Accès bloqué par le patient"},
		{"closed", app.RecordStatus{Exists: true, Closed: true}, nil, app.DeniedClosed, "DMP fermé"},
		{"no_record", app.RecordStatus{}, nil, app.DeniedNoRecord, "Pas de DMP"},
		{"profession", app.RecordStatus{}, fmt.Errorf("dmp: td02: %w", &app.AccessError{Reason: app.DeniedProfession}), app.DeniedProfession, "Profession non autorisée"},
		{"no_authorization", app.RecordStatus{Exists: true, Authorization: app.AuthorizationNone}, nil, app.DeniedNoAuthorization, "Autorisation du patient requise"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newLockedFixture(t, Options{})
			s := f.unlock()
			rec := &apptest.Records{FindPatientFn: func(app.Access, app.INS) (app.RecordStatus, error) { return tc.status, tc.err }}
			f.signIn(testDoctor, rec)
			r := f.openRecord(s, "mart")
			v := r.denied
			if v == nil || v.reason != tc.reason {
				t.Fatalf("access screen = %+v, want %q", v, tc.reason)
			}
			assertText(t, "title", v.title.Text, tc.title)
			if r.shown || r.tabs != nil || r.header.box.Visible() {
				t.Error("the record is shown behind a refusal")
			}
			if rec.Calls("ListDocuments") != 0 {
				t.Error("documents listed despite the refusal")
			}
			offersAccess := tc.reason == app.DeniedNoAuthorization
			if (v.consent != nil) != offersAccess || (v.emergency != nil) != offersAccess {
				t.Errorf("consent/bris de glace offered = %v/%v, want %v", v.consent != nil, v.emergency != nil, offersAccess)
			}
			if v.regulation != nil {
				t.Error("centre de régulation offered without the role")
			}
			if !f.shows("MARTIN Hélène") {
				t.Error("the screen does not say whose record it is")
			}
			w := test.NewTempWindow(t, newAccessView(r, tc.reason, tc.err).buildUI())
			w.Resize(fyne.NewSize(760, 620))
			test.AssertRendersToMarkup(t, "access_"+tc.name+".xml", w.Canvas())

			test.Tap(v.back)
			if s.page != pageSearch {
				t.Error("the back button did not go back to the search")
			}
		})
	}
}

func TestConsentGrantsThenOpens(t *testing.T) {
	f := newLockedFixture(t, Options{})
	s := f.unlock()
	rec := noAuthorization()
	f.signIn(testDoctor, rec)
	r := f.openRecord(s, "mart")
	v := r.denied
	test.Tap(v.consent)
	if v.consentCheck == nil || v.consentConfirm == nil {
		t.Fatal("consent dialog not shown")
	}
	assertText(t, "checkbox", v.consentCheck.Text, "Le patient consent à ce que vous accédiez à son DMP")
	if !v.consentConfirm.Disabled() {
		t.Fatal("confirm enabled before the consent is ticked")
	}
	test.Tap(v.consentConfirm)
	f.wait()
	if rec.Calls("GrantAuthorization") != 0 {
		t.Fatal("authorisation recorded without the explicit consent")
	}
	test.Tap(v.consentCheck)
	if v.consentConfirm.Disabled() {
		t.Fatal("confirm still disabled after the consent")
	}
	test.Tap(v.consentConfirm)
	f.wait()
	if n := rec.Calls("GrantAuthorization"); n != 1 {
		t.Fatalf("GrantAuthorization called %d times, want once", n)
	}
	if !r.shown || r.denied != nil || r.mode != app.AccessNormal {
		t.Fatalf("record not reopened in normal mode after the consent (shown %v, mode %q)", r.shown, r.mode)
	}
	if len(f.u.Window().Canvas().Overlays().List()) != 0 {
		t.Error("the consent dialog is still open")
	}
}

func TestConsentFailureShown(t *testing.T) {
	f := newLockedFixture(t, Options{})
	s := f.unlock()
	rec := noAuthorization()
	rec.GrantAuthorizationFn = func(app.Access, app.INS) error { return fmt.Errorf("dmp: td03: %w", app.ErrOffline) }
	f.signIn(testDoctor, rec)
	r := f.openRecord(s, "mart")
	test.Tap(r.denied.consent)
	test.Tap(r.denied.consentCheck)
	test.Tap(r.denied.consentConfirm)
	f.wait()
	assertText(t, "message", r.denied.msg.Text, "Le service du DMP ou la messagerie ne répond pas : vous êtes hors ligne.")
	if r.denied.consent.Disabled() {
		t.Error("the actions stay disabled after the failure")
	}
}

func TestBreakGlass(t *testing.T) {
	f := newLockedFixture(t, Options{})
	s := f.unlock()
	f.seedDocuments("p1", testDocuments(4), testNow)
	rec := noAuthorization()
	rec.AccessTracesFn = func(app.Access, app.INS, time.Time) ([]app.AccessTrace, error) { return nil, nil }
	f.signIn(testDoctor, rec)
	r := f.openRecord(s, "mart")
	v := r.denied
	test.Tap(v.emergency)
	if !v.emergencyConfirm.Disabled() {
		t.Fatal("bris de glace possible without a justification")
	}
	assertText(t, "count", v.justCount.Text, "0 caractères (au moins 15)")
	test.Type(v.justification, "  urgence  ")
	if !v.emergencyConfirm.Disabled() {
		t.Fatal("bris de glace possible with a short justification")
	}
	test.Tap(v.emergencyConfirm)
	f.wait()
	if rec.Calls("ListDocuments") != 0 || r.shown {
		t.Fatal("a disabled button opened the record")
	}
	const just = "urgence vitale, patient inconscient"
	v.justification.SetText("")
	test.Type(v.justification, just)
	if v.emergencyConfirm.Disabled() {
		t.Fatal("bris de glace still disabled with a justification")
	}
	test.Tap(v.emergencyConfirm)
	f.wait()
	if !r.shown {
		t.Fatal("the record did not open in bris de glace")
	}
	acc := rec.Last("FindPatient").(app.Access)
	if acc.Mode != app.AccessEmergency || acc.Justification != just {
		t.Fatalf("opened with %q / %q", acc.Mode, acc.Justification)
	}
	checkBanner := func(when string) {
		t.Helper()
		h := r.header
		if !h.emergency.Visible() || h.mode.Text != "Bris de glace" ||
			h.justification.Text != "ACCÈS EN BRIS DE GLACE — sans l'autorisation du patient, qui en sera informé. Justification : "+just {
			t.Errorf("%s: banner visible=%v, mode %q, text %q", when, h.emergency.Visible(), h.mode.Text, h.justification.Text)
		}
	}
	checkBanner("after opening")
	for i := range r.tabs.Items {
		r.tabs.SelectIndex(i)
		f.wait()
		checkBanner(fmt.Sprintf("on tab %d", i))
	}
	r.tabs.SelectIndex(0)
	test.Tap(r.header.refresh)
	f.wait()
	checkBanner("after a refresh")
	if acc := rec.Last("FindPatient").(app.Access); acc.Mode != app.AccessEmergency {
		t.Errorf("the refresh left bris de glace: %q", acc.Mode)
	}
	if acc := rec.Last("AccessTraces").(app.Access); acc.Mode == "" {
		t.Error("traces read without an access context")
	}
}

func TestRegulationOnlyWithRole(t *testing.T) {
	f := newLockedFixture(t, Options{})
	s := f.unlock()
	rec := noAuthorization()
	f.signIn(testRegulator, rec)
	r := f.openRecord(s, "mart")
	if r.denied.regulation == nil || !r.denied.regulation.Visible() {
		t.Fatal("centre de régulation not offered to a regulation doctor")
	}
	test.Tap(r.denied.regulation)
	tapDialogButton(t, f, "Oui")
	f.wait()
	if !r.shown || r.mode != app.AccessRegulation {
		t.Fatalf("record not opened in regulation mode (shown %v, mode %q)", r.shown, r.mode)
	}
	if acc := rec.Last("FindPatient").(app.Access); acc.Mode != app.AccessRegulation {
		t.Errorf("opened with %q", acc.Mode)
	}
	assertText(t, "mode", r.header.mode.Text, "Centre de régulation")
}

func TestJustification(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
		ok   bool
	}{
		{"", "", false},
		{"   urgence       ", "urgence", false},
		{"ééééééééééééééé", "ééééééééééééééé", true},
		{" patient inconscient ", "patient inconscient", true},
	} {
		if got, ok := justification(tc.in); got != tc.want || ok != tc.ok {
			t.Errorf("justification(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}
