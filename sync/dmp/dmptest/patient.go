package dmptest

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/sync/dmp/fhir"
)

// handleMetadata serves the CapabilityStatement (no assertion needed).
func (s *Server) handleMetadata(w http.ResponseWriter, r *http.Request) {
	sp := func(names ...string) []fhir.CapParam {
		var out []fhir.CapParam
		for _, n := range names {
			typ := "token"
			switch n {
			case "date", "period", "_lastUpdated", "creation":
				typ = "date"
			case "patient":
				typ = "reference"
			}
			out = append(out, fhir.CapParam{Name: n, Type: typ})
		}
		return out
	}
	ia := func(codes ...string) []fhir.CapCode {
		var out []fhir.CapCode
		for _, c := range codes {
			out = append(out, fhir.CapCode{Code: c})
		}
		return out
	}
	writeJSON(w, http.StatusOK, fhir.CapabilityStatement{
		Status: "active", Kind: "instance", FHIRVersion: "4.0.1", Date: fhir.FormatInstant(s.opt.Epoch),
		Format:   []string{fhir.MediaFHIRJSON},
		Software: &fhir.CapSoftware{Name: "Carnet sandbox DMP"},
		Rest: []fhir.CapRest{{Mode: "server", Resource: []fhir.CapResource{
			{Type: "Patient", Interaction: ia("search-type"), SearchParam: sp("identifier")},
			{Type: "DocumentReference", Interaction: ia("read", "search-type", "patch", "delete"),
				SearchParam: sp("patient", "patient.identifier", "status", "period", "date", "type", "category", "identifier", "security-label", "_lastUpdated", "_count")},
			{Type: "List", Interaction: ia("search-type"), SearchParam: sp("patient", "patient.identifier", "code", "status", "date", "_count")},
			{Type: "Binary", Interaction: ia("read")},
			{Type: "Consent", Interaction: ia("create")},
			{Type: "AuditEvent", Interaction: ia("search-type"), SearchParam: sp("patient", "patient.identifier", "date", "_count")},
		}}},
	})
}

// patientParam reads the patient of a search: patient.identifier=token,
// patient=Patient/{id} (or a token), checks the assertion names the same
// patient, and returns the record (nil when the INS is unknown).
func (s *Server) patientParam(w http.ResponseWriter, q url.Values, c *caller) (*record, bool) {
	var rec *record
	var tok fhir.Token
	switch {
	case q.Get("patient.identifier") != "":
		tok = fhir.ParseToken(q.Get("patient.identifier"))
		rec = s.recordOf(tok)
	case strings.Contains(q.Get("patient"), "|"):
		tok = fhir.ParseToken(q.Get("patient"))
		rec = s.recordOf(tok)
	case q.Get("patient") != "":
		rec = s.recordByPatientID(strings.TrimPrefix(q.Get("patient"), "Patient/"))
		if rec == nil {
			writeOutcome(w, http.StatusNotFound, fhir.DenialOutcome(app.DeniedNoRecord, "unknown patient"))
			return nil, false
		}
		tok = fhir.INSToken(rec.Patient.INS)
	default:
		writeOutcome(w, http.StatusBadRequest, fhir.NewOutcome("required", "patient or patient.identifier is required"))
		return nil, false
	}
	if !checkPatient(w, c, tok) {
		return nil, false
	}
	return rec, true
}

// handlePatientSearch serves ITI-78 by INS: Patient?identifier=urn:oid:…|NIR.
// No record: an empty searchset. A record: the Patient with the
// record-status extensions for the caller.
func (s *Server) handlePatientSearch(w http.ResponseWriter, r *http.Request, c *caller) {
	ids := r.URL.Query()["identifier"]
	if len(ids) != 1 || !strings.Contains(ids[0], "|") {
		writeOutcome(w, http.StatusBadRequest, fhir.NewOutcome("invalid", "search by one INS only: identifier=urn:oid:<oid>|<matricule>"))
		return
	}
	tok := fhir.ParseToken(ids[0])
	if !checkPatient(w, c, tok) {
		return
	}
	s.data.mu.Lock()
	defer s.data.mu.Unlock()
	rec := s.recordOf(tok)
	b := fhir.Bundle{Type: "searchset", Total: ptr(0), Link: []fhir.BundleLink{{Relation: "self", URL: s.baseURL(r) + "/Patient?" + r.URL.RawQuery}}}
	if rec != nil && rec.Exists {
		if !allowedProfessions[c.Profession] {
			s.trace(rec, c, "search-type", "Patient", app.DeniedProfession)
			deny(w, app.DeniedProfession, "this profession may not consult the DMP")
			return
		}
		s.trace(rec, c, "search-type", "Patient", "")
		b.Total = ptr(1)
		b.Entry = []fhir.BundleEntry{{FullURL: s.baseURL(r) + "/Patient/" + string(rec.Patient.ID),
			Resource: fhir.MustWrap(s.patientResource(rec, c)), Search: &fhir.EntrySearch{Mode: "match"}}}
	}
	w.Header().Set("Date", s.now().Format(http.TimeFormat))
	writeJSON(w, http.StatusOK, b)
}

// patientResource renders rec for caller c.
func (s *Server) patientResource(rec *record, c *caller) fhir.Patient {
	p := rec.Patient
	active := !rec.Closed
	authz := fhir.AuthorizationNone
	switch {
	case rec.Blocked[c.RPPS]:
		authz = fhir.AuthorizationBlocked
	case s.authorised(rec, c.RPPS):
		authz = fhir.AuthorizationGranted
	}
	res := fhir.Patient{
		ID:         string(p.ID),
		Meta:       &fhir.Meta{VersionID: "1", LastUpdated: fhir.FormatInstant(s.opt.Epoch)},
		Identifier: []fhir.Identifier{fhir.INSIdentifier(p.INS)},
		Active:     &active,
		Name:       []fhir.HumanName{{Use: "official", Family: p.BirthName, Given: strings.Fields(p.BirthGivenNames)}},
		Gender:     map[app.Sex]string{app.SexFemale: "female", app.SexMale: "male"}[p.Sex],
		BirthDate:  p.BirthDate,
		Extension: []fhir.Extension{
			{URL: fhir.ExtAuthorization, ValueCode: authz},
			fhir.BoolExtension(fhir.ExtTreatingDoctor, rec.Treating == c.RPPS),
			fhir.BoolExtension(fhir.ExtAttachedMES, rec.AttachMES),
		},
	}
	if rec.Closed {
		res.Extension = append(res.Extension, fhir.Extension{URL: fhir.ExtRecordClosure, ValueDateTime: fhir.FormatInstant(rec.ClosedAt)})
	}
	return res
}

// handleConsent records the caller's authorisation on a record (TD0.3):
// POST Consent, the patient by INS identifier, the actor the caller. The
// sandbox never grants an authorisation any other way.
func (s *Server) handleConsent(w http.ResponseWriter, r *http.Request, c *caller) {
	var cs fhir.Consent
	if err := fhir.DecodeBounded(r.Body, 1<<20, &cs); err != nil {
		writeOutcome(w, http.StatusBadRequest, fhir.NewOutcome("invalid", err.Error()))
		return
	}
	tok, err := fhir.PatientRefToken(cs.Patient)
	if err != nil || cs.Status != "active" || !hasCategory(cs.Category, "dmp-authorization") {
		writeOutcome(w, http.StatusBadRequest, fhir.NewOutcome("invalid", "want an active Consent of category dmp-authorization with the patient by INS identifier"))
		return
	}
	if cs.Provision != nil {
		for _, a := range cs.Provision.Actor {
			if a.Reference.Identifier != nil && a.Reference.Identifier.Value != c.RPPS {
				writeOutcome(w, http.StatusForbidden, fhir.NewOutcome("security", "an authorisation can only be recorded for the caller"))
				return
			}
		}
	}
	if !checkPatient(w, c, tok) {
		return
	}
	s.data.mu.Lock()
	defer s.data.mu.Unlock()
	rec := s.recordOf(tok)
	d := s.access(rec, c, opAuthorize)
	if d == "" && c.Mode != fhir.ModeNormal {
		d = app.DeniedOther // authorisations are recorded in normal mode only
	}
	s.trace(rec, c, "create", "Consent", d)
	if d != "" {
		deny(w, d, "authorisation refused")
		return
	}
	now := s.now()
	rec.Authz[c.RPPS] = now.AddDate(1, 0, 0)
	s.persistLater(rec)
	cs.ID = string(rec.Patient.ID) + "-c" + itoa(int(s.data.nextSeq()))
	cs.Meta = &fhir.Meta{VersionID: "1", LastUpdated: fhir.FormatInstant(now)}
	cs.DateTime = fhir.FormatInstant(now)
	if cs.Provision == nil {
		cs.Provision = &fhir.ConsentProvision{Type: "permit"}
	}
	cs.Provision.Period = &fhir.Period{Start: fhir.FormatInstant(now), End: fhir.FormatInstant(rec.Authz[c.RPPS])}
	w.Header().Set("Location", s.baseURL(r)+"/Consent/"+cs.ID+"/_history/1")
	w.Header().Set("ETag", fhir.WeakETag("1"))
	writeJSON(w, http.StatusCreated, cs)
}

func hasCategory(cs []fhir.CodeableConcept, code string) bool {
	for i := range cs {
		if cs[i].Has(fhir.ConsentAuthorizationCategory, code) {
			return true
		}
	}
	return false
}

// parsePrefixed reads a FHIR date search value with its prefix (ge, gt, le,
// lt, eq or none); want, when set, is the only prefix accepted.
func parsePrefixed(v, want string) (time.Time, error) {
	p, rest := splitPrefix(v)
	if want != "" && p != want && p != "" {
		return time.Time{}, errBadPrefix(v)
	}
	return fhir.ParseTime(rest)
}

func splitPrefix(v string) (string, string) {
	if len(v) > 2 {
		switch v[:2] {
		case "ge", "gt", "le", "lt", "eq", "ne", "sa", "eb":
			return v[:2], v[2:]
		}
	}
	return "", v
}

type errBadPrefix string

func (e errBadPrefix) Error() string { return "unsupported date prefix in " + string(e) }
