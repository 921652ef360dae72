package app

import (
	"context"
	"fmt"
)

// SetSyncer gives the service the sync engine (main wires it), so that the
// UI can start a sync (Ctrl+R), show its state and resolve conflicts without
// knowing the engine.
func (s *Service) SetSyncer(sy Syncer) {
	s.mu.Lock()
	s.syncer = sy
	s.mu.Unlock()
}

func (s *Service) currentSyncer() (Syncer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.syncer == nil {
		return nil, fmt.Errorf("sync: no sync engine: %w", ErrOffline)
	}
	return s.syncer, nil
}

// Sync runs one sync cycle now: push the outbox, pull the watched patients,
// purge what lost access.
func (s *Service) Sync(ctx context.Context) (SyncSummary, error) {
	s.Touch()
	sy, err := s.currentSyncer()
	if err != nil {
		return SyncSummary{}, err
	}
	return sy.Once(ctx)
}

// SyncStatus returns the sync state for the status bar: online or offline,
// last successful sync, pending items, progress. Without an engine it is
// the zero status with the outbox count.
func (s *Service) SyncStatus() SyncStatus {
	sy, err := s.currentSyncer()
	if err != nil {
		return SyncStatus{}
	}
	return sy.Status()
}

// Outbox returns the documents and changes waiting to be sent, with their
// state (pending, sending, retry, conflict, rejected).
func (s *Service) Outbox(ctx context.Context) ([]OutboxItem, error) {
	items, err := s.store.Outbox(ctx)
	if err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	return items, nil
}

// Resolve applies the practitioner's decision on an outbox item in
// conflict: keep both, replace after review, or discard mine (confirmed
// must be true). Audited.
func (s *Service) Resolve(ctx context.Context, id OutboxID, r Resolution, confirmed bool) error {
	s.Touch()
	sy, err := s.currentSyncer()
	if err != nil {
		return err
	}
	err = sy.Resolve(ctx, id, r, confirmed)
	s.audit(ctx, AuditEvent{Action: "outbox.resolve", Result: resultOf(err), Detail: string(r)})
	if err != nil {
		return fmt.Errorf("resolve: %w", err)
	}
	return nil
}

// ImportMailboxes imports the secure mailboxes now, without the central
// service: no sign-in is needed (Ctrl+R while nobody is signed in). It
// fails with ErrNotConfigured when this desk imports no mailbox.
func (s *Service) ImportMailboxes(ctx context.Context) (ImportSummary, error) {
	s.Touch()
	sy, err := s.currentSyncer()
	if err != nil {
		return ImportSummary{}, err
	}
	ms, ok := sy.(MailSyncer)
	if !ok || len(s.Connection().Mailboxes) == 0 {
		return ImportSummary{}, fmt.Errorf("import mailboxes: no mailbox on this desk: %w", ErrNotConfigured)
	}
	return ms.ImportMailboxes(ctx)
}
