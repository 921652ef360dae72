package dmp

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/sync/dmp/fhir"
)

// This file maps the service's DocumentReference (PDSm Comprehensive, but
// any R4 DocumentReference with a masterIdentifier will do) to Carnet's
// app.RemoteDocument, and the searchset Bundles that carry them.

// invalidHash is put in DocumentMeta.Hash when the service's hash is not a
// readable base64 SHA-1: such a document can never pass verification, and
// Retrieve says so (ErrIntegrity) instead of skipping the check.
const invalidHash = "invalid"

// sha1Empty is the base64 SHA-1 of nothing: with size 0 it marks a
// delayed-assembly document (IHE MHD ITI-67), not a corrupt one.
const (
	sha1EmptyB64 = "2jmj7l5rSw0yVb/vlWAYkK/YBwk="
	sha1EmptyHex = "da39a3ee5e6b4b0d3255bfef95601890afd80709"
)

// mapDocument maps one DocumentReference. ok is false when the resource has
// no uniqueId (masterIdentifier), the only stable key Carnet can use.
func mapDocument(d *fhir.DocumentReference) (rd app.RemoteDocument, ok bool) {
	uid := d.UniqueID()
	if uid == "" {
		// MHD: when an identifier carries the uniqueId it equals the
		// masterIdentifier; accept it from there for lax servers.
		for _, id := range d.Identifier {
			if id.System == fhir.SystemRFC3986 && strings.HasPrefix(id.Value, "urn:oid:") {
				uid = id.Value
				break
			}
		}
	}
	if uid == "" {
		return rd, false
	}
	m := app.DocumentMeta{
		ID:     fhir.DocumentIDFromURN(uid),
		Source: "dmp",
	}
	if d.Type != nil {
		m.TypeCode = typeCode(d.Type)
	}
	m.ClassCode = classCode(d.Category)
	var att *fhir.Attachment
	if len(d.Content) > 0 {
		att = &d.Content[0].Attachment
	}
	m.Title = firstNonEmpty(attTitle(att), d.Description)
	if m.Title == "" && d.Type != nil {
		m.Title = firstNonEmpty(d.Type.Text, d.Type.First().Display)
	}
	m.Date = actDate(d, att)
	m.Author, m.Organisation = authorNames(d)
	m.Confidentiality = confidentiality(d.SecurityLabel)
	if att != nil {
		m.MediaType = att.ContentType
		if att.Size != nil && *att.Size > 0 {
			m.Size = *att.Size
		}
		m.Hash = hashHex(att.Hash)
		rd.URL = att.URL
		if len(att.Data) > 0 {
			inlineMeta(&m, att)
		}
	}
	m.Superseded = d.Status == "superseded"
	rd.Meta = m
	rd.RemoteID = d.ID
	rd.Status = d.Status
	if d.Meta != nil {
		rd.VersionID = d.Meta.VersionID
		if t, err := fhir.ParseTime(d.Meta.LastUpdated); err == nil {
			rd.LastUpdated = t
		}
	}
	for _, r := range d.RelatesTo {
		if r.Code == "replaces" && r.Target.Identifier != nil && r.Target.Identifier.Value != "" {
			rd.Replaces = fhir.DocumentIDFromURN(r.Target.Identifier.Value)
		}
	}
	rd.Visibility = fhir.VisibilityOf(d.SecurityLabel)
	rd.Archived = d.Archived()
	return rd, true
}

// replacedRef returns the literal reference ("DocumentReference/<id>") of
// the document d replaces, for resolution against other entries, "" if none.
func replacedRef(d *fhir.DocumentReference) string {
	for _, r := range d.RelatesTo {
		if r.Code == "replaces" && r.Target.Reference != "" {
			return r.Target.Reference
		}
	}
	return ""
}

// refID returns the id of a literal reference "DocumentReference/<id>"
// (absolute or with a _history suffix too), "" otherwise.
func refID(ref, resourceType string) string {
	i := strings.Index(ref, resourceType+"/")
	if i < 0 || (i > 0 && ref[i-1] != '/') {
		return ""
	}
	id := ref[i+len(resourceType)+1:]
	id, _, _ = strings.Cut(id, "/")
	id, _, _ = strings.Cut(id, "?")
	return id
}

// typeCode picks the type code: LOINC first, then TRE_A05, then any.
func typeCode(c *fhir.CodeableConcept) string {
	for _, sys := range []string{fhir.SystemLOINC, fhir.SystemTypeCodeA05} {
		for _, cd := range c.Coding {
			if cd.System == sys && cd.Code != "" {
				return cd.Code
			}
		}
	}
	for _, cd := range c.Coding {
		if cd.Code != "" {
			return cd.Code
		}
	}
	return ""
}

// classSystems are the names the class code system (TRE_A03) goes by in a
// DocumentReference.category coding: its FHIR address, the usual one, and
// its OID.
var classSystems = []string{fhir.SystemClassCode, "urn:oid:" + app.OIDClassCode}

// classCode picks the class code (TRE_A03) of a DocumentReference's
// categories: the first usable coding in the class code system. A coding
// in another system is not a class, and a category without one leaves the
// class empty: the central service's type→class correspondence is not among
// Carnet's tables, so none is guessed.
func classCode(cats []fhir.CodeableConcept) string {
	for _, sys := range classSystems {
		for i := range cats {
			for _, cd := range cats[i].Coding {
				if cd.System != sys {
					continue
				}
				if code := app.CleanClassCode(cd.Code); code != "" {
					return code
				}
			}
		}
	}
	return ""
}

// attTitle is the attachment's title, "" without attachment.
func attTitle(a *fhir.Attachment) string {
	if a == nil {
		return ""
	}
	return a.Title
}

// firstNonEmpty returns the first non-blank string.
func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if strings.TrimSpace(v) != "" {
			return v
		}
	}
	return ""
}

// actDate is the act date: context.period.start (serviceStartTime), else the
// attachment's creation, else DocumentReference.date.
func actDate(d *fhir.DocumentReference, att *fhir.Attachment) time.Time {
	var cands []string
	if d.Context != nil && d.Context.Period != nil {
		cands = append(cands, d.Context.Period.Start)
	}
	if att != nil {
		cands = append(cands, att.Creation)
	}
	cands = append(cands, d.Date)
	for _, s := range cands {
		if s == "" {
			continue
		}
		if t, err := fhir.ParseTime(s); err == nil {
			return t
		}
	}
	return time.Time{}
}

// periodEnd is the latest time of the act (period end, else start), for the
// client-side period filter; zero when unknown.
func periodEnd(d *fhir.DocumentReference) time.Time {
	if d.Context == nil || d.Context.Period == nil {
		return time.Time{}
	}
	for _, s := range []string{d.Context.Period.End, d.Context.Period.Start} {
		if s == "" {
			continue
		}
		if t, err := fhir.ParseTime(s); err == nil {
			return t
		}
	}
	return time.Time{}
}

// hashHex converts a base64 SHA-1 to hex; "" when absent, invalidHash when
// unreadable.
func hashHex(b64 string) string {
	b64 = strings.TrimSpace(b64)
	if b64 == "" {
		return ""
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		raw, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(b64, "="))
	}
	if err != nil || len(raw) != 20 {
		return invalidHash
	}
	return hex.EncodeToString(raw)
}

// inlineMeta checks inline content (attachment.data) against the
// metadata: with no hash or size given, the inline bytes' own become the
// metadata, so that content fetched from attachment.url too must equal the
// inline bytes; a hash or size that the inline bytes contradict makes the
// document unverifiable (ErrIntegrity on retrieval), never "accepted".
func inlineMeta(m *app.DocumentMeta, att *fhir.Attachment) {
	sum := sha1.Sum(att.Data)
	got := hex.EncodeToString(sum[:])
	switch {
	case m.Hash == "":
		m.Hash = got
	case m.Hash != got:
		m.Hash = invalidHash
	}
	if m.Size == 0 {
		m.Size = int64(len(att.Data))
	} else if m.Size != int64(len(att.Data)) {
		m.Hash = invalidHash
	}
}

// confidentiality returns the HL7 confidentiality code (N, R, V) of the
// labels, "" when none; the DMP visibility codes go to app.Visibility.
func confidentiality(labels []fhir.CodeableConcept) string {
	for i := range labels {
		for _, c := range labels[i].Coding {
			if c.System == fhir.SystemConfidentiality || (c.System == "" && len(c.Code) == 1) {
				switch c.Code {
				case "N", "R", "V", "L", "M", "U":
					return c.Code
				}
			}
		}
	}
	return ""
}

// authorNames returns the display names of the first author and of the
// organisation, from contained resources or reference displays. These are
// professionals and structures, never the patient's identity traits.
func authorNames(d *fhir.DocumentReference) (author, org string) {
	for _, a := range d.Author {
		name, o := referenceNames(d.Contained, a)
		if author == "" {
			author = name
		}
		if org == "" {
			org = o
		}
		if author != "" {
			break
		}
	}
	if org == "" {
		// the author's organisation is usually contained beside the author
		for i := range d.Contained {
			if d.Contained[i].ResourceType == "Organization" {
				_, org = referenceNames(d.Contained, fhir.Reference{Reference: "#" + d.Contained[i].ID})
				break
			}
		}
	}
	if d.Custodian != nil && org == "" {
		_, o := referenceNames(d.Contained, *d.Custodian)
		if o == "" {
			o = d.Custodian.Display
		}
		org = o
	}
	return author, org
}

// referenceNames resolves a reference to a person/device name and an
// organisation name.
func referenceNames(contained []fhir.RawResource, r fhir.Reference) (name, org string) {
	return referenceNamesDepth(contained, r, 0)
}

// referenceNamesDepth is referenceNames with a bound on the chain of
// contained references (a PractitionerRole may point at itself).
func referenceNamesDepth(contained []fhir.RawResource, r fhir.Reference, depth int) (name, org string) {
	res := fhir.FindContained(contained, r.Reference)
	if depth > 2 {
		res = nil
	}
	if res == nil {
		if r.Identifier != nil && r.Display == "" {
			return r.Identifier.Value, ""
		}
		return r.Display, ""
	}
	switch res.ResourceType {
	case "Practitioner":
		var p fhir.Practitioner
		if res.Decode(&p) == nil {
			name = humanName(p.Name)
			if name == "" {
				name = firstIdentifier(p.Identifier)
			}
		}
	case "PractitionerRole":
		var pr fhir.PractitionerRole
		if res.Decode(&pr) == nil {
			if pr.Practitioner != nil {
				name, _ = referenceNamesDepth(contained, *pr.Practitioner, depth+1)
			}
			if name == "" {
				name = firstIdentifier(pr.Identifier)
			}
			if pr.Organization != nil {
				_, org = referenceNamesDepth(contained, *pr.Organization, depth+1)
				if org == "" {
					org = pr.Organization.Display
				}
			}
		}
	case "Organization":
		var o fhir.Organization
		if res.Decode(&o) == nil {
			org = firstNonEmpty(o.Name, firstIdentifier(o.Identifier))
		}
	case "Device":
		var dv fhir.Device
		if res.Decode(&dv) == nil {
			for _, n := range dv.DeviceName {
				if n.Name != "" {
					name = n.Name
					break
				}
			}
			if name == "" {
				name = firstIdentifier(dv.Identifier)
			}
		}
	}
	if name == "" {
		name = r.Display
	}
	return name, org
}

// humanName renders a professional's name (text, else given and family).
func humanName(ns []fhir.HumanName) string {
	for _, n := range ns {
		if n.Text != "" {
			return n.Text
		}
		s := strings.TrimSpace(strings.Join(append(append([]string(nil), n.Given...), n.Family), " "))
		if s != "" {
			return s
		}
	}
	return ""
}

// firstIdentifier returns the first identifier value.
func firstIdentifier(ids []fhir.Identifier) string {
	for _, id := range ids {
		if id.Value != "" {
			return id.Value
		}
	}
	return ""
}

// docFilter re-applies the query on the client, so that a server that
// ignores a search parameter (MHD says unsupported parameters should be
// ignored) still gives a correct answer.
type docFilter struct {
	ins          app.INS
	statuses     map[string]bool
	actSince     time.Time
	updatedSince time.Time
	types        map[string]bool
	id           app.DocumentID
	patientID    string // the service's Patient id, when known
}

// keep reports whether a mapped document matches the query.
func (f *docFilter) keep(d *fhir.DocumentReference, rd *app.RemoteDocument) bool {
	if len(f.statuses) > 0 && !f.statuses[rd.Status] {
		return false
	}
	if f.id != "" && rd.Meta.ID != f.id {
		return false
	}
	if len(f.types) > 0 {
		match := false
		if d.Type != nil {
			for _, c := range d.Type.Coding {
				if f.types[c.Code] {
					match = true
					break
				}
			}
		}
		if !match {
			return false
		}
	}
	if !f.actSince.IsZero() {
		// FHIR period=ge: the act's range reaches the date
		end := periodEnd(d)
		if end.IsZero() {
			end = rd.Meta.Date
		}
		if !end.IsZero() && end.Before(f.actSince) {
			return false
		}
	}
	if !f.updatedSince.IsZero() && !rd.LastUpdated.IsZero() && rd.LastUpdated.Before(f.updatedSince) {
		return false
	}
	if !f.ins.IsZero() && d.Subject != nil {
		// drop what the service says belongs to someone else
		if tok, err := fhir.PatientRefToken(d.Subject); err == nil && tok.Value != "" {
			want := fhir.INSToken(f.ins)
			if tok.Value != want.Value || (tok.System != "" && tok.System != want.System) {
				return false
			}
		} else if id := refID(d.Subject.Reference, "Patient"); f.patientID != "" && id != "" && id != f.patientID {
			return false // literal reference to another Patient
		}
	}
	return true
}

// decodeSearchset maps a searchset page: the DocumentReferences it matches
// (search mode "match" or absent), in order, with replacements resolved
// against ids (literal id → uniqueId, filled as entries are seen; may be
// nil). skipped counts entries that were not usable documents. err is
// non-nil when an entry's resource has no readable header (no
// resourceType, or a resourceType or id that is not a string): the page is
// malformed, as when decoded into a fhir.Bundle.
//
// Each resource is decoded once, straight into a DocumentReference; only a
// resource that does not decode as one has its header decoded too, to tell
// another resource type or an unusable entry from a malformed page.
func decodeSearchset(p *searchPage, f *docFilter, ids map[string]app.DocumentID) (docs []app.RemoteDocument, skipped int, err error) {
	type pending struct {
		i   int
		ref string
	}
	var unresolved []pending
	docs = make([]app.RemoteDocument, 0, len(p.Entry))
	for i := range p.Entry {
		e := &p.Entry[i]
		raw := e.resource()
		if raw == nil {
			continue
		}
		var d fhir.DocumentReference
		derr := json.Unmarshal(raw, &d)
		if derr != nil || d.ResourceType != "DocumentReference" {
			h, _, herr := e.header()
			if herr != nil {
				return nil, 0, herr
			}
			if h.ResourceType != "DocumentReference" {
				continue // OperationOutcome warnings, included resources
			}
		}
		if e.Search != nil && e.Search.Mode != "" && e.Search.Mode != "match" {
			continue
		}
		if derr != nil {
			skipped++
			continue
		}
		rd, ok := mapDocument(&d)
		if !ok {
			skipped++
			continue
		}
		if ids != nil && rd.RemoteID != "" && len(ids) < 1<<20 {
			ids[rd.RemoteID] = rd.Meta.ID
		}
		if f != nil && !f.keep(&d, &rd) {
			continue
		}
		if rd.Replaces == "" {
			if ref := replacedRef(&d); ref != "" {
				unresolved = append(unresolved, pending{len(docs), ref})
			}
		}
		docs = append(docs, rd)
	}
	for _, p := range unresolved {
		if id := refID(p.ref, "DocumentReference"); id != "" && ids != nil {
			docs[p.i].Replaces = ids[id]
		}
	}
	return docs, skipped, nil
}
