package meds_test

import (
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/cda"
	"github.com/carnetdesk/carnet/app/meds"
)

// sample reads an ANS sample from shared/samples/cda above the package,
// skipping the test when absent.
func sample(t *testing.T, name string) []byte {
	t.Helper()
	dir, _ := os.Getwd()
	for {
		b, err := os.ReadFile(filepath.Join(dir, "shared", "samples", "cda", name))
		if err == nil {
			return b
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skipf("ANS sample %s not found: skipped", name)
		}
		dir = parent
	}
}

func loinc(code string, v float64, unit string, d time.Time) app.Observation {
	return app.Observation{Code: app.Code{Code: code, System: app.SystemLOINC}, Value: v, Unit: unit, Date: d}
}

// TestEstimateCrClSamples: the clearance from the record's documents as
// Carnet reads them: the weight of the ANS ANEST-CR-CPA sample (59 kg, a
// vital sign without date: its document's), and a serum creatinine in the
// ANS BIO-CR-BIO laboratory report (the sample's TSH result turned into a
// creatinine of 85 µmol/L, LOINC 14682-9, same structure). Cockcroft-Gault
// for a woman born 1960-03-10: (140 − 54) × 59 × 1.04 / 85 = 62 mL/min.
func TestEstimateCrClSamples(t *testing.T) {
	anest, err := cda.Reader{}.Read(sample(t, "ANEST-CR-CPA_2022.01.xml"), app.DocumentMeta{})
	if err != nil {
		t.Fatal(err)
	}
	bio := string(sample(t, "BIO-CR-BIO_2024.01_TSH_1.xml"))
	bio = strings.Replace(bio, `<code code="3016-3"`, `<code code="14682-9"`, 1)
	bio = regexp.MustCompile(`value="1\.950"\s+unit="m\[IU\]/L"`).ReplaceAllString(bio, `value="85" unit="umol/L"`)
	lab, err := cda.Reader{}.Read([]byte(bio), app.DocumentMeta{})
	if err != nil {
		t.Fatal(err)
	}
	var obs []app.Observation
	for _, o := range anest.Observations {
		o.Source.Date = time.Date(2022, 1, 20, 0, 0, 0, 0, time.UTC) // the document's date (ReadMedications sets it)
		obs = append(obs, o)
	}
	obs = append(obs, lab.Observations...)
	p := app.Patient{BirthDate: "1960-03-10", Sex: app.SexFemale}
	e, why, ok := meds.EstimateCrCl(p, obs)
	if !ok {
		t.Fatalf("no estimate: %s (%d observations)", why, len(obs))
	}
	want := math.Round(float64(140-54) * 59 * 1.04 / 85)
	if e.Value != want || e.Age != 54 || e.WeightKg != 59 || e.CreatUmol != 85 {
		t.Errorf("estimate %+v, want %v mL/min at 54 years", e, want)
	}
	for _, s := range []string{"Cockcroft-Gault", "créatinine 85 µmol/L du 02/04/2014", "poids 59 kg du 20/01/2022", "54 ans"} {
		if !strings.Contains(e.Source, s) {
			t.Errorf("source %q lacks %q", e.Source, s)
		}
	}
	// the TSH itself is no creatinine
	if _, why, ok := meds.EstimateCrCl(p, anest.Observations); ok || why != "" {
		t.Errorf("an estimate without creatinine: %q", why)
	}
}

// TestEstimateCrCl: units, the latest result wins, what is missing is
// said, implausible values are not used.
func TestEstimateCrCl(t *testing.T) {
	d1, d2 := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	man := app.Patient{BirthDate: "1956-06-15", Sex: app.SexMale} // 70 on 2026-12-01
	w := loinc("29463-7", 80, "kg", d1)
	for _, c := range []struct {
		name string
		p    app.Patient
		obs  []app.Observation
		want float64 // 0: no estimate
		why  string
	}{
		{"µmol/L", man, []app.Observation{w, loinc("14682-9", 100, "µmol/L", d2)}, math.Round(70 * 80 * 1.23 / 100), ""},
		{"mg/dL", man, []app.Observation{w, loinc("2160-0", 1.131, "mg/dL", d2)}, math.Round(70 * 80 * 1.23 / (1.131 * 88.42)), ""},
		{"mg/L", man, []app.Observation{w, loinc("2160-0", 11.31, "mg/L", d2)}, math.Round(70 * 80 * 1.23 / (11.31 * 8.842)), ""},
		{"latest wins", man, []app.Observation{w, loinc("14682-9", 200, "umol/L", d1), loinc("14682-9", 100, "umol/L", d2)}, math.Round(70 * 80 * 1.23 / 100), ""},
		{"weight in g", man, []app.Observation{loinc("3141-9", 80000, "g", d1), loinc("14682-9", 100, "umol/L", d2)}, math.Round(70 * 80 * 1.23 / 100), ""},
		{"no weight", man, []app.Observation{loinc("14682-9", 100, "umol/L", d2)}, 0, "poids absent"},
		{"unknown sex", app.Patient{BirthDate: "1956-06-15", Sex: app.SexUnknown}, []app.Observation{w, loinc("14682-9", 100, "umol/L", d2)}, 0, "sexe inconnu"},
		{"no birth date", app.Patient{Sex: app.SexMale}, []app.Observation{w, loinc("14682-9", 100, "umol/L", d2)}, 0, "date de naissance"},
		{"child", app.Patient{BirthDate: "2016-01-01", Sex: app.SexMale}, []app.Observation{w, loinc("14682-9", 40, "umol/L", d2)}, 0, "adulte"},
		{"unknown unit", man, []app.Observation{w, loinc("14682-9", 100, "furlong", d2)}, 0, ""},
		{"absurd creatinine", man, []app.Observation{w, loinc("14682-9", 0.5, "umol/L", d2)}, 0, ""},
		{"absurd weight", man, []app.Observation{loinc("29463-7", 900, "kg", d1), loinc("14682-9", 100, "umol/L", d2)}, 0, "poids absent"},
		{"another system", man, []app.Observation{w, {Code: app.Code{Code: "14682-9", System: "1.2.3"}, Value: 100, Unit: "umol/L", Date: d2}}, 0, ""},
		{"undated", man, []app.Observation{w, loinc("14682-9", 100, "umol/L", time.Time{})}, 0, ""},
	} {
		e, why, ok := meds.EstimateCrCl(c.p, c.obs)
		if ok != (c.want > 0) || (ok && e.Value != c.want) {
			t.Errorf("%s: %v (%q), want %v", c.name, e.Value, why, c.want)
		}
		if !strings.Contains(why, c.why) || (c.why == "" && why != "") {
			t.Errorf("%s: why %q, want %q", c.name, why, c.why)
		}
	}
}
