package app

import (
	"context"
	"fmt"
	"time"
)

// Identity vigilance at the border with the central service: only a
// qualified identity (QUAL: INS obtained from the INSi teleservice and an
// identity document checked) may be used to exchange with the DMP in
// normal access. A provisional (PROV), recovered (RECUP) or validated
// (VALI) identity stays local: the practitioner is told why and what to do
// (qualify it in the clinic's identity system, then re-import it). Bris de
// glace, with its justification, stays possible whatever the status.

// notQualified is the refusal of a remote call about a patient whose
// identity is not qualified (status, or "unknown" when no local identity
// carries the INS): an *AccessError of DeniedNotQualified.
func notQualified(status IdentityStatus) error {
	return fmt.Errorf("identity %s: %w", status, &AccessError{Reason: DeniedNotQualified})
}

// MayReachCentral reports whether the central service may be called about
// a patient of this identity status in this access mode: QUAL always; the
// other statuses only in bris de glace.
func MayReachCentral(status IdentityStatus, mode AccessMode) bool {
	return status == IdentityQualified || mode == AccessEmergency
}

// gatedRecords is the central service as a session sees it (the optional
// EntryReader included): every call about an INS is let through only when
// a local identity carrying that INS is qualified, or the access is bris
// de glace. It guards every path (consultation, documents, the sync
// engine's pulls and evidence reads) in one place.
type gatedRecords struct {
	RecordService
	byINS func(ctx context.Context, ins INS) ([]Patient, error) // Store.PatientsByINS: a lookup by key
}

// gate checks acc and ins against the local directory.
func (g gatedRecords) gate(ctx context.Context, acc Access, ins INS) error {
	if acc.Mode == AccessEmergency {
		return nil
	}
	ps, err := g.byINS(ctx, ins)
	if err != nil {
		return fmt.Errorf("identity check: %w", err)
	}
	status := IdentityStatus("")
	for _, p := range ps {
		if p.Status == IdentityQualified {
			return nil
		}
		status = p.Status
	}
	if status == "" {
		status = "unknown"
	}
	return notQualified(status)
}

// FindPatient implements RecordService. It also lets through the lookup of
// a qualified identity of an operating list not yet in the directory
// (WithListedIdentity).
func (g gatedRecords) FindPatient(ctx context.Context, acc Access, ins INS) (RecordStatus, error) {
	if acc.Mode != AccessEmergency && listedIdentity(ctx, ins) {
		return g.RecordService.FindPatient(ctx, acc, ins)
	}
	if err := g.gate(ctx, acc, ins); err != nil {
		return RecordStatus{}, err
	}
	return g.RecordService.FindPatient(ctx, acc, ins)
}

// GrantAuthorization implements RecordService.
func (g gatedRecords) GrantAuthorization(ctx context.Context, acc Access, ins INS) error {
	if err := g.gate(ctx, acc, ins); err != nil {
		return err
	}
	return g.RecordService.GrantAuthorization(ctx, acc, ins)
}

// ListDocuments implements RecordService.
func (g gatedRecords) ListDocuments(ctx context.Context, acc Access, ins INS, q DocumentQuery, page func([]RemoteDocument) error) error {
	if err := g.gate(ctx, acc, ins); err != nil {
		return err
	}
	return g.RecordService.ListDocuments(ctx, acc, ins, q, page)
}

// Retrieve implements RecordService.
func (g gatedRecords) Retrieve(ctx context.Context, acc Access, ins INS, doc RemoteDocument) ([]byte, error) {
	if err := g.gate(ctx, acc, ins); err != nil {
		return nil, err
	}
	return g.RecordService.Retrieve(ctx, acc, ins, doc)
}

// Provide implements RecordService: documents go out only for a qualified
// identity, bris de glace or not (they carry the INS).
func (g gatedRecords) Provide(ctx context.Context, acc Access, ins INS, docs []NewDocument) (Provided, error) {
	if err := g.gate(ctx, Access{Practitioner: acc.Practitioner, Mode: AccessNormal}, ins); err != nil {
		return Provided{}, err
	}
	return g.RecordService.Provide(ctx, acc, ins, docs)
}

// UpdateMetadata implements RecordService.
func (g gatedRecords) UpdateMetadata(ctx context.Context, acc Access, ins INS, doc RemoteDocument, ch MetadataChange) (RemoteDocument, error) {
	if err := g.gate(ctx, acc, ins); err != nil {
		return RemoteDocument{}, err
	}
	return g.RecordService.UpdateMetadata(ctx, acc, ins, doc, ch)
}

// Delete implements RecordService.
func (g gatedRecords) Delete(ctx context.Context, acc Access, ins INS, doc RemoteDocument) error {
	if err := g.gate(ctx, acc, ins); err != nil {
		return err
	}
	return g.RecordService.Delete(ctx, acc, ins, doc)
}

// AccessTraces implements RecordService.
func (g gatedRecords) AccessTraces(ctx context.Context, acc Access, ins INS, since time.Time) ([]AccessTrace, error) {
	if err := g.gate(ctx, acc, ins); err != nil {
		return nil, err
	}
	return g.RecordService.AccessTraces(ctx, acc, ins, since)
}

// ReadDocument implements EntryReader, gated like every other call, when
// the service underneath can read an entry; else it says so (an error the
// sync engine takes as "no evidence": nothing is removed). Without it the
// gate would hide the evidence reads from the sync engine, and a masked or
// deleted document would never leave the vault.
func (g gatedRecords) ReadDocument(ctx context.Context, acc Access, ins INS, remoteID string) (RemoteDocument, error) {
	r, ok := g.RecordService.(EntryReader)
	if !ok {
		return RemoteDocument{}, fmt.Errorf("read document: the service reads no single entry: %w", ErrInvalid)
	}
	if err := g.gate(ctx, acc, ins); err != nil {
		return RemoteDocument{}, err
	}
	return r.ReadDocument(ctx, acc, ins, remoteID)
}

// ConfirmProvided implements WriteConfirmer, gated like Provide, when the
// service underneath can re-check a write; else the document found is
// taken as it is (the service cannot say more).
func (g gatedRecords) ConfirmProvided(ctx context.Context, acc Access, ins INS, found RemoteDocument, doc NewDocument) (RemoteDocument, error) {
	c, ok := g.RecordService.(WriteConfirmer)
	if !ok {
		return found, nil
	}
	if err := g.gate(ctx, Access{Practitioner: acc.Practitioner, Mode: AccessNormal}, ins); err != nil {
		return RemoteDocument{}, err
	}
	return c.ConfirmProvided(ctx, acc, ins, found, doc)
}
