package app

import "time"

// DatePrecision says how much of a date a document gave: a clinical date
// written "1975" is the year 1975, not the 1st of January 1975, and is
// shown so.
type DatePrecision uint8

// The precisions of a date, coarsest first.
const (
	PrecisionNone   DatePrecision = iota // no date
	PrecisionYear                        // YYYY
	PrecisionMonth                       // YYYYMM
	PrecisionDay                         // YYYYMMDD
	PrecisionMinute                      // YYYYMMDDhhmm (or finer)
)

// PrecisionOf returns the precision of an HL7 TS value as written
// ("1975" → year, "197503" → month …), PrecisionNone when it is not one.
func PrecisionOf(ts string) DatePrecision {
	n := 0
	for n < len(ts) && ts[n] >= '0' && ts[n] <= '9' {
		n++
	}
	switch {
	case n >= 12:
		return PrecisionMinute
	case n >= 8: // an hour without minutes reads as the day
		return PrecisionDay
	case n >= 6:
		return PrecisionMonth
	case n >= 4:
		return PrecisionYear
	}
	return PrecisionNone
}

// FormatDate writes t in French at precision p: "1975", "03/1975",
// "12/03/1975", "12/03/1975 08:30". A zero time, or PrecisionNone, gives "".
// A time read with an unknown precision (declared, or older readers) is
// shown as a day.
func FormatDate(t time.Time, p DatePrecision) string {
	if t.IsZero() {
		return ""
	}
	switch p {
	case PrecisionYear:
		return t.Format("2006")
	case PrecisionMonth:
		return t.Format("01/2006")
	case PrecisionMinute:
		return t.Format("02/01/2006 15:04")
	}
	return t.Format("02/01/2006")
}

// Device is a medical device a document's entries name: an implant
// (pacemaker, defibrillator, ventricular assist device, stent, prosthesis)
// or a device used in a procedure, from a procedure or an observation with
// a device participant (participantRole/playingDevice), or a FR-Dispositif
// entry.
type Device struct {
	Type      Code          // the device's kind (playingDevice/code): what it is
	Name      string        // its name: the code's display, the model name, or the narrative text
	Model     string        // manufacturerModelName, when given
	ID        string        // the device identifier (UDI, serial) as written, when given
	Procedure Code          // the procedure that implanted or used it, when given
	Date      time.Time     // when it was implanted or used (the entry's effectiveTime)
	Precision DatePrecision // how much of Date the document gave
	Negated   bool          // the document says it was NOT implanted or used
	// Status says what the document records of the device: implanted (or
	// present), used, planned or prescribed, dispensed. State() reads it
	// with Negated.
	Status DeviceStatus
	Text   string // the narrative text of the entry, when referenced
	// Conflict is the narrative's name of the device when it contradicts
	// the code (Name is the code's): shown flagged.
	Conflict string
	Source   MedicationSource // the document it was read from (ReadMedications fills it)
}

// DeviceStatus says what a document records of a device. Only an
// implanted (or present) device is listed among the patient's implants: a
// device planned, prescribed, dispensed or used during care (a contrast
// injector, a dressing, a medical bed) is not in the patient.
type DeviceStatus string

// The statuses of a device.
const (
	DeviceImplanted DeviceStatus = "implanted" // implanted in or present on the patient (moodCode EVN)
	DeviceUsed      DeviceStatus = "used"      // used during care, not left in the patient (equipment, consumable)
	DevicePlanned   DeviceStatus = "planned"   // planned, requested or prescribed (moodCode INT, RQO, PRP …)
	DeviceDispensed DeviceStatus = "dispensed" // dispensed by a pharmacy or a supplier (reimbursement history)
	DeviceNegated   DeviceStatus = "negated"   // the document says it was NOT implanted or used
)

// State returns the device's status: negated when the document negates
// it, else Status; a device read without a status (an older reading) is
// taken as implanted, so that an implant is never hidden.
func (d *Device) State() DeviceStatus {
	switch {
	case d.Negated:
		return DeviceNegated
	case d.Status == "":
		return DeviceImplanted
	}
	return d.Status
}

// ImplantedDevices returns the devices implanted in or present on the
// patient (State DeviceImplanted), in order; OtherDevices the rest
// (planned, prescribed, dispensed, used, negated).
func ImplantedDevices(ds []Device) []Device {
	out := make([]Device, 0, len(ds))
	for _, d := range ds {
		if d.State() == DeviceImplanted {
			out = append(out, d)
		}
	}
	return out
}

// OtherDevices returns the devices that are not implanted nor present:
// planned, prescribed, dispensed, used during care or negated, in order.
func OtherDevices(ds []Device) []Device {
	out := make([]Device, 0, len(ds))
	for _, d := range ds {
		if d.State() != DeviceImplanted {
			out = append(out, d)
		}
	}
	return out
}

// PresentProblems returns the problems a patient has: those the document
// does not negate, in order. A negated problem ("hypertension: non") is
// never shown in a problem list.
func PresentProblems(ps []Problem) []Problem {
	out := make([]Problem, 0, len(ps))
	for _, p := range ps {
		if !p.Negated {
			out = append(out, p)
		}
	}
	return out
}

// AbsentAllergies returns the allergies a document records as absent:
// "no known allergy" (NoneKnown) or no allergy to a named agent, in order.
// They are documented absences, to tell apart from documents that say
// nothing of allergies.
func AbsentAllergies(as []Allergy) []Allergy {
	out := make([]Allergy, 0, len(as))
	for _, a := range as {
		if a.Negated {
			out = append(out, a)
		}
	}
	return out
}

// PresentAllergies returns the allergies a patient has: those the document
// does not negate, in order.
func PresentAllergies(as []Allergy) []Allergy {
	out := make([]Allergy, 0, len(as))
	for _, a := range as {
		if !a.Negated {
			out = append(out, a)
		}
	}
	return out
}
