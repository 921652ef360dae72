package dmptest

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/sync/dmp/fhir"
)

func TestPagingEqualTimestamps(t *testing.T) {
	sb := start(t, Options{Patients: 5, Fixed: []FixedPatient{{Docs: 45}}})
	p := sb.fixed(t, 0)
	gp := sb.as(t, KeyGP)
	var first fhir.Bundle
	gp.get(docsPath(p.INS, "_count", "10"), p.INS, &first)
	if first.Total == nil || *first.Total != 45 || len(first.Entry) != 10 || first.LinkURL("next") == "" {
		t.Fatalf("first page: total %v, %d entries, next %q", first.Total, len(first.Entry), first.LinkURL("next"))
	}
	docs := gp.searchAll(docsPath(p.INS, "_count", "10"), p.INS)
	seen := map[string]bool{}
	for _, d := range docs {
		if seen[d.ID] {
			t.Fatalf("%s twice", d.ID)
		}
		seen[d.ID] = true
		if d.Meta.LastUpdated != docs[0].Meta.LastUpdated {
			t.Fatal("fixture timestamps differ")
		}
	}
	if len(seen) != 45 {
		t.Fatalf("paged %d documents, want 45", len(seen))
	}
	// default and maximum page sizes
	var b fhir.Bundle
	gp.get(docsPath(p.INS), p.INS, &b)
	if len(b.Entry) != 20 {
		t.Fatalf("default page: %d", len(b.Entry))
	}
	sb2 := start(t, Options{Patients: 1, Fixed: []FixedPatient{{Docs: 150}}})
	p2 := sb2.fixed(t, 0)
	sb2.as(t, KeyGP).get(docsPath(p2.INS, "_count", "1000"), p2.INS, &b)
	if len(b.Entry) != 100 {
		t.Fatalf("max page: %d", len(b.Entry))
	}
	// a cursor from another query is refused
	next := first.LinkURL("next")
	if st := gp.get(next+"&type=x", p.INS, nil); st != http.StatusBadRequest {
		t.Fatalf("foreign cursor: %d", st)
	}
}

// fixed returns the i-th fixed patient.
func (sb *Sandbox) fixed(t testing.TB, i int) app.Patient {
	sb.data.mu.Lock()
	defer sb.data.mu.Unlock()
	for _, rec := range sb.data.records {
		if rec.Index < 0 && rec.Patient.ID == app.PatientID(fmt.Sprintf("f%03d", i+1)) {
			return rec.Patient
		}
	}
	t.Fatalf("no fixed patient %d", i)
	return app.Patient{}
}

func TestSearchFilters(t *testing.T) {
	sb := start(t, Options{Patients: 30})
	gp := sb.as(t, KeyGP)
	p := sb.patientWhere(t, openPatient)
	all := gp.searchAll(docsPath(p.INS, "_count", "100"), p.INS)
	both := gp.searchAll("/DocumentReference?"+q("patient.identifier", insTok(p.INS), "status", "current,superseded", "_count", "100"), p.INS)
	if len(both) <= len(all) {
		t.Fatalf("superseded documents missing: %d current, %d with superseded", len(all), len(both))
	}
	since := testEpoch.AddDate(-2, 0, 0)
	recent := gp.searchAll(docsPath(p.INS, "period", "ge"+since.Format("2006-01-02"), "_count", "100"), p.INS)
	living := 0
	for _, d := range recent {
		reach := d.Context.Period.Start
		if d.Context.Period.End != "" {
			reach = d.Context.Period.End
		}
		if ts, _ := fhir.ParseTime(reach); ts.Before(since) {
			t.Fatalf("period filter let %s–%s through", d.Context.Period.Start, d.Context.Period.End)
		}
		if start, _ := fhir.ParseTime(d.Context.Period.Start); start.Before(since) && d.Status == "current" {
			living++ // the reimbursement history: 24 months up to yesterday
		}
	}
	if living != 1 {
		t.Fatalf("%d current documents begun before the window matched, want the reimbursement history", living)
	}
	if len(recent) >= len(all) {
		t.Fatalf("period filter did nothing (%d of %d)", len(recent), len(all))
	}
	remb := gp.searchAll(docsPath(p.INS, "type", fhir.SystemTypeCodeA05+"|REMB"), p.INS)
	if len(remb) != 1 || remb[0].Status != "current" {
		t.Fatalf("REMB: %d", len(remb))
	}
	byID := gp.searchAll(docsPath(p.INS, "identifier", remb[0].UniqueID()), p.INS)
	if len(byID) != 1 || byID[0].ID != remb[0].ID {
		t.Fatalf("by identifier: %d", len(byID))
	}
	upd := gp.searchAll("/DocumentReference?"+q("patient.identifier", insTok(p.INS), "status", "current,superseded", "_lastUpdated", "ge"+fhir.FormatInstant(testEpoch.AddDate(0, -7, 0))), p.INS)
	for _, d := range upd {
		if ts, _ := fhir.ParseTime(d.Meta.LastUpdated); ts.Before(testEpoch.AddDate(0, -7, 0)) {
			t.Fatal("_lastUpdated filter")
		}
	}
	// status is required
	if st := gp.get("/DocumentReference?"+q("patient.identifier", insTok(p.INS)), p.INS, nil); st != http.StatusBadRequest {
		t.Fatalf("no status: %d", st)
	}
	// ITI-66: submission sets since a date
	var lists fhir.Bundle
	gp.get("/List?"+q("patient.identifier", insTok(p.INS), "code", "submissionset", "status", "current", "date", "ge"+testEpoch.AddDate(-1, 0, 0).Format("2006-01-02"), "_count", "100"), p.INS, &lists)
	if len(lists.Entry) == 0 {
		t.Fatal("no submission sets in the last year")
	}
	for _, e := range lists.Entry {
		var l fhir.List
		_ = e.Resource.Decode(&l)
		if ts, _ := fhir.ParseTime(l.Date); ts.Before(testEpoch.AddDate(-1, 0, 0)) || !l.Code.Has(fhir.SystemMHDListTypes, "submissionset") {
			t.Fatalf("list %s %s", l.ID, l.Date)
		}
	}
}

// provideBundle builds an ITI-65 bundle for one CDA document.
func provideBundle(p app.Patient, uid string, content []byte, replaces string, vis app.Visibility) []byte {
	size := int64(len(content))
	sum := sha1.Sum(content)
	ref := fhir.DocumentReference{
		MasterIdentifier: &fhir.Identifier{System: fhir.SystemRFC3986, Value: "urn:oid:" + uid},
		Status:           "current",
		Type:             &fhir.CodeableConcept{Coding: []fhir.Coding{{System: fhir.SystemLOINC, Code: "11488-4"}}},
		Category:         []fhir.CodeableConcept{fhir.Concept(fhir.SystemClassCode, "10", "Compte rendu")},
		Subject:          &fhir.Reference{Reference: fhir.PatientRefByINS(p.INS)},
		Date:             fhir.FormatInstant(testEpoch),
		SecurityLabel:    fhir.SecurityLabels(vis),
		Content: []fhir.DocumentContent{{Attachment: fhir.Attachment{ContentType: "text/xml", URL: "urn:uuid:00000000-0000-0000-0000-000000000003",
			Size: &size, Hash: base64.StdEncoding.EncodeToString(sum[:]), Title: "Note", Language: "fr-FR"}}},
		Context: &fhir.DocumentRefContext{Period: &fhir.Period{Start: fhir.FormatInstant(testEpoch)}},
	}
	if replaces != "" {
		ref.RelatesTo = []fhir.RelatesTo{{Code: "replaces", Target: fhir.Reference{Reference: "DocumentReference/" + replaces}}}
	}
	list := fhir.List{Status: "current", Mode: "working", Code: &fhir.CodeableConcept{Coding: []fhir.Coding{{System: fhir.SystemMHDListTypes, Code: "submissionset"}}},
		Subject: &fhir.Reference{Reference: fhir.PatientRefByINS(p.INS)}, Entry: []fhir.ListEntry{{Item: fhir.Reference{Reference: "urn:uuid:00000000-0000-0000-0000-000000000002"}}}}
	b := fhir.Bundle{Type: "transaction", Entry: []fhir.BundleEntry{
		{FullURL: "urn:uuid:00000000-0000-0000-0000-000000000001", Resource: fhir.MustWrap(list), Request: &fhir.EntryRequest{Method: "POST", URL: "List"}},
		{FullURL: "urn:uuid:00000000-0000-0000-0000-000000000002", Resource: fhir.MustWrap(ref), Request: &fhir.EntryRequest{Method: "POST", URL: "DocumentReference"}},
		{FullURL: "urn:uuid:00000000-0000-0000-0000-000000000003", Resource: fhir.MustWrap(fhir.Binary{ContentType: "text/xml", Data: content}), Request: &fhir.EntryRequest{Method: "POST", URL: "Binary"}},
	}}
	if replaces != "" {
		b.Entry = append(b.Entry, fhir.BundleEntry{FullURL: "urn:uuid:00000000-0000-0000-0000-000000000004",
			Resource: fhir.MustWrap(fhir.Parameters{Parameter: []fhir.Parameter{{Name: "operation", Part: []fhir.Parameter{
				{Name: "type", ValueCode: "replace"}, {Name: "path", ValueString: "DocumentReference.status"}, {Name: "value", ValueCode: "superseded"}}}}}),
			Request: &fhir.EntryRequest{Method: "PATCH", URL: "DocumentReference/" + replaces}})
	}
	out, _ := json.Marshal(b)
	return out
}

func testCDA(p app.Patient, uid string) []byte {
	return writeCDA(cdaDoc{ID: uid, SetID: uid, Version: 1, TypeCode: "11488-4", TypeSystem: oidLOINC, TypeName: "Consultation",
		Title: "Note", Created: testEpoch, ActStart: testEpoch, Patient: p, Author: authorOf(practitionerByKey(KeyGP)),
		Facility: "SA42", Sections: []cdaSection{{Code: "29545-1", Title: "Examen", Paras: []string{"RAS."}}}})
}

// provide posts a bundle and returns the transaction response.
func provide(t *testing.T, a *actor, p app.Patient, body []byte) (int, *fhir.Bundle, app.DenialReason) {
	t.Helper()
	resp := a.do("POST", "", p.INS, body)
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		var o fhir.OperationOutcome
		_ = json.Unmarshal(raw, &o)
		return resp.StatusCode, nil, o.Denial()
	}
	var b fhir.Bundle
	if err := fhir.Unmarshal(raw, &b); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, &b, ""
}

func createdDoc(t *testing.T, b *fhir.Bundle) fhir.DocumentReference {
	t.Helper()
	for _, e := range b.Entry {
		if e.Resource != nil && e.Resource.ResourceType == "DocumentReference" {
			var d fhir.DocumentReference
			_ = e.Resource.Decode(&d)
			return d
		}
	}
	t.Fatal("no DocumentReference in the response")
	return fhir.DocumentReference{}
}

func TestProvideReplaceRetrieveDelete(t *testing.T) {
	sb := start(t, Options{Patients: 60})
	gp, an := sb.as(t, KeyGP), sb.as(t, KeyAnesthetist)
	p := sb.patientWhere(t, openPatient)
	cda := testCDA(p, "1.2.250.1.999.7.1")
	st, resp, _ := provide(t, gp, p, provideBundle(p, "1.2.250.1.999.7.1", cda, "", app.Visibility{}))
	if st != http.StatusOK || resp.Type != "transaction-response" || len(resp.Entry) != 3 {
		t.Fatalf("provide: %d %+v", st, resp)
	}
	for _, e := range resp.Entry {
		if e.Response.Status != "201 Created" {
			t.Fatalf("entry status %s", e.Response.Status)
		}
	}
	d1 := createdDoc(t, resp)
	if d1.Content[0].Attachment.URL != "Binary/"+sb.data.docs[d1.ID].BinaryID {
		t.Fatalf("attachment url not rewritten: %s", d1.Content[0].Attachment.URL)
	}
	// found by identifier; retrievable, raw and as FHIR Binary
	found := an.searchAll(docsPath(p.INS, "identifier", "urn:oid:1.2.250.1.999.7.1"), p.INS)
	if len(found) != 1 {
		t.Fatalf("by identifier: %d", len(found))
	}
	r := an.do("GET", "/"+d1.Content[0].Attachment.URL, p.INS, nil)
	got, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if !bytes.Equal(got, cda) || r.Header.Get("Content-Type") != "text/xml" || r.Header.Get("ETag") == "" {
		t.Fatalf("retrieve: %d %q", r.StatusCode, r.Header.Get("Content-Type"))
	}
	sum := sha1.Sum(got)
	if base64.StdEncoding.EncodeToString(sum[:]) != d1.Content[0].Attachment.Hash {
		t.Fatal("hash")
	}
	var bin fhir.Binary
	r = an.do("GET", "/"+d1.Content[0].Attachment.URL, p.INS, nil, "Accept", fhir.MediaFHIRJSON)
	_ = fhir.DecodeBounded(r.Body, 1<<20, &bin)
	r.Body.Close()
	if !bytes.Equal(bin.Data, cda) || bin.ContentType != "text/xml" {
		t.Fatal("binary as fhir+json")
	}
	// duplicate uniqueId: 409
	if st, _, _ := provide(t, gp, p, provideBundle(p, "1.2.250.1.999.7.1", cda, "", app.Visibility{})); st != http.StatusConflict {
		t.Fatalf("duplicate: %d", st)
	}
	// both masked and invisible to the patient: refused
	if st, _, _ := provide(t, gp, p, provideBundle(p, "1.2.250.1.999.7.9", testCDA(p, "1.2.250.1.999.7.9"), "", app.Visibility{MaskedToProfessionals: true, HiddenFromPatient: true})); st != http.StatusUnprocessableEntity {
		t.Fatalf("cumul: %d", st)
	}
	// replacement by someone else than the author: refused
	cda2 := testCDA(p, "1.2.250.1.999.7.2")
	if _, _, d := provide(t, an, p, provideBundle(p, "1.2.250.1.999.7.2", cda2, d1.ID, app.Visibility{})); d != app.DeniedNotAuthor {
		t.Fatalf("replace by another: %q", d)
	}
	// replacement by the author: atomically supersedes
	st, resp, _ = provide(t, gp, p, provideBundle(p, "1.2.250.1.999.7.2", cda2, d1.ID, app.Visibility{}))
	if st != http.StatusOK || len(resp.Entry) != 4 {
		t.Fatalf("replace: %d", st)
	}
	d2 := createdDoc(t, resp)
	if d2.Replaces() != "DocumentReference/"+d1.ID {
		t.Fatalf("relatesTo %+v", d2.RelatesTo)
	}
	var old fhir.DocumentReference
	gp.get("/DocumentReference/"+d1.ID, p.INS, &old)
	if old.Status != "superseded" || old.Meta.VersionID != "2" {
		t.Fatalf("old: %s v%s", old.Status, old.Meta.VersionID)
	}
	// replacing a superseded version: conflict
	if st, _, _ := provide(t, gp, p, provideBundle(p, "1.2.250.1.999.7.3", testCDA(p, "1.2.250.1.999.7.3"), d1.ID, app.Visibility{})); st != http.StatusConflict {
		t.Fatalf("replace superseded: %d", st)
	}
	// push refused for a non-qualified identity
	nq := sb.patientWhere(t, func(p app.Patient, ex, cl bool, az, b map[string]bool) bool {
		return ex && !cl && az[KeyGP] && p.Status != app.IdentityQualified
	})
	if st, _, d := provide(t, gp, nq, provideBundle(nq, "1.2.250.1.999.7.4", testCDA(nq, "1.2.250.1.999.7.4"), "", app.Visibility{})); d != app.DeniedNotQualified {
		t.Fatalf("not qualified: %d %q", st, d)
	}
	// delete: only the author
	if st, d := an.denial("DELETE", "/DocumentReference/"+d2.ID, p.INS, nil); d != app.DeniedNotAuthor {
		t.Fatalf("delete by another: %d %q", st, d)
	}
	r = gp.do("DELETE", "/DocumentReference/"+d2.ID, p.INS, nil)
	r.Body.Close()
	if r.StatusCode != http.StatusNoContent {
		t.Fatalf("delete: %d", r.StatusCode)
	}
	if st := gp.get("/"+d2.Content[0].Attachment.URL, p.INS, nil); st != http.StatusGone {
		t.Fatalf("deleted binary: %d", st)
	}
	if n := len(gp.searchAll(docsPath(p.INS, "identifier", "urn:oid:1.2.250.1.999.7.2"), p.INS)); n != 0 {
		t.Fatal("deleted document still listed")
	}
}

func TestPatchMaskIfMatch(t *testing.T) {
	sb := start(t, Options{Patients: 2, Fixed: []FixedPatient{{Docs: 3}}})
	p := sb.fixed(t, 0)
	gp, an := sb.as(t, KeyGP), sb.as(t, KeyAnesthetist)
	docs := an.searchAll(docsPath(p.INS), p.INS)
	d := docs[0]
	path := "/DocumentReference/" + d.ID
	mask, _ := json.Marshal(fhir.VisibilityPatch(fhir.SecurityLabels(app.Visibility{MaskedToProfessionals: true})))
	ct := []string{"Content-Type", fhir.MediaJSONPatch}
	send := func(a *actor, body []byte, hdr ...string) *http.Response {
		r := a.do("PATCH", path, p.INS, body, append(ct, hdr...)...)
		r.Body.Close()
		return r
	}
	if r := send(gp, mask); r.StatusCode != http.StatusPreconditionRequired {
		t.Fatalf("no If-Match: %d", r.StatusCode)
	}
	if r := send(gp, mask, "If-Match", `W/"7"`); r.StatusCode != http.StatusPreconditionFailed {
		t.Fatalf("stale If-Match: %d", r.StatusCode)
	}
	if st, den := an.denial("PATCH", path, p.INS, mask); st != http.StatusForbidden || den != app.DeniedNotAuthor {
		// the anesthetist is not the author (content type is checked first)
		if st != http.StatusUnsupportedMediaType {
			t.Fatalf("patch by another: %d %q", st, den)
		}
	}
	if r := an.do("PATCH", path, p.INS, mask, append(ct, "If-Match", `W/"1"`)...); r.StatusCode != http.StatusForbidden {
		t.Fatalf("patch by non-author: %d", r.StatusCode)
	}
	bad, _ := json.Marshal([]fhir.PatchOp{{Op: "replace", Path: "/status", Value: json.RawMessage(`"superseded"`)}})
	if r := send(gp, bad, "If-Match", `W/"1"`); r.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("forbidden field: %d", r.StatusCode)
	}
	r := gp.do("PATCH", path, p.INS, mask, append(ct, "If-Match", `W/"1"`)...)
	var upd fhir.DocumentReference
	_ = fhir.DecodeBounded(r.Body, 1<<20, &upd)
	r.Body.Close()
	if r.StatusCode != 200 || upd.Meta.VersionID != "2" || r.Header.Get("ETag") != `W/"2"` || !upd.HasSecurityLabel(fhir.LabelMaskedPS) {
		t.Fatalf("mask: %d v%s %s", r.StatusCode, upd.Meta.VersionID, r.Header.Get("ETag"))
	}
	// masked: the author still sees it, others do not
	if n := len(an.searchAll(docsPath(p.INS), p.INS)); n != len(docs)-1 {
		t.Fatalf("anesthetist sees %d of %d", n, len(docs))
	}
	if n := len(gp.searchAll(docsPath(p.INS), p.INS)); n != len(docs) {
		t.Fatalf("author sees %d", n)
	}
	if st := an.get("/Binary/"+sb.data.docs[d.ID].BinaryID, p.INS, nil); st != http.StatusNotFound {
		t.Fatalf("masked binary: %d", st)
	}
	// archive with the helper, on the new version
	arch, _ := json.Marshal(fhir.ArchivedPatch(upd.Extension, true))
	r = gp.do("PATCH", path, p.INS, arch, append(ct, "If-Match", `W/"2"`)...)
	_ = fhir.DecodeBounded(r.Body, 1<<20, &upd)
	r.Body.Close()
	if r.StatusCode != 200 || !upd.Archived() || upd.Meta.VersionID != "3" {
		t.Fatalf("archive: %d %v", r.StatusCode, upd.Archived())
	}
	if lu, _ := fhir.ParseTime(upd.Meta.LastUpdated); time.Since(lu) > time.Minute {
		t.Fatal("lastUpdated not bumped")
	}
	// a delta by _lastUpdated sees the change
	ch := gp.searchAll(docsPath(p.INS, "_lastUpdated", "ge"+fhir.FormatInstant(time.Now().Add(-time.Minute))), p.INS)
	if len(ch) != 1 || ch[0].ID != d.ID {
		t.Fatalf("delta: %d", len(ch))
	}
}
