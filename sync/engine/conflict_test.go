package engine_test

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/sync/dmp/dmptest"
)

// TestConcurrentEditConflict: a note replaced offline on this desk while
// another desk (same practitioner) replaced it: the item goes to conflict,
// both versions are kept (the draft in the outbox, the server's version
// and its content next to it), and each resolution does what it says.
func TestConcurrentEditConflict(t *testing.T) {
	sb := dmptest.NewTLS(t, dmptest.Options{Patients: 40, Seed: 9})
	rs, pr := client(t, sb, dmptest.KeyGP)
	other, _ := client(t, sb, dmptest.KeyGP) // the other desk
	acc := app.Access{Practitioner: pr, Mode: app.AccessNormal}
	v, _ := newVault(t, nil)
	p := watch(t, v, time.Now(), qualified(sb, pr.RPPS, 1)...)[0]
	eng := newEngine(t, v, rs, pr, nil)

	for k, res := range []app.Resolution{app.KeepBoth, app.ReplaceAfterReview, app.DiscardMine} {
		t.Run(string(res), func(t *testing.T) {
			// A note, pushed and acknowledged.
			note := noteItem(p, 100*k, time.Now())
			if err := v.Write(ctx, &app.Batch{Outbox: []app.OutboxItem{note}}); err != nil {
				t.Fatal(err)
			}
			if sum, err := eng.Once(ctx); err != nil || sum.Pushed != 1 {
				t.Fatalf("%v %+v", err, sum)
			}
			m, _ := v.Manifest(ctx, p.ID)
			sent, ok := m.Document(app.DocumentID(note.ID))
			if !ok {
				t.Fatal("note not in the record")
			}
			// This desk replaces it offline…
			mine := noteItem(p, 100*k+1, time.Now())
			mine.Kind, mine.Replaces, mine.BaseVersion = app.OutboxReplace, sent.ID, sent.VersionID
			mine.Payload = []byte("<ClinicalDocument>mine</ClinicalDocument>")
			if err := v.Write(ctx, &app.Batch{Outbox: []app.OutboxItem{mine}}); err != nil {
				t.Fatal(err)
			}
			// …while the other desk replaced it first.
			theirs := noteItem(p, 100*k+2, time.Now())
			theirContent := []byte(fmt.Sprintf("<ClinicalDocument>theirs %d</ClinicalDocument>", k))
			old := app.RemoteDocument{Meta: sent, RemoteID: sent.RemoteID, VersionID: sent.VersionID, URL: sent.URL}
			if _, err := other.Provide(ctx, acc, p.INS, []app.NewDocument{{Meta: theirs.Meta, Content: theirContent, Replaces: &old}}); err != nil {
				t.Fatal(err)
			}
			sum, err := eng.Once(ctx)
			if err != nil || sum.Conflicts != 1 || sum.Pushed != 0 {
				t.Fatalf("%v %+v", err, sum)
			}
			out, _ := v.Outbox(ctx)
			if len(out) != 1 || out[0].State != app.OutboxConflict {
				t.Fatalf("outbox %+v", out)
			}
			it := out[0]
			if !bytes.Equal(it.Payload, mine.Payload) || it.Server == nil || it.Server.Meta.ID != theirs.Meta.ID || !bytes.Equal(it.ServerContent, theirContent) {
				t.Fatalf("both versions not kept: server %+v", it.Server)
			}
			// Never auto-discarded: another cycle leaves it waiting.
			if sum, _ := eng.Once(ctx); sum.Conflicts != 1 {
				t.Fatalf("%+v", sum)
			}
			if res == app.DiscardMine {
				if err := eng.Resolve(ctx, it.ID, res, false); !errors.Is(err, app.ErrInvalid) {
					t.Fatalf("discard without confirmation: %v", err)
				}
			}
			if err := eng.Resolve(ctx, it.ID, res, true); err != nil {
				t.Fatal(err)
			}
			sum, err = eng.Once(ctx)
			if err != nil || sum.Conflicts != 0 {
				t.Fatalf("%v %+v", err, sum)
			}
			if out, _ := v.Outbox(ctx); len(out) != 0 {
				t.Fatalf("outbox %+v", out)
			}
			server := serverDocs(t, rs, pr, p, time.Time{})
			mineOn, ok := server[app.DocumentID(mine.ID)]
			switch res {
			case app.KeepBoth:
				if !ok || mineOn.Replaces != "" || server[theirs.Meta.ID].Status != "current" {
					t.Fatalf("keep both: mine %+v", mineOn)
				}
			case app.ReplaceAfterReview:
				if !ok || mineOn.Replaces != theirs.Meta.ID || server[theirs.Meta.ID].Status != "superseded" {
					t.Fatalf("replace: mine %+v theirs %s", mineOn, server[theirs.Meta.ID].Status)
				}
			case app.DiscardMine:
				if ok || server[theirs.Meta.ID].Status != "current" {
					t.Fatal("discard: the draft reached the server")
				}
			}
			mustCheck(t, v)
		})
	}
}

// TestMetadataConflict: a visibility change written against a version
// the service has since changed gets 412: conflict, resolved by
// re-applying it on the reviewed version.
func TestMetadataConflict(t *testing.T) {
	sb := dmptest.NewTLS(t, dmptest.Options{Patients: 40, Seed: 9})
	rs, pr := client(t, sb, dmptest.KeyGP)
	acc := app.Access{Practitioner: pr, Mode: app.AccessNormal}
	v, _ := newVault(t, nil)
	p := watch(t, v, time.Now(), qualified(sb, pr.RPPS, 1)...)[0]
	eng := newEngine(t, v, rs, pr, nil)
	note := noteItem(p, 1, time.Now())
	_ = v.Write(ctx, &app.Batch{Outbox: []app.OutboxItem{note}})
	if sum, err := eng.Once(ctx); err != nil || sum.Pushed != 1 {
		t.Fatalf("%v %+v", err, sum)
	}
	m, _ := v.Manifest(ctx, p.ID)
	sent, _ := m.Document(app.DocumentID(note.ID))
	hide := app.Visibility{HiddenFromPatient: true}
	ch := noteItem(p, 2, time.Now())
	ch.Kind, ch.Target, ch.BaseVersion, ch.Change, ch.Payload = app.OutboxMetadata, sent.ID, sent.VersionID, &app.MetadataChange{Visibility: &hide}, nil
	_ = v.Write(ctx, &app.Batch{Outbox: []app.OutboxItem{ch}})
	archived := true // someone else archives it meanwhile: a new version
	if _, err := rs.UpdateMetadata(ctx, acc, p.INS, app.RemoteDocument{Meta: sent, RemoteID: sent.RemoteID, VersionID: sent.VersionID}, app.MetadataChange{Archived: &archived}); err != nil {
		t.Fatal(err)
	}
	if sum, err := eng.Once(ctx); err != nil || sum.Conflicts != 1 {
		t.Fatalf("%v %+v", err, sum)
	}
	if err := eng.Resolve(ctx, ch.ID, app.KeepBoth, true); !errors.Is(err, app.ErrInvalid) {
		t.Fatalf("keep both on a metadata change: %v", err)
	}
	if err := eng.Resolve(ctx, ch.ID, app.ReplaceAfterReview, false); err != nil {
		t.Fatal(err)
	}
	if sum, err := eng.Once(ctx); err != nil || sum.Pushed != 1 || sum.Conflicts != 0 {
		t.Fatalf("%v %+v", err, sum)
	}
	if got := serverDocs(t, rs, pr, p, time.Time{})[sent.ID]; got.Visibility != hide {
		t.Fatalf("visibility %+v", got.Visibility)
	}
}
