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
	MedicationPlanned    MedicationKind = "planned"  // planned, not yet given (moodCode INT/RQO/PRP of a vaccination or administration)
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
	Dispensed  time.Time // dispensing date (CNAM-HR performer/time, supply effectiveTime)
	Dispenser  string    // the pharmacy (or pharmacist) that dispensed it, when given
	Prescriber string    // prescriber's name (and RPPS when known)
	Indication string
	Text       string // free text of the line when it is not structured
	Source     MedicationSource

	// Negated: the document records that this was NOT given, taken or
	// dispensed (negationInd="true"): a vaccination not done, a treatment
	// not taken. Such a line is never shown nor consolidated as given.
	Negated bool
	// Status is the entry's statusCode as written ("completed", "active",
	// "aborted", "suspended", "cancelled" …); empty when absent.
	Status string
	// StartPrecision, EndPrecision and DispensedPrecision say how much of
	// Start, End and Dispensed the document gave (a year, a month, a day …):
	// "1975" is the year 1975, not the 1st of January.
	StartPrecision     DatePrecision
	EndPrecision       DatePrecision
	DispensedPrecision DatePrecision
	// Conflict is the free-text name of the substance when it contradicts
	// the coded product (the coded one is Name): the line is shown with
	// its code's name and flagged.
	Conflict string
}

// MedicationStatus is what a medication line says happened, as the UI
// shows it.
type MedicationStatus string

// The statuses of a medication line.
const (
	StatusGiven      MedicationStatus = "given"      // administered, or a treatment taken
	StatusPrescribed MedicationStatus = "prescribed" // prescribed
	StatusDispensed  MedicationStatus = "dispensed"  // dispensed by a pharmacy
	StatusPlanned    MedicationStatus = "planned"    // planned, not given yet
	StatusNotGiven   MedicationStatus = "not-given"  // the document says it was not given (negated)
	// StatusNotDispensed: the document says the dispensing was not done
	// (a negated supply).
	StatusNotDispensed MedicationStatus = "not-dispensed"
	StatusStopped      MedicationStatus = "stopped"  // stopped, aborted or cancelled
	StatusDeclared     MedicationStatus = "declared" // declared by the patient
)

// LineStatus returns what the line says happened: not dispensed (a negated
// dispensing) or not given when negated, stopped when its statusCode says
// so, else from its kind.
func (m *Medication) LineStatus() MedicationStatus {
	if m.Negated {
		if m.Kind == MedicationDispensed {
			return StatusNotDispensed
		}
		return StatusNotGiven
	}
	switch m.Status {
	case "aborted", "cancelled", "suspended", "obsolete", "nullified":
		return StatusStopped
	}
	switch m.Kind {
	case MedicationPrescribed:
		return StatusPrescribed
	case MedicationDispensed:
		return StatusDispensed
	case MedicationPlanned:
		return StatusPlanned
	case MedicationDeclared:
		return StatusDeclared
	}
	return StatusGiven
}

// MedicationSource is where a medication line came from.
type MedicationSource struct {
	Document DocumentID // empty for a declaration
	TypeCode string     // the document's LOINC type code
	Title    string
	Date     time.Time // the document's date
	Author   string    // the document's author (or the staff member for a declaration)
	// Own: the document is a report Carnet wrote (a signed
	// reconciliation); it restates other sources and never counts as an
	// independent source of the lines it restates.
	Own bool
}

// Reconciliation is the medication list an anesthesiologist signs off
// before surgery: the lines kept from the consolidated list (declared ones
// keep Kind MedicationDeclared) and the conclusion.
type Reconciliation struct {
	Lines      []Medication
	Conclusion string // free text, paragraphs separated by blank lines; may be empty
	// Decisions, when given, has one element per line: the perioperative
	// decision and the HAS reconciliation the report carries for it.
	Decisions []LineDecision
}

// LineDecision is what the anesthesiologist signed for one line: the
// perioperative decision (French label of the action, last-dose date when
// stopped, reason) and the reconciliation per the HAS method (the sources
// compared, a discrepancy marked intentional or not, with a comment).
type LineDecision struct {
	Action      string    // "Poursuivre", "Arrêter", "Relais", "Adapter", "À discuter"
	LastDose    time.Time // zero when the action sets no date
	Reason      string    // the override's reason, or the rule followed
	Compared    string    // the sources compared ("déclaration, dispensation, document")
	Discrepancy string    // "", "intentionnelle", "non intentionnelle"
	Comment     string
}

// UnstructuredReason says why a document gave no structured medication line.
type UnstructuredReason string

// The reasons.
const (
	// UnstructuredNoEntries: the document was read and has no structured
	// medication entry (a PDF, an N1 document, a narrative-only section).
	UnstructuredNoEntries UnstructuredReason = "no-entries"
	// UnstructuredNotCached: the document is not in the vault; fetch it
	// (Service.Document) to read it.
	UnstructuredNotCached UnstructuredReason = "not-cached"
	// UnstructuredUnreadable: the document is in the vault but could not be
	// read (refused by the reader, or its record is damaged).
	UnstructuredUnreadable UnstructuredReason = "unreadable"
)

// UnstructuredDocument is a document of the record whose medication
// information, if any, a person must read.
type UnstructuredDocument struct {
	Meta   DocumentMeta // Cached is false when the content is not in the vault
	Reason UnstructuredReason
}

// MedicationReading is what a patient's cached documents say about
// medications: the structured lines, and the documents that gave none.
// Package meds consolidates it (meds.Consolidate(r.Lines, r.Metas(), now)).
type MedicationReading struct {
	Lines        []Medication           // every structured line, each with its Source
	Unstructured []UnstructuredDocument // in manifest order (newest first)
	// The allergies, problems and implanted devices of the same documents,
	// each with its Source, in manifest order; negated ones included
	// (PresentProblems, PresentAllergies leave them out).
	Allergies []Allergy
	Problems  []Problem
	Devices   []Device
	// Observations are the numeric results (laboratory, vital signs) of
	// the same documents, each with its Source, in manifest order.
	Observations []Observation
}

// Metas returns the metadata of the unstructured documents.
func (r MedicationReading) Metas() []DocumentMeta {
	out := make([]DocumentMeta, len(r.Unstructured))
	for i, u := range r.Unstructured {
		out[i] = u.Meta
	}
	return out
}
