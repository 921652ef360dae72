package dmp

import (
	"crypto/sha1"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/sync/dmp/fhir"
)

// samplesDir holds the ANS PDSm4DMP FHIR examples (MIT), outside the repo.
const samplesDir = "../../../shared/samples/fhir"

func readSample(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(samplesDir, name))
	if err != nil {
		t.Skipf("ANS samples absent: %v", err)
	}
	return b
}

// TestSamplesSearchset: the ANS searchset example decodes into two
// RemoteDocuments with every mapped field.
func TestSamplesSearchset(t *testing.T) {
	var b searchPage
	if err := fhir.Unmarshal(readSample(t, "Bundle-example-annexe-searchset-documentreferences.json"), &b); err != nil {
		t.Fatal(err)
	}
	docs, skipped, err := decodeSearchset(&b, nil, map[string]app.DocumentID{})
	if len(docs) != 2 || skipped != 0 || err != nil {
		t.Fatalf("%d docs, %d skipped", len(docs), skipped)
	}
	d := docs[0]
	want := app.RemoteDocument{
		RemoteID: "example-annexe-docref-cda",
		Status:   "current",
		URL:      "Binary/example-annexe-binary-cda",
	}
	if d.RemoteID != want.RemoteID || d.Status != want.Status || d.URL != want.URL {
		t.Fatalf("%+v", d)
	}
	m := d.Meta
	if m.ID != "1.2.250.1.213.1.4.8.99999.201" || m.TypeCode != "11488-4" || m.Title != "Compte rendu de consultation (CDA)" ||
		m.MediaType != "application/xml" || m.Size != 128 || m.Hash != "03f84c46bbfa635e418d233c90c2e276bcfe9877" ||
		m.Confidentiality != "N" || m.Source != "dmp" || m.Superseded || m.Author != "899700218896" {
		t.Fatalf("meta %+v", m)
	}
	if !m.Date.Equal(time.Date(2024, 11, 20, 8, 0, 0, 0, time.UTC)) {
		t.Fatalf("act date %v (want context.period.start)", m.Date)
	}
	if d.Visibility != (app.Visibility{}) || d.Archived {
		t.Fatalf("visibility %+v", d.Visibility)
	}
	if docs[1].Meta.MediaType != "application/fhir+json" || docs[1].URL != "Bundle/example-annexe-fhir-document" || docs[1].Meta.Hash == "" {
		t.Fatalf("second %+v", docs[1])
	}
}

// TestSamplesDocumentReferences: the single DocumentReference examples map
// (superseded status; ITI-105 without attachment URL, hash or period).
func TestSamplesDocumentReferences(t *testing.T) {
	var d fhir.DocumentReference
	if err := fhir.Unmarshal(readSample(t, "DocumentReference-doc-x-id.json"), &d); err != nil {
		t.Fatal(err)
	}
	rd, ok := mapDocument(&d)
	if !ok || rd.Status != "superseded" || !rd.Meta.Superseded || rd.Meta.ID != "1.2.250.1.213.1.4.8.99999.0" || rd.Meta.Size != 80 {
		t.Fatalf("%v %+v", ok, rd)
	}
	var s fhir.DocumentReference
	if err := fhir.Unmarshal(readSample(t, "DocumentReference-example-td2-iti105-publication-simplifiee.json"), &s); err != nil {
		t.Fatal(err)
	}
	rs, ok := mapDocument(&s)
	// inline content (attachment.data, no URL): its own size and SHA-1
	// become the metadata the retrieval verifies
	data := s.Content[0].Attachment.Data
	if !ok || len(data) == 0 || rs.Meta.Hash != fmt.Sprintf("%x", sha1.Sum(data)) || rs.Meta.Size != int64(len(data)) || rs.URL != "" ||
		rs.Meta.Date.IsZero() || rs.Meta.Title != "Compte rendu de consultation" {
		t.Fatalf("%v %+v", ok, rs)
	}
}

// TestSamplesTransactions: the ITI-65 examples decode, and their
// DocumentReferences map; the replacement one names what it replaces.
func TestSamplesTransactions(t *testing.T) {
	for _, name := range []string{"Bundle-example-td2-iti65-lot-soumission.json", "Bundle-example-td2-1-remplacement.json"} {
		var b fhir.Bundle
		if err := fhir.Unmarshal(readSample(t, name), &b); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		n := 0
		for _, e := range b.Entry {
			if e.Resource == nil || e.Resource.ResourceType != "DocumentReference" {
				continue
			}
			var d fhir.DocumentReference
			if err := e.Resource.Decode(&d); err != nil {
				t.Fatal(err)
			}
			rd, ok := mapDocument(&d)
			if !ok {
				t.Fatalf("%s: unmapped", name)
			}
			if name == "Bundle-example-td2-1-remplacement.json" && replacedRef(&d) != "DocumentReference/doc-x-id" {
				t.Fatalf("replacement ref %q", replacedRef(&d))
			}
			_ = rd
			n++
		}
		if n == 0 {
			t.Fatalf("%s: no DocumentReference", name)
		}
	}
}

func TestHashHex(t *testing.T) {
	for in, want := range map[string]string{
		"":                             "",
		sha1EmptyB64:                   sha1EmptyHex,
		"not base64!":                  invalidHash,
		"AAAA":                         invalidHash, // not 20 bytes
		"A/hMRrv6Y15BjSM8kMLidrz+mHc=": "03f84c46bbfa635e418d233c90c2e276bcfe9877",
	} {
		if got := hashHex(in); got != want {
			t.Errorf("hashHex(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestFilterDropsOtherPatients: an entry that names another INS is not
// handed over, and one without uniqueId is skipped.
func TestFilterDropsOtherPatients(t *testing.T) {
	mk := func(uid, ins string) fhir.BundleEntry {
		d := fhir.DocumentReference{ID: uid, Status: "current", Subject: &fhir.Reference{Reference: "Patient?identifier=urn:oid:" + app.OIDINSNIRTest + "|" + ins}}
		if uid != "" {
			d.MasterIdentifier = &fhir.Identifier{System: fhir.SystemRFC3986, Value: "urn:oid:1.2.3." + uid}
		}
		return fhir.BundleEntry{Resource: fhir.MustWrap(d)}
	}
	b := fhir.Bundle{Type: "searchset", Entry: []fhir.BundleEntry{mk("1", unitINS.Matricule), mk("2", "180000000000099"), mk("", unitINS.Matricule)}}
	f := &docFilter{ins: unitINS, statuses: map[string]bool{"current": true}}
	docs, skipped, err := decodeSearchset(pageOf(t, b), f, nil)
	if len(docs) != 1 || docs[0].Meta.ID != "1.2.3.1" || skipped != 1 || err != nil {
		t.Fatalf("%+v skipped %d", docs, skipped)
	}
}

// FuzzDecodeSearchset feeds arbitrary Bundles to the client-side mapping:
// it must never panic, and every document it returns has a uniqueId and a
// hash that is empty, hex SHA-1 or the invalid marker.
func FuzzDecodeSearchset(f *testing.F) {
	for _, name := range []string{"Bundle-example-annexe-searchset-documentreferences.json", "Bundle-example-td2-iti65-lot-soumission.json",
		"Bundle-example-td2-1-remplacement.json", "Bundle-example-annexe-fhir-document.json"} {
		if b, err := os.ReadFile(filepath.Join(samplesDir, name)); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":"DocumentReference","masterIdentifier":{"value":"urn:oid:1.2"},"content":[{"attachment":{"hash":"%%%","size":-1}}],"relatesTo":[{"code":"replaces","target":{"reference":"DocumentReference/"}}]}}]}`))
	f.Add([]byte(`{"resourceType":"Bundle","type":"searchset","link":[{"relation":"next","url":"https://evil.example/x"}],"entry":[{"resource":{"resourceType":"DocumentReference","contained":[{"resourceType":"PractitionerRole","id":"a","practitioner":{"reference":"#a"}}],"author":[{"reference":"#a"}],"masterIdentifier":{"value":"x"}}}]}`))
	f.Add([]byte(`{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"OperationOutcome","issue":[]}}, {}, {"resource":null}]}`))
	f.Add([]byte(`{"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":"DocumentReference","masterIdentifier":{"value":"urn:oid:1.2"},"category":[{"coding":[{"system":"x","code":"10"},{"system":"https://mos.esante.gouv.fr/NOS/TRE_A03-ClasseDocument/FHIR/TRE-A03-ClasseDocument","code":" 1\u00000 "}]},{"coding":[{"system":"urn:oid:1.2.250.1.213.1.1.4.1","code":"31"}]},{"text":"x"},null]}}]}`))
	f.Add([]byte(`{"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":"DocumentReference","masterIdentifier":{"value":"urn:oid:1.2"},"category":{"coding":[]}}}]}`))
	for _, tc := range classTests {
		d := fhir.DocumentReference{ResourceType: "DocumentReference", MasterIdentifier: &fhir.Identifier{Value: "urn:oid:1.2"}, Category: tc.cats}
		if b, err := json.Marshal(fhir.Bundle{ResourceType: "Bundle", Type: "searchset", Entry: []fhir.BundleEntry{{Resource: fhir.MustWrap(d)}}}); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkSameAsBundle(t, data)
		var b searchPage
		if err := fhir.Unmarshal(data, &b); err != nil {
			return
		}
		f := &docFilter{ins: unitINS, statuses: map[string]bool{"current": true, "superseded": true}, actSince: time.Unix(0, 0), types: map[string]bool{"11488-4": true}}
		for _, filt := range []*docFilter{nil, f} {
			docs, _, _ := decodeSearchset(&b, filt, map[string]app.DocumentID{})
			for _, d := range docs {
				if d.Meta.ID == "" {
					t.Fatal("document without uniqueId")
				}
				if h := d.Meta.Hash; h != "" && h != invalidHash && len(h) != 40 {
					t.Fatalf("hash %q", h)
				}
				if c := d.Meta.ClassCode; app.CleanClassCode(c) != c {
					t.Fatalf("class code %q", c)
				}
				if _, err := json.Marshal(d); err != nil {
					t.Fatal(err)
				}
			}
		}
	})
}

// pageOf is b as a listing page reads it.
func pageOf(t testing.TB, b fhir.Bundle) *searchPage {
	t.Helper()
	raw, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	var p searchPage
	if err := fhir.Unmarshal(raw, &p); err != nil {
		t.Fatal(err)
	}
	return &p
}

// checkSameAsBundle: a page decoded as a searchPage with its entries
// decoded once gives what decoding it into a fhir.Bundle and each entry
// again gave (bundleDecodeSearchset, the former way): the same failure,
// the same documents, the same count of skipped entries.
func checkSameAsBundle(t *testing.T, data []byte) {
	t.Helper()
	f := &docFilter{ins: unitINS, statuses: map[string]bool{"current": true, "superseded": true}}
	var b fhir.Bundle
	oldErr := fhir.Unmarshal(data, &b)
	var p searchPage
	newErr := fhir.Unmarshal(data, &p)
	var docs []app.RemoteDocument
	var skipped int
	if newErr == nil {
		docs, skipped, newErr = decodeSearchset(&p, f, map[string]app.DocumentID{})
	}
	if (oldErr == nil) != (newErr == nil) {
		t.Fatalf("bundle decode: %v, page decode: %v", oldErr, newErr)
	}
	if oldErr != nil {
		return
	}
	want, wantSkipped := bundleDecodeSearchset(&b, f, map[string]app.DocumentID{})
	if len(want) == 0 && len(docs) == 0 {
		want, docs = nil, nil
	}
	if !reflect.DeepEqual(want, docs) || wantSkipped != skipped {
		t.Fatalf("page decode:\n%+v (%d skipped)\nbundle decode:\n%+v (%d skipped)", docs, skipped, want, wantSkipped)
	}
}

// TestDecodeSearchsetSameAsBundle runs checkSameAsBundle on the samples
// and on hand-made oddities.
func TestDecodeSearchsetSameAsBundle(t *testing.T) {
	var cases [][]byte
	for _, name := range []string{"Bundle-example-annexe-searchset-documentreferences.json", "Bundle-example-td2-iti65-lot-soumission.json",
		"Bundle-example-td2-1-remplacement.json", "Bundle-example-annexe-fhir-document.json"} {
		if b, err := os.ReadFile(filepath.Join(samplesDir, name)); err == nil {
			cases = append(cases, b)
		}
	}
	doc := `{"resourceType":"DocumentReference","id":"r1","masterIdentifier":{"value":"urn:oid:1.2.3"},"status":"current"}`
	for _, c := range []string{
		`{"resourceType":"Bundle","type":"searchset","entry":[{"resource":` + doc + `}]}`,
		`{"resourceType":"Bundle","type":"searchset","entry":[{"resource":null},{},{"resource":` + doc + `,"search":{"mode":"include"}}]}`,
		`{"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"id":"x"}}]}`,
		`{"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":5}}]}`,
		`{"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":"OperationOutcome","id":5}}]}`,
		`{"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":"DocumentReference","id":5,"masterIdentifier":{"value":"x"}}}]}`,
		`{"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":"DocumentReference","status":5,"masterIdentifier":{"value":"x"}}}]}`,
		`{"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":"DocumentReference","identifier":{"value":"x"},"masterIdentifier":{"value":"x"}}}]}`,
		`{"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":"DocumentReference","contained":[{"id":"a"}],"masterIdentifier":{"value":"x"}}}]}`,
		`{"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":"DocumentReference","RESOURCETYPE":"Patient","masterIdentifier":{"value":"x"}}}]}`,
		`{"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":"DocumentReference","masterIdentifier":{"value":"x"}},"response":{"outcome":{"id":"o"}}}]}`,
		`{"resourceType":"Bundle","type":"searchset","entry":[{"resource":5}]}`,
		`{"resourceType":"Bundle","type":"searchset","entry":[{"resource":"DocumentReference"}]}`,
		`{"resourceType":"Bundle","type":"searchset","entry":[{"resource":[]}]}`,
		`{"resourceType":"Bundle","type":"searchset","total":"3"}`,
	} {
		cases = append(cases, []byte(c))
	}
	for _, c := range cases {
		checkSameAsBundle(t, c)
	}
}

// bundleDecodeSearchset is decodeSearchset as it was on a fhir.Bundle
// (every resource's header decoded with the Bundle, then the resource
// again): the reference of checkSameAsBundle.
func bundleDecodeSearchset(b *fhir.Bundle, f *docFilter, ids map[string]app.DocumentID) (docs []app.RemoteDocument, skipped int) {
	type pending struct {
		i   int
		ref string
	}
	var unresolved []pending
	for i := range b.Entry {
		e := &b.Entry[i]
		if e.Resource == nil || e.Resource.ResourceType != "DocumentReference" {
			continue
		}
		if e.Search != nil && e.Search.Mode != "" && e.Search.Mode != "match" {
			continue
		}
		var d fhir.DocumentReference
		if err := e.Resource.Decode(&d); err != nil {
			skipped++
			continue
		}
		rd, ok := mapDocument(&d)
		if !ok {
			skipped++
			continue
		}
		if ids != nil && rd.RemoteID != "" && len(ids) < 1<<20 {
			ids[rd.RemoteID] = rd.Meta.ID
		}
		if f != nil && !f.keep(&d, &rd) {
			continue
		}
		if rd.Replaces == "" {
			if ref := replacedRef(&d); ref != "" {
				unresolved = append(unresolved, pending{len(docs), ref})
			}
		}
		docs = append(docs, rd)
	}
	for _, p := range unresolved {
		if id := refID(p.ref, "DocumentReference"); id != "" && ids != nil {
			docs[p.i].Replaces = ids[id]
		}
	}
	return docs, skipped
}
