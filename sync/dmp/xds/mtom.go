package xds

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"

	"github.com/carnetdesk/carnet/app"
)

// ErrMTOM is wrapped by every refusal of an MTOM message: a missing or extra
// part, a part whose size or hash disagrees with the metadata, a part
// answered for another document.
var ErrMTOM = errors.New("xds: bad MTOM message")

// rootContentID is the Content-ID of the SOAP part of the messages Carnet sends.
const rootContentID = "root.message@carnet.invalid"

// MTOMContentType returns the HTTP Content-Type of an MTOM message with this
// boundary and SOAP action.
func MTOMContentType(boundary, action string) string {
	return `multipart/related; boundary="` + boundary + `"; type="application/xop+xml"; start="<` + rootContentID +
		`>"; start-info="application/soap+xml"; action="` + action + `"`
}

// WriteMTOM writes an MTOM/XOP multipart body: the SOAP envelope as the root
// part, then each attachment as raw binary, straight from its slice (no
// copy, no base64). Lines end with CRLF.
func WriteMTOM(w io.Writer, boundary, action string, envelope []byte, atts []Attachment) error {
	mw := multipart.NewWriter(w)
	if err := mw.SetBoundary(boundary); err != nil {
		return fmt.Errorf("xds: mtom: %w", err)
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Type", `application/xop+xml; charset=UTF-8; type="application/soap+xml"; action="`+action+`"`)
	h.Set("Content-Transfer-Encoding", "binary")
	h.Set("Content-ID", "<"+rootContentID+">")
	p, err := mw.CreatePart(h)
	if err != nil {
		return fmt.Errorf("xds: mtom: %w", err)
	}
	if _, err := p.Write(envelope); err != nil {
		return fmt.Errorf("xds: mtom: %w", err)
	}
	for _, a := range atts {
		h := textproto.MIMEHeader{}
		h.Set("Content-Type", "application/octet-stream")
		h.Set("Content-Transfer-Encoding", "binary")
		h.Set("Content-ID", "<"+a.ContentID+">")
		p, err := mw.CreatePart(h)
		if err != nil {
			return fmt.Errorf("xds: mtom: %w", err)
		}
		if _, err := p.Write(a.Data); err != nil {
			return fmt.Errorf("xds: mtom: %w", err)
		}
	}
	return mw.Close()
}

// NewBoundary returns a fresh MIME boundary.
func NewBoundary() string { return "MIMEBoundary_" + strings.ReplaceAll(newUUID(), "-", "") }

// Message is a whole SOAP message read from HTTP: its envelope and, for MTOM,
// its attachment parts by Content-ID (without <>).
type Message struct {
	Envelope *Envelope
	Parts    map[string][]byte
}

// ReadMessage reads a SOAP message whose HTTP Content-Type is contentType:
// plain application/soap+xml, or MTOM multipart/related. The root part is
// bounded by rootLimit bytes and each attachment by partLimit. Every part
// must be referenced by an xop:Include and every xop:Include must have its
// part. It is the sandbox's reader of requests, and reads the public MTOM
// sample.
func ReadMessage(body io.Reader, contentType string, rootLimit, partLimit int64) (*Message, error) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return nil, fmt.Errorf("%w: content type: %v: %w", ErrMTOM, err, app.ErrInvalid)
	}
	if mt != "multipart/related" {
		env, err := ReadEnvelope(body, rootLimit, "")
		if err != nil {
			return nil, err
		}
		return &Message{Envelope: env}, nil
	}
	mr := multipart.NewReader(body, params["boundary"])
	root, err := mr.NextPart()
	if err != nil {
		return nil, fmt.Errorf("%w: no root part: %v", ErrMTOM, err)
	}
	if start := params["start"]; start != "" && root.Header.Get("Content-ID") != start {
		return nil, fmt.Errorf("%w: the first part is not the start part", ErrMTOM)
	}
	env, err := ReadEnvelope(root, rootLimit, "")
	if err != nil {
		return nil, err
	}
	refs := map[string]bool{}
	collectIncludes(env.Body, refs)
	msg := &Message{Envelope: env, Parts: map[string][]byte{}}
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrMTOM, err)
		}
		cid := strings.Trim(strings.TrimSpace(p.Header.Get("Content-ID")), "<>")
		if !refs[cid] {
			return nil, fmt.Errorf("%w: part not referenced by the message", ErrMTOM)
		}
		if _, dup := msg.Parts[cid]; dup {
			return nil, fmt.Errorf("%w: part sent twice", ErrMTOM)
		}
		data, err := io.ReadAll(&limitedReader{r: p, n: partLimit})
		if err != nil {
			return nil, fmt.Errorf("%w: part larger than %d bytes", ErrMTOM, partLimit)
		}
		msg.Parts[cid] = data
	}
	for cid := range refs {
		if _, ok := msg.Parts[cid]; !ok {
			return nil, fmt.Errorf("%w: missing part", ErrMTOM)
		}
	}
	return msg, nil
}

// collectIncludes adds the Content-IDs of every xop:Include under n.
func collectIncludes(n *node, refs map[string]bool) {
	if n == nil {
		return
	}
	if n.is(NSXOP, "Include") {
		if href := n.attr("href"); strings.HasPrefix(href, "cid:") {
			refs[unescapeCID(href[4:])] = true
		}
	}
	for _, c := range n.Children {
		collectIncludes(c, refs)
	}
}

// ReadMTOMHTTPRequest reads a raw HTTP request carrying a SOAP message (the
// public sample's form).
func ReadMTOMHTTPRequest(r io.Reader, limit int64) (*Message, error) {
	br := bufio.NewReader(r)
	req, err := http.ReadRequest(br)
	if err != nil {
		return nil, fmt.Errorf("xds: http request: %v: %w", err, app.ErrInvalid)
	}
	var body io.Reader = req.Body
	if req.ContentLength <= 0 && len(req.TransferEncoding) == 0 {
		body = br // a captured request without Content-Length: the rest is the body
	}
	return ReadMessage(body, req.Header.Get("Content-Type"), limit, limit)
}

// Expect is what a retrieve must bring back: the document asked for, with
// the size and SHA-1 the registry gave (when known), within MaxSize.
type Expect struct {
	DocumentID string
	Size       int64 // -1 when unknown
	Hash       string
	MaxSize    int64
}

// ReadRetrieve reads an ITI-43 response (MTOM, or plain SOAP with the
// document inline) and returns the one document asked for. The MTOM body
// is read by readRetrieveMTOM (mtomread.go): the root part, then the
// document part straight into one buffer of the size the metadata gives;
// a 20 MB document is never held twice. relatesTo is the request's
// MessageID.
func ReadRetrieve(body io.Reader, contentType, relatesTo string, want Expect, rootLimit int64) ([]byte, error) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return nil, fmt.Errorf("xds: retrieve: content type: %v: %w", err, app.ErrServer)
	}
	switch mt {
	case "multipart/related":
		return readRetrieveMTOM(body, params["boundary"], relatesTo, want, rootLimit)
	case "application/soap+xml":
	default:
		return nil, fmt.Errorf("xds: retrieve: unexpected content type %q: %w", mt, app.ErrServer)
	}
	env, err := ReadEnvelope(body, rootLimit, relatesTo)
	if err != nil {
		return nil, err
	}
	doc, err := theDocument(env, want)
	if err != nil {
		return nil, err
	}
	if doc.Include != "" {
		return nil, fmt.Errorf("%w: xop:Include in a message without parts: %w", ErrMTOM, app.ErrServer)
	}
	data, err := inlineDocument(doc)
	if err != nil {
		return nil, err
	}
	if err := checkDocument(data, want); err != nil {
		return nil, err
	}
	return data, nil
}

// theDocument is the one DocumentResponse of the answer, for the document
// asked for.
func theDocument(env *Envelope, want Expect) (*DocumentResponse, error) {
	docs, err := ReadRetrieveResponse(env.Body)
	if err != nil {
		return nil, err
	}
	var doc *DocumentResponse
	for i := range docs {
		if docs[i].DocumentID != want.DocumentID {
			return nil, fmt.Errorf("%w: answered for another document: %w", ErrMTOM, app.ErrIntegrity)
		}
		if doc != nil {
			return nil, fmt.Errorf("%w: the document came twice: %w", ErrMTOM, app.ErrIntegrity)
		}
		doc = &docs[i]
	}
	if doc == nil {
		return nil, fmt.Errorf("xds: retrieve: no document in the answer: %w", app.ErrWithdrawn)
	}
	return doc, nil
}

// inlineDocument decodes a document sent inline (base64 in the XML).
func inlineDocument(doc *DocumentResponse) ([]byte, error) {
	clean := strings.Map(func(r rune) rune {
		if r == ' ' || r == '\n' || r == '\r' || r == '\t' {
			return -1
		}
		return r
	}, doc.Inline)
	data, err := base64.StdEncoding.DecodeString(clean)
	if err != nil {
		return nil, fmt.Errorf("xds: retrieve: bad base64 document: %w", app.ErrServer)
	}
	return data, nil
}

// checkDocument checks a document against the metadata: size, MaxSize,
// SHA-1.
func checkDocument(data []byte, want Expect) error {
	if want.Size >= 0 && int64(len(data)) != want.Size {
		return fmt.Errorf("%w: size differs from the metadata: %w", ErrMTOM, app.ErrIntegrity)
	}
	if int64(len(data)) > want.MaxSize {
		return fmt.Errorf("%w: document larger than %d bytes: %w", ErrMTOM, want.MaxSize, app.ErrIntegrity)
	}
	if want.Hash != "" {
		sum := sha1.Sum(data)
		var hexSum [2 * sha1.Size]byte
		hex.Encode(hexSum[:], sum[:])
		if !strings.EqualFold(string(hexSum[:]), want.Hash) {
			return fmt.Errorf("%w: SHA-1 differs from the metadata: %w", ErrMTOM, app.ErrIntegrity)
		}
	}
	return nil
}
