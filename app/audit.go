package app

import (
	"context"
	"time"
)

// AuditEvent is one entry of the local audit log.
type AuditEvent struct {
	Seq          uint64 // position in the log, from 1; set by the store
	Time         time.Time
	Practitioner string     // RPPS id; before sign-in LocalOperator ("local:" and the OS user)
	Structure    string     // structure id
	Patient      PatientID  // empty when the action concerns no patient
	Action       string     // "vault.unlock", "dmp.iti67", "mail.import", …
	Mode         AccessMode // for record access
	Result       string     // "ok", or an error kind
	Detail       string     // free text without health data (a justification is health-adjacent: sealed with the rest)
}

// AuditFilter selects audit events; zero fields select everything.
type AuditFilter struct {
	Patient PatientID
	Action  string // prefix
	Since   time.Time
	Limit   int // the newest Limit events; 0 means all
}

// AuditLog is the part of Store that keeps the local, hash-chained,
// append-only audit log.
type AuditLog interface {
	// Record appends an event to the hash-chained audit log.
	Record(ctx context.Context, e AuditEvent) error
	// Audit returns the audit events matching f, oldest first.
	Audit(ctx context.Context, f AuditFilter) ([]AuditEvent, error)
}
