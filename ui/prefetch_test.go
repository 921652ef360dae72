package ui

import (
	"context"
	"testing"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/apptest"
)

// TestRecordPrefetchesForOffline: opening a record online fetches, in the
// background, the documents not cached yet, so that the record reads
// offline afterwards; the progress shows and goes away.
func TestRecordPrefetchesForOffline(t *testing.T) {
	f := newLockedFixture(t, Options{})
	s := f.unlock()
	docs := testDocuments(6)
	f.seedDocuments("p1", docs, testNow)
	if err := f.store.Write(context.Background(), &app.Batch{Cursors: []app.Cursor{{Patient: "p1", Stream: "documents", Time: testNow}}}); err != nil {
		t.Fatal(err)
	}
	rec := &apptest.Records{RetrieveFn: func(_ app.Access, _ app.INS, d app.RemoteDocument) ([]byte, error) {
		return []byte("<ClinicalDocument/>"), nil
	}}
	f.signIn(testDoctor, rec)
	r := f.openRecord(s, "mart")
	f.wait()
	if r.fetching.running() {
		t.Fatal("prefetch still running after the background work finished")
	}
	for _, d := range docs {
		if d.Superseded {
			continue
		}
		if _, err := f.store.Document(context.Background(), "p1", d.ID); err != nil {
			t.Errorf("%s not kept for offline reading: %v", d.ID, err)
		}
	}
	if rec.Calls("Retrieve") == 0 {
		t.Fatal("nothing retrieved")
	}
}
