package meds

import (
	"testing"

	"github.com/carnetdesk/carnet/app/terms"
)

func TestNormName(t *testing.T) {
	for in, want := range map[string]string{
		"DOLIPRANE 1000 mg, comprimé":      "doliprane",
		"Doliprane":                        "doliprane",
		"CRESTOR 5MG CPR9/10":              "crestor",
		"LUDEAL CPR3/21":                   "ludeal",
		"ELIQUIS 2,5MG CPR 60":             "eliquis",
		"APIXABAN BIOGARAN 5 mg, comprimé": "apixaban",
		"Kardégic 75 mg, poudre pour solution buvable en sachet-dose": "kardegic",
		"LEVOTHYROX 75 microgrammes, comprimé sécable":                "levothyrox",
		"Amlodipine/Valsartan Sandoz":                                 "amlodipine valsartan",
		"":                                                            "",
		"5 mg":                                                        "",
	} {
		if got := normName(in); got != want {
			t.Errorf("normName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCategoryTypesAreKnown(t *testing.T) {
	for code := range mayHoldMedication {
		if _, ok := terms.DocumentType(code); !ok {
			t.Errorf("type %s is not in JDV_J07", code)
		}
	}
}
