package app_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/apptest"
)

var (
	doctor    = app.Practitioner{RPPS: "810000000001", Name: "Dr Anne Durand", Structure: app.Structure{ID: "1750000001", Name: "Clinique du Parc"}}
	regulator = app.Practitioner{RPPS: "810000000002", Name: "Dr Paul Samu", Roles: []string{app.RoleRegulation}}
	patientP1 = app.Patient{ID: "p1", BirthName: "Hébert", BirthGivenNames: "Zoé", Status: app.IdentityQualified,
		INS: app.INS{Matricule: "279035121518989", OID: app.OIDINSNIRTest}}
	serverNow = time.Date(2026, 11, 26, 7, 0, 0, 0, time.UTC)
)

func remoteDoc(id string, act time.Time, updated time.Time) app.RemoteDocument {
	return app.RemoteDocument{
		Meta:        app.DocumentMeta{ID: app.DocumentID(id), Title: "Compte rendu " + id, Date: act, TypeCode: "11490-0"},
		RemoteID:    "r-" + id,
		VersionID:   "1",
		LastUpdated: updated,
		Status:      "current",
		URL:         "Binary/" + id,
	}
}

// signedIn returns an unlocked service over a store holding patientP1,
// signed in as doctor with records.
func signedIn(t *testing.T, records *apptest.Records) (*app.Service, *apptest.Store, *apptest.Clock) {
	t.Helper()
	store := apptest.NewLockedStore(pass, patientP1)
	clock := apptest.NewClock(serverNow.Add(time.Hour))
	svc := app.NewService(app.Deps{Store: store, Clock: clock})
	if _, err := svc.Unlock(context.Background(), []byte(pass)); err != nil {
		t.Fatal(err)
	}
	svc.SignIn(app.Session{Practitioner: doctor, Records: records})
	return svc, store, clock
}

func TestOpenPatientRefusals(t *testing.T) {
	tests := []struct {
		name   string
		status app.RecordStatus
		mode   app.AccessMode
		just   string
		want   app.DenialReason
	}{
		{"no record", app.RecordStatus{}, app.AccessNormal, "", app.DeniedNoRecord},
		{"closed", app.RecordStatus{Exists: true, Closed: true, Authorization: app.AuthorizationGranted}, app.AccessNormal, "", app.DeniedClosed},
		{"blocked", app.RecordStatus{Exists: true, Authorization: app.AuthorizationBlocked}, app.AccessNormal, "", app.DeniedBlocked},
		{"blocked even in emergency", app.RecordStatus{Exists: true, Authorization: app.AuthorizationBlocked}, app.AccessEmergency, "patient inconscient aux urgences", app.DeniedBlocked},
		{"no authorization", app.RecordStatus{Exists: true, Authorization: app.AuthorizationNone}, app.AccessNormal, "", app.DeniedNoAuthorization},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := &apptest.Records{FindPatientFn: func(app.Access, app.INS) (app.RecordStatus, error) { return tc.status, nil }}
			svc, _, _ := signedIn(t, rec)
			_, err := svc.OpenPatient(context.Background(), "p1", tc.mode, tc.just)
			if got := app.Denial(err); got != tc.want {
				t.Fatalf("OpenPatient = %v, want denial %q", err, tc.want)
			}
			if rec.Calls("ListDocuments") != 0 {
				t.Fatal("documents listed although access was refused")
			}
		})
	}
}

// TestOpenPatientUnknownAuthorization: a service without the
// authorisation extension (unknown) is asked, not refused up front.
func TestOpenPatientUnknownAuthorization(t *testing.T) {
	rec := &apptest.Records{FindPatientFn: func(app.Access, app.INS) (app.RecordStatus, error) {
		return app.RecordStatus{Exists: true, Authorization: app.AuthorizationUnknown}, nil
	}}
	svc, _, _ := signedIn(t, rec)
	if _, err := svc.OpenPatient(context.Background(), "p1", app.AccessNormal, ""); app.Denial(err) != "" {
		t.Fatalf("refused on an unknown authorisation: %v", err)
	}
	if rec.Calls("ListDocuments") != 1 {
		t.Fatal("the service was not asked")
	}
}

func TestOpenPatientModesCheckedBeforeSending(t *testing.T) {
	rec := &apptest.Records{}
	svc, _, _ := signedIn(t, rec)
	if _, err := svc.OpenPatient(context.Background(), "p1", app.AccessEmergency, ""); app.Denial(err) != app.DeniedJustification {
		t.Fatalf("bris de glace without justification = %v", err)
	}
	if _, err := svc.OpenPatient(context.Background(), "p1", app.AccessRegulation, ""); app.Denial(err) != app.DeniedNotRegulator {
		t.Fatalf("regulation without the role = %v", err)
	}
	if rec.Calls("FindPatient") != 0 {
		t.Fatal("the service was called with an invalid access context")
	}
	// Emergency access without authorisation is allowed with a justification.
	rec.FindPatientFn = func(app.Access, app.INS) (app.RecordStatus, error) {
		return app.RecordStatus{Exists: true, Authorization: app.AuthorizationNone, ServerTime: serverNow}, nil
	}
	r, err := svc.OpenPatient(context.Background(), "p1", app.AccessEmergency, "patient inconscient aux urgences")
	if err != nil || r.Access.Mode != app.AccessEmergency || r.Access.Justification == "" {
		t.Fatalf("bris de glace with justification = %+v, %v", r.Access, err)
	}
}

func TestOpenPatientFirstThenDelta(t *testing.T) {
	ctx := context.Background()
	docs := []app.RemoteDocument{
		remoteDoc("d1", serverNow.AddDate(0, -3, 0), serverNow.Add(-48*time.Hour)),
		remoteDoc("d2", serverNow.AddDate(0, -1, 0), serverNow.Add(-24*time.Hour)),
	}
	rec := &apptest.Records{
		FindPatientFn: func(app.Access, app.INS) (app.RecordStatus, error) {
			return app.RecordStatus{Exists: true, Authorization: app.AuthorizationGranted, ServerTime: serverNow}, nil
		},
		ListDocumentsFn: func(_ app.Access, _ app.INS, q app.DocumentQuery) ([]app.RemoteDocument, error) { return docs, nil },
	}
	svc, store, clock := signedIn(t, rec)

	r, err := svc.OpenPatient(ctx, "p1", app.AccessNormal, "")
	if err != nil {
		t.Fatal(err)
	}
	q := rec.Last("ListDocuments").(app.DocumentQuery)
	if !q.ActSince.Equal(serverNow.Add(-app.FirstOpenWindow)) || !q.UpdatedSince.IsZero() {
		t.Fatalf("first open query %+v, want act dates within two years of the server's clock", q)
	}
	if r.Offline || len(r.Manifest.Documents) != 2 || r.Manifest.Documents[0].ID != "d2" {
		t.Fatalf("record %+v: want 2 documents, newest first", r.Manifest.Documents)
	}
	if p, _ := store.Patient(ctx, "p1"); !p.LastAccess.Equal(clock.Now()) {
		t.Errorf("last access not recorded: %v", p.LastAccess)
	}

	// Second open: only what changed since the cursor (minus an overlap);
	// d2 comes again with a newer version, d3 is new, d1 was superseded.
	d1 := docs[0]
	d1.Status, d1.VersionID, d1.LastUpdated = "superseded", "2", serverNow.Add(-time.Hour)
	d2 := docs[1]
	d3 := remoteDoc("d3", serverNow.Add(-time.Hour), serverNow.Add(-time.Minute))
	d3.Replaces = "d1"
	docs = []app.RemoteDocument{d1, d2, d3}
	clock.Advance(time.Hour)
	r, err = svc.OpenPatient(ctx, "p1", app.AccessNormal, "")
	if err != nil {
		t.Fatal(err)
	}
	q = rec.Last("ListDocuments").(app.DocumentQuery)
	if !q.ActSince.IsZero() || !q.UpdatedSince.Equal(serverNow.Add(-24*time.Hour-5*time.Minute)) {
		t.Fatalf("delta query %+v, want _lastUpdated from the cursor minus the overlap", q)
	}
	if len(r.Manifest.Documents) != 3 {
		t.Fatalf("manifest has %d documents, want 3 (no duplicate)", len(r.Manifest.Documents))
	}
	for _, d := range r.Manifest.Documents {
		if d.ID == "d1" && (!d.Superseded || d.VersionID != "2") {
			t.Errorf("d1 not marked superseded: %+v", d)
		}
	}
}

func TestOpenPatientOffline(t *testing.T) {
	ctx := context.Background()
	rec := &apptest.Records{
		FindPatientFn: func(app.Access, app.INS) (app.RecordStatus, error) {
			return app.RecordStatus{Exists: true, Authorization: app.AuthorizationGranted, ServerTime: serverNow}, nil
		},
		ListDocumentsFn: func(app.Access, app.INS, app.DocumentQuery) ([]app.RemoteDocument, error) {
			return []app.RemoteDocument{remoteDoc("d1", serverNow, serverNow)}, nil
		},
	}
	svc, _, _ := signedIn(t, rec)
	first, err := svc.OpenPatient(ctx, "p1", app.AccessNormal, "")
	if err != nil {
		t.Fatal(err)
	}
	rec.FindPatientFn = func(app.Access, app.INS) (app.RecordStatus, error) {
		return app.RecordStatus{}, &net503{}
	}
	r, err := svc.OpenPatient(ctx, "p1", app.AccessNormal, "")
	if err != nil {
		t.Fatalf("offline open = %v, want the cached copy", err)
	}
	if !r.Offline || len(r.Manifest.Documents) != 1 || !r.CheckedAt.Equal(first.CheckedAt) {
		t.Fatalf("offline record %+v, want the cached manifest marked offline with its last check", r)
	}
	// Without a card at all: the cached copy too.
	svc.SignOut()
	if r, err := svc.OpenPatient(ctx, "p1", app.AccessNormal, ""); err != nil || !r.Offline {
		t.Fatalf("open without a session = %+v, %v", r, err)
	}
}

// net503 is an offline error as the client classifies it.
type net503 struct{}

func (*net503) Error() string { return "dmp: dial: connection refused" }
func (*net503) Unwrap() error { return app.ErrOffline }

func TestDocumentRetrievedOnceThenCached(t *testing.T) {
	ctx := context.Background()
	content := []byte("<ClinicalDocument/>")
	rec := &apptest.Records{
		ListDocumentsFn: func(app.Access, app.INS, app.DocumentQuery) ([]app.RemoteDocument, error) {
			return []app.RemoteDocument{remoteDoc("d1", serverNow, serverNow), remoteDoc("bad", serverNow, serverNow)}, nil
		},
		RetrieveFn: func(_ app.Access, _ app.INS, d app.RemoteDocument) ([]byte, error) {
			if d.Meta.ID == "bad" {
				return nil, fmt.Errorf("dmp: retrieve: sha-1 mismatch: %w", app.ErrIntegrity)
			}
			if d.URL != "Binary/d1" {
				t.Errorf("retrieve without the attachment URL: %+v", d)
			}
			return content, nil
		},
	}
	svc, store, _ := signedIn(t, rec)
	if _, err := svc.OpenPatient(ctx, "p1", app.AccessNormal, ""); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		got, err := svc.Document(ctx, "p1", "d1", app.Access{Mode: app.AccessNormal})
		if err != nil || string(got) != string(content) {
			t.Fatalf("Document = %q, %v", got, err)
		}
	}
	if n := rec.Calls("Retrieve"); n != 1 {
		t.Fatalf("retrieved %d times, want once then from the vault", n)
	}
	if _, err := svc.Document(ctx, "p1", "bad", app.Access{Mode: app.AccessNormal}); err == nil {
		t.Fatal("a failed retrieval returned content")
	}
	if _, err := store.Document(ctx, "p1", "bad"); !errors.Is(err, app.ErrNotFound) {
		t.Fatalf("a failed retrieval was cached: %v", err)
	}
	// Offline (signed out), the cached document still opens.
	svc.SignOut()
	if _, err := svc.Document(ctx, "p1", "d1", app.Access{}); err != nil {
		t.Fatalf("cached document offline: %v", err)
	}
}

func TestProvideOnlyForQualifiedIdentities(t *testing.T) {
	ctx := context.Background()
	rec := &apptest.Records{}
	svc, store, _ := signedIn(t, rec)
	prov := patientP1
	prov.ID, prov.Status = "p2", app.IdentityProvisional
	if err := store.Write(ctx, &app.Batch{Patients: []app.Patient{prov}}); err != nil {
		t.Fatal(err)
	}
	doc := app.NewDocument{Meta: app.DocumentMeta{ID: "2.25.1", Title: "Note"}, Content: []byte("<x/>")}
	if _, err := svc.ProvideDocument(ctx, "p2", doc); app.Denial(err) != app.DeniedNotQualified {
		t.Fatalf("provide for a PROV identity = %v, want not_qualified", err)
	}
	if rec.Calls("Provide") != 0 {
		t.Fatal("sent for a non-qualified identity")
	}
	sent, err := svc.ProvideDocument(ctx, "p1", doc)
	if err != nil || sent.Meta.ID != "2.25.1" {
		t.Fatalf("provide = %+v, %v", sent, err)
	}
	if b, err := store.Document(ctx, "p1", "2.25.1"); err != nil || string(b) != "<x/>" {
		t.Fatalf("sent document not kept for offline reading: %q, %v", b, err)
	}
}

func TestSetVisibilityConflict(t *testing.T) {
	ctx := context.Background()
	rec := &apptest.Records{
		ListDocumentsFn: func(app.Access, app.INS, app.DocumentQuery) ([]app.RemoteDocument, error) {
			return []app.RemoteDocument{remoteDoc("d1", serverNow, serverNow)}, nil
		},
		UpdateMetadataFn: func(_ app.Access, _ app.INS, d app.RemoteDocument, _ app.MetadataChange) (app.RemoteDocument, error) {
			if d.VersionID != "1" {
				t.Errorf("If-Match version %q, want the manifest's", d.VersionID)
			}
			return app.RemoteDocument{}, &conflict{}
		},
	}
	svc, _, _ := signedIn(t, rec)
	if _, err := svc.OpenPatient(ctx, "p1", app.AccessNormal, ""); err != nil {
		t.Fatal(err)
	}
	err := svc.SetVisibility(ctx, "p1", "d1", app.Visibility{MaskedToProfessionals: true})
	if !errors.Is(err, app.ErrConflict) {
		t.Fatalf("SetVisibility on a changed document = %v, want ErrConflict", err)
	}
}

type conflict struct{}

func (*conflict) Error() string { return "dmp: patch: 412" }
func (*conflict) Unwrap() error { return app.ErrConflict }

func TestRemoteCallsAudited(t *testing.T) {
	ctx := context.Background()
	rec := &apptest.Records{FindPatientFn: func(app.Access, app.INS) (app.RecordStatus, error) {
		return app.RecordStatus{Exists: true, Authorization: app.AuthorizationNone, ServerTime: serverNow}, nil
	}}
	svc, store, _ := signedIn(t, rec)
	svc.OpenPatient(ctx, "p1", app.AccessNormal, "")
	if err := svc.GrantAuthorization(ctx, "p1"); err != nil {
		t.Fatal(err)
	}
	svc.OpenPatient(ctx, "p1", app.AccessEmergency, "arrêt cardiaque au bloc")
	var got []string
	for _, e := range store.Events() {
		if !strings.HasPrefix(e.Action, "dmp.") {
			continue
		}
		if e.Practitioner != doctor.RPPS || e.Structure != doctor.Structure.ID || e.Patient != "p1" || e.Time.IsZero() {
			t.Errorf("audit event lacks who/where/whom/when: %+v", e)
		}
		got = append(got, e.Action+"/"+string(e.Mode)+"/"+e.Result)
		if e.Mode == app.AccessEmergency && e.Detail == "" {
			t.Error("bris de glace audited without its justification")
		}
	}
	want := []string{
		"dmp.td02/normal/ok", // FindPatient, then refused locally: no authorisation
		"dmp.td03/normal/ok",
		"dmp.td02/bris_de_glace/ok",
		"dmp.iti67/bris_de_glace/ok",
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("audited %v, want %v", got, want)
	}
}

func TestLockSignsOut(t *testing.T) {
	svc, _, clock := signedIn(t, &apptest.Records{})
	if _, ok := svc.Practitioner(); !ok {
		t.Fatal("not signed in")
	}
	clock.Advance(5 * time.Minute)
	svc.Tick() // an idle lock ends the card session too: the PIN is asked again
	if _, ok := svc.Practitioner(); ok {
		t.Fatal("an idle lock kept the card session")
	}
	svc.Unlock(context.Background(), []byte(pass))
	if _, ok := svc.Practitioner(); ok {
		t.Fatal("the unlock restored the card session without the PIN")
	}
	svc.SignIn(app.Session{Practitioner: app.Practitioner{RPPS: "1"}, Records: &apptest.Records{}})
	clock.Advance(12 * time.Hour)
	svc.Tick()
	if _, ok := svc.Practitioner(); ok {
		t.Fatal("the 12-hour re-authentication kept the card session")
	}
}

func TestMergeManifestKeepsTheSource(t *testing.T) {
	m := app.Manifest{Documents: []app.DocumentMeta{{ID: "n1", Source: "carnet", Cached: true}}}
	sent := remoteDoc("n1", serverNow, serverNow)
	sent.Meta.Source = "dmp" // what the client says of every entry it lists
	got, _ := app.MergeManifest(m, []app.RemoteDocument{sent, remoteDoc("d2", serverNow, serverNow)})
	for _, d := range got.Documents {
		want := map[app.DocumentID]string{"n1": "carnet", "d2": "dmp"}[d.ID]
		if d.Source != want {
			t.Errorf("%s: source %q, want %q", d.ID, d.Source, want)
		}
		if d.ID == "n1" && !d.Cached {
			t.Error("the note's content is no longer marked cached")
		}
	}
}
