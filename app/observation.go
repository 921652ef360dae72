package app

import "time"

// Observation is a numeric result a structured document states: a
// laboratory result (serum creatinine) or a vital sign (body weight), as
// written (value and unit, UCUM usually). Negated observations and
// intentions (moodCode other than EVN) are not observations.
type Observation struct {
	Code      Code    // LOINC usually ("14682-9" serum creatinine, µmol/L)
	Text      string  // the observation's narrative text, when any
	Value     float64 // finite
	Unit      string  // as written ("umol/L", "mg/dL", "kg")
	Date      time.Time
	Precision DatePrecision
	// Source names the document (filled by ReadMedications, like the
	// other entries).
	Source MedicationSource
}
