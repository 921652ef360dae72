package xds

import (
	"bytes"
	"fmt"

	"github.com/carnetdesk/carnet/app"
)

// writeRetrieve writes the ITI-43 xdsb:RetrieveDocumentSetRequest body.
func writeRetrieve(b *bytes.Buffer, repositoryID, documentID string) {
	b.WriteString(`<xdsb:RetrieveDocumentSetRequest xmlns:xdsb="` + NSXDSb + `"><xdsb:DocumentRequest>`)
	b.WriteString(`<xdsb:RepositoryUniqueId>`)
	escape(b, repositoryID)
	b.WriteString(`</xdsb:RepositoryUniqueId><xdsb:DocumentUniqueId>`)
	escape(b, documentID)
	b.WriteString(`</xdsb:DocumentUniqueId></xdsb:DocumentRequest></xdsb:RetrieveDocumentSetRequest>`)
}

// DocumentResponse is one document of an ITI-43 response: either inline
// (base64 text in the XML) or an xop:Include reference to an MTOM part.
type DocumentResponse struct {
	RepositoryID string
	DocumentID   string
	MimeType     string
	Inline       string // base64 text, when the document is inline
	Include      string // Content-ID (without "cid:") when the document is an MTOM part
}

// ReadRetrieveResponse reads an xdsb:RetrieveDocumentSetResponse. A failure
// (or a success with errors) is a *ResponseError; a partial success returns
// the documents it has together with the error.
func ReadRetrieveResponse(n *node) ([]DocumentResponse, error) {
	if !n.is(NSXDSb, "RetrieveDocumentSetResponse") {
		return nil, fmt.Errorf("xds: retrieve: unexpected answer %s: %w", n.Name.Local, app.ErrServer)
	}
	var out []DocumentResponse
	for _, d := range n.all(NSXDSb, "DocumentResponse") {
		r := DocumentResponse{RepositoryID: d.child(NSXDSb, "RepositoryUniqueId").text(), DocumentID: d.child(NSXDSb, "DocumentUniqueId").text(),
			MimeType: d.child(NSXDSb, "mimeType").text()}
		doc := d.child(NSXDSb, "Document")
		if doc == nil {
			return nil, fmt.Errorf("xds: retrieve: document response without a document: %w", app.ErrServer)
		}
		if inc := doc.child(NSXOP, "Include"); inc != nil {
			href := inc.attr("href")
			if len(href) < 5 || href[:4] != "cid:" {
				return nil, fmt.Errorf("xds: retrieve: xop:Include without a cid: reference: %w", app.ErrServer)
			}
			r.Include = unescapeCID(href[4:])
		} else {
			r.Inline = doc.Text
		}
		out = append(out, r)
	}
	if err := readRegistryResponse(n.child(NSRs, "RegistryResponse")); err != nil {
		return out, fmt.Errorf("xds: retrieve: %w", err)
	}
	return out, nil
}

// unescapeCID undoes the URL escaping of a cid: reference (RFC 2392).
func unescapeCID(s string) string {
	var b []byte
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			var v byte
			ok := true
			for _, c := range []byte(s[i+1 : i+3]) {
				switch {
				case c >= '0' && c <= '9':
					v = v<<4 | (c - '0')
				case c >= 'a' && c <= 'f':
					v = v<<4 | (c - 'a' + 10)
				case c >= 'A' && c <= 'F':
					v = v<<4 | (c - 'A' + 10)
				default:
					ok = false
				}
			}
			if ok {
				b = append(b, v)
				i += 2
				continue
			}
		}
		b = append(b, s[i])
	}
	return string(b)
}
