package dmptest

import (
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/sync/dmp/fhir"
)

// maxTransaction bounds an ITI-65 body.
const maxTransaction = 64 << 20

// txError is a failed transaction: status and outcome.
type txError struct {
	status int
	out    *fhir.OperationOutcome
}

func txFail(status int, code, format string, a ...any) *txError {
	return &txError{status, fhir.NewOutcome(code, fmt.Sprintf(format, a...))}
}

// handleTransaction serves ITI-65: POST [base] with a transaction Bundle
// holding one SubmissionSet List, DocumentReferences, their Binaries
// (referenced by urn:uuid fullUrls, rewritten to Binary/{id}) and optional
// PATCH Parameters that supersede replaced documents. All or nothing:
// replacements supersede the old version in the same commit; a uniqueId
// already known fails the whole bundle with 409.
func (s *Server) handleTransaction(w http.ResponseWriter, r *http.Request, c *caller) {
	var b fhir.Bundle
	if err := fhir.DecodeBounded(r.Body, maxTransaction, &b); err != nil {
		writeOutcome(w, http.StatusBadRequest, fhir.NewOutcome("invalid", err.Error()))
		return
	}
	if b.Type != "transaction" {
		writeOutcome(w, http.StatusBadRequest, fhir.NewOutcome("invalid", "want a Bundle of type transaction"))
		return
	}
	s.data.mu.Lock()
	defer s.data.mu.Unlock()
	resp, txe := s.commit(r, c, &b)
	if txe != nil {
		writeOutcome(w, txe.status, txe.out)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

type pendingDoc struct {
	entry    int
	ref      fhir.DocumentReference
	content  []byte
	ctype    string
	replaces *doc
}

func (s *Server) commit(r *http.Request, c *caller, b *fhir.Bundle) (*fhir.Bundle, *txError) {
	binaries := map[string]*fhir.Binary{}
	var lists []int
	var docs []pendingDoc
	patches := map[string]int{}
	for i, e := range b.Entry {
		if e.Resource == nil {
			return nil, txFail(http.StatusBadRequest, "invalid", "entry %d has no resource", i)
		}
		switch e.Resource.ResourceType {
		case "Binary":
			var bin fhir.Binary
			if err := e.Resource.Decode(&bin); err != nil {
				return nil, txFail(http.StatusBadRequest, "invalid", "entry %d: %v", i, err)
			}
			binaries[e.FullURL] = &bin
		case "List":
			lists = append(lists, i)
		case "DocumentReference":
			var d fhir.DocumentReference
			if err := e.Resource.Decode(&d); err != nil {
				return nil, txFail(http.StatusBadRequest, "invalid", "entry %d: %v", i, err)
			}
			docs = append(docs, pendingDoc{entry: i, ref: d})
		case "Parameters":
			if e.Request == nil || e.Request.Method != http.MethodPatch {
				return nil, txFail(http.StatusBadRequest, "invalid", "entry %d: Parameters only as a PATCH", i)
			}
			patches[lastSegment(e.Request.URL)] = i
		default:
			return nil, txFail(http.StatusUnprocessableEntity, "not-supported", "entry %d: %s is not accepted in ITI-65", i, e.Resource.ResourceType)
		}
	}
	if len(lists) != 1 || len(docs) == 0 {
		return nil, txFail(http.StatusUnprocessableEntity, "invalid", "want one submission set List and at least one DocumentReference")
	}
	// the patient, the same everywhere, and the caller's right to feed
	var tok fhir.Token
	for _, pd := range docs {
		t, err := fhir.PatientRefToken(pd.ref.Subject)
		if err != nil {
			return nil, txFail(http.StatusUnprocessableEntity, "invalid", "DocumentReference subject: %v", err)
		}
		if tok.Value != "" && t != tok {
			return nil, txFail(http.StatusUnprocessableEntity, "invalid", "documents for several patients in one bundle")
		}
		tok = t
	}
	if c.Patient != tok {
		return nil, txFail(http.StatusForbidden, "security", "the access assertion is for another patient")
	}
	rec := s.recordOf(tok)
	if d := s.access(rec, c, opFeed); d != "" {
		s.trace(rec, c, "create", "Bundle", d)
		return nil, &txError{denialStatus(d), fhir.DenialOutcome(d, "provide refused")}
	}
	seen := map[string]bool{}
	for k := range docs {
		pd := &docs[k]
		uid := pd.ref.UniqueID()
		if uid == "" {
			return nil, txFail(http.StatusUnprocessableEntity, "required", "DocumentReference without masterIdentifier")
		}
		if seen[uid] || s.data.unique[uid] != nil {
			s.trace(rec, c, "create", "Bundle", app.DeniedOther)
			return nil, txFail(http.StatusConflict, "duplicate", "a document with uniqueId %s already exists", uid)
		}
		seen[uid] = true
		if len(pd.ref.Content) != 1 {
			return nil, txFail(http.StatusUnprocessableEntity, "invalid", "want one content per DocumentReference")
		}
		att := pd.ref.Content[0].Attachment
		switch {
		case att.Data != nil:
			pd.content = att.Data
		case binaries[att.URL] != nil:
			pd.content = binaries[att.URL].Data
		default:
			return nil, txFail(http.StatusUnprocessableEntity, "invalid", "attachment url %q is not a Binary of the bundle", att.URL)
		}
		pd.ctype = att.ContentType
		if pd.ctype == "" && binaries[att.URL] != nil {
			pd.ctype = binaries[att.URL].ContentType
		}
		if pd.ctype == "" {
			return nil, txFail(http.StatusUnprocessableEntity, "required", "attachment without contentType")
		}
		sum := sha1.Sum(pd.content)
		if att.Hash != "" && att.Hash != base64.StdEncoding.EncodeToString(sum[:]) {
			return nil, txFail(http.StatusUnprocessableEntity, "invalid", "attachment hash does not match the content")
		}
		if att.Size != nil && *att.Size != int64(len(pd.content)) {
			return nil, txFail(http.StatusUnprocessableEntity, "invalid", "attachment size does not match the content")
		}
		for _, cat := range pd.ref.Category {
			for _, cd := range cat.Coding {
				if cd.System == fhir.SystemClassCode && strings.TrimSpace(cd.Code) == "" {
					return nil, txFail(http.StatusUnprocessableEntity, "required", "category coding without class code")
				}
			}
		}
		if v := fhir.VisibilityOf(pd.ref.SecurityLabel); v.MaskedToProfessionals && v.HiddenFromPatient {
			return nil, txFail(http.StatusUnprocessableEntity, "business-rule", "a document cannot be both masked to professionals and invisible to the patient")
		}
		if target := pd.ref.Replaces(); target != "" {
			old := s.docByID(lastSegment(target), false)
			if old == nil || old.patient != rec || old.Deleted {
				return nil, txFail(http.StatusUnprocessableEntity, "not-found", "replaced document %s not found", target)
			}
			if old.Ref.Status != "current" {
				return nil, txFail(http.StatusConflict, "conflict", "replaced document %s is already superseded", target)
			}
			if old.Author != c.RPPS {
				s.trace(rec, c, "create", "Bundle", app.DeniedNotAuthor)
				return nil, &txError{http.StatusForbidden, fhir.DenialOutcome(app.DeniedNotAuthor, "only the author replaces a document")}
			}
			pd.replaces = old
			delete(patches, old.Ref.ID)
		}
	}
	if len(patches) > 0 {
		return nil, txFail(http.StatusUnprocessableEntity, "invalid", "PATCH entries must supersede documents this bundle replaces")
	}
	// commit
	now := s.now()
	resp := &fhir.Bundle{Type: "transaction-response", Entry: make([]fhir.BundleEntry, len(b.Entry))}
	for i := range b.Entry {
		resp.Entry[i].Response = &fhir.EntryResponse{Status: "200 OK"}
	}
	var members []*doc
	for _, pd := range docs {
		binURL := pd.ref.Content[0].Attachment.URL
		seq := s.data.nextSeq()
		d := &doc{Seq: seq, Ref: pd.ref, Author: c.RPPS, BinaryID: fmt.Sprintf("%s-m%d", rec.Patient.ID, seq)}
		d.Ref.ID = fmt.Sprintf("%s-n%d", rec.Patient.ID, seq)
		d.Ref.Status = "current"
		d.Ref.Subject = &fhir.Reference{Reference: "Patient/" + string(rec.Patient.ID), Identifier: ptr(fhir.INSIdentifier(rec.Patient.INS))}
		if len(d.Ref.SecurityLabel) == 0 {
			d.Ref.SecurityLabel = fhir.SecurityLabels(visNone)
		}
		d.Ref.Content[0].Attachment.Data = nil
		d.setContent(pd.content, pd.ctype)
		d.stamp(1, now)
		if pd.replaces != nil {
			d.Ref.RelatesTo = []fhir.RelatesTo{{Code: "replaces", Target: fhir.Reference{Reference: "DocumentReference/" + pd.replaces.Ref.ID}}}
			d.changed()
			pd.replaces.Ref.Status = "superseded"
			pd.replaces.stamp(pd.replaces.Version+1, now)
			if i, ok := findPatchEntry(b, pd.replaces.Ref.ID); ok {
				resp.Entry[i].Response = &fhir.EntryResponse{Status: "200 OK", Location: "DocumentReference/" + pd.replaces.Ref.ID + "/_history/" + itoa(pd.replaces.Version),
					Etag: fhir.WeakETag(itoa(pd.replaces.Version)), LastModified: fhir.FormatInstant(now)}
			}
		}
		s.data.register(rec, d)
		members = append(members, d)
		resp.Entry[pd.entry].Response = &fhir.EntryResponse{Status: "201 Created", Location: "DocumentReference/" + d.Ref.ID + "/_history/1",
			Etag: fhir.WeakETag("1"), LastModified: fhir.FormatInstant(now)}
		resp.Entry[pd.entry].Resource = fhir.MustWrap(d.Ref)
		if url := binURL; binaries[url] != nil {
			for j, e := range b.Entry {
				if e.FullURL == url {
					resp.Entry[j].Response = &fhir.EntryResponse{Status: "201 Created", Location: "Binary/" + d.BinaryID + "/_history/1", Etag: fhir.WeakETag("1")}
				}
			}
		}
	}
	var list fhir.List
	_ = b.Entry[lists[0]].Resource.Decode(&list)
	ss := newSubset(&s.data, rec, fmt.Sprintf("%s-s%d", rec.Patient.ID, s.data.nextSeq()), now, c.RPPS, members...)
	ss.List.Contained, ss.List.Extension, ss.List.Title = list.Contained, list.Extension, list.Title
	if len(list.Identifier) > 0 {
		ss.List.Identifier = list.Identifier
	}
	rec.Lists = append(rec.Lists, ss)
	resp.Entry[lists[0]].Response = &fhir.EntryResponse{Status: "201 Created", Location: "List/" + ss.List.ID + "/_history/1", Etag: fhir.WeakETag("1")}
	s.trace(rec, c, "create", "List/"+ss.List.ID, "")
	s.persistLater(rec)
	return resp, nil
}

func findPatchEntry(b *fhir.Bundle, id string) (int, bool) {
	for i, e := range b.Entry {
		if e.Request != nil && e.Request.Method == http.MethodPatch && lastSegment(e.Request.URL) == id {
			return i, true
		}
	}
	return 0, false
}

// lastSegment returns the id of "DocumentReference/x", ".../DocumentReference/x/_history/2" or "x".
func lastSegment(ref string) string {
	if i := strings.Index(ref, "/_history/"); i >= 0 {
		ref = ref[:i]
	}
	if i := strings.LastIndexByte(ref, '/'); i >= 0 {
		return ref[i+1:]
	}
	return ref
}
