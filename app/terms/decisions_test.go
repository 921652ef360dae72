package terms_test

import (
	"errors"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app/terms"
)

// TestProposeLastDose: each class and clearance band gives the expected
// last-dose date for a surgery on Thursday 10 December 2026 (values of the
// sources the rules cite: GIHP 2015 for the DOACs, GIHP/ESC 2022 for the
// antiplatelets, SGLT2 safety information, SFAR/SFD 2017, Challet 2007).
func TestProposeLastDose(t *testing.T) {
	surgery := time.Date(2026, 12, 10, 0, 0, 0, 0, time.UTC)
	d := func(day int) time.Time { return time.Date(2026, 12, day, 0, 0, 0, 0, time.UTC) }
	tests := []struct {
		name     string
		atc      string
		bleeding terms.BleedingRisk
		crcl     float64
		action   terms.Action
		last     time.Time
		missing  bool
	}{
		{"rivaroxaban high", "B01AF01", terms.BleedingHigh, 80, terms.ActionStop, d(7), false},
		{"apixaban high", "B01AF02", terms.BleedingHigh, 45, terms.ActionStop, d(7), false},
		{"edoxaban high", "B01AF03", terms.BleedingHigh, 31, terms.ActionStop, d(7), false},
		{"apixaban high ClCr<30", "B01AF02", terms.BleedingHigh, 25, terms.ActionDiscuss, time.Time{}, false},
		{"apixaban low", "B01AF02", terms.BleedingLow, 0, terms.ActionStop, d(9), false},
		{"apixaban high, ClCr unknown", "B01AF02", terms.BleedingHigh, 0, terms.ActionDiscuss, time.Time{}, true},
		{"apixaban, bleeding unknown", "B01AF02", terms.BleedingUnknown, 80, terms.ActionDiscuss, time.Time{}, true},
		{"dabigatran high ClCr>50", "B01AE07", terms.BleedingHigh, 60, terms.ActionStop, d(6), false},
		{"dabigatran high ClCr=50", "B01AE07", terms.BleedingHigh, 50, terms.ActionStop, d(6), false},
		{"dabigatran high ClCr 30-50", "B01AE07", terms.BleedingHigh, 40, terms.ActionStop, d(5), false},
		{"dabigatran ClCr<30", "B01AE07", terms.BleedingHigh, 20, terms.ActionDiscuss, time.Time{}, false},
		{"dabigatran low", "B01AE07", terms.BleedingLow, 70, terms.ActionStop, d(9), false},
		{"warfarin", "B01AA03", terms.BleedingHigh, 0, terms.ActionBridge, d(5), false},
		{"fluindione", "B01AA12", terms.BleedingLow, 0, terms.ActionBridge, d(5), false},
		{"enoxaparin", "B01AB05", terms.BleedingHigh, 0, terms.ActionStop, d(9), false},
		{"clopidogrel", "B01AC04", terms.BleedingHigh, 0, terms.ActionStop, d(4), false},
		{"ticagrelor", "B01AC24", terms.BleedingLow, 0, terms.ActionStop, d(4), false},
		{"prasugrel", "B01AC22", terms.BleedingHigh, 0, terms.ActionStop, d(2), false},
		{"aspirin low", "B01AC06", terms.BleedingLow, 0, terms.ActionContinue, time.Time{}, false},
		{"aspirin high", "B01AC06", terms.BleedingHigh, 0, terms.ActionDiscuss, time.Time{}, false},
		{"dapagliflozin", "A10BK01", terms.BleedingLow, 0, terms.ActionStop, d(6), false},
		{"empagliflozin", "A10BK03", terms.BleedingHigh, 0, terms.ActionStop, d(6), false},
		{"ertugliflozin", "A10BK04", terms.BleedingLow, 0, terms.ActionStop, d(5), false},
		{"metformin+dapagliflozin", "A10BD15", terms.BleedingLow, 0, terms.ActionStop, d(6), false},
		{"semaglutide", "A10BJ06", terms.BleedingLow, 0, terms.ActionAdapt, time.Time{}, false},
		{"metformin", "A10BA02", terms.BleedingLow, 0, terms.ActionStop, d(9), false},
		{"insulin glargine", "A10AE04", terms.BleedingLow, 0, terms.ActionAdapt, time.Time{}, false},
		{"lithium", "N05AN01", terms.BleedingLow, 0, terms.ActionStop, d(8), false},
		{"tranylcypromine", "N06AF04", terms.BleedingLow, 0, terms.ActionDiscuss, time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC), false},
		{"moclobemide", "N06AG02", terms.BleedingLow, 0, terms.ActionStop, d(9), false},
		{"ramipril", "C09AA05", terms.BleedingLow, 0, terms.ActionStop, d(9), false},
		{"losartan", "C09CA01", terms.BleedingLow, 0, terms.ActionStop, d(9), false},
		{"bisoprolol", "C07AB07", terms.BleedingLow, 0, terms.ActionContinue, time.Time{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, ok := terms.Propose(tt.atc, terms.DecisionInput{Surgery: surgery, Bleeding: tt.bleeding, CrCl: tt.crcl})
			if !ok {
				t.Fatal("no rule")
			}
			if p.Action != tt.action || !p.LastDose.Equal(tt.last) || (p.Missing != "") != tt.missing {
				t.Fatalf("%s: %s last %v missing %q, want %s %v missing %v", tt.atc, p.Action, p.LastDose, p.Missing, tt.action, tt.last, tt.missing)
			}
			if p.Missing == "" && len(p.Sources) == 0 {
				t.Errorf("rule %s cites no resolvable source", p.Rule.ID)
			}
		})
	}
	if _, ok := terms.Propose("N02BE01", terms.DecisionInput{Surgery: surgery}); ok {
		t.Error("paracetamol has a rule")
	}
	if p, _ := terms.Propose("B01AF02", terms.DecisionInput{Bleeding: terms.BleedingHigh, CrCl: 80}); p.Missing == "" || !p.LastDose.IsZero() {
		t.Errorf("no surgery date: %+v", p)
	}
}

// TestDecisionRulesSourced: every rule has sources the table resolves and
// a publication date.
func TestDecisionRulesSourced(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range terms.DecisionRules() {
		if seen[r.ID] || r.Text == "" || r.Date.IsZero() || !r.Action.Valid() || len(r.Sources) == 0 {
			t.Errorf("rule %+v incomplete", r)
		}
		seen[r.ID] = true
	}
	if terms.DecisionStatus != "à valider cliniquement" {
		t.Error("status")
	}
}

// TestOverrideKeepsReason: an override keeps its reason and needs one.
func TestOverrideKeepsReason(t *testing.T) {
	p, _ := terms.Propose("B01AF02", terms.DecisionInput{Surgery: time.Date(2026, 12, 10, 0, 0, 0, 0, time.UTC), Bleeding: terms.BleedingHigh, CrCl: 80})
	if _, err := terms.Override(p, terms.ActionStop, p.LastDose, "  "); !errors.Is(err, terms.ErrNoReason) {
		t.Fatalf("override without reason: %v", err)
	}
	d, err := terms.Override(p, terms.ActionStop, time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC), " fonction rénale instable ")
	if err != nil {
		t.Fatal(err)
	}
	if !d.Override || d.Reason != "fonction rénale instable" || d.LastDose.Day() != 6 || d.Proposal.LastDose.Day() != 7 {
		t.Fatalf("%+v", d)
	}
	if a := terms.Accept(p); a.Override || a.Action != terms.ActionStop || !a.LastDose.Equal(p.LastDose) {
		t.Fatalf("accept %+v", a)
	}
	if d, _ := terms.Override(p, terms.ActionContinue, p.LastDose, "hémostase locale"); !d.LastDose.IsZero() {
		t.Error("continue keeps a last-dose date")
	}
}

// FuzzPropose: any code and inputs give a proposal without panic; a date,
// when given, is before the surgery.
func FuzzPropose(f *testing.F) {
	for _, s := range []string{"B01AF02", "B01AE07", "", "b01af02 ", "A10BK04", "\x00", "ZZZZZZZZ", "B01"} {
		f.Add(s, 60.0, 1)
	}
	f.Fuzz(func(t *testing.T, atc string, crcl float64, bleeding int) {
		surgery := time.Date(2026, 12, 10, 0, 0, 0, 0, time.UTC)
		b := []terms.BleedingRisk{terms.BleedingUnknown, terms.BleedingLow, terms.BleedingHigh}[((bleeding%3)+3)%3]
		p, ok := terms.Propose(atc, terms.DecisionInput{Surgery: surgery, Bleeding: b, CrCl: crcl})
		if !ok {
			return
		}
		if !p.Action.Valid() || (!p.LastDose.IsZero() && !p.LastDose.Before(surgery)) {
			t.Fatalf("%q: %+v", atc, p)
		}
	})
}
