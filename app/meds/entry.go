package meds

import (
	"fmt"
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

// sourceKey identifies the source of a line: its document, or for a
// declaration its author and date.
func sourceKey(m *app.Medication) string {
	if m.Kind == app.MedicationDeclared || m.Source.Document == "" {
		return "decl\x00" + m.Source.Author + "\x00" + stamp(m.Source.Date) + "\x00" + string(m.Source.Document)
	}
	return "doc\x00" + string(m.Source.Document)
}

// build makes the entry of one cluster of lines (in canonical order).
func build(g []*line, now time.Time) Entry {
	var e Entry
	// Lines, most recent first; ties keep canonical order.
	sorted := append([]*line(nil), g...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].date().After(sorted[j].date()) })

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
	products := map[app.Code]bool{}
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
		for _, c := range append([]app.Code{l.m.Product}, l.m.Codes...) {
			if productKey(c) != "" {
				products[app.Code{Code: strings.TrimSpace(c.Code), System: c.System}] = true
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
	for c := range products {
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
	bySource := map[string]int{}
	for _, l := range sorted {
		m := &l.m
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
			s.Kinds = append(s.Kinds, m.Kind)
			sort.Slice(s.Kinds, func(a, b int) bool { return s.Kinds[a] < s.Kinds[b] })
		}
	}
	sort.SliceStable(e.Sources, func(i, j int) bool {
		a, b := e.Sources[i], e.Sources[j]
		if !a.Date.Equal(b.Date) {
			return a.Date.After(b.Date)
		}
		if a.Document != b.Document {
			return a.Document < b.Document
		}
		return a.Author < b.Author
	})

	dates(&e, sorted, now)
	divergences(&e, sorted)

	// Flags: from the level-5 code, else from the group (approximate).
	if e.ATC.Code != "" {
		e.Flags = terms.Perioperative(e.ATC.Code)
	}
	return e
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
		return strings.TrimPrefix(productKey(e.Products[0]), "p:")
	}
	for _, l := range g {
		if l.name != "" {
			return "name:" + l.name
		}
	}
	for _, l := range g {
		if l.sub != "" {
			return "name:" + l.sub
		}
	}
	return "line:" + string(g[0].m.Source.Document) + ":" + stamp(g[0].m.Source.Date)
}

func newSource(m *app.Medication) Source {
	s := Source{
		Document: m.Source.Document,
		TypeCode: m.Source.TypeCode,
		Title:    m.Source.Title,
		Date:     m.Source.Date,
		Author:   m.Source.Author,
		Declared: m.Kind == app.MedicationDeclared,
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
	days := map[string]bool{}
	for _, l := range sorted { // most recent first
		m := &l.m
		if !m.Dispensed.IsZero() {
			if m.Dispensed.After(e.LastDispensed) {
				e.LastDispensed, e.LastPrescriber = m.Dispensed, m.Prescriber
			}
			if m.Dispensed.After(from) && !m.Dispensed.After(now) {
				d := m.Dispensed.Format("2006-01-02")
				if !days[d] {
					days[d] = true
					e.Dispensings = append(e.Dispensings, m.Dispensed)
				}
			}
		}
		if m.Kind == app.MedicationPrescribed && m.Prescriber != "" {
			if d := l.date(); lastPrescriptionBy == "" || d.After(lastPrescription) {
				lastPrescription, lastPrescriptionBy = d, m.Prescriber
			}
		}
		if !m.End.IsZero() && m.End.After(e.Stopped) {
			e.Stopped = m.End
		}
	}
	if e.LastPrescriber == "" {
		e.LastPrescriber = lastPrescriptionBy
	}
	sort.Slice(e.Dispensings, func(i, j int) bool { return e.Dispensings[i].Before(e.Dispensings[j]) })

	e.LastActivity, e.Basis = e.LastDispensed, BasisDispensing
	for _, l := range sorted {
		if !l.m.Start.IsZero() && l.m.Start.After(e.LastActivity) {
			e.LastActivity, e.Basis = l.m.Start, BasisStart
		}
	}
	if e.LastActivity.IsZero() {
		e.Basis = BasisNone
		for _, l := range sorted {
			if !l.m.Source.Date.IsZero() && l.m.Source.Date.After(e.LastActivity) {
				e.LastActivity, e.Basis = l.m.Source.Date, BasisDocument
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
		e.Stopped = time.Time{}
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

// divergences notes the facts the sources disagree on, keeping both sides.
func divergences(e *Entry, sorted []*line) {
	seen := map[string]bool{}
	note := func(s string) {
		s = NoteDivergent + " : " + s
		if !seen[s] {
			seen[s] = true
			e.Notes = append(e.Notes, s)
		}
	}
	for _, a := range sorted {
		if a.m.End.IsZero() {
			continue
		}
		end := day(a.m.End)
		// A dispensing after the stop date (the latest one).
		for _, b := range sorted { // most recent first
			if !b.m.Dispensed.IsZero() && day(b.m.Dispensed).After(end) {
				note(fmt.Sprintf("fin de traitement le %s (%s), délivrance le %s (%s)",
					frDate(a.m.End), describe(&a.m), frDate(b.m.Dispensed), describe(&b.m)))
				break
			}
		}
		// A later source that starts it, or still lists it without an end.
		for _, b := range sorted {
			if sourceKey(&b.m) == sourceKey(&a.m) || !b.m.Dispensed.IsZero() {
				continue
			}
			switch {
			case !b.m.Start.IsZero() && day(b.m.Start).After(end):
				note(fmt.Sprintf("fin de traitement le %s (%s), début le %s (%s)",
					frDate(a.m.End), describe(&a.m), frDate(b.m.Start), describe(&b.m)))
			case b.m.End.IsZero() && b.m.Start.IsZero() && day(b.m.Source.Date).After(end) && listsCurrent(b.m.Kind):
				note(fmt.Sprintf("fin de traitement le %s (%s), toujours mentionné (%s)",
					frDate(a.m.End), describe(&a.m), describe(&b.m)))
			case !b.m.End.IsZero() && !day(b.m.End).Equal(end) && listsCurrent(b.m.Kind) && listsCurrent(a.m.Kind) && b.m.End.Before(a.m.End):
				note(fmt.Sprintf("fin de traitement le %s (%s), le %s (%s)",
					frDate(a.m.End), describe(&a.m), frDate(b.m.End), describe(&b.m)))
			}
		}
	}
	// Two treatment sources disagreeing on the start.
	for i, a := range sorted {
		if a.m.Start.IsZero() || !listsCurrent(a.m.Kind) {
			continue
		}
		for _, b := range sorted[i+1:] {
			if b.m.Start.IsZero() || !listsCurrent(b.m.Kind) || sourceKey(&a.m) == sourceKey(&b.m) {
				continue
			}
			if !day(a.m.Start).Equal(day(b.m.Start)) {
				x, y := a, b
				if y.m.Start.Before(x.m.Start) {
					x, y = y, x
				}
				note(fmt.Sprintf("début le %s (%s), le %s (%s)",
					frDate(x.m.Start), describe(&x.m), frDate(y.m.Start), describe(&y.m)))
			}
		}
	}
	e.Divergent = len(e.Notes) > 0
}

// listsCurrent reports whether a line of this kind states a treatment the
// patient takes (as opposed to a prescription, a dispensing or a single
// administration, whose dates differ by nature).
func listsCurrent(k app.MedicationKind) bool {
	return k == app.MedicationTreatment || k == app.MedicationDeclared
}
