package app

import "time"

// Code is a coded concept: a code, the OID (or URI) of its code system, and
// the display text the document gave.
type Code struct {
	Code    string
	System  string
	Display string
}

// IsZero reports whether c is empty.
func (c Code) IsZero() bool { return c.Code == "" && c.System == "" }

// Code systems of medications in French documents.
const (
	SystemCIS      = "1.2.250.1.213.2.3.1"     // Code Identifiant de Spécialité (ANSM)
	SystemCIP13    = "1.2.250.1.213.2.3.2"     // Code Identifiant de Présentation
	SystemUCD      = "1.2.250.1.213.2.3.3"     // Unité Commune de Dispensation
	SystemATC      = "2.16.840.1.113883.6.73"  // WHO ATC classification
	SystemCNAMCIP  = "1.2.250.1.215.200.1.1.1" // Assurance Maladie CIP (reimbursement history)
	SystemCNAMUCD  = "1.2.250.1.215.200.1.1.2" // Assurance Maladie UCD
	SystemCNAMATC3 = "1.2.250.1.215.200.1.2.1" // Assurance Maladie therapeutic group (ATC level 3)
	SystemCNAMATC5 = "1.2.250.1.215.200.1.2.2" // Assurance Maladie full ATC code (vaccines in CNAM-HR)
	SystemLOINC    = "2.16.840.1.113883.6.1"
)

// MedicationKind says what a medication line records.
type MedicationKind string

// The kinds of medication lines.
const (
	MedicationTreatment  MedicationKind = "treatment"  // a current or past treatment (FR-Traitement, moodCode EVN)
	MedicationPrescribed MedicationKind = "prescribed" // a prescription (moodCode INT)
	MedicationDispensed  MedicationKind = "dispensed"  // a dispensing by a pharmacy (CNAM-HR supply, dispensation)
	MedicationAdminister MedicationKind = "administered"
	MedicationDeclared   MedicationKind = "declared" // declared by the patient, entered by staff in Carnet
)

// Medication is one medication line found in a document, or declared by the
// patient: the unit the consolidated medication list is built from. Every
// line keeps where it came from.
type Medication struct {
	Kind       MedicationKind
	Name       string // product or substance name as written
	Substance  string // active substance (DCI), when given
	Product    Code   // CIS, CIP13 or UCD of the product
	ATC        Code   // ATC code at the deepest level given (level 3 for CNAM-HR)
	Codes      []Code // every other code and translation found
	Form       string // pharmaceutical form, as written
	Dose       string // dose per intake, as written ("1 comprimé", "5 mg")
	Route      Code   // route of administration (EDQM)
	Frequency  string // "2 fois par jour", "toutes les 8 h"
	Start      time.Time
	End        time.Time
	Quantity   string    // dispensed quantity (boxes, units)
	Dispensed  time.Time // dispensing date (CNAM-HR performer/time)
	Prescriber string    // prescriber's name (and RPPS when known)
	Indication string
	Text       string // free text of the line when it is not structured
	Source     MedicationSource
}

// MedicationSource is where a medication line came from.
type MedicationSource struct {
	Document DocumentID // empty for a declaration
	TypeCode string     // the document's LOINC type code
	Title    string
	Date     time.Time // the document's date
	Author   string    // the document's author (or the staff member for a declaration)
}
