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
// # Where things live
//
// The package is arranged by noun: noun.go holds the noun's types and the
// port (interface) an adapter implements for it; noun_service.go holds the
// Service methods, the use cases, on that noun.
//
//   - service.go: the Service, Deps (every port, given once) and NewService.
//   - vault.go, vault_service.go: the Store port (the encrypted vault) and
//     its lifecycle types; create, unlock, lock, auto-lock, passphrase,
//     recovery, settings. audit.go, audit_service.go: the audit log (the
//     AuditLog part of Store) and its reading. clock.go: Clock.
//   - patient.go, patient_service.go: Patient, INS, IdentityStatus and the
//     PatientStore port; search. directory.go: the in-memory directory.
//     gate.go: no central-service call for an unqualified identity.
//   - record.go, record_service.go: the patient's record (Manifest,
//     DocumentMeta, Batch, outbox items, the RecordStore port); opening a
//     patient, fetching, providing, masking documents. prefetch.go and
//     widen.go: the record kept for offline use and its time window.
//   - remote.go: the RecordService port (the central record service), its
//     wire-neutral types, Access, Session; session_service.go: sign-in.
//     connectivity.go: online/offline as the calls and a probe tell it.
//   - document.go, document_service.go: a document as read (ClinicalDocument,
//     the DocumentReader port) and as written (the DocumentWriter port);
//     reading documents and their medication lines, with the read cache.
//     richtext.go: the neutral narrative. note_service.go: writing a note.
//   - medication.go, clinical.go: medications, allergies, problems, devices,
//     reconciliation types; declaration.go, declaration_service.go: the
//     medications a patient declares (DeclarationStore) and the signed
//     reconciliation. vsm.go, vsm_service.go: the medical synthesis (VSM).
//     preop.go: pre-operative sheets (SheetRenderer, Printer);
//     preopsaved.go: the saved pre-operative decisions (PreopStore).
//     observation.go: numeric results (laboratory, vital signs).
//   - sync.go, sync_service.go: the Syncer port (the sync engine) and its
//     progress; sync now, status, conflicts; sent.go: the documents sent.
//     watch.go, watch_service.go: the operating list and the watch list.
//   - connection.go, connection_service.go: the connection settings
//     (central service, credential, secure mailboxes) and their
//     ConnectionStore port; connection_dmp.go: the central service's
//     protocol and authentication mode; credential.go, cardmodule.go: the
//     card.
//   - mail.go (the Mailbox and MailStore ports), mail_import_service.go
//     (the one mail-import use case and its MailboxOpener port),
//     mail_importer.go (the import engine), mail_filing.go (filing a
//     report), mailmatch.go (where the import decides a patient:
//     MatchPatient), mailservice.go (the manual queue), mailview.go (the
//     message itself).
//   - terminology.go: the Terminology port (labels). errors.go: the error
//     kinds. log.go: Redacted, Wipe. operator.go: LocalOperator, who acts
//     without a card.
//
// # Dependencies
//
// Package app imports only the standard library. Adapters (the vault, the
// central record service client, the mailbox) implement its ports; main
// gives them to NewService in one Deps literal.
package app
