package meds_test

import (
	"math/rand"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/meds"
)

var now = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

func date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// Documents of the fixtures.
var (
	vsm    = app.MedicationSource{Document: "doc-vsm", TypeCode: "SYNTH", Title: "Synthèse médicale", Date: date(2026, 9, 1), Author: "Dr Médecin Traitant"}
	presc  = app.MedicationSource{Document: "doc-presc", TypeCode: "57833-6", Title: "Ordonnance", Date: date(2026, 6, 10), Author: "Dr Cardiologue"}
	cnam   = app.MedicationSource{Document: "doc-cnam", TypeCode: "REMB", Title: "Historique des remboursements", Date: date(2026, 11, 1), Author: "Assurance Maladie"}
	letter = app.MedicationSource{Document: "doc-ldl", TypeCode: "11490-0", Title: "Lettre de liaison", Date: date(2025, 3, 15), Author: "Dr Hospitalier"}
)

func atc(code string) app.Code  { return app.Code{Code: code, System: app.SystemATC} }
func atc3(code string) app.Code { return app.Code{Code: code, System: app.SystemCNAMATC3} }
func cip(code string) app.Code  { return app.Code{Code: code, System: app.SystemCIP13} }
func ccip(code string) app.Code { return app.Code{Code: code, System: app.SystemCNAMCIP} }

// cnamLine is a dispensing of the reimbursement history: CNAM CIP, ATC group only.
func cnamLine(name, cipCode, group string, dispensed time.Time) app.Medication {
	return app.Medication{Kind: app.MedicationDispensed, Name: name, Product: ccip(cipCode), ATC: atc3(group),
		Dispensed: dispensed, Quantity: "1", Prescriber: "Dr Cardiologue", Source: cnam}
}

func apixabanLines() []app.Medication {
	lines := []app.Medication{
		{Kind: app.MedicationTreatment, Name: "ELIQUIS 5 mg, comprimé pelliculé", Substance: "apixaban",
			Product: app.Code{Code: "65473812", System: app.SystemCIS}, ATC: atc("B01AF02"), Start: date(2023, 5, 2), Source: vsm},
		{Kind: app.MedicationPrescribed, Name: "ELIQUIS 5 mg cp", Product: cip("3400939475868"), ATC: atc("B01AF02"),
			Start: date(2026, 6, 10), Prescriber: "Dr Cardiologue", Source: presc},
	}
	for i := range 12 {
		lines = append(lines, cnamLine("ELIQUIS 5MG CPR 60", "3400939475868", "B01", date(2025, 12, 1).AddDate(0, i-1, 0)))
	}
	return lines
}

func entries(l meds.List) []meds.Entry {
	var out []meds.Entry
	for _, g := range l.Groups {
		out = append(out, g.Entries...)
	}
	return out
}

func find(t *testing.T, l meds.List, id string) meds.Entry {
	t.Helper()
	for _, e := range entries(l) {
		if e.ID == id {
			return e
		}
	}
	var ids []string
	for _, e := range entries(l) {
		ids = append(ids, e.ID)
	}
	t.Fatalf("no entry %s in %v", id, ids)
	return meds.Entry{}
}

func TestOverlappingSources(t *testing.T) {
	l := meds.Consolidate(apixabanLines(), nil, now)
	if l.Entries != 1 || l.Lines != 14 {
		t.Fatalf("entries = %d, lines = %d; want 1 and 14", l.Entries, l.Lines)
	}
	e := find(t, l, "atc:B01AF02")
	if len(e.Sources) != 3 {
		t.Fatalf("sources = %+v", e.Sources)
	}
	// Most recent source first: the CNAM-HR, its 12 lines.
	if e.Sources[0].Document != "doc-cnam" || e.Sources[0].Lines != 12 || e.Sources[0].TypeLabel != "Données de remboursement" {
		t.Errorf("first source = %+v", e.Sources[0])
	}
	if e.Sources[1].Document != "doc-vsm" || e.Sources[2].Document != "doc-presc" {
		t.Errorf("sources order: %s, %s", e.Sources[1].Document, e.Sources[2].Document)
	}
	if len(e.Dispensings) != 12 || !e.LastDispensed.Equal(date(2026, 10, 1)) || e.LastPrescriber != "Dr Cardiologue" {
		t.Errorf("dispensings = %d, last %v by %q", len(e.Dispensings), e.LastDispensed, e.LastPrescriber)
	}
	if !slices.IsSortedFunc(e.Dispensings, func(a, b time.Time) int { return a.Compare(b) }) {
		t.Error("dispensings not in order")
	}
	if e.Recency != meds.RecencyRecent || e.Basis != meds.BasisDispensing {
		t.Errorf("recency = %s (%s)", e.Recency, e.Basis)
	}
	if e.Name != "ELIQUIS 5MG CPR 60" || e.Substance != "apixaban" || !e.ATCLevel5 || len(e.Names) != 3 || len(e.Products) != 2 {
		t.Errorf("identity: %q %q %v names=%v products=%v", e.Name, e.Substance, e.ATC, e.Names, e.Products)
	}
	if len(e.Flags) != 1 || e.Flags[0].Class.ID != "xa-inhibitor" || e.Flags[0].Approximate {
		t.Errorf("flags = %+v", e.Flags)
	}
	if l.Groups[0].ID != "perio:antithrombotics" || !l.Groups[0].Flagged || e.Divergent {
		t.Errorf("group %s flagged=%v divergent=%v %v", l.Groups[0].ID, l.Groups[0].Flagged, e.Divergent, e.Notes)
	}
	if len(e.Lines) != 14 {
		t.Errorf("lines kept = %d", len(e.Lines))
	}
}

func TestTimelineWindow(t *testing.T) {
	var lines []app.Medication
	for _, d := range []time.Time{date(2024, 11, 25), date(2024, 11, 27), date(2026, 1, 5), date(2026, 1, 5), date(2026, 12, 1)} {
		lines = append(lines, cnamLine("LEVOTHYROX 75 MICROG CPR 30", "3400934571852", "H03", d))
	}
	e := entries(meds.Consolidate(lines, nil, now))[0]
	// 25/11/2024 is outside 24 months; 05/01/2026 twice is one mark; 01/12/2026 is after now.
	if len(e.Dispensings) != 2 || !e.Dispensings[0].Equal(date(2024, 11, 27)) {
		t.Errorf("dispensings = %v", e.Dispensings)
	}
}

func TestConflictingDates(t *testing.T) {
	lines := []app.Medication{
		{Kind: app.MedicationTreatment, Name: "KARDEGIC 75 mg", ATC: atc("B01AC06"), Start: date(2020, 1, 1), End: date(2026, 6, 30), Source: letter},
		cnamLine("KARDEGIC 75MG PDR SACH 30", "3400934998326", "B01", date(2026, 9, 15)),
		{Kind: app.MedicationTreatment, Name: "Kardégic", ATC: atc("B01AC06"), Start: date(2019, 3, 1), Source: vsm},
	}
	e := find(t, meds.Consolidate(lines, nil, now), "atc:B01AC06")
	if !e.Divergent || len(e.Notes) != 3 {
		t.Fatalf("divergent = %v, notes = %q", e.Divergent, e.Notes)
	}
	joined := strings.Join(e.Notes, "\n")
	for _, want := range []string{
		"sources divergentes : fin de traitement le 30/06/2026 (Lettre de liaison à la sortie d'un établissement de soins du 15/03/2025), délivrance le 15/09/2026 (Données de remboursement du 01/11/2026)",
		"fin de traitement le 30/06/2026", "toujours mentionné (Synthèse du 01/09/2026)",
		"début le 01/03/2019 (Synthèse du 01/09/2026), le 01/01/2020 (Lettre de liaison",
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("notes lack %q:\n%s", want, joined)
		}
	}
	if !e.Stopped.IsZero() {
		t.Errorf("stop date %v kept though a later dispensing contradicts it", e.Stopped)
	}
	// Both facts stay in the lines.
	var end, disp bool
	for _, m := range e.Lines {
		end = end || !m.End.IsZero()
		disp = disp || !m.Dispensed.IsZero()
	}
	if !end || !disp {
		t.Error("a fact was dropped")
	}

	// A consistent stop is reported, without a note.
	stopped := []app.Medication{
		{Kind: app.MedicationTreatment, Name: "INEXIUM 20 mg", ATC: atc("A02BC05"), Start: date(2025, 1, 1), End: date(2025, 3, 1), Source: letter},
	}
	e = entries(meds.Consolidate(stopped, nil, now))[0]
	if e.Divergent || !e.Stopped.Equal(date(2025, 3, 1)) {
		t.Errorf("stopped = %v, notes = %q", e.Stopped, e.Notes)
	}
}

func TestCoarseATCNotMergedWrongly(t *testing.T) {
	lines := []app.Medication{
		cnamLine("OPTILOVA CPR3/21", "3400935673220", "G03", date(2026, 5, 26)), // not in the substance table: stays coarse
		cnamLine("MINIDRIL CPR 3/21", "3400931863014", "G03", date(2026, 6, 26)),
		cnamLine("CRESTOR 5MG CPR9/10", "3400939169002", "C10", date(2026, 3, 11)),
		{Kind: app.MedicationTreatment, Name: "CRESTOR 5 mg, comprimé pelliculé", ATC: atc("C10AA07"), Source: vsm},
		cnamLine("TAHOR 10MG CPR 90", "3400936432000", "C10", date(2026, 4, 1)),
		// Same name as a level-5 line, but a group that cannot contain it.
		cnamLine("ELIQUIS 5MG CPR 60", "3400939999999", "N02", date(2026, 4, 1)),
		{Kind: app.MedicationTreatment, Name: "ELIQUIS 5 mg", ATC: atc("B01AF02"), Source: vsm},
	}
	l := meds.Consolidate(lines, nil, now)
	if l.Entries != 6 {
		for _, e := range entries(l) {
			t.Logf("%s %q %v", e.ID, e.Name, e.Names)
		}
		t.Fatalf("entries = %d, want 6", l.Entries)
	}
	crestor := find(t, l, "atc:C10AA07")
	if len(crestor.Sources) != 2 || len(crestor.Lines) != 2 {
		t.Errorf("crestor: CNAM line not merged by name: %+v", crestor.Sources)
	}
	ludeal := find(t, l, "cip:3400935673220")
	if ludeal.ATCLevel5 || ludeal.ATC.Code != "G03" || len(ludeal.Lines) != 1 {
		t.Errorf("ludeal = %+v", ludeal)
	}
	if len(ludeal.Flags) != 1 || ludeal.Flags[0].Class.ID != "estrogen" || !ludeal.Flags[0].Approximate ||
		ludeal.Flags[0].Note() != "classe approximative (ATC niveau 3)" {
		t.Errorf("ludeal flags = %+v", ludeal.Flags)
	}
	// A "possible" flag does not move the entry into the flagged group.
	if ludeal.Group != "atc:G" {
		t.Errorf("ludeal group = %s", ludeal.Group)
	}
	find(t, l, "cip:3400931863014")
	find(t, l, "atc:C10AA05") // TAHOR: group C10 and the name give atorvastatin
	if e := find(t, l, "atc:B01AF02"); len(e.Lines) != 1 {
		t.Errorf("eliquis merged with a line whose group contradicts it")
	}
}

func TestDeclared(t *testing.T) {
	staff := app.MedicationSource{Author: "IDE Accueil", Date: date(2026, 11, 20)}
	lines := []app.Medication{
		{Kind: app.MedicationTreatment, Name: "DOLIPRANE 1000 mg, comprimé", ATC: atc("N02BE01"), Source: vsm},
		{Kind: app.MedicationDeclared, Name: "Doliprane", Text: "si douleur", Source: staff},
		{Kind: app.MedicationDeclared, Name: "Tisane de millepertuis", Source: staff},
		{Kind: app.MedicationDeclared, Name: "Semaglutide (Ozempic) hebdomadaire", Substance: "sémaglutide", ATC: atc("A10BJ06"), Source: staff},
	}
	l := meds.Consolidate(lines, nil, now)
	if l.Entries != 3 {
		t.Fatalf("entries = %d", l.Entries)
	}
	d := find(t, l, "atc:N02BE01")
	if len(d.Sources) != 2 || !d.Sources[0].Declared || d.Sources[0].TypeLabel != "Déclaration du patient" || d.Sources[0].Author != "IDE Accueil" {
		t.Errorf("doliprane sources = %+v", d.Sources)
	}
	if d.Recency != meds.RecencyRecent || d.Basis != meds.BasisDocument {
		t.Errorf("doliprane recency = %s (%s)", d.Recency, d.Basis)
	}
	m := find(t, l, "name:tisane millepertuis")
	if m.Group != meds.GroupOther || len(m.Sources) != 1 || !m.Sources[0].Declared {
		t.Errorf("millepertuis = %+v", m)
	}
	s := find(t, l, "atc:A10BJ06")
	if s.Group != "perio:diabetes" || s.Flags[0].Class.ID != "glp1" {
		t.Errorf("semaglutide group %s flags %+v", s.Group, s.Flags)
	}
}

func TestRecencyBoundaries(t *testing.T) {
	boundary := now.AddDate(0, -3, 0) // 26/08/2026 10:00
	tests := []struct {
		name  string
		line  app.Medication
		want  meds.Recency
		basis meds.Basis
	}{
		{"dispensed exactly 3 months ago", app.Medication{Dispensed: boundary}, meds.RecencyRecent, meds.BasisDispensing},
		{"dispensed 1s before", app.Medication{Dispensed: boundary.Add(-time.Second)}, meds.RecencyOlder, meds.BasisDispensing},
		{"dispensed the day before", app.Medication{Dispensed: boundary.AddDate(0, 0, -1)}, meds.RecencyOlder, meds.BasisDispensing},
		{"started exactly 3 months ago", app.Medication{Start: boundary}, meds.RecencyRecent, meds.BasisStart},
		{"started 4 months ago", app.Medication{Start: now.AddDate(0, -4, 0)}, meds.RecencyOlder, meds.BasisStart},
		{"old start, recent dispensing", app.Medication{Start: date(2020, 1, 1), Dispensed: now.AddDate(0, 0, -10)}, meds.RecencyRecent, meds.BasisDispensing},
		{"document only", app.Medication{Source: app.MedicationSource{Document: "d", Date: now.AddDate(0, -2, 0)}}, meds.RecencyRecent, meds.BasisDocument},
		{"old document only", app.Medication{Source: app.MedicationSource{Document: "d", Date: now.AddDate(-1, 0, 0)}}, meds.RecencyOlder, meds.BasisDocument},
		{"no date", app.Medication{}, meds.RecencyUnknown, meds.BasisNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.line.Name = "BISOPROLOL 5 mg"
			tt.line.ATC = atc("C07AB07")
			if tt.line.Source.Document == "" {
				tt.line.Source = letter
				tt.line.Source.Date = time.Time{}
			}
			e := entries(meds.Consolidate([]app.Medication{tt.line}, nil, now))[0]
			if e.Recency != tt.want || e.Basis != tt.basis {
				t.Errorf("recency = %s (%s), want %s (%s)", e.Recency, e.Basis, tt.want, tt.basis)
			}
		})
	}
}

func TestFlags(t *testing.T) {
	tests := []struct {
		atc, class, severity string
	}{
		{"B01AF02", "xa-inhibitor", "high"},              // apixaban
		{"A10BK01", "sglt2", "high"},                     // dapagliflozin
		{"A10BJ06", "glp1", "high"},                      // semaglutide
		{"A10BA02", "metformin", "medium"},               // metformin
		{"N05AN01", "lithium", "high"},                   // lithium
		{"H02AB07", "systemic-corticosteroid", "medium"}, // prednisone
		{"N06AG02", "maoi", "high"},
	}
	var lines []app.Medication
	for _, tt := range tests {
		lines = append(lines, app.Medication{Kind: app.MedicationTreatment, Name: "drug " + tt.atc, ATC: atc(tt.atc), Source: vsm})
	}
	lines = append(lines, app.Medication{Kind: app.MedicationTreatment, Name: "AMLOR 5 mg", ATC: atc("C08CA01"), Source: vsm})
	l := meds.Consolidate(lines, nil, now)
	for _, tt := range tests {
		e := find(t, l, "atc:"+tt.atc)
		if len(e.Flags) == 0 || e.Flags[0].Class.ID != tt.class || e.Flags[0].Class.Severity.String() != tt.severity || e.Flags[0].Approximate {
			t.Errorf("%s: flags %+v", tt.atc, e.Flags)
		}
		if !strings.HasPrefix(e.Flags[0].Class.Rationale, "à vérifier avant anesthésie") {
			t.Errorf("%s: rationale %q", tt.atc, e.Flags[0].Class.Rationale)
		}
	}
	if l.Flagged != len(tests) {
		t.Errorf("flagged = %d", l.Flagged)
	}
	// Flagged groups first, high severity before medium; the unflagged ATC group last.
	var seenUnflagged bool
	for i, g := range l.Groups {
		if !g.Flagged {
			seenUnflagged = true
		} else if seenUnflagged {
			t.Errorf("flagged group %s after an unflagged one", g.ID)
		}
		if i > 0 && g.Flagged && l.Groups[i-1].Severity < g.Severity {
			t.Errorf("group %s (%v) after %s (%v)", g.ID, g.Severity, l.Groups[i-1].ID, l.Groups[i-1].Severity)
		}
	}
	if last := l.Groups[len(l.Groups)-1]; last.ID != "atc:C" || last.Label != "Système cardiovasculaire" {
		t.Errorf("last group = %s %q", last.ID, last.Label)
	}
}

func TestDeterministic(t *testing.T) {
	lines := append(apixabanLines(), benchLines(40, 300)...)
	want := meds.Consolidate(lines, benchDocs(40), now)
	r := rand.New(rand.NewSource(1))
	for range 10 {
		shuffled := slices.Clone(lines)
		r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		docs := benchDocs(40)
		r.Shuffle(len(docs), func(i, j int) { docs[i], docs[j] = docs[j], docs[i] })
		got := meds.Consolidate(shuffled, docs, now)
		if !reflect.DeepEqual(got, want) {
			t.Fatal("a shuffled input gives another list")
		}
	}
}

func TestUnstructured(t *testing.T) {
	docs := []app.DocumentMeta{
		{ID: "pdf-ldl", TypeCode: "11490-0", Date: date(2026, 2, 1), MediaType: "application/pdf"},
		{ID: "pdf-img", TypeCode: "18748-4", Date: date(2026, 3, 1), MediaType: "application/pdf"},
		{ID: "pdf-vsm", TypeCode: "60591-5", Date: date(2026, 5, 1), MediaType: "application/pdf"},
		{ID: "pdf-old", TypeCode: "57833-6", Date: date(2026, 6, 1), Superseded: true},
		{ID: "pdf-cpa", TypeCode: "34749-2", Date: date(2026, 5, 1)},
	}
	got := meds.Consolidate(nil, docs, now).Unstructured
	var ids []string
	for _, d := range got {
		ids = append(ids, string(d.Meta.ID))
		if d.TypeLabel == "" || d.Category == "" {
			t.Errorf("%s: %+v", d.Meta.ID, d)
		}
	}
	if want := []string{"pdf-cpa", "pdf-vsm", "pdf-ldl"}; !slices.Equal(ids, want) {
		t.Errorf("unstructured = %v, want %v", ids, want)
	}
}

func TestEmpty(t *testing.T) {
	l := meds.Consolidate(nil, nil, now)
	if len(l.Groups) != 0 || l.Entries != 0 || len(l.Unstructured) != 0 {
		t.Errorf("empty list = %+v", l)
	}
	// A line with nothing usable still shows.
	l = meds.Consolidate([]app.Medication{{Kind: app.MedicationTreatment, Text: "traitement habituel", Source: letter}}, nil, now)
	if l.Entries != 1 || entries(l)[0].Name != "traitement habituel" {
		t.Errorf("text-only line: %+v", l)
	}
}

// TestATCInferredFromName: a line that carries only a product code, or only
// a coarse group, gets the ATC code its name implies — so a brand-only
// anticoagulant is flagged — and the entry says the code was deduced.
func TestATCInferredFromName(t *testing.T) {
	lines := []app.Medication{
		{Kind: app.MedicationTreatment, Name: "PLAVIX 75 mg, comprimé", Product: app.Code{Code: "63564053", System: app.SystemCIS}, Source: vsm},
		cnamLine("LUDEAL CPR3/21", "3400935673220", "G03", date(2026, 5, 26)),
		cnamLine("PLAVIX 75MG CPR 30", "3400938022209", "N02", date(2026, 5, 26)), // group disagrees: not inferred
	}
	l := meds.Consolidate(lines, nil, now)
	plavix := find(t, l, "atc:B01AC04")
	if plavix.ATC.Display != meds.InferredATC || len(plavix.Flags) == 0 || plavix.Flags[0].Class.ID == "" {
		t.Errorf("plavix = %+v, flags %+v", plavix.ATC, plavix.Flags)
	}
	ludeal := find(t, l, "atc:G03AA07")
	if !ludeal.ATCLevel5 || len(ludeal.Flags) == 0 || ludeal.Flags[0].Approximate {
		t.Errorf("ludeal = %+v, flags %+v", ludeal.ATC, ludeal.Flags)
	}
	find(t, l, "cip:3400938022209")
}
