package dmp

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/sync/dmp/fhir"
)

// FindPatient tests the record's existence and the access conditions
// (TD0.2, PDQm ITI-78 by INS only): GET [base]/Patient?identifier=
// urn:oid:<OID>|<matricule>. Zero entries (or 404/410, or a denial saying
// no_record) mean the patient has no record. Of the returned Patient only
// Active and Carnet's record-status extensions are read (closure,
// authorisation, médecin traitant): identity traits the service returns are
// never read into the result (RG_0320), Carnet shows the local qualified
// identity. On a generic FHIR server without the authorisation extension,
// the authorisation reads as AuthorizationUnknown: not a refusal, the
// service decides at each request. The Patient's service id is remembered,
// so that documents Carnet writes reference it literally.
func (c *Client) FindPatient(ctx context.Context, acc app.Access, ins app.INS) (app.RecordStatus, error) {
	const op = "find patient"
	if err := validateAccess(op, acc, &ins); err != nil {
		return app.RecordStatus{}, err
	}
	v := url.Values{}
	v.Set("identifier", fhir.INSToken(ins).String())
	var b fhir.Bundle
	hdr, err := c.getJSON(ctx, &call{op: op, method: http.MethodGet, url: c.endpoint("Patient", v), acc: acc, ins: ins}, &b)
	if err != nil {
		if errors.Is(err, app.ErrWithdrawn) || app.Denial(err) == app.DeniedNoRecord {
			c.mem.setPatient(ins, "")
			return app.RecordStatus{Authorization: app.AuthorizationNone, ServerTime: c.clock.Now(), Said: app.Denial(err)}, nil
		}
		return app.RecordStatus{}, err
	}
	if b.ResourceType != "Bundle" || b.Type != "searchset" {
		return app.RecordStatus{}, malformed(op, "answer (not a searchset Bundle)")
	}
	st := app.RecordStatus{Authorization: app.AuthorizationNone, ServerTime: c.serverTime(hdr)}
	p, found := pickPatient(&b, ins)
	if !found {
		c.mem.setPatient(ins, "")
		return st, nil
	}
	st.Exists = true
	if validID(p.ID) {
		c.mem.setPatient(ins, p.ID)
	}
	closure := fhir.FindExtension(p.Extension, fhir.ExtRecordClosure)
	st.Closed = closure != nil || (p.Active != nil && !*p.Active && !merged(p))
	switch a := fhir.FindExtension(p.Extension, fhir.ExtAuthorization); {
	case a == nil:
		st.Authorization = app.AuthorizationUnknown
	case a.ValueCode == fhir.AuthorizationGranted:
		st.Authorization = app.AuthorizationGranted
	case a.ValueCode == fhir.AuthorizationBlocked:
		st.Authorization = app.AuthorizationBlocked
	}
	st.TreatingDoctor = fhir.FindExtension(p.Extension, fhir.ExtTreatingDoctor).Bool()
	return st, nil
}

// statusPatient is the part of a Patient that FindPatient reads: no name,
// no birth date, no gender — they are not even decoded.
type statusPatient struct {
	ResourceType string             `json:"resourceType"`
	ID           string             `json:"id,omitempty"`
	Extension    []fhir.Extension   `json:"extension,omitempty"`
	Identifier   []fhir.Identifier  `json:"identifier,omitempty"`
	Active       *bool              `json:"active,omitempty"`
	Link         []fhir.PatientLink `json:"link,omitempty"`
}

// merged reports whether an inactive Patient was merged into another (PDQm:
// active=false with link replaced-by), which is not a closed record.
func merged(p *statusPatient) bool {
	for _, l := range p.Link {
		if l.Type == "replaced-by" {
			return true
		}
	}
	return false
}

// pickPatient returns the matched Patient that carries the INS (any Patient
// without identifiers is taken as the match of the identifier search),
// preferring an active one.
func pickPatient(b *fhir.Bundle, ins app.INS) (*statusPatient, bool) {
	want := fhir.INSIdentifier(ins)
	var best *statusPatient
	for i := range b.Entry {
		e := &b.Entry[i]
		if e.Resource == nil || e.Resource.ResourceType != "Patient" {
			continue
		}
		if e.Search != nil && e.Search.Mode != "" && e.Search.Mode != "match" {
			continue
		}
		var p statusPatient
		if json.Unmarshal(e.Resource.Raw, &p) != nil {
			continue
		}
		if len(p.Identifier) > 0 {
			ok := false
			for _, id := range p.Identifier {
				if id.System == want.System && id.Value == want.Value {
					ok = true
					break
				}
			}
			if !ok {
				continue
			}
		}
		if merged(&p) {
			continue
		}
		if best == nil || (best.Active != nil && !*best.Active && (p.Active == nil || *p.Active)) {
			pp := p
			best = &pp
		}
	}
	return best, best != nil
}

// GrantAuthorization records the patient's authorisation for the
// practitioner of acc (TD0.3, action AJOUT): POST [base]/Consent with the
// Consent of fhir.NewAuthorizationConsent. The DMP allows it only after the
// patient consented and the practitioner confirmed it by an explicit action
// in Carnet (EX_0.3-1010): never call it automatically, for instance after
// an AccessError no_authorization. A blocked practitioner stays refused.
func (c *Client) GrantAuthorization(ctx context.Context, acc app.Access, ins app.INS) error {
	const op = "grant authorization"
	if err := validateAccess(op, acc, &ins); err != nil {
		return err
	}
	consent := fhir.NewAuthorizationConsent(fhir.INSToken(ins), acc.Practitioner.RPPS, fhir.FormatInstant(c.clock.Now()))
	body, err := json.Marshal(consent)
	if err != nil {
		return fail(op, app.ErrInvalid, "cannot encode the consent")
	}
	_, err = c.getJSON(ctx, &call{op: op, method: http.MethodPost, url: c.endpoint("Consent", nil), body: body,
		contentType: fhir.MediaFHIRJSON, acc: acc, ins: ins}, nil)
	return err
}

// AccessTraces returns who accessed the record since a time (zero: all),
// oldest first as the service orders them: GET [base]/AuditEvent?
// patient.identifier=…&date=ge…, following the paging. Each trace names the
// professional and structure as the service gives them, the FHIR
// interaction, and the access mode.
func (c *Client) AccessTraces(ctx context.Context, acc app.Access, ins app.INS, since time.Time) ([]app.AccessTrace, error) {
	const op = "access traces"
	if err := validateAccess(op, acc, &ins); err != nil {
		return nil, err
	}
	v := url.Values{}
	v.Set("patient.identifier", fhir.INSToken(ins).String())
	if !since.IsZero() {
		v.Set("date", "ge"+fhir.FormatInstant(since))
	}
	var out []app.AccessTrace
	const maxTraces = 100000
	err := c.follow(ctx, op, acc, ins, c.endpoint("AuditEvent", v), func(b *searchPage, _ map[string]app.DocumentID) (func() error, error) {
		res := make([]fhir.RawResource, len(b.Entry))
		for i := range b.Entry {
			h, _, err := b.Entry[i].header()
			if err != nil {
				return nil, malformed(op, "answer (not the expected FHIR JSON)")
			}
			res[i] = h
		}
		return func() error {
			for i := range res {
				if res[i].ResourceType != "AuditEvent" {
					continue
				}
				var ev fhir.AuditEvent
				if res[i].Decode(&ev) != nil {
					continue
				}
				t := mapTrace(&ev)
				if !since.IsZero() && !t.Time.IsZero() && t.Time.Before(since) {
					continue
				}
				if len(out) >= maxTraces {
					return fail(op, app.ErrServer, "too many access traces")
				}
				out = append(out, t)
			}
			return nil
		}, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// mapTrace maps one AuditEvent.
func mapTrace(ev *fhir.AuditEvent) app.AccessTrace {
	var t app.AccessTrace
	if tm, err := fhir.ParseTime(ev.Recorded); err == nil {
		t.Time = tm
	}
	for _, a := range ev.Agent {
		if !a.Requestor && len(ev.Agent) > 1 {
			continue
		}
		name := a.Name
		var id string
		if a.Who != nil {
			if name == "" {
				name = a.Who.Display
			}
			if a.Who.Identifier != nil {
				switch a.Who.Identifier.System {
				case fhir.SystemStructure:
					if t.Structure == "" {
						t.Structure = a.Who.Identifier.Value
					}
				default:
					id = a.Who.Identifier.Value
				}
			}
		}
		if t.Practitioner == "" {
			t.Practitioner = strings.TrimSpace(name + " " + paren(id))
		}
	}
	if t.Structure == "" {
		t.Structure = ev.Source.Site
	}
	for _, s := range ev.Subtype {
		if s.Code != "" {
			t.Action = s.Code
			break
		}
	}
	if t.Action == "" {
		t.Action = firstNonEmpty(ev.Type.Code, ev.Action)
	}
	if m := fhir.FindExtension(ev.Extension, fhir.ExtAccessMode); m != nil {
		t.Mode = app.AccessMode(m.ValueCode)
	}
	if t.Mode == "" {
		t.Mode = app.AccessNormal
	}
	return t
}

// paren wraps s in parentheses, "" when empty.
func paren(s string) string {
	if s == "" {
		return ""
	}
	return "(" + s + ")"
}
