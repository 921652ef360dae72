package dmptest

import (
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/beevik/etree"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/sync/dmp/fhir"
)

// IHE identifiers the sandbox reads and writes (reference §8.1).
const (
	xObjDocEntry    = "urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1"
	xSchClass       = "urn:uuid:41a5887f-8865-4c09-adf7-e362475b143a"
	xSchType        = "urn:uuid:f0306f51-975f-434e-a61c-c59651d33983"
	xSchConf        = "urn:uuid:f4f85eac-e6cb-4883-b524-f2705394840f"
	xSchAuthor      = "urn:uuid:93606bcf-9494-43ec-9b4e-a7748d1a838d"
	xIDPatient      = "urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427"
	xIDUnique       = "urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab"
	xQFindDocuments = "urn:uuid:14d4debf-8f97-4251-9a74-a90016b0af0d"
	xQGetDocuments  = "urn:uuid:5c4f972b-d56b-40ac-a5fc-c8ca9b40b9d4"

	xQFindSubmissionSets          = "urn:uuid:f26abbcb-ac74-4422-8a30-edb644bbc1a9"
	xQGetAssociations             = "urn:uuid:a7ae438b-4bc2-4642-93e9-be891f7bb155"
	xQGetDocumentsAndAssociations = "urn:uuid:bab9529a-4a10-40b3-a01f-f68a615d247a"
	xAssocRPLC                    = "urn:ihe:iti:2007:AssociationType:RPLC"
	xAssocHasMember               = "urn:oasis:names:tc:ebxml-regrep:AssociationType:HasMember"
	xAssocStatus                  = "urn:ihe:iti:2010:AssociationType:UpdateAvailabilityStatus"
)

// entryUUID is a document version's XDS entryUUID (it changes with every
// metadata version); logicalID stays the same.
func entryUUID(d *doc) string { return nameUUID(d.Ref.ID + "#" + itoa(d.Version)) }
func logicalID(d *doc) string { return nameUUID(d.Ref.ID) }

func nameUUID(s string) string {
	h := sha1.Sum([]byte("carnet-sandbox:" + s))
	h[6] = h[6]&0x0f | 0x50
	h[8] = h[8]&0x3f | 0x80
	return fmt.Sprintf("urn:uuid:%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

func uniqueOf(d *doc) string { return strings.TrimPrefix(d.Ref.UniqueID(), "urn:oid:") }

// xdsStatus is the registry status of d.
func xdsStatus(d *doc) string {
	switch {
	case d.Ref.Status == "superseded":
		return xStatusDeprecated
	case d.Ref.Archived():
		return xStatusArchived
	default:
		return xStatusApproved
	}
}

// patientRecord returns the record the VIHF names.
func (s *Server) patientRecord(c *caller) (*record, error) {
	if c.Patient.Value == "" {
		return nil, senderFault("wsse:InvalidSecurity", "VIHF without resource-id")
	}
	return s.recordOf(c.Patient), nil
}

// xdsTD02 answers TD0.2 (record existence, status, authorisation).
func (s *Server) xdsTD02(r *soapReq, c *caller) (string, string, []xPart, error) {
	v := r.body.FindElement(".//patientIdentifier/value")
	if v == nil {
		return "", "", nil, senderFault("dmp:REQUETE_INVALIDE", "no patientIdentifier")
	}
	tok := fhir.INSToken(app.INS{Matricule: v.SelectAttrValue("extension", ""), OID: v.SelectAttrValue("root", "")})
	if tok != c.Patient {
		return "", "", nil, senderFault("wsse:InvalidSecurity", "the VIHF is for another patient")
	}
	s.data.mu.Lock()
	defer s.data.mu.Unlock()
	rec := s.recordOf(tok)
	var b strings.Builder
	b.WriteString(`<PRPA_IN201308UV02 xmlns="` + xNSHL7 + `" ITSVersion="XML_1.0"><acknowledgement typeCode="AA"/>`)
	exists := rec != nil && rec.Exists
	if exists {
		auth := "NON_AUTORISE"
		switch {
		case rec.Blocked[c.RPPS]:
			auth = "INTERDIT"
		case s.authorised(rec, c.RPPS):
			auth = "VALIDE"
		}
		b.WriteString(`<attentionLine><keyWordText code="AUTORISATION"/><value code="` + auth + `"/></attentionLine>`)
		b.WriteString(`<attentionLine><keyWordText code="STATUT_MT"/><value value="` + strconv.FormatBool(rec.Treating == c.RPPS) + `"/></attentionLine>`)
	}
	b.WriteString(`<controlActProcess classCode="CACT" moodCode="EVN">`)
	if exists {
		st := "ACTIF"
		if rec.Closed {
			st = "FERME"
		}
		b.WriteString(`<subject typeCode="SUBJ"><registrationEvent><subject1><patient><statusCode code="` + st + `"/></patient></subject1></registrationEvent></subject>`)
		b.WriteString(`<queryAck><queryResponseCode code="OK"/></queryAck>`)
	} else {
		b.WriteString(`<queryAck><queryResponseCode code="NF"/></queryAck>`)
	}
	b.WriteString(`</controlActProcess></PRPA_IN201308UV02>`)
	s.trace(rec, c, "read", "TD0.2", "")
	return "urn:hl7-org:v3:PRPA_IN201308UV02", b.String(), nil, nil
}

// xdsSetAuthorization answers TD0.3 (AJOUT only).
func (s *Server) xdsSetAuthorization(r *soapReq, c *caller) (string, string, []xPart, error) {
	if a := child(r.body, xNSHabil, "action"); a == nil || strings.TrimSpace(a.Text()) != "AJOUT" {
		return "", "", nil, senderFault("dmp:REQUETE_INVALIDE", "action AJOUT expected")
	}
	s.data.mu.Lock()
	defer s.data.mu.Unlock()
	rec, err := s.patientRecord(c)
	if err != nil {
		return "", "", nil, err
	}
	d := s.access(rec, c, opAuthorize)
	if d == "" && c.Mode != fhir.ModeNormal {
		d = app.DeniedOther
	}
	s.trace(rec, c, "create", "habilitation", d)
	if d != "" {
		return "", "", nil, denialFault(d)
	}
	rec.Authz[c.RPPS] = s.now().AddDate(1, 0, 0)
	s.persistLater(rec)
	return "urn:si-dmp-habilitations:HabilitationsEndPoint:setAuthorizationResponse",
		`<setAuthorizationResponse xmlns="` + xNSHabil + `"><status>OK</status></setAuthorizationResponse>`, nil, nil
}

// slotVals returns the values of a rim:Slot of e, unquoted and split.
func slotVals(e *etree.Element, name string) []string {
	var out []string
	for _, sl := range e.SelectElements("Slot") {
		if sl.SelectAttrValue("name", "") != name {
			continue
		}
		for _, v := range sl.FindElements("./ValueList/Value") {
			t := strings.TrimSpace(v.Text())
			t = strings.TrimSuffix(strings.TrimPrefix(t, "("), ")")
			for _, p := range strings.Split(t, ",") {
				p = strings.TrimSpace(p)
				p = strings.TrimSuffix(strings.TrimPrefix(p, "'"), "'")
				if p != "" {
					out = append(out, strings.ReplaceAll(p, "''", "'"))
				}
			}
		}
	}
	return out
}

// setUUID is the id of the submission set that registered d's current
// version. The sandbox keeps no submission sets of its own on the XDS side:
// each version of a document (a provide, a replacement, an ITI-57 metadata
// or status update) counts as registered by one submission set, at its
// LastUpdated, with the document as its only member.
func setUUID(d *doc) string { return nameUUID("ss:" + entryUUID(d)) }

// hasMember writes the HasMember association of d's submission set.
func hasMember(b *strings.Builder, d *doc) {
	b.WriteString(`<rim:Association id="` + nameUUID("hm:"+entryUUID(d)) + `" associationType="` + xAssocHasMember + `" sourceObject="` + setUUID(d) +
		`" targetObject="` + entryUUID(d) + `"><rim:Slot name="SubmissionSetStatus"><rim:ValueList><rim:Value>Original</rim:Value></rim:ValueList></rim:Slot></rim:Association>`)
}

// xdsQuery answers ITI-18 FindDocuments and GetDocuments, and the EEDS
// delta's FindSubmissionSets (ObjectRef), GetAssociations and
// GetDocumentsAndAssociations.
func (s *Server) xdsQuery(r *soapReq, c *caller) (string, string, []xPart, error) {
	const resp = "urn:ihe:iti:2007:RegistryStoredQueryResponse"
	q := child(r.body, xNSRim, "AdhocQuery")
	if q == nil {
		return "", "", nil, senderFault("dmp:REQUETE_INVALIDE", "no AdhocQuery")
	}
	s.data.mu.Lock()
	defer s.data.mu.Unlock()
	rec, err := s.patientRecord(c)
	if err != nil {
		return "", "", nil, err
	}
	fail := func(code, ctx string) (string, string, []xPart, error) {
		return resp, registryFailure(`query:AdhocQueryResponse xmlns:query="`+xNSQuery+`" xmlns:rs="`+xNSRs+`"`, code, ctx), nil, nil
	}
	var match func(d *doc) bool
	var sets func(d *doc) bool // FindSubmissionSets: the sets of the documents it matches
	var members map[string]bool
	withMembers := false
	switch q.SelectAttrValue("id", "") {
	case xQFindSubmissionSets:
		pids := slotVals(q, "$XDSSubmissionSetPatientId")
		if len(pids) != 1 {
			return fail("XDSStoredQueryParamNumber", "$XDSSubmissionSetPatientId")
		}
		if ins, ok := parseCX(pids[0]); !ok || fhir.INSToken(ins) != c.Patient {
			return fail("XDSPatientIdDoesNotMatch", "the query is for another patient than the VIHF")
		}
		if st := slotVals(q, "$XDSSubmissionSetStatus"); len(st) == 0 {
			return fail("XDSStoredQueryMissingParam", "$XDSSubmissionSetStatus")
		} else if st[0] != xStatusApproved {
			return fail("XDSRegistryError", "submission sets are Approved only")
		}
		if opt := child(r.body, xNSQuery, "ResponseOption"); opt == nil || opt.SelectAttrValue("returnType", "") != "ObjectRef" {
			return fail("XDSRegistryError", "the sandbox answers FindSubmissionSets with ObjectRef only")
		}
		var from time.Time
		if v := slotVals(q, "$XDSSubmissionSetSubmissionTimeFrom"); len(v) == 1 {
			if from, err = time.Parse("20060102150405", v[0]); err != nil {
				return fail("XDSRegistryError", "$XDSSubmissionSetSubmissionTimeFrom")
			}
		}
		// A replaced (Deprecated) version is not a new submission: its
		// status changed as a side effect of the replacement's set. (Its
		// own original set is not listed either: the sandbox keeps no
		// registration time apart from LastUpdated, which the replacement
		// moved.)
		sets = func(d *doc) bool {
			return xdsStatus(d) != xStatusDeprecated && !d.LastUpdated.Truncate(time.Second).Before(from)
		}
	case xQGetAssociations:
		ids := slotVals(q, "$uuid")
		if len(ids) == 0 {
			return fail("XDSStoredQueryMissingParam", "$uuid")
		}
		members = map[string]bool{}
		for _, id := range ids {
			members[id] = true
		}

	case xQFindDocuments:
		pids := slotVals(q, "$XDSDocumentEntryPatientId")
		if len(pids) != 1 {
			return fail("XDSStoredQueryParamNumber", "$XDSDocumentEntryPatientId")
		}
		if ins, ok := parseCX(pids[0]); !ok || fhir.INSToken(ins) != c.Patient {
			return fail("XDSPatientIdDoesNotMatch", "the query is for another patient than the VIHF")
		}
		statuses := map[string]bool{}
		for _, st := range slotVals(q, "$XDSDocumentEntryStatus") {
			statuses[st] = true
		}
		if len(statuses) == 0 {
			return fail("XDSStoredQueryMissingParam", "$XDSDocumentEntryStatus")
		}
		var times []timeParam
		for _, tp := range serviceTimeParams {
			if v := slotVals(q, tp.name); len(v) == 1 {
				t, err := parseHL7(v[0])
				if err != nil {
					return fail("XDSRegistryError", tp.name+": not an HL7 time")
				}
				times = append(times, timeParam{tp.name, tp.stop, tp.from, t})
			}
		}
		types := map[string]bool{}
		for _, t := range slotVals(q, "$XDSDocumentEntryTypeCode") {
			code, _, _ := strings.Cut(t, "^^")
			types[code] = true
		}
		match = func(d *doc) bool {
			if !statuses[xdsStatus(d)] {
				return false
			}
			if len(times) > 0 {
				start, stop := serviceTimes(d)
				for _, tp := range times {
					if !tp.match(start, stop) {
						return false
					}
				}
			}
			return len(types) == 0 || (d.Ref.Type != nil && len(d.Ref.Type.Coding) > 0 && types[d.Ref.Type.Coding[0].Code])
		}
	case xQGetDocuments, xQGetDocumentsAndAssociations:
		withMembers = q.SelectAttrValue("id", "") == xQGetDocumentsAndAssociations
		ids := map[string]bool{}
		for _, id := range slotVals(q, "$XDSDocumentEntryUniqueId") {
			ids[id] = true
		}
		uuids := map[string]bool{}
		for _, id := range slotVals(q, "$XDSDocumentEntryEntryUUID") {
			uuids[id] = true
		}
		if (len(ids) == 0) == (len(uuids) == 0) {
			return fail("XDSStoredQueryParamNumber", "$XDSDocumentEntryUniqueId or $XDSDocumentEntryEntryUUID")
		}
		match = func(d *doc) bool { return ids[uniqueOf(d)] || uuids[entryUUID(d)] }
	default:
		return fail("XDSUnknownStoredQuery", "stored query not supported")
	}
	if den := s.access(rec, c, opRead); den != "" {
		s.trace(rec, c, "search", "ITI-18", den)
		return "", "", nil, denialFault(den)
	}
	var b strings.Builder
	b.Grow(512 + 4096*len(rec.Docs)) // a DocumentEntry is ~3.5 kB: one allocation
	b.WriteString(`<query:AdhocQueryResponse xmlns:query="` + xNSQuery + `" xmlns:rim="` + xNSRim + `" status="` + xSuccess + `"><rim:RegistryObjectList>`)
	var assoc strings.Builder
	for _, d := range rec.Docs {
		switch {
		case !d.visibleTo(c.RPPS):
			continue
		case sets != nil:
			if sets(d) {
				b.WriteString(`<rim:ObjectRef id="` + setUUID(d) + `"/>`)
			}
			continue
		case members != nil:
			if members[setUUID(d)] || members[entryUUID(d)] {
				hasMember(&b, d)
			}
			continue
		case !match(d):
			continue
		}
		b.WriteString(s.entryXML(rec, d))
		if withMembers {
			hasMember(&assoc, d)
		}
		if old := d.Ref.Replaces(); old != "" {
			if od := s.docByID(lastSegment(old), false); od != nil {
				assoc.WriteString(`<rim:Association id="` + nameUUID("rplc:"+d.Ref.ID) + `" associationType="` + xAssocRPLC + `" sourceObject="` + entryUUID(d) + `" targetObject="` + entryUUID(od) + `"/>`)
			}
		}
	}
	b.WriteString(assoc.String())
	b.WriteString(`</rim:RegistryObjectList></query:AdhocQueryResponse>`)
	s.trace(rec, c, "search", "ITI-18", "")
	return resp, b.String(), nil, nil
}

// entryCache keeps each document's DocumentEntry as last written, with the
// state it was written from: a listing copies it instead of writing ~60
// elements again (the benchmarks measure the client, not the sandbox).
type entryCache struct {
	state entryState
	xml   string
}

// entryState is what a cached DocumentEntry was written from: the version
// (its entryUUID), the status, LastUpdated (which every change moves), the
// patient. It is compared field by field, without formatting anything.
type entryState struct {
	id      string
	version int
	status  string
	updated time.Time
	patient app.INS
}

func (a entryState) same(b entryState) bool {
	return a.id == b.id && a.version == b.version && a.status == b.status && a.updated.Equal(b.updated) && a.patient == b.patient
}

// entryXML returns d's DocumentEntry, from d's cache when d has not
// changed since it was written. s.data.mu is held.
func (s *Server) entryXML(rec *record, d *doc) string {
	state := entryState{id: d.Ref.ID, version: d.Version, status: xdsStatus(d), updated: d.LastUpdated, patient: rec.Patient.INS}
	if d.xdsEntry.xml != "" && d.xdsEntry.state.same(state) {
		return d.xdsEntry.xml
	}
	var b strings.Builder
	writeEntry(&b, rec, d)
	d.xdsEntry = entryCache{state: state, xml: b.String()}
	return d.xdsEntry.xml
}

// writeEntry writes a document's DocumentEntry (LeafClass).
func writeEntry(b *strings.Builder, rec *record, d *doc) {
	id := entryUUID(d)
	slot := func(name string, vals ...string) {
		b.WriteString(`<rim:Slot name="` + name + `"><rim:ValueList>`)
		for _, v := range vals {
			b.WriteString(`<rim:Value>` + xesc(v) + `</rim:Value>`)
		}
		b.WriteString(`</rim:ValueList></rim:Slot>`)
	}
	name := func(v string) {
		b.WriteString(`<rim:Name><rim:LocalizedString xml:lang="fr-FR" value="` + xesc(v) + `"/></rim:Name>`)
	}
	class := func(scheme, code, system string) {
		b.WriteString(`<rim:Classification id="` + nameUUID(id+scheme+code) + `" classificationScheme="` + scheme + `" classifiedObject="` + id + `" nodeRepresentation="` + xesc(code) + `">`)
		slot("codingScheme", system)
		name(code)
		b.WriteString(`</rim:Classification>`)
	}
	ct := d.ContentType
	if ct == "" {
		ct = "text/xml"
	}
	b.WriteString(`<rim:ExtrinsicObject id="` + id + `" lid="` + logicalID(d) + `" status="` + xdsStatus(d) + `" mimeType="` + xesc(ct) + `" objectType="` + xObjDocEntry + `">`)
	start, stop := serviceTimes(d)
	slot("creationTime", hl7(d.LastUpdated))
	slot("hash", hexSHA1(d.Content))
	slot("languageCode", "fr-FR")
	slot("repositoryUniqueId", xRepositoryID)
	if !start.IsZero() {
		slot("serviceStartTime", hl7(start))
	}
	if !stop.IsZero() {
		slot("serviceStopTime", hl7(stop))
	}
	slot("size", strconv.Itoa(len(d.Content)))
	slot("sourcePatientId", cx(rec.Patient.INS))
	title := ""
	if len(d.Ref.Content) > 0 {
		title = d.Ref.Content[0].Attachment.Title
	}
	if title == "" {
		title = d.Ref.Description
	}
	name(title)
	b.WriteString(`<rim:VersionInfo versionName="` + itoa(d.Version) + `"/>`)
	author := d.Author
	disp := ""
	if len(d.Ref.Author) > 0 {
		disp = d.Ref.Author[0].Display
	}
	b.WriteString(`<rim:Classification id="` + nameUUID(id+"author") + `" classificationScheme="` + xSchAuthor + `" classifiedObject="` + id + `" nodeRepresentation="">`)
	fam, given := disp, ""
	if i := strings.LastIndexByte(disp, ' '); i > 0 {
		given, fam = disp[:i], disp[i+1:]
	}
	slot("authorPerson", author+"^"+fam+"^"+given+"^^^^^^&1.2.250.1.71.4.2.1&ISO^D^^^IDNPS")
	b.WriteString(`</rim:Classification>`)
	for _, cat := range d.Ref.Category {
		for _, cd := range cat.Coding {
			if cd.System == fhir.SystemClassCode {
				class(xSchClass, cd.Code, "1.2.250.1.213.1.1.4.1")
			}
		}
	}
	vis := fhir.VisibilityOf(d.Ref.SecurityLabel)
	class(xSchConf, "N", "2.16.840.1.113883.5.25")
	if vis.MaskedToProfessionals {
		class(xSchConf, "MASQUE_PS", "1.2.250.1.213.1.1.4.13")
	}
	if vis.HiddenFromPatient {
		class(xSchConf, "INVISIBLE_PATIENT", "1.2.250.1.213.1.1.4.13")
	}
	if vis.HiddenFromLegalReps {
		class(xSchConf, "INVISIBLE_REP_LEGAUX", "1.2.250.1.213.1.1.4.13")
	}
	if d.Ref.Type != nil && len(d.Ref.Type.Coding) > 0 {
		class(xSchType, d.Ref.Type.Coding[0].Code, "2.16.840.1.113883.6.1")
	}
	b.WriteString(`<rim:ExternalIdentifier id="` + nameUUID(id+"pid") + `" registryObject="` + id + `" identificationScheme="` + xIDPatient + `" value="` + xesc(cx(rec.Patient.INS)) + `">`)
	name("XDSDocumentEntry.patientId")
	b.WriteString(`</rim:ExternalIdentifier><rim:ExternalIdentifier id="` + nameUUID(id+"uid") + `" registryObject="` + id + `" identificationScheme="` + xIDUnique + `" value="` + xesc(uniqueOf(d)) + `">`)
	name("XDSDocumentEntry.uniqueId")
	b.WriteString(`</rim:ExternalIdentifier></rim:ExtrinsicObject>`)
}

// xdsRetrieve answers ITI-43 with the document as an MTOM part.
func (s *Server) xdsRetrieve(r *soapReq, c *caller) (string, string, []xPart, error) {
	const resp = "urn:ihe:iti:2007:RetrieveDocumentSetResponse"
	reqs := r.body.SelectElements("DocumentRequest")
	if len(reqs) != 1 {
		return "", "", nil, senderFault("dmp:REQUETE_INVALIDE", "one DocumentRequest expected")
	}
	repo := strings.TrimSpace(textAt(reqs[0], "./RepositoryUniqueId"))
	uid := strings.TrimSpace(textAt(reqs[0], "./DocumentUniqueId"))
	wrap := func(inner string) string {
		return `<xdsb:RetrieveDocumentSetResponse xmlns:xdsb="` + xNSXDSb + `" xmlns:rs="` + xNSRs + `" xmlns:xop="` + xNSXOP + `">` + inner + `</xdsb:RetrieveDocumentSetResponse>`
	}
	if repo != xRepositoryID {
		return resp, wrap(registryFailure("rs:RegistryResponse", "XDSUnknownRepositoryId", "unknown repository")), nil, nil
	}
	s.data.mu.Lock()
	defer s.data.mu.Unlock()
	rec, err := s.patientRecord(c)
	if err != nil {
		return "", "", nil, err
	}
	if den := s.access(rec, c, opRead); den != "" {
		s.trace(rec, c, "retrieve", "ITI-43", den)
		return "", "", nil, denialFault(den)
	}
	var d *doc
	for _, x := range rec.Docs {
		if uniqueOf(x) == uid && x.visibleTo(c.RPPS) {
			d = x
		}
	}
	if d == nil {
		s.trace(rec, c, "retrieve", "ITI-43", app.DeniedOther)
		return resp, wrap(registryFailure("rs:RegistryResponse", "XDSMissingDocument", "no such document")), nil, nil
	}
	s.trace(rec, c, "retrieve", "ITI-43", "")
	cid := "doc-" + strconv.FormatUint(d.Seq, 10) + "@sandbox"
	ct := d.ContentType
	if ct == "" {
		ct = "text/xml"
	}
	body := wrap(`<rs:RegistryResponse status="` + xSuccess + `"/><xdsb:DocumentResponse><xdsb:RepositoryUniqueId>` + xRepositoryID +
		`</xdsb:RepositoryUniqueId><xdsb:DocumentUniqueId>` + xesc(uid) + `</xdsb:DocumentUniqueId><xdsb:mimeType>` + xesc(ct) +
		`</xdsb:mimeType><xdsb:Document><xop:Include href="cid:` + cid + `"/></xdsb:Document></xdsb:DocumentResponse>`)
	return resp, body, []xPart{{cid: cid, data: d.Content}}, nil
}

var _ = base64.StdEncoding

// serviceTimes are a document's serviceStartTime (its act period's start,
// else its date) and serviceStopTime (the period's end; zero when the act
// has no known end), as the registry publishes them.
func serviceTimes(d *doc) (start, stop time.Time) {
	if d.Ref.Context != nil && d.Ref.Context.Period != nil {
		start, _ = fhir.ParseTime(d.Ref.Context.Period.Start)
		if d.Ref.Context.Period.End != "" {
			stop, _ = fhir.ParseTime(d.Ref.Context.Period.End)
		}
	}
	if start.IsZero() {
		start, _ = fhir.ParseTime(d.Ref.Date)
	}
	return start, stop
}

// serviceTimeParams are FindDocuments' time parameters on the act period
// (ITI TF-2a 3.18.4.1.2.3.6): From is "≥", To is "<".
var serviceTimeParams = []struct {
	name       string
	stop, from bool
}{
	{"$XDSDocumentEntryServiceStartTimeFrom", false, true},
	{"$XDSDocumentEntryServiceStartTimeTo", false, false},
	{"$XDSDocumentEntryServiceStopTimeFrom", true, true},
	{"$XDSDocumentEntryServiceStopTimeTo", true, false},
}

// timeParam is one time parameter of a query.
type timeParam struct {
	name       string
	stop, from bool
	t          time.Time
}

// match applies the parameter to an entry's times: an entry without the
// attribute the parameter is about does not match (ITI TF-2a).
func (tp timeParam) match(start, stop time.Time) bool {
	v := start
	if tp.stop {
		v = stop
	}
	if v.IsZero() {
		return false
	}
	if tp.from {
		return !v.Before(tp.t)
	}
	return v.Before(tp.t)
}
