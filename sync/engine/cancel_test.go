package engine_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/sync/dmp/dmptest"
)

// cancelAt cancels the cycle at its k-th step: a request about to be sent
// (before), a request whose answer arrived (after), a listing page
// received. Step numbers count from 1; k = 0 counts only.
type cancelAt struct {
	app.RecordService
	mu     sync.Mutex
	k, n   int
	after  bool
	cancel context.CancelFunc
}

func (c *cancelAt) step() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	if c.k != 0 && c.n == c.k {
		c.cancel()
	}
}

func (c *cancelAt) around(f func() error) error {
	if !c.after {
		c.step()
	}
	err := f()
	if c.after {
		c.step()
	}
	return err
}

func (c *cancelAt) FindPatient(ctx context.Context, acc app.Access, ins app.INS) (st app.RecordStatus, err error) {
	err = c.around(func() error { st, err = c.RecordService.FindPatient(ctx, acc, ins); return err })
	return st, err
}

func (c *cancelAt) ListDocuments(ctx context.Context, acc app.Access, ins app.INS, q app.DocumentQuery, page func([]app.RemoteDocument) error) error {
	return c.around(func() error {
		return c.RecordService.ListDocuments(ctx, acc, ins, q, func(p []app.RemoteDocument) error {
			err := page(p)
			c.step() // between a page merged and the next one
			return err
		})
	})
}

func (c *cancelAt) Retrieve(ctx context.Context, acc app.Access, ins app.INS, doc app.RemoteDocument) (b []byte, err error) {
	err = c.around(func() error { b, err = c.RecordService.Retrieve(ctx, acc, ins, doc); return err })
	return b, err
}

func (c *cancelAt) Provide(ctx context.Context, acc app.Access, ins app.INS, docs []app.NewDocument) (r app.Provided, err error) {
	err = c.around(func() error { r, err = c.RecordService.Provide(ctx, acc, ins, docs); return err })
	return r, err
}

func (c *cancelAt) ReadDocument(ctx context.Context, acc app.Access, ins app.INS, id string) (rd app.RemoteDocument, err error) {
	r, ok := c.RecordService.(app.EntryReader)
	if !ok {
		return app.RemoteDocument{}, app.ErrInvalid
	}
	err = c.around(func() error { rd, err = r.ReadDocument(ctx, acc, ins, id); return err })
	return rd, err
}

// TestCancelEveryStep: a cycle (one note to push, three patients to pull)
// is cancelled at each of its steps in turn, before a request, after its
// answer, between listing pages. Every time: the cycle returns the cancel,
// the vault checks (nothing half-written: every document marked cached
// reads back, cursors with their data), the next uncancelled cycle brings
// the vault to the server's state, and the note is on the server exactly
// once.
func TestCancelEveryStep(t *testing.T) {
	if testing.Short() {
		t.Skip("long: about 100 cycles")
	}
	sb := dmptest.NewTLS(t, dmptest.Options{Patients: 30, Seed: 16})
	rs, pr := client(t, sb, dmptest.KeyGP)
	ps := qualified(sb, pr.RPPS, 3)
	if len(ps) < 3 {
		t.Fatalf("%d qualified patients", len(ps))
	}
	// Count the steps of an uncancelled cycle.
	steps := 0
	{
		v, _ := newVault(t, nil)
		watch(t, v, time.Now(), ps...)
		probe := &cancelAt{RecordService: rs}
		eng := newEngine(t, v, probe, pr, nil)
		_ = v.Write(ctx, &app.Batch{Outbox: []app.OutboxItem{noteItem(ps[0], 1, time.Now())}})
		if _, err := eng.Once(ctx); err != nil {
			t.Fatal(err)
		}
		steps = probe.n
		if steps < 10 {
			t.Fatalf("only %d steps", steps)
		}
		t.Logf("%d steps per cycle", steps)
	}
	for _, after := range []bool{false, true} {
		for k := 1; k <= steps; k++ {
			v, _ := newVault(t, nil)
			watch(t, v, time.Now(), ps...)
			note := noteItem(ps[0], 100+k+map[bool]int{false: 0, true: 1000}[after], time.Now())
			if err := v.Write(ctx, &app.Batch{Outbox: []app.OutboxItem{note}}); err != nil {
				t.Fatal(err)
			}
			cctx, cancel := context.WithCancel(ctx)
			ca := &cancelAt{RecordService: rs, k: k, after: after, cancel: cancel}
			eng := newEngine(t, v, ca, pr, nil)
			_, err := eng.Once(cctx)
			cancel()
			if ca.n >= k && !errors.Is(err, context.Canceled) {
				t.Fatalf("after=%v step %d/%d: cancelled cycle returned %v", after, k, steps, err)
			}
			mustCheck(t, v)
			// The next cycle finishes the work from wherever the cancel left it.
			sum, err := eng.Once(ctx)
			if err != nil || !sum.Online {
				t.Fatalf("after=%v step %d: next cycle: %v", after, k, err)
			}
			mustCheck(t, v)
			left, _ := v.Outbox(ctx)
			if len(left) != 0 {
				t.Fatalf("after=%v step %d: %d outbox items left", after, k, len(left))
			}
			if c := sb.UniqueIDs(ps[0].INS)[app.DocumentID(note.ID)]; c != 1 {
				t.Fatalf("after=%v step %d: the note is %d times on the server", after, k, c)
			}
			for _, p := range ps {
				checkMirrors(t, v, serverDocs(t, rs, pr, p, time.Now().Add(-app.FirstOpenWindow)), p)
			}
			v.Close()
		}
	}
}
