package meds

import (
	"fmt"
	"strings"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/terms"
)

// SourceKind is a kind of source the HAS reconciliation method compares.
type SourceKind string

// The kinds of sources, in the order they are shown.
const (
	KindDeclaration SourceKind = "declaration" // the patient's (or family's) declaration
	KindDispensing  SourceKind = "dispensing"  // pharmacy dispensings (reimbursement history, DP)
	KindDocument    SourceKind = "document"    // prescriptions, letters, reports
)

// Label returns the French label of the kind.
func (k SourceKind) Label() string {
	switch k {
	case KindDeclaration:
		return "déclaration"
	case KindDispensing:
		return "dispensation"
	case KindDocument:
		return "document"
	}
	return string(k)
}

// Discrepancy is how a discrepancy between the sources is qualified.
type Discrepancy string

// The qualifications of a discrepancy (HAS, "Mettre en œuvre la
// conciliation des traitements médicamenteux", 2018).
const (
	DiscrepancyNone          Discrepancy = ""
	DiscrepancyIntentional   Discrepancy = "intentional"
	DiscrepancyUnintentional Discrepancy = "unintentional"
)

// Label returns the French label ("non intentionnelle").
func (d Discrepancy) Label() string {
	switch d {
	case DiscrepancyIntentional:
		return "intentionnelle"
	case DiscrepancyUnintentional:
		return "non intentionnelle"
	}
	return ""
}

// Row is one line of the anesthesiologist's decision table: a consolidated
// entry, the table's proposal for it, and what was decided.
type Row struct {
	Entry    Entry
	Proposal terms.Proposal
	HasRule  bool           // a rule of the table covers the entry
	Decision terms.Decision // valid when Decided
	Decided  bool
	// The HAS reconciliation of the line.
	Kinds       []SourceKind // kinds of the independent sources, in order
	Discrepancy Discrepancy
	Comment     string
}

// Flagged reports whether the row is flagged (a perioperative class).
func (r *Row) Flagged() bool { return r.Entry.Flagged() }

// Rows returns the decision table of a list for a surgery: one row per
// entry, flagged rows first (in the list's group order), each with the
// table's proposal; an entry no rule covers is proposed "Poursuivre".
func Rows(list List, in terms.DecisionInput) []Row {
	rows := make([]Row, 0, list.Entries)
	for _, flagged := range []bool{true, false} {
		for gi := range list.Groups {
			g := &list.Groups[gi]
			for ei := range g.Entries {
				e := &g.Entries[ei]
				if e.Flagged() != flagged {
					continue
				}
				rows = append(rows, newRow(e, in))
			}
		}
	}
	return rows
}

func newRow(e *Entry, in terms.DecisionInput) Row {
	r := Row{Entry: *e, Kinds: SourceKinds(e)}
	code := e.ATC.Code
	if !e.ATCLevel5 && len(code) < 5 {
		code = "" // a level-3 group says too little for a rule
	}
	r.Proposal, r.HasRule = terms.Propose(code, in)
	if !r.HasRule {
		r.Proposal = terms.Proposal{Action: terms.ActionContinue}
		if e.Flagged() {
			r.Proposal.Action = terms.ActionDiscuss
		}
	}
	return r
}

// Repropose recomputes the proposals for new inputs (surgery date,
// bleeding risk, clearance); decisions already taken are kept, an accepted
// one follows its new proposal.
func Repropose(rows []Row, in terms.DecisionInput) {
	for i := range rows {
		r := &rows[i]
		n := newRow(&r.Entry, in)
		r.Proposal, r.HasRule = n.Proposal, n.HasRule
		if r.Decided && !r.Decision.Override {
			r.Decision = terms.Accept(r.Proposal)
		}
	}
}

// SourceKinds returns the kinds of an entry's independent sources (never
// Carnet's own reports).
func SourceKinds(e *Entry) []SourceKind {
	has := map[SourceKind]bool{}
	for _, s := range e.Sources {
		switch {
		case s.Own:
		case s.Declared:
			has[KindDeclaration] = true
		case containsKind(s.Kinds, app.MedicationDispensed):
			has[KindDispensing] = true
			if len(s.Kinds) > 1 {
				has[KindDocument] = true
			}
		default:
			has[KindDocument] = true
		}
	}
	var out []SourceKind
	for _, k := range []SourceKind{KindDeclaration, KindDispensing, KindDocument} {
		if has[k] {
			out = append(out, k)
		}
	}
	return out
}

// Problem is why a decision table cannot be signed yet, in French.
type Problem struct {
	Row  int // index of the row, -1 for the whole table
	Text string
}

// ReadyToSign lists what stops the table from being signed: per the HAS
// method, the patient's declaration (interviewed: the patient was asked,
// even when declaring nothing more) and at least one other kind of source;
// every flagged row decided; every unintentional discrepancy commented.
func ReadyToSign(rows []Row, interviewed bool) []Problem {
	var out []Problem
	kinds := map[SourceKind]bool{}
	for _, r := range rows {
		for _, k := range r.Kinds {
			kinds[k] = true
		}
	}
	if !interviewed && !kinds[KindDeclaration] {
		out = append(out, Problem{Row: -1, Text: "la déclaration du patient n'a pas été recueillie"})
	}
	if len(rows) > 0 && !kinds[KindDispensing] && !kinds[KindDocument] {
		out = append(out, Problem{Row: -1, Text: "aucune autre source que la déclaration"})
	}
	for i, r := range rows {
		if r.Flagged() && !r.Decided {
			out = append(out, Problem{Row: i, Text: r.Entry.Name + " : décision à prendre"})
		}
		if r.Discrepancy == DiscrepancyUnintentional && strings.TrimSpace(r.Comment) == "" {
			out = append(out, Problem{Row: i, Text: r.Entry.Name + " : écart non intentionnel sans commentaire"})
		}
	}
	return out
}

// LineDecision is the decision the signed report carries for a row: the
// decision taken (or the proposal, when the row was not touched — only
// unflagged rows can be signed so), the reason (the override's, or the
// rule followed with its sources and "à valider cliniquement"), the sources
// compared and the discrepancy.
func (r *Row) LineDecision() app.LineDecision {
	d := r.Decision
	if !r.Decided {
		d = terms.Accept(r.Proposal)
	}
	out := app.LineDecision{Action: d.Action.Label(), LastDose: d.LastDose, Discrepancy: r.Discrepancy.Label(), Comment: strings.TrimSpace(r.Comment)}
	switch {
	case d.Override:
		out.Reason = d.Reason
	case r.HasRule && d.Proposal.Rule.ID != "":
		out.Reason = ruleReason(d.Proposal)
	}
	var ks []string
	for _, k := range r.Kinds {
		ks = append(ks, k.Label())
	}
	out.Compared = strings.Join(ks, ", ")
	return out
}

// ruleReason names the rule a proposal follows: its text and its first
// source, marked "à valider cliniquement".
func ruleReason(p terms.Proposal) string {
	s := p.Rule.Text
	if len(p.Sources) > 0 {
		c := p.Sources[0].Citation
		if i := strings.IndexAny(c, "."); i > 0 && i < 60 {
			c = c[:i]
		}
		s += " (" + c + ", " + fmt.Sprint(p.Rule.Date.Year()) + ")"
	}
	return s + " — " + terms.DecisionStatus
}

// Accept records the acceptance of a row's proposal.
func (r *Row) Accept() {
	r.Decision, r.Decided = terms.Accept(r.Proposal), true
}

// Undo takes back the decision of a row: it shows its proposal again, to be
// decided anew. The reconciliation (discrepancy, comment) stays.
func (r *Row) Undo() {
	r.Decision, r.Decided = terms.Decision{}, false
}

// Override records a decision that departs from the proposal; the reason
// is required and kept.
func (r *Row) Override(a terms.Action, lastDose time.Time, reason string) error {
	d, err := terms.Override(r.Proposal, a, lastDose, reason)
	if err != nil {
		return err
	}
	r.Decision, r.Decided = d, true
	return nil
}
