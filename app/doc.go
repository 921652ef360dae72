// Package app is Carnet's vocabulary: what Carnet does, in the words of a
// clinic, with no technology in it.
//
// Carnet lets clinic staff consult patients' Shared Medical Records (the DMP,
// "Dossier Médical Partagé") held by the national central record service. It
// keeps the records a practitioner consulted in an encrypted local vault so
// that they stay readable offline, lets practitioners write documents offline
// and sends them when the network returns, and imports reports received by
// secure health messaging (MSSanté) into the right patient's record.
//
// # Words
//
//   - A Patient is a person whose record Carnet keeps. Patients are known by
//     their INS (Identifiant National de Santé: a matricule and the OID of its
//     issuing domain) and their identity traits. The IdentityStatus says how
//     much that identity can be trusted; only a QUAL identity may carry the INS
//     into documents.
//   - The Directory is the in-memory, searchable list of cached patients. It
//     exists only while the vault is unlocked.
//   - The vault (Store) is the encrypted local cache. It is locked when Carnet
//     starts and after a few idle minutes; a locked vault holds no key and no
//     patient data in memory.
//   - The Service is the set of use cases the desktop UI and the command line
//     call: Unlock, Lock, ChangePassphrase, SearchPatients, and more as Carnet
//     grows.
//   - A ClinicalDocument is a document of a record as read by the
//     DocumentReader (package app/cda): sections of neutral rich text
//     (Narrative: paragraphs, lists, tables, no HTML) or an Attachment (a
//     PDF, an image), and the structured entries, medications first. The
//     Service reads documents (ReadDocument) and collects the medication
//     lines of a record (MedicationLines) that package meds consolidates.
//   - The audit log records, locally and append-only, everything Carnet did on
//     behalf of a practitioner.
//
// # Errors
//
// Errors are classified once, here: ErrLocked, ErrWrongPassphrase,
// ErrDamaged, ErrOffline, ErrAccessDenied, ErrConflict and the others in
// errors.go. Adapters wrap them with the operation ("vault: open record: %w");
// only package ui translates them into French. No error string ever contains
// health data: no name, INS, birth date or document text.
//
// # Dependencies
//
// Package app imports only the standard library. Adapters (the vault, the
// central record service client, the mailbox) implement its ports; main wires
// them together.
package app
