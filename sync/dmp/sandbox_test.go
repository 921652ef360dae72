package dmp

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/sync/dmp/dmptest"
)

// These tests run the client against the sandbox over real TLS with client
// certificates on loopback, in process.

// env is a sandbox and the means to act as its practitioners.
type env struct {
	t  testing.TB
	sb *dmptest.Sandbox
}

func newEnv(t testing.TB, opt dmptest.Options) *env {
	t.Helper()
	if opt.Patients == 0 {
		opt.Patients = 100
	}
	if opt.Seed == 0 {
		opt.Seed = 7
	}
	return &env{t: t, sb: dmptest.NewTLS(t, opt)}
}

// client returns a client acting as the practitioner key, and its normal
// access context.
func (e *env) client(key string, tweak ...func(*Config)) (*Client, app.Access) {
	e.t.Helper()
	cr := e.sb.PKI.Credentials[key]
	if cr == nil {
		e.t.Fatalf("no credential %s", key)
	}
	cfg := Config{BaseURL: e.sb.URL, Certificate: cr.TLS, Signer: cr.Signer, RootCAs: e.sb.PKI.Pool(),
		SoftwareName: "Carnet", SoftwareVersion: "test", Timeout: 2 * time.Minute}
	for _, f := range tweak {
		f(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(c.Close)
	return c, app.Access{Practitioner: cr.Practitioner.Practitioner, Mode: app.AccessNormal}
}

// patient returns a synthetic patient matching pred.
func (e *env) patient(what string, pred func(p app.Patient, exists, closed bool, authz, blocked map[string]bool) bool) app.Patient {
	e.t.Helper()
	p, ok := e.sb.FindPatient(pred)
	if !ok {
		e.t.Fatalf("no synthetic patient: %s", what)
	}
	return p
}

// open is a patient whose record exists and is open, QUAL, where the GP and
// the anesthetist are authorised and nobody relevant is blocked.
func (e *env) open() app.Patient {
	return e.patient("open, GP and anesthetist authorised", func(p app.Patient, exists, closed bool, az, bl map[string]bool) bool {
		return exists && !closed && p.Status == app.IdentityQualified && az[dmptest.KeyGP] && az[dmptest.KeyAnesthetist]
	})
}

func list(t testing.TB, c *Client, acc app.Access, ins app.INS, q app.DocumentQuery) ([]app.RemoteDocument, error) {
	t.Helper()
	var out []app.RemoteDocument
	err := c.ListDocuments(t.Context(), acc, ins, q, func(p []app.RemoteDocument) error {
		out = append(out, p...)
		return nil
	})
	return out, err
}

func wantDenial(t testing.TB, err error, r app.DenialReason) {
	t.Helper()
	if app.Denial(err) != r || !errors.Is(err, app.ErrAccessDenied) {
		t.Fatalf("want denial %s, got %v", r, err)
	}
	if !strings.HasPrefix(err.Error(), "dmp: ") {
		t.Fatalf("error text %q", err)
	}
}

func wantKind(t testing.TB, err error, kind error) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("want %v, got %v", kind, err)
	}
}

// note builds a small CDA-like document to push.
func note(id string) app.NewDocument {
	body := fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?><ClinicalDocument xmlns="urn:hl7-org:v3"><id root="%s"/><title>Note</title></ClinicalDocument>`, id)
	return app.NewDocument{Meta: app.DocumentMeta{ID: app.DocumentID(id), TypeCode: "11488-4", Title: "Compte rendu de consultation",
		Date: time.Now().Add(-time.Hour).UTC().Truncate(time.Second), MediaType: "text/xml"}, Content: []byte(body)}
}

var uidSeq atomic.Int64

func newUID() string {
	return fmt.Sprintf("1.2.250.1.999.42.%d.%d", time.Now().UnixNano(), uidSeq.Add(1))
}

// TestFindPatient: record found with the caller's standing; no record;
// closed; blocked; médecin traitant; no identity trait surfaces.
func TestFindPatient(t *testing.T) {
	e := newEnv(t, dmptest.Options{})
	gp, acc := e.client(dmptest.KeyGP)
	ctx := t.Context()

	p := e.open()
	st, err := gp.FindPatient(ctx, acc, p.INS)
	if err != nil {
		t.Fatal(err)
	}
	_, _, _, _, treating := e.sb.Patient(p.INS, acc.Practitioner.RPPS)
	if !st.Exists || st.Closed || st.Authorization != app.AuthorizationGranted || st.TreatingDoctor != treating || st.ServerTime.IsZero() {
		t.Fatalf("open record: %+v", st)
	}
	if s := fmt.Sprintf("%+v", st); strings.Contains(s, p.BirthName) || strings.Contains(s, p.BirthDate) {
		t.Fatalf("identity traits surfaced: %s", s)
	}

	none := e.patient("no record", func(p app.Patient, exists, closed bool, az, bl map[string]bool) bool { return !exists })
	st, err = gp.FindPatient(ctx, acc, none.INS)
	if err != nil || st.Exists {
		t.Fatalf("no record: %+v %v", st, err)
	}
	// a valid INS the service has never heard of
	key, _ := app.INSKey("1800175123456")
	st, err = gp.FindPatient(ctx, acc, app.INS{Matricule: "1800175123456" + key, OID: app.OIDINSNIRTest})
	if err != nil || st.Exists {
		t.Fatalf("unknown INS: %+v %v", st, err)
	}

	closed := e.patient("closed", func(p app.Patient, exists, closed bool, az, bl map[string]bool) bool { return exists && closed })
	st, err = gp.FindPatient(ctx, acc, closed.INS)
	if err != nil || !st.Exists || !st.Closed {
		t.Fatalf("closed: %+v %v", st, err)
	}

	bl, bacc := e.client(dmptest.KeyBlocked)
	blocked := e.patient("blocking", func(p app.Patient, exists, closed bool, az, b map[string]bool) bool {
		return exists && !closed && b[dmptest.KeyBlocked]
	})
	st, err = bl.FindPatient(ctx, bacc, blocked.INS)
	if err != nil || st.Authorization != app.AuthorizationBlocked {
		t.Fatalf("blocked: %+v %v", st, err)
	}

	opt, oacc := e.client(dmptest.KeyOptician)
	_, err = opt.FindPatient(ctx, oacc, p.INS)
	wantDenial(t, err, app.DeniedProfession)
}

// TestBlockedProfessional: refused even with an authorisation, and granting
// one changes nothing.
func TestBlockedProfessional(t *testing.T) {
	e := newEnv(t, dmptest.Options{})
	c, acc := e.client(dmptest.KeyBlocked)
	p := e.patient("blocking", func(p app.Patient, exists, closed bool, az, b map[string]bool) bool {
		return exists && !closed && b[dmptest.KeyBlocked] && az[dmptest.KeyBlocked]
	})
	_, err := list(t, c, acc, p.INS, app.DocumentQuery{})
	wantDenial(t, err, app.DeniedBlocked)
	wantDenial(t, c.GrantAuthorization(t.Context(), acc, p.INS), app.DeniedBlocked)
	emergency := acc
	emergency.Mode, emergency.Justification = app.AccessEmergency, "arrêt cardiaque au bloc opératoire"
	_, err = list(t, c, emergency, p.INS, app.DocumentQuery{})
	wantDenial(t, err, app.DeniedBlocked)
}

// TestClosedRecord: a closed record refuses consultation with its reason.
func TestClosedRecord(t *testing.T) {
	e := newEnv(t, dmptest.Options{})
	c, acc := e.client(dmptest.KeyGP)
	p := e.patient("closed", func(p app.Patient, exists, closed bool, az, b map[string]bool) bool { return exists && closed })
	_, err := list(t, c, acc, p.INS, app.DocumentQuery{})
	wantDenial(t, err, app.DeniedClosed)
	_, err = c.Provide(t.Context(), acc, p.INS, []app.NewDocument{note(newUID())})
	wantDenial(t, err, app.DeniedClosed)
}

// TestUnauthorisedThenGrant: no authorisation → refused; the explicit grant
// → allowed.
func TestUnauthorisedThenGrant(t *testing.T) {
	e := newEnv(t, dmptest.Options{})
	c, acc := e.client(dmptest.KeyAnesthetist)
	p := e.patient("anesthetist not authorised", func(p app.Patient, exists, closed bool, az, b map[string]bool) bool {
		return exists && !closed && !az[dmptest.KeyAnesthetist] && !b[dmptest.KeyAnesthetist]
	})
	st, err := c.FindPatient(t.Context(), acc, p.INS)
	if err != nil || st.Authorization != app.AuthorizationNone {
		t.Fatalf("%+v %v", st, err)
	}
	_, err = list(t, c, acc, p.INS, app.DocumentQuery{})
	wantDenial(t, err, app.DeniedNoAuthorization)
	if err := c.GrantAuthorization(t.Context(), acc, p.INS); err != nil {
		t.Fatal(err)
	}
	docs, err := list(t, c, acc, p.INS, app.DocumentQuery{})
	if err != nil || len(docs) == 0 {
		t.Fatalf("after grant: %d docs, %v", len(docs), err)
	}
	if st, _ := c.FindPatient(t.Context(), acc, p.INS); st.Authorization != app.AuthorizationGranted {
		t.Fatalf("status after grant %+v", st)
	}
}

// TestBrisDeGlace: an unauthorised practitioner opens the record in an
// emergency with a justification (the patient is notified, the trace says
// the mode); without one the client refuses before sending, and a
// justification too short for the service is refused by the service.
func TestBrisDeGlace(t *testing.T) {
	e := newEnv(t, dmptest.Options{})
	c, acc := e.client(dmptest.KeyAnesthetist)
	p := e.patient("anesthetist not authorised", func(p app.Patient, exists, closed bool, az, b map[string]bool) bool {
		return exists && !closed && !az[dmptest.KeyAnesthetist] && !b[dmptest.KeyAnesthetist]
	})
	bdg := acc
	bdg.Mode = app.AccessEmergency
	_, err := list(t, c, bdg, p.INS, app.DocumentQuery{})
	wantDenial(t, err, app.DeniedJustification) // client-side
	if n := len(e.sb.Notifications(p.INS)); n != 0 {
		t.Fatalf("%d notifications for a refused access", n)
	}
	bdg.Justification = "éééééé" // 12 bytes pass the app rule, 6 characters fail the service's
	_, err = list(t, c, bdg, p.INS, app.DocumentQuery{})
	wantDenial(t, err, app.DeniedJustification) // service-side
	bdg.Justification = "patient inconscient admis au SAUV, allergies inconnues"
	docs, err := list(t, c, bdg, p.INS, app.DocumentQuery{})
	if err != nil || len(docs) == 0 {
		t.Fatalf("bris de glace: %d docs, %v", len(docs), err)
	}
	if n := len(e.sb.Notifications(p.INS)); n == 0 {
		t.Fatal("the patient was not notified of the bris de glace")
	}
	traces, err := c.AccessTraces(t.Context(), bdg, p.INS, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, tr := range traces {
		if tr.Mode == app.AccessEmergency && strings.Contains(tr.Practitioner, acc.Practitioner.RPPS) {
			found = true
		}
	}
	if !found {
		t.Fatalf("no bris de glace trace in %+v", traces)
	}
}

// TestRegulation: the regulation doctor reads without authorisation; a
// practitioner without the role is refused by the client and, if the
// assertion lies about the role, by the service (roles come from the
// certificate).
func TestRegulation(t *testing.T) {
	e := newEnv(t, dmptest.Options{})
	p := e.patient("regulator not authorised", func(p app.Patient, exists, closed bool, az, b map[string]bool) bool {
		return exists && !closed && !az[dmptest.KeyRegulator] && !az[dmptest.KeyAnesthetist] && !b[dmptest.KeyAnesthetist]
	})
	reg, racc := e.client(dmptest.KeyRegulator)
	racc.Mode = app.AccessRegulation
	if docs, err := list(t, reg, racc, p.INS, app.DocumentQuery{}); err != nil || len(docs) == 0 {
		t.Fatalf("regulation: %d docs %v", len(docs), err)
	}
	normal := racc
	normal.Mode = app.AccessNormal
	_, err := list(t, reg, normal, p.INS, app.DocumentQuery{})
	wantDenial(t, err, app.DeniedNoAuthorization)

	an, aacc := e.client(dmptest.KeyAnesthetist)
	aacc.Mode = app.AccessRegulation
	_, err = list(t, an, aacc, p.INS, app.DocumentQuery{})
	wantDenial(t, err, app.DeniedNotRegulator) // client-side
	aacc.Practitioner.Roles = []string{app.RoleRegulation}
	_, err = list(t, an, aacc, p.INS, app.DocumentQuery{})
	wantDenial(t, err, app.DeniedNotRegulator) // service-side
}

// TestQualOnlyPush: a non-qualified identity cannot be fed.
func TestQualOnlyPush(t *testing.T) {
	e := newEnv(t, dmptest.Options{})
	c, acc := e.client(dmptest.KeyGP)
	p := e.patient("not QUAL", func(p app.Patient, exists, closed bool, az, b map[string]bool) bool {
		return exists && !closed && p.Status != app.IdentityQualified && az[dmptest.KeyGP]
	})
	_, err := c.Provide(t.Context(), acc, p.INS, []app.NewDocument{note(newUID())})
	wantDenial(t, err, app.DeniedNotQualified)
}

// TestProvideRetrieveMaskDelete: push, list, retrieve and verify; masked
// documents are invisible to others and visible to their author; only the
// author deletes; a deleted document is withdrawn.
func TestProvideRetrieveMaskDelete(t *testing.T) {
	e := newEnv(t, dmptest.Options{})
	gp, gacc := e.client(dmptest.KeyGP)
	an, aacc := e.client(dmptest.KeyAnesthetist)
	ctx := t.Context()
	p := e.open()

	open, masked := note(newUID()), note(newUID())
	masked.Visibility.MaskedToProfessionals = true
	pr, err := gp.Provide(ctx, gacc, p.INS, []app.NewDocument{open, masked})
	if err != nil {
		t.Fatal(err)
	}
	if len(pr.Documents) != 2 || pr.Documents[0].Meta.ID != open.Meta.ID || pr.Documents[0].RemoteID == "" ||
		pr.Documents[0].VersionID == "" || !strings.HasPrefix(pr.Documents[0].URL, "Binary/") || !pr.Documents[1].Visibility.MaskedToProfessionals {
		t.Fatalf("provided %+v", pr.Documents)
	}
	got, err := gp.Retrieve(ctx, gacc, p.INS, pr.Documents[0])
	if err != nil || string(got) != string(open.Content) {
		t.Fatalf("retrieve %q %v", got, err)
	}

	ids := func(c *Client, acc app.Access) map[app.DocumentID]app.RemoteDocument {
		docs, err := list(t, c, acc, p.INS, app.DocumentQuery{})
		if err != nil {
			t.Fatal(err)
		}
		m := map[app.DocumentID]app.RemoteDocument{}
		for _, d := range docs {
			m[d.Meta.ID] = d
		}
		return m
	}
	gpSees, anSees := ids(gp, gacc), ids(an, aacc)
	if _, ok := gpSees[masked.Meta.ID]; !ok {
		t.Fatal("the author does not see the masked document")
	}
	if !gpSees[masked.Meta.ID].Visibility.MaskedToProfessionals {
		t.Fatal("mask not mapped")
	}
	if _, ok := anSees[masked.Meta.ID]; ok {
		t.Fatal("another professional sees a masked document")
	}
	if _, ok := anSees[open.Meta.ID]; !ok {
		t.Fatal("the anesthetist does not see the open document")
	}
	if d := gpSees[open.Meta.ID]; d.Meta.Hash == "" || d.Meta.Size != int64(len(open.Content)) || d.Meta.Author == "" || d.Meta.TypeCode != "11488-4" {
		t.Fatalf("listed meta %+v", d.Meta)
	}
	_, err = an.Retrieve(ctx, aacc, p.INS, pr.Documents[1])
	wantKind(t, err, app.ErrWithdrawn)

	// by uniqueId (the idempotency check before re-sending)
	one, err := list(t, gp, gacc, p.INS, app.DocumentQuery{ID: open.Meta.ID})
	if err != nil || len(one) != 1 || one[0].Meta.ID != open.Meta.ID {
		t.Fatalf("by id: %+v %v", one, err)
	}

	wantDenial(t, an.Delete(ctx, aacc, p.INS, pr.Documents[0]), app.DeniedNotAuthor)
	if err := gp.Delete(ctx, gacc, p.INS, pr.Documents[0]); err != nil {
		t.Fatal(err)
	}
	_, err = gp.Retrieve(ctx, gacc, p.INS, pr.Documents[0])
	wantKind(t, err, app.ErrWithdrawn)
	if _, ok := ids(gp, gacc)[open.Meta.ID]; ok {
		t.Fatal("deleted document still listed")
	}
	wantKind(t, gp.Delete(ctx, gacc, p.INS, pr.Documents[0]), app.ErrWithdrawn)
}

// TestReplacementChain: v1 → v2 → v3, each superseding the previous in the
// same transaction.
func TestReplacementChain(t *testing.T) {
	e := newEnv(t, dmptest.Options{})
	gp, acc := e.client(dmptest.KeyGP)
	ctx := t.Context()
	p := e.open()
	var chain []app.RemoteDocument
	var prev *app.RemoteDocument
	for v := 1; v <= 3; v++ {
		nd := note(newUID())
		nd.Replaces = prev
		pr, err := gp.Provide(ctx, acc, p.INS, []app.NewDocument{nd})
		if err != nil {
			t.Fatalf("v%d: %v", v, err)
		}
		d := pr.Documents[0]
		if prev != nil && d.Replaces != prev.Meta.ID {
			t.Fatalf("v%d replaces %q, want %q", v, d.Replaces, prev.Meta.ID)
		}
		chain = append(chain, d)
		prev = &chain[len(chain)-1]
	}
	all, err := list(t, gp, acc, p.INS, app.DocumentQuery{Statuses: []string{"current", "superseded"}})
	if err != nil {
		t.Fatal(err)
	}
	byID := map[app.DocumentID]app.RemoteDocument{}
	for _, d := range all {
		byID[d.Meta.ID] = d
	}
	for i, d := range chain {
		got, ok := byID[d.Meta.ID]
		if !ok {
			t.Fatalf("v%d not listed", i+1)
		}
		wantSuperseded := i < 2
		if got.Meta.Superseded != wantSuperseded || (got.Status == "superseded") != wantSuperseded {
			t.Fatalf("v%d status %s", i+1, got.Status)
		}
		if i > 0 && got.Replaces != chain[i-1].Meta.ID {
			t.Fatalf("v%d listed as replacing %q", i+1, got.Replaces)
		}
	}
	cur, _ := list(t, gp, acc, p.INS, app.DocumentQuery{})
	for _, d := range cur {
		if d.Meta.ID == chain[0].Meta.ID || d.Meta.ID == chain[1].Meta.ID {
			t.Fatal("superseded version in the current listing")
		}
	}
	// replacing a superseded version is a conflict
	nd := note(newUID())
	nd.Replaces = &chain[0]
	_, err = gp.Provide(ctx, acc, p.INS, []app.NewDocument{nd})
	wantKind(t, err, app.ErrConflict)
}

// TestPagingEqualTimestamps: 237 documents submitted at the same instant,
// read 10 by 10: every one exactly once, page by page.
func TestPagingEqualTimestamps(t *testing.T) {
	e := newEnv(t, dmptest.Options{})
	p, err := e.sb.AddPatient(dmptest.FixedPatient{Docs: 237})
	if err != nil {
		t.Fatal(err)
	}
	c, acc := e.client(dmptest.KeyAnesthetist)
	seen := map[app.DocumentID]int{}
	pages := 0
	err = c.ListDocuments(t.Context(), acc, p.INS, app.DocumentQuery{PageSize: 10}, func(docs []app.RemoteDocument) error {
		pages++
		if len(docs) > 10 {
			t.Errorf("page of %d", len(docs))
		}
		for _, d := range docs {
			seen[d.Meta.ID]++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != 237 || pages != 24 {
		t.Fatalf("%d distinct documents over %d pages", len(seen), pages)
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("%s seen %d times", id, n)
		}
	}
	// the callback's error stops the listing and comes back unchanged
	stop := errors.New("stop")
	calls := 0
	err = c.ListDocuments(t.Context(), acc, p.INS, app.DocumentQuery{PageSize: 10}, func([]app.RemoteDocument) error { calls++; return stop })
	if err != stop || calls != 1 {
		t.Fatalf("%v after %d calls", err, calls)
	}
}

// TestQueryFilters: period, _lastUpdated, type and status reach the
// service and are re-applied by the client.
func TestQueryFilters(t *testing.T) {
	e := newEnv(t, dmptest.Options{})
	c, acc := e.client(dmptest.KeyGP)
	p := e.open()
	all, err := list(t, c, acc, p.INS, app.DocumentQuery{})
	if err != nil || len(all) == 0 {
		t.Fatal(err)
	}
	since := time.Now().AddDate(-2, 0, 0)
	recent, err := list(t, c, acc, p.INS, app.DocumentQuery{ActSince: since})
	if err != nil {
		t.Fatal(err)
	}
	if len(recent) >= len(all) {
		t.Fatalf("period filter: %d of %d", len(recent), len(all))
	}
	// FHIR period=ge: the act's range reaches the date. A stay (up to
	// 10 days) may begin before it; the reimbursement history, a living
	// document covering the last 24 months, begins before it.
	living := 0
	for _, d := range recent {
		switch {
		case d.Meta.TypeCode == "REMB" && d.Status == "current":
			living++
		case d.Meta.Date.Before(since.AddDate(0, 0, -11)):
			t.Fatalf("act date %v before %v", d.Meta.Date, since)
		}
	}
	if living != 1 {
		t.Fatalf("the current reimbursement history is %d times in the two-year window, want once", living)
	}
	typ := all[0].Meta.TypeCode
	typed, err := list(t, c, acc, p.INS, app.DocumentQuery{Types: []string{typ}})
	if err != nil || len(typed) == 0 {
		t.Fatal(err)
	}
	for _, d := range typed {
		if d.Meta.TypeCode != typ {
			t.Fatalf("type %s in a %s listing", d.Meta.TypeCode, typ)
		}
	}
	// delta: nothing changed since the newest lastUpdated, then one new document
	var newest time.Time
	for _, d := range all {
		if d.LastUpdated.After(newest) {
			newest = d.LastUpdated
		}
	}
	time.Sleep(5 * time.Millisecond)
	mark := time.Now()
	nd := note(newUID())
	if _, err := c.Provide(t.Context(), acc, p.INS, []app.NewDocument{nd}); err != nil {
		t.Fatal(err)
	}
	delta, err := list(t, c, acc, p.INS, app.DocumentQuery{UpdatedSince: mark.Add(-time.Millisecond)})
	if err != nil || len(delta) != 1 || delta[0].Meta.ID != nd.Meta.ID {
		t.Fatalf("delta %+v %v", delta, err)
	}
}

// TestUpdateMetadata: mask, unmask, archive with If-Match; a stale version
// is a conflict and changes nothing.
func TestUpdateMetadata(t *testing.T) {
	e := newEnv(t, dmptest.Options{})
	gp, acc := e.client(dmptest.KeyGP)
	an, aacc := e.client(dmptest.KeyAnesthetist)
	ctx := t.Context()
	p := e.open()
	pr, err := gp.Provide(ctx, acc, p.INS, []app.NewDocument{note(newUID())})
	if err != nil {
		t.Fatal(err)
	}
	v1 := pr.Documents[0]
	masked, err := gp.UpdateMetadata(ctx, acc, p.INS, v1, app.MetadataChange{Visibility: &app.Visibility{MaskedToProfessionals: true}})
	if err != nil {
		t.Fatal(err)
	}
	if !masked.Visibility.MaskedToProfessionals || masked.VersionID == v1.VersionID {
		t.Fatalf("masked %+v", masked)
	}
	_, err = an.Retrieve(ctx, aacc, p.INS, v1)
	wantKind(t, err, app.ErrWithdrawn)
	// stale If-Match
	_, err = gp.UpdateMetadata(ctx, acc, p.INS, v1, app.MetadataChange{Visibility: &app.Visibility{}})
	wantKind(t, err, app.ErrConflict)
	yes := true
	_, err = gp.UpdateMetadata(ctx, acc, p.INS, v1, app.MetadataChange{Archived: &yes})
	wantKind(t, err, app.ErrConflict)
	archived, err := gp.UpdateMetadata(ctx, acc, p.INS, masked, app.MetadataChange{Archived: &yes, Visibility: &app.Visibility{HiddenFromLegalReps: true}})
	if err != nil {
		t.Fatal(err)
	}
	if !archived.Archived || archived.Visibility.MaskedToProfessionals || !archived.Visibility.HiddenFromLegalReps {
		t.Fatalf("archived %+v", archived)
	}
	// only the author changes metadata
	_, err = an.UpdateMetadata(ctx, aacc, p.INS, archived, app.MetadataChange{Visibility: &app.Visibility{}})
	wantDenial(t, err, app.DeniedNotAuthor)
	// the rule the DMP enforces is checked before sending
	_, err = gp.UpdateMetadata(ctx, acc, p.INS, archived, app.MetadataChange{Visibility: &app.Visibility{MaskedToProfessionals: true, HiddenFromPatient: true}})
	wantKind(t, err, app.ErrInvalid)
}

// TestAccessTraces: every access is readable as a trace.
func TestAccessTraces(t *testing.T) {
	e := newEnv(t, dmptest.Options{})
	gp, acc := e.client(dmptest.KeyGP)
	p := e.open()
	start := time.Now().Add(-time.Second)
	if _, err := list(t, gp, acc, p.INS, app.DocumentQuery{}); err != nil {
		t.Fatal(err)
	}
	traces, err := gp.AccessTraces(t.Context(), acc, p.INS, start)
	if err != nil || len(traces) == 0 {
		t.Fatalf("%d traces %v", len(traces), err)
	}
	tr := traces[0]
	if tr.Time.Before(start) || !strings.Contains(tr.Practitioner, acc.Practitioner.RPPS) || tr.Mode != app.AccessNormal || tr.Action == "" {
		t.Fatalf("trace %+v", tr)
	}
}
