package terms

import (
	"fmt"
	"strings"
	"time"
)

// DecisionStatus is written beside every proposal: the table was written
// from the published sources by the Carnet team; no anesthesia team has
// validated it yet. The screen, the report and the printout show it.
const DecisionStatus = "à valider cliniquement"

// Action is the perioperative decision for a medication.
type Action string

// The actions, in the order of the decision table's legend.
const (
	ActionContinue Action = "continue" // take as usual, including the morning of surgery
	ActionStop     Action = "stop"     // last dose on a date before surgery
	ActionBridge   Action = "bridge"   // stop, with a relay (heparin) decided by the team
	ActionAdapt    Action = "adapt"    // continue with a changed dose or schedule
	ActionDiscuss  Action = "discuss"  // no safe default: the team decides
)

// Label returns the French label of the action ("Arrêter").
func (a Action) Label() string {
	switch a {
	case ActionContinue:
		return "Poursuivre"
	case ActionStop:
		return "Arrêter"
	case ActionBridge:
		return "Relais"
	case ActionAdapt:
		return "Adapter"
	case ActionDiscuss:
		return "À discuter"
	}
	return string(a)
}

// Valid reports whether a is one of the actions.
func (a Action) Valid() bool {
	switch a {
	case ActionContinue, ActionStop, ActionBridge, ActionAdapt, ActionDiscuss:
		return true
	}
	return false
}

// BleedingRisk is the bleeding risk of the procedure, as the GIHP grades it.
type BleedingRisk string

// The bleeding risks; BleedingUnknown matches only rules that do not
// depend on it.
const (
	BleedingUnknown BleedingRisk = ""
	BleedingLow     BleedingRisk = "low"
	BleedingHigh    BleedingRisk = "high"
)

// DecisionInput is what a proposal depends on: the surgery date (from the
// operating list), the procedure's bleeding risk, the creatinine clearance
// (Cockcroft-Gault, mL/min; 0 when unknown).
type DecisionInput struct {
	Surgery  time.Time
	Bleeding BleedingRisk
	CrCl     float64
}

// DecisionRule is one line of the perioperative decision table.
type DecisionRule struct {
	ID       string
	Prefixes []string     // ATC prefixes (longest match wins)
	Bleeding BleedingRisk // BleedingUnknown: any
	// CrClMin ≤ CrCl < CrClMax (mL/min); both 0: any clearance. A rule with
	// a band never matches an unknown clearance.
	CrClMin, CrClMax float64
	Action           Action
	// LastDoseDay is n in "last dose on D-n" (D is the day of surgery); 0
	// when the action sets no date.
	LastDoseDay int
	Text        string    // the proposal, in French, shown as is
	Sources     []string  // ids of perioperative.json's sources
	Date        time.Time // publication date of the main source
}

// Proposal is the decision the table proposes for one medication.
type Proposal struct {
	Action   Action
	LastDose time.Time // surgery − LastDoseDay days; zero when none
	Rule     DecisionRule
	Sources  []Reference
	Missing  string // what the proposal lacks ("clairance de la créatinine", "date d'intervention"), French
}

// Text is the proposal as one French line: "Arrêter — dernière prise le
// 04/12/2026 (J-3)".
func (p Proposal) Text() string {
	s := p.Action.Label()
	if !p.LastDose.IsZero() {
		s += fmt.Sprintf(" — dernière prise le %s (J-%d)", p.LastDose.Format("02/01/2006"), p.Rule.LastDoseDay)
	} else if p.Rule.LastDoseDay > 0 {
		s += fmt.Sprintf(" — dernière prise à J-%d", p.Rule.LastDoseDay)
	}
	if p.Missing != "" {
		s += " — manque : " + p.Missing
	}
	return s
}

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// Day counts: "last dose on D-n". Where a source counts full days without
// the drug ("5 jours d'arrêt"), the last dose is on D-(days+1).
var decisionRules = []DecisionRule{
	// Direct oral anticoagulants: GIHP 2015.
	{ID: "xaban-high", Prefixes: []string{"B01AF01", "B01AF02", "B01AF03"}, Bleeding: BleedingHigh, CrClMin: 30, CrClMax: 1e9,
		Action: ActionStop, LastDoseDay: 3, Text: "Risque hémorragique élevé, ClCr ≥ 30 : dernière prise à J-3, pas de relais", Sources: []string{"gihp-aod-2015"}, Date: day(2015, 9, 1)},
	{ID: "xaban-high-renal", Prefixes: []string{"B01AF01", "B01AF02", "B01AF03"}, Bleeding: BleedingHigh, CrClMin: 0.001, CrClMax: 30,
		Action: ActionDiscuss, Text: "ClCr < 30 : hors recommandation, dosage spécifique et avis", Sources: []string{"gihp-aod-2015"}, Date: day(2015, 9, 1)},
	{ID: "xaban-low", Prefixes: []string{"B01AF01", "B01AF02", "B01AF03"}, Bleeding: BleedingLow,
		Action: ActionStop, LastDoseDay: 1, Text: "Risque hémorragique faible : pas de prise la veille au soir ni le matin de l'acte", Sources: []string{"gihp-aod-2015"}, Date: day(2015, 9, 1)},
	{ID: "dabigatran-high-50", Prefixes: []string{"B01AE07"}, Bleeding: BleedingHigh, CrClMin: 50, CrClMax: 1e9,
		Action: ActionStop, LastDoseDay: 4, Text: "Risque hémorragique élevé, ClCr ≥ 50 : dernière prise à J-4", Sources: []string{"gihp-aod-2015"}, Date: day(2015, 9, 1)},
	{ID: "dabigatran-high-30", Prefixes: []string{"B01AE07"}, Bleeding: BleedingHigh, CrClMin: 30, CrClMax: 50,
		Action: ActionStop, LastDoseDay: 5, Text: "Risque hémorragique élevé, ClCr 30–50 : dernière prise à J-5", Sources: []string{"gihp-aod-2015"}, Date: day(2015, 9, 1)},
	{ID: "dabigatran-renal", Prefixes: []string{"B01AE07"}, CrClMin: 0.001, CrClMax: 30,
		Action: ActionDiscuss, Text: "ClCr < 30 : dabigatran contre-indiqué, avis", Sources: []string{"gihp-aod-2015", "rcp"}, Date: day(2015, 9, 1)},
	{ID: "dabigatran-low", Prefixes: []string{"B01AE07"}, Bleeding: BleedingLow, CrClMin: 30, CrClMax: 1e9,
		Action: ActionStop, LastDoseDay: 1, Text: "Risque hémorragique faible : pas de prise la veille au soir ni le matin de l'acte", Sources: []string{"gihp-aod-2015"}, Date: day(2015, 9, 1)},
	// Vitamin K antagonists: INR-guided.
	{ID: "vka", Prefixes: []string{"B01AA"}, Action: ActionBridge, LastDoseDay: 5,
		Text: "Arrêt guidé par l'INR (INR la veille), relais par héparine selon le risque thrombotique", Sources: []string{"has-avk"}, Date: day(2008, 4, 1)},
	// Heparins: low molecular weight, curative dose.
	{ID: "heparin", Prefixes: []string{"B01AB", "B01AX05"}, Action: ActionStop, LastDoseDay: 1,
		Text: "Dose curative : dernière injection 24 h avant (J-1) ; dose préventive : selon protocole", Sources: []string{"challet-2007", "rcp"}, Date: day(2007, 11, 28)},
	// Antiplatelets: GIHP/GFHT 2018 and ESC/ESAIC 2022 (days without the drug + 1).
	{ID: "clopidogrel", Prefixes: []string{"B01AC04"}, Action: ActionStop, LastDoseDay: 6,
		Text: "5 jours sans prise (dernière prise à J-6) ; maintien de l'aspirine si stent", Sources: []string{"gihp-aap", "esc-esaic-2022"}, Date: day(2018, 1, 1)},
	{ID: "ticagrelor", Prefixes: []string{"B01AC24"}, Action: ActionStop, LastDoseDay: 6,
		Text: "5 jours sans prise (dernière prise à J-6)", Sources: []string{"gihp-aap", "esc-esaic-2022"}, Date: day(2018, 1, 1)},
	{ID: "prasugrel", Prefixes: []string{"B01AC22"}, Action: ActionStop, LastDoseDay: 8,
		Text: "7 jours sans prise (dernière prise à J-8)", Sources: []string{"gihp-aap", "esc-esaic-2022"}, Date: day(2018, 1, 1)},
	{ID: "aspirin", Prefixes: []string{"B01AC06"}, Action: ActionContinue,
		Text: "Maintien habituel (stent, prévention secondaire) ; à discuter si chirurgie à risque hémorragique majeur", Sources: []string{"gihp-aap", "esc-esaic-2022"}, Date: day(2018, 1, 1)},
	{ID: "aspirin-high", Prefixes: []string{"B01AC06"}, Bleeding: BleedingHigh, Action: ActionDiscuss,
		Text: "Risque hémorragique élevé : maintien ou arrêt selon l'indication (stent) et le site opératoire", Sources: []string{"gihp-aap", "esc-esaic-2022"}, Date: day(2018, 1, 1)},
	// Diabetes: SFAR/SFD 2017, SGLT2 safety, GLP-1 multisociety guidance.
	{ID: "sglt2", Prefixes: []string{"A10BK", "A10BD15", "A10BD16", "A10BD19", "A10BD20", "A10BD21", "A10BD23", "A10BD24", "A10BD25", "A10BD27"},
		Action: ActionStop, LastDoseDay: 4, Text: "Au moins 3 jours sans prise (dernière prise à J-4) : risque d'acidocétose euglycémique", Sources: []string{"sglt2-safety", "sfar-sfd-2017"}, Date: day(2022, 3, 1)},
	{ID: "ertugliflozin", Prefixes: []string{"A10BK04"}, Action: ActionStop, LastDoseDay: 5,
		Text: "Au moins 4 jours sans prise (dernière prise à J-5) : risque d'acidocétose euglycémique", Sources: []string{"sglt2-safety"}, Date: day(2022, 3, 1)},
	{ID: "glp1", Prefixes: []string{"A10BJ", "A10BX16"}, Action: ActionAdapt,
		Text: "Poursuite en général ; si symptômes digestifs ou risque d'inhalation : régime liquide 24 h, ou arrêt discuté", Sources: []string{"glp1-multisociety"}, Date: day(2024, 10, 1)},
	{ID: "metformin", Prefixes: []string{"A10BA02", "A10BD02", "A10BD03", "A10BD05", "A10BD07", "A10BD08", "A10BD10", "A10BD11", "A10BD13", "A10BD14", "A10BD17", "A10BD18", "A10BD22", "A10BD26"},
		Action: ActionStop, LastDoseDay: 1, Text: "Dernière prise la veille (J-1), pas de prise le jour de l'intervention", Sources: []string{"sfar-sfd-2017", "rcp"}, Date: day(2017, 1, 1)},
	{ID: "insulin", Prefixes: []string{"A10A"}, Action: ActionAdapt,
		Text: "Insuline basale maintenue à dose adaptée ; protocole glycémique périopératoire", Sources: []string{"sfar-sfd-2017"}, Date: day(2017, 1, 1)},
	// Psychiatry.
	{ID: "lithium", Prefixes: []string{"N05AN"}, Action: ActionStop, LastDoseDay: 2,
		Text: "Arrêt 24 à 72 h avant (dernière prise à J-2), lithémie selon contexte", Sources: []string{"challet-2007", "rcp"}, Date: day(2007, 11, 28)},
	{ID: "maoi-irreversible", Prefixes: []string{"N06AF"}, Action: ActionDiscuss, LastDoseDay: 15,
		Text: "IMAO irréversible : arrêt 2 semaines avant (J-15) avec avis psychiatrique, ou anesthésie adaptée", Sources: []string{"challet-2007", "rcp"}, Date: day(2007, 11, 28)},
	{ID: "maoi-reversible", Prefixes: []string{"N06AG"}, Action: ActionStop, LastDoseDay: 1,
		Text: "IMAO réversible (moclobémide) : dernière prise la veille (J-1)", Sources: []string{"challet-2007", "rcp"}, Date: day(2007, 11, 28)},
	// Renin-angiotensin system.
	{ID: "raas", Prefixes: []string{"C09A", "C09B", "C09C", "C09D"}, Action: ActionStop, LastDoseDay: 1,
		Text: "Pas de prise le matin de l'intervention (dernière prise J-1) ; à discuter en cas d'insuffisance cardiaque", Sources: []string{"esc-esaic-2022", "challet-2007"}, Date: day(2022, 8, 26)},
	{ID: "beta-blocker", Prefixes: []string{"C07"}, Action: ActionContinue,
		Text: "Poursuite, y compris le matin de l'intervention", Sources: []string{"esc-esaic-2022", "challet-2007"}, Date: day(2022, 8, 26)},
}

// DecisionRules returns the decision table, in its order.
func DecisionRules() []DecisionRule { return append([]DecisionRule(nil), decisionRules...) }

// Propose returns the table's proposal for an ATC code (level 5 for a
// molecule-specific rule): the matching rule with the longest prefix whose
// bleeding risk and clearance band fit the input. A rule needing a
// clearance or bleeding risk not given yields "à discuter" with Missing
// set. ok is false when no rule covers the code.
func Propose(atc string, in DecisionInput) (p Proposal, ok bool) {
	code := strings.ToUpper(strings.TrimSpace(atc))
	if code == "" {
		return Proposal{}, false
	}
	best, covered := -1, 0
	var needs []string
	for i, r := range decisionRules {
		n := matchLen(code, r.Prefixes)
		if n == 0 {
			continue
		}
		if n > covered {
			covered, needs = n, nil
		}
		if n < covered {
			continue
		}
		if r.Bleeding != BleedingUnknown && r.Bleeding != in.Bleeding {
			if in.Bleeding == BleedingUnknown {
				needs = appendOnce(needs, "risque hémorragique de l'acte")
			}
			continue
		}
		if r.CrClMin != 0 || r.CrClMax != 0 {
			if in.CrCl <= 0 {
				needs = appendOnce(needs, "clairance de la créatinine")
				continue
			}
			if in.CrCl < r.CrClMin || in.CrCl >= r.CrClMax {
				continue
			}
		}
		// the longest prefix wins; among equals, a rule specific to the
		// bleeding risk beats a general one
		if best < 0 || matchLen(code, decisionRules[best].Prefixes) < n ||
			(decisionRules[best].Bleeding == BleedingUnknown && r.Bleeding != BleedingUnknown) {
			best = i
		}
	}
	if covered == 0 {
		return Proposal{}, false
	}
	if best < 0 || (len(needs) > 0 && decisionRules[best].Bleeding == BleedingUnknown && decisionRules[best].Action != ActionDiscuss && hasSpecific(code, covered)) {
		return Proposal{Action: ActionDiscuss, Missing: strings.Join(needs, ", ")}, true
	}
	r := decisionRules[best]
	p = Proposal{Action: r.Action, Rule: r, Sources: referencesOf(r.Sources)}
	if r.LastDoseDay > 0 && !in.Surgery.IsZero() {
		s := in.Surgery
		p.LastDose = time.Date(s.Year(), s.Month(), s.Day()-r.LastDoseDay, 0, 0, 0, 0, s.Location())
	}
	if r.LastDoseDay > 0 && in.Surgery.IsZero() {
		p.Missing = "date d'intervention"
	}
	return p, true
}

// hasSpecific reports whether rules of the same prefix length depend on
// the bleeding risk: a general rule then only stands when it is known.
func hasSpecific(code string, n int) bool {
	for _, r := range decisionRules {
		if matchLen(code, r.Prefixes) == n && r.Bleeding != BleedingUnknown {
			return true
		}
	}
	return false
}

func matchLen(code string, prefixes []string) int {
	n := 0
	for _, p := range prefixes {
		if strings.HasPrefix(code, p) && len(p) > n {
			n = len(p)
		}
	}
	return n
}

func appendOnce(s []string, v string) []string {
	for _, x := range s {
		if x == v {
			return s
		}
	}
	return append(s, v)
}

// referencesOf resolves source ids against perioperative.json's sources.
func referencesOf(ids []string) []Reference {
	refs := get().periop.refs
	out := make([]Reference, 0, len(ids))
	for _, id := range ids {
		if r, ok := refs[id]; ok {
			out = append(out, r)
		}
	}
	return out
}

// Decision is what the anesthesiologist decided for one medication: the
// proposal accepted, or overridden with a reason.
type Decision struct {
	Proposal Proposal
	Action   Action
	LastDose time.Time
	Override bool   // differs from the proposal
	Reason   string // required for an override
}

// Accept returns the decision that takes the proposal as is.
func Accept(p Proposal) Decision {
	return Decision{Proposal: p, Action: p.Action, LastDose: p.LastDose}
}

// ErrNoReason is returned by Override without a reason.
var ErrNoReason = fmt.Errorf("terms: an override needs a reason")

// Override returns a decision that departs from the proposal; the reason is
// kept as given (trimmed) and is required.
func Override(p Proposal, a Action, lastDose time.Time, reason string) (Decision, error) {
	reason = strings.TrimSpace(reason)
	if !a.Valid() {
		return Decision{}, fmt.Errorf("terms: unknown action %q", a)
	}
	if reason == "" {
		return Decision{}, ErrNoReason
	}
	if a != ActionStop && a != ActionBridge {
		lastDose = time.Time{}
	}
	return Decision{Proposal: p, Action: a, LastDose: lastDose, Override: true, Reason: reason}, nil
}
