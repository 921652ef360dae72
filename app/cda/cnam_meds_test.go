package cda

import (
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app/meds"
)

// TestCNAMHistoryMedicationList reads the Assurance Maladie's reimbursement
// history sample and consolidates it the way the anesthesiologist's view
// does: the list must be right line by line (the dispensings read by eye in
// the sample, section "Médicaments délivrés").
func TestCNAMHistoryMedicationList(t *testing.T) {
	doc, err := ParseBytes(readSample(t, "CNAM-HR_2021.01.xml"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2019, 8, 1, 0, 0, 0, 0, time.UTC) // soon after the last dispensing
	list := meds.Consolidate(doc.Medications, nil, now)

	type want struct {
		atc          string
		dispensings  []string // YYYY-MM-DD, oldest first
		prescriber   string
		lastDispense string
	}
	wants := map[string]want{
		"LUDEAL":     {"G03AA07", []string{"2019-05-26"}, "DUPONT", "2019-05-26"},
		"CRESTOR":    {"C10AA07", []string{"2019-03-11"}, "MARIGNY", "2019-03-11"},
		"NUX VOMICA": {"W99", []string{"2019-03-08"}, "MARIGNY", "2019-03-08"},
		"TETANIQUE":  {"J07AM01", []string{"2019-06-26", "2019-07-11"}, "MARIGNY", "2019-07-11"},
		"HBVAXPRO":   {"J07BC01", []string{"2019-07-08"}, "MARIGNY", "2019-07-08"},
	}
	// The homeopathic line is written "PRODUIT HOMEOPATHIQUE" (a category)
	// and coded UCD 9064295 "NUX VOMICA COMP BOIR GRL": the coded,
	// more specific product names the entry.
	found := map[string]bool{}
	for _, g := range list.Groups {
		for _, e := range g.Entries {
			key := ""
			for k := range wants {
				if containsFold(e.Name, k) {
					key = k
				}
			}
			if key == "" {
				t.Errorf("unexpected entry %q (ATC %s)", e.Name, e.ATC.Code)
				continue
			}
			if found[key] {
				t.Errorf("%s appears twice: the two dispensings of the same product must merge", key)
			}
			found[key] = true
			w := wants[key]
			if e.ATC.Code != w.atc {
				t.Errorf("%s: ATC %q, want %q", key, e.ATC.Code, w.atc)
			}
			var got []string
			for _, d := range e.Dispensings {
				got = append(got, d.Format("2006-01-02"))
			}
			if len(got) != len(w.dispensings) {
				t.Errorf("%s: dispensings %v, want %v", key, got, w.dispensings)
			} else {
				for i := range got {
					if got[i] != w.dispensings[i] {
						t.Errorf("%s: dispensings %v, want %v", key, got, w.dispensings)
						break
					}
				}
			}
			if d := e.LastDispensed.Format("2006-01-02"); d != w.lastDispense {
				t.Errorf("%s: last dispensed %s, want %s", key, d, w.lastDispense)
			}
			if !containsFold(e.LastPrescriber, w.prescriber) {
				t.Errorf("%s: prescriber %q, want %s", key, e.LastPrescriber, w.prescriber)
			}
			if len(e.Sources) != 1 || e.Sources[0].Document != doc.ID {
				t.Errorf("%s: sources %+v, want the history document", key, e.Sources)
			}
		}
	}
	for k := range wants {
		if !found[k] {
			t.Errorf("%s missing from the medication list", k)
		}
	}
	if list.Entries != len(wants) || list.Lines != 6 {
		t.Errorf("%d entries from %d lines, want %d from 6", list.Entries, list.Lines, len(wants))
	}
}

func containsFold(s, sub string) bool {
	return len(sub) == 0 || indexFold(s, sub) >= 0
}

func indexFold(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		match := true
		for j := 0; j < len(sub); j++ {
			a, b := s[i+j], sub[j]
			if 'a' <= a && a <= 'z' {
				a -= 'a' - 'A'
			}
			if 'a' <= b && b <= 'z' {
				b -= 'a' - 'A'
			}
			if a != b {
				match = false
				break
			}
		}
		if match {
			return i
		}
	}
	return -1
}
