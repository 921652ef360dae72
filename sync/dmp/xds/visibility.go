package xds

import (
	"bytes"
	"context"
	"fmt"

	"github.com/carnetdesk/carnet/app"
)

// updateVisibility runs an ITI-57 Update DocumentEntry Metadata: the current
// entry is submitted again as a new version (same lid, new id) with the new
// confidentiality codes, linked from the submission set by a HasMember
// association with PreviousVersion (reference §8.3; the exact payload the
// DMP expects is open question §14.10).
func (c *Client) updateVisibility(ctx context.Context, acc app.Access, ins app.INS, doc app.RemoteDocument, v app.Visibility) error {
	res, err := c.query(ctx, acc, ins, GetDocumentsQuery(string(doc.Meta.ID)))
	if err != nil {
		return err
	}
	var cur *Entry
	for i := range res.Entries {
		if res.Entries[i].Status == StatusApproved || res.Entries[i].Status == StatusArchived {
			cur = &res.Entries[i]
		}
	}
	if cur == nil {
		return fmt.Errorf("xds: no current entry: %w", app.ErrWithdrawn)
	}
	if doc.VersionID != "" && cur.Version != "" && doc.VersionID != cur.Version {
		return fmt.Errorf("xds: the entry changed meanwhile: %w", app.ErrConflict)
	}
	if cur.RemoteDocument("").Visibility == v {
		return nil // already so: nothing to send
	}
	env, err := c.exchange(ctx, request{service: ServiceRegistry, action: ActionUpdateDocumentSet, acc: acc, ins: &ins,
		body: func(b *bytes.Buffer) ([]Attachment, error) {
			return nil, writeMetadataUpdate(b, acc.Practitioner, c.cfg.SourceOID, ins, *cur, v)
		}}, ActionUpdateDocumentSetResponse)
	if err != nil {
		return err
	}
	return readRegistryResponse(env.Body)
}

// writeMetadataUpdate writes the SubmitObjectsRequest of a DocumentEntry
// metadata update.
func writeMetadataUpdate(b *bytes.Buffer, author app.Practitioner, sourceOID string, ins app.INS, cur Entry, v app.Visibility) error {
	if cur.node == nil {
		return fmt.Errorf("xds: entry without its metadata: %w", app.ErrInvalid)
	}
	if sourceOID == "" {
		return fmt.Errorf("xds: no source OID: %w", app.ErrNotConfigured)
	}
	const newID = "Document1"
	b.WriteString(`<lcm:SubmitObjectsRequest xmlns:lcm="` + NSLcm + `" xmlns:rim="` + NSRim + `"><rim:RegistryObjectList>`)
	writeUpdateSubmissionSet(b, author, sourceOID, PatientID(ins))
	n := cur.node
	b.WriteString(`<rim:ExtrinsicObject id="` + newID + `" lid="` + attrEsc(cur.LogicalID) + `" mimeType="` + attrEsc(cur.MimeType) +
		`" objectType="` + ObjectTypeDocumentEntry + `">`)
	for _, c := range n.Children {
		switch {
		case c.is(NSRim, "Slot"), c.is(NSRim, "Name"), c.is(NSRim, "Description"):
			writeNode(b, c, nil)
		}
	}
	for _, c := range n.all(NSRim, "Classification") {
		if c.attr("classificationScheme") == SchemeDEConfidentiality {
			continue
		}
		writeNode(b, c, map[string]string{"id": "urn:uuid:" + newUUID(), "classifiedObject": newID})
	}
	for _, cc := range confidentialityCodes(v) {
		writeCoded(b, SchemeDEConfidentiality, newID, cc.code, cc.system, cc.code)
	}
	for _, x := range n.all(NSRim, "ExternalIdentifier") {
		writeNode(b, x, map[string]string{"id": "urn:uuid:" + newUUID(), "registryObject": newID})
	}
	b.WriteString(`</rim:ExtrinsicObject>`)
	b.WriteString(`<rim:Association id="urn:uuid:` + newUUID() + `" associationType="` + AssocHasMember + `" sourceObject="` + symbolicSubmissionID + `" targetObject="` + newID + `">`)
	writeSlot(b, "SubmissionSetStatus", "Original")
	prev := cur.Version
	if prev == "" {
		prev = "1"
	}
	writeSlot(b, "PreviousVersion", prev)
	b.WriteString(`</rim:Association></rim:RegistryObjectList></lcm:SubmitObjectsRequest>`)
	return nil
}

// writeNode writes a received rim element back, with some attributes
// replaced. Only rim elements and unqualified or xml: attributes are written
// (what ebRIM metadata holds).
func writeNode(b *bytes.Buffer, n *node, replace map[string]string) {
	if n.Name.Space != NSRim {
		return
	}
	b.WriteString(`<rim:` + n.Name.Local)
	for _, a := range n.Attr {
		v := a.Value
		if r, ok := replace[a.Name.Local]; ok && a.Name.Space == "" {
			v = r
		}
		switch a.Name.Space {
		case "":
			b.WriteString(` ` + a.Name.Local + `="` + attrEsc(v) + `"`)
		case NSXML:
			b.WriteString(` xml:` + a.Name.Local + `="` + attrEsc(v) + `"`)
		}
	}
	b.WriteString(`>`)
	if len(n.Children) == 0 {
		escape(b, n.text())
	}
	for _, c := range n.Children {
		writeNode(b, c, nil)
	}
	b.WriteString(`</rim:` + n.Name.Local + `>`)
}
