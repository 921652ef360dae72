package dmptest

import (
	"compress/gzip"
	"io"
	"net/http"
	"testing"

	"github.com/carnetdesk/carnet/sync/dmp/fhir"
)

// TestGzip: FHIR JSON answers are gzipped for a client that accepts it,
// document content never; a truncated answer stays a cut stream;
// NoCompression turns it off.
func TestGzip(t *testing.T) {
	sb := start(t, Options{Patients: 2, Fixed: []FixedPatient{{Docs: 5, Size: 8000}}})
	p := sb.fixed(t, 0)
	gp := sb.as(t, KeyGP)
	docs := gp.searchAll(docsPath(p.INS), p.INS)
	bin := "/" + docs[0].Content[0].Attachment.URL

	// The search: compressed, and it decodes to a searchset.
	r := gp.do("GET", docsPath(p.INS), p.INS, nil, "Accept-Encoding", "gzip")
	if r.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("search: encoding %q", r.Header.Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	var b fhir.Bundle
	if err := fhir.DecodeBounded(zr, 16<<20, &b); err != nil || b.Type != "searchset" || len(b.Entry) != 5 {
		t.Fatalf("search: %v %q %d", err, b.Type, len(b.Entry))
	}
	r.Body.Close()

	// The document: as stored.
	r = gp.do("GET", bin, p.INS, nil, "Accept-Encoding", "gzip", "Accept", "*/*")
	body, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if r.Header.Get("Content-Encoding") != "" || int64(len(body)) != *docs[0].Content[0].Attachment.Size {
		t.Fatalf("binary: encoding %q, %d bytes", r.Header.Get("Content-Encoding"), len(body))
	}

	// Refused coding, and a small answer: identity.
	r = gp.do("GET", docsPath(p.INS), p.INS, nil, "Accept-Encoding", "gzip;q=0, identity")
	r.Body.Close()
	if r.Header.Get("Content-Encoding") != "" {
		t.Fatal("gzip;q=0 got gzip")
	}
	r = gp.do("GET", "/NoSuchThing", p.INS, nil, "Accept-Encoding", "gzip")
	r.Body.Close()
	if r.Header.Get("Content-Encoding") != "" {
		t.Fatal("small answer gzipped")
	}

	// Go's transport: transparent, and a truncated answer is an error.
	r = gp.do("GET", docsPath(p.INS), p.INS, nil)
	if !r.Uncompressed {
		t.Fatal("transport did not get gzip")
	}
	r.Body.Close()
	sb.FailNext(FaultTruncate, 1)
	if resp, err := rawDo(gp, "GET", docsPath(p.INS), p.INS, nil); err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil {
			t.Fatal("truncated gzip answer read without error")
		}
	}

	off := start(t, Options{Patients: 2, NoCompression: true, Fixed: []FixedPatient{{Docs: 5, Size: 8000}}})
	po := off.fixed(t, 0)
	r = off.as(t, KeyGP).do("GET", docsPath(po.INS), po.INS, nil, "Accept-Encoding", "gzip")
	r.Body.Close()
	if r.Header.Get("Content-Encoding") != "" || r.StatusCode != http.StatusOK {
		t.Fatalf("NoCompression: %d %q", r.StatusCode, r.Header.Get("Content-Encoding"))
	}
}
