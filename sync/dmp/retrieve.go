package dmp

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/hex"
	"mime"
	"net/http"
	"strings"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/sync/dmp/fhir"
)

// Retrieve fetches a document's content (ITI-68 Retrieve Document): GET the
// attachment URL, absolute or relative to the base, on the service's own
// origin only. The answer is read with a bound (MaxDocument, and the
// declared size when known) and verified before anything is returned:
//
//   - the size, when the metadata gives one (> 0);
//   - the SHA-1, when the metadata gives one, except for the delayed-assembly
//     marker (size 0 and the SHA-1 of nothing), which MHD allows;
//   - the content type family (XML, JSON, PDF …) against the metadata's.
//
// On-demand documents (no size, no hash) are returned after the content-type
// check only. A server that answers with a FHIR Binary resource (the generic
// FHIR behaviour for Accept: application/fhir+json) is unwrapped and its
// data verified the same way. Any failure returns nil bytes and an error
// wrapping ErrIntegrity, ErrWithdrawn (404/410), ErrOffline … — never part
// of the content.
func (c *Client) Retrieve(ctx context.Context, acc app.Access, ins app.INS, doc app.RemoteDocument) ([]byte, error) {
	const op = "retrieve"
	if err := validateAccess(op, acc, &ins); err != nil {
		return nil, err
	}
	if doc.URL == "" {
		if doc.RemoteID == "" {
			return nil, fail(op, app.ErrInvalid, "document has no attachment URL")
		}
		return c.retrieveInline(ctx, acc, ins, doc)
	}
	u, err := c.resolve(doc.URL)
	if err != nil {
		return nil, fail(op, app.ErrServer, "attachment URL refused: "+err.Error())
	}
	var want []byte
	delayed := false
	if h := doc.Meta.Hash; h != "" {
		want, err = hex.DecodeString(h)
		if err != nil || len(want) != sha1.Size {
			return nil, fail(op, app.ErrIntegrity, "the document's metadata hash is unreadable")
		}
		delayed = doc.Meta.Size == 0 && strings.EqualFold(h, sha1EmptyHex)
	}
	if doc.Meta.Size > c.maxDocument {
		return nil, fail(op, app.ErrServer, "document larger than the allowed size")
	}
	mt := mediaType(doc.Meta.MediaType)
	accept := "*/*"
	switch {
	case mt == fhir.MediaFHIRJSON:
		accept = mt
	case mt != "":
		accept = mt + ", " + fhir.MediaFHIRJSON + ";q=0.5"
	}
	resp, done, err := c.do(ctx, &call{op: op, method: http.MethodGet, url: u.String(), accept: accept, acc: acc, ins: ins})
	if err != nil {
		return nil, err
	}
	defer done()
	ct := mediaType(resp.Header.Get("Content-Type"))
	limit := c.maxDocument
	if doc.Meta.Size > 0 && !delayed {
		limit = doc.Meta.Size // a longer body is wrong anyway
	}
	wrapped := family(ct) == "json" && family(mt) != "json"
	readLimit := limit
	if wrapped {
		readLimit = limit/3*4 + 64<<10 // base64 and the resource around it
	}
	body, err := readLimited(resp.Body, readLimit, resp.ContentLength)
	if err != nil {
		if err == errTooLarge {
			if doc.Meta.Size > 0 && limit == doc.Meta.Size {
				return nil, fail(op, app.ErrIntegrity, "document longer than its metadata says")
			}
			return nil, fail(op, app.ErrServer, "document larger than the allowed size")
		}
		return nil, c.readError(ctx, op, err)
	}
	data := body
	if wrapped || (family(mt) == "json" && mt != fhir.MediaFHIRJSON && looksLikeBinary(body)) {
		var bin fhir.Binary
		if err := fhir.Unmarshal(body, &bin); err != nil || bin.ResourceType != "Binary" {
			return nil, fail(op, app.ErrIntegrity, "answer is neither the document nor a Binary")
		}
		data, ct = bin.Data, mediaType(bin.ContentType)
		if int64(len(data)) > limit {
			return nil, fail(op, app.ErrIntegrity, "document longer than its metadata says")
		}
	}
	if err := verify(doc, data, ct, mt, want, delayed); err != nil {
		return nil, &opError{op: op, msg: err.msg, kind: app.ErrIntegrity}
	}
	return data, nil
}

// looksLikeBinary reports whether a JSON body is a FHIR Binary resource (for
// a document whose own type is JSON but not FHIR).
func looksLikeBinary(b []byte) bool {
	i := bytes.Index(b, []byte(`"resourceType"`))
	return i >= 0 && i < 512 && bytes.Contains(b[i:min(len(b), i+64)], []byte(`"Binary"`))
}

// verifyError says which verification failed, without content.
type verifyError struct{ msg string }

// verify checks size, hash and content type. The hash is checked before the
// content type so that a verified document with a generic content type
// (application/octet-stream) is accepted.
func verify(doc app.RemoteDocument, data []byte, ct, mt string, want []byte, delayed bool) *verifyError {
	if doc.Meta.Size > 0 && int64(len(data)) != doc.Meta.Size {
		return &verifyError{"size does not match the metadata"}
	}
	hashed := false
	if want != nil && !delayed {
		got := sha1.Sum(data)
		if subtle.ConstantTimeCompare(got[:], want) != 1 {
			return &verifyError{"SHA-1 does not match the metadata"}
		}
		hashed = true
	}
	if mt != "" && ct != "" && family(ct) != family(mt) {
		if !(hashed && ct == "application/octet-stream") {
			return &verifyError{"content type " + safeType(ct) + " where " + safeType(mt) + " was announced"}
		}
	}
	return nil
}

// mediaType returns the lower-case type/subtype of a Content-Type value.
func mediaType(v string) string {
	if v == "" {
		return ""
	}
	mt, _, err := mime.ParseMediaType(v)
	if err != nil {
		mt, _, _ = strings.Cut(v, ";")
	}
	return strings.ToLower(strings.TrimSpace(mt))
}

// family groups media types that carry the same content: every XML type
// (CDA travels as text/xml or application/xml), every JSON type, and the
// exact type otherwise.
func family(mt string) string {
	switch {
	case mt == "":
		return ""
	case mt == "text/xml" || mt == "application/xml" || strings.HasSuffix(mt, "+xml"):
		return "xml"
	case mt == "application/json" || mt == "text/json" || strings.HasSuffix(mt, "+json"):
		return "json"
	}
	return mt
}

// safeType keeps a server-given media type printable and short in errors.
func safeType(s string) string {
	if len(s) > 64 {
		s = s[:64]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return '?'
		}
		return r
	}, s)
}

// retrieveInline returns the inline content (attachment.data) of a
// document listed without an attachment URL: the DocumentReference is read
// again and its data verified against the listed metadata like fetched
// bytes (size, SHA-1, content type).
func (c *Client) retrieveInline(ctx context.Context, acc app.Access, ins app.INS, doc app.RemoteDocument) ([]byte, error) {
	const op = "retrieve"
	d, err := c.readDocRef(ctx, op, acc, ins, doc.RemoteID)
	if err != nil {
		return nil, err
	}
	if len(d.Content) == 0 || len(d.Content[0].Attachment.Data) == 0 {
		return nil, fail(op, app.ErrServer, "document without content (no attachment URL, no inline data)")
	}
	att := &d.Content[0].Attachment
	var want []byte
	if h := doc.Meta.Hash; h != "" {
		want, err = hex.DecodeString(h)
		if err != nil || len(want) != sha1.Size {
			return nil, fail(op, app.ErrIntegrity, "the document's metadata hash is unreadable")
		}
	}
	if int64(len(att.Data)) > c.maxDocument {
		return nil, fail(op, app.ErrServer, "document larger than the allowed size")
	}
	if v := verify(doc, att.Data, mediaType(att.ContentType), mediaType(doc.Meta.MediaType), want, false); v != nil {
		return nil, fail(op, app.ErrIntegrity, v.msg)
	}
	c.mem.took(PathInlineData)
	return att.Data, nil
}
