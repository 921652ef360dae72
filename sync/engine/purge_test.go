package engine_test

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/apptest"
	"github.com/carnetdesk/carnet/sync/dmp/dmptest"
	"github.com/carnetdesk/carnet/sync/engine"
)

// TestRevocationPurges: authorisation withdrawn, professional blocked,
// record closed: after the next cycle the patient's cached data cannot be
// read; a patient with a pending outbox item keeps its identity and item
// (flagged) but loses its cached documents.
func TestRevocationPurges(t *testing.T) {
	sb := dmptest.NewTLS(t, dmptest.Options{Patients: 80, Seed: 12})
	rs, pr := client(t, sb, dmptest.KeyAnesthetist)
	clock := apptest.NewClock(time.Now())
	v, _ := newVault(t, clock)
	ps := watch(t, v, clock.Now(), qualified(sb, pr.RPPS, 5)...)
	if len(ps) < 5 {
		t.Fatal("not enough patients")
	}
	// four of five lose access at once: the purge guard is lifted here
	// (TestPurgeGuard holds it)
	eng := newEngine(t, v, rs, pr, clock, func(c *engine.Config) { c.MaxPurgeShare = 1 })
	if sum, err := eng.Once(ctx); err != nil || !sum.OK() {
		t.Fatalf("%v %+v", err, sum)
	}
	for _, p := range ps {
		if m, err := v.Manifest(ctx, p.ID); err != nil || len(m.Documents) == 0 {
			t.Fatalf("nothing cached: %v", err)
		}
	}
	sb.Revoke(ps[0].INS, pr.RPPS)
	sb.Block(ps[1].INS, pr.RPPS)
	sb.CloseRecord(ps[2].INS)
	sb.Revoke(ps[3].INS, pr.RPPS)
	// ps[3] has a note waiting to be sent that the service will now refuse.
	note := noteItem(ps[3], 1, time.Now())
	note.State, note.NextAttempt = app.OutboxRetry, time.Now().Add(time.Hour)
	if err := v.Write(ctx, &app.Batch{Outbox: []app.OutboxItem{note}}); err != nil {
		t.Fatal(err)
	}
	// seen once: nothing purged yet, the status says why
	sum, err := eng.Once(ctx)
	if err != nil || sum.Purged != 0 || sum.Flagged != 0 || sum.PurgeHeld != 4 {
		t.Fatalf("%v %+v", err, sum)
	}
	for _, p := range ps[:3] {
		if _, err := v.Manifest(ctx, p.ID); err != nil {
			t.Fatalf("purged on one cycle's word: %v", err)
		}
	}
	// too soon: still held
	clock.Advance(30 * time.Second)
	if sum, err = eng.Once(ctx); err != nil || sum.Purged != 0 || sum.PurgeHeld != 4 {
		t.Fatalf("%v %+v", err, sum)
	}
	// confirmed a minute after it was first seen
	clock.Advance(31 * time.Second)
	sum, err = eng.Once(ctx)
	if err != nil || sum.Purged != 3 || sum.Flagged != 1 {
		t.Fatalf("%v %+v", err, sum)
	}
	for _, p := range ps[:3] {
		if _, err := v.Patient(ctx, p.ID); !errors.Is(err, app.ErrNotFound) {
			t.Fatalf("revoked patient still in the directory: %v", err)
		}
		if _, err := v.Manifest(ctx, p.ID); err == nil {
			t.Fatal("revoked patient's record still readable")
		}
	}
	m, err := v.Manifest(ctx, ps[3].ID)
	if err != nil || len(m.Documents) != 0 {
		t.Fatalf("flagged patient's documents still cached: %d, %v", len(m.Documents), err)
	}
	if out, _ := v.Outbox(ctx); len(out) != 1 {
		t.Fatal("the pending note was lost")
	}
	if m, _ := v.Manifest(ctx, ps[4].ID); len(m.Documents) == 0 {
		t.Fatal("an unaffected patient lost its record")
	}
	mustCheck(t, v)
}

// TestMaskedAndDeletedLeave: a document the patient masks, or deletes,
// leaves the manifest and the vault at the next reconciliation — read "not
// found" twice, ConfirmAfter apart, never on one answer. It runs on the
// client, and through the session's identity gate as main wires the
// engine (app.Service.Records): the evidence reads (app.EntryReader) must
// pass the gate, or a masked or deleted document would stay forever.
func TestMaskedAndDeletedLeave(t *testing.T) {
	t.Run("client", func(t *testing.T) { testMaskedAndDeletedLeave(t, false) })
	t.Run("ThroughTheIdentityGate", func(t *testing.T) { testMaskedAndDeletedLeave(t, true) })
}

func testMaskedAndDeletedLeave(t *testing.T, gate bool) {
	sb := dmptest.NewTLS(t, dmptest.Options{Patients: 40, Seed: 13})
	rs, pr := client(t, sb, dmptest.KeyAnesthetist)
	v, _ := newVault(t, nil)
	p := watch(t, v, time.Now(), qualified(sb, pr.RPPS, 1)...)[0]
	var records app.RecordService = rs
	if gate {
		svc := app.NewService(app.Deps{Store: v, Log: quiet()})
		svc.SignIn(app.Session{Practitioner: pr, Records: rs})
		records, _, _ = svc.Records()
		if _, ok := records.(app.EntryReader); !ok {
			t.Fatal("the gated service hides the evidence reads (app.EntryReader)")
		}
	}
	eng := newEngine(t, v, records, pr, nil, func(c *engine.Config) { c.ReconcileEvery = -1; c.ConfirmAfter = time.Nanosecond })
	if _, err := eng.Once(ctx); err != nil {
		t.Fatal(err)
	}
	m, _ := v.Manifest(ctx, p.ID)
	var cur []app.DocumentMeta
	for _, d := range m.Documents {
		if !d.Superseded && d.Cached {
			cur = append(cur, d)
		}
	}
	if len(cur) < 2 {
		t.Skip("patient with fewer than 2 documents")
	}
	sb.MaskDocument(cur[0].ID)
	sb.DeleteDocument(cur[1].ID)
	// Read "not found" once: kept (one missing answer removes nothing).
	sum, err := eng.Once(ctx)
	if err != nil || sum.Removed != 0 || sum.Kept != 2 {
		t.Fatalf("first cycle: %v %+v; want both kept until confirmed", err, sum)
	}
	// Read "not found" again, ConfirmAfter later: removed.
	sum, err = eng.Once(ctx)
	if err != nil || sum.Removed != 2 {
		t.Fatalf("second cycle: %v %+v", err, sum)
	}
	m, _ = v.Manifest(ctx, p.ID)
	for _, d := range cur[:2] {
		if _, ok := m.Document(d.ID); ok {
			t.Fatal("masked or deleted document still listed")
		}
		if _, err := v.Document(ctx, p.ID, d.ID); !errors.Is(err, app.ErrNotFound) {
			t.Fatalf("masked or deleted document still cached: %v", err)
		}
	}
	mustCheck(t, v)
}

// TestRetentionAndRevalidation with a fake clock: not consulted for 30
// days → purged; not re-validated online for 7 days → unreadable until the
// next successful sync.
func TestRetentionAndRevalidation(t *testing.T) {
	sb := dmptest.NewTLS(t, dmptest.Options{Patients: 40, Seed: 14})
	rs, pr := client(t, sb, dmptest.KeyGP)
	clock := apptest.NewClock(time.Now())
	v, _ := newVault(t, clock)
	ps := watch(t, v, clock.Now(), accessible(sb, pr.RPPS, 2)...)
	online := true
	eng := newEngine(t, v, rs, pr, clock, func(c *engine.Config) {
		c.Records = func() (app.RecordService, app.Practitioner, bool) { return rs, pr, online }
	})
	if sum, err := eng.Once(ctx); err != nil || !sum.OK() {
		t.Fatalf("%v %+v", err, sum)
	}
	// Offline for 8 days; ps[1] was consulted yesterday.
	online = false
	clock.Advance(8 * 24 * time.Hour)
	p1 := ps[1]
	p1.LastAccess = clock.Now().Add(-24 * time.Hour)
	p1.Revalidated = ps[1].Revalidated
	cur, _ := v.Patient(ctx, ps[1].ID)
	p1.Revalidated = cur.Revalidated
	_ = v.Write(ctx, &app.Batch{Patients: []app.Patient{p1}})
	sum, err := eng.Once(ctx)
	if !errors.Is(err, app.ErrOffline) || sum.Unreadable != 2 {
		t.Fatalf("offline cycle: %v %+v", err, sum)
	}
	for _, p := range ps {
		_, err := v.Manifest(ctx, p.ID)
		if app.Denial(err) != app.DeniedRevalidation {
			t.Fatalf("record readable without re-validation: %v", err)
		}
	}
	// Back online: re-validated, readable again.
	online = true
	if sum, err := eng.Once(ctx); err != nil || sum.Unreadable != 0 {
		t.Fatalf("%v %+v", err, sum)
	}
	for _, p := range ps {
		if _, err := v.Manifest(ctx, p.ID); err != nil {
			t.Fatalf("re-validated record unreadable: %v", err)
		}
	}
	// 31 days later, ps[0] (never consulted since) is purged, ps[1] too
	// unless pinned.
	p1, _ = v.Patient(ctx, ps[1].ID)
	p1.Pinned = true
	_ = v.Write(ctx, &app.Batch{Patients: []app.Patient{p1}})
	clock.Advance(31 * 24 * time.Hour)
	online = false
	sum, _ = eng.Once(ctx)
	if sum.Purged != 1 {
		t.Fatalf("%+v", sum)
	}
	if _, err := v.Patient(ctx, ps[0].ID); !errors.Is(err, app.ErrNotFound) {
		t.Fatal("patient kept past the retention window")
	}
	if _, err := v.Patient(ctx, ps[1].ID); err != nil {
		t.Fatal("pinned patient purged")
	}
	mustCheck(t, v)
}

// TestVaultHoldsNoIdentifiers: after a sync of 100 patients, the raw vault
// file contains none of their names, INS or birth dates.
func TestVaultHoldsNoIdentifiers(t *testing.T) {
	sb := dmptest.NewTLS(t, dmptest.Options{Patients: 200, Seed: 15})
	rs, pr := client(t, sb, dmptest.KeyGP)
	v, path := newVault(t, nil)
	ps := watch(t, v, time.Now(), accessible(sb, pr.RPPS, 100)...)
	eng := newEngine(t, v, rs, pr, nil)
	if sum, err := eng.Once(ctx); err != nil || sum.Patients != len(ps) {
		t.Fatalf("%v %+v", err, sum)
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		for _, s := range []string{p.BirthName, p.INS.Matricule, p.BirthDate, p.UsedName} {
			if len(s) >= 4 && bytes.Contains(raw, []byte(s)) {
				t.Fatalf("the vault file contains a patient identifier (%d bytes)", len(s))
			}
		}
	}
}

// TestPurgeGuard: two of five watched patients lose access at once (more
// than 20 %): confirmed or not, nothing is purged, and the summary says
// why; with the guard at 50 % they go.
func TestPurgeGuard(t *testing.T) {
	sb := dmptest.NewTLS(t, dmptest.Options{Patients: 80, Seed: 12})
	rs, pr := client(t, sb, dmptest.KeyAnesthetist)
	clock := apptest.NewClock(time.Now())
	v, _ := newVault(t, clock)
	ps := watch(t, v, clock.Now(), qualified(sb, pr.RPPS, 5)...)
	if len(ps) < 5 {
		t.Fatal("not enough patients")
	}
	share := 0.0 // the default, 20 %
	eng := newEngine(t, v, rs, pr, clock, func(c *engine.Config) { c.MaxPurgeShare = share })
	if sum, err := eng.Once(ctx); err != nil || !sum.OK() {
		t.Fatalf("%v %+v", err, sum)
	}
	sb.Revoke(ps[0].INS, pr.RPPS)
	sb.CloseRecord(ps[1].INS)
	for cycle := 0; cycle < 3; cycle++ {
		sum, err := eng.Once(ctx)
		if err != nil || sum.Purged != 0 || sum.PurgeHeld != 2 {
			t.Fatalf("cycle %d: %v %+v", cycle, err, sum)
		}
		if cycle > 0 {
			said := false
			for _, f := range sum.Failures {
				said = said || strings.Contains(f.Reason, "2 of 5 watched patients would be purged, more than 20 %")
			}
			if !said {
				t.Fatalf("cycle %d: the guard must say why: %+v", cycle, sum.Failures)
			}
		}
		clock.Advance(2 * time.Minute)
	}
	for _, p := range ps {
		if _, err := v.Manifest(ctx, p.ID); err != nil {
			t.Fatalf("guarded patient purged: %v", err)
		}
	}
	eng2 := newEngine(t, v, rs, pr, clock, func(c *engine.Config) { c.MaxPurgeShare = 0.5 })
	if _, err := eng2.Once(ctx); err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Minute)
	if sum, err := eng2.Once(ctx); err != nil || sum.Purged != 2 {
		t.Fatalf("%v %+v", err, sum)
	}
	mustCheck(t, v)
}
