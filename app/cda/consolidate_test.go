package cda

import (
	"strings"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/meds"
)

// sampleLines reads the medication lines of samples, each with its Source
// as the Service fills it.
func sampleLines(t *testing.T, names ...string) []app.Medication {
	t.Helper()
	var lines []app.Medication
	for _, n := range names {
		d := parseSample(t, n)
		cd := clinical(d, app.DocumentMeta{})
		for _, m := range cd.Medications {
			m.Source = app.MedicationSource{Document: cd.Meta.ID, TypeCode: cd.Meta.TypeCode, Title: cd.Meta.Title, Date: cd.Meta.Date}
			lines = append(lines, m)
		}
	}
	return lines
}

// TestConsolidateTruth consolidates the samples that record what was not
// done, planned vaccinations, nested medications and dispensations.
func TestConsolidateTruth(t *testing.T) {
	all := []string{"CSE-CS8_2024.01.xml", "IPS-FR_2024.01.xml", "eDISP-MED_2024.01.xml", "ANEST-CR-CPA_2022.01.xml",
		"CNAM-HR_2021.01.xml", "VSM_1.4_2022.01.xml", "LDL-SES_2022.01.xml", "IMG_CR_IMG_2024.01.xml", "eP-MED-DM_2024.01_PosoStruct.xml"}
	lines := sampleLines(t, all...)
	disp := parseSample(t, "eDISP-MED_2024.01.xml").ID
	list := meds.Consolidate(lines, nil, time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC))

	// A vaccination the document records as not given never appears as given.
	if len(list.NotGiven) != 2 {
		t.Errorf("%d lines not given, want the two CSE-CS8 vaccinations", len(list.NotGiven))
	}
	for _, m := range list.NotGiven {
		if !m.Negated || m.LineStatus() != app.StatusNotGiven {
			t.Errorf("not-given line %q: status %s", m.Name, m.LineStatus())
		}
	}
	var names []string
	dispensedBy := map[string]bool{}
	for _, g := range list.Groups {
		for _, e := range g.Entries {
			names = append(names, e.Name)
			for _, l := range e.Lines {
				if l.Negated {
					t.Errorf("entry %q holds a negated line", e.Name)
				}
				if l.Source.Document == disp && l.Kind == app.MedicationDispensed {
					dispensedBy[l.Name] = true
				}
				if l.Name == "Vaccin antituberculeux" && l.Kind != app.MedicationPlanned {
					t.Errorf("tuberculosis vaccine line of kind %s in an entry: only the IPS plan may list it", l.Kind)
				}
			}
			// No entry named by a boolean or nothing.
			switch strings.ToLower(strings.TrimSpace(e.Name)) {
			case "", "oui", "non":
				t.Errorf("an entry named %q", e.Name)
			}
		}
	}
	// The dispensation document contributes its two lines.
	if len(dispensedBy) != 2 {
		t.Errorf("dispensation lines consolidated: %v", dispensedBy)
	}
	// The levothyroxine line is not listed as paracetamol: its substance is the coded one.
	for _, l := range lines {
		if l.Product.Code == "62080626" && (strings.Contains(strings.ToLower(l.Substance), "paracetamol") || l.Conflict != "paracetamol") {
			t.Errorf("levothyroxine line: substance %q conflict %q", l.Substance, l.Conflict)
		}
	}
	if len(names) == 0 {
		t.Fatal("no entries")
	}
}

// TestPresentProblems: a negated problem never appears in the problem list.
func TestPresentProblems(t *testing.T) {
	for _, n := range []string{"ANEST-CR-CPA_2022.01.xml", "CSE-CS8_2024.01.xml"} {
		d := parseSample(t, n)
		for _, p := range app.PresentProblems(d.Problems) {
			if p.Negated {
				t.Errorf("%s: negated problem %s listed", n, p.Code.Code)
			}
			for _, c := range []string{"I10", "I26", "G96.9", "MED-170"} {
				if p.Code.Code == c {
					t.Errorf("%s: problem %s is negated in the document", n, c)
				}
			}
		}
	}
}
