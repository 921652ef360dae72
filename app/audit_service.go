package app

import (
	"context"
	"errors"
	"fmt"
)

// Audit returns audit events.
func (s *Service) Audit(ctx context.Context, f AuditFilter) ([]AuditEvent, error) {
	evs, err := s.store.Audit(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("read audit log: %w", err)
	}
	return evs, nil
}

// audit appends to the audit log; a failure is logged, never hidden from
// the operator.
func (s *Service) audit(ctx context.Context, e AuditEvent) {
	if e.Time.IsZero() {
		e.Time = s.clock.Now()
	}
	if e.Practitioner == "" {
		e.Practitioner = LocalOperator()
	}
	if err := s.store.Record(ctx, e); err != nil && !errors.Is(err, ErrLocked) {
		s.log.Error("audit log write failed", "action", e.Action, "err", err)
	}
}

func resultOf(err error) string {
	if err == nil {
		return "ok"
	}
	if k := KindOf(err); k != nil {
		return k.Error()
	}
	return "internal error"
}
