package ui

import (
	"context"
	"errors"
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/apptest"
)

// declaredSources counts the sources of the list declared by the patient.
func declaredSources(v *medsView) int {
	n := 0
	for _, g := range v.list.Groups {
		for _, e := range g.Entries {
			for _, s := range e.Sources {
				if s.Declared {
					n++
				}
			}
		}
	}
	return n
}

func TestMedsDeclare(t *testing.T) {
	f, v, _ := openMeds(t)
	v.start()
	f.wait()
	v.showDetails() // the detail by class, built on demand
	p := v.declared
	if !f.shows("Déclaré par le patient") || !f.shows("Aucun médicament déclaré par le patient.") {
		t.Fatal("no declaration part, or its empty state not said")
	}
	// A name is required, before the service.
	test.Type(p.dose, "1 comprimé")
	test.Tap(p.add)
	f.wait()
	assertText(t, "message", p.msg.Text, "Indiquez le nom du médicament.")

	test.Type(p.name, "Millepertuis")
	test.Type(p.freq, "le soir")
	test.Tap(p.add)
	if !p.progress.box.Visible() || !p.add.Disabled() {
		t.Error("no progress while saving the declaration")
	}
	f.wait()
	assertText(t, "message", p.msg.Text, "Déclaration enregistrée.")
	if p.name.Text != "" || p.dose.Text != "" || p.freq.Text != "" {
		t.Error("the form was not cleared")
	}
	ds, err := f.store.Declarations(context.Background(), "p1")
	if err != nil || len(ds) != 1 {
		t.Fatalf("stored declarations %+v, %v", ds, err)
	}
	m := ds[0].Medication
	if m.Name != "Millepertuis" || m.Dose != "1 comprimé" || m.Frequency != "le soir" || m.Kind != app.MedicationDeclared || m.Source.Author != app.DeclaredByStaff {
		t.Fatalf("declaration %+v", m)
	}
	// The list was read again: the declaration is an entry of its own
	// source, and listed with its remove button.
	if v.list.Entries != 6 || declaredSources(v) != 1 {
		t.Fatalf("%d entries, %d declared sources; want 6 and 1", v.list.Entries, declaredSources(v))
	}
	for _, want := range []string{"Millepertuis · 1 comprimé · le soir", "saisi le 02/03/2026 par l'équipe (sans carte)", "Déclaration du patient du 02/03/2026"} {
		if !f.shows(want) {
			t.Errorf("the view does not show %q", want)
		}
	}
	if f.shows("Aucun médicament déclaré par le patient.") {
		t.Error("the empty state is still shown")
	}
	if buttonWith(p.list, "Retirer") == nil {
		t.Error("no remove button")
	}
	// Audited.
	if evs := f.store.Events(); evs[len(evs)-1].Action != "meds.declare" {
		t.Errorf("last audit event %+v", evs[len(evs)-1])
	}
}

func TestMedsDeclareRemove(t *testing.T) {
	f, v, _ := openMeds(t)
	ctx := context.Background()
	f.signIn(testDoctor, &apptest.Records{})
	if _, err := f.svc.DeclareMedication(ctx, "p1", app.Medication{Name: "Doliprane 1 g", Frequency: "si douleur"}); err != nil {
		t.Fatal(err)
	}
	v.start()
	f.wait()
	if !f.shows("saisi le 02/03/2026 par Dr Anne Durand") {
		t.Fatal("the declaration is not listed with its author")
	}
	// Cancelling the confirmation keeps it.
	test.Tap(buttonWith(v.declared.list, "Retirer"))
	if v.dialog == nil || !f.shows("Retirer « Doliprane 1 g » des médicaments déclarés par le patient ?") {
		t.Fatal("no confirmation before removing")
	}
	f.tapDialogButton("Annuler")
	f.wait()
	if ds, _ := f.store.Declarations(ctx, "p1"); len(ds) != 1 {
		t.Fatal("removed after a cancelled confirmation")
	}
	test.Tap(buttonWith(v.declared.list, "Retirer"))
	f.tapDialogButton("Retirer")
	f.wait()
	if ds, _ := f.store.Declarations(ctx, "p1"); len(ds) != 0 {
		t.Fatalf("still stored: %+v", ds)
	}
	assertText(t, "message", v.declared.msg.Text, "Déclaration retirée.")
	if len(v.declared.list.Objects) != 0 || !f.shows("Aucun médicament déclaré par le patient.") {
		t.Error("the declaration is still listed")
	}
	if declaredSources(v) != 0 {
		t.Error("the list still has a declared source")
	}
}

// reconcileChecks returns the checkboxes of the reconciliation dialog.
func reconcileChecks(t *testing.T, v *medsView) []*widget.Check {
	t.Helper()
	if v.reconciling == nil {
		t.Fatal("no reconciliation dialog")
	}
	var out []*widget.Check
	for _, c := range v.reconciling.choices {
		out = append(out, c.check)
	}
	return out
}

func TestMedsReconcile(t *testing.T) {
	f, v, _ := openMeds(t)
	ctx := context.Background()
	w := &apptest.Writer{}
	f.svc.SetDocumentWriter(w)
	var written []app.DocumentMeta
	v.onWritten = func(m app.DocumentMeta) { written = append(written, m) }
	if _, err := f.svc.DeclareMedication(ctx, "p1", app.Medication{Name: "Tisane de millepertuis"}); err != nil {
		t.Fatal(err)
	}
	if !v.reconcile.Disabled() {
		t.Error("reconcile enabled before the list is read")
	}
	v.start()
	f.wait()

	// Without a card: said, no dialog.
	test.Tap(v.reconcile)
	if v.reconciling != nil {
		t.Fatal("dialog opened without a card")
	}
	assertText(t, "message", v.recMsg.Text, "Votre carte est nécessaire pour signer la réconciliation : connectez-vous.")

	f.signIn(testDoctor, &apptest.Records{})
	test.Tap(v.reconcile)
	checks := reconcileChecks(t, v)
	if len(checks) != v.list.Entries || len(checks) != 6 {
		t.Fatalf("%d checkboxes for %d entries, want 6", len(checks), v.list.Entries)
	}
	declaredLabel := ""
	for _, c := range checks {
		if !c.Checked {
			t.Errorf("%q not checked at first", c.Text)
		}
		if strings.Contains(c.Text, "déclaré par le patient") {
			declaredLabel = c.Text
		}
	}
	if declaredLabel != "Tisane de millepertuis — déclaré par le patient" {
		t.Errorf("declared entry labelled %q", declaredLabel)
	}
	if !f.shows("Réconciliation médicamenteuse — CR de consultation pré-anesthésique") {
		t.Error("dialog title not shown")
	}
	// Untick one, write the conclusion, sign.
	var dropped string
	for _, c := range checks {
		if strings.HasPrefix(c.Text, "AMLODIPINE") {
			dropped = c.Text
			test.Tap(c)
		}
	}
	if dropped == "" {
		t.Fatal("no AMLODIPINE entry")
	}
	test.Type(v.reconciling.conclusion, "Arrêt de l'apixaban 48 h avant.")
	f.tapDialogButton("Signer et envoyer")
	f.wait()
	assertText(t, "message", v.recMsg.Text,
		"Envoyé dès que possible : le compte rendu pré-anesthésique est dans le dossier et sera envoyé au DMP dès que le service répond.")

	rs := w.Reconciliations()
	if len(rs) != 1 || len(rs[0].Lines) != 5 || rs[0].Conclusion != "Arrêt de l'apixaban 48 h avant." {
		t.Fatalf("reconciliations %+v", rs)
	}
	declared := 0
	for _, l := range rs[0].Lines {
		if strings.HasPrefix(l.Name, "AMLODIPINE") {
			t.Error("an unticked entry was reconciled")
		}
		if l.Kind == app.MedicationDeclared {
			declared++
			if l.Name != "Tisane de millepertuis" {
				t.Errorf("declared line %+v", l)
			}
		}
		if strings.HasPrefix(l.Name, "ELIQUIS") && l.ATC.Code != "B01AF02" {
			t.Errorf("ELIQUIS reconciled without its ATC: %+v", l.ATC)
		}
	}
	if declared != 1 {
		t.Errorf("%d declared lines, want 1", declared)
	}
	// In the outbox, in the record (the host hears of it).
	out, _ := f.svc.Outbox(ctx)
	if len(out) != 1 || out[0].Meta.TypeCode != "34749-2" || out[0].State != app.OutboxPending {
		t.Fatalf("outbox %+v", out)
	}
	if len(written) != 1 || written[0].ID != out[0].Meta.ID {
		t.Fatalf("written %+v", written)
	}
}

func TestMedsReconcileRefused(t *testing.T) {
	f, v, _ := openMeds(t)
	f.svc.SetDocumentWriter(&apptest.Writer{Err: errors.New("writer down")})
	f.signIn(testDoctor, &apptest.Records{})
	if _, err := f.svc.DeclareMedication(context.Background(), "p1", app.Medication{Name: "Doliprane"}); err != nil {
		t.Fatal(err) // the HAS method: the declaration and another source
	}
	v.start()
	f.wait()
	test.Tap(v.reconcile)
	reconcileChecks(t, v)
	// Cancel: nothing written.
	f.tapDialogButton("Annuler")
	f.wait()
	if out, _ := f.svc.Outbox(context.Background()); len(out) != 0 || v.reconciling != nil {
		t.Fatal("a cancelled reconciliation was written")
	}
	test.Tap(v.reconcile)
	f.tapDialogButton("Signer et envoyer")
	f.wait()
	if v.recMsg.Importance != widget.DangerImportance || v.recMsg.Text == "" || v.reconcile.Disabled() {
		t.Errorf("failure shown as %q (%v), button disabled %v", v.recMsg.Text, v.recMsg.Importance, v.reconcile.Disabled())
	}
}

// TestMedsReconcileInRecord: in the record, the report appears in the
// record's documents at once and the list is read again with it.
func TestMedsReconcileInRecord(t *testing.T) {
	f := newLockedFixture(t, Options{})
	docs, cds := medsDocuments()
	seedRecord(f, docs, cds)
	f.svc.SetDocumentWriter(&apptest.Writer{})
	f.signIn(testDoctor, &apptest.Records{})
	if _, err := f.svc.DeclareMedication(context.Background(), "p1", app.Medication{Name: "Doliprane"}); err != nil {
		t.Fatal(err) // the HAS method: the declaration and another source
	}
	s := f.u.shell
	r := f.openRecord(s, "mart")
	var tab *medsTab
	for i, rt := range r.tabList {
		if mt, ok := rt.(*medsTab); ok {
			tab = mt
			r.tabs.SelectIndex(i)
		}
	}
	f.wait()
	before := len(r.record().Manifest.Documents)
	test.Tap(tab.v.reconcile)
	f.tapDialogButton("Signer et envoyer")
	f.wait()
	docsNow := r.record().Manifest.Documents
	if len(docsNow) != before+1 || docsNow[0].TypeCode != "34749-2" {
		t.Fatalf("record documents %d (was %d), first %+v", len(docsNow), before, docsNow[0])
	}
	if !tab.v.loaded {
		t.Error("the list was not read again")
	}
	// The test reader gives the report no entry: the list offers it to read.
	found := false
	for _, d := range tab.v.list.Unstructured {
		found = found || d.Meta.ID == docsNow[0].ID
	}
	if !found {
		t.Error("the list does not know the report")
	}
	for _, rt := range r.tabList {
		if d, ok := rt.(*documentsTab); ok {
			if len(d.shown) == 0 || d.shown[0].ID != docsNow[0].ID {
				t.Error("the Documents tab does not list the report first")
			}
		}
	}
	if len(s.written["p1"]) != 1 {
		t.Error("the shell does not know the report was written")
	}
}
