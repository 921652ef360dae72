package app

import (
	"context"
	"fmt"
)

// SignIn starts a session: from now on the record use cases reach the
// central service as this practitioner.
//
// The session's central service is gated (gate.go): no call about a
// patient whose local identity is not qualified, except in bris de glace.
func (s *Service) SignIn(sess Session) {
	var stop func()
	if sess.Records != nil {
		if _, done := sess.Records.(gatedRecords); !done {
			var observed RecordService
			observed, stop = s.startConnectivity(sess.Records)
			sess.Records = gatedRecords{RecordService: observed, byINS: s.store.PatientsByINS}
		}
	}
	s.mu.Lock()
	s.session = &sess
	old := s.stopLink
	s.stopLink = stop
	s.mu.Unlock()
	if old != nil {
		old()
	}
	s.audit(context.Background(), AuditEvent{Action: "session.signin", Practitioner: sess.Practitioner.RPPS,
		Structure: sess.Practitioner.Structure.ID, Result: "ok"})
}

// SignOut ends the session (card removed, re-authentication).
func (s *Service) SignOut() {
	s.mu.Lock()
	s.session = nil
	stop := s.stopLink
	s.stopLink, s.link = nil, nil
	s.mu.Unlock()
	if stop != nil {
		stop()
	}
}

// Practitioner returns the signed-in practitioner.
func (s *Service) Practitioner() (Practitioner, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.session == nil {
		return Practitioner{}, false
	}
	return s.session.Practitioner, true
}

func (s *Service) currentSession() (*Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.session == nil {
		return nil, fmt.Errorf("no practitioner signed in: %w", ErrCredential)
	}
	return s.session, nil
}

// Records returns the central service and the practitioner of the current
// session: the sync engine asks for them at each cycle (none while no
// practitioner is signed in).
func (s *Service) Records() (RecordService, Practitioner, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.session == nil {
		return nil, Practitioner{}, false
	}
	return s.session.Records, s.session.Practitioner, true
}
