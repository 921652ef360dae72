package dmp

import (
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"

	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/sync/dmp/fhir"
)

// These tests put the client in front of hostile or merely generic servers
// (httptest over TLS): redirects and next links to other hosts, malformed
// and endless answers, wrong content types, Binary-wrapped documents.

// hostile starts a TLS server with h and returns a client of it.
func hostile(t *testing.T, h http.HandlerFunc, tweak ...func(*Config)) (*Client, *httptest.Server) {
	t.Helper()
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	cfg := Config{BaseURL: srv.URL + "/fhir", Certificate: issue(t, true).TLSCertificate(), RootCAs: pool, Timeout: 20 * time.Second}
	for _, f := range tweak {
		f(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c, srv
}

func writeFHIR(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", fhir.MediaFHIRJSON)
	_ = json.NewEncoder(w).Encode(v)
}

func searchset(next string, uids ...string) fhir.Bundle {
	b := fhir.Bundle{Type: "searchset"}
	if next != "" {
		b.Link = []fhir.BundleLink{{Relation: "next", URL: next}}
	}
	for _, u := range uids {
		b.Entry = append(b.Entry, fhir.BundleEntry{Resource: fhir.MustWrap(fhir.DocumentReference{ID: "r" + u, Status: "current",
			MasterIdentifier: &fhir.Identifier{System: fhir.SystemRFC3986, Value: "urn:oid:1.2.3." + u}})})
	}
	return b
}

// TestNextLinkToAnotherHost: followed on the same origin, refused
// elsewhere; the page carrying the bad link is not handed over.
func TestNextLinkToAnotherHost(t *testing.T) {
	other := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("the client followed a next link to another host")
	}))
	defer other.Close()
	var c *Client
	c, srv := hostile(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(fhir.AssertionHeader) == "" {
			t.Error("request without assertion")
		}
		switch r.URL.Query().Get("page") {
		case "":
			writeFHIR(w, searchset(c.BaseURL()+"/DocumentReference?page=2&_opaque=%7Ck", "1"))
		case "2":
			if r.URL.RawQuery != "page=2&_opaque=%7Ck" {
				t.Errorf("next link not followed verbatim: %q", r.URL.RawQuery)
			}
			writeFHIR(w, searchset(other.URL+"/fhir/DocumentReference?page=3", "2"))
		}
	})
	_ = srv
	var got []app.DocumentID
	err := c.ListDocuments(t.Context(), unitAccess(), unitINS, app.DocumentQuery{}, func(docs []app.RemoteDocument) error {
		for _, d := range docs {
			got = append(got, d.Meta.ID)
		}
		return nil
	})
	wantKind(t, err, app.ErrServer)
	if len(got) != 1 || got[0] != "1.2.3.1" {
		t.Fatalf("handed over %v", got)
	}
}

// TestPagingLoop: a next link pointing back is a server fault, not an
// endless listing.
func TestPagingLoop(t *testing.T) {
	var c *Client
	c, _ = hostile(t, func(w http.ResponseWriter, r *http.Request) {
		writeFHIR(w, searchset(c.BaseURL()+"/DocumentReference?page=again", "1"))
	})
	_, err := list(t, c, unitAccess(), unitINS, app.DocumentQuery{})
	wantKind(t, err, app.ErrServer)
}

// TestRedirects: a redirect on the same origin is followed with a fresh
// assertion; one to another host is refused.
func TestRedirects(t *testing.T) {
	other := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("the client followed a redirect to another host")
	}))
	defer other.Close()
	var mu sync.Mutex
	var assertions []string
	c, _ := hostile(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		assertions = append(assertions, r.Header.Get(fhir.AssertionHeader))
		mu.Unlock()
		switch r.URL.Path {
		case "/fhir/Patient":
			http.Redirect(w, r, "/fhir/Patient2?"+r.URL.RawQuery, http.StatusFound)
		case "/fhir/Patient2":
			writeFHIR(w, fhir.Bundle{Type: "searchset"})
		case "/fhir/Binary/x":
			http.Redirect(w, r, other.URL+"/steal", http.StatusFound)
		}
	})
	st, err := c.FindPatient(t.Context(), unitAccess(), unitINS)
	if err != nil || st.Exists {
		t.Fatalf("%+v %v", st, err)
	}
	if len(assertions) != 2 || assertions[0] == assertions[1] || assertions[1] == "" {
		t.Fatal("the redirected request did not carry a fresh assertion")
	}
	_, err = c.Retrieve(t.Context(), unitAccess(), unitINS, app.RemoteDocument{URL: "Binary/x"})
	wantKind(t, err, app.ErrServer)
	if !strings.Contains(err.Error(), "redirect") {
		t.Fatalf("%v", err)
	}
	// an attachment URL on another host is not even requested
	_, err = c.Retrieve(t.Context(), unitAccess(), unitINS, app.RemoteDocument{URL: other.URL + "/Binary/x"})
	wantKind(t, err, app.ErrServer)
	_, err = c.Retrieve(t.Context(), unitAccess(), unitINS, app.RemoteDocument{URL: "//evil.example/Binary/x"})
	wantKind(t, err, app.ErrServer)
}

// TestMalformedAnswers: broken JSON, a non-Bundle, an empty body, a wrong
// transaction-response are server faults.
func TestMalformedAnswers(t *testing.T) {
	for name, body := range map[string]string{
		"truncated json": `{"resourceType":"Bundle","type":"searchset","entry":[{`,
		"not json":       `<html>proxy error</html>`,
		"not a bundle":   `{"resourceType":"Patient"}`,
		"empty":          ``,
		"trailing":       `{"resourceType":"Bundle","type":"searchset"} {}`,
		"deep":           strings.Repeat(`{"a":`, 100) + `1` + strings.Repeat(`}`, 100),
	} {
		t.Run(name, func(t *testing.T) {
			c, _ := hostile(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", fhir.MediaFHIRJSON)
				_, _ = w.Write([]byte(body))
			})
			_, err := c.FindPatient(t.Context(), unitAccess(), unitINS)
			wantKind(t, err, app.ErrServer)
			_, err = list(t, c, unitAccess(), unitINS, app.DocumentQuery{})
			wantKind(t, err, app.ErrServer)
			_, err = c.Provide(t.Context(), unitAccess(), unitINS, []app.NewDocument{note("1.2.3.4")})
			wantKind(t, err, app.ErrServer)
		})
	}
}

// endless streams a searchset that never ends (10 million entries and
// more), or raw bytes, until the client stops reading.
func endless(bundle bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if bundle {
			w.Header().Set("Content-Type", fhir.MediaFHIRJSON)
			_, _ = w.Write([]byte(`{"resourceType":"Bundle","type":"searchset","entry":[`))
		} else {
			w.Header().Set("Content-Type", "text/xml")
		}
		entry := []byte(`{"resource":{"resourceType":"DocumentReference","id":"x","status":"current","masterIdentifier":{"value":"urn:oid:1.2.3"}}},`)
		chunk := []byte(strings.Repeat(string(entry), 512))
		for i := 0; i < (2<<30)/len(chunk); i++ { // 2 GB
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}
}

// TestEndlessBodies: a 2 GB answer is cut at the bound, with bounded memory.
func TestEndlessBodies(t *testing.T) {
	measure := func(f func()) uint64 {
		runtime.GC()
		var a, b runtime.MemStats
		runtime.ReadMemStats(&a)
		f()
		runtime.ReadMemStats(&b)
		return b.TotalAlloc - a.TotalAlloc
	}
	c, _ := hostile(t, endless(true))
	var err error
	alloc := measure(func() { _, err = list(t, c, unitAccess(), unitINS, app.DocumentQuery{}) })
	wantKind(t, err, app.ErrServer)
	if !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("%v", err)
	}
	if alloc > 3*DefaultMaxBundle {
		t.Fatalf("listing allocated %d MiB", alloc>>20)
	}
	t.Logf("endless searchset: %v; %d MiB allocated", err, alloc>>20)

	d, _ := hostile(t, endless(false), func(cfg *Config) { cfg.MaxDocument = 8 << 20 })
	var got []byte
	alloc = measure(func() {
		got, err = d.Retrieve(t.Context(), unitAccess(), unitINS, app.RemoteDocument{URL: "Binary/x", Meta: app.DocumentMeta{MediaType: "text/xml"}})
	})
	wantKind(t, err, app.ErrServer)
	if got != nil || alloc > 4*(8<<20) {
		t.Fatalf("%d bytes returned, %d MiB allocated", len(got), alloc>>20)
	}
	// with a declared size, the read stops right after it
	_, err = d.Retrieve(t.Context(), unitAccess(), unitINS, app.RemoteDocument{URL: "Binary/x", Meta: app.DocumentMeta{MediaType: "text/xml", Size: 1000}})
	wantKind(t, err, app.ErrIntegrity)
}

// docServer serves one document body with a content type, raw or wrapped
// in a FHIR Binary.
func docServer(t *testing.T, body []byte, ctype string, wrap bool) *Client {
	c, _ := hostile(t, func(w http.ResponseWriter, r *http.Request) {
		if wrap {
			writeFHIR(w, fhir.Binary{ContentType: ctype, Data: body})
			return
		}
		w.Header().Set("Content-Type", ctype)
		_, _ = w.Write(body)
	})
	return c
}

func metaOf(body []byte, ctype string) app.RemoteDocument {
	sum := sha1.Sum(body)
	return app.RemoteDocument{URL: "Binary/b1", Meta: app.DocumentMeta{MediaType: ctype, Size: int64(len(body)), Hash: hex.EncodeToString(sum[:])}}
}

// TestRetrieveVerification: hash, size, content type; on-demand and
// delayed-assembly documents; Binary-wrapped answers of generic servers.
func TestRetrieveVerification(t *testing.T) {
	cda := []byte(`<?xml version="1.0"?><ClinicalDocument xmlns="urn:hl7-org:v3"/>`)
	acc := unitAccess()
	ok := func(c *Client, d app.RemoteDocument) {
		t.Helper()
		got, err := c.Retrieve(t.Context(), acc, unitINS, d)
		if err != nil || string(got) != string(cda) {
			t.Fatalf("%q %v", got, err)
		}
	}
	bad := func(c *Client, d app.RemoteDocument) {
		t.Helper()
		got, err := c.Retrieve(t.Context(), acc, unitINS, d)
		wantKind(t, err, app.ErrIntegrity)
		if got != nil {
			t.Fatal("bytes returned from an unverified answer")
		}
	}
	raw := docServer(t, cda, "text/xml; charset=utf-8", false)
	ok(raw, metaOf(cda, "text/xml"))
	ok(raw, metaOf(cda, "application/xml"))                                                                                           // same family
	ok(raw, app.RemoteDocument{URL: "Binary/b1", Meta: app.DocumentMeta{MediaType: "text/xml"}})                                      // on demand
	ok(raw, app.RemoteDocument{URL: "Binary/b1", Meta: app.DocumentMeta{MediaType: "text/xml", Hash: sha1EmptyHex}})                  // delayed assembly
	ok(raw, app.RemoteDocument{URL: raw.BaseURL() + "/Binary/b1", Meta: app.DocumentMeta{MediaType: "text/xml", Hash: sha1EmptyHex}}) // absolute
	wrong := metaOf(cda, "text/xml")
	wrong.Meta.Hash = strings.Repeat("0", 40)
	bad(raw, wrong)
	long := metaOf(cda, "text/xml")
	long.Meta.Size++
	bad(raw, long)
	unreadable := metaOf(cda, "text/xml")
	unreadable.Meta.Hash = invalidHash
	bad(raw, unreadable)
	bad(raw, metaOf(cda, "application/pdf")) // announced PDF, got XML

	pdf := docServer(t, cda, "application/pdf", false)
	bad(pdf, app.RemoteDocument{URL: "Binary/b1", Meta: app.DocumentMeta{MediaType: "text/xml"}}) // on demand, wrong type

	octet := docServer(t, cda, "application/octet-stream", false)
	ok(octet, metaOf(cda, "text/xml"))                                                              // hash verified: generic type tolerated
	bad(octet, app.RemoteDocument{URL: "Binary/b1", Meta: app.DocumentMeta{MediaType: "text/xml"}}) // nothing verified

	wrapped := docServer(t, cda, "text/xml", true)
	ok(wrapped, metaOf(cda, "text/xml"))
	wrappedPDF := docServer(t, cda, "application/pdf", true)
	bad(wrappedPDF, metaOf(cda, "text/xml")) // a Binary with the wrong content type
	tampered := docServer(t, append([]byte("x"), cda...), "text/xml", true)
	bad(tampered, metaOf(cda, "text/xml"))
}

// TestGenericServerSearch: a server that ignores _lastUpdated, period and
// type still gives correct results (re-filtered on the client), and OperationOutcome
// warnings in a searchset are ignored.
func TestGenericServerSearch(t *testing.T) {
	old := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	recent := time.Now().UTC().Add(-time.Hour)
	mk := func(uid, typ string, act, upd time.Time, status string) fhir.BundleEntry {
		return fhir.BundleEntry{Resource: fhir.MustWrap(fhir.DocumentReference{ID: uid, Status: status,
			Meta:             &fhir.Meta{VersionID: "1", LastUpdated: fhir.FormatInstant(upd)},
			MasterIdentifier: &fhir.Identifier{Value: "urn:oid:1.2." + uid},
			Type:             &fhir.CodeableConcept{Coding: []fhir.Coding{{System: fhir.SystemLOINC, Code: typ}}},
			Context:          &fhir.DocumentRefContext{Period: &fhir.Period{Start: fhir.FormatInstant(act)}}})}
	}
	c, _ := hostile(t, func(w http.ResponseWriter, r *http.Request) {
		writeFHIR(w, fhir.Bundle{Type: "searchset", Entry: []fhir.BundleEntry{
			{Resource: fhir.MustWrap(fhir.NewOutcome("informational", "parameter _lastUpdated ignored"))},
			mk("1", "11488-4", old, old, "current"),
			mk("2", "11488-4", recent, recent, "current"),
			mk("3", "60591-5", recent, recent, "current"),
			mk("4", "11488-4", recent, recent, "superseded"),
		}})
	})
	ids := func(q app.DocumentQuery) string {
		docs, err := list(t, c, unitAccess(), unitINS, q)
		if err != nil {
			t.Fatal(err)
		}
		var s []string
		for _, d := range docs {
			s = append(s, string(d.Meta.ID))
		}
		return strings.Join(s, ",")
	}
	for q, want := range map[string]struct {
		q    app.DocumentQuery
		want string
	}{
		"all current": {app.DocumentQuery{}, "1.2.1,1.2.2,1.2.3"},
		"act since":   {app.DocumentQuery{ActSince: recent.Add(-time.Minute)}, "1.2.2,1.2.3"},
		"updated":     {app.DocumentQuery{UpdatedSince: recent.Add(-time.Minute)}, "1.2.2,1.2.3"},
		"type":        {app.DocumentQuery{Types: []string{"60591-5"}}, "1.2.3"},
		"both status": {app.DocumentQuery{Statuses: []string{"current", "superseded"}, Types: []string{"11488-4"}}, "1.2.1,1.2.2,1.2.4"},
		"by id":       {app.DocumentQuery{ID: "1.2.2"}, "1.2.2"},
	} {
		if got := ids(want.q); got != want.want {
			t.Errorf("%s: %s, want %s", q, got, want.want)
		}
	}
	_, err := list(t, c, unitAccess(), unitINS, app.DocumentQuery{Types: []string{"a,b"}})
	wantKind(t, err, app.ErrInvalid)
}

// TestSearchURL: the ITI-67 query as sent.
func TestSearchURL(t *testing.T) {
	c, err := New(Config{BaseURL: "https://dmp.example/fhir/", Certificate: issue(t, true).TLSCertificate()})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2024, 11, 26, 0, 0, 0, 0, time.UTC)
	u, _, err := c.searchURL(app.DocumentQuery{ActSince: at, UpdatedSince: at, Types: []string{"11488-4", "REMB"}, ID: "1.2.3", PageSize: 50}, unitINS)
	if err != nil {
		t.Fatal(err)
	}
	want := "https://dmp.example/fhir/DocumentReference?_count=50&_lastUpdated=ge2024-11-26T00%3A00%3A00.000Z&identifier=urn%3Aoid%3A1.2.3&patient.identifier=urn%3Aoid%3A1.2.250.1.213.1.4.10%7C279035121518989&period=ge2024-11-26T00%3A00%3A00.000Z&status=current&type=11488-4%2CREMB"
	if u != want {
		t.Fatalf("\n got %s\nwant %s", u, want)
	}
}

// TestProvideResponseChecked: a transaction-response with a failed entry or
// the wrong number of entries is not taken as success.
func TestProvideResponseChecked(t *testing.T) {
	for name, resp := range map[string]func(n int) fhir.Bundle{
		"short": func(n int) fhir.Bundle { return fhir.Bundle{Type: "transaction-response"} },
		"failed entry": func(n int) fhir.Bundle {
			b := fhir.Bundle{Type: "transaction-response"}
			for i := 0; i < n; i++ {
				b.Entry = append(b.Entry, fhir.BundleEntry{Response: &fhir.EntryResponse{Status: "201 Created"}})
			}
			b.Entry[n-1].Response.Status = "500 Internal Server Error"
			return b
		},
	} {
		t.Run(name, func(t *testing.T) {
			c, _ := hostile(t, func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodGet { // ITI-78: no Patient known
					writeFHIR(w, fhir.Bundle{Type: "searchset"})
					return
				}
				var tx fhir.Bundle
				if err := json.NewDecoder(r.Body).Decode(&tx); err != nil || tx.Type != "transaction" {
					t.Errorf("bad transaction: %v", err)
				}
				writeFHIR(w, resp(len(tx.Entry)))
			})
			_, err := c.Provide(t.Context(), unitAccess(), unitINS, []app.NewDocument{note("1.2.3.4")})
			wantKind(t, err, app.ErrServer)
		})
	}
}

// TestProvideBundleShape: the ITI-65 bundle Carnet sends for a replacement.
func TestProvideBundleShape(t *testing.T) {
	c, err := New(Config{BaseURL: "https://dmp.example/fhir", Certificate: issue(t, true).TLSCertificate()})
	if err != nil {
		t.Fatal(err)
	}
	old := app.RemoteDocument{RemoteID: "old-1", VersionID: "3", Meta: app.DocumentMeta{ID: "1.2.3.1"}}
	nd := note("1.2.3.2")
	nd.Replaces = &old
	nd.Visibility.HiddenFromLegalReps = true
	tx, _, err := c.provideBundle(unitAccess(), unitINS, []app.NewDocument{nd}, time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	kinds := []string{}
	for _, e := range tx.Entry {
		kinds = append(kinds, e.Resource.ResourceType+" "+e.Request.Method+" "+e.Request.URL+" "+e.Request.IfMatch)
	}
	want := `List POST List |DocumentReference POST DocumentReference |Binary POST Binary |Parameters PATCH DocumentReference/old-1 W/"3"`
	if got := strings.Join(kinds, "|"); got != want {
		t.Fatalf("\n got %s\nwant %s", got, want)
	}
	var dr fhir.DocumentReference
	_ = tx.Entry[1].Resource.Decode(&dr)
	sum := sha1.Sum(nd.Content)
	if dr.Replaces() != "DocumentReference/old-1" || dr.Content[0].Attachment.URL != tx.Entry[2].FullURL ||
		dr.Content[0].Attachment.Hash != base64.StdEncoding.EncodeToString(sum[:]) || !dr.HasSecurityLabel(fhir.LabelHiddenLegalReps) ||
		dr.UniqueID() != "urn:oid:1.2.3.2" || dr.Subject.Reference != fhir.PatientRefByINS(unitINS) {
		b, _ := json.MarshalIndent(dr, "", " ")
		t.Fatalf("%s", b)
	}
	var l fhir.List
	_ = tx.Entry[0].Resource.Decode(&l)
	if len(l.Entry) != 1 || l.Entry[0].Item.Reference != tx.Entry[1].FullURL || !l.Code.Has(fhir.SystemMHDListTypes, "submissionset") {
		t.Fatalf("list %+v", l)
	}
	if _, _, err := c.provideBundle(unitAccess(), unitINS, []app.NewDocument{nd, nd}, time.Now(), nil); !errors.Is(err, app.ErrInvalid) {
		t.Fatalf("duplicate uniqueId: %v", err)
	}
}
