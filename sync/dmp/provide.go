package dmp

import (
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/sync/dmp/fhir"
)

// Provide sends documents (ITI-65 Provide Document Bundle): one transaction
// Bundle, POST [base], holding the submission set (List, code
// submissionset), then for each document its DocumentReference and its
// Binary, linked by urn:uuid fullUrls that the service rewrites. A
// replacement carries relatesTo{replaces} to the old DocumentReference and
// the bundle supersedes the old one in the same transaction with a FHIRPath
// Patch Parameters entry (the MHD UpdateDocumentRefs slice: PATCH
// DocumentReference/<old id>, If-Match on the old version).
//
// The answer is a transaction-response with one entry per request entry, in
// order; anything else is a server fault. When the answer is lost (ErrOffline
// after sending), the documents may have been recorded: before sending again
// look them up by uniqueId (ListDocuments with DocumentQuery.ID).
//
// The service decides who may feed the record: a non-qualified identity is
// refused (AccessError not_qualified), as is a profession without the right.
func (c *Client) Provide(ctx context.Context, acc app.Access, ins app.INS, docs []app.NewDocument) (app.Provided, error) {
	const op = "provide"
	if err := validateAccess(op, acc, &ins); err != nil {
		return app.Provided{}, err
	}
	if len(docs) == 0 {
		return app.Provided{}, fail(op, app.ErrInvalid, "no document")
	}
	now := c.clock.Now()
	subject, patientID, err := c.subjectOf(ctx, acc, ins)
	if err != nil {
		return app.Provided{}, err
	}
	tx, plan, err := c.provideBundle(acc, ins, docs, now, subject)
	if err != nil {
		return app.Provided{}, err
	}
	body, err := json.Marshal(tx)
	if err != nil {
		return app.Provided{}, fail(op, app.ErrInvalid, "cannot encode the bundle")
	}
	var resp fhir.Bundle
	hdr, err := c.getJSON(ctx, &call{op: op, method: http.MethodPost, url: c.baseStr, body: body,
		contentType: fhir.MediaFHIRJSON, prefer: "return=representation", acc: acc, ins: ins}, &resp)
	if err != nil {
		return app.Provided{}, err
	}
	if resp.ResourceType != "Bundle" || resp.Type != "transaction-response" || len(resp.Entry) != len(tx.Entry) {
		return app.Provided{}, malformed(op, "transaction-response")
	}
	patchEntry := map[int]bool{}
	for _, p := range plan {
		if p.patchEntry > 0 {
			patchEntry[p.patchEntry] = true
		}
	}
	for i := range resp.Entry {
		r := resp.Entry[i].Response
		if r == nil {
			return app.Provided{}, malformed(op, "transaction-response entry")
		}
		code := entryStatus(r.Status)
		if code < 200 || code >= 300 {
			if patchEntry[i] && code >= 400 && code < 500 {
				// the service refused the MHD supersede patch (FHIRPath
				// Patch is optional): the read-back supersedes the old
				// version with a JSON Patch instead
				continue
			}
			return app.Provided{}, classifyStatus(op, code, http.Header{}, nil, c.clock.Now())
		}
	}
	out := app.Provided{Documents: make([]app.RemoteDocument, 0, len(docs))}
	for i, p := range plan {
		rd := p.remote
		dre, bine := resp.Entry[p.docEntry], resp.Entry[p.binEntry]
		if dre.Resource != nil && dre.Resource.ResourceType == "DocumentReference" {
			var d fhir.DocumentReference
			if dre.Resource.Decode(&d) == nil {
				if m, ok := mapDocument(&d); ok && m.Meta.ID == docs[i].Meta.ID {
					if m.Replaces == "" {
						m.Replaces = rd.Replaces
					}
					keepLocal(&m, rd)
					rd = m
				}
			}
		}
		if rd.RemoteID == "" {
			rd.RemoteID = refID(dre.Response.Location, "DocumentReference")
		}
		if rd.VersionID == "" {
			rd.VersionID = historyVersion(dre.Response.Location)
			if rd.VersionID == "" && dre.Response.Etag != "" {
				rd.VersionID = fhir.VersionFromETag(dre.Response.Etag)
			}
		}
		if rd.LastUpdated.IsZero() {
			if t, err := fhir.ParseTime(dre.Response.LastModified); err == nil {
				rd.LastUpdated = t
			} else {
				rd.LastUpdated = c.serverTime(hdr)
			}
		}
		if rd.URL == "" || strings.HasPrefix(rd.URL, "urn:uuid:") {
			if id := refID(bine.Response.Location, "Binary"); id != "" {
				rd.URL = "Binary/" + id
			} else {
				rd.URL = ""
			}
		}
		c.mem.setDoc(rd.Meta.ID, rd.RemoteID)
		out.Documents = append(out.Documents, rd)
	}
	for i := range out.Documents {
		if err := c.confirm(ctx, acc, ins, &out.Documents[i], &docs[i], patientID); err != nil {
			return out, err
		}
	}
	return out, nil
}

// confirm reads back what a provide wrote: the DocumentReference by the id
// the answer gave (the same uniqueId, pointing at the patient, current),
// its content (size and SHA-1 of what was sent), and, for a replacement,
// the old version, which must read superseded; when the transaction's
// patch did not supersede it, a JSON Patch does (test on versionId,
// If-Match). Anything not confirmed is an *app.NotConfirmedError carrying
// what the service answered; the write may have landed and must be
// re-checked, never counted as done.
func (c *Client) confirm(ctx context.Context, acc app.Access, ins app.INS, rd *app.RemoteDocument, nd *app.NewDocument, patientID string) error {
	const op = "provide"
	notConfirmed := func(why string) error {
		c.log.Warn("dmp: write not confirmed", "op", op, "why", why)
		return &app.NotConfirmedError{Op: op, Why: why, Doc: *rd}
	}
	if !validID(rd.RemoteID) {
		return notConfirmed("the answer gave no usable id for the new document")
	}
	d, err := c.readDocRef(ctx, op, acc, ins, rd.RemoteID)
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		return notConfirmed("the new document could not be read back (" + kindText(err) + ")")
	}
	got, ok := mapDocument(d)
	if !ok || got.Meta.ID != nd.Meta.ID {
		return notConfirmed("the id given holds another document")
	}
	if !pointsAt(d.Subject, patientID, ins) {
		return notConfirmed("the stored document does not point at the patient (reference left unresolved)")
	}
	if got.Status != "current" {
		return notConfirmed("the new document reads " + safeCode(got.Status))
	}
	rd.VersionID, rd.LastUpdated = got.VersionID, got.LastUpdated
	if got.URL != "" {
		rd.URL = got.URL
	}
	check := *rd
	check.Meta.Hash, check.Meta.Size = fmt.Sprintf("%x", sha1.Sum(nd.Content)), int64(len(nd.Content))
	if _, err := c.Retrieve(ctx, acc, ins, check); err != nil {
		if ctx.Err() != nil {
			return err
		}
		return notConfirmed("the content could not be read back intact (" + kindText(err) + ")")
	}
	if nd.Replaces != nil {
		if err := c.supersede(ctx, acc, ins, nd.Replaces); err != nil {
			if ctx.Err() != nil {
				return err
			}
			return notConfirmed("the replaced version still reads current (" + kindText(err) + ")")
		}
	}
	c.mem.took(PathReadBackOK)
	return nil
}

// Client re-checks its writes (app.WriteConfirmer).
var _ app.WriteConfirmer = (*Client)(nil)

// ConfirmProvided re-checks a document an earlier Provide may have
// written, found again by its uniqueId: the read-back of Provide (confirm)
// on it. A *app.NotConfirmedError says what still does not hold; the
// document as read back otherwise.
func (c *Client) ConfirmProvided(ctx context.Context, acc app.Access, ins app.INS, found app.RemoteDocument, doc app.NewDocument) (app.RemoteDocument, error) {
	const op = "provide"
	if err := validateAccess(op, acc, &ins); err != nil {
		return app.RemoteDocument{}, err
	}
	_, patientID, err := c.subjectOf(ctx, acc, ins)
	if err != nil {
		return app.RemoteDocument{}, err
	}
	rd := found
	if err := c.confirm(ctx, acc, ins, &rd, &doc, patientID); err != nil {
		return found, err
	}
	return rd, nil
}

// supersede makes sure the replaced version reads superseded: read it; if
// it is still current, JSON Patch its status (test on /meta/versionId and
// If-Match on the version just read), then read it again.
func (c *Client) supersede(ctx context.Context, acc app.Access, ins app.INS, old *app.RemoteDocument) error {
	const op = "provide"
	d, err := c.readDocRef(ctx, op, acc, ins, old.RemoteID)
	if err != nil {
		return err
	}
	if d.Status == "superseded" {
		c.mem.took(PathSupersedeInTx)
		return nil
	}
	if d.Meta == nil || d.Meta.VersionID == "" {
		return fail(op, app.ErrServer, "the replaced version has no versionId")
	}
	ver := d.Meta.VersionID
	ops := []fhir.PatchOp{versionTest(ver), {Op: "replace", Path: "/status", Value: json.RawMessage(`"superseded"`)}}
	if err := c.jsonPatch(ctx, op, acc, ins, old.RemoteID, ver, ops, nil); err != nil {
		return err
	}
	d, err = c.readDocRef(ctx, op, acc, ins, old.RemoteID)
	if err != nil {
		return err
	}
	if d.Status != "superseded" {
		return fail(op, app.ErrServer, "still current after the patch")
	}
	c.mem.took(PathSupersedeJSONPatch)
	return nil
}

// kindText names an error's kind for a NotConfirmedError's reason.
func kindText(err error) string {
	if k := app.KindOf(err); k != nil {
		return k.Error()
	}
	return "error"
}

// safeCode keeps a server-given code printable and short.
func safeCode(s string) string {
	if len(s) > 32 {
		s = s[:32]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return '?'
		}
		return r
	}, s)
}

// keepLocal fills in what the service's copy may lack from what Carnet sent.
func keepLocal(m *app.RemoteDocument, sent app.RemoteDocument) {
	if m.Meta.Title == "" {
		m.Meta.Title = sent.Meta.Title
	}
	if m.Meta.Hash == "" {
		m.Meta.Hash = sent.Meta.Hash
	}
	if m.Meta.Size == 0 {
		m.Meta.Size = sent.Meta.Size
	}
	if m.Meta.ClassCode == "" {
		m.Meta.ClassCode = sent.Meta.ClassCode
	}
	m.Meta.SetID, m.Meta.Version = sent.Meta.SetID, sent.Meta.Version
}

// category is the DocumentReference.category of a class code (TRE_A03, in
// its FHIR system), nil when the document has no class.
func category(class string) []fhir.CodeableConcept {
	if class = app.CleanClassCode(class); class == "" {
		return nil
	}
	return []fhir.CodeableConcept{fhir.Concept(fhir.SystemClassCode, class, "")}
}

// provided is how a document of the request maps to entries.
type provided struct {
	docEntry, binEntry int
	patchEntry         int                // the supersede patch of a replacement, 0 if none
	remote             app.RemoteDocument // what Carnet knows before the answer
}

// provideBundle builds the ITI-65 transaction.
func (c *Client) provideBundle(acc app.Access, ins app.INS, docs []app.NewDocument, now time.Time, subject *fhir.Reference) (*fhir.Bundle, []provided, error) {
	const op = "provide"
	if subject == nil {
		subject = &fhir.Reference{Reference: fhir.PatientRefByINS(ins)}
	}
	author, contained := authorContained(acc.Practitioner)
	listURN := newURN()
	list := fhir.List{
		Contained: contained,
		Extension: []fhir.Extension{
			{URL: fhir.ExtSourceID, ValueIdentifier: &fhir.Identifier{System: fhir.SystemRFC3986, Value: "urn:oid:" + sourceOID}},
		},
		Identifier: []fhir.Identifier{{Use: "official", System: fhir.SystemRFC3986, Value: listURN}},
		Status:     "current",
		Mode:       "working",
		Code:       &fhir.CodeableConcept{Coding: []fhir.Coding{{System: fhir.SystemMHDListTypes, Code: "submissionset"}}},
		Subject:    subject,
		Date:       fhir.FormatInstant(now),
		Source:     &author,
	}
	tx := &fhir.Bundle{Type: "transaction", Entry: []fhir.BundleEntry{{FullURL: listURN, Request: &fhir.EntryRequest{Method: "POST", URL: "List"}}}}
	plan := make([]provided, 0, len(docs))
	seen := map[app.DocumentID]bool{}
	for i := range docs {
		nd := &docs[i]
		if nd.Meta.ID == "" || strings.ContainsAny(string(nd.Meta.ID), " |,") {
			return nil, nil, failf(op, app.ErrInvalid, "document %d has no usable uniqueId", i+1)
		}
		if seen[nd.Meta.ID] {
			return nil, nil, failf(op, app.ErrInvalid, "document %d repeats a uniqueId", i+1)
		}
		seen[nd.Meta.ID] = true
		if len(nd.Content) == 0 {
			return nil, nil, failf(op, app.ErrInvalid, "document %d is empty", i+1)
		}
		if int64(len(nd.Content)) > c.maxDocument {
			return nil, nil, failf(op, app.ErrInvalid, "document %d is larger than the allowed size", i+1)
		}
		if nd.Meta.TypeCode == "" {
			return nil, nil, failf(op, app.ErrInvalid, "document %d has no type code", i+1)
		}
		if nd.Replaces != nil && nd.Replaces.RemoteID == "" {
			return nil, nil, failf(op, app.ErrInvalid, "document %d replaces a document without its service id", i+1)
		}
		mt := nd.Meta.MediaType
		if mt == "" {
			mt = "text/xml"
		}
		sum := sha1.Sum(nd.Content)
		size := int64(len(nd.Content))
		docURN, binURN := newURN(), newURN()
		labels := fhir.SecurityLabels(nd.Visibility)
		if cf := nd.Meta.Confidentiality; cf == "R" || cf == "V" {
			labels[0] = fhir.Concept(fhir.SystemConfidentiality, cf, "")
		}
		created := now
		if !nd.Meta.Date.IsZero() {
			created = nd.Meta.Date
		}
		dr := fhir.DocumentReference{
			Contained:        contained,
			MasterIdentifier: &fhir.Identifier{System: fhir.SystemRFC3986, Value: fhir.UniqueIDURN(nd.Meta.ID)},
			Identifier:       []fhir.Identifier{{Use: "usual", System: fhir.SystemRFC3986, Value: docURN}},
			Status:           "current",
			Type:             &fhir.CodeableConcept{Coding: []fhir.Coding{{System: typeSystem(nd.Meta.TypeCode), Code: nd.Meta.TypeCode}}},
			Category:         category(nd.Meta.ClassCode),
			Subject:          subject,
			Date:             fhir.FormatInstant(now),
			Author:           []fhir.Reference{author},
			SecurityLabel:    labels,
			Content: []fhir.DocumentContent{{
				Attachment: fhir.Attachment{
					ContentType: mt,
					Language:    "fr-FR",
					URL:         binURN,
					Size:        &size,
					Hash:        base64.StdEncoding.EncodeToString(sum[:]),
					Title:       nd.Meta.Title,
					Creation:    fhir.FormatInstant(created),
				},
				Format: &fhir.Coding{System: fhir.SystemFormatCode, Code: "urn:ihe:iti:xds:2017:mimeTypeSufficient"},
			}},
		}
		if !nd.Meta.Date.IsZero() {
			dr.Context = &fhir.DocumentRefContext{Period: &fhir.Period{Start: fhir.FormatInstant(nd.Meta.Date)}}
		}
		remote := app.RemoteDocument{
			Meta:       nd.Meta,
			Status:     "current",
			Visibility: nd.Visibility,
		}
		remote.Meta.MediaType = mt
		remote.Meta.Size = size
		remote.Meta.Hash = fmt.Sprintf("%x", sum)
		remote.Meta.Source = "dmp"
		remote.Meta.Superseded = false
		if nd.Replaces != nil {
			dr.RelatesTo = []fhir.RelatesTo{{Code: "replaces", Target: fhir.Reference{
				Reference:  "DocumentReference/" + nd.Replaces.RemoteID,
				Identifier: &fhir.Identifier{System: fhir.SystemRFC3986, Value: fhir.UniqueIDURN(nd.Replaces.Meta.ID)},
			}}}
			remote.Replaces = nd.Replaces.Meta.ID
		}
		tx.Entry = append(tx.Entry, fhir.BundleEntry{FullURL: docURN, Resource: fhir.MustWrap(dr), Request: &fhir.EntryRequest{Method: "POST", URL: "DocumentReference"}})
		list.Entry = append(list.Entry, fhir.ListEntry{Item: fhir.Reference{Reference: docURN}})
		p := provided{docEntry: len(tx.Entry) - 1, remote: remote}
		tx.Entry = append(tx.Entry, fhir.BundleEntry{FullURL: binURN, Resource: fhir.MustWrap(fhir.Binary{ContentType: mt, Data: nd.Content}), Request: &fhir.EntryRequest{Method: "POST", URL: "Binary"}})
		p.binEntry = len(tx.Entry) - 1
		if nd.Replaces != nil {
			patch := fhir.Parameters{Parameter: []fhir.Parameter{{Name: "operation", Part: []fhir.Parameter{
				{Name: "type", ValueCode: "replace"},
				{Name: "path", ValueString: "DocumentReference.status"},
				{Name: "value", ValueCode: "superseded"},
			}}}}
			req := &fhir.EntryRequest{Method: "PATCH", URL: "DocumentReference/" + nd.Replaces.RemoteID}
			if nd.Replaces.VersionID != "" {
				req.IfMatch = fhir.WeakETag(nd.Replaces.VersionID)
			}
			tx.Entry = append(tx.Entry, fhir.BundleEntry{FullURL: newURN(), Resource: fhir.MustWrap(patch), Request: req})
			p.patchEntry = len(tx.Entry) - 1
		}
		plan = append(plan, p)
	}
	tx.Entry[0].Resource = fhir.MustWrap(list)
	return tx, plan, nil
}

// sourceOID identifies Carnet as the submission source (ihe-sourceId). It
// is a placeholder under the ISO "example" arc until Carnet has its own OID.
const sourceOID = "2.999.1.250.1"

// authorContained returns the author reference and the contained resources
// that describe it: PractitionerRole → Practitioner (RPPS, name) and
// Organization (structure id, name).
func authorContained(p app.Practitioner) (fhir.Reference, []fhir.RawResource) {
	pract := fhir.Practitioner{ID: "author", Identifier: []fhir.Identifier{{System: fhir.SystemRPPS, Value: p.RPPS}}}
	if p.Name != "" {
		pract.Name = []fhir.HumanName{{Text: p.Name}}
	}
	role := fhir.PractitionerRole{ID: "author-role", Practitioner: &fhir.Reference{Reference: "#author"}}
	if p.Profession.Code != "" {
		role.Code = []fhir.CodeableConcept{fhir.Concept(fhir.SystemProfession, p.Profession.Code, p.Profession.Display)}
	}
	out := []fhir.RawResource{*fhir.MustWrap(pract)}
	if p.Structure.ID != "" || p.Structure.Name != "" {
		org := fhir.Organization{ID: "author-org", Name: p.Structure.Name}
		if p.Structure.ID != "" {
			org.Identifier = []fhir.Identifier{{System: fhir.SystemStructure, Value: p.Structure.ID}}
		}
		role.Organization = &fhir.Reference{Reference: "#author-org"}
		out = append(out, *fhir.MustWrap(org))
	}
	out = append(out, *fhir.MustWrap(role))
	return fhir.Reference{Reference: "#author-role"}, out
}

// typeSystem returns LOINC for LOINC-shaped codes (digits, a dash, a check
// digit) and TRE_A05 otherwise (SYNTH, REMB …).
func typeSystem(code string) string {
	dash := strings.IndexByte(code, '-')
	if dash > 0 && dash == len(code)-2 {
		if _, err := strconv.Atoi(code[:dash]); err == nil {
			return fhir.SystemLOINC
		}
	}
	return fhir.SystemTypeCodeA05
}

// newURN returns a random urn:uuid (version 4).
func newURN() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("dmp: no randomness: " + err.Error())
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("urn:uuid:%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// entryStatus reads the HTTP code of a transaction-response entry status
// ("201 Created", "201").
func entryStatus(s string) int {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, ' '); i > 0 {
		s = s[:i]
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0
	}
	return n
}

// historyVersion reads the version of "…/_history/<v>", "" otherwise.
func historyVersion(loc string) string {
	_, v, ok := strings.Cut(loc, "/_history/")
	if !ok {
		return ""
	}
	v, _, _ = strings.Cut(v, "/")
	return v
}
