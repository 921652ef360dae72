package dmp

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/sync/dmp/fhir"
)

// UpdateMetadata changes a document's visibility (mask to professionals,
// hide from the patient or the legal representatives) or its archive flag
// (PDSm metadata update, the FHIR counterpart of XDS ITI-57): a JSON Patch
// on DocumentReference/<id> with If-Match on the version Carnet knows. A
// newer version on the service fails with ErrConflict (412), so a change
// made elsewhere is never overwritten blindly.
//
// The visibility replaces the whole securityLabel array (the HL7
// confidentiality code Carnet knows is kept). An archive change needs the
// current extension array, so it reads the DocumentReference first; if that
// read shows another version, ErrConflict is returned without patching.
// Only explicit user actions should call it.
func (c *Client) UpdateMetadata(ctx context.Context, acc app.Access, ins app.INS, doc app.RemoteDocument, ch app.MetadataChange) (app.RemoteDocument, error) {
	const op = "update metadata"
	if err := validateAccess(op, acc, &ins); err != nil {
		return app.RemoteDocument{}, err
	}
	if doc.RemoteID == "" || doc.VersionID == "" {
		return app.RemoteDocument{}, fail(op, app.ErrInvalid, "document without service id or version")
	}
	if ch.Visibility == nil && ch.Archived == nil {
		return doc, nil
	}
	if ch.Visibility != nil && ch.Visibility.MaskedToProfessionals && ch.Visibility.HiddenFromPatient {
		// DMP parameter cumul-invisible_patient-masque_ps=false (EX_2.1-1050)
		return app.RemoteDocument{}, fail(op, app.ErrInvalid, "a document cannot be both masked to professionals and hidden from the patient")
	}
	self := c.endpoint("DocumentReference/"+url.PathEscape(doc.RemoteID), nil)
	if !validID(doc.RemoteID) {
		return app.RemoteDocument{}, fail(op, app.ErrInvalid, "document without a usable service id")
	}
	var ops []fhir.PatchOp
	if ch.Visibility != nil {
		labels := fhir.SecurityLabels(*ch.Visibility)
		if cf := doc.Meta.Confidentiality; cf == "R" || cf == "V" {
			labels[0] = fhir.Concept(fhir.SystemConfidentiality, cf, "")
		}
		ops = append(ops, fhir.VisibilityPatch(labels)...)
	}
	if ch.Archived != nil {
		var cur fhir.DocumentReference
		if _, err := c.getJSON(ctx, &call{op: op, method: http.MethodGet, url: self, acc: acc, ins: ins}, &cur); err != nil {
			return app.RemoteDocument{}, err
		}
		if cur.ResourceType != "DocumentReference" {
			return app.RemoteDocument{}, malformed(op, "DocumentReference")
		}
		if cur.Meta != nil && cur.Meta.VersionID != "" && cur.Meta.VersionID != doc.VersionID {
			return app.RemoteDocument{}, fail(op, app.ErrConflict, "changed meanwhile")
		}
		ops = append(ops, fhir.ArchivedPatch(cur.Extension, *ch.Archived)...)
	}
	var out app.RemoteDocument
	got := func(d *fhir.DocumentReference) {
		if rd, ok := mapDocument(d); ok {
			if rd.Replaces == "" {
				rd.Replaces = doc.Replaces
			}
			rd.Meta.SetID, rd.Meta.Version, rd.Meta.Cached = doc.Meta.SetID, doc.Meta.Version, doc.Meta.Cached
			out = rd
		}
	}
	ops = append([]fhir.PatchOp{versionTest(doc.VersionID)}, ops...)
	if err := c.jsonPatch(ctx, op, acc, ins, doc.RemoteID, doc.VersionID, ops, got); err != nil {
		return app.RemoteDocument{}, err
	}
	// read back: the change must be there, on a new version
	d, err := c.readDocRef(ctx, op, acc, ins, doc.RemoteID)
	if err != nil {
		if ctx.Err() != nil {
			return app.RemoteDocument{}, err
		}
		return app.RemoteDocument{}, &app.NotConfirmedError{Op: op, Why: "the document could not be read back (" + kindText(err) + ")", Doc: out}
	}
	got(d)
	if out.RemoteID == "" || (ch.Visibility != nil && out.Visibility != *ch.Visibility) || (ch.Archived != nil && out.Archived != *ch.Archived) {
		return app.RemoteDocument{}, &app.NotConfirmedError{Op: op, Why: "the change does not read back", Doc: out}
	}
	return out, nil
}

// versionTest is the JSON Patch operation that makes a patch apply only to
// the version Carnet knows: portable optimistic locking, for servers that
// ignore If-Match on PATCH.
func versionTest(version string) fhir.PatchOp {
	b, _ := json.Marshal(version)
	return fhir.PatchOp{Op: "test", Path: "/meta/versionId", Value: b}
}

// jsonPatch sends PATCH DocumentReference/<id> (JSON Patch, If-Match on
// version). A refusal of the patch itself (400/409/412/422) is a conflict
// when the document now reads another version (its test on versionId
// failed), otherwise it keeps its classification. got, when set, receives
// the service's copy if the answer carries one.
func (c *Client) jsonPatch(ctx context.Context, op string, acc app.Access, ins app.INS, id, version string, ops []fhir.PatchOp, got func(*fhir.DocumentReference)) error {
	body, err := json.Marshal(ops)
	if err != nil {
		return fail(op, app.ErrInvalid, "cannot encode the patch")
	}
	resp, done, err := c.do(ctx, &call{op: op, method: http.MethodPatch, url: c.endpoint("DocumentReference/"+url.PathEscape(id), nil), body: body,
		contentType: fhir.MediaJSONPatch, ifMatch: fhir.WeakETag(version), prefer: "return=representation", acc: acc, ins: ins})
	if err != nil {
		if errors.Is(err, app.ErrConflict) {
			c.mem.took(PathMetaIfMatch)
			return err
		}
		if errors.Is(err, app.ErrInvalid) {
			// a refused patch: its test on versionId failed if the
			// document now reads another version
			if d, rerr := c.readDocRef(ctx, op, acc, ins, id); rerr == nil && d.Meta != nil && d.Meta.VersionID != "" && d.Meta.VersionID != version {
				c.mem.took(PathMetaTestConflict)
				return fail(op, app.ErrConflict, "changed meanwhile (version test failed)")
			}
		}
		return err
	}
	defer done()
	b, err := readLimited(resp.Body, c.maxBundle, resp.ContentLength)
	if err != nil {
		return c.readError(ctx, op, err)
	}
	if got != nil && len(b) > 0 {
		var d fhir.DocumentReference
		if fhir.Unmarshal(b, &d) == nil && d.ResourceType == "DocumentReference" {
			got(&d)
		}
	}
	return nil
}

// Delete deletes a document (TD3.3c): DELETE DocumentReference/<id> with
// If-Match on the version Carnet knows, then reads it back: it must read
// gone (404/410) or entered-in-error, else *app.NotConfirmedError. Only the author may delete: anyone
// else gets an AccessError (not_author). A document already gone is
// ErrWithdrawn. Only an explicit user action should call it.
func (c *Client) Delete(ctx context.Context, acc app.Access, ins app.INS, doc app.RemoteDocument) error {
	const op = "delete"
	if err := validateAccess(op, acc, &ins); err != nil {
		return err
	}
	if doc.RemoteID == "" {
		return fail(op, app.ErrInvalid, "document without service id")
	}
	cl := &call{op: op, method: http.MethodDelete, url: c.endpoint("DocumentReference/"+url.PathEscape(doc.RemoteID), nil), acc: acc, ins: ins}
	if doc.VersionID != "" {
		cl.ifMatch = fhir.WeakETag(doc.VersionID)
	}
	resp, done, err := c.do(ctx, cl)
	if err != nil {
		return err
	}
	_, _ = readLimited(resp.Body, maxErrorBody, 0)
	done()
	// read back: gone (404/410) or entered-in-error, else not confirmed
	d, err := c.readDocRef(ctx, op, acc, ins, doc.RemoteID)
	switch {
	case errors.Is(err, app.ErrWithdrawn):
		return nil
	case err == nil && d.Status == "entered-in-error":
		return nil
	case err == nil:
		return &app.NotConfirmedError{Op: op, Why: "the document still reads " + safeCode(d.Status)}
	case ctx.Err() != nil:
		return err
	}
	return &app.NotConfirmedError{Op: op, Why: "the deletion could not be read back (" + kindText(err) + ")"}
}
