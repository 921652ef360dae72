package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// SetConnectionStore sets where the connection is kept and loads it. Without
// a store the connection is empty and cannot be edited.
func (s *Service) SetConnectionStore(ctx context.Context, cs ConnectionStore) error {
	c, err := cs.Connection(ctx)
	s.mu.Lock()
	s.conns, s.conn = cs, c
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("read connection: %w", err)
	}
	return nil
}

// OnConnection registers f, called after each saved change of the
// connection, on the saving goroutine.
func (s *Service) OnConnection(f func(Connection)) {
	s.mu.Lock()
	s.onConn = append(s.onConn, f)
	s.mu.Unlock()
}

// CanEditConnection reports whether the connection can be edited here.
func (s *Service) CanEditConnection() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns != nil
}

// Connection returns the current connection (as loaded or last saved; no
// I/O). Its Mailboxes slice is the caller's.
func (s *Service) Connection() Connection {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.conn
	c.Mailboxes = append([]MailAccount(nil), c.Mailboxes...)
	return c
}

// SaveConnection validates and saves the connection, writes the audit log
// and tells the listeners (OnConnection). The vault must be unlocked: who
// changed where patient data goes is audited.
func (s *Service) SaveConnection(ctx context.Context, c Connection) error {
	s.Touch()
	if s.store.Locked() {
		return fmt.Errorf("save connection: %w", ErrLocked)
	}
	if err := c.Validate(); err != nil {
		return fmt.Errorf("save connection: %w", err)
	}
	s.mu.Lock()
	cs, listeners := s.conns, append([]func(Connection){}, s.onConn...)
	s.mu.Unlock()
	if cs == nil {
		return fmt.Errorf("save connection: the connection is not editable here: %w", ErrInvalid)
	}
	c.Mailboxes = append([]MailAccount(nil), c.Mailboxes...)
	s.connSave.Lock()
	if err := cs.SaveConnection(ctx, c); err != nil {
		s.connSave.Unlock()
		return fmt.Errorf("save connection: %w", err)
	}
	s.mu.Lock()
	s.conn = c
	s.mu.Unlock()
	s.connSave.Unlock()
	s.audit(ctx, AuditEvent{Action: "settings.connection", Result: "ok",
		Detail: connectionDetail(c)})
	for _, f := range listeners {
		f(c)
	}
	return nil
}

// MailPasswordSet reports whether a password (or token) is sealed in the
// vault for a mailbox account.
func (s *Service) MailPasswordSet(ctx context.Context, account string) (bool, error) {
	sec, err := s.store.MailSecret(ctx, account)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("mailbox password: %w", err)
	}
	Wipe(sec)
	return true, nil
}

// SetMailPassword seals the password (or access token) of a mailbox
// account in the vault, so that the import runs in the background; an
// empty secret forgets it. The audit log records the change, not the
// secret.
func (s *Service) SetMailPassword(ctx context.Context, account string, secret []byte) error {
	s.Touch()
	if err := s.store.SaveMailSecret(ctx, account, secret); err != nil {
		return fmt.Errorf("save mailbox password: %w", err)
	}
	result := "set"
	if len(secret) == 0 {
		result = "forgotten"
	}
	s.audit(ctx, AuditEvent{Action: "settings.mailbox-password", Result: result, Detail: "mailbox " + account})
	return nil
}

// MailPassword returns the secret sealed for a mailbox account (for the
// import; the caller wipes it); ErrNotFound when none.
func (s *Service) MailPassword(ctx context.Context, account string) ([]byte, error) {
	sec, err := s.store.MailSecret(ctx, account)
	if err != nil {
		return nil, fmt.Errorf("mailbox password: %w", err)
	}
	return sec, nil
}

// connectionDetail is the audit detail of a saved connection: where patient
// data now goes (the service's address, the credential's kind, the
// mailboxes). No secret, no patient data: the audit log is sealed in the
// vault, and a clinic's IT must be able to tell who pointed Carnet where.
func connectionDetail(c Connection) string {
	var boxes []string
	for _, m := range c.Mailboxes {
		boxes = append(boxes, m.Address)
	}
	return fmt.Sprintf("service=%q credential=%s mailboxes=[%s]", c.ServiceURL, c.Credential.Kind, strings.Join(boxes, " "))
}
