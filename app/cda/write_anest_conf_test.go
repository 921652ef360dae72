package cda

import (
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/cda/cdacheck"
)

// TestPreAnesthesiaConformsANEST runs the ANS conformance kit (XSD,
// ANEST-CR-CPA 2022.01 and the common profiles) on the reports the writer
// produces: with and without medications, vital signs and decisions, CS
// and APC; every one must pass with 0 failed assertions.
func TestPreAnesthesiaConformsANEST(t *testing.T) {
	withDecisions := testPreAnesthesia(3)
	withDecisions.Act = ActAPC
	withDecisions.Medications[1].Decision = "Arrêter"
	withDecisions.Medications[1].LastDose = time.Date(2026, 12, 4, 0, 0, 0, 0, cet)
	withDecisions.Medications[1].Reason = "GIHP 2015, risque hémorragique élevé"
	withDecisions.Medications[0].Decision = "Poursuivre"
	withDecisions.VitalSigns = []VitalSign{
		{Code: app.Code{Code: "29463-7", Display: "Poids"}, Value: "59", Unit: "kg"},
		{Code: app.Code{Code: "8302-2", Display: "Taille"}, Value: "176", Unit: "cm"},
		{Code: app.Code{Code: "8867-4"}, Value: "60", Unit: "/min"},
	}
	for name, pa := range map[string]PreAnesthesia{"empty": testPreAnesthesia(0), "lines": testPreAnesthesia(3), "decisions": withDecisions} {
		doc, err := WritePreAnesthesia(pa, testOpts(7))
		if err != nil {
			t.Fatal(name, err)
		}
		if r := cdacheck.Check(t, doc, "CI-SIS_ANEST-CR-CPA_2022.01.sch"); !r.OK() {
			t.Log(name, r.Output)
		}
		if r := cdacheck.Check(t, doc); !r.OK() {
			t.Log(name, r.Output)
		}
	}
}

// TestPreAnesthesiaRefusesOtherActs: the principal act must be CS or APC.
func TestPreAnesthesiaRefusesOtherActs(t *testing.T) {
	pa := testPreAnesthesia(1)
	pa.Act = app.Code{Code: "C", System: OIDNGAP}
	if _, err := WritePreAnesthesia(pa, testOpts(7)); err == nil {
		t.Fatal("act C accepted")
	}
	pa.Act = ActCS
	pa.VitalSigns = []VitalSign{{Code: app.Code{Code: "29463-7"}, Value: "beaucoup", Unit: "kg"}}
	if _, err := WritePreAnesthesia(pa, testOpts(7)); err == nil {
		t.Fatal("non-decimal vital sign accepted")
	}
}
