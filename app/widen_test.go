package app_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/apptest"
)

func TestWidenRecord(t *testing.T) {
	ctx := context.Background()
	recent := remoteDoc("d-recent", serverNow.AddDate(0, -2, 0), serverNow.Add(-time.Hour))
	old := remoteDoc("d-old", serverNow.AddDate(-5, 0, 0), serverNow.AddDate(-5, 0, 0))
	rec := &apptest.Records{
		FindPatientFn: func(app.Access, app.INS) (app.RecordStatus, error) {
			return app.RecordStatus{Exists: true, Authorization: app.AuthorizationGranted, ServerTime: serverNow}, nil
		},
		ListDocumentsFn: func(_ app.Access, _ app.INS, q app.DocumentQuery) ([]app.RemoteDocument, error) {
			if q.ActSince.IsZero() {
				return []app.RemoteDocument{recent, old}, nil
			}
			return []app.RemoteDocument{recent}, nil
		},
	}
	svc, store, _ := signedIn(t, rec)
	opened, err := svc.OpenPatient(ctx, "p1", app.AccessNormal, "")
	if err != nil {
		t.Fatal(err)
	}
	if w, err := svc.RecordWindow(ctx, "p1"); err != nil || !w.Limited() {
		t.Fatalf("window after a first open = %+v, %v; want limited", w, err)
	}

	r, err := svc.WidenRecord(ctx, "p1", app.Access{Mode: app.AccessNormal}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if q := rec.Last("ListDocuments").(app.DocumentQuery); !q.ActSince.IsZero() || !q.UpdatedSince.IsZero() {
		t.Errorf("widen query %+v, want every act date", q)
	}
	if len(r.Manifest.Documents) != 2 || r.Manifest.Documents[1].ID != "d-old" {
		t.Fatalf("widened manifest %+v, want the old document added after the recent one", r.Manifest.Documents)
	}
	if !r.CheckedAt.Equal(opened.CheckedAt) {
		t.Errorf("widen changed the last check: %v, want %v", r.CheckedAt, opened.CheckedAt)
	}
	if m, _ := store.Manifest(ctx, "p1"); len(m.Documents) != 2 {
		t.Errorf("stored manifest has %d documents, want 2", len(m.Documents))
	}
	if w, _ := svc.RecordWindow(ctx, "p1"); w.Limited() {
		t.Errorf("window after a full widen = %+v, want full", w)
	}
	// A narrower widen afterwards keeps the full window.
	if _, err := svc.WidenRecord(ctx, "p1", app.Access{Mode: app.AccessNormal}, serverNow.AddDate(-3, 0, 0)); err != nil {
		t.Fatal(err)
	}
	if w, _ := svc.RecordWindow(ctx, "p1"); w.Limited() {
		t.Errorf("window after a narrower widen = %+v, want still full", w)
	}
	// The delta cursor is unchanged: the next open asks for changes only.
	if _, err := svc.OpenPatient(ctx, "p1", app.AccessNormal, ""); err != nil {
		t.Fatal(err)
	}
	if q := rec.Last("ListDocuments").(app.DocumentQuery); q.UpdatedSince.IsZero() {
		t.Errorf("open after widen = %+v, want a delta query", q)
	}
	found := false
	for _, e := range store.Events() {
		if e.Action == "dmp.iti67" && e.Patient == "p1" {
			found = true
		}
	}
	if !found {
		t.Error("widen not audited")
	}
}

func TestWidenRecordAccess(t *testing.T) {
	ctx := context.Background()
	rec := &apptest.Records{}
	svc, _, _ := signedIn(t, rec)
	if _, err := svc.WidenRecord(ctx, "p1", app.Access{Mode: app.AccessEmergency}, time.Time{}); app.Denial(err) != app.DeniedJustification {
		t.Fatalf("widen in bris de glace without justification = %v", err)
	}
	if rec.Calls("ListDocuments") != 0 {
		t.Fatal("the service was called with an invalid access context")
	}
	just := "patient inconscient aux urgences"
	if _, err := svc.WidenRecord(ctx, "p1", app.Access{Mode: app.AccessEmergency, Justification: just}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if acc := rec.Last("FindPatient"); acc != nil {
		t.Errorf("widen asked FindPatient: %v", acc)
	}
	rec.ListDocumentsFn = func(app.Access, app.INS, app.DocumentQuery) ([]app.RemoteDocument, error) {
		return nil, &net503{}
	}
	if _, err := svc.WidenRecord(ctx, "p1", app.Access{Mode: app.AccessNormal}, time.Time{}); !errors.Is(err, app.ErrOffline) {
		t.Fatalf("widen offline = %v, want ErrOffline", err)
	}
	svc.SignOut()
	if _, err := svc.WidenRecord(ctx, "p1", app.Access{Mode: app.AccessNormal}, time.Time{}); !errors.Is(err, app.ErrCredential) {
		t.Fatalf("widen signed out = %v, want ErrCredential", err)
	}
}
