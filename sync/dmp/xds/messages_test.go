package xds

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/carnetdesk/carnet/app"
)

// Every request Carnet builds validates against the official schemas.
func TestRequestsValidate(t *testing.T) {
	doc := app.NewDocument{Meta: app.DocumentMeta{ID: "1.2.250.1.999.1.2.3", TypeCode: "11488-4", Title: "Compte rendu <test> & co",
		Date: testTime, MediaType: "text/xml"}, Content: []byte("<ClinicalDocument/>"), Visibility: app.Visibility{MaskedToProfessionals: true}}
	doc2 := doc
	doc2.Meta.ID = "1.2.250.1.999.1.2.4"
	sgn, _, _ := testSigner(t)
	cases := []struct {
		name   string
		action string
		body   func(t *testing.T, b *bytes.Buffer) []Attachment
	}{
		{"ITI-18 FindDocuments", ActionRegistryStoredQuery, func(t *testing.T, b *bytes.Buffer) []Attachment {
			writeQuery(b, FindDocumentsQuery(testINS, nil, testTime, []string{"11488-4", "34133-9"}))
			return nil
		}},
		{"ITI-18 GetDocuments", ActionRegistryStoredQuery, func(t *testing.T, b *bytes.Buffer) []Attachment {
			q := GetDocumentsQuery("1.2.3", "4.5'6")
			q.ObjectRefs = true
			writeQuery(b, q)
			return nil
		}},
		{"ITI-41 provide", ActionProvideAndRegister, func(t *testing.T, b *bytes.Buffer) []Attachment {
			atts, err := writeProvide(b, Submission{INS: testINS, Author: testPractitioner, SourceOID: "1.2.250.1.999.9", Time: testTime,
				Documents: []app.NewDocument{doc, doc2}, Signer: sgn, ReplacesUUID: map[int]string{1: "urn:uuid:0b4c1f0c-0000-4000-8000-000000000001"}})
			if err != nil {
				t.Fatal(err)
			}
			return atts
		}},
		{"ITI-43 retrieve", ActionRetrieve, func(t *testing.T, b *bytes.Buffer) []Attachment {
			writeRetrieve(b, "1.2.250.1.213.1.1.9", "1.2.250.1.999.1.2.3")
			return nil
		}},
		{"ITI-57 delete", ActionUpdateDocumentSet, func(t *testing.T, b *bytes.Buffer) []Attachment {
			if err := writeStatusUpdate(b, StatusChange{INS: testINS, Author: testPractitioner, SourceOID: "1.2.250.1.999.9",
				EntryUUID: "urn:uuid:0b4c1f0c-0000-4000-8000-000000000001", From: StatusApproved, To: StatusDeleted}); err != nil {
				t.Fatal(err)
			}
			return nil
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var atts []Attachment
			msg := envelope(t, Header{To: "https://dmp.test/si-dmp-server/v2/services/registry", Action: c.action}, func(b *bytes.Buffer) {
				atts = c.body(t, b)
			})
			if !bytes.Contains(msg, []byte(`<wsa:Action soap:mustUnderstand="true">`)) {
				t.Fatal("wsa:Action must carry soap:mustUnderstand")
			}
			validate(t, c.name, inline(t, msg, atts))
			// And our own reader reads it back.
			env, err := ReadEnvelope(bytes.NewReader(msg), 1<<20, "")
			if err != nil {
				t.Fatal(err)
			}
			if env.Action != c.action || env.Body == nil {
				t.Fatalf("read back: action %q body %v", env.Action, env.Body)
			}
		})
	}
}

func readSample(t *testing.T, name string) []byte {
	t.Helper()
	needRef(t)
	b, err := os.ReadFile(filepath.Join(refDir, "samples", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The public sample messages: each is read, with the meaning it carries.
func TestSamples(t *testing.T) {
	t.Run("iti18 leafclass", func(t *testing.T) {
		n, err := parseXML(bytes.NewReader(readSample(t, "iti18-response-leafclass.body.xml")), 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		res, err := ReadQueryResponse(n)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Entries) == 0 {
			t.Fatal("no entries")
		}
		e := res.Entries[0]
		if e.EntryUUID != "urn:uuid:974330cc-26ff-4ef8-aca5-f71efc3f1fb0" || e.Hash != "e543712c0e10501972de13a5bfcbe826c49feb75" ||
			e.Size != 36 || e.RepositoryID != "1.19.6.24.109.42.1" || e.Title != "DocA" || e.UniqueID == "" || e.Status != StatusApproved {
			t.Fatalf("entry %+v", e)
		}
		d := e.RemoteDocument("")
		if d.Meta.Date.IsZero() || d.Status != "current" || d.Meta.Author == "" {
			t.Fatalf("document %+v", d)
		}
		t.Logf("%d entries, %d associations", len(res.Entries), len(res.Associations))
	})
	t.Run("iti18 objectref", func(t *testing.T) {
		n, err := parseXML(bytes.NewReader(readSample(t, "iti18-response-objectref.body.xml")), 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		res, err := ReadQueryResponse(n)
		if err != nil || len(res.ObjectRefs) == 0 {
			t.Fatalf("%v %+v", err, res)
		}
	})
	t.Run("registry response with error", func(t *testing.T) {
		n, err := parseXML(bytes.NewReader(readSample(t, "registryresponse-with-error.body.xml")), 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		err = readRegistryResponse(n)
		var re *ResponseError
		if !errors.As(err, &re) || re.Errors[0].Code != "XDSUnknownPatientId" || app.Denial(err) != app.DeniedNoRecord {
			t.Fatalf("got %v", err)
		}
		if strings.Contains(err.Error(), "777") {
			t.Fatal("the service's context text leaks into the error")
		}
	})
	t.Run("iti41 response", func(t *testing.T) {
		env, err := ReadEnvelope(bytes.NewReader(readSample(t, "iti41-response-success.soap.xml")), 1<<20, "urn:uuid:6d296e90-e5dc-43d0-b455-7c1f3eb35d83")
		if err != nil {
			t.Fatal(err)
		}
		if env.Action != ActionProvideAndRegisterResponse || readRegistryResponse(env.Body) != nil {
			t.Fatalf("%+v", env)
		}
	})
	t.Run("iti43 response inline", func(t *testing.T) {
		env, err := ReadEnvelope(bytes.NewReader(readSample(t, "iti43-response.soap.xml")), 1<<20, "urn:uuid:0fbfdced-6c01-4d09-a110-2201afedaa02")
		if err != nil {
			t.Fatal(err)
		}
		docs, err := ReadRetrieveResponse(env.Body)
		if err != nil || len(docs) != 2 || docs[0].Inline == "" || docs[0].DocumentID != "1.3.6.1.4...2300" {
			t.Fatalf("%v %+v", err, docs)
		}
	})
	t.Run("iti39 error", func(t *testing.T) {
		env, err := ReadEnvelope(bytes.NewReader(readSample(t, "iti39-retrieve-response-error.soap.xml")), 1<<20, "")
		if err != nil {
			t.Fatal(err)
		}
		_, err = ReadRetrieveResponse(env.Body)
		var re *ResponseError
		if !errors.As(err, &re) || !errors.Is(err, app.ErrServer) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("requests", func(t *testing.T) {
		for _, name := range []string{"iti18-request-findDocuments.soap.xml", "iti41-request.soap.xml", "iti43-request.soap.xml"} {
			env, err := ReadEnvelope(bytes.NewReader(readSample(t, name)), 1<<20, "")
			if err != nil || env.Body == nil || env.Action == "" {
				t.Fatalf("%s: %v", name, err)
			}
		}
	})
	t.Run("iti41 mtom", func(t *testing.T) {
		raw := readSample(t, "iti41-request-mtom.http.txt")
		msg, err := ReadMTOMHTTPRequest(bytes.NewReader(raw), 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if msg.Envelope.Action != ActionProvideAndRegister || len(msg.Parts) != 1 {
			t.Fatalf("%+v", msg)
		}
	})
}

// The schema validation itself catches the errors the samples show (so a
// passing validation means something).
func TestSchemaCatchesKnownErrors(t *testing.T) {
	needRef(t)
	bad := readSample(t, "iti43-response.soap.xml")
	if err := validateErr(t, bad); err == nil {
		t.Fatal("wsa:mustUnderstand sample validated")
	}
	fixed := bytes.Replace(bad, []byte(`a:mustUnderstand`), []byte(`s:mustUnderstand`), 1)
	if err := validateErr(t, fixed); err != nil {
		t.Fatalf("fixed sample: %v", err)
	}
}
