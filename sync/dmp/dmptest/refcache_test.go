package dmptest

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/carnetdesk/carnet/sync/dmp/fhir"
)

// The package's tests check every cached DocumentReference against a fresh
// rendering (refBytes panics on a change of Ref that forgot doc.changed).
func init() { verifyRefCache = true }

// TestSearchsetJSON: a page written from cached resources is byte for byte
// what json.Marshal gives for the same fhir.Bundle.
func TestSearchsetJSON(t *testing.T) {
	sb := start(t, Options{Patients: 1, Fixed: []FixedPatient{{Docs: 12}}})
	var docs []*doc
	sb.withRecord(sb.Fixed()[0].INS, func(rec *record) { docs = append(docs, rec.Docs...) })
	if len(docs) == 0 {
		t.Fatal("no documents")
	}
	// characters json.Marshal escapes, in a resource and in a URL
	docs[0].Ref.Description = `<b>&"é"</b>` + "\u2028"
	docs[0].changed()
	for _, n := range []int{0, 1, len(docs)} {
		b := fhir.Bundle{Type: "searchset", Total: ptr(len(docs)), Link: []fhir.BundleLink{
			{Relation: "self", URL: "https://h/fhir/DocumentReference?a=1&b=<2>"}, {Relation: "next", URL: "https://h/x?_cursor=z"}}}
		var entries []pageEntry
		want := b
		for _, d := range docs[:n] {
			loc := "https://h/fhir/DocumentReference/" + d.Ref.ID + "?&<>"
			entries = append(entries, pageEntry{fullURL: loc, resource: d.refBytes()})
			want.Entry = append(want.Entry, fhir.BundleEntry{FullURL: loc, Resource: fhir.MustWrap(d.Ref), Search: &fhir.EntrySearch{Mode: "match"}})
		}
		got, err := searchsetJSON(b, entries)
		if err != nil {
			t.Fatal(err)
		}
		wantJSON, err := json.Marshal(want)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, wantJSON) {
			t.Fatalf("%d entries:\n%s\nwant\n%s", n, got, wantJSON)
		}
	}
}
