package dmp

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/sync/dmp/fhir"
)

// The faults of a generic FHIR server the interoperability issue lists,
// each against a hostile httptest server: clear error or correct handling,
// nothing lost.

// listIDs lists and returns the uniqueIds, in order.
func listIDs(t *testing.T, c *Client, q app.DocumentQuery) (string, error) {
	t.Helper()
	docs, err := list(t, c, unitAccess(), unitINS, q)
	var s []string
	for _, d := range docs {
		s = append(s, string(d.Meta.ID))
	}
	return strings.Join(s, ","), err
}

// TestSearchsetFaults: an empty 200 bundle, a bundle without total, paging
// by total without next links (_offset), a total that promises more than
// the server gives, a next link that brings the same page again.
func TestSearchsetFaults(t *testing.T) {
	total := func(n int, b fhir.Bundle) fhir.Bundle { b.Total = &n; return b }
	for _, tc := range []struct {
		name string
		h    http.HandlerFunc
		want string
		kind error
	}{
		{"empty bundle", func(w http.ResponseWriter, r *http.Request) { writeFHIR(w, fhir.Bundle{Type: "searchset"}) }, "", nil},
		{"no total, no next: complete", func(w http.ResponseWriter, r *http.Request) { writeFHIR(w, searchset("", "1", "2")) }, "1.2.3.1,1.2.3.2", nil},
		{"offset paging", func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Query().Get("_offset") {
			case "":
				writeFHIR(w, total(5, searchset("", "1", "2")))
			case "2":
				writeFHIR(w, total(5, searchset("", "3", "4")))
			case "4":
				writeFHIR(w, total(5, searchset("", "5")))
			default:
				http.Error(w, "no", http.StatusBadRequest)
			}
		}, "1.2.3.1,1.2.3.2,1.2.3.3,1.2.3.4,1.2.3.5", nil},
		{"total promises more", func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Query().Get("_offset") == "" {
				writeFHIR(w, total(9, searchset("", "1", "2")))
				return
			}
			writeFHIR(w, total(9, fhir.Bundle{Type: "searchset"}))
		}, "", app.ErrServer},
		{"next link repeats the page", func(w http.ResponseWriter, r *http.Request) {
			n := r.URL.Query().Get("page")
			writeFHIR(w, searchset("/fhir/DocumentReference?page=x"+n, "1", "2"))
		}, "", app.ErrServer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := hostile(t, tc.h)
			got, err := listIDs(t, c, app.DocumentQuery{})
			if tc.kind != nil {
				if !errors.Is(err, tc.kind) {
					t.Fatalf("want %v, got %v (%s)", tc.kind, err, got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// txServer answers ITI-78 with a Patient p1, the transaction with resp,
// and reads of DocumentReference/d1 with doc.
func txServer(t *testing.T, resp func(tx fhir.Bundle) fhir.Bundle, doc func() fhir.DocumentReference, binary []byte) *Client {
	c, _ := hostile(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/Patient"):
			writeFHIR(w, fhir.Bundle{Type: "searchset", Entry: []fhir.BundleEntry{{Resource: fhir.MustWrap(fhir.Patient{ID: "p1",
				Identifier: []fhir.Identifier{fhir.INSIdentifier(unitINS)}})}}})
		case r.Method == http.MethodPost:
			var tx fhir.Bundle
			if err := json.NewDecoder(r.Body).Decode(&tx); err != nil {
				http.Error(w, "bad", http.StatusBadRequest)
				return
			}
			writeFHIR(w, resp(tx))
		case strings.HasSuffix(r.URL.Path, "/DocumentReference/d1"):
			writeFHIR(w, doc())
		case strings.HasSuffix(r.URL.Path, "/Binary/b1"):
			w.Header().Set("Content-Type", "text/xml")
			_, _ = w.Write(binary)
		default:
			http.Error(w, "not found", http.StatusNotFound)
		}
	})
	return c
}

// created answers a transaction with 201 for every entry: d1, b1.
func created(tx fhir.Bundle) fhir.Bundle {
	b := fhir.Bundle{Type: "transaction-response"}
	for _, e := range tx.Entry {
		loc := e.Request.URL + "/x"
		switch e.Request.URL {
		case "DocumentReference":
			loc = "DocumentReference/d1/_history/1"
		case "Binary":
			loc = "Binary/b1/_history/1"
		}
		b.Entry = append(b.Entry, fhir.BundleEntry{Response: &fhir.EntryResponse{Status: "201 Created", Location: loc}})
	}
	return b
}

// storedAs is the DocumentReference the server keeps of nd, with subject.
func storedAs(nd app.NewDocument, subject *fhir.Reference) fhir.DocumentReference {
	return fhir.DocumentReference{ID: "d1", Meta: &fhir.Meta{VersionID: "1"}, Status: "current", Subject: subject,
		MasterIdentifier: &fhir.Identifier{System: fhir.SystemRFC3986, Value: "urn:oid:" + string(nd.Meta.ID)},
		Content:          []fhir.DocumentContent{{Attachment: fhir.Attachment{ContentType: "text/xml", URL: "Binary/b1"}}}}
}

// TestProvideReadBack: a write is confirmed only when it reads back as
// sent; a conditional or contained subject left unresolved, another
// document under the id, lost content, or a 200 transaction with a 4xx
// entry are not success.
func TestProvideReadBack(t *testing.T) {
	nd := note("1.2.250.1.999.5.1")
	literal := &fhir.Reference{Reference: "Patient/p1"}
	for _, tc := range []struct {
		name    string
		resp    func(fhir.Bundle) fhir.Bundle
		subject *fhir.Reference
		uid     string
		binary  []byte
		want    error // nil: confirmed
	}{
		{"confirmed", created, literal, "", nd.Content, nil},
		{"conditional subject stored as text", created, &fhir.Reference{Reference: fhir.PatientRefByINS(unitINS)}, "", nd.Content, app.ErrServer},
		{"contained subject", created, &fhir.Reference{Reference: "#p"}, "", nd.Content, app.ErrServer},
		{"another document under the id", created, literal, "1.2.9", nd.Content, app.ErrServer},
		{"content not as sent", created, literal, "", []byte("<other/>"), app.ErrServer},
		{"200 with a 4xx entry", func(tx fhir.Bundle) fhir.Bundle {
			b := created(tx)
			b.Entry[1].Response.Status = "422 Unprocessable Entity"
			return b
		}, literal, "", nd.Content, app.ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := txServer(t, tc.resp, func() fhir.DocumentReference {
				d := storedAs(nd, tc.subject)
				if tc.uid != "" {
					d.MasterIdentifier.Value = "urn:oid:" + tc.uid
				}
				return d
			}, tc.binary)
			res, err := c.Provide(t.Context(), unitAccess(), unitINS, []app.NewDocument{nd})
			if tc.want == nil {
				if err != nil || len(res.Documents) != 1 || res.Documents[0].RemoteID != "d1" {
					t.Fatalf("%+v %v", res, err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("want %v, got %v", tc.want, err)
			}
			var nc *app.NotConfirmedError
			if tc.want == app.ErrServer && (!errors.As(err, &nc) || nc.Doc.RemoteID != "d1") {
				t.Fatalf("want a NotConfirmedError with the answer, got %v", err)
			}
		})
	}
}

// TestInlineData: attachment.data alone is retrieved from the entry and
// verified; data and url both present must agree (the url's content is
// checked against the inline bytes).
func TestInlineData(t *testing.T) {
	cda := []byte(`<ClinicalDocument xmlns="urn:hl7-org:v3"/>`)
	var url atomic.Value
	url.Store("")
	var served atomic.Value
	served.Store(cda)
	c, _ := hostile(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/DocumentReference/d1"):
			writeFHIR(w, fhir.DocumentReference{ID: "d1", Status: "current",
				MasterIdentifier: &fhir.Identifier{System: fhir.SystemRFC3986, Value: "urn:oid:1.2.3"},
				Content:          []fhir.DocumentContent{{Attachment: fhir.Attachment{ContentType: "text/xml", Data: cda, URL: url.Load().(string)}}}})
		case strings.HasSuffix(r.URL.Path, "/Binary/b1"):
			w.Header().Set("Content-Type", "text/xml")
			_, _ = w.Write(served.Load().([]byte))
		default:
			writeFHIR(w, fhir.Bundle{Type: "searchset", Entry: []fhir.BundleEntry{{Resource: fhir.MustWrap(fhir.DocumentReference{ID: "d1", Status: "current",
				MasterIdentifier: &fhir.Identifier{System: fhir.SystemRFC3986, Value: "urn:oid:1.2.3"},
				Content:          []fhir.DocumentContent{{Attachment: fhir.Attachment{ContentType: "text/xml", Data: cda, URL: url.Load().(string)}}}})}}})
		}
	})
	get := func() ([]byte, error) {
		docs, err := list(t, c, unitAccess(), unitINS, app.DocumentQuery{})
		if err != nil || len(docs) != 1 {
			t.Fatalf("list: %d %v", len(docs), err)
		}
		return c.Retrieve(t.Context(), unitAccess(), unitINS, docs[0])
	}
	if got, err := get(); err != nil || string(got) != string(cda) || c.PathCount(PathInlineData) != 1 {
		t.Fatalf("inline: %q %v", got, err)
	}
	url.Store("Binary/b1")
	if got, err := get(); err != nil || string(got) != string(cda) {
		t.Fatalf("inline and url agreeing: %q %v", got, err)
	}
	served.Store([]byte(`<ClinicalDocument xmlns="urn:hl7-org:v3"><x/></ClinicalDocument>`))
	if _, err := get(); !errors.Is(err, app.ErrIntegrity) {
		t.Fatalf("inline and url disagreeing: want integrity error, got %v", err)
	}
}

// TestAbsentExtensionIsUnknown: a Patient without Carnet's extensions
// reads as authorisation unknown (not none), and is remembered for literal
// references.
func TestAbsentExtensionIsUnknown(t *testing.T) {
	c, _ := hostile(t, func(w http.ResponseWriter, r *http.Request) {
		writeFHIR(w, fhir.Bundle{Type: "searchset", Entry: []fhir.BundleEntry{{Resource: fhir.MustWrap(fhir.Patient{ID: "p-42",
			Identifier: []fhir.Identifier{fhir.INSIdentifier(unitINS)}})}}})
	})
	st, err := c.FindPatient(t.Context(), unitAccess(), unitINS)
	if err != nil || !st.Exists || st.Closed || st.Authorization != app.AuthorizationUnknown {
		t.Fatalf("%+v %v", st, err)
	}
	if c.mem.patientID(unitINS) != "p-42" {
		t.Fatal("Patient id not remembered")
	}
}

// TestPatchOps: visibility is set with "add" (works where securityLabel
// is absent), and every metadata patch starts with a test on versionId.
func TestPatchOps(t *testing.T) {
	var got []fhir.PatchOp
	c, _ := hostile(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPatch {
			_ = json.NewDecoder(r.Body).Decode(&got)
		}
		writeFHIR(w, fhir.DocumentReference{ID: "d1", Meta: &fhir.Meta{VersionID: "2"}, Status: "current",
			MasterIdentifier: &fhir.Identifier{System: fhir.SystemRFC3986, Value: "urn:oid:1.2.3"},
			SecurityLabel:    fhir.SecurityLabels(app.Visibility{HiddenFromLegalReps: true})})
	})
	doc := app.RemoteDocument{RemoteID: "d1", VersionID: "1", Meta: app.DocumentMeta{ID: "1.2.3"}}
	out, err := c.UpdateMetadata(t.Context(), unitAccess(), unitINS, doc, app.MetadataChange{Visibility: &app.Visibility{HiddenFromLegalReps: true}})
	if err != nil || out.VersionID != "2" {
		t.Fatalf("%+v %v", out, err)
	}
	if len(got) != 2 || got[0].Op != "test" || got[0].Path != "/meta/versionId" || string(got[0].Value) != `"1"` ||
		got[1].Op != "add" || got[1].Path != "/securityLabel" {
		t.Fatalf("patch %+v", got)
	}
}

// FuzzMapDocument: any DocumentReference JSON (inline data, hashes,
// subjects) maps without panicking, and inline data that contradicts its
// hash never verifies.
func FuzzMapDocument(f *testing.F) {
	f.Add([]byte(`{"resourceType":"DocumentReference","id":"d","masterIdentifier":{"value":"urn:oid:1.2"},"content":[{"attachment":{"data":"PGEvPg==","hash":"AAAAAAAAAAAAAAAAAAAAAAAAAAA=","size":4}}]}`))
	f.Add([]byte(`{"resourceType":"DocumentReference","masterIdentifier":{"value":"urn:oid:1.2"},"subject":{"reference":"#p"},"content":[{"attachment":{"data":"","url":"Binary/1"}}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var d fhir.DocumentReference
		if fhir.Unmarshal(b, &d) != nil {
			return
		}
		rd, ok := mapDocument(&d)
		if !ok || len(d.Content) == 0 || len(d.Content[0].Attachment.Data) == 0 {
			return
		}
		data := d.Content[0].Attachment.Data
		if rd.Meta.Hash != invalidHash && rd.Meta.Size != int64(len(data)) {
			t.Fatalf("inline size %d, metadata %d", len(data), rd.Meta.Size)
		}
	})
}

// TestWithdrawnWithReason: a 404/410 that names a DMP reason is both
// ErrWithdrawn and an AccessError of that reason; a bare one is only
// ErrWithdrawn (no reason: no evidence for the sync engine).
func TestWithdrawnWithReason(t *testing.T) {
	err := classifyStatus("find patient", http.StatusGone, http.Header{}, fhir.DenialOutcome(app.DeniedNoRecord, "x"), time.Now())
	if !errors.Is(err, app.ErrWithdrawn) || app.Denial(err) != app.DeniedNoRecord {
		t.Fatalf("410 with a reason: %v", err)
	}
	err = classifyStatus("find patient", http.StatusGone, http.Header{}, fhir.NewOutcome("not-found", "x"), time.Now())
	if !errors.Is(err, app.ErrWithdrawn) || app.Denial(err) != "" {
		t.Fatalf("bare 410: %v", err)
	}
}
