// Package storetest is the contract of app.Store and app.MailStore, written
// once and run against every implementation: the vault (app/vault) and the
// in-memory fakes of app/apptest. A fake that drifts from the vault fails
// here, not in a screen test that trusted it.
//
// Use it from an implementation's tests:
//
//	func TestStoreContract(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) app.Store { return newStore(t) })
//	}
//
// The factory returns a store with no vault yet (Exists is false); the
// suite creates it with Passphrase.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
)

// Passphrase is the passphrase the suite creates every store with.
const Passphrase = "contrat du coffre, phrase de passe de test"

// Factory returns a new store with no vault created yet.
type Factory func(t *testing.T) app.Store

// MailFactory returns a new mail store whose patient directory holds
// patients.
type MailFactory func(t *testing.T, patients ...app.Patient) app.MailStore

var (
	day0 = time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	// Two synthetic patients (no real person).
	alice = app.Patient{ID: "contract-p1", INS: app.INS{Matricule: "280017512345612", OID: app.OIDINSNIRTest}, Status: app.IdentityQualified,
		BirthName: "CONTRAT", BirthGivenNames: "Alice Marie", BirthDate: "1980-01-17", Sex: app.SexFemale}
	bruno = app.Patient{ID: "contract-p2", INS: app.INS{Matricule: "175029912345634", OID: app.OIDINSNIRTest}, Status: app.IdentityProvisional,
		BirthName: "ESSAI", BirthGivenNames: "Bruno", BirthDate: "1975-02-28", Sex: app.SexMale}
)

// Run runs the app.Store contract against stores made by newStore.
func Run(t *testing.T, newStore Factory) {
	t.Run("Lifecycle", func(t *testing.T) { testLifecycle(t, newStore) })
	t.Run("LockedRefuses", func(t *testing.T) { testLockedRefuses(t, newStore) })
	t.Run("Directory", func(t *testing.T) { testDirectory(t, newStore) })
	t.Run("Records", func(t *testing.T) { testRecords(t, newStore) })
	t.Run("UnknownPatientRefused", func(t *testing.T) { testUnknownPatient(t, newStore) })
	t.Run("Outbox", func(t *testing.T) { testOutbox(t, newStore) })
	t.Run("Purge", func(t *testing.T) { testPurge(t, newStore) })
	t.Run("Settings", func(t *testing.T) { testSettings(t, newStore) })
	t.Run("Audit", func(t *testing.T) { testAudit(t, newStore) })
	t.Run("Mail", func(t *testing.T) { testStoreMail(t, newStore) })
	t.Run("MailSecrets", func(t *testing.T) { testMailSecrets(t, newStore) })
	t.Run("Declarations", func(t *testing.T) { testDeclarations(t, newStore) })
	t.Run("PreopDecisions", func(t *testing.T) { testPreopDecisions(t, newStore) })
	t.Run("Check", func(t *testing.T) { testCheck(t, newStore) })
}

// RunMail runs the app.MailStore contract: what the mail import relies on.
func RunMail(t *testing.T, newStore MailFactory) {
	t.Run("Directory", func(t *testing.T) {
		s := newStore(t, alice, bruno)
		ps, err := s.Patients(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(ps); !slices.Equal(got, []app.PatientID{alice.ID, bruno.ID}) {
			t.Errorf("Patients = %v, want both patients sorted by name", got)
		}
	})
	t.Run("ManifestOfPatientWithoutDocuments", func(t *testing.T) {
		s := newStore(t, alice)
		m, err := s.Manifest(context.Background(), alice.ID)
		if err != nil && !errors.Is(err, app.ErrNotFound) {
			t.Fatalf("Manifest of a patient with no documents: %v", err)
		}
		if len(m.Documents) != 0 {
			t.Errorf("Manifest = %+v, want no documents", m)
		}
	})
	t.Run("Mail", func(t *testing.T) { mailRecords(t, newStore(t, alice)) })
	t.Run("FiledDocument", func(t *testing.T) {
		ctx := context.Background()
		s := newStore(t, alice)
		doc := app.DocumentMeta{ID: "2.25.77", Title: "Compte rendu", MediaType: "text/xml", Source: "mssante", Date: day0}
		b := &app.Batch{
			Manifests:   []app.Manifest{{Patient: alice.ID, Documents: []app.DocumentMeta{doc}}},
			Documents:   []app.DocumentContent{{Patient: alice.ID, ID: doc.ID, Bytes: []byte("<ClinicalDocument/>")}},
			MailRecords: []app.MailRecord{{Key: "k-filed", Outcome: app.OutcomeFiled, Documents: []app.DocumentID{doc.ID}, At: day0}},
			Audit:       []app.AuditEvent{{Time: day0, Action: "mail.file", Patient: alice.ID, Result: "ok"}},
		}
		if err := s.Write(ctx, b); err != nil {
			t.Fatal(err)
		}
		m, err := s.Manifest(ctx, alice.ID)
		if err != nil || len(m.Documents) != 1 || m.Documents[0].ID != doc.ID {
			t.Fatalf("Manifest after filing = %+v, %v", m, err)
		}
		r, ok, err := s.MailRecord(ctx, "k-filed")
		if err != nil || !ok || r.Outcome != app.OutcomeFiled || !slices.Equal(r.Documents, []app.DocumentID{doc.ID}) {
			t.Errorf("MailRecord = %+v, %v, %v", r, ok, err)
		}
	})
}

// create makes the vault and leaves it unlocked.
func create(t *testing.T, newStore Factory) app.Store {
	t.Helper()
	s := newStore(t)
	if s.Exists() {
		t.Fatal("a new store already has a vault")
	}
	if err := s.Create(context.Background(), []byte(Passphrase), app.CreateOptions{}); err != nil {
		t.Fatalf("Create: %v", err)
	}
	return s
}

// withPatients creates a store holding alice and bruno.
func withPatients(t *testing.T, newStore Factory) app.Store {
	t.Helper()
	s := create(t, newStore)
	if err := s.Write(context.Background(), &app.Batch{Patients: []app.Patient{alice, bruno}}); err != nil {
		t.Fatalf("Write patients: %v", err)
	}
	return s
}

func ids(ps []app.Patient) []app.PatientID {
	out := make([]app.PatientID, len(ps))
	for i, p := range ps {
		out[i] = p.ID
	}
	return out
}

func testLifecycle(t *testing.T, newStore Factory) {
	ctx := context.Background()
	s := create(t, newStore)
	if !s.Exists() || s.Locked() {
		t.Fatalf("after Create: Exists %v Locked %v, want an unlocked vault", s.Exists(), s.Locked())
	}
	if err := s.Create(ctx, []byte(Passphrase), app.CreateOptions{}); !errors.Is(err, app.ErrVaultExists) {
		t.Errorf("second Create: %v, want ErrVaultExists", err)
	}
	if err := s.Write(ctx, &app.Batch{Patients: []app.Patient{alice}}); err != nil {
		t.Fatal(err)
	}
	s.Lock()
	if !s.Locked() {
		t.Fatal("Lock left the store unlocked")
	}
	if _, err := s.Unlock(ctx, []byte("not the passphrase at all")); !errors.Is(err, app.ErrWrongPassphrase) {
		t.Errorf("Unlock with a wrong passphrase: %v, want ErrWrongPassphrase", err)
	}
	if !s.Locked() {
		t.Error("a wrong passphrase unlocked the store")
	}
	rep, err := s.Unlock(ctx, []byte(Passphrase))
	if err != nil {
		t.Fatalf("Unlock: %v", err)
	}
	if rep.Patients != 1 {
		t.Errorf("UnlockReport.Patients = %d, want 1", rep.Patients)
	}
	const next = "une autre phrase de passe, plus longue"
	if err := s.ChangePassphrase(ctx, []byte("wrong old passphrase"), []byte(next)); !errors.Is(err, app.ErrWrongPassphrase) {
		t.Errorf("ChangePassphrase with a wrong old one: %v, want ErrWrongPassphrase", err)
	}
	if err := s.ChangePassphrase(ctx, []byte(Passphrase), []byte(next)); err != nil {
		t.Fatalf("ChangePassphrase: %v", err)
	}
	s.Lock()
	if _, err := s.Unlock(ctx, []byte(Passphrase)); !errors.Is(err, app.ErrWrongPassphrase) {
		t.Errorf("the old passphrase after a change: %v, want ErrWrongPassphrase", err)
	}
	if _, err := s.Unlock(ctx, []byte(next)); err != nil {
		t.Errorf("the new passphrase: %v", err)
	}
	if ps, err := s.Patients(ctx); err != nil || len(ps) != 1 {
		t.Errorf("patients after a passphrase change: %v, %v", ps, err)
	}
}

func testLockedRefuses(t *testing.T, newStore Factory) {
	ctx := context.Background()
	s := withPatients(t, newStore)
	s.Lock()
	calls := map[string]func() error{
		"SearchPatients": func() error { _, err := s.SearchPatients(ctx, "contrat", 0); return err },
		"Patient":        func() error { _, err := s.Patient(ctx, alice.ID); return err },
		"Patients":       func() error { _, err := s.Patients(ctx); return err },
		"PatientsByINS":  func() error { _, err := s.PatientsByINS(ctx, alice.INS); return err },
		"Manifest":       func() error { _, err := s.Manifest(ctx, alice.ID); return err },
		"Document":       func() error { _, err := s.Document(ctx, alice.ID, "d"); return err },
		"Outbox":         func() error { _, err := s.Outbox(ctx); return err },
		"Inbox":          func() error { _, err := s.Inbox(ctx); return err },
		"MailSecret":     func() error { _, err := s.MailSecret(ctx, "a@b.mssante.fr"); return err },
		"Write":          func() error { return s.Write(ctx, &app.Batch{Patients: []app.Patient{bruno}}) },
		"Purge":          func() error { return s.Purge(ctx, alice.ID) },
		"Settings":       func() error { _, err := s.Settings(ctx); return err },
		"Record":         func() error { return s.Record(ctx, app.AuditEvent{Time: day0, Action: "x"}) },
		"Audit":          func() error { _, err := s.Audit(ctx, app.AuditFilter{}); return err },
		"Check":          func() error { _, err := s.Check(ctx); return err },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, app.ErrLocked) {
			t.Errorf("%s while locked: %v, want ErrLocked", name, err)
		}
	}
}

func testDirectory(t *testing.T, newStore Factory) {
	ctx := context.Background()
	s := withPatients(t, newStore)
	ps, err := s.Patients(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(ps); !slices.Equal(got, []app.PatientID{alice.ID, bruno.ID}) {
		t.Errorf("Patients = %v, want sorted by name (CONTRAT, ESSAI)", got)
	}
	found, err := s.SearchPatients(ctx, "alice contrat", 10)
	if err != nil || !slices.Equal(ids(found), []app.PatientID{alice.ID}) {
		t.Errorf("SearchPatients(alice contrat) = %v, %v", ids(found), err)
	}
	found, err = s.SearchPatients(ctx, "essaï", 10) // accent-insensitive
	if err != nil || !slices.Equal(ids(found), []app.PatientID{bruno.ID}) {
		t.Errorf("SearchPatients(essaï) = %v, %v", ids(found), err)
	}
	p, err := s.Patient(ctx, bruno.ID)
	if err != nil || p.INS != bruno.INS || p.Status != app.IdentityProvisional || p.BirthDate != bruno.BirthDate {
		t.Errorf("Patient = %+v, %v", p, err)
	}
	if _, err := s.Patient(ctx, "no-such-patient"); !errors.Is(err, app.ErrNotFound) {
		t.Errorf("Patient(unknown) = %v, want ErrNotFound", err)
	}
	// A replacement keeps one entry.
	changed := alice
	changed.Pinned = true
	changed.Scheduled = day0.AddDate(0, 0, 1)
	if err := s.Write(ctx, &app.Batch{Patients: []app.Patient{changed}}); err != nil {
		t.Fatal(err)
	}
	ps, _ = s.Patients(ctx)
	if len(ps) != 2 {
		t.Fatalf("after replacing a patient: %d patients, want 2", len(ps))
	}
	if p, _ := s.Patient(ctx, alice.ID); !p.Pinned || !p.Scheduled.Equal(changed.Scheduled) {
		t.Errorf("replaced patient = %+v, want pinned and scheduled", p)
	}
	// A new patient without an id gets one, written back into the batch.
	fresh := &app.Batch{Patients: []app.Patient{{BirthName: "SANSIDENTIFIANT", BirthGivenNames: "Zoé", BirthDate: "1990-06-30", Sex: app.SexFemale}}}
	if err := s.Write(ctx, fresh); err != nil {
		t.Fatal(err)
	}
	drawn := fresh.Patients[0].ID
	if drawn == "" {
		t.Fatal("Write left a new patient without an id")
	}
	if p, err := s.Patient(ctx, drawn); err != nil || p.BirthName != "SANSIDENTIFIANT" {
		t.Errorf("Patient(drawn id) = %+v, %v", p, err)
	}
	// The directory survives a lock.
	s.Lock()
	if rep, err := s.Unlock(ctx, []byte(Passphrase)); err != nil || rep.Patients != 3 {
		t.Fatalf("Unlock = %+v, %v; want 3 patients", rep, err)
	}
	if p, err := s.Patient(ctx, alice.ID); err != nil || !p.Pinned {
		t.Errorf("patient after lock and unlock = %+v, %v", p, err)
	}
	// The lookup by INS (the identity gate's) holds after the lock too.
	if got, err := s.PatientsByINS(ctx, bruno.INS); err != nil || !slices.Equal(ids(got), []app.PatientID{bruno.ID}) {
		t.Errorf("PatientsByINS(bruno) = %v, %v", ids(got), err)
	}
	if got, err := s.PatientsByINS(ctx, app.INS{Matricule: bruno.INS.Matricule, OID: app.OIDINSNIR}); err != nil || len(got) != 0 {
		t.Errorf("PatientsByINS(other OID) = %v, %v", ids(got), err)
	}
	if got, err := s.PatientsByINS(ctx, app.INS{}); err != nil || len(got) != 0 {
		t.Errorf("PatientsByINS(no INS) = %v, %v", ids(got), err)
	}
}

func testRecords(t *testing.T, newStore Factory) {
	ctx := context.Background()
	s := withPatients(t, newStore)
	m, err := s.Manifest(ctx, alice.ID)
	if err != nil || len(m.Documents) != 0 {
		t.Errorf("Manifest of a patient without one = %+v, %v; want an empty manifest", m, err)
	}
	if _, err := s.Manifest(ctx, "no-such-patient"); !errors.Is(err, app.ErrNotFound) {
		t.Errorf("Manifest of an unknown patient: %v, want ErrNotFound", err)
	}
	d1 := app.DocumentMeta{ID: "2.25.1", Title: "CR opératoire", TypeCode: "34874-7", MediaType: "text/xml", Date: day0, Source: "dmp"}
	d2 := app.DocumentMeta{ID: "2.25.2", Title: "Ordonnance", TypeCode: "57833-6", MediaType: "application/pdf", Date: day0.Add(-time.Hour), Source: "dmp"}
	content := []byte("<ClinicalDocument>contenu</ClinicalDocument>")
	if err := s.Write(ctx, &app.Batch{
		Manifests: []app.Manifest{{Patient: alice.ID, Documents: []app.DocumentMeta{d1, d2}, CheckedAt: day0}},
		Documents: []app.DocumentContent{{Patient: alice.ID, ID: d1.ID, Bytes: content}},
		Cursors:   []app.Cursor{{Patient: alice.ID, Stream: "documents", Time: day0, Token: "t1"}},
	}); err != nil {
		t.Fatal(err)
	}
	m, err = s.Manifest(ctx, alice.ID)
	if err != nil || len(m.Documents) != 2 || !m.CheckedAt.Equal(day0) {
		t.Fatalf("Manifest = %+v, %v", m, err)
	}
	cached := map[app.DocumentID]bool{}
	for _, d := range m.Documents {
		cached[d.ID] = d.Cached
	}
	if !cached[d1.ID] || cached[d2.ID] {
		t.Errorf("Cached = %v, want set from the content present (d1 only)", cached)
	}
	got, err := s.Document(ctx, alice.ID, d1.ID)
	if err != nil || !bytes.Equal(got, content) {
		t.Errorf("Document = %q, %v", got, err)
	}
	got[0] = 'X' // the caller's copy is its own
	if again, _ := s.Document(ctx, alice.ID, d1.ID); !bytes.Equal(again, content) {
		t.Error("changing a returned document changed the stored one")
	}
	if _, err := s.Document(ctx, alice.ID, d2.ID); !errors.Is(err, app.ErrNotFound) {
		t.Errorf("Document not cached: %v, want ErrNotFound", err)
	}
	if _, err := s.Document(ctx, bruno.ID, d1.ID); !errors.Is(err, app.ErrNotFound) {
		t.Errorf("another patient's document: %v, want ErrNotFound", err)
	}
	c, err := s.Cursor(ctx, alice.ID, "documents")
	if err != nil || c.Token != "t1" || !c.Time.Equal(day0) {
		t.Errorf("Cursor = %+v, %v", c, err)
	}
	if c, err := s.Cursor(ctx, alice.ID, "submissions"); err != nil || c != (app.Cursor{}) {
		t.Errorf("Cursor never stored = %+v, %v; want the zero cursor", c, err)
	}
	// A removed document leaves the vault with its content.
	if err := s.Write(ctx, &app.Batch{
		Manifests:     []app.Manifest{{Patient: alice.ID, Documents: []app.DocumentMeta{d2}, CheckedAt: day0}},
		DocumentsGone: []app.DocumentRef{{Patient: alice.ID, ID: d1.ID}},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Document(ctx, alice.ID, d1.ID); !errors.Is(err, app.ErrNotFound) {
		t.Errorf("a removed document is still readable: %v", err)
	}
	// A document without an id is refused, and the batch leaves nothing.
	bad := &app.Batch{
		Manifests: []app.Manifest{{Patient: bruno.ID, Documents: []app.DocumentMeta{d1}}},
		Documents: []app.DocumentContent{{Patient: bruno.ID, Bytes: []byte("x")}},
	}
	if err := s.Write(ctx, bad); !errors.Is(err, app.ErrInvalid) {
		t.Errorf("document without id: %v, want ErrInvalid", err)
	}
	if m, _ := s.Manifest(ctx, bruno.ID); len(m.Documents) != 0 {
		t.Errorf("a refused batch left a manifest: %+v", m)
	}
}

func testUnknownPatient(t *testing.T, newStore Factory) {
	ctx := context.Background()
	s := withPatients(t, newStore)
	const ghost app.PatientID = "not-in-the-directory"
	for name, b := range map[string]*app.Batch{
		"manifest": {Manifests: []app.Manifest{{Patient: ghost}}},
		"document": {Documents: []app.DocumentContent{{Patient: ghost, ID: "2.25.9", Bytes: []byte("x")}}},
		"cursor":   {Cursors: []app.Cursor{{Patient: ghost, Stream: "documents"}}},
	} {
		if err := s.Write(ctx, b); !errors.Is(err, app.ErrInvalid) {
			t.Errorf("%s for a patient not in the directory: %v, want ErrInvalid", name, err)
		}
	}
	// In the same batch as the patient, it is accepted.
	carl := app.Patient{ID: "contract-p3", BirthName: "TROISIEME", BirthGivenNames: "Carl", BirthDate: "2001-12-01", Sex: app.SexMale}
	if err := s.Write(ctx, &app.Batch{
		Patients:  []app.Patient{carl},
		Manifests: []app.Manifest{{Patient: carl.ID, Documents: []app.DocumentMeta{{ID: "2.25.10", Date: day0}}}},
		Documents: []app.DocumentContent{{Patient: carl.ID, ID: "2.25.10", Bytes: []byte("y")}},
	}); err != nil {
		t.Errorf("records in the same batch as their new patient: %v", err)
	}
}

func testOutbox(t *testing.T, newStore Factory) {
	ctx := context.Background()
	s := withPatients(t, newStore)
	items := []app.OutboxItem{
		{ID: "o-b", Patient: alice.ID, Kind: "provide", State: app.OutboxPending, Payload: []byte("deux"), CreatedAt: day0.Add(time.Minute)},
		{ID: "o-c", Patient: bruno.ID, Kind: "provide", State: app.OutboxPending, Payload: []byte("trois"), CreatedAt: day0.Add(time.Minute)},
		{ID: "o-a", Patient: alice.ID, Kind: "provide", State: app.OutboxPending, Payload: []byte("un"), CreatedAt: day0},
	}
	if err := s.Write(ctx, &app.Batch{Outbox: items}); err != nil {
		t.Fatal(err)
	}
	out, err := s.Outbox(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var order []app.OutboxID
	for _, it := range out {
		order = append(order, it.ID)
	}
	if !slices.Equal(order, []app.OutboxID{"o-a", "o-b", "o-c"}) {
		t.Errorf("Outbox order = %v, want oldest first, then by id", order)
	}
	if string(out[0].Payload) != "un" {
		t.Errorf("payload = %q", out[0].Payload)
	}
	upd := out[0]
	upd.Attempts, upd.LastError = 2, "unavailable"
	if err := s.Write(ctx, &app.Batch{Outbox: []app.OutboxItem{upd}, OutboxDone: []app.OutboxID{"o-c"}}); err != nil {
		t.Fatal(err)
	}
	out, _ = s.Outbox(ctx)
	if len(out) != 2 || out[0].Attempts != 2 || out[0].LastError != "unavailable" {
		t.Errorf("after an update and an ack: %+v", out)
	}
	if err := s.Write(ctx, &app.Batch{Outbox: []app.OutboxItem{{Patient: alice.ID, Kind: "provide"}}}); !errors.Is(err, app.ErrInvalid) {
		t.Errorf("outbox item without id: %v, want ErrInvalid", err)
	}
}

func testPurge(t *testing.T, newStore Factory) {
	ctx := context.Background()
	s := withPatients(t, newStore)
	doc := app.DocumentMeta{ID: "2.25.5", Date: day0}
	if err := s.Write(ctx, &app.Batch{
		Manifests: []app.Manifest{{Patient: alice.ID, Documents: []app.DocumentMeta{doc}}, {Patient: bruno.ID, Documents: []app.DocumentMeta{doc}}},
		Documents: []app.DocumentContent{{Patient: alice.ID, ID: doc.ID, Bytes: []byte("a")}, {Patient: bruno.ID, ID: doc.ID, Bytes: []byte("b")}},
		Cursors:   []app.Cursor{{Patient: alice.ID, Stream: "documents", Token: "x"}},
		Outbox:    []app.OutboxItem{{ID: "o-1", Patient: bruno.ID, Kind: "provide", CreatedAt: day0}},
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.Purge(ctx, bruno.ID); !errors.Is(err, app.ErrConflict) {
		t.Errorf("Purge of a patient with outbox items: %v, want ErrConflict", err)
	}
	if _, err := s.Document(ctx, bruno.ID, doc.ID); err != nil {
		t.Errorf("a refused purge lost data: %v", err)
	}
	if err := s.Purge(ctx, alice.ID); err != nil {
		t.Fatalf("Purge: %v", err)
	}
	if _, err := s.Patient(ctx, alice.ID); !errors.Is(err, app.ErrNotFound) {
		t.Errorf("purged patient still in the directory: %v", err)
	}
	if found, _ := s.SearchPatients(ctx, "contrat", 10); len(found) != 0 {
		t.Errorf("purged patient still found by search: %v", ids(found))
	}
	if _, err := s.Document(ctx, alice.ID, doc.ID); err == nil {
		t.Error("a purged patient's document is still readable")
	}
	if c, _ := s.Cursor(ctx, alice.ID, "documents"); c.Token != "" {
		t.Errorf("a purged patient's cursor survives: %+v", c)
	}
	if got, err := s.Document(ctx, bruno.ID, doc.ID); err != nil || string(got) != "b" {
		t.Errorf("another patient's document after a purge: %q, %v", got, err)
	}
	if err := s.Purge(ctx, alice.ID); !errors.Is(err, app.ErrNotFound) {
		t.Errorf("Purge of an unknown patient: %v, want ErrNotFound", err)
	}
	s.Lock()
	if _, err := s.Unlock(ctx, []byte(Passphrase)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Patient(ctx, alice.ID); !errors.Is(err, app.ErrNotFound) {
		t.Errorf("purged patient back after unlock: %v", err)
	}
}

func testSettings(t *testing.T, newStore Factory) {
	ctx := context.Background()
	s := create(t, newStore)
	st, err := s.Settings(ctx)
	if err != nil || st != app.DefaultSettings() {
		t.Errorf("Settings of a new vault = %+v, %v; want the defaults", st, err)
	}
	st.AutoLock, st.RetentionDays = 10*time.Minute, 90
	if err := s.SaveSettings(ctx, st); err != nil {
		t.Fatal(err)
	}
	bad := st
	bad.AutoLock = 2 * time.Hour
	if err := s.SaveSettings(ctx, bad); !errors.Is(err, app.ErrInvalid) {
		t.Errorf("SaveSettings out of bounds: %v, want ErrInvalid", err)
	}
	s.Lock()
	if _, err := s.Unlock(ctx, []byte(Passphrase)); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Settings(ctx); err != nil || got != st {
		t.Errorf("Settings after a refused save and a lock = %+v, %v; want %+v", got, err, st)
	}
}

func testAudit(t *testing.T, newStore Factory) {
	ctx := context.Background()
	s := withPatients(t, newStore)
	before, err := s.Audit(ctx, app.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	n := len(before) // a store may log its own creation and unlocks
	events := []app.AuditEvent{
		{Time: day0, Practitioner: "810000000001", Patient: alice.ID, Action: "dmp.iti67", Mode: app.AccessNormal, Result: "ok"},
		{Time: day0.Add(time.Minute), Practitioner: "810000000001", Patient: bruno.ID, Action: "dmp.iti68", Mode: app.AccessEmergency, Result: "ok", Detail: "urgence vitale"},
		{Time: day0.Add(2 * time.Minute), Practitioner: "810000000001", Action: "mail.import", Result: "ok"},
	}
	if err := s.Record(ctx, events[0]); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(ctx, &app.Batch{Audit: events[1:]}); err != nil {
		t.Fatal(err)
	}
	all, err := s.Audit(ctx, app.AuditFilter{})
	if err != nil || len(all) != n+3 {
		t.Fatalf("Audit = %d events, %v; want %d", len(all), err, n+3)
	}
	for i := 1; i < len(all); i++ {
		if all[i].Seq != all[i-1].Seq+1 {
			t.Errorf("Seq not consecutive: %d then %d", all[i-1].Seq, all[i].Seq)
		}
	}
	if all[0].Seq != 1 {
		t.Errorf("first Seq = %d, want 1", all[0].Seq)
	}
	last := all[len(all)-1]
	if last.Action != "mail.import" || !last.Time.Equal(events[2].Time) {
		t.Errorf("last event = %+v", last)
	}
	if got, _ := s.Audit(ctx, app.AuditFilter{Patient: bruno.ID}); len(got) != 1 || got[0].Detail != "urgence vitale" || got[0].Mode != app.AccessEmergency {
		t.Errorf("Audit(patient) = %+v", got)
	}
	if got, _ := s.Audit(ctx, app.AuditFilter{Action: "dmp."}); len(got) != 2 {
		t.Errorf("Audit(action prefix dmp.) = %d events, want 2", len(got))
	}
	if got, _ := s.Audit(ctx, app.AuditFilter{Action: "dmp.", Since: day0.Add(30 * time.Second)}); len(got) != 1 || got[0].Action != "dmp.iti68" {
		t.Errorf("Audit(since) = %+v", got)
	}
	if got, _ := s.Audit(ctx, app.AuditFilter{Limit: 2}); len(got) != 2 || got[1].Action != "mail.import" {
		t.Errorf("Audit(limit 2) = %+v, want the newest two, oldest first", got)
	}
}

func testStoreMail(t *testing.T, newStore Factory) {
	ctx := context.Background()
	s := withPatients(t, newStore)
	mailRecords(t, s)
	r := app.RawMessage{Key: "k-raw", Bytes: []byte("From: a@b\r\n\r\ncorps")}
	if err := s.Write(ctx, &app.Batch{MailRaw: []app.RawMessage{r}}); err != nil {
		t.Fatal(err)
	}
	got, err := s.RawMessage(ctx, "k-raw")
	if err != nil || !bytes.Equal(got.Bytes, r.Bytes) {
		t.Errorf("RawMessage = %q, %v", got.Bytes, err)
	}
	if err := s.Write(ctx, &app.Batch{MailRaw: []app.RawMessage{{Key: "k-raw"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RawMessage(ctx, "k-raw"); !errors.Is(err, app.ErrNotFound) {
		t.Errorf("RawMessage after removal: %v, want ErrNotFound", err)
	}
}

// mailRecords checks the sync points, deduplication records and the manual
// queue, which both contracts share.
func mailRecords(t *testing.T, s app.MailStore) {
	ctx := context.Background()
	st, err := s.MailState(ctx, "secretariat@clinique.mssante.fr", "INBOX")
	if err != nil || st.Account != "secretariat@clinique.mssante.fr" || st.Mailbox != "INBOX" || st.LastUID != 0 {
		t.Errorf("MailState never stored = %+v, %v; want the zero state naming the mailbox", st, err)
	}
	want := app.MailboxState{Account: "secretariat@clinique.mssante.fr", Mailbox: "INBOX", UIDValidity: 7, LastUID: 42, UpdatedAt: day0}
	late := app.InboxItem{ID: "i-late", State: app.InboxPending, MessageKey: "k1", Subject: "Compte rendu", CreatedAt: day0.Add(time.Hour), Reason: app.ReasonUnknownPatient}
	early := app.InboxItem{ID: "i-early", State: app.InboxPending, MessageKey: "k2", Subject: "Résultats", CreatedAt: day0, Reason: app.ReasonUnknownPatient}
	if err := s.Write(ctx, &app.Batch{
		MailStates:  []app.MailboxState{want},
		MailRecords: []app.MailRecord{{Key: "k1", Outcome: app.OutcomeManual, At: day0}},
		Inbox:       []app.InboxItem{late, early},
	}); err != nil {
		t.Fatal(err)
	}
	if st, err := s.MailState(ctx, want.Account, "INBOX"); err != nil || st.LastUID != 42 || st.UIDValidity != 7 {
		t.Errorf("MailState = %+v, %v", st, err)
	}
	if st, _ := s.MailState(ctx, want.Account, "Archives"); st.LastUID != 0 {
		t.Errorf("another mailbox's state = %+v, want zero", st)
	}
	if r, ok, err := s.MailRecord(ctx, "k1"); err != nil || !ok || r.Outcome != app.OutcomeManual {
		t.Errorf("MailRecord = %+v, %v, %v", r, ok, err)
	}
	if _, ok, err := s.MailRecord(ctx, "k-unknown"); err != nil || ok {
		t.Errorf("MailRecord(unknown) = %v, %v; want not found, no error", ok, err)
	}
	items, err := s.Inbox(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var order []app.InboxID
	for _, it := range items {
		order = append(order, it.ID)
	}
	if !slices.Equal(order, []app.InboxID{"i-early", "i-late"}) {
		t.Errorf("Inbox order = %v, want oldest first", order)
	}
	decided := late
	decided.State, decided.Patient, decided.DecidedAt = app.InboxAttached, alice.ID, day0.Add(2*time.Hour)
	if err := s.Write(ctx, &app.Batch{Inbox: []app.InboxItem{decided}}); err != nil {
		t.Fatal(err)
	}
	items, _ = s.Inbox(ctx)
	if len(items) != 2 || items[1].State != app.InboxAttached || items[1].Patient != alice.ID {
		t.Errorf("Inbox after a decision = %+v", items)
	}
}

func testMailSecrets(t *testing.T, newStore Factory) {
	ctx := context.Background()
	s := create(t, newStore)
	const acct = "Secretariat@Clinique.mssante.fr"
	if _, err := s.MailSecret(ctx, acct); !errors.Is(err, app.ErrNotFound) {
		t.Errorf("MailSecret never saved: %v, want ErrNotFound", err)
	}
	if err := s.SaveMailSecret(ctx, acct, []byte("mot de passe")); err != nil {
		t.Fatal(err)
	}
	if got, err := s.MailSecret(ctx, "secretariat@clinique.mssante.fr"); err != nil || string(got) != "mot de passe" {
		t.Errorf("MailSecret (other case) = %q, %v; an address is case-insensitive", got, err)
	}
	if err := s.SaveMailSecret(ctx, acct, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.MailSecret(ctx, acct); !errors.Is(err, app.ErrNotFound) {
		t.Errorf("MailSecret after forgetting: %v, want ErrNotFound", err)
	}
}

func testDeclarations(t *testing.T, newStore Factory) {
	ctx := context.Background()
	s := withPatients(t, newStore)
	if got, err := s.Declarations(ctx, alice.ID); err != nil || len(got) != 0 {
		t.Errorf("Declarations of a patient who declared nothing = %v, %v", got, err)
	}
	put := []app.Declaration{
		{ID: "decl-1", Medication: app.Medication{Name: "LEVOTHYROX 75 µg", ATC: app.Code{Code: "H03AA01", System: "2.16.840.1.113883.6.73"}}},
		{ID: "decl-2", Medication: app.Medication{Name: "KARDEGIC 75 mg", ATC: app.Code{Code: "B01AC06", System: "2.16.840.1.113883.6.73"}}},
	}
	if err := s.Write(ctx, &app.Batch{Declarations: []app.DeclarationSet{{Patient: alice.ID, Put: put}}}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Declarations(ctx, alice.ID)
	if err != nil || len(got) != 2 {
		t.Fatalf("Declarations = %+v, %v", got, err)
	}
	if err := s.Write(ctx, &app.Batch{Declarations: []app.DeclarationSet{{Patient: alice.ID, Remove: []app.DeclarationID{"decl-1"}}}}); err != nil {
		t.Fatal(err)
	}
	got, _ = s.Declarations(ctx, alice.ID)
	if len(got) != 1 || got[0].ID != "decl-2" || got[0].Medication.ATC.Code != "B01AC06" {
		t.Errorf("Declarations after a removal = %+v", got)
	}
	if err := s.Write(ctx, &app.Batch{Declarations: []app.DeclarationSet{{Put: put}}}); !errors.Is(err, app.ErrInvalid) {
		t.Errorf("declarations without a patient: %v, want ErrInvalid", err)
	}
	if got, _ := s.Declarations(ctx, bruno.ID); len(got) != 0 {
		t.Errorf("another patient's declarations = %+v", got)
	}
}

// testPreopDecisions: the decisions of the pre-operative table are kept
// per patient, merged line by line, the inputs replaced only when given,
// forgotten with the patient.
func testPreopDecisions(t *testing.T, newStore Factory) {
	ctx := context.Background()
	s := withPatients(t, newStore)
	if got, err := s.PreopDecisions(ctx, alice.ID); err != nil || len(got.Decisions) != 0 || got.Inputs != (app.PreopInputs{}) {
		t.Errorf("PreopDecisions of a patient never decided = %+v, %v", got, err)
	}
	surgery := time.Date(2026, 12, 10, 0, 0, 0, 0, time.UTC)
	in := app.PreopInputs{Surgery: surgery, Bleeding: "high", CrCl: 42, CrClSource: "créatinine du 01/12/2026", At: day0}
	stop := app.PreopDecision{Line: "atc:B01AF01", Drug: "XARELTO 20 mg", Action: "stop", LastDose: surgery.AddDate(0, 0, -3), By: "Dr A", At: day0}
	keep := app.PreopDecision{Line: "atc:C07AB07", Drug: "BISOPROLOL", Action: "continue", By: "Dr A", At: day0}
	if err := s.Write(ctx, &app.Batch{Preop: []app.PreopSet{{Patient: alice.ID, Inputs: &in, Put: []app.PreopDecision{stop}}}}); err != nil {
		t.Fatal(err)
	}
	// a second write without inputs keeps them, and merges its line
	if err := s.Write(ctx, &app.Batch{Preop: []app.PreopSet{{Patient: alice.ID, Put: []app.PreopDecision{keep}}}}); err != nil {
		t.Fatal(err)
	}
	got, err := s.PreopDecisions(ctx, alice.ID)
	if err != nil || len(got.Decisions) != 2 || !got.Inputs.Surgery.Equal(surgery) || got.Inputs.CrCl != 42 || got.Inputs.Bleeding != "high" {
		t.Fatalf("PreopDecisions = %+v, %v", got, err)
	}
	d, ok := got.Decision("atc:B01AF01")
	if !ok || d.Action != "stop" || !d.LastDose.Equal(stop.LastDose) || d.Drug != stop.Drug {
		t.Errorf("decision read back = %+v, %v", d, ok)
	}
	over := stop
	over.Action, over.Override, over.Reason, over.LastDose = "stop", true, "geste à risque majeur", surgery.AddDate(0, 0, -5)
	if err := s.Write(ctx, &app.Batch{Preop: []app.PreopSet{{Patient: alice.ID, Put: []app.PreopDecision{over}, Remove: []string{"atc:C07AB07"}}}}); err != nil {
		t.Fatal(err)
	}
	got, _ = s.PreopDecisions(ctx, alice.ID)
	if len(got.Decisions) != 1 || !got.Decisions[0].Override || got.Decisions[0].Reason != "geste à risque majeur" {
		t.Errorf("after an override and a removal = %+v", got.Decisions)
	}
	if err := s.Write(ctx, &app.Batch{Preop: []app.PreopSet{{Put: []app.PreopDecision{keep}}}}); !errors.Is(err, app.ErrInvalid) {
		t.Errorf("decisions without a patient: %v, want ErrInvalid", err)
	}
	if err := s.Write(ctx, &app.Batch{Preop: []app.PreopSet{{Patient: alice.ID, Put: []app.PreopDecision{{Action: "stop"}}}}}); !errors.Is(err, app.ErrInvalid) {
		t.Errorf("a decision without line: %v, want ErrInvalid", err)
	}
	if got, _ := s.PreopDecisions(ctx, bruno.ID); len(got.Decisions) != 0 {
		t.Errorf("another patient's decisions = %+v", got)
	}
	if rep, err := s.Check(ctx); err != nil || !rep.OK() {
		t.Errorf("Check with decisions = %+v, %v", rep, err)
	}
	if err := s.Purge(ctx, alice.ID); err != nil {
		t.Fatal(err)
	}
	if got, err := s.PreopDecisions(ctx, alice.ID); err == nil && len(got.Decisions) > 0 {
		t.Errorf("decisions of a purged patient = %+v", got)
	}
}

func testCheck(t *testing.T, newStore Factory) {
	ctx := context.Background()
	s := withPatients(t, newStore)
	doc := app.DocumentMeta{ID: "2.25.8", Date: day0}
	if err := s.Write(ctx, &app.Batch{
		Manifests: []app.Manifest{{Patient: alice.ID, Documents: []app.DocumentMeta{doc}}},
		Documents: []app.DocumentContent{{Patient: alice.ID, ID: doc.ID, Bytes: []byte("z")}},
		Outbox:    []app.OutboxItem{{ID: "o-9", Patient: alice.ID, Kind: "provide", CreatedAt: day0}},
		Audit:     []app.AuditEvent{{Time: day0, Action: "dmp.iti68", Patient: alice.ID, Result: "ok"}},
	}); err != nil {
		t.Fatal(err)
	}
	rep, err := s.Check(ctx)
	if err != nil || !rep.OK() {
		t.Fatalf("Check = %+v, %v", rep, err)
	}
	if rep.Patients != 2 || rep.Documents != 1 || rep.Outbox != 1 || rep.Audit < 1 {
		t.Errorf("Check counts = %+v, want 2 patients, 1 document, 1 outbox item, the audit", rep)
	}
}
