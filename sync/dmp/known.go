package dmp

import (
	"context"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/sync/dmp/fhir"
)

// This file holds what the client remembers of the service between calls:
// the service's Patient id of each INS (ITI-78), so that what Carnet writes
// carries a literal reference "Patient/<id>" as servers store it, and the
// service id of every document Carnet created or saw, so that a duplicate
// check can read by id before it searches. It also counts the paths the
// client took (which fallback answered), for tests and diagnostics. Nothing
// here is health data: ids are the service's opaque ids.

// maxKnown bounds each memory; past it the memory starts over (it is only
// a shortcut: every use falls back to a search).
const maxKnown = 100000

// memory is the client's remembered ids.
type memory struct {
	mu       sync.Mutex
	patients map[string]string         // INS token → Patient id
	docs     map[app.DocumentID]string // uniqueId → DocumentReference id
	paths    map[string]int
}

func (m *memory) patientID(ins app.INS) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.patients[fhir.INSToken(ins).String()]
}

func (m *memory) setPatient(ins app.INS, id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.patients == nil || len(m.patients) >= maxKnown {
		m.patients = map[string]string{}
	}
	if id == "" {
		delete(m.patients, fhir.INSToken(ins).String())
		return
	}
	m.patients[fhir.INSToken(ins).String()] = id
}

func (m *memory) docID(id app.DocumentID) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.docs[id]
}

func (m *memory) setDoc(id app.DocumentID, remote string) {
	if id == "" || remote == "" {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.docs == nil || len(m.docs) >= maxKnown {
		m.docs = map[app.DocumentID]string{}
	}
	m.docs[id] = remote
}

// took counts one use of a path ("dup-check: read by id" …).
func (m *memory) took(path string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.paths == nil {
		m.paths = map[string]int{}
	}
	m.paths[path]++
}

// Paths returns how often each path was taken since the client was made:
// which way a duplicate check found its answer, how listings were paged,
// how replacements were superseded. Sorted "path=count" strings.
func (c *Client) Paths() []string {
	c.mem.mu.Lock()
	defer c.mem.mu.Unlock()
	out := make([]string, 0, len(c.mem.paths))
	for p, n := range c.mem.paths {
		out = append(out, p+"="+itoa(n))
	}
	sort.Strings(out)
	return out
}

// PathCount returns how often path was taken.
func (c *Client) PathCount(path string) int {
	c.mem.mu.Lock()
	defer c.mem.mu.Unlock()
	return c.mem.paths[path]
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	if n == 0 {
		return "0"
	}
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}

// The paths the client counts.
const (
	PathSubjectLiteral     = "subject: literal Patient/<id>"
	PathSubjectConditional = "subject: conditional Patient?identifier (no Patient found)"
	PathListByPatientID    = "list: patient=Patient/<id>"
	PathListByIdentifier   = "list: patient.identifier (chained)"
	PathPagingNext         = "paging: next link"
	PathPagingOffset       = "paging: _offset (no next link, total says more)"
	PathDupReadByID        = "dup-check: read by remembered id"
	PathDupIdentifier      = "dup-check: identifier search"
	PathDupListing         = "dup-check: patient listing filtered client-side"
	PathSupersedeInTx      = "replace: superseded by the transaction's patch"
	PathSupersedeJSONPatch = "replace: superseded by a JSON Patch after the transaction"
	PathReadBackOK         = "provide: read back and confirmed"
	PathMetaTestConflict   = "metadata: JSON Patch test failed (conflict)"
	PathMetaIfMatch        = "metadata: If-Match refused (conflict)"
	PathInlineData         = "retrieve: inline attachment.data"
)

// patientRef returns the service's Patient id for ins: remembered, or
// looked up (ITI-78). "" when the service has no Patient with that INS or
// the lookup failed for a reason other than the network (the caller then
// writes the conditional reference). Network failures are returned.
func (c *Client) patientRef(ctx context.Context, acc app.Access, ins app.INS) (string, error) {
	if id := c.mem.patientID(ins); id != "" {
		return id, nil
	}
	v := url.Values{}
	v.Set("identifier", fhir.INSToken(ins).String())
	var b fhir.Bundle
	_, err := c.getJSON(ctx, &call{op: "find patient", method: http.MethodGet, url: c.endpoint("Patient", v), acc: acc, ins: ins}, &b)
	if err != nil {
		if app.KindOf(err) == app.ErrOffline || ctx.Err() != nil {
			return "", err
		}
		return "", nil
	}
	if p, ok := pickPatient(&b, ins); ok && validID(p.ID) {
		c.mem.setPatient(ins, p.ID)
		return p.ID, nil
	}
	return "", nil
}

// validID reports whether s is a FHIR id ([A-Za-z0-9\-\.]{1,64}).
func validID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}

// subjectOf returns the reference Carnet writes for the patient: literal
// "Patient/<id>" with the INS as its logical identifier when the service's
// Patient is known, else the conditional reference by INS.
func (c *Client) subjectOf(ctx context.Context, acc app.Access, ins app.INS) (*fhir.Reference, string, error) {
	id, err := c.patientRef(ctx, acc, ins)
	if err != nil {
		return nil, "", err
	}
	if id == "" {
		c.mem.took(PathSubjectConditional)
		return &fhir.Reference{Reference: fhir.PatientRefByINS(ins)}, "", nil
	}
	c.mem.took(PathSubjectLiteral)
	insID := fhir.INSIdentifier(ins)
	return &fhir.Reference{Reference: "Patient/" + id, Identifier: &insID}, id, nil
}

// pointsAt reports whether a stored reference points at the patient: the
// literal "Patient/<id>" (relative, absolute on any base, or versioned), or
// the INS as the logical identifier. A conditional reference left as text
// by the server does not count.
func pointsAt(r *fhir.Reference, patientID string, ins app.INS) bool {
	if r == nil {
		return false
	}
	if patientID != "" && refID(r.Reference, "Patient") == patientID && !strings.Contains(r.Reference, "?") {
		return true
	}
	return patientID == "" && r.Identifier != nil && r.Identifier.Value == ins.Matricule && r.Identifier.System == fhir.URNOID(ins.OID)
}
