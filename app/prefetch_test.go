package app_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/apptest"
)

func TestPrefetch(t *testing.T) {
	ctx := context.Background()
	var docs []app.RemoteDocument
	for i := 0; i < 6; i++ {
		d := remoteDoc(fmt.Sprintf("d%d", i), serverNow.AddDate(0, -i, 0), serverNow)
		d.Meta.Size = 100
		docs = append(docs, d)
	}
	docs[5].Status = "superseded"
	rec := &apptest.Records{
		ListDocumentsFn: func(app.Access, app.INS, app.DocumentQuery) ([]app.RemoteDocument, error) { return docs, nil },
		RetrieveFn: func(_ app.Access, _ app.INS, d app.RemoteDocument) ([]byte, error) {
			if d.Meta.ID == "d2" {
				return nil, fmt.Errorf("dmp: retrieve: %w", app.ErrIntegrity)
			}
			return make([]byte, 100), nil
		},
	}
	svc, store, _ := signedIn(t, rec)
	if _, err := svc.OpenPatient(ctx, "p1", app.AccessNormal, ""); err != nil {
		t.Fatal(err)
	}
	// d0 already cached: not fetched again.
	if _, err := svc.Document(ctx, "p1", "d0", app.Access{}); err != nil {
		t.Fatal(err)
	}
	var calls []string
	res, err := svc.Prefetch(ctx, "p1", app.Access{Mode: app.AccessNormal}, 250, func(done, total int) {
		calls = append(calls, fmt.Sprintf("%d/%d", done, total))
	})
	if err != nil {
		t.Fatal(err)
	}
	// To do: d1..d4 (d0 cached, d5 superseded); budget 250 B: d1, d2 (fails), d3, then d4 over budget.
	if res.Fetched != 2 || res.Skipped != 2 || !errors.Is(res.Err, app.ErrIntegrity) {
		t.Fatalf("prefetch = %+v", res)
	}
	if fmt.Sprint(calls) != "[1/4 2/4 3/4]" {
		t.Errorf("progress %v", calls)
	}
	for _, id := range []app.DocumentID{"d1", "d3"} {
		if _, err := store.Document(ctx, "p1", id); err != nil {
			t.Errorf("%s not cached: %v", id, err)
		}
	}
	if _, err := store.Document(ctx, "p1", "d2"); !errors.Is(err, app.ErrNotFound) {
		t.Error("a failed retrieval was cached")
	}
}

func TestPrefetchStopsOffline(t *testing.T) {
	ctx := context.Background()
	rec := &apptest.Records{
		ListDocumentsFn: func(app.Access, app.INS, app.DocumentQuery) ([]app.RemoteDocument, error) {
			return []app.RemoteDocument{remoteDoc("a", serverNow, serverNow), remoteDoc("b", serverNow.Add(-time.Hour), serverNow)}, nil
		},
		RetrieveFn: func(app.Access, app.INS, app.RemoteDocument) ([]byte, error) { return nil, &net503{} },
	}
	svc, _, _ := signedIn(t, rec)
	if _, err := svc.OpenPatient(ctx, "p1", app.AccessNormal, ""); err != nil {
		t.Fatal(err)
	}
	res, err := svc.Prefetch(ctx, "p1", app.Access{}, 0, nil)
	if !errors.Is(err, app.ErrOffline) || rec.Calls("Retrieve") != 1 || res.Skipped != 2 {
		t.Fatalf("prefetch offline = %+v, %v (%d retrievals)", res, err, rec.Calls("Retrieve"))
	}
}

func TestPrefetchGivesUpAfterRepeatedFailures(t *testing.T) {
	ctx := context.Background()
	var docs []app.RemoteDocument
	for i := 0; i < 50; i++ {
		docs = append(docs, remoteDoc(fmt.Sprintf("d%02d", i), serverNow.Add(-time.Duration(i)*time.Hour), serverNow))
	}
	rec := &apptest.Records{
		ListDocumentsFn: func(app.Access, app.INS, app.DocumentQuery) ([]app.RemoteDocument, error) { return docs, nil },
		RetrieveFn: func(app.Access, app.INS, app.RemoteDocument) ([]byte, error) {
			return nil, fmt.Errorf("dmp: retrieve: %w", app.ErrServer)
		},
	}
	svc, _, _ := signedIn(t, rec)
	if _, err := svc.OpenPatient(ctx, "p1", app.AccessNormal, ""); err != nil {
		t.Fatal(err)
	}
	res, err := svc.Prefetch(ctx, "p1", app.Access{}, 0, nil)
	if !errors.Is(err, app.ErrServer) || rec.Calls("Retrieve") != 5 || res.Skipped != 50 {
		t.Fatalf("prefetch = %+v, %v after %d retrievals; want a stop after 5 failures in a row", res, err, rec.Calls("Retrieve"))
	}
}
