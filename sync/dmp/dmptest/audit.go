package dmptest

import (
	"net/http"
	"strconv"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/sync/dmp/fhir"
)

// trace records an access to rec (every request about a patient, allowed or
// refused). A bris de glace access notifies the patient. Callers hold
// s.data.mu.
func (s *Server) trace(rec *record, c *caller, action, what string, denied app.DenialReason) {
	if rec == nil {
		return
	}
	t := &trace{Seq: s.data.nextSeq(), Time: s.now(), RPPS: c.RPPS, Name: c.Name, Structure: c.StructureName,
		Action: action, What: what, Mode: c.Mode, Justification: c.Justification, Outcome: "0"}
	t.ID = string(rec.Patient.ID) + "-a" + strconv.FormatUint(t.Seq, 10)
	if denied != "" {
		t.Outcome = "4"
	}
	if c.Mode == fhir.ModeEmergency && denied == "" {
		t.Notified = true
	}
	rec.Audit = append(rec.Audit, t)
	s.persistLater(rec)
}

// Notifications returns the bris de glace accesses the patient was notified
// of (for tests).
func (s *Server) Notifications(ins app.INS) []app.AccessTrace {
	s.data.mu.Lock()
	defer s.data.mu.Unlock()
	rec := s.recordOf(fhir.INSToken(ins))
	if rec == nil {
		return nil
	}
	var out []app.AccessTrace
	for _, t := range rec.Audit {
		if t.Notified {
			out = append(out, app.AccessTrace{Time: t.Time, Practitioner: t.Name + " (" + t.RPPS + ")", Structure: t.Structure, Action: t.Action, Mode: app.AccessMode(t.Mode)})
		}
	}
	return out
}

// auditEvent renders a trace.
func auditEvent(rec *record, t *trace) fhir.AuditEvent {
	action := map[string]string{"create": "C", "update": "U", "patch": "U", "delete": "D"}[t.Action]
	if action == "" {
		action = "R"
	}
	ev := fhir.AuditEvent{
		ID:       t.ID,
		Meta:     &fhir.Meta{VersionID: "1", LastUpdated: fhir.FormatInstant(t.Time)},
		Type:     fhir.Coding{System: fhir.SystemAuditEventType, Code: "110110", Display: "Patient Record"},
		Subtype:  []fhir.Coding{{System: fhir.SystemRestfulInteraction, Code: t.Action}},
		Action:   action,
		Recorded: fhir.FormatInstant(t.Time),
		Outcome:  t.Outcome,
		Agent: []fhir.AuditAgent{{Who: &fhir.Reference{Identifier: &fhir.Identifier{System: fhir.SystemRPPS, Value: t.RPPS}, Display: t.Name},
			Name: t.Structure, Requestor: true}},
		Source: fhir.AuditSource{Site: "sandbox", Observer: fhir.Reference{Display: "Sandbox DMP (Carnet)"}},
		Entity: []fhir.AuditEntity{{What: &fhir.Reference{Reference: "Patient/" + string(rec.Patient.ID), Identifier: ptr(fhir.INSIdentifier(rec.Patient.INS))},
			Type: &fhir.Coding{System: "http://terminology.hl7.org/CodeSystem/audit-entity-type", Code: "1", Display: "Person"}}},
		Extension: []fhir.Extension{{URL: fhir.ExtAccessMode, ValueCode: t.Mode}},
	}
	if t.What != "" {
		ev.Entity = append(ev.Entity, fhir.AuditEntity{What: &fhir.Reference{Reference: t.What},
			Type: &fhir.Coding{System: "http://terminology.hl7.org/CodeSystem/audit-entity-type", Code: "2", Display: "System Object"}})
	}
	if t.Justification != "" {
		ev.Extension = append(ev.Extension, fhir.Extension{URL: fhir.ExtJustification, ValueString: t.Justification})
	}
	if t.Outcome != "0" {
		ev.OutcomeDesc = "access refused"
	}
	return ev
}

// handleAuditSearch serves AuditEvent?patient=… (Patient/{id}, or an INS
// token) or patient.identifier=…, with date=ge… and _count paging.
func (s *Server) handleAuditSearch(w http.ResponseWriter, r *http.Request, c *caller) {
	q := r.URL.Query()
	s.data.mu.Lock()
	defer s.data.mu.Unlock()
	rec, ok := s.patientParam(w, q, c)
	if !ok {
		return
	}
	if d := s.access(rec, c, opRead); d != "" {
		s.trace(rec, c, "search-type", "AuditEvent", d)
		deny(w, d, "access traces refused")
		return
	}
	var since time.Time
	for _, v := range q["date"] {
		t, err := parsePrefixed(v, "ge")
		if err != nil {
			writeOutcome(w, http.StatusBadRequest, fhir.NewOutcome("invalid", err.Error()))
			return
		}
		since = t
	}
	var items []pageItem
	for _, t := range rec.Audit {
		if !t.Time.Before(since) {
			items = append(items, pageItem{t: t.Time, seq: t.Seq, v: t})
		}
	}
	s.trace(rec, c, "search-type", "AuditEvent", "")
	s.writePage(w, r, items, func(it pageItem) ([]byte, string) {
		t := it.v.(*trace)
		return mustJSON(auditEvent(rec, t)), "AuditEvent/" + t.ID
	})
}
