package dmptest

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/sync/dmp/fhir"
)

func patientStatus(t *testing.T, a *actor, ins app.INS) (*fhir.Patient, int) {
	t.Helper()
	var b fhir.Bundle
	st := a.get("/Patient?"+q("identifier", insTok(ins)), ins, &b)
	if st != http.StatusOK {
		return nil, st
	}
	if len(b.Entry) == 0 {
		return nil, st
	}
	var p fhir.Patient
	if err := b.Entry[0].Resource.Decode(&p); err != nil {
		t.Fatal(err)
	}
	return &p, st
}

func TestPatientLookup(t *testing.T) {
	sb := start(t, Options{Patients: 120})
	gp := sb.as(t, KeyGP)

	open := sb.patientWhere(t, openPatient)
	p, _ := patientStatus(t, gp, open.INS)
	if p == nil || p.Active == nil || !*p.Active {
		t.Fatalf("open record: %+v", p)
	}
	if fhir.FindExtension(p.Extension, fhir.ExtAuthorization).ValueCode != fhir.AuthorizationGranted || !fhir.FindExtension(p.Extension, fhir.ExtTreatingDoctor).Bool() {
		t.Fatalf("extensions %+v", p.Extension)
	}

	none := sb.patientWhere(t, func(p app.Patient, ex, cl bool, az, bl map[string]bool) bool { return !ex })
	if p, st := patientStatus(t, gp, none.INS); p != nil || st != http.StatusOK {
		t.Fatalf("no record: want an empty searchset, got %v %d", p, st)
	}

	closed := sb.patientWhere(t, func(p app.Patient, ex, cl bool, az, bl map[string]bool) bool { return ex && cl })
	p, _ = patientStatus(t, gp, closed.INS)
	if p == nil || *p.Active || fhir.FindExtension(p.Extension, fhir.ExtRecordClosure) == nil {
		t.Fatalf("closed record: %+v", p)
	}

	blocked := sb.patientWhere(t, func(p app.Patient, ex, cl bool, az, bl map[string]bool) bool { return ex && !cl && bl[KeyBlocked] })
	p, _ = patientStatus(t, sb.as(t, KeyBlocked), blocked.INS)
	if fhir.FindExtension(p.Extension, fhir.ExtAuthorization).ValueCode != fhir.AuthorizationBlocked {
		t.Fatalf("blocked: %+v", p.Extension)
	}
	unauth := sb.patientWhere(t, func(p app.Patient, ex, cl bool, az, bl map[string]bool) bool { return ex && !cl && !az[KeyGP] })
	p, _ = patientStatus(t, gp, unauth.INS)
	if fhir.FindExtension(p.Extension, fhir.ExtAuthorization).ValueCode != fhir.AuthorizationNone {
		t.Fatalf("unauthorised: %+v", p.Extension)
	}
	// by INS only
	if st := gp.get("/Patient?"+q("family", "Martin"), open.INS, nil); st != http.StatusBadRequest {
		t.Fatalf("search by name: %d", st)
	}
}

func TestAccessRules(t *testing.T) {
	sb := start(t, Options{Patients: 120})
	gp, an, bl, reg, opt := sb.as(t, KeyGP), sb.as(t, KeyAnesthetist), sb.as(t, KeyBlocked), sb.as(t, KeyRegulator), sb.as(t, KeyOptician)
	open := sb.patientWhere(t, openPatient)
	noRec := sb.patientWhere(t, func(p app.Patient, ex, cl bool, az, b map[string]bool) bool { return !ex })
	closed := sb.patientWhere(t, func(p app.Patient, ex, cl bool, az, b map[string]bool) bool { return ex && cl })
	blocked := sb.patientWhere(t, func(p app.Patient, ex, cl bool, az, b map[string]bool) bool {
		return ex && !cl && b[KeyBlocked] && az[KeyBlocked]
	})
	unauth := sb.patientWhere(t, func(p app.Patient, ex, cl bool, az, b map[string]bool) bool { return ex && !cl && !az[KeyAnesthetist] })

	if st := gp.get(docsPath(open.INS), open.INS, nil); st != http.StatusOK {
		t.Fatalf("authorised GP: %d", st)
	}
	cases := []struct {
		name   string
		a      *actor
		ins    app.INS
		status int
		want   app.DenialReason
	}{
		{"no record", gp, noRec.INS, 404, app.DeniedNoRecord},
		{"closed", gp, closed.INS, 403, app.DeniedClosed},
		{"blocked even with authorisation", bl, blocked.INS, 403, app.DeniedBlocked},
		{"no authorisation", an, unauth.INS, 403, app.DeniedNoAuthorization},
		{"profession", opt, open.INS, 403, app.DeniedProfession},
		{"regulation mode without a justification is fine but needs the role", withMode(gp, fhir.ModeRegulation, ""), open.INS, 403, app.DeniedNotRegulator},
		{"bris de glace without justification", withMode(an, fhir.ModeEmergency, ""), unauth.INS, 403, app.DeniedJustification},
		{"bris de glace on a blocked professional", withMode(bl, fhir.ModeEmergency, "Patient inconscient aux urgences"), blocked.INS, 403, app.DeniedBlocked},
	}
	for _, c := range cases {
		st, d := c.a.denial("GET", docsPath(c.ins), c.ins, nil)
		if st != c.status || d != c.want {
			t.Errorf("%s: got %d %q, want %d %q", c.name, st, d, c.status, c.want)
		}
	}
	// bris de glace with a justification: allowed, and the patient is notified
	em := withMode(sb.as(t, KeyAnesthetist), fhir.ModeEmergency, "Patient inconscient aux urgences, allergies inconnues")
	if st := em.get(docsPath(unauth.INS), unauth.INS, nil); st != http.StatusOK {
		t.Fatalf("bris de glace: %d", st)
	}
	if n := sb.Notifications(unauth.INS); len(n) == 0 || n[0].Mode != app.AccessEmergency {
		t.Fatalf("no bris de glace notification: %+v", n)
	}
	// centre de régulation: the regulator needs no authorisation
	if st := withMode(reg, fhir.ModeRegulation, "").get(docsPath(unauth.INS), unauth.INS, nil); st != http.StatusOK {
		t.Fatalf("regulation: %d", st)
	}
	// normal mode, regulator without authorisation
	if _, d := reg.denial("GET", docsPath(unauth.INS), unauth.INS, nil); d != app.DeniedNoAuthorization {
		t.Fatalf("regulator in normal mode: %q", d)
	}
}

func withMode(a *actor, mode, just string) *actor {
	b := *a
	b.mode, b.just = mode, just
	return &b
}

func TestAuthorizationConsent(t *testing.T) {
	sb := start(t, Options{Patients: 120})
	an := sb.as(t, KeyAnesthetist)
	p := sb.patientWhere(t, func(p app.Patient, ex, cl bool, az, b map[string]bool) bool { return ex && !cl && !az[KeyAnesthetist] })
	if _, d := an.denial("GET", docsPath(p.INS), p.INS, nil); d != app.DeniedNoAuthorization {
		t.Fatalf("before consent: %q", d)
	}
	// never granted implicitly: looking the patient up grants nothing
	patientStatus(t, an, p.INS)
	if _, _, authorised, _, _ := sb.Patient(p.INS, an.sb.PKI.Credentials[KeyAnesthetist].Practitioner.RPPS); authorised {
		t.Fatal("authorised without a consent request")
	}
	body, _ := json.Marshal(fhir.NewAuthorizationConsent(fhir.INSToken(p.INS), sb.PKI.Credentials[KeyAnesthetist].Practitioner.RPPS, fhir.FormatInstant(testEpoch)))
	resp := an.do("POST", "/Consent", p.INS, body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("consent: %d", resp.StatusCode)
	}
	if st := an.get(docsPath(p.INS), p.INS, nil); st != http.StatusOK {
		t.Fatalf("after consent: %d", st)
	}
	pt, _ := patientStatus(t, an, p.INS)
	if fhir.FindExtension(pt.Extension, fhir.ExtAuthorization).ValueCode != fhir.AuthorizationGranted {
		t.Fatal("status not granted after consent")
	}
	// for someone else: refused
	other, _ := json.Marshal(fhir.NewAuthorizationConsent(fhir.INSToken(p.INS), sb.PKI.Credentials[KeyGP].Practitioner.RPPS, ""))
	resp = an.do("POST", "/Consent", p.INS, other)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("consent for another: %d", resp.StatusCode)
	}
	// a blocked professional cannot be authorised
	bp := sb.patientWhere(t, func(p app.Patient, ex, cl bool, az, b map[string]bool) bool { return ex && !cl && b[KeyBlocked] })
	body, _ = json.Marshal(fhir.NewAuthorizationConsent(fhir.INSToken(bp.INS), sb.PKI.Credentials[KeyBlocked].Practitioner.RPPS, ""))
	if _, d := sb.as(t, KeyBlocked).denial("POST", "/Consent", bp.INS, body); d != app.DeniedBlocked {
		t.Fatalf("blocked consent: %q", d)
	}
}

func TestAuditEvents(t *testing.T) {
	sb := start(t, Options{Patients: 60})
	gp := sb.as(t, KeyGP)
	p := sb.patientWhere(t, openPatient)
	gp.get(docsPath(p.INS), p.INS, nil)
	withMode(sb.as(t, KeyAnesthetist), fhir.ModeEmergency, "Urgence vitale, patient inconscient").get(docsPath(p.INS), p.INS, nil)
	var b fhir.Bundle
	if st := gp.get("/AuditEvent?"+q("patient", insTok(p.INS), "_count", "100"), p.INS, &b); st != 200 {
		t.Fatalf("audit: %d", st)
	}
	modes := map[string]int{}
	for _, e := range b.Entry {
		var ev fhir.AuditEvent
		if err := e.Resource.Decode(&ev); err != nil {
			t.Fatal(err)
		}
		modes[fhir.FindExtension(ev.Extension, fhir.ExtAccessMode).ValueCode]++
		if ev.Agent[0].Who.Identifier.Value == "" {
			t.Fatal("trace without practitioner")
		}
	}
	if modes[fhir.ModeNormal] < 1 || modes[fhir.ModeEmergency] != 1 {
		t.Fatalf("modes %v", modes)
	}
	// by Patient/{id} too
	if st := gp.get("/AuditEvent?"+q("patient", "Patient/"+string(p.ID)), p.INS, &b); st != 200 || len(b.Entry) == 0 {
		t.Fatalf("audit by id: %d", st)
	}
}
