package meds_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/meds"
	"github.com/carnetdesk/carnet/app/terms"
)

// ownReport is a pre-anesthesia report Carnet signed today, restating the
// lines it was given.
var ownReport = app.MedicationSource{Document: "doc-carnet-cpa", TypeCode: "34749-2", Title: "CR de consultation pré-anesthésique",
	Date: date(2026, 11, 25), Author: "Dr Anesthésiste", Own: true}

func restated(lines []app.Medication) []app.Medication {
	var out []app.Medication
	for _, l := range lines {
		l.Kind, l.Source, l.Dispensed = app.MedicationTreatment, ownReport, time.Time{}
		out = append(out, l)
	}
	return out
}

// TestCircularity: once Carnet's report is signed, it is one more document
// of the record; it must not raise any entry's independent source count,
// nor make an old medication "recent", nor count as a declaration.
func TestCircularity(t *testing.T) {
	old := app.Medication{Kind: app.MedicationTreatment, Name: "LITHIUM", ATC: atc("N05AN01"), Source: letter} // 2025: older
	declared := app.Medication{Kind: app.MedicationDeclared, Name: "ramipril 5 mg", ATC: atc("C09AA05"), Source: app.MedicationSource{Date: date(2026, 11, 20), Author: "IDE"}}
	before := append(append(apixabanLines(), old), declared)
	after := append(append([]app.Medication{}, before...), restated(before)...)
	lb, la := meds.Consolidate(before, nil, now), meds.Consolidate(after, nil, now)
	eb, ea := entries(lb), entries(la)
	if len(eb) != len(ea) {
		t.Fatalf("%d entries before, %d after", len(eb), len(ea))
	}
	byID := map[string]meds.Entry{}
	for _, e := range eb {
		byID[e.ID] = e
	}
	for _, e := range ea {
		b := byID[e.ID]
		if e.Independent != b.Independent || e.Independent != len(b.Sources) {
			t.Errorf("%s: %d independent sources after signing, %d before (%d sources)", e.Name, e.Independent, b.Independent, len(b.Sources))
		}
		if len(e.Sources) != len(b.Sources)+1 {
			t.Errorf("%s: the report is not listed among the sources", e.Name)
		}
		if e.Recency != b.Recency || !e.LastActivity.Equal(b.LastActivity) {
			t.Errorf("%s: recency %s %v after signing, %s %v before", e.Name, e.Recency, e.LastActivity, b.Recency, b.LastActivity)
		}
		if got, want := meds.SourceKinds(&e), meds.SourceKinds(&b); len(got) != len(want) {
			t.Errorf("%s: kinds %v after, %v before", e.Name, got, want)
		}
	}
}

// TestRowsDecisions: flagged rows first with their proposals; accept and
// override (with its reason) reach the signed line decision.
func TestRowsDecisions(t *testing.T) {
	lines := append(apixabanLines(), app.Medication{Kind: app.MedicationDeclared, Name: "Doliprane", ATC: atc("N02BE01"),
		Source: app.MedicationSource{Date: date(2026, 11, 20)}})
	in := terms.DecisionInput{Surgery: date(2026, 12, 10), Bleeding: terms.BleedingHigh, CrCl: 80}
	rows := meds.Rows(meds.Consolidate(lines, nil, now), in)
	if len(rows) != 2 || !rows[0].Flagged() || rows[1].Flagged() {
		t.Fatalf("rows %+v", rows)
	}
	r := &rows[0]
	if r.Proposal.Action != terms.ActionStop || !r.Proposal.LastDose.Equal(date(2026, 12, 7)) {
		t.Fatalf("apixaban proposal %+v", r.Proposal)
	}
	if p := meds.ReadyToSign(rows, false); len(p) != 1 || p[0].Row != 0 {
		t.Fatalf("problems %+v", p) // the declaration is there (Doliprane); apixaban undecided
	}
	if err := r.Override(terms.ActionStop, date(2026, 12, 6), ""); !errors.Is(err, terms.ErrNoReason) {
		t.Fatal("override without a reason accepted")
	}
	if err := r.Override(terms.ActionStop, date(2026, 12, 6), "ClCr fluctuante"); err != nil {
		t.Fatal(err)
	}
	rows[1].Discrepancy = meds.DiscrepancyUnintentional
	if p := meds.ReadyToSign(rows, false); len(p) != 1 || p[0].Row != 1 {
		t.Fatalf("problems %+v", p)
	}
	rows[1].Comment = "oubli de l'ordonnance"
	if p := meds.ReadyToSign(rows, false); len(p) != 0 {
		t.Fatalf("problems %+v", p)
	}
	d := r.LineDecision()
	if d.Action != "Arrêter" || !d.LastDose.Equal(date(2026, 12, 6)) || d.Reason != "ClCr fluctuante" || d.Compared != "dispensation, document" {
		t.Fatalf("line decision %+v", d)
	}
	meds.Repropose(rows, terms.DecisionInput{Surgery: date(2026, 12, 20), Bleeding: terms.BleedingHigh, CrCl: 80})
	if rows[0].Decision.Reason != "ClCr fluctuante" || !rows[0].Proposal.LastDose.Equal(date(2026, 12, 17)) {
		t.Fatalf("override lost on new inputs: %+v", rows[0])
	}
	rows[1].Accept()
	if d := rows[1].LineDecision(); d.Action != "Poursuivre" || d.Discrepancy != "non intentionnelle" || d.Compared != "déclaration" {
		t.Fatalf("%+v", d)
	}
	// only declarations: not enough
	only := meds.Rows(meds.Consolidate(lines[len(lines)-1:], nil, now), in)
	if p := meds.ReadyToSign(only, true); len(p) != 1 || p[0].Row != -1 {
		t.Fatalf("declaration alone: %+v", p)
	}
}

// TestRowUndo: a decision taken back leaves the row undecided, signed as
// its proposal again (the override's reason gone), its reconciliation kept.
func TestRowUndo(t *testing.T) {
	in := terms.DecisionInput{Surgery: date(2026, 12, 10), Bleeding: terms.BleedingHigh, CrCl: 80}
	rows := meds.Rows(meds.Consolidate(apixabanLines(), nil, now), in)
	r := &rows[0]
	if err := r.Override(terms.ActionContinue, time.Time{}, "valve mécanique"); err != nil {
		t.Fatal(err)
	}
	r.Discrepancy, r.Comment = meds.DiscrepancyIntentional, "vu avec le cardiologue"
	r.Undo()
	if r.Decided || r.Decision.Reason != "" {
		t.Fatalf("after undo: decided %v, %+v", r.Decided, r.Decision)
	}
	d := r.LineDecision()
	if d.Action != "Arrêter" || !d.LastDose.Equal(date(2026, 12, 7)) || strings.Contains(d.Reason, "valve") {
		t.Errorf("line decision after undo %+v, want the proposal", d)
	}
	if s := r.Saved(); s.Action != "" || s.Discrepancy != "intentional" || s.Comment != "vu avec le cardiologue" {
		t.Errorf("saved after undo %+v, want the reconciliation only", s)
	}
	if p := meds.ReadyToSign(rows, false); len(p) == 0 {
		t.Error("an undone flagged row is ready to sign")
	}
}
