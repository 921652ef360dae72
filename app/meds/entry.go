package meds

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/terms"
)

// merge clusters the lines and builds one entry per cluster.
func merge(meds []app.Medication, now time.Time) []Entry {
	groups := cluster(meds)
	entries := make([]Entry, 0, len(groups))
	ids := map[string]int{}
	for _, g := range groups {
		e := build(g, now)
		if n := ids[e.ID]; n > 0 {
			ids[e.ID] = n + 1
			e.ID = fmt.Sprintf("%s#%d", e.ID, n+1)
		} else {
			ids[e.ID] = 1
		}
		entries = append(entries, e)
	}
	return entries
}

// srcKey identifies the source of a line: its document, or for a
// declaration its author and date.
type srcKey struct {
	declared bool
	doc      app.DocumentID
	author   string
	date     int64
}

func sourceKey(m *app.Medication) srcKey {
	if m.Kind == app.MedicationDeclared || m.Source.Document == "" {
		return srcKey{declared: true, doc: m.Source.Document, author: m.Source.Author, date: m.Source.Date.UnixNano()}
	}
	return srcKey{doc: m.Source.Document}
}

// build makes the entry of one cluster of lines (in canonical order).
func build(g []*line, now time.Time) Entry {
	var e Entry
	// Lines, most recent first; ties keep canonical order.
	sorted := byDate(g)

	// Identity: ATC, names, products.
	var coarse app.Code
	for _, l := range g {
		if l.atc5 != "" && !e.ATCLevel5 {
			e.ATC, e.ATCLevel5 = l.atcCode, true
		}
		if l.coarse != "" && len(l.coarse) > len(coarse.Code) {
			coarse = l.atcCode
			coarse.Code = l.coarse
		}
	}
	if !e.ATCLevel5 {
		e.ATC = coarse
	}
	names := map[string]bool{}
	products := map[key]app.Code{} // one code per product key: the same CIP13 from ANSM and CNAM systems
	for _, l := range sorted {
		if n := strings.TrimSpace(l.m.Name); n != "" {
			if e.Name == "" {
				e.Name = n
			}
			names[n] = true
		}
		if e.Substance == "" {
			e.Substance = strings.TrimSpace(l.m.Substance)
		}
		for _, c := range l.prods {
			if k := productKey(c); products[k].Code == "" {
				products[k] = app.Code{Code: k.val, System: c.System}
			}
		}
	}
	if e.Name == "" {
		e.Name = e.Substance
	}
	if e.Name == "" && len(sorted) > 0 {
		e.Name = strings.TrimSpace(sorted[0].m.Text)
	}
	for n := range names {
		e.Names = append(e.Names, n)
	}
	sort.Strings(e.Names)
	for _, c := range products {
		e.Products = append(e.Products, c)
	}
	sort.Slice(e.Products, func(i, j int) bool {
		if e.Products[i].System != e.Products[j].System {
			return e.Products[i].System < e.Products[j].System
		}
		return e.Products[i].Code < e.Products[j].Code
	})
	e.ID = entryID(g, &e)

	// Sources.
	e.Lines = make([]app.Medication, 0, len(sorted))
	bySource := make(map[srcKey]int, 8)
	for _, l := range sorted {
		m := l.m
		e.Lines = append(e.Lines, *m)
		k := sourceKey(m)
		i, ok := bySource[k]
		if !ok {
			i = len(e.Sources)
			bySource[k] = i
			e.Sources = append(e.Sources, newSource(m))
		}
		s := &e.Sources[i]
		s.Lines++
		if !containsKind(s.Kinds, m.Kind) {
			at, _ := slices.BinarySearch(s.Kinds, m.Kind)
			s.Kinds = slices.Insert(s.Kinds, at, m.Kind)
		}
	}
	for _, s := range e.Sources {
		if !s.Own {
			e.Independent++
		}
	}
	slices.SortFunc(e.Sources, func(a, b Source) int {
		if c := b.Date.Compare(a.Date); c != 0 {
			return c
		}
		if c := strings.Compare(string(a.Document), string(b.Document)); c != 0 {
			return c
		}
		return strings.Compare(a.Author, b.Author)
	})
	independent := sorted
	if slices.ContainsFunc(sorted, func(l *line) bool { return l.m.Source.Own }) {
		// Carnet's own reports restate other sources: they date nothing
		independent = slices.DeleteFunc(slices.Clone(sorted), func(l *line) bool { return l.m.Source.Own })
	}
	dates(&e, independent, now)
	divergences(&e, sorted)

	// Flags: from the level-5 code, else from the group (approximate).
	if e.ATC.Code != "" {
		e.Flags = terms.Perioperative(e.ATC.Code)
	}
	return e
}

// byDate returns the lines of g most recent first; lines of the same date
// keep their canonical order.
func byDate(g []*line) []*line {
	type dated struct {
		t   time.Time
		pos int
	}
	idx := make([]dated, len(g))
	for i, l := range g {
		idx[i] = dated{l.date(), i}
	}
	slices.SortFunc(idx, func(a, b dated) int {
		if c := b.t.Compare(a.t); c != 0 {
			return c
		}
		return a.pos - b.pos
	})
	out := make([]*line, len(g))
	for i, d := range idx {
		out[i] = g[d.pos]
	}
	return out
}

func containsKind(s []app.MedicationKind, k app.MedicationKind) bool {
	for _, x := range s {
		if x == k {
			return true
		}
	}
	return false
}

// entryID is the stable key of an entry: its level-5 ATC code, else its
// smallest product code, else its normalised name.
func entryID(g []*line, e *Entry) string {
	if e.ATCLevel5 {
		return "atc:" + e.ATC.Code
	}
	if len(e.Products) > 0 {
		return productKey(e.Products[0]).String()
	}
	for _, l := range g {
		if l.name != "" {
			return key{'n', l.name}.String()
		}
	}
	for _, l := range g {
		if l.sub != "" {
			return key{'n', l.sub}.String()
		}
	}
	return "line:" + string(g[0].m.Source.Document) + ":" + g[0].m.Source.Date.UTC().Format("20060102150405")
}

func newSource(m *app.Medication) Source {
	s := Source{
		Document: m.Source.Document,
		TypeCode: m.Source.TypeCode,
		Title:    m.Source.Title,
		Date:     m.Source.Date,
		Author:   m.Source.Author,
		Declared: m.Kind == app.MedicationDeclared && !m.Source.Own,
		Own:      m.Source.Own,
	}
	s.TypeLabel = typeLabel(m.Source.TypeCode, m.Source.Title)
	if s.Declared {
		s.TypeLabel = "Déclaration du patient"
	}
	return s
}

func typeLabel(code, title string) string {
	if l, ok := terms.DocumentType(code); ok {
		return l
	}
	if title != "" {
		return title
	}
	return code
}

// dates fills the dispensing facts, the recency hint and the stop date.
func dates(e *Entry, sorted []*line, now time.Time) {
	var lastPrescription time.Time
	var lastPrescriptionBy string
	from := now.AddDate(0, -TimelineMonths, 0)
	for _, l := range sorted { // most recent first
		m := l.m
		if !m.Dispensed.IsZero() {
			if m.Dispensed.After(e.LastDispensed) {
				e.LastDispensed, e.LastPrescriber = m.Dispensed, m.Prescriber
				e.LastDispensedPrecision = m.DispensedPrecision
			}
			if m.Dispensed.After(from) && !m.Dispensed.After(now) {
				e.Dispensings = append(e.Dispensings, m.Dispensed)
			}
		}
		if m.Kind == app.MedicationPrescribed && m.Prescriber != "" {
			if d := l.date(); lastPrescriptionBy == "" || d.After(lastPrescription) {
				lastPrescription, lastPrescriptionBy = d, m.Prescriber
			}
		}
		if !m.End.IsZero() && m.End.After(e.Stopped) && m.Kind != app.MedicationPlanned {
			e.Stopped, e.StoppedPrecision = m.End, m.EndPrecision // a plan's end is the end of its window, not a stop
		}
	}
	if e.LastPrescriber == "" {
		e.LastPrescriber = lastPrescriptionBy
	}
	// Oldest first, one mark per calendar day.
	slices.SortFunc(e.Dispensings, func(a, b time.Time) int { return a.Compare(b) })
	e.Dispensings = slices.CompactFunc(e.Dispensings, func(a, b time.Time) bool {
		ay, am, ad := a.Date()
		by, bm, bd := b.Date()
		return ay == by && am == bm && ad == bd
	})

	e.LastActivity, e.Basis, e.LastActivityPrecision = e.LastDispensed, BasisDispensing, e.LastDispensedPrecision
	for _, l := range sorted {
		if l.m.Kind == app.MedicationPlanned {
			continue // a plan is no activity yet
		}
		if !l.m.Start.IsZero() && l.m.Start.After(e.LastActivity) {
			e.LastActivity, e.Basis, e.LastActivityPrecision = l.m.Start, BasisStart, l.m.StartPrecision
		}
	}
	if e.LastActivity.IsZero() {
		e.Basis = BasisNone
		for _, l := range sorted {
			if !l.m.Source.Date.IsZero() && l.m.Source.Date.After(e.LastActivity) {
				e.LastActivity, e.Basis, e.LastActivityPrecision = l.m.Source.Date, BasisDocument, app.PrecisionNone
			}
		}
	}
	switch {
	case e.LastActivity.IsZero():
		e.Recency = RecencyUnknown
	case !e.LastActivity.Before(now.AddDate(0, -RecentMonths, 0)):
		e.Recency = RecencyRecent
	default:
		e.Recency = RecencyOlder
	}
	// A stop date is only reported when nothing later contradicts it.
	if !e.Stopped.IsZero() && (day(e.LastDispensed).After(day(e.Stopped)) || day(e.LastActivity).After(day(e.Stopped))) {
		e.Stopped, e.StoppedPrecision = time.Time{}, app.PrecisionNone
	}
}

// day truncates t to its calendar day, in its own location.
func day(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, t.Location())
}

func frDate(t time.Time) string { return t.Format("02/01/2006") }

// precDate writes a line's date at the precision its document gave ("1976",
// "03/1976", "12/03/1976"); a date of unknown precision as a day.
func precDate(t time.Time, p app.DatePrecision) string {
	if p == app.PrecisionMinute {
		p = app.PrecisionDay // notes name days
	}
	return app.FormatDate(t, p)
}

// describe names the source of a line for a note: "Synthèse du 12/03/2025".
func describe(m *app.Medication) string {
	what := typeLabel(m.Source.TypeCode, m.Source.Title)
	if m.Kind == app.MedicationDeclared {
		what = "déclaration du patient"
	}
	if what == "" {
		what = "document sans type"
	}
	if m.Source.Date.IsZero() {
		return what
	}
	return what + " du " + frDate(m.Source.Date)
}

// divergences notes the facts the sources disagree on, keeping both sides:
// for each stop date, the latest dispensing, start or mention after it;
// and, among the sources that state a current treatment, different start
// dates or different stop dates.
func divergences(e *Entry, sorted []*line) {
	seen := map[string]bool{}
	note := func(s string) {
		s = NoteDivergent + " : " + s
		if !seen[s] {
			seen[s] = true
			e.Notes = append(e.Notes, s)
		}
	}
	ends := map[time.Time]bool{}
	for _, a := range sorted {
		if a.m.End.IsZero() || ends[day(a.m.End)] {
			continue
		}
		end := day(a.m.End)
		ends[end] = true
		var dispensed, started, listed bool
		for _, b := range sorted { // most recent first: the first match is the latest
			switch {
			case !dispensed && !b.m.Dispensed.IsZero() && day(b.m.Dispensed).After(end):
				dispensed = true
				note(fmt.Sprintf("fin de traitement le %s (%s), délivrance le %s (%s)",
					precDate(a.m.End, a.m.EndPrecision), describe(a.m), precDate(b.m.Dispensed, b.m.DispensedPrecision), describe(b.m)))
			case !b.m.Dispensed.IsZero() || sourceKey(b.m) == sourceKey(a.m):
			case !started && !b.m.Start.IsZero() && day(b.m.Start).After(end):
				started = true
				note(fmt.Sprintf("fin de traitement le %s (%s), début le %s (%s)",
					precDate(a.m.End, a.m.EndPrecision), describe(a.m), precDate(b.m.Start, b.m.StartPrecision), describe(b.m)))
			case !listed && b.m.End.IsZero() && listsCurrent(b.m.Kind) && day(b.m.Source.Date).After(end) &&
				(b.m.Start.IsZero() || !day(b.m.Start).After(end)):
				listed = true
				note(fmt.Sprintf("fin de traitement le %s (%s), toujours mentionné (%s)",
					precDate(a.m.End, a.m.EndPrecision), describe(a.m), describe(b.m)))
			}
		}
	}
	differ := func(what string, get func(*app.Medication) (time.Time, app.DatePrecision)) {
		type fact struct {
			day time.Time
			l   *line
		}
		var facts []fact
		sources := map[srcKey]bool{}
		days := map[time.Time]bool{}
		for _, l := range sorted {
			t, _ := get(l.m)
			if t.IsZero() || !listsCurrent(l.m.Kind) {
				continue
			}
			sources[sourceKey(l.m)] = true
			if d := day(t); !days[d] {
				days[d] = true
				facts = append(facts, fact{d, l})
			}
		}
		if len(facts) < 2 || len(sources) < 2 {
			return
		}
		sort.SliceStable(facts, func(i, j int) bool { return facts[i].day.Before(facts[j].day) })
		parts := make([]string, len(facts))
		for i, f := range facts {
			parts[i] = fmt.Sprintf("le %s (%s)", precDate(get(f.l.m)), describe(f.l.m))
		}
		note(what + " " + strings.Join(parts, ", "))
	}
	differ("début", func(m *app.Medication) (time.Time, app.DatePrecision) { return m.Start, m.StartPrecision })
	differ("fin de traitement", func(m *app.Medication) (time.Time, app.DatePrecision) { return m.End, m.EndPrecision })
	e.Divergent = len(e.Notes) > 0
}

// listsCurrent reports whether a line of this kind states a treatment the
// patient takes (as opposed to a prescription, a dispensing or a single
// administration, whose dates differ by nature).
func listsCurrent(k app.MedicationKind) bool {
	return k == app.MedicationTreatment || k == app.MedicationDeclared
}
