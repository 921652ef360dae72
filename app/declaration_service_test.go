package app_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/apptest"
	"github.com/carnetdesk/carnet/app/cda"
	"github.com/carnetdesk/carnet/app/meds"
)

// declPatient is a qualified patient with every trait the CDA header needs.
var declPatient = app.Patient{ID: "p1", INS: app.INS{Matricule: "279035121518989", OID: app.OIDINSNIRTest},
	Status: app.IdentityQualified, BirthName: "HÉBERT", BirthGivenNames: "Zoé Anne", BirthDate: "1979-03-28",
	Sex: app.SexFemale, BirthPlace: "51215"}

// declService is an unlocked service over a store holding declPatient and
// p2 (validated, not qualified), with a dispensing history in the record.
func declService(t *testing.T) (*app.Service, *apptest.Store, *apptest.Clock) {
	t.Helper()
	p2 := declPatient
	p2.ID, p2.Status = "p2", app.IdentityValidated
	store := apptest.NewLockedStore(pass, declPatient, p2)
	clock := apptest.NewClock(serverNow)
	svc := app.NewService(app.Deps{Store: store, Clock: clock, Reader: &apptest.Reader{}})
	ctx := context.Background()
	if _, err := svc.Unlock(ctx, []byte(pass)); err != nil {
		t.Fatal(err)
	}
	meta := app.DocumentMeta{ID: "disp", TypeCode: "60593-1", Title: "Historique", Date: serverNow.AddDate(0, -1, 0), Author: "Assurance Maladie", Version: 1}
	if err := store.Write(ctx, &app.Batch{
		Manifests: []app.Manifest{{Patient: "p1", Documents: []app.DocumentMeta{meta}}},
		Documents: []app.DocumentContent{{Patient: "p1", ID: "disp", Bytes: []byte("med: KARDEGIC 75 mg")}},
	}); err != nil {
		t.Fatal(err)
	}
	return svc, store, clock
}

func auditActions(t *testing.T, store *apptest.Store, prefix string) []app.AuditEvent {
	t.Helper()
	var out []app.AuditEvent
	for _, e := range store.Events() {
		if strings.HasPrefix(e.Action, prefix) {
			out = append(out, e)
		}
	}
	return out
}

func TestDeclareMedication(t *testing.T) {
	ctx := context.Background()
	svc, store, clock := declService(t)

	// Without a session: entered by local staff.
	d1, err := svc.DeclareMedication(ctx, "p1", app.Medication{Kind: app.MedicationTreatment, Name: "  Tisane de millepertuis ",
		Frequency: "le soir", Dispensed: serverNow, Source: app.MedicationSource{Document: "forged", Author: "x"}})
	if err != nil {
		t.Fatal(err)
	}
	m := d1.Medication
	if d1.ID == "" || m.Kind != app.MedicationDeclared || m.Name != "Tisane de millepertuis" || m.Frequency != "le soir" ||
		m.Source.Author != app.DeclaredByStaff || m.Source.Document != "" || !m.Source.Date.Equal(serverNow) || !m.Dispensed.IsZero() {
		t.Fatalf("declaration %+v", d1)
	}
	// Signed in: the practitioner's name.
	svc.SignIn(app.Session{Practitioner: doctor, Records: &apptest.Records{}})
	clock.Advance(time.Minute)
	d2, err := svc.DeclareMedication(ctx, "p1", app.Medication{Name: "Ozempic", Dose: "1 mg", Frequency: "1 fois par semaine"})
	if err != nil {
		t.Fatal(err)
	}
	if d2.Medication.Source.Author != doctor.Name || d2.ID == d1.ID {
		t.Fatalf("second declaration %+v", d2)
	}

	// Refused: no name, a bad ATC, a bad product code, dates backwards,
	// an unknown patient.
	for name, m := range map[string]app.Medication{
		"no name":   {Name: "   ", Dose: "1 cp"},
		"bad ATC":   {Name: "X", ATC: app.Code{Code: "B01A F"}},
		"bad CIS":   {Name: "X", Product: app.Code{Code: "12", System: app.SystemCIS}},
		"backwards": {Name: "X", Start: serverNow, End: serverNow.AddDate(0, -1, 0)},
		"control":   {Name: "X\x00Y"},
		"too long":  {Name: strings.Repeat("é", 201)},
	} {
		if _, err := svc.DeclareMedication(ctx, "p1", m); !errors.Is(err, app.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	if _, err := svc.DeclareMedication(ctx, "nobody", app.Medication{Name: "X"}); !errors.Is(err, app.ErrNotFound) {
		t.Errorf("unknown patient: %v", err)
	}

	ds, err := svc.Declarations(ctx, "p1")
	if err != nil || len(ds) != 2 || ds[0].ID != d1.ID || ds[1].ID != d2.ID {
		t.Fatalf("declarations %+v, %v", ds, err)
	}

	// ReadMedications returns them as lines of their own source, and the
	// consolidated list shows them as declared by the patient.
	r, err := svc.ReadMedications(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Lines) != 3 || r.Lines[0].Name != "KARDEGIC 75 mg" || r.Lines[1].Kind != app.MedicationDeclared || r.Lines[2].Name != "Ozempic" {
		t.Fatalf("lines %+v", r.Lines)
	}
	list := meds.Consolidate(r.Lines, r.Metas(), serverNow)
	declared := 0
	for _, g := range list.Groups {
		for _, e := range g.Entries {
			for _, s := range e.Sources {
				if s.Declared {
					declared++
					if s.Document != "" || s.TypeLabel != "Déclaration du patient" {
						t.Errorf("declared source %+v", s)
					}
				}
			}
		}
	}
	if declared != 2 {
		t.Errorf("%d declared sources in the list, want 2", declared)
	}
	// A patient with no manifest still has its declarations.
	if _, err := svc.DeclareMedication(ctx, "p2", app.Medication{Name: "Doliprane"}); err != nil {
		t.Fatal(err)
	}
	if r, err := svc.ReadMedications(ctx, "p2"); err != nil || len(r.Lines) != 1 || r.Lines[0].Kind != app.MedicationDeclared {
		t.Fatalf("p2 reading %+v, %v", r, err)
	}

	// Removal.
	if err := svc.RemoveDeclaration(ctx, "p1", d1.ID); err != nil {
		t.Fatal(err)
	}
	if err := svc.RemoveDeclaration(ctx, "p1", d1.ID); !errors.Is(err, app.ErrNotFound) {
		t.Errorf("second removal: %v", err)
	}
	if ds, _ := svc.Declarations(ctx, "p1"); len(ds) != 1 || ds[0].ID != d2.ID {
		t.Fatalf("after removal %+v", ds)
	}
	if rep, _ := store.Check(ctx); rep.Declared != 2 {
		t.Errorf("check counts %d declarations, want 2", rep.Declared)
	}

	// Audited, without health data.
	evs := auditActions(t, store, "meds.")
	var actions []string
	for _, e := range evs {
		actions = append(actions, e.Action+":"+e.Result)
		if strings.Contains(e.Detail, "Ozempic") || strings.Contains(e.Detail, "millepertuis") {
			t.Errorf("audit detail holds health data: %q", e.Detail)
		}
	}
	want := "meds.declare:ok meds.declare:ok meds.declare:ok meds.undeclare:ok"
	if got := strings.Join(actions, " "); got != want {
		t.Errorf("audit %q, want %q", got, want)
	}
	if evs[0].Practitioner != app.LocalOperator() || evs[1].Practitioner != doctor.RPPS {
		t.Errorf("audit practitioners %q, %q", evs[0].Practitioner, evs[1].Practitioner)
	}

	// Purge forgets them; locked, nothing reads.
	if err := store.Purge(ctx, "p2"); err != nil {
		t.Fatal(err)
	}
	if rep, _ := store.Check(ctx); rep.Declared != 1 {
		t.Errorf("after purge: %d declarations", rep.Declared)
	}
	svc.Lock(app.LockByUser)
	if _, err := svc.DeclareMedication(ctx, "p1", app.Medication{Name: "X"}); !errors.Is(err, app.ErrLocked) {
		t.Errorf("locked: %v", err)
	}
}

func TestReconcileFake(t *testing.T) {
	ctx := context.Background()
	svc, store, _ := declService(t)
	w := &apptest.Writer{}
	svc.SetDocumentWriter(w)
	lines := []app.Medication{{Kind: app.MedicationDispensed, Name: "KARDEGIC 75 mg"}, {Kind: app.MedicationDeclared, Name: "Tisane"}}

	if _, err := svc.Reconcile(ctx, "p1", lines, "RAS"); !errors.Is(err, app.ErrCredential) {
		t.Fatalf("without a session: %v, want ErrCredential", err)
	}
	svc.SignIn(app.Session{Practitioner: doctor, Records: &apptest.Records{}})
	if _, err := svc.Reconcile(ctx, "p2", lines, "RAS"); app.Denial(err) != app.DeniedNotQualified {
		t.Fatalf("not qualified: %v, want DeniedNotQualified", err)
	}
	if _, err := svc.Reconcile(ctx, "p1", []app.Medication{{Name: " "}}, ""); !errors.Is(err, app.ErrInvalid) {
		t.Fatalf("nameless line: %v, want ErrInvalid", err)
	}
	item, err := svc.Reconcile(ctx, "p1", lines, "Poursuivre le Kardégic.")
	if err != nil {
		t.Fatal(err)
	}
	if item.State != app.OutboxPending || item.Kind != app.OutboxProvide || item.Meta.TypeCode != "34749-2" || item.Meta.Source != "carnet" {
		t.Fatalf("item %+v", item)
	}
	rs := w.Reconciliations()
	if len(rs) != 1 || len(rs[0].Lines) != 2 || rs[0].Conclusion != "Poursuivre le Kardégic." {
		t.Fatalf("writer got %+v", rs)
	}
	// In the outbox and readable at once in the record.
	out, _ := svc.Outbox(ctx)
	if len(out) != 1 || out[0].ID != item.ID {
		t.Fatalf("outbox %+v", out)
	}
	m, _ := store.Manifest(ctx, "p1")
	if _, ok := m.Document(item.Meta.ID); !ok {
		t.Fatal("the report is not in the record")
	}
	if b, err := svc.Document(ctx, "p1", item.Meta.ID, app.Access{}); err != nil || !strings.Contains(string(b), "declared: Tisane") {
		t.Fatalf("report content %q, %v", b, err)
	}
	evs := auditActions(t, store, "meds.reconcile")
	if len(evs) != 1 || evs[0].Result != "ok" || evs[0].Practitioner != doctor.RPPS || evs[0].Patient != "p1" {
		t.Fatalf("audit %+v", evs)
	}
	w.Err = errors.New("writer down")
	if _, err := svc.Reconcile(ctx, "p1", lines, ""); err == nil {
		t.Fatal("a writer failure is not reported")
	}
}

// TestReconcileCDA reconciles with the real CDA writer: the document read
// back is a pre-anesthesia consultation with the reconciled lines as
// medication entries, the declared ones marked declared.
func TestReconcileCDA(t *testing.T) {
	ctx := context.Background()
	svc, _, _ := declService(t)
	// The fake documents in the line format, the written ones in CDA.
	svc.SetDocumentReader(&apptest.Reader{ReadFn: func(content []byte, meta app.DocumentMeta) (app.ClinicalDocument, error) {
		if strings.HasPrefix(string(content), "<?xml") || strings.HasPrefix(string(content), "<ClinicalDocument") {
			return cda.Reader{}.Read(content, meta)
		}
		return (&apptest.Reader{}).Read(content, meta)
	}})
	svc.SetDocumentWriter(cda.Writer{FacilityType: app.Code{Code: "SA04", System: "1.2.250.1.71.4.2.4", Display: "Etablissement privé non PSPH"}, AllowTestINS: true})
	anest := app.Practitioner{RPPS: "810000000001", Name: "Dr Anne Durand", Structure: app.Structure{ID: "1750000001", Name: "Clinique du Parc"}}
	svc.SignIn(app.Session{Practitioner: anest, Records: &apptest.Records{}})
	if _, err := svc.DeclareMedication(ctx, "p1", app.Medication{Name: "Tisane de millepertuis", Frequency: "le soir"}); err != nil {
		t.Fatal(err)
	}
	r, err := svc.ReadMedications(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	lines := append(r.Lines,
		app.Medication{Kind: app.MedicationDispensed, Name: "ELIQUIS 5 mg", ATC: app.Code{Code: "B01AF02", System: app.SystemATC},
			Product: app.Code{Code: "3400938450124", System: app.SystemCNAMCIP}, Source: app.MedicationSource{Document: "disp", Title: "Historique", Date: serverNow}},
		app.Medication{Kind: app.MedicationTreatment, Name: "PRODUIT X", Product: app.Code{Code: "1234567", System: app.SystemCNAMCIP}}, // CIP7: the code is dropped
	)
	item, err := svc.Reconcile(ctx, "p1", lines, "Arrêt de l'Eliquis 48 h avant.\n\nPoursuivre le reste.")
	if err != nil {
		t.Fatal(err)
	}
	content, err := svc.Document(ctx, "p1", item.Meta.ID, app.Access{})
	if err != nil {
		t.Fatal(err)
	}
	doc, err := cda.ParseBytes(content, cda.Options{})
	if err != nil {
		t.Fatalf("the written report does not parse: %v", err)
	}
	if doc.Type.Code != "34749-2" || doc.ID != item.Meta.ID || item.Meta.TypeCode != "34749-2" || item.Meta.ClassCode != app.ClassReport {
		t.Fatalf("type %+v id %q, item %+v", doc.Type, doc.ID, item.Meta)
	}
	if len(doc.Medications) != 4 {
		t.Fatalf("%d medication entries, want 4: %+v", len(doc.Medications), doc.Medications)
	}
	byName := map[string]app.Medication{}
	for _, m := range doc.Medications {
		byName[m.Name] = m
	}
	if m := byName["Tisane de millepertuis"]; m.Kind != app.MedicationDeclared {
		t.Errorf("declared line read back as %+v", m)
	}
	// The frequency as text is in the table (the entry carries only a
	// structured period).
	if !strings.Contains(string(content), "<td>le soir</td>") || !strings.Contains(string(content), "Déclaré par le patient") {
		t.Error("the table lacks the declared line's frequency or source")
	}
	if m := byName["KARDEGIC 75 mg"]; m.Kind == app.MedicationDeclared || m.Kind == "" {
		t.Errorf("document line read back as %+v", m)
	}
	if m := byName["ELIQUIS 5 mg"]; m.ATC.Code != "B01AF02" || m.Product.Code != "3400938450124" || m.Kind == app.MedicationDeclared {
		t.Errorf("coded line read back as %+v", m)
	}
	if m, ok := byName["PRODUIT X"]; !ok || !m.Product.IsZero() {
		t.Errorf("line with a bad code read back as %+v", m)
	}
	text := string(content)
	if !strings.Contains(text, "Arrêt de l'Eliquis 48 h avant.") && !strings.Contains(text, "Arrêt de l&apos;Eliquis 48 h avant.") && !strings.Contains(text, "Arrêt de l&#39;Eliquis 48 h avant.") {
		t.Error("the conclusion is not in the report")
	}
	// The consolidated list now counts the report as a source, and the
	// declaration remains its own source.
	r, err = svc.ReadMedications(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	list := meds.Consolidate(r.Lines, r.Metas(), serverNow)
	found := false
	for _, g := range list.Groups {
		for _, e := range g.Entries {
			for _, s := range e.Sources {
				if s.Document == item.Meta.ID {
					found = true
				}
			}
		}
	}
	if !found {
		t.Error("the report is not a source of the consolidated list")
	}
}
