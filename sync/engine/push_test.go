package engine_test

import (
	"errors"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/sync/dmp/dmptest"
)

// qualified returns accessible patients with a qualified identity (they may
// be fed).
func qualified(sb *dmptest.Sandbox, rpps string, n int) []app.Patient {
	var out []app.Patient
	for _, p := range accessible(sb, rpps, 1000) {
		if p.Status == app.IdentityQualified {
			out = append(out, p)
			if len(out) == n {
				break
			}
		}
	}
	return out
}

// TestPushResponseLost: 1,000 pushes while the service loses 30 % of the
// answers after committing ("response lost after commit"): 0 duplicates on
// the server, 0 items lost, the outbox empty at the end.
func TestPushResponseLost(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	n := 1000
	faults, _ := dmptest.ParseFaults("droppost=0.3")
	sb := dmptest.NewTLS(t, dmptest.Options{Patients: 40, Seed: 8, Faults: faults})
	rs, pr := client(t, sb, dmptest.KeyGP)
	v, _ := newVault(t, nil)
	ps := watch(t, v, time.Now(), qualified(sb, pr.RPPS, 10)...)
	var items []app.OutboxItem
	at := time.Now()
	for i := 0; i < n; i++ {
		items = append(items, noteItem(ps[i%len(ps)], i, at))
	}
	if err := v.Write(ctx, &app.Batch{Outbox: items}); err != nil {
		t.Fatal(err)
	}
	eng := newEngine(t, v, rs, pr, nil)
	sum, err := eng.Once(ctx)
	if err != nil || sum.Pushed != n {
		t.Fatalf("pushed %d/%d: %v %+v", sum.Pushed, n, err, sum.Failures)
	}
	left, _ := v.Outbox(ctx)
	if len(left) != 0 {
		t.Fatalf("%d items left in the outbox", len(left))
	}
	found := 0
	for _, p := range ps {
		for id, c := range sb.UniqueIDs(p.INS) {
			if c != 1 {
				t.Fatalf("document %s is %d times on the server", id, c)
			}
		}
		m, err := v.Manifest(ctx, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range items {
			if it.Patient != p.ID {
				continue
			}
			if c := sb.UniqueIDs(p.INS)[app.DocumentID(it.ID)]; c != 1 {
				t.Fatalf("item on the server %d times", c)
			}
			if d, ok := m.Document(app.DocumentID(it.ID)); !ok || !d.Cached {
				t.Fatalf("an acknowledged note is not in the cached record")
			}
			found++
		}
	}
	if found != n {
		t.Fatalf("%d/%d notes found", found, n)
	}
	mustCheck(t, v)
}

// TestPushRejectedForGood: an item the service refuses (a non-qualified
// identity) stays visible, rejected with its reason, and the cycle goes on.
func TestPushRejectedForGood(t *testing.T) {
	sb := dmptest.NewTLS(t, dmptest.Options{Patients: 60, Seed: 8})
	rs, pr := client(t, sb, dmptest.KeyGP)
	v, _ := newVault(t, nil)
	var prov app.Patient
	for _, p := range accessible(sb, pr.RPPS, 60) {
		if p.Status != app.IdentityQualified {
			prov = p
			break
		}
	}
	if prov.ID == "" {
		t.Skip("no non-qualified identity in the population")
	}
	good := qualified(sb, pr.RPPS, 1)
	ps := watch(t, v, time.Now(), prov, good[0])
	bad, ok := noteItem(ps[0], 1, time.Now()), noteItem(ps[1], 2, time.Now())
	if err := v.Write(ctx, &app.Batch{Outbox: []app.OutboxItem{bad, ok}}); err != nil {
		t.Fatal(err)
	}
	eng := newEngine(t, v, rs, pr, nil)
	sum, err := eng.Once(ctx)
	if err != nil || sum.Pushed != 1 || sum.Rejected != 1 || sum.OK() {
		t.Fatalf("%v %+v", err, sum)
	}
	for i := 0; i < 2; i++ { // stays rejected, never re-sent
		left, _ := v.Outbox(ctx)
		if len(left) != 1 || left[0].ID != bad.ID || left[0].State != app.OutboxRejected || left[0].LastError == "" {
			t.Fatalf("outbox %+v", left)
		}
		if sum, _ = eng.Once(ctx); sum.Rejected != 1 {
			t.Fatalf("%+v", sum)
		}
	}
	if err := eng.Resolve(ctx, bad.ID, app.DiscardMine, false); !errors.Is(err, app.ErrInvalid) {
		t.Fatalf("discard without confirmation: %v", err)
	}
	if err := eng.Resolve(ctx, bad.ID, app.DiscardMine, true); err != nil {
		t.Fatal(err)
	}
	if left, _ := v.Outbox(ctx); len(left) != 0 {
		t.Fatalf("outbox %+v", left)
	}
}
