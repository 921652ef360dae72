package terms_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/carnetdesk/carnet/app/terms"
)

func ids(flags []terms.Flag) []string {
	var out []string
	for _, f := range flags {
		out = append(out, f.Class.ID)
	}
	return out
}

func TestPerioperative(t *testing.T) {
	tests := []struct {
		atc    string
		want   []string // class ids, in result order
		approx bool
		sev    terms.Severity // of the first flag
	}{
		// Every prefix of the issue, with a level-5 code under it.
		{"B01AA03", []string{"vka"}, false, terms.SeverityHigh},                        // warfarin
		{"B01AE07", []string{"thrombin-inhibitor"}, false, terms.SeverityHigh},         // dabigatran
		{"B01AF02", []string{"xa-inhibitor"}, false, terms.SeverityHigh},               // apixaban
		{"B01AF01", []string{"xa-inhibitor"}, false, terms.SeverityHigh},               // rivaroxaban
		{"B01AB05", []string{"heparin"}, false, terms.SeverityHigh},                    // enoxaparin
		{"B01AX05", []string{"heparin"}, false, terms.SeverityHigh},                    // fondaparinux
		{"B01AC06", []string{"antiplatelet"}, false, terms.SeverityHigh},               // aspirin (antiplatelet)
		{"B01AC04", []string{"antiplatelet"}, false, terms.SeverityHigh},               // clopidogrel
		{"B01AD02", []string{"antithrombotic"}, false, terms.SeverityHigh},             // alteplase: only the family
		{"A10AE04", []string{"insulin"}, false, terms.SeverityHigh},                    // insulin glargine
		{"A10BB09", []string{"non-insulin-antidiabetic"}, false, terms.SeverityMedium}, // gliclazide
		{"A10BK01", []string{"sglt2"}, false, terms.SeverityHigh},                      // dapagliflozin
		{"A10BJ06", []string{"glp1"}, false, terms.SeverityHigh},                       // semaglutide
		{"A10BA02", []string{"metformin"}, false, terms.SeverityMedium},                // metformin
		{"A10BD15", []string{"sglt2", "metformin"}, false, terms.SeverityHigh},         // metformin + dapagliflozin
		{"A10BD07", []string{"metformin"}, false, terms.SeverityMedium},                // metformin + sitagliptin
		{"A10AE56", []string{"insulin", "glp1"}, false, terms.SeverityHigh},            // degludec + liraglutide
		{"N06AF04", []string{"maoi"}, false, terms.SeverityHigh},                       // tranylcypromine
		{"N06AG02", []string{"maoi"}, false, terms.SeverityHigh},                       // moclobemide
		{"N06AB05", nil, false, 0},                                                     // paroxetine: no flag
		{"N05AN01", []string{"lithium"}, false, terms.SeverityHigh},
		{"C07AB07", []string{"beta-blocker"}, false, terms.SeverityMedium},            // bisoprolol
		{"C09AA05", []string{"ace-inhibitor"}, false, terms.SeverityMedium},           // ramipril
		{"C09BA04", []string{"ace-inhibitor"}, false, terms.SeverityMedium},           // perindopril + diuretic
		{"C09CA01", []string{"sartan"}, false, terms.SeverityMedium},                  // losartan
		{"C09DA01", []string{"sartan"}, false, terms.SeverityMedium},                  // losartan + diuretic
		{"C09XA02", []string{"raas"}, false, terms.SeverityMedium},                    // aliskiren
		{"H02AB07", []string{"systemic-corticosteroid"}, false, terms.SeverityMedium}, // prednisone
		{"N02AX02", []string{"opioid"}, false, terms.SeverityMedium},                  // tramadol
		{"N02AJ13", []string{"opioid"}, false, terms.SeverityMedium},                  // tramadol + paracetamol
		{"N07BC02", []string{"opioid-substitution"}, false, terms.SeverityMedium},     // methadone
		{"L04AD02", []string{"immunosuppressant"}, false, terms.SeverityMedium},       // tacrolimus
		{"G03AA07", []string{"estrogen"}, false, terms.SeverityMedium},                // levonorgestrel + ethinylestradiol
		{"G03AC09", nil, false, 0},                                                    // desogestrel alone: no estrogen
		{"G03CA03", []string{"estrogen"}, false, terms.SeverityMedium},                // estradiol
		{"G03FA01", []string{"estrogen"}, false, terms.SeverityMedium},
		{"M01AE01", []string{"nsaid"}, false, terms.SeverityMedium},            // ibuprofen
		{"M01AX05", nil, false, 0},                                             // glucosamine: not an NSAID
		{"N03AX14", []string{"antiepileptic"}, false, terms.SeverityMedium},    // levetiracetam
		{"N04BA02", []string{"antiparkinsonian"}, false, terms.SeverityMedium}, // levodopa + decarboxylase inhibitor
		{"N02BE01", nil, false, 0},                                             // paracetamol
		{"c10aa07", nil, false, 0},                                             // rosuvastatin, lower case
		// Prefixes of the issue given as incomplete codes (CNAM-HR groups and level 3).
		{"B01A", []string{"antithrombotic"}, true, terms.SeverityHigh},
		{"B01", []string{"antithrombotic"}, true, terms.SeverityHigh},
		{"B01AF", []string{"xa-inhibitor"}, false, terms.SeverityHigh},
		{"A10", []string{"antidiabetic"}, true, terms.SeverityMedium},
		{"A10A", []string{"insulin"}, true, terms.SeverityHigh},
		{"A10B", []string{"non-insulin-antidiabetic"}, true, terms.SeverityMedium},
		{"A10BK", []string{"sglt2"}, false, terms.SeverityHigh},
		{"N06", []string{"maoi"}, true, terms.SeverityHigh},
		{"N06A", []string{"maoi"}, true, terms.SeverityHigh},
		{"N05", []string{"lithium"}, true, terms.SeverityHigh},
		{"C07", []string{"beta-blocker"}, false, terms.SeverityMedium},
		{"C07A", []string{"beta-blocker"}, false, terms.SeverityMedium},
		{"C09", []string{"raas"}, true, terms.SeverityMedium},
		{"C09A", []string{"ace-inhibitor"}, false, terms.SeverityMedium},
		{"C09C", []string{"sartan"}, false, terms.SeverityMedium},
		{"H02", []string{"systemic-corticosteroid"}, true, terms.SeverityMedium},
		{"N02", []string{"opioid"}, true, terms.SeverityMedium},
		{"N02A", []string{"opioid"}, false, terms.SeverityMedium},
		{"N07", []string{"opioid-substitution"}, true, terms.SeverityMedium},
		{"L04", []string{"immunosuppressant"}, false, terms.SeverityMedium},
		{"G03", []string{"estrogen"}, true, terms.SeverityMedium},
		{"G03A", []string{"estrogen"}, true, terms.SeverityMedium},
		{"M01", []string{"nsaid"}, true, terms.SeverityMedium},
		{"M01A", []string{"nsaid"}, true, terms.SeverityMedium},
		{"N03", []string{"antiepileptic"}, false, terms.SeverityMedium},
		{"N04", []string{"antiparkinsonian"}, false, terms.SeverityMedium},
		{"C10", nil, false, 0},
		{"W99", nil, false, 0}, // CNAM homeopathy group, not ATC
		{"B", nil, false, 0},
		{"", nil, false, 0},
		{"3400935673220", nil, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.atc, func(t *testing.T) {
			got := terms.Perioperative(tt.atc)
			if !slices.Equal(ids(got), tt.want) {
				t.Fatalf("Perioperative(%q) = %v, want %v", tt.atc, ids(got), tt.want)
			}
			for _, f := range got {
				if f.Approximate != tt.approx {
					t.Errorf("%s: Approximate = %v, want %v", f.Class.ID, f.Approximate, tt.approx)
				}
				if f.Approximate && !strings.HasPrefix(f.Note(), "classe approximative (ATC niveau") {
					t.Errorf("%s: note %q", f.Class.ID, f.Note())
				}
				if !f.Approximate && f.Note() != "" {
					t.Errorf("%s: exact flag with note %q", f.Class.ID, f.Note())
				}
			}
			if len(got) > 0 && got[0].Class.Severity != tt.sev {
				t.Errorf("severity = %v, want %v", got[0].Class.Severity, tt.sev)
			}
		})
	}
	if f := terms.Perioperative("B01A"); len(f) == 0 || f[0].Note() != terms.NoteApproximate {
		t.Errorf("B01A note = %v", f)
	}
}

func TestPerioperativeTable(t *testing.T) {
	classes := terms.PerioperativeClasses()
	if len(classes) < 20 {
		t.Fatalf("only %d classes", len(classes))
	}
	families := map[string]bool{}
	for _, f := range terms.PerioperativeFamilies() {
		families[f.ID] = true
	}
	for _, c := range classes {
		if !strings.HasPrefix(c.Rationale, "à vérifier avant anesthésie : ") {
			t.Errorf("%s: rationale %q", c.ID, c.Rationale)
		}
		low := strings.ToLower(c.Rationale)
		for _, w := range []string{"arrêt", "arreter", "stopper", "suspendre", "mg/", " mg", "dose de", "posologie"} {
			if strings.Contains(low, w) {
				t.Errorf("%s: rationale instructs (%q): %q", c.ID, w, c.Rationale)
			}
		}
		if len(c.Sources) == 0 {
			t.Errorf("%s: no source", c.ID)
		}
		for _, s := range c.Sources {
			if !s.Checked && !strings.Contains(s.Citation, "à confirmer") && !strings.Contains(s.Citation, "générique") {
				t.Errorf("%s: unchecked source %s does not say so", c.ID, s.ID)
			}
			if strings.Contains(s.Citation, "http") {
				t.Errorf("%s: source %s carries an address", c.ID, s.ID)
			}
		}
		if !families[c.Family.ID] || c.Family.Label == "" {
			t.Errorf("%s: family %+v", c.ID, c.Family)
		}
		for _, p := range c.Prefixes {
			if !slices.Contains(ids(terms.Perioperative(p)), c.ID) {
				t.Errorf("%s: its own prefix %s does not find it", c.ID, p)
			}
		}
	}
}

func TestPossible(t *testing.T) {
	for atc, want := range map[string]bool{"N06": true, "M01": true, "B01": false, "A10B": false, "B01AF02": false} {
		f := terms.Perioperative(atc)
		if len(f) == 0 || f[0].Possible() != want {
			t.Errorf("%s: Possible = %v, want %v", atc, len(f) > 0 && f[0].Possible(), want)
		}
	}
}
