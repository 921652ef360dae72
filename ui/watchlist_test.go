package ui

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
)

// TestHomeShowsTheWatchList: with an empty search, the home screen lists
// tomorrow's operating list and the watched patients with how ready each
// record is offline; typing a search replaces it, erasing brings it back.
func TestHomeShowsTheWatchList(t *testing.T) {
	f := newLockedFixture(t, Options{})
	s := f.unlock()
	ps, err := f.store.Patients(context.Background())
	if err != nil || len(ps) == 0 {
		t.Fatal(err)
	}
	p := ps[0]
	p.Scheduled = f.clock.Now().Add(20 * time.Hour)
	m := app.Manifest{Patient: p.ID, Documents: []app.DocumentMeta{{ID: "a"}, {ID: "b"}}}
	if err := f.store.Write(context.Background(), &app.Batch{Patients: []app.Patient{p}, Manifests: []app.Manifest{m},
		Documents: []app.DocumentContent{{Patient: p.ID, ID: "a", Bytes: []byte("x")}}}); err != nil {
		t.Fatal(err)
	}
	s.search.query.SetText("x")
	f.wait()
	s.search.query.SetText("")
	f.wait()
	v := s.search
	if len(v.results) != 1 || v.results[0].ID != p.ID || !v.heading.Visible() {
		t.Fatalf("watch list not shown: %d results, heading %q", len(v.results), v.heading.Text)
	}
	if !strings.Contains(v.heading.Text, "0 dossier(s) sur 1") || !strings.Contains(v.notes[p.ID], "1/2") {
		t.Errorf("heading %q, note %q", v.heading.Text, v.notes[p.ID])
	}
	f.typeAndWait(v.query, "zz")
	if strings.Contains(v.heading.Text, "dossier") || v.notes != nil {
		t.Error("the watch list stays over search results")
	}
}

// TestWatchListReadinessAfterSync: the home screen's readiness is read
// from the vault again when a sync ends — the prefetch that made a record
// ready shows at once, not "0 ready" until the next search.
func TestWatchListReadinessAfterSync(t *testing.T) {
	f := newLockedFixture(t, Options{})
	s := f.unlock()
	ps, err := f.store.Patients(context.Background())
	if err != nil || len(ps) == 0 {
		t.Fatal(err)
	}
	p := ps[0]
	p.Scheduled = f.clock.Now().Add(20 * time.Hour)
	m := app.Manifest{Patient: p.ID, Documents: []app.DocumentMeta{{ID: "a"}}}
	if err := f.store.Write(context.Background(), &app.Batch{Patients: []app.Patient{p}, Manifests: []app.Manifest{m}}); err != nil {
		t.Fatal(err)
	}
	s.search.query.SetText("x")
	f.wait()
	s.search.query.SetText("")
	f.wait()
	if !strings.Contains(s.search.heading.Text, "0 dossier(s) sur 1") {
		t.Fatalf("before the prefetch: %q", s.search.heading.Text)
	}
	// The sync prefetches the document, then says it is done.
	m.Documents[0].Cached = true
	if err := f.store.Write(context.Background(), &app.Batch{Manifests: []app.Manifest{m},
		Documents: []app.DocumentContent{{Patient: p.ID, ID: "a", Bytes: []byte("x")}}}); err != nil {
		t.Fatal(err)
	}
	s.synced()
	f.wait()
	if !strings.Contains(s.search.heading.Text, "1 dossier(s) sur 1") {
		t.Fatalf("after the sync: %q", s.search.heading.Text)
	}
}
