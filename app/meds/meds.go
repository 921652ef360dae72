// Package meds builds the consolidated medication list an anesthesiologist
// reads before surgery: every medication line found in a patient's cached
// documents (treatments, prescriptions, pharmacy dispensings of the
// Assurance Maladie's reimbursement history) and the medications the patient
// declared, merged by substance, each entry traceable to every document it
// came from, with its perioperative flags (package terms), grouped by
// therapeutic class, flagged classes first.
//
// Consolidation is pure: Consolidate takes the lines, the documents that
// could not be read as structured data and the current time, and returns a
// List. It never drops a fact: sources that disagree stay side by side,
// marked "sources divergentes", and documents without structured entries
// (N1, PDF) that may hold medication information are listed for reading.
//
// Package meds imports the standard library, app and app/terms only (app/terms
// brings in assets).
package meds

import (
	"sort"
	"strings"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/terms"
)

// RecentMonths is the window of the recency hint: an entry dispensed or
// started within the RecentMonths months before now is recent.
const RecentMonths = 3

// TimelineMonths is the span of Entry.Dispensings, the marks of the
// dispensing timeline (the reimbursement history covers about 24 months).
const TimelineMonths = 24

// NoteDivergent starts every note of an entry whose sources disagree.
const NoteDivergent = "sources divergentes"

// Recency says whether a medication was active lately.
type Recency string

// The recency hints.
const (
	RecencyRecent  Recency = "recent"  // dispensed or started in the last RecentMonths months
	RecencyOlder   Recency = "older"   // last known activity is older
	RecencyUnknown Recency = "unknown" // no date at all
)

// Basis says which date a recency hint rests on.
type Basis string

// The bases of a recency hint, strongest first.
const (
	BasisDispensing Basis = "dispensing" // a pharmacy dispensing date
	BasisStart      Basis = "start"      // a treatment or prescription start date
	BasisDocument   Basis = "document"   // only the date of the document that lists it
	BasisNone       Basis = ""
)

// Source is one document (or one declaration) an entry was found in.
type Source struct {
	Document  app.DocumentID // empty for a declaration
	TypeCode  string
	TypeLabel string // French label of the type, or the title when the type is unknown
	Title     string
	Date      time.Time
	Author    string
	Declared  bool                 // declared by the patient, entered by staff in Carnet
	Kinds     []app.MedicationKind // kinds of the lines it gave, sorted
	Lines     int                  // how many lines of the entry it gave
	// Own: a report Carnet wrote (a signed reconciliation): shown, never
	// counted in Entry.Independent nor used for the recency hint.
	Own bool
}

// Entry is one medication of the consolidated list: a substance (or a
// product, or a name when nothing else is known) and everything the record
// says about it.
type Entry struct {
	ID        string   // stable key: "atc:B01AF02", "cip:3400…", "name:doliprane"
	Name      string   // display name: the name of the most recent line
	Substance string   // active substance, when a line gives it
	Names     []string // every distinct name as written, sorted
	ATC       app.Code // the ATC code at level 5, else the deepest group known (CNAM-HR)
	ATCLevel5 bool     // ATC is a level-5 code
	Products  []app.Code
	Sources   []Source // most recent first
	// Independent is the number of sources that are not Carnet's own
	// reports: signing a reconciliation never raises it.
	Independent int
	Lines       []app.Medication // every merged line, most recent first

	LastDispensed  time.Time // latest dispensing date, zero if never dispensed
	LastPrescriber string    // prescriber of that dispensing (or of the latest prescription)
	LastActivity   time.Time // the date the recency rests on
	Basis          Basis
	Recency        Recency
	Dispensings    []time.Time // dispensing days in the TimelineMonths before now, oldest first, one per day
	Stopped        time.Time   // latest end date given, when nothing later contradicts it

	// LastDispensedPrecision, LastActivityPrecision and StoppedPrecision
	// say how much of those dates the documents gave (an end written
	// "1976" is the year 1976, not the 1st of January): show them with
	// app.FormatDate. PrecisionNone (a declaration, older readers) reads as
	// a day.
	LastDispensedPrecision app.DatePrecision
	LastActivityPrecision  app.DatePrecision
	StoppedPrecision       app.DatePrecision

	Flags     []terms.Flag // perioperative flags, most severe first
	Group     string       // ID of the Group holding the entry
	Divergent bool         // sources disagree; see Notes
	Notes     []string     // French notes, each starting with NoteDivergent
}

// Flagged reports whether the entry has a perioperative flag.
func (e *Entry) Flagged() bool { return len(e.Flags) > 0 }

// Group is a therapeutic class of the list: a perioperative family
// ("perio:antithrombotics") for flagged entries, else an ATC level-1 group
// ("atc:C"), else "other".
type Group struct {
	ID       string
	Label    string
	Flagged  bool
	Severity terms.Severity // highest severity of its entries; 0 when not flagged
	Entries  []Entry
}

// Document is a document without structured medication entries (N1, PDF)
// whose type may hold medication information: the user reads it.
type Document struct {
	Meta      app.DocumentMeta
	TypeLabel string
	Category  string // why it is listed: "Lettre de liaison ou compte rendu d'hospitalisation", …
}

// List is a patient's consolidated medication list.
type List struct {
	Now          time.Time // the time it was built for
	Groups       []Group   // flagged groups first (most severe first), then ATC groups, then "other"
	Unstructured []Document
	Lines        int // medication lines consolidated
	Entries      int
	Flagged      int // entries with at least one flag
	Divergent    int // entries whose sources disagree
	// NotGiven are the lines the documents record as NOT given, taken or
	// dispensed (app.Medication.Negated: a vaccination not done): kept
	// apart, most recent document first, never merged into an entry nor
	// shown as given.
	NotGiven []app.Medication
}

// Consolidate builds the medication list from every medication line of a
// patient's documents and declarations, and the metadata of the documents
// read without structured entries. It is pure and deterministic: the same
// lines in any order give the same list.
func Consolidate(lines []app.Medication, unstructured []app.DocumentMeta, now time.Time) List {
	list := List{Now: now, Lines: len(lines)}
	given := make([]app.Medication, 0, len(lines))
	for _, m := range lines {
		m.Name = lineName(&m)
		if m.Negated {
			list.NotGiven = append(list.NotGiven, m)
			continue
		}
		given = append(given, m)
	}
	sort.SliceStable(list.NotGiven, func(i, j int) bool {
		a, b := &list.NotGiven[i], &list.NotGiven[j]
		if !a.Source.Date.Equal(b.Source.Date) {
			return a.Source.Date.After(b.Source.Date)
		}
		if a.Source.Document != b.Source.Document {
			return a.Source.Document < b.Source.Document
		}
		return a.Name < b.Name
	})
	entries := merge(given, now)
	list.Groups = group(entries)
	list.Entries = len(entries)
	for i := range entries {
		if entries[i].Flagged() {
			list.Flagged++
		}
		if entries[i].Divergent {
			list.Divergent++
		}
	}
	list.Unstructured = pending(unstructured)
	return list
}

// lineName returns the name a line is listed under: its name, unless it is
// empty or a boolean word ("Oui", "Non"), then its substance, its coded
// product's or ATC code's display, its free text, its codes; never "".
func lineName(m *app.Medication) string {
	for _, n := range []string{m.Name, m.Substance, m.Product.Display, m.ATC.Display, m.Text} {
		n = strings.TrimSpace(n)
		switch strings.ToLower(n) {
		case "", "oui", "non", "yes", "no", "true", "false", "vrai", "faux", "-":
			continue
		}
		return n
	}
	switch {
	case m.ATC.Code != "":
		return "ATC " + m.ATC.Code
	case m.Product.Code != "":
		return m.Product.Code
	}
	return "?"
}
