package app_test

import (
	"context"
	"testing"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/apptest"
)

// TestImportMailKeepsClass: the class a report carries (XDM classCode) is
// filed with it; a report without one stays unclassified.
func TestImportMailKeepsClass(t *testing.T) {
	ctx := context.Background()
	p := qualified(t)
	store := apptest.NewMailStore(p)
	classed := report(p, "doc-c", "set-c", 1, "<c/>")
	classed.Meta.ClassCode = app.ClassReport
	mb := &fakeMailbox{validity: 1, msgs: []app.Message{
		msg(1, "a@x", classed),
		msg(2, "b@x", report(p, "doc-n", "set-n", 1, "<n/>")),
	}}
	if sum, err := app.ImportMailbox(ctx, store, mb, app.ImportOptions{Account: "bal"}); err != nil || sum.Filed != 2 {
		t.Fatalf("summary %+v, %v", sum, err)
	}
	man, _ := store.Manifest(ctx, p.ID)
	got := map[app.DocumentID]string{}
	for _, d := range man.Documents {
		got[d.ID] = d.ClassCode
	}
	if len(got) != 2 || got["doc-c"] != app.ClassReport || got["doc-n"] != "" {
		t.Fatalf("classes %v", got)
	}
}
