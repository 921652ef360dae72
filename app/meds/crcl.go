package meds

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/carnetdesk/carnet/app"
)

// The creatinine clearance the DOAC rules need, estimated from the record
// (Cockcroft-Gault): the latest serum creatinine of the cached documents
// (laboratory results), the latest body weight (vital signs), the
// patient's age on the day of the creatinine and sex. It is a proposal:
// the anesthesiologist sees where it comes from and may type another value.

// LOINC codes of creatinine in serum, plasma or blood, mass or molar
// concentration; the unit decides the conversion.
var creatinineCodes = map[string]bool{
	"2160-0":  true, // Creatinine [Mass/volume] in Serum or Plasma
	"14682-9": true, // Creatinine [Moles/volume] in Serum or Plasma
	"38483-4": true, // Creatinine [Mass/volume] in Blood
	"59826-8": true, // Creatinine [Moles/volume] in Blood
	"77140-2": true, // Creatinine [Moles/volume] in Serum, Plasma or Blood
}

// LOINC codes of body weight.
var weightCodes = map[string]bool{
	"29463-7": true, // Body weight
	"3141-9":  true, // Body weight Measured
}

// CrClEstimate is a clearance estimated from the record, with what it was
// computed from.
type CrClEstimate struct {
	Value      float64 // mL/min, rounded to the unit
	Creatinine app.Observation
	CreatUmol  float64 // the creatinine in µmol/L
	Weight     app.Observation
	WeightKg   float64
	Age        int       // years, on the creatinine's day
	Source     string    // what it was computed from, in French
	Short      string    // the same, short ("Cockcroft-Gault, créatinine du 02/04/2014")
	Date       time.Time // the creatinine's date
}

// EstimateCrCl estimates the creatinine clearance of p (Cockcroft-Gault:
// (140 − age) × weight × 1.23 for a man, 1.04 for a woman, ÷ creatinine in
// µmol/L) from the latest serum creatinine and body weight among obs. ok
// is false when something is missing or implausible; why then says what,
// in French ("" when the record holds no creatinine at all). A weight
// without a date takes its document's.
func EstimateCrCl(p app.Patient, obs []app.Observation) (e CrClEstimate, why string, ok bool) {
	creat, creatOK := latest(obs, creatinineCodes, creatinineUmol)
	if !creatOK {
		return e, "", false
	}
	e.Creatinine, e.CreatUmol = creat.o, creat.v
	when := "créatinine " + formatNum(creat.v) + " µmol/L du " + creat.date.Format("02/01/2006")
	weight, weightOK := latest(obs, weightCodes, weightKg)
	if !weightOK {
		return e, when + " : poids absent du dossier, ClCr non calculée", false
	}
	e.Weight, e.WeightKg = weight.o, weight.v
	birth, err := time.Parse("2006-01-02", strings.TrimSpace(p.BirthDate))
	if err != nil {
		return e, when + " : date de naissance inconnue, ClCr non calculée", false
	}
	e.Age = age(birth, creat.date)
	k := 0.0
	switch p.Sex {
	case app.SexMale:
		k = 1.23
	case app.SexFemale:
		k = 1.04
	default:
		return e, when + " : sexe inconnu, ClCr non calculée", false
	}
	if e.Age < 18 || e.Age > 120 {
		return e, when + " : Cockcroft-Gault ne s'applique qu'à l'adulte", false
	}
	e.Value = math.Round(float64(140-e.Age) * e.WeightKg * k / e.CreatUmol)
	if e.Value <= 0 || e.Value >= 400 {
		return e, when + " : valeur calculée hors limites", false
	}
	e.Date = creat.date
	e.Short = "Cockcroft-Gault, créatinine du " + creat.date.Format("02/01/2006")
	e.Source = fmt.Sprintf("Cockcroft-Gault : %s, poids %s kg du %s, %d ans", when, formatNum(e.WeightKg), weight.date.Format("02/01/2006"), e.Age)
	return e, "", true
}

type found struct {
	o    app.Observation
	v    float64
	date time.Time
}

// latest returns the most recent observation of one of codes whose unit
// converts (conv) to a plausible value.
func latest(obs []app.Observation, codes map[string]bool, conv func(v float64, unit string) (float64, bool)) (found, bool) {
	var best found
	ok := false
	for _, o := range obs {
		if !codes[strings.TrimSpace(o.Code.Code)] || (o.Code.System != "" && o.Code.System != app.SystemLOINC) {
			continue
		}
		v, good := conv(o.Value, o.Unit)
		if !good {
			continue
		}
		d := o.Date
		if d.IsZero() {
			d = o.Source.Date
		}
		if d.IsZero() {
			continue
		}
		if !ok || d.After(best.date) {
			best, ok = found{o: o, v: v, date: d}, true
		}
	}
	return best, ok
}

// creatinineUmol converts a creatinine to µmol/L; plausible: 10–3000.
func creatinineUmol(v float64, unit string) (float64, bool) {
	switch normUnit(unit) {
	case "umol/l":
	case "mmol/l":
		v *= 1000
	case "mg/dl":
		v *= 88.42
	case "mg/l":
		v *= 8.842
	default:
		return 0, false
	}
	return v, v >= 10 && v <= 3000
}

// weightKg converts a weight to kg; plausible: 2–400.
func weightKg(v float64, unit string) (float64, bool) {
	switch normUnit(unit) {
	case "kg":
	case "g":
		v /= 1000
	case "[lb_av]", "lb":
		v *= 0.45359237
	default:
		return 0, false
	}
	return v, v >= 2 && v <= 400
}

func normUnit(u string) string {
	u = strings.ToLower(strings.TrimSpace(u))
	return strings.NewReplacer("µ", "u", "μ", "u").Replace(u)
}

func age(birth, at time.Time) int {
	y := at.Year() - birth.Year()
	if at.Month() < birth.Month() || (at.Month() == birth.Month() && at.Day() < birth.Day()) {
		y--
	}
	return y
}

func formatNum(v float64) string {
	return strings.Replace(strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64), ".", ",", 1)
}
