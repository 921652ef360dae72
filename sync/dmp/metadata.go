package dmp

import (
	"context"
	"encoding/json"
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
	body, err := json.Marshal(ops)
	if err != nil {
		return app.RemoteDocument{}, fail(op, app.ErrInvalid, "cannot encode the patch")
	}
	resp, done, err := c.do(ctx, &call{op: op, method: http.MethodPatch, url: self, body: body,
		contentType: fhir.MediaJSONPatch, ifMatch: fhir.WeakETag(doc.VersionID), prefer: "return=representation", acc: acc, ins: ins})
	if err != nil {
		return app.RemoteDocument{}, err
	}
	defer done()
	b, err := readLimited(resp.Body, c.maxBundle, resp.ContentLength)
	if err != nil {
		return app.RemoteDocument{}, c.readError(ctx, op, err)
	}
	// the service's copy when it returns one
	if len(b) > 0 {
		var d fhir.DocumentReference
		if fhir.Unmarshal(b, &d) == nil && d.ResourceType == "DocumentReference" {
			if rd, ok := mapDocument(&d); ok {
				if rd.Replaces == "" {
					rd.Replaces = doc.Replaces
				}
				rd.Meta.SetID, rd.Meta.Version, rd.Meta.Cached = doc.Meta.SetID, doc.Meta.Version, doc.Meta.Cached
				return rd, nil
			}
		}
	}
	// else what Carnet asked for, with the new version from the ETag
	out := doc
	if ch.Visibility != nil {
		out.Visibility = *ch.Visibility
	}
	if ch.Archived != nil {
		out.Archived = *ch.Archived
	}
	out.VersionID = fhir.VersionFromETag(resp.Header.Get("ETag"))
	if lm, err := http.ParseTime(resp.Header.Get("Last-Modified")); err == nil {
		out.LastUpdated = lm
	} else {
		out.LastUpdated = c.serverTime(resp.Header)
	}
	if out.VersionID == "" {
		// a server that says nothing: the next change will fail on
		// If-Match and read the document again, rather than guess
		out.VersionID = doc.VersionID
	}
	return out, nil
}

// Delete deletes a document (TD3.3c): DELETE DocumentReference/<id> with
// If-Match on the version Carnet knows. Only the author may delete: anyone
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
	defer done()
	_, _ = readLimited(resp.Body, maxErrorBody, 0)
	return nil
}
