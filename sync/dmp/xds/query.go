package xds

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/carnetdesk/carnet/app"
)

// Query is an ITI-18 registry stored query.
type Query struct {
	ID         string // QueryFindDocuments, QueryGetDocuments
	ObjectRefs bool   // returnType ObjectRef instead of LeafClass
	Slots      []Slot
}

// Slot is one query parameter: its name and already-formatted values (each
// value as the query wants it, quotes included).
type Slot struct {
	Name   string
	Values []string
}

// quote returns s as a stored-query string literal: 'x' with ' doubled.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// quoteList returns ('a','b').
func quoteList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = quote(s)
	}
	return "(" + strings.Join(q, ",") + ")"
}

// FindDocumentsQuery builds TD3.1a: the documents of ins with the given
// statuses (default Approved and Archived), acts that began since actSince
// (when not zero: $XDSDocumentEntryServiceStartTimeFrom), of the given
// LOINC types (when any). An act that began before actSince and lasts into
// it (a reimbursement history covering the last 24 months) is found by
// the same query on its stop time: see FindDocumentsQueries.
func FindDocumentsQuery(ins app.INS, statuses []string, actSince time.Time, types []string) Query {
	return findDocuments(ins, statuses, "$XDSDocumentEntryServiceStartTimeFrom", actSince, types)
}

// FindDocumentsQueries builds the TD3.1a queries of the acts whose period
// reaches actSince, as FHIR's period=ge does: an XDS stored query has no
// "or" and leaves out the entries that lack a time attribute it filters
// on (ITI TF-2a 3.18.4.1.2.3.6), so it takes two — the acts that began
// since actSince, and those that stopped since (began before, last into
// the window). Without actSince, one query.
func FindDocumentsQueries(ins app.INS, statuses []string, actSince time.Time, types []string) []Query {
	if actSince.IsZero() {
		return []Query{FindDocumentsQuery(ins, statuses, actSince, types)}
	}
	return []Query{
		FindDocumentsQuery(ins, statuses, actSince, types),
		findDocuments(ins, statuses, "$XDSDocumentEntryServiceStopTimeFrom", actSince, types),
	}
}

// findDocuments builds FindDocuments with, when since is not zero, the
// time parameter param (ServiceStartTimeFrom or ServiceStopTimeFrom).
func findDocuments(ins app.INS, statuses []string, param string, since time.Time, types []string) Query {
	if len(statuses) == 0 {
		statuses = []string{StatusApproved, StatusArchived}
	}
	q := Query{ID: QueryFindDocuments, Slots: []Slot{
		{Name: "$XDSDocumentEntryPatientId", Values: []string{quote(PatientID(ins))}},
		{Name: "$XDSDocumentEntryStatus", Values: []string{quoteList(statuses)}},
	}}
	if !since.IsZero() {
		q.Slots = append(q.Slots, Slot{Name: param, Values: []string{hl7Time(since)}})
	}
	if len(types) > 0 {
		coded := make([]string, len(types))
		for i, t := range types {
			coded[i] = t + "^^" + OIDLOINC
		}
		q.Slots = append(q.Slots, Slot{Name: "$XDSDocumentEntryTypeCode", Values: []string{quoteList(coded)}})
	}
	return q
}

// OIDLOINC is the coding scheme of document type codes.
const OIDLOINC = "2.16.840.1.113883.6.1"

// GetDocumentsQuery builds TD3.1b: the entries of the documents with these
// uniqueIds (LeafClass, so that the caller sees their status and patient).
func GetDocumentsQuery(uniqueIDs ...string) Query {
	return Query{ID: QueryGetDocuments, Slots: []Slot{
		{Name: "$XDSDocumentEntryUniqueId", Values: quoteLists(uniqueIDs)},
	}}
}

// writeQuery writes the query:AdhocQueryRequest body.
func writeQuery(b *bytes.Buffer, q Query) {
	rt := "LeafClass"
	if q.ObjectRefs {
		rt = "ObjectRef"
	}
	b.WriteString(`<query:AdhocQueryRequest xmlns:query="` + NSQuery + `" xmlns:rim="` + NSRim + `">`)
	b.WriteString(`<query:ResponseOption returnComposedObjects="true" returnType="` + rt + `"/>`)
	b.WriteString(`<rim:AdhocQuery id="` + attrEsc(q.ID) + `">`)
	for _, s := range q.Slots {
		writeSlot(b, s.Name, s.Values...)
	}
	b.WriteString(`</rim:AdhocQuery></query:AdhocQueryRequest>`)
}

// writeSlot writes a rim:Slot.
func writeSlot(b *bytes.Buffer, name string, values ...string) {
	b.WriteString(`<rim:Slot name="` + attrEsc(name) + `"><rim:ValueList>`)
	for _, v := range values {
		b.WriteString(`<rim:Value>`)
		escape(b, v)
		b.WriteString(`</rim:Value>`)
	}
	b.WriteString(`</rim:ValueList></rim:Slot>`)
}

// Entry is a DocumentEntry as the registry returns it (LeafClass).
type Entry struct {
	EntryUUID    string
	LogicalID    string
	Status       string
	MimeType     string
	UniqueID     string
	PatientID    string
	Version      string
	Title        string
	TypeCode     string
	ClassCode    string
	Confidential []string // confidentiality codes
	CreationTime time.Time
	ServiceStart time.Time
	ServiceStop  time.Time // zero when the act has no known end
	Size         int64
	SizeKnown    bool
	Hash         string
	RepositoryID string
	AuthorPerson string
	AuthorInst   string
	node         *node // the ExtrinsicObject as received (for ITI-57 metadata updates)
}

// ActEnd is when the act ended: its stop time, else its start (an act
// without a known end is the point of its start), zero when neither is
// known.
func (e Entry) ActEnd() time.Time {
	if !e.ServiceStop.IsZero() && !e.ServiceStop.Before(e.ServiceStart) {
		return e.ServiceStop
	}
	return e.ServiceStart
}

// Association is an ebRIM association from a query response.
type Association struct {
	ID, Type, Source, Target string
}

// QueryResult is an ITI-18 response: the entries (LeafClass), the object
// references (ObjectRef), the associations.
type QueryResult struct {
	Entries      []Entry
	ObjectRefs   []string
	Associations []Association
}

// ReadQueryResponse reads a query:AdhocQueryResponse element. Errors (a
// failure, a partial success, a success carrying errors) are returned as
// *ResponseError, with nothing of the result.
func ReadQueryResponse(n *node) (*QueryResult, error) {
	if !n.is(NSQuery, "AdhocQueryResponse") {
		return nil, fmt.Errorf("xds: query: unexpected answer %s: %w", n.Name.Local, app.ErrServer)
	}
	if err := readRegistryResponse(n); err != nil {
		return nil, fmt.Errorf("xds: query: %w", err)
	}
	res := &QueryResult{}
	list := n.child(NSRim, "RegistryObjectList")
	if list == nil {
		return res, nil
	}
	for _, c := range list.Children {
		switch {
		case c.is(NSRim, "ExtrinsicObject"):
			e, err := readEntry(c)
			if err != nil {
				return nil, err
			}
			res.Entries = append(res.Entries, e)
		case c.is(NSRim, "ObjectRef"):
			if id := c.attr("id"); id != "" {
				res.ObjectRefs = append(res.ObjectRefs, id)
			}
		case c.is(NSRim, "Association"):
			res.Associations = append(res.Associations, Association{ID: c.attr("id"), Type: c.attr("associationType"),
				Source: c.attr("sourceObject"), Target: c.attr("targetObject")})
		}
	}
	return res, nil
}

// slotValues returns the values of the slot name of n.
func slotValues(n *node, name string) []string {
	for _, s := range n.all(NSRim, "Slot") {
		if s.attr("name") == name {
			var out []string
			for _, v := range s.child(NSRim, "ValueList").all(NSRim, "Value") {
				out = append(out, v.text())
			}
			return out
		}
	}
	return nil
}

func slotValue(n *node, name string) string {
	if v := slotValues(n, name); len(v) > 0 {
		return v[0]
	}
	return ""
}

// readEntry reads a DocumentEntry ExtrinsicObject.
func readEntry(n *node) (Entry, error) {
	e := Entry{node: n, EntryUUID: n.attr("id"), LogicalID: n.attr("lid"), Status: n.attr("status"), MimeType: n.attr("mimeType")}
	if e.EntryUUID == "" {
		return Entry{}, fmt.Errorf("xds: document entry without id: %w", app.ErrServer)
	}
	if ot := n.attr("objectType"); ot != "" && ot != ObjectTypeDocumentEntry {
		return Entry{}, fmt.Errorf("xds: extrinsic object of type %q is not a document entry: %w", ot, app.ErrServer)
	}
	if e.LogicalID == "" {
		e.LogicalID = e.EntryUUID
	}
	if ls := n.child(NSRim, "Name").child(NSRim, "LocalizedString"); ls != nil {
		e.Title = ls.attr("value")
	}
	if vi := n.child(NSRim, "VersionInfo"); vi != nil {
		e.Version = vi.attr("versionName")
	}
	e.CreationTime, _ = parseHL7Time(slotValue(n, "creationTime"))
	e.ServiceStart, _ = parseHL7Time(slotValue(n, "serviceStartTime"))
	e.ServiceStop, _ = parseHL7Time(slotValue(n, "serviceStopTime"))
	if s := slotValue(n, "size"); s != "" {
		sz, err := strconv.ParseInt(s, 10, 64)
		if err != nil || sz < 0 {
			return Entry{}, fmt.Errorf("xds: document entry with a bad size: %w", app.ErrServer)
		}
		e.Size, e.SizeKnown = sz, true
	}
	e.Hash = strings.ToLower(slotValue(n, "hash"))
	e.RepositoryID = slotValue(n, "repositoryUniqueId")
	for _, c := range n.all(NSRim, "Classification") {
		switch c.attr("classificationScheme") {
		case SchemeDETypeCode:
			e.TypeCode = c.attr("nodeRepresentation")
		case SchemeDEClassCode:
			e.ClassCode = c.attr("nodeRepresentation")
		case SchemeDEConfidentiality:
			e.Confidential = append(e.Confidential, c.attr("nodeRepresentation"))
		case SchemeDEAuthor:
			if e.AuthorPerson == "" {
				e.AuthorPerson = slotValue(c, "authorPerson")
				e.AuthorInst = slotValue(c, "authorInstitution")
			}
		}
	}
	for _, x := range n.all(NSRim, "ExternalIdentifier") {
		switch x.attr("identificationScheme") {
		case IdentifierDEUniqueID:
			e.UniqueID = x.attr("value")
		case IdentifierDEPatientID:
			e.PatientID = x.attr("value")
		}
	}
	if e.UniqueID == "" {
		return Entry{}, fmt.Errorf("xds: document entry without uniqueId: %w", app.ErrServer)
	}
	return e, nil
}

// xcnName returns "Prénom NOM" from an XCN author (id^NOM^Prénom^…).
func xcnName(xcn string) string {
	f := strings.Split(xcn, "^")
	var parts []string
	if len(f) > 2 && f[2] != "" {
		parts = append(parts, f[2])
	}
	if len(f) > 1 && f[1] != "" {
		parts = append(parts, f[1])
	}
	return strings.Join(parts, " ")
}

// xonName returns the organisation name of an XON.
func xonName(xon string) string {
	name, _, _ := strings.Cut(xon, "^")
	return name
}

// RemoteDocument maps an entry to the app's vocabulary. replaces is the
// uniqueId of the document it replaces, when the response says so.
func (e Entry) RemoteDocument(replaces app.DocumentID) app.RemoteDocument {
	d := app.RemoteDocument{RemoteID: e.EntryUUID, VersionID: e.Version, Replaces: replaces, URL: e.RepositoryID}
	d.Meta = app.DocumentMeta{
		ID: app.DocumentID(e.UniqueID), SetID: e.LogicalID, TypeCode: e.TypeCode, ClassCode: app.CleanClassCode(e.ClassCode),
		Title: e.Title, Date: e.ServiceStart, Author: xcnName(e.AuthorPerson), Organisation: xonName(e.AuthorInst),
		MediaType: e.MimeType, Hash: e.Hash, Source: "dmp", RemoteID: e.EntryUUID, VersionID: e.Version, URL: e.RepositoryID,
	}
	if v, err := strconv.Atoi(e.Version); err == nil {
		d.Meta.Version = v
	}
	if d.Meta.Date.IsZero() {
		d.Meta.Date = e.CreationTime
	}
	if e.SizeKnown {
		d.Meta.Size = e.Size
	}
	for _, c := range e.Confidential {
		switch c {
		case CodeMaskedPS:
			d.Visibility.MaskedToProfessionals = true
		case CodeInvisiblePatient:
			d.Visibility.HiddenFromPatient = true
		case CodeInvisibleLegalReps:
			d.Visibility.HiddenFromLegalReps = true
		default:
			if d.Meta.Confidentiality == "" {
				d.Meta.Confidentiality = c
			}
		}
	}
	d.Meta.Visibility = d.Visibility
	switch e.Status {
	case StatusDeprecated:
		d.Status, d.Meta.Superseded = "superseded", true
	case StatusArchived:
		d.Status, d.Archived = "current", true
	default:
		d.Status = "current"
	}
	return d
}
