package xds

import (
	"context"
	"fmt"
	"strings"
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
