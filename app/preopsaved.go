package app

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// PreopDecision is the perioperative decision taken for one line of a
// patient's decision table, as the vault keeps it between the table, the
// signed report and the printout: the drug, the action accepted or
// overridden, the last-dose date, the reason, the HAS reconciliation of the
// line, who decided and when.
type PreopDecision struct {
	Line        string    // the consolidated entry's stable key (meds.Entry.ID: "atc:B01AF01", …)
	Drug        string    // the drug's name when decided, for the record
	Action      string    // the action's code ("continue", "stop", "bridge", "adapt", "discuss"); "" when only the reconciliation was noted
	LastDose    time.Time // zero when the action sets no date
	Override    bool      // departs from the table's proposal
	Reason      string    // required for an override
	Discrepancy string    // "", "intentional", "unintentional"
	Comment     string
	By          string    // the practitioner who decided (DeclaredByStaff without a session)
	RPPS        string    // the practitioner's RPPS id, when signed in
	At          time.Time // when decided
}

// PreopInputs are the inputs a patient's proposals depend on, as last set
// on the decision table: the surgery date, the procedure's bleeding risk
// ("", "low", "high"), the creatinine clearance (mL/min, 0 when unknown)
// and where it came from ("saisie", or the lab result it was computed
// from).
type PreopInputs struct {
	Surgery    time.Time
	Bleeding   string
	CrCl       float64
	CrClSource string
	At         time.Time // when set
}

// PreopRecord is what the vault keeps of a patient's pre-operative
// decisions: the inputs and one decision per decided line.
type PreopRecord struct {
	Patient   PatientID
	Inputs    PreopInputs
	Decisions []PreopDecision
}

// PreopStore is the part of Store that keeps the saved pre-operative
// inputs and decisions (written through Batch.Preop).
type PreopStore interface {
	// PreopDecisions returns the patient's saved pre-operative inputs and
	// decisions; an empty record when none was saved.
	PreopDecisions(ctx context.Context, id PatientID) (PreopRecord, error)
}

// Decision returns the saved decision of a line, if any.
func (r PreopRecord) Decision(line string) (PreopDecision, bool) {
	for _, d := range r.Decisions {
		if d.Line == line {
			return d, true
		}
	}
	return PreopDecision{}, false
}

// PreopSet changes one patient's pre-operative record in a Batch: Inputs
// (when not nil) replaces the inputs, Put adds or replaces decisions (by
// Line), Remove removes them. The store applies it inside the batch's
// transaction, so two decisions saved at once never lose one another.
type PreopSet struct {
	Patient PatientID
	Inputs  *PreopInputs
	Put     []PreopDecision
	Remove  []string
}

// Bounds of a saved decision.
const (
	// MaxPreopDecisions bounds the decisions kept for a patient.
	MaxPreopDecisions = MaxReconciledLines
	maxPreopText      = 2000 // runes of a reason or comment
	maxPreopKey       = 300  // runes of a line key, a drug name
)

// The actions a saved decision may carry (the codes of terms.Action).
var preopActions = map[string]bool{"continue": true, "stop": true, "bridge": true, "adapt": true, "discuss": true}

// PreopDecisions returns the patient's saved pre-operative inputs and
// decisions; an empty record when nothing was decided yet.
func (s *Service) PreopDecisions(ctx context.Context, id PatientID) (PreopRecord, error) {
	s.Touch()
	r, err := s.store.PreopDecisions(ctx, id)
	if errors.Is(err, ErrNotFound) {
		if _, perr := s.store.Patient(ctx, id); perr == nil {
			return PreopRecord{Patient: id}, nil
		}
	}
	if err != nil {
		return PreopRecord{}, fmt.Errorf("read pre-operative decisions: %w", err)
	}
	r.Patient = id
	return r, nil
}

// SavePreopDecision keeps one line's decision in the vault (sealed with
// the patient's key, forgotten when the patient is purged): By, RPPS and At
// are set here from the session and the clock. An override without a
// reason, an unknown action, a missing line key or an over-long text is
// ErrInvalid.
func (s *Service) SavePreopDecision(ctx context.Context, id PatientID, d PreopDecision) (PreopDecision, error) {
	s.Touch()
	if err := cleanPreopDecision(&d); err != nil {
		return PreopDecision{}, fmt.Errorf("save pre-operative decision: %w", err)
	}
	if _, err := s.store.Patient(ctx, id); err != nil {
		return PreopDecision{}, fmt.Errorf("save pre-operative decision: %w", err)
	}
	rec, err := s.store.PreopDecisions(ctx, id)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return PreopDecision{}, fmt.Errorf("save pre-operative decision: %w", err)
	}
	if _, known := rec.Decision(d.Line); !known && len(rec.Decisions) >= MaxPreopDecisions {
		return PreopDecision{}, fmt.Errorf("save pre-operative decision: more than %d decisions: %w", MaxPreopDecisions, ErrInvalid)
	}
	d.By, d.RPPS = DeclaredByStaff, ""
	structure := ""
	if p, ok := s.Practitioner(); ok {
		d.By, d.RPPS, structure = p.Name, p.RPPS, p.Structure.ID
		if strings.TrimSpace(d.By) == "" {
			d.By = strings.TrimSpace(p.GivenName + " " + p.FamilyName)
		}
	}
	d.At = s.clock.Now()
	err = s.store.Write(ctx, &Batch{Preop: []PreopSet{{Patient: id, Put: []PreopDecision{d}}}})
	s.audit(ctx, AuditEvent{Action: "meds.decide", Patient: id, Practitioner: d.RPPS, Structure: structure, Result: resultOf(err)})
	if err != nil {
		return PreopDecision{}, fmt.Errorf("save pre-operative decision: %w", err)
	}
	return d, nil
}

// ForgetPreopDecision removes a line's saved decision (the row goes back
// to "proposé"). A line never decided is no error.
func (s *Service) ForgetPreopDecision(ctx context.Context, id PatientID, line string) error {
	s.Touch()
	if strings.TrimSpace(line) == "" {
		return fmt.Errorf("forget pre-operative decision: no line: %w", ErrInvalid)
	}
	err := s.store.Write(ctx, &Batch{Preop: []PreopSet{{Patient: id, Remove: []string{line}}}})
	if err != nil {
		return fmt.Errorf("forget pre-operative decision: %w", err)
	}
	return nil
}

// SavePreopInputs keeps the inputs of the patient's decision table (At is
// set here). A clearance outside 0–400 mL/min, an unknown bleeding risk or
// an over-long source is ErrInvalid.
func (s *Service) SavePreopInputs(ctx context.Context, id PatientID, in PreopInputs) error {
	s.Touch()
	in.CrClSource = strings.TrimSpace(in.CrClSource)
	switch {
	case in.Bleeding != "" && in.Bleeding != "low" && in.Bleeding != "high":
		return fmt.Errorf("save pre-operative inputs: unknown bleeding risk: %w", ErrInvalid)
	case math.IsNaN(in.CrCl) || in.CrCl < 0 || in.CrCl >= 400:
		return fmt.Errorf("save pre-operative inputs: creatinine clearance out of range: %w", ErrInvalid)
	case !utf8.ValidString(in.CrClSource) || utf8.RuneCountInString(in.CrClSource) > maxPreopKey:
		return fmt.Errorf("save pre-operative inputs: source too long or not UTF-8: %w", ErrInvalid)
	}
	if _, err := s.store.Patient(ctx, id); err != nil {
		return fmt.Errorf("save pre-operative inputs: %w", err)
	}
	in.At = s.clock.Now()
	if err := s.store.Write(ctx, &Batch{Preop: []PreopSet{{Patient: id, Inputs: &in}}}); err != nil {
		return fmt.Errorf("save pre-operative inputs: %w", err)
	}
	return nil
}

// cleanPreopDecision trims a decision and checks it.
func cleanPreopDecision(d *PreopDecision) error {
	for _, f := range []struct {
		s   *string
		max int
	}{{&d.Line, maxPreopKey}, {&d.Drug, maxPreopKey}, {&d.Reason, maxPreopText}, {&d.Comment, maxPreopText}} {
		*f.s = strings.TrimSpace(*f.s)
		if !utf8.ValidString(*f.s) || utf8.RuneCountInString(*f.s) > f.max {
			return fmt.Errorf("text too long or not UTF-8: %w", ErrInvalid)
		}
		if strings.IndexFunc(*f.s, func(r rune) bool { return unicode.IsControl(r) && r != '\n' }) >= 0 {
			return fmt.Errorf("control character in the text: %w", ErrInvalid)
		}
	}
	switch {
	case d.Line == "":
		return fmt.Errorf("a decision needs its line: %w", ErrInvalid)
	case d.Action != "" && !preopActions[d.Action], d.Action == "" && d.Override:
		return fmt.Errorf("unknown action: %w", ErrInvalid)
	case d.Override && d.Reason == "":
		return fmt.Errorf("an override needs a reason: %w", ErrInvalid)
	case d.Discrepancy != "" && d.Discrepancy != "intentional" && d.Discrepancy != "unintentional":
		return fmt.Errorf("unknown discrepancy: %w", ErrInvalid)
	}
	if d.Action != "stop" && d.Action != "bridge" {
		d.LastDose = time.Time{}
	}
	return nil
}
