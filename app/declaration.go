package app

import "context"

// DeclarationID identifies a medication declared by a patient.
type DeclarationID string

// Declaration is a medication the patient declared, entered by staff in
// Carnet: it is not in any document of the record until a pre-anesthesia
// consultation carries it (Reconcile). Its Medication has Kind
// MedicationDeclared and a Source naming who entered it and when (no
// document).
type Declaration struct {
	ID         DeclarationID
	Medication Medication
}

// DeclarationSet changes one patient's declared medications in a Batch:
// Put adds or replaces declarations (by ID), Remove removes them. The store
// applies it to the patient's stored list inside the batch's transaction,
// so two changes written at once never lose one another.
type DeclarationSet struct {
	Patient PatientID
	Put     []Declaration
	Remove  []DeclarationID
}

// DeclaredByStaff is the author of a declaration entered while no
// practitioner was signed in (the reception, a nurse without a card).
const DeclaredByStaff = "local"

// Bounds of a declaration's free text (runes).
const (
	maxDeclaredName = 200
	maxDeclaredText = 500
	// MaxDeclarations bounds a patient's declared medications.
	MaxDeclarations = 200
)

// DeclarationStore is the part of Store that keeps the medications patients
// declared (written through Batch.Declarations).
type DeclarationStore interface {
	// Declarations returns the medications the patient declared, oldest
	// first; none when nothing was declared.
	Declarations(ctx context.Context, id PatientID) ([]Declaration, error)
}
