package cda

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/cda/cdacheck"
)

// vsmSchematron is the ANS rule set of the volet the synthesis writer
// follows.
const vsmSchematron = "CI-SIS_VSM_2023.01.sch"

func testSynthesis(n int) Synthesis {
	d := func(y, m, dd int) time.Time { return time.Date(y, time.Month(m), dd, 0, 0, 0, 0, cet) }
	src := "2.25.1234567890123456789"
	s := Synthesis{
		Patient: testPatient(),
		Author:  testGP(),
		Date:    testStart,
		Problems: []SynthesisItem{
			{Text: "Accident ischémique cérébral transitoire", Code: app.Code{Code: "G45.9", System: "2.16.840.1.113883.6.3", Display: "Accident ischémique cérébral transitoire, sans précision"},
				Start: d(2019, 8, 11), StartPrecision: app.PrecisionDay, Source: "VSM du 11/08/2019", SourceID: app.DocumentID(src)},
			{Text: `Douleurs "atypiques" <thoraciques> & fatigue`, Start: d(2024, 1, 1), StartPrecision: app.PrecisionYear},
		},
		History: []SynthesisItem{
			{Text: "Infarctus du myocarde", Code: app.Code{Code: "I21.1", System: "2.16.840.1.113883.6.3", Display: "Infarctus transmural aigu du myocarde, de la paroi inférieure"},
				Start: d(2015, 3, 1), StartPrecision: app.PrecisionMonth, End: d(2015, 4, 1), EndPrecision: app.PrecisionMonth, Source: "CR d'hospitalisation", SourceID: app.DocumentID(src)},
		},
		Allergies: []SynthesisItem{
			{Text: "Paracétamol", Code: app.Code{Code: "60234100", System: app.SystemCIS, Display: "PARACETAMOL"},
				Kind: app.Code{Code: "416098002", System: "2.16.840.1.113883.6.96", Display: "allergie médicamenteuse"}, Detail: "Urticaire", Start: d(2018, 6, 3), StartPrecision: app.PrecisionDay},
			{Text: "Pollen de bouleau"},
		},
		RiskFactors:  []SynthesisItem{{Text: "Tabagisme actif, 20 paquets-années"}},
		Treatments:   testLines(3),
		Vaccinations: []MedicationLine{{Name: "VACCIN TETANIQUE PASTEUR", ATC: app.Code{Code: "J07AM01", Display: "ANATOXINE TETANIQUE"}, Start: d(2019, 7, 11), Source: "Historique des remboursements"}},
		Devices:      []SynthesisItem{{Text: "Stimulateur cardiaque double chambre", Start: d(2021, 5, 4), StartPrecision: app.PrecisionDay}},
		Vigilance:    "Anticoagulé : risque hémorragique.\n\nAllergie au paracétamol.",
		Comment:      "Synthèse établie à partir du dossier.",
	}
	for i := 0; len(s.Problems) < n; i++ {
		s.Problems = append(s.Problems, s.Problems[i%2])
	}
	return s
}

func TestWriteSynthesisConformsVSM(t *testing.T) {
	doc, err := WriteSynthesis(testSynthesis(2), testOpts(1))
	if err != nil {
		t.Fatal(err)
	}
	if p := os.Getenv("VSM_OUT"); p != "" {
		_ = os.WriteFile(p, doc, 0o600)
	}
	cdacheck.Check(t, doc, vsmSchematron)
	cdacheck.Check(t, doc)
	_ = strings.TrimSpace
}
