package xds

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/sync/dmp/dmptest"
)

// requestsOf counts the recorded requests whose body names the stored
// query id.
func (e *env) requestsOf(queryID string, also ...string) int {
	e.rec.mu.Lock()
	defer e.rec.mu.Unlock()
	n := 0
	for _, m := range e.rec.msgs {
		if strings.HasPrefix(m.what, "request") && strings.Contains(string(m.body), `id="`+queryID+`"`) &&
			(len(also) == 0 || strings.Contains(string(m.body), also[0])) {
			n++
		}
	}
	return n
}

// The EEDS delta pattern: a listing with UpdatedSince asks for the
// submission sets registered since then (FindSubmissionSets), their
// members (GetAssociations), then the documents in batches of 20
// (GetDocumentsAndAssociations), and sees new documents, replacements (with
// the uniqueId they replace, resolved by GetDocuments by entryUUID: the
// replaced entry is no member of a new submission set) and metadata updates, each uniqueId once,
// nothing that did not change. Every message passes the official schemas.
func TestDeltaEEDS(t *testing.T) {
	needRef(t)
	e := newEnv(t, dmptest.KeyGP)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	p := e.patient(t, func(exists, closed, authorised, blocked bool) bool {
		return exists && !closed && authorised && !blocked
	})
	list := func(q app.DocumentQuery) map[app.DocumentID]app.RemoteDocument {
		t.Helper()
		out := map[app.DocumentID]app.RemoteDocument{}
		if err := e.client.ListDocuments(ctx, e.acc, p.INS, q, func(page []app.RemoteDocument) error {
			for _, d := range page {
				if _, dup := out[d.Meta.ID]; dup {
					t.Fatalf("uniqueId %s listed twice", d.Meta.ID)
				}
				out[d.Meta.ID] = d
			}
			return nil
		}); err != nil {
			t.Fatalf("list %+v: %v", q, err)
		}
		return out
	}
	all := list(app.DocumentQuery{})
	if len(all) == 0 {
		t.Fatal("no documents")
	}
	since := time.Now().Add(-time.Second)
	time.Sleep(1100 * time.Millisecond) // the query's precision is the second
	if got := list(app.DocumentQuery{UpdatedSince: since.Add(time.Second)}); len(got) != 0 {
		t.Fatalf("nothing changed, the delta lists %d documents", len(got))
	}
	if n := e.requestsOf(QueryGetAssociations); n != 0 {
		t.Fatalf("no submission set, yet %d GetAssociations", n)
	}

	// 25 new documents (more than one batch), one replacement, one mask.
	var news []app.NewDocument
	for i := 0; i < 25; i++ {
		news = append(news, app.NewDocument{Meta: app.DocumentMeta{ID: app.DocumentID(fmt.Sprintf("1.2.250.1.999.1.1.9%02d", i)), TypeCode: "11506-3",
			Title: "Note", Date: time.Now().Add(-time.Hour), MediaType: "text/xml"}, Content: []byte(fmt.Sprintf("<ClinicalDocument>%d</ClinicalDocument>", i))})
	}
	pr, err := e.client.Provide(ctx, e.acc, p.INS, news)
	if err != nil || len(pr.Documents) != len(news) {
		t.Fatalf("provide: %d, %v", len(pr.Documents), err)
	}
	// Replace a document that was there before (its entry is not part of
	// the delta's submission sets only if it did not change: it did, it
	// became Deprecated; asked for current only, the delta must still name
	// the uniqueId it replaces).
	var mine app.RemoteDocument
	for _, d := range list(app.DocumentQuery{}) {
		if strings.HasPrefix(string(d.Meta.ID), "1.2.250.1.999.1.1.9") {
			mine = d
			break
		}
	}
	repl := app.NewDocument{Meta: app.DocumentMeta{ID: "1.2.250.1.999.1.1.800", TypeCode: "11506-3", Title: "Note v2",
		Date: time.Now().Add(-time.Hour), MediaType: "text/xml"}, Content: []byte("<ClinicalDocument>v2</ClinicalDocument>"), Replaces: &mine}
	if _, err := e.client.Provide(ctx, e.acc, p.INS, []app.NewDocument{repl}); err != nil {
		t.Fatalf("replace: %v", err)
	}
	var other app.RemoteDocument
	for _, d := range list(app.DocumentQuery{}) {
		if strings.HasPrefix(string(d.Meta.ID), "1.2.250.1.999.1.1.9") && d.Meta.ID != mine.Meta.ID {
			other = d
			break
		}
	}
	if _, err := e.client.UpdateMetadata(ctx, e.acc, p.INS, other, app.MetadataChange{Visibility: &app.Visibility{MaskedToProfessionals: true}}); err != nil {
		t.Fatalf("mask: %v", err)
	}

	before := e.requestsOf(QueryGetDocumentsAndAssociations)
	byUUID := e.requestsOf(QueryGetDocuments, "$XDSDocumentEntryEntryUUID")
	got := list(app.DocumentQuery{UpdatedSince: since, Statuses: []string{"current"}})
	// The replaced entry is no member of the delta's submission sets (a
	// status change is not a submission): its uniqueId came from one
	// GetDocuments by entryUUID.
	if n := e.requestsOf(QueryGetDocuments, "$XDSDocumentEntryEntryUUID") - byUUID; n != 1 {
		t.Fatalf("%d GetDocuments by entryUUID to resolve the replaced version, want 1", n)
	}
	if n := e.requestsOf(QueryGetDocumentsAndAssociations) - before; n != 2 {
		t.Fatalf("%d GetDocumentsAndAssociations for 26 changed documents, want 2 (batches of %d)", n, DeltaBatch)
	}
	if len(got) != 25 { // 24 new + the replacement (the replaced one is no longer current)
		t.Fatalf("the delta lists %d current documents, want 25", len(got))
	}
	for id := range all {
		if _, ok := got[id]; ok {
			t.Fatalf("the delta lists %s, which did not change", id)
		}
	}
	if r, ok := got[repl.Meta.ID]; !ok || r.Replaces != mine.Meta.ID {
		t.Fatalf("the replacement reads %+v, want it to replace %s", r, mine.Meta.ID)
	}
	if m, ok := got[other.Meta.ID]; !ok || !m.Visibility.MaskedToProfessionals {
		t.Fatalf("the masked document reads %+v", m)
	}
	// A replacement of the replacement, later: the chain is followed.
	later := time.Now()
	time.Sleep(1100 * time.Millisecond)
	repl2 := app.NewDocument{Meta: app.DocumentMeta{ID: "1.2.250.1.999.1.1.801", TypeCode: "11506-3", Title: "Note v3",
		Date: time.Now().Add(-time.Hour), MediaType: "text/xml"}, Content: []byte("<ClinicalDocument>v3</ClinicalDocument>")}
	cur := got[repl.Meta.ID]
	repl2.Replaces = &cur
	if _, err := e.client.Provide(ctx, e.acc, p.INS, []app.NewDocument{repl2}); err != nil {
		t.Fatalf("replace again: %v", err)
	}
	if r, ok := list(app.DocumentQuery{UpdatedSince: later, Statuses: []string{"current"}})[repl2.Meta.ID]; !ok || r.Replaces != repl.Meta.ID {
		t.Fatalf("the second replacement reads %+v, want it to replace %s", r, repl.Meta.ID)
	}
	e.checkSchemas(t)
}

// The delta against a scripted registry: hostile or failing answers at each
// step give a clear error and no page (nothing half-listed reaches the app).
func TestDeltaHostile(t *testing.T) {
	const (
		soapNS  = `xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://www.w3.org/2005/08/addressing"`
		rimNS   = `xmlns:query="urn:oasis:names:tc:ebxml-regrep:xsd:query:3.0" xmlns:rim="urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0" xmlns:rs="urn:oasis:names:tc:ebxml-regrep:xsd:rs:3.0"`
		success = `status="urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Success"`
	)
	list := func(inner string) string {
		return `<query:AdhocQueryResponse ` + rimNS + ` ` + success + `><rim:RegistryObjectList>` + inner + `</rim:RegistryObjectList></query:AdhocQueryResponse>`
	}
	failure := `<query:AdhocQueryResponse ` + rimNS + ` status="urn:ihe:iti:2007:ResponseStatusType:PartialSuccess"><rs:RegistryErrorList><rs:RegistryError errorCode="XDSRegistryError" severity="urn:oasis:names:tc:ebxml-regrep:ErrorSeverityType:Error"/></rs:RegistryErrorList></query:AdhocQueryResponse>`
	entry := func(uuid, pid string) string {
		return `<rim:ExtrinsicObject id="` + uuid + `" status="` + StatusApproved + `" objectType="` + ObjectTypeDocumentEntry + `">` +
			`<rim:ExternalIdentifier identificationScheme="` + IdentifierDEPatientID + `" value="` + strings.ReplaceAll(pid, "&", "&amp;") + `"/>` +
			`<rim:ExternalIdentifier identificationScheme="` + IdentifierDEUniqueID + `" value="1.2.3.` + uuid[len(uuid)-2:] + `"/></rim:ExtrinsicObject>`
	}
	hasMember := func(set, target string) string {
		return `<rim:Association id="urn:uuid:a` + target[len(target)-2:] + `" associationType="` + AssocHasMember + `" sourceObject="` + set + `" targetObject="` + target + `"/>`
	}
	me := PatientID(testINS)
	members := func(n int, set string) string {
		var b strings.Builder
		for i := 0; i < n; i++ {
			b.WriteString(hasMember(set, fmt.Sprintf("urn:uuid:00000000-0000-0000-0000-0000000000%02d", i)))
		}
		return b.String()
	}
	docs := func(body string) string {
		var b strings.Builder
		for _, m := range regexp.MustCompile(`urn:uuid:0{8}-0{4}-0{4}-0{4}-0{10}\d\d`).FindAllString(body, -1) {
			b.WriteString(entry(m, me))
		}
		return list(b.String())
	}
	for _, tc := range []struct {
		name string
		// answer returns the response body of the n-th request of query id.
		answer func(id string, n int, req string) string
		want   error
		pages  int
	}{
		{"an entry of another patient", func(id string, n int, req string) string {
			switch id {
			case QueryFindSubmissionSets:
				return list(`<rim:ObjectRef id="urn:uuid:ss"/>`)
			case QueryGetAssociations:
				return list(members(1, "urn:uuid:ss"))
			}
			return list(entry("urn:uuid:00000000-0000-0000-0000-000000000000", "999^^^&1.2.250.1.213.1.4.10&ISO^NH"))
		}, app.ErrIntegrity, 0},
		{"GetAssociations fails", func(id string, n int, req string) string {
			if id == QueryFindSubmissionSets {
				return list(`<rim:ObjectRef id="urn:uuid:ss"/>`)
			}
			return failure
		}, app.ErrServer, 0},
		{"the second batch fails", func(id string, n int, req string) string {
			switch id {
			case QueryFindSubmissionSets:
				return list(`<rim:ObjectRef id="urn:uuid:ss"/>`)
			case QueryGetAssociations:
				return list(members(30, "urn:uuid:ss"))
			}
			if n > 0 {
				return failure
			}
			return docs(req)
		}, app.ErrServer, 0},
		{"members of a set not asked for are ignored", func(id string, n int, req string) string {
			switch id {
			case QueryFindSubmissionSets:
				return list(`<rim:ObjectRef id="urn:uuid:ss"/>`)
			case QueryGetAssociations:
				return list(members(3, "urn:uuid:other"))
			}
			t.Error("documents asked for members of another set")
			return failure
		}, nil, 1},
		{"30 members, two batches, each once", func(id string, n int, req string) string {
			switch id {
			case QueryFindSubmissionSets:
				return list(`<rim:ObjectRef id="urn:uuid:ss"/>`)
			case QueryGetAssociations:
				return list(members(30, "urn:uuid:ss") + members(30, "urn:uuid:ss"))
			}
			if n > 1 {
				t.Errorf("batch %d", n)
			}
			return docs(req)
		}, nil, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			counts := map[string]int{}
			var mu sync.Mutex
			qid := regexp.MustCompile(`AdhocQuery id="([^"]+)"`)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				mid, id := messageIDRE.FindSubmatch(b), qid.FindSubmatch(b)
				if mid == nil || id == nil {
					t.Error("not a stored query")
					return
				}
				mu.Lock()
				n := counts[string(id[1])]
				counts[string(id[1])]++
				mu.Unlock()
				w.Header().Set("Content-Type", "application/soap+xml")
				_, _ = io.WriteString(w, `<s:Envelope `+soapNS+`><s:Header><a:Action s:mustUnderstand="true">`+ActionRegistryStoredQueryResponse+
					`</a:Action><a:RelatesTo>`+string(mid[1])+`</a:RelatesTo></s:Header><s:Body>`+tc.answer(string(id[1]), n, string(b))+`</s:Body></s:Envelope>`)
			}))
			defer srv.Close()
			s, _, _ := testSigner(t)
			cl, err := New(Config{BaseURL: srv.URL, HTTP: srv.Client(), Signer: s, SourceOID: "1.2.3", Software: Software{Name: "Carnet", Homologation: "X"}})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			pages, listed := 0, 0
			err = cl.ListDocuments(ctx, app.Access{Practitioner: testPractitioner, Mode: app.AccessNormal}, testINS,
				app.DocumentQuery{UpdatedSince: time.Now().Add(-time.Hour)}, func(d []app.RemoteDocument) error { pages++; listed += len(d); return nil })
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if pages != tc.pages {
				t.Fatalf("%d pages, want %d", pages, tc.pages)
			}
			if tc.name == "30 members, two batches, each once" && (listed != 30 || counts[QueryGetDocumentsAndAssociations] != 2) {
				t.Fatalf("%d documents in %d batches, want 30 in 2", listed, counts[QueryGetDocumentsAndAssociations])
			}
		})
	}
}
