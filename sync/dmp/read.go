package dmp

import (
	"context"
	"net/http"
	"net/url"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/sync/dmp/fhir"
)

// Client reads single entries: the sync engine's evidence for removals.
var _ app.EntryReader = (*Client)(nil)

// ReadDocument reads one DocumentReference by its service id (FHIR read):
// GET [base]/DocumentReference/<id>. A document gone reads as ErrWithdrawn
// (404/410); entered-in-error shows in Status, masking in Visibility. It is
// the evidence the sync engine needs before it removes anything, and the
// read-back that confirms a write.
func (c *Client) ReadDocument(ctx context.Context, acc app.Access, ins app.INS, remoteID string) (app.RemoteDocument, error) {
	const op = "read document"
	if err := validateAccess(op, acc, &ins); err != nil {
		return app.RemoteDocument{}, err
	}
	d, err := c.readDocRef(ctx, op, acc, ins, remoteID)
	if err != nil {
		return app.RemoteDocument{}, err
	}
	rd, ok := mapDocument(d)
	if !ok {
		return app.RemoteDocument{}, malformed(op, "DocumentReference (no uniqueId)")
	}
	c.mem.setDoc(rd.Meta.ID, rd.RemoteID)
	return rd, nil
}

// readDocRef reads the raw DocumentReference <id>.
func (c *Client) readDocRef(ctx context.Context, op string, acc app.Access, ins app.INS, remoteID string) (*fhir.DocumentReference, error) {
	if !validID(remoteID) {
		return nil, fail(op, app.ErrInvalid, "document without a usable service id")
	}
	var d fhir.DocumentReference
	if _, err := c.getJSON(ctx, &call{op: op, method: http.MethodGet, url: c.endpoint("DocumentReference/"+url.PathEscape(remoteID), nil), acc: acc, ins: ins}, &d); err != nil {
		return nil, err
	}
	if d.ResourceType != "DocumentReference" || d.ID != remoteID {
		return nil, malformed(op, "DocumentReference")
	}
	return &d, nil
}
