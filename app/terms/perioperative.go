package terms

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// RationalePrefix starts every perioperative rationale: flags inform, they
// never instruct.
const RationalePrefix = "à vérifier avant anesthésie : "

// NoteApproximate marks a flag found from an incomplete ATC code, such as the
// therapeutic group of the Assurance Maladie's reimbursement history: the
// exact molecule, and so the exact class, is not known.
const NoteApproximate = "classe approximative (ATC niveau 3)"

// noteApproximate4 is NoteApproximate for a 5- or 6-character code.
const noteApproximate4 = "classe approximative (ATC niveau 4)"

// Severity is how much a perioperative class matters: a hint for the colour
// of the flag, not a clinical grading.
type Severity int

// The severities, lowest first.
const (
	SeverityMedium Severity = 1
	SeverityHigh   Severity = 2
)

// String returns "high" or "medium".
func (s Severity) String() string {
	switch s {
	case SeverityHigh:
		return "high"
	case SeverityMedium:
		return "medium"
	}
	return "unknown"
}

// Reference is a source a perioperative class rests on.
type Reference struct {
	ID       string
	Citation string // the bibliographic reference, in French
	// Checked is true when the reference itself was seen in a public record
	// while the table was written; false means "référence à confirmer".
	// Neither says the anesthesia team validated the table.
	Checked bool
}

// Family groups perioperative classes for display ("Antithrombotiques").
type Family struct {
	ID    string
	Label string
}

// PerioperativeClass is a class of drugs an anesthesiologist checks before
// surgery, found by ATC prefix.
type PerioperativeClass struct {
	ID        string   // "xa-inhibitor"
	Label     string   // French: "Anticoagulant, inhibiteur direct du facteur Xa"
	Family    Family   // the display group
	Severity  Severity // colour hint
	Prefixes  []string // ATC prefixes; a combination code may be listed in several classes
	Rationale string   // French, starts with RationalePrefix
	Sources   []Reference
	order     int // position in the table, for stable ordering
}

// Flag is a perioperative class found for one ATC code.
type Flag struct {
	Class  PerioperativeClass
	Prefix string // the prefix that matched; for an approximate flag, the class prefix the code may lead to
	// Approximate is true when the code was incomplete (shorter than ATC
	// level 5) and the class cannot be told for sure: the code lies above
	// the class, or above a more specific class of the same family.
	Approximate bool
	level       int // characters of the code looked up
}

// Possible reports whether the class is only possible: the code looked up
// lies above it (N06 may be a MAO inhibitor, or any other antidepressant),
// rather than inside it.
func (f Flag) Possible() bool { return f.Approximate && len(f.Prefix) > f.level }

// Note returns NoteApproximate (or its level-4 variant) for an approximate
// flag, "" otherwise.
func (f Flag) Note() string {
	if !f.Approximate {
		return ""
	}
	if f.level >= 5 {
		return noteApproximate4
	}
	return NoteApproximate
}

type perioperative struct {
	about, version, status string
	classes                []PerioperativeClass
	families               []Family
	refs                   map[string]Reference // the sources, by id (decision rules cite them)
}

type periopFile struct {
	About   string `json:"about"`
	Version string `json:"version"`
	Status  string `json:"status"`
	ATC     string `json:"atc"`
	Sources []struct {
		ID       string `json:"id"`
		Citation string `json:"citation"`
		Checked  bool   `json:"checked"`
	} `json:"sources"`
	Families []Family `json:"families"`
	Classes  []struct {
		ID        string   `json:"id"`
		Family    string   `json:"family"`
		Severity  string   `json:"severity"`
		Label     string   `json:"label"`
		Prefixes  []string `json:"prefixes"`
		Rationale string   `json:"rationale"`
		Sources   []string `json:"sources"`
	} `json:"classes"`
}

// forbidden are words a rationale must not hold: it informs, it does not
// instruct (no stopping, no dosing advice).
var forbidden = []string{"arrêt", "arret", "stopper", "suspendre", "poursuivre", "interrompre", "posologie", " mg"}

func (t *tables) parsePerioperative(data []byte) error {
	var f periopFile
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return fmt.Errorf("terms: perioperative.json: %w", err)
	}
	bad := func(id, why string) error { return fmt.Errorf("terms: perioperative.json: class %q: %s", id, why) }
	refs := map[string]Reference{}
	for _, s := range f.Sources {
		if s.ID == "" || s.Citation == "" {
			return fmt.Errorf("terms: perioperative.json: source without id or citation")
		}
		refs[s.ID] = Reference{ID: s.ID, Citation: s.Citation, Checked: s.Checked}
	}
	fams := map[string]Family{}
	for _, fam := range f.Families {
		if fam.ID == "" || fam.Label == "" {
			return fmt.Errorf("terms: perioperative.json: family without id or label")
		}
		fams[fam.ID] = fam
	}
	seen := map[string]bool{}
	p := perioperative{about: f.About, version: f.Version, status: f.Status, families: f.Families, refs: refs}
	for i, c := range f.Classes {
		if c.ID == "" || seen[c.ID] {
			return bad(c.ID, "empty or duplicate id")
		}
		seen[c.ID] = true
		fam, ok := fams[c.Family]
		if !ok {
			return bad(c.ID, "unknown family "+c.Family)
		}
		var sev Severity
		switch c.Severity {
		case "high":
			sev = SeverityHigh
		case "medium":
			sev = SeverityMedium
		default:
			return bad(c.ID, "severity must be high or medium")
		}
		if c.Label == "" || len(c.Prefixes) == 0 || len(c.Sources) == 0 {
			return bad(c.ID, "needs a label, prefixes and sources")
		}
		for _, pre := range c.Prefixes {
			if !validATCPrefix(pre) {
				return bad(c.ID, "bad ATC prefix "+pre)
			}
		}
		if !strings.HasPrefix(c.Rationale, RationalePrefix) {
			return bad(c.ID, "rationale must start with "+RationalePrefix)
		}
		low := strings.ToLower(c.Rationale)
		for _, w := range forbidden {
			if strings.Contains(low, w) {
				return bad(c.ID, "rationale instructs ("+strings.TrimSpace(w)+")")
			}
		}
		pc := PerioperativeClass{ID: c.ID, Label: c.Label, Family: fam, Severity: sev,
			Prefixes: c.Prefixes, Rationale: c.Rationale, order: i}
		for _, id := range c.Sources {
			r, ok := refs[id]
			if !ok {
				return bad(c.ID, "unknown source "+id)
			}
			pc.Sources = append(pc.Sources, r)
		}
		p.classes = append(p.classes, pc)
	}
	t.periop = p
	t.sources = append(t.sources, Source{Set: SetPerioperative, Origin: "perioperative.json (table de l'équipe Carnet)",
		Version: f.Version, Concepts: len(p.classes), Note: f.Status + " — " + f.ATC})
	return nil
}

// validATCPrefix reports whether s is a prefix of an ATC code: a letter, two
// digits, two letters, two digits (A10BK01), cut after 1, 3, 4, 5 or 7
// characters.
func validATCPrefix(s string) bool {
	switch len(s) {
	case 1, 3, 4, 5, 7:
	default:
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 0, 3, 4:
			if c < 'A' || c > 'Z' {
				return false
			}
		default:
			if c < '0' || c > '9' {
				return false
			}
		}
	}
	return true
}

// PerioperativeClasses returns the whole table, in its order.
func PerioperativeClasses() []PerioperativeClass {
	return append([]PerioperativeClass(nil), get().periop.classes...)
}

// PerioperativeFamilies returns the display groups of the classes, in their
// order.
func PerioperativeFamilies() []Family {
	return append([]Family(nil), get().periop.families...)
}

// Perioperative returns the perioperative classes of an ATC code, most
// severe first, then in table order.
//
// For a complete code (level 5, seven characters) the match is by longest
// prefix within each family: apixaban B01AF02 is an anti-Xa anticoagulant,
// not also the generic "antithrombotique"; a combination code listed in
// several classes (metformin + dapagliflozin A10BD15) returns all of them.
//
// For an incomplete code — the Assurance Maladie gives a three-character
// group such as "B01" or "N06", other sources a level-3 code such as
// "B01A" — the classes whose prefix covers the code are returned, and, for
// a family with no covering class, the classes below the code (N06 → the
// MAO inhibitors): these flags are Approximate, as is a covering class that
// has more specific classes of its family below the code. Codes shorter
// than three characters give no flag.
func Perioperative(atc string) []Flag {
	code := strings.ToUpper(strings.TrimSpace(atc))
	if len(code) < 3 || code[0] < 'A' || code[0] > 'Z' {
		return nil
	}
	classes := get().periop.classes
	coarse := len(code) < 7
	type hit struct {
		n      int    // length of the covering prefix, 0 if below
		prefix string // matched prefix
		below  bool
	}
	best := map[string]int{} // family → longest covering prefix
	hits := make([]hit, len(classes))
	below := map[string]bool{} // family → a class lies below the code
	for i, c := range classes {
		for _, p := range c.Prefixes {
			switch {
			case strings.HasPrefix(code, p):
				if len(p) > hits[i].n {
					hits[i] = hit{n: len(p), prefix: p}
				}
			case coarse && len(p) > len(code) && strings.HasPrefix(p, code):
				if hits[i].n == 0 && hits[i].prefix == "" {
					hits[i] = hit{prefix: p, below: true}
				}
				below[c.Family.ID] = true
			}
		}
		if hits[i].n > best[c.Family.ID] {
			best[c.Family.ID] = hits[i].n
		}
	}
	var out []Flag
	for i, c := range classes {
		h := hits[i]
		switch {
		case h.n > 0 && h.n == best[c.Family.ID]:
			out = append(out, Flag{Class: c, Prefix: h.prefix, Approximate: coarse && below[c.Family.ID], level: len(code)})
		case h.below && best[c.Family.ID] == 0:
			out = append(out, Flag{Class: c, Prefix: h.prefix, Approximate: true, level: len(code)})
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Class.Severity != out[j].Class.Severity {
			return out[i].Class.Severity > out[j].Class.Severity
		}
		return out[i].Class.order < out[j].Class.order
	})
	return out
}
