package app_test

import (
	"context"
	"errors"
	"os/user"
	"strings"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/apptest"
)

// TestInboxAuditNamesOperator: an import and the inbox decisions taken
// without the card (no practitioner signed in) are audited with the
// operating system user who took them, not an anonymous "local".
func TestInboxAuditNamesOperator(t *testing.T) {
	ctx := context.Background()
	p := qualified(t)
	svc, _ := unlockedService(t, p)
	rep := report(p, "doc-op", "", 0, "<op/>")
	rep.Identity.INS = app.INS{}
	if _, err := importOne(ctx, svc, &fakeMailbox{validity: 1, msgs: []app.Message{msg(1, "op", rep)}}); err != nil {
		t.Fatal(err)
	}
	it := itemBy(t, svc, app.ReasonNoINS)
	openItems(t, svc)
	if err := svc.AttachInboxItem(ctx, it.ID, p.ID); err != nil {
		t.Fatal(err)
	}
	if err := svc.UndoAttach(ctx, it.ID, "mauvais patient, homonyme"); err != nil {
		t.Fatal(err)
	}
	want := "local"
	if u, err := user.Current(); err == nil && u.Username != "" {
		want = "local:" + u.Username
	}
	if app.LocalOperator() != want {
		t.Fatalf("LocalOperator() = %q, want %q", app.LocalOperator(), want)
	}
	evs, err := svc.Audit(ctx, app.AuditFilter{Action: "mail."})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range evs {
		if e.Action != "mail.import" && e.Action != "mail.read" && e.Action != "mail.attach" && e.Action != "mail.attach.undo" {
			continue
		}
		seen[e.Action] = true
		if e.Practitioner != want {
			t.Errorf("%s audited as %q, want %q", e.Action, e.Practitioner, want)
		}
	}
	if !seen["mail.import"] || !seen["mail.attach"] || !seen["mail.attach.undo"] {
		t.Fatalf("import, attach and undo not all audited: %+v", evs)
	}
}

// TestUndoAttachRefusedWhenGoneOn: the 7-day undo of a manual attach is
// refused, with an *UndoError saying why, once the document went on: sent
// to the central service (it has a remote id), queued in the outbox (a
// change of it waits), or replaced by a newer version. Nothing changes in
// the record; the refusal is audited.
func TestUndoAttachRefusedWhenGoneOn(t *testing.T) {
	cases := []struct {
		name string
		// after the attach of doc-m (set set-m, version 2)
		change func(t *testing.T, ctx context.Context, svc *app.Service, store *apptest.Store, p app.Patient)
		want   app.UndoRefusal
	}{
		{"pushed", func(t *testing.T, ctx context.Context, svc *app.Service, store *apptest.Store, p app.Patient) {
			man, err := store.Manifest(ctx, p.ID)
			if err != nil {
				t.Fatal(err)
			}
			for i := range man.Documents {
				if man.Documents[i].ID == "doc-m" {
					man.Documents[i].RemoteID, man.Documents[i].VersionID = "dr-1", "1"
				}
			}
			if err := store.Write(ctx, &app.Batch{Manifests: []app.Manifest{man}}); err != nil {
				t.Fatal(err)
			}
		}, app.UndoPushed},
		{"queued", func(t *testing.T, ctx context.Context, svc *app.Service, store *apptest.Store, p app.Patient) {
			it := app.OutboxItem{ID: "chg-1", Patient: p.ID, Kind: app.OutboxMetadata, State: app.OutboxPending, Target: "doc-m", CreatedAt: time.Now()}
			if err := store.Write(ctx, &app.Batch{Outbox: []app.OutboxItem{it}}); err != nil {
				t.Fatal(err)
			}
		}, app.UndoPushed},
		{"replaced", func(t *testing.T, ctx context.Context, svc *app.Service, store *apptest.Store, p app.Patient) {
			v3 := report(p, "doc-m3", "set-m", 3, "<v3/>")
			if _, err := importOne(ctx, svc, &fakeMailbox{validity: 1, msgs: []app.Message{msg(9, "m3", v3)}}); err != nil {
				t.Fatal(err)
			}
		}, app.UndoReplaced},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			p := qualified(t)
			svc, store := unlockedService(t, p)
			rep := report(p, "doc-m", "set-m", 2, "<m/>")
			rep.Identity.INS = app.INS{}
			if _, err := importOne(ctx, svc, &fakeMailbox{validity: 1, msgs: []app.Message{msg(1, "m", rep)}}); err != nil {
				t.Fatal(err)
			}
			it := itemBy(t, svc, app.ReasonNoINS)
			openItems(t, svc)
			if err := svc.AttachInboxItem(ctx, it.ID, p.ID); err != nil {
				t.Fatal(err)
			}
			tc.change(t, ctx, svc, store, p)
			err := svc.UndoAttach(ctx, it.ID, "mauvais patient, homonyme")
			var ue *app.UndoError
			if !errors.As(err, &ue) || ue.Reason != tc.want || !errors.Is(err, app.ErrConflict) {
				t.Fatalf("undo: %v, want an UndoError %q", err, tc.want)
			}
			man, _ := svc.CachedManifest(ctx, p.ID)
			if _, ok := man.Document("doc-m"); !ok {
				t.Fatalf("the refused undo removed the document: %+v", man.Documents)
			}
			if _, err := store.Document(ctx, p.ID, "doc-m"); err != nil {
				t.Fatalf("the refused undo removed the content: %v", err)
			}
			if back := itemBy(t, svc, app.ReasonNoINS); back.State != app.InboxAttached {
				t.Fatalf("item state %q after a refused undo", back.State)
			}
			evs, _ := svc.Audit(ctx, app.AuditFilter{Action: "mail.attach.undo"})
			if len(evs) != 1 || evs[0].Result != app.ErrConflict.Error() || strings.Contains(evs[0].Detail, "homonyme") {
				t.Fatalf("refusal audit %+v", evs)
			}
		})
	}
}
