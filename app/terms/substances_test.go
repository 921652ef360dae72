package terms

import "testing"

func TestSubstanceATC(t *testing.T) {
	if err := Err(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		want string
	}{
		{"PLAVIX 75 mg, comprimé pelliculé", "B01AC04"},
		{"COUMADINE 2 mg cp séc", "B01AA03"},
		{"Clopidogrel", "B01AC04"},
		{"ELIQUIS 5 mg", "B01AF02"},
		{"INSULINE GLARGINE 100 U/ml", "A10AE04"},
		{"insuline", ""}, // too vague: not guessed
		{"BI-PROFENID LP 100 mg", "M01AE03"},
		{"Téralithe 250 mg", "N05AN01"},
		{"ACIDE VALPROÏQUE", "N03AG01"},
		{"OZEMPIC 0,25 mg", "A10BJ06"},
		{"Dapagliflozine", "A10BK01"},
		{"LUDEAL cp", "G03AA07"},
		{"produit homéopathique", ""},
		{"", ""},
		{"75 mg", ""},
	}
	for _, tc := range tests {
		got, ok := SubstanceATC(tc.name)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("SubstanceATC(%q) = %q, %v; want %q", tc.name, got, ok, tc.want)
		}
	}
	// Every inferred code of an anticoagulant or antiplatelet is flagged.
	for _, name := range []string{"plavix", "coumadine", "previscan", "xarelto", "kardegic"} {
		atc, _ := SubstanceATC(name)
		if len(Perioperative(atc)) == 0 {
			t.Errorf("%s (%s) has no perioperative flag", name, atc)
		}
	}
}

func TestParseSubstancesRejects(t *testing.T) {
	for _, bad := range []string{
		"plavix\tB01AC\tbrand\n",                           // not level 5
		"plavix\tB01AC04\n",                                // missing kind
		"plavix\tB01AC04\tgeneric\n",                       // unknown kind
		"plavix\tB01AC04\tbrand\nplavix\tB01AA03\tbrand\n", // two codes
		"a b c d\tB01AC04\tdci\n",                          // too many words
	} {
		if _, err := parseSubstances([]byte(bad)); err == nil {
			t.Errorf("parseSubstances(%q) accepted", bad)
		}
	}
}
