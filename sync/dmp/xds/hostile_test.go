package xds

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/carnetdesk/carnet/app"
)

const okQuery = `<query:AdhocQueryResponse xmlns:query="urn:oasis:names:tc:ebxml-regrep:xsd:query:3.0" status="urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Success"/>`

// zeros is an endless reader (a 2 GB body that is never read in full).
type zeros struct{ n int64 }

func (z *zeros) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'a'
	}
	z.n += int64(len(p))
	return len(p), nil
}

// Hostile XML: each refused with a clear error, none read in full.
func TestHostileXML(t *testing.T) {
	soap := func(body string) string {
		return `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://www.w3.org/2005/08/addressing"><s:Header><a:RelatesTo>urn:uuid:1</a:RelatesTo></s:Header><s:Body>` + body + `</s:Body></s:Envelope>`
	}
	cases := []struct {
		name string
		in   string
		want error
	}{
		{"doctype", `<!DOCTYPE x [<!ENTITY a "aaaa">]>` + soap(okQuery), ErrHostileXML},
		{"billion laughs", `<!DOCTYPE l [<!ENTITY l0 "ha"><!ENTITY l1 "&l0;&l0;&l0;">]>` + soap(`<x>&l1;</x>`), ErrHostileXML},
		{"external entity", `<!DOCTYPE x SYSTEM "file:///etc/passwd">` + soap(okQuery), ErrHostileXML},
		{"undefined entity", soap(`<x>&xxe;</x>`), app.ErrServer},
		{"deep nesting", soap(strings.Repeat("<a>", 100) + strings.Repeat("</a>", 100)), ErrHostileXML},
		{"not SOAP", okQuery, app.ErrServer},
		{"SOAP 1.1", `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body/></s:Envelope>`, app.ErrServer},
		{"empty body", soap(``), app.ErrServer},
		{"truncated", soap(okQuery)[:120], app.ErrServer},
		{"two roots", soap(okQuery) + soap(okQuery), app.ErrServer},
		{"other charset", `<?xml version="1.0" encoding="ISO-8859-1"?>` + soap(okQuery), ErrHostileXML},
		{"other RelatesTo", strings.Replace(soap(okQuery), "urn:uuid:1", "urn:uuid:2", 1), app.ErrServer},
		{"no RelatesTo", strings.Replace(soap(okQuery), "<a:RelatesTo>urn:uuid:1</a:RelatesTo>", "", 1), app.ErrServer},
		{"fault", soap(`<s:Fault><s:Code><s:Value>s:Sender</s:Value><s:Subcode><s:Value>wsse:InvalidSecurity</s:Value></s:Subcode></s:Code><s:Reason><s:Text xml:lang="fr">VIHF invalide</s:Text></s:Reason></s:Fault>`), app.ErrAccessDenied},
		{"receiver fault", soap(`<s:Fault><s:Code><s:Value>s:Receiver</s:Value></s:Code><s:Reason><s:Text xml:lang="fr">panne</s:Text></s:Reason></s:Fault>`), app.ErrServer},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ReadEnvelope(strings.NewReader(c.in), 1<<20, "urn:uuid:1")
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
	t.Run("2 GB body", func(t *testing.T) {
		z := &zeros{}
		r := io.MultiReader(strings.NewReader(`<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><x>`), z)
		_, err := ReadEnvelope(io.LimitReader(r, 2<<30), 1<<20, "")
		if !errors.Is(err, ErrHostileXML) || z.n > 2<<20 {
			t.Fatalf("got %v after %d bytes", err, z.n)
		}
	})
	t.Run("partial success", func(t *testing.T) {
		n, _ := parseXML(strings.NewReader(`<query:AdhocQueryResponse xmlns:query="urn:oasis:names:tc:ebxml-regrep:xsd:query:3.0" xmlns:rs="urn:oasis:names:tc:ebxml-regrep:xsd:rs:3.0" status="urn:ihe:iti:2007:ResponseStatusType:PartialSuccess"><rs:RegistryErrorList><rs:RegistryError errorCode="XDSRegistryBusy" severity="urn:oasis:names:tc:ebxml-regrep:ErrorSeverityType:Error"/></rs:RegistryErrorList></query:AdhocQueryResponse>`), 1<<20)
		res, err := ReadQueryResponse(n)
		var re *ResponseError
		if res != nil || !errors.As(err, &re) || !re.Partial() || !errors.Is(err, app.ErrThrottled) {
			t.Fatalf("got %v %v", res, err)
		}
	})
	t.Run("entry without uniqueId", func(t *testing.T) {
		n, _ := parseXML(strings.NewReader(`<query:AdhocQueryResponse xmlns:query="urn:oasis:names:tc:ebxml-regrep:xsd:query:3.0" xmlns:rim="urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0" status="urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Success"><rim:RegistryObjectList><rim:ExtrinsicObject id="urn:uuid:1" objectType="urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1"/></rim:RegistryObjectList></query:AdhocQueryResponse>`), 1<<20)
		if _, err := ReadQueryResponse(n); !errors.Is(err, app.ErrServer) {
			t.Fatalf("got %v", err)
		}
	})
}

// retrieveResponse builds an MTOM ITI-43 response for the tests.
func retrieveResponse(t testing.TB, relatesTo, docID string, parts []Attachment, include string) ([]byte, string) {
	t.Helper()
	var env bytes.Buffer
	env.WriteString(`<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://www.w3.org/2005/08/addressing"><s:Header><a:Action s:mustUnderstand="true">` + ActionRetrieveResponse +
		`</a:Action><a:RelatesTo>` + relatesTo + `</a:RelatesTo></s:Header><s:Body><xdsb:RetrieveDocumentSetResponse xmlns:xdsb="urn:ihe:iti:xds-b:2007" xmlns:rs="urn:oasis:names:tc:ebxml-regrep:xsd:rs:3.0" xmlns:xop="http://www.w3.org/2004/08/xop/include">` +
		`<rs:RegistryResponse status="` + ResponseSuccess + `"/><xdsb:DocumentResponse><xdsb:RepositoryUniqueId>1.2.3</xdsb:RepositoryUniqueId><xdsb:DocumentUniqueId>` + docID +
		`</xdsb:DocumentUniqueId><xdsb:mimeType>text/xml</xdsb:mimeType><xdsb:Document><xop:Include href="cid:` + include + `"/></xdsb:Document></xdsb:DocumentResponse></xdsb:RetrieveDocumentSetResponse></s:Body></s:Envelope>`)
	var b bytes.Buffer
	boundary := NewBoundary()
	if err := WriteMTOM(&b, boundary, ActionRetrieveResponse, env.Bytes(), parts); err != nil {
		t.Fatal(err)
	}
	return b.Bytes(), MTOMContentType(boundary, ActionRetrieveResponse)
}

func sha1hex(b []byte) string { s := sha1.Sum(b); return hex.EncodeToString(s[:]) }

// MTOM retrieve answers: the good one is read; each defect is refused.
func TestMTOMRetrieve(t *testing.T) {
	doc := []byte("<ClinicalDocument>compte rendu</ClinicalDocument>")
	want := Expect{DocumentID: "1.2.250.1", Size: int64(len(doc)), Hash: sha1hex(doc), MaxSize: 1 << 20}
	good := []Attachment{{ContentID: "doc1@x", Data: doc}}
	cases := []struct {
		name    string
		rel     string
		docID   string
		parts   []Attachment
		include string
		want    Expect
		err     error
	}{
		{"good", "urn:uuid:r", "1.2.250.1", good, "doc1@x", want, nil},
		{"missing part", "urn:uuid:r", "1.2.250.1", nil, "doc1@x", want, app.ErrIntegrity},
		{"extra part", "urn:uuid:r", "1.2.250.1", append(append([]Attachment{}, good...), Attachment{ContentID: "doc2@x", Data: doc}), "doc1@x", want, app.ErrIntegrity},
		{"wrong part", "urn:uuid:r", "1.2.250.1", []Attachment{{ContentID: "other@x", Data: doc}}, "doc1@x", want, app.ErrIntegrity},
		{"size mismatch", "urn:uuid:r", "1.2.250.1", []Attachment{{ContentID: "doc1@x", Data: append(doc, 'x')}}, "doc1@x", want, app.ErrIntegrity},
		{"hash mismatch", "urn:uuid:r", "1.2.250.1", []Attachment{{ContentID: "doc1@x", Data: bytes.ToUpper(doc)}}, "doc1@x", want, app.ErrIntegrity},
		{"other document", "urn:uuid:r", "1.2.250.2", good, "doc1@x", want, app.ErrIntegrity},
		{"other RelatesTo", "urn:uuid:other", "1.2.250.1", good, "doc1@x", want, app.ErrServer},
		{"beyond max size", "urn:uuid:r", "1.2.250.1", good, "doc1@x", Expect{DocumentID: "1.2.250.1", Size: -1, MaxSize: 10}, app.ErrIntegrity},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body, ct := retrieveResponse(t, c.rel, c.docID, c.parts, c.include)
			got, err := ReadRetrieve(bytes.NewReader(body), ct, "urn:uuid:r", c.want, 1<<20)
			if c.err == nil {
				if err != nil || !bytes.Equal(got, doc) {
					t.Fatalf("got %q %v", got, err)
				}
				return
			}
			if !errors.Is(err, c.err) || got != nil {
				t.Fatalf("got %v, want %v", err, c.err)
			}
		})
	}
	t.Run("2 GB part", func(t *testing.T) {
		body, ct := retrieveResponse(t, "urn:uuid:r", "1.2.250.1", nil, "doc1@x")
		b := string(body)
		end := strings.LastIndex(b, "--")
		i := strings.LastIndex(b[:end], "\r\n--")
		head := b[:i] + "\r\n--" + b[i+4:end-2] + "\r\nContent-ID: <doc1@x>\r\n\r\n"
		_ = head
		boundary := b[i+4 : end]
		z := &zeros{}
		r := io.MultiReader(strings.NewReader(b[:i]+"\r\n--"+boundary+"\r\nContent-ID: <doc1@x>\r\n\r\n"), io.LimitReader(z, 2<<30))
		_, err := ReadRetrieve(r, ct, "urn:uuid:r", Expect{DocumentID: "1.2.250.1", Size: -1, MaxSize: 1 << 20}, 1<<20)
		if !errors.Is(err, app.ErrIntegrity) || z.n > 4<<20 {
			t.Fatalf("got %v after %d bytes", err, z.n)
		}
	})
}

// FuzzReadQueryResponse: the ebRIM reader never panics and never returns
// both a result and an error.
func FuzzReadQueryResponse(f *testing.F) {
	f.Add([]byte(okQuery))
	f.Add([]byte(`<query:AdhocQueryResponse xmlns:query="urn:oasis:names:tc:ebxml-regrep:xsd:query:3.0" xmlns:rim="urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0" status="urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Success"><rim:RegistryObjectList><rim:ExtrinsicObject id="urn:uuid:1" objectType="urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1"><rim:Slot name="size"><rim:ValueList><rim:Value>12</rim:Value></rim:ValueList></rim:Slot><rim:ExternalIdentifier identificationScheme="urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab" value="1.2"/></rim:ExtrinsicObject></rim:RegistryObjectList></query:AdhocQueryResponse>`))
	f.Add([]byte(`<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := parseXML(bytes.NewReader(b), 1<<20)
		if err != nil {
			return
		}
		res, err := ReadQueryResponse(n)
		if err != nil && res != nil {
			t.Fatal("result and error")
		}
		if res != nil {
			for _, e := range res.Entries {
				_ = e.RemoteDocument("")
			}
		}
	})
}

// FuzzReadRetrieve: the MTOM reader never panics and never returns a
// document that does not match its expectation.
func FuzzReadRetrieve(f *testing.F) {
	doc := []byte("<ClinicalDocument/>")
	body, ct := retrieveResponse(f, "urn:uuid:r", "1.2", []Attachment{{ContentID: "d@x", Data: doc}}, "d@x")
	f.Add(body, ct)
	f.Add([]byte("--b\r\n\r\n<x/>\r\n--b--\r\n"), `multipart/related; boundary=b`)
	f.Fuzz(func(t *testing.T, b []byte, ct string) {
		want := Expect{DocumentID: "1.2", Size: int64(len(doc)), Hash: sha1hex(doc), MaxSize: 1 << 16}
		got, err := ReadRetrieve(bytes.NewReader(b), ct, "urn:uuid:r", want, 1<<16)
		if err == nil && !bytes.Equal(got, doc) {
			t.Fatalf("accepted a document that does not match: %q", got)
		}
		_, _ = ReadMessage(bytes.NewReader(b), ct, 1<<16, 1<<16)
	})
}
