package app_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/apptest"
)

// slowStore is a store whose commits take a while (the fetch then runs
// ahead of them) and which counts the bytes of bodies (raw messages and
// documents) of the commits that returned.
type slowStore struct {
	*apptest.MailStore
	mu        sync.Mutex
	committed int64
}

func (s *slowStore) Write(ctx context.Context, b *app.Batch) error {
	var n int64
	for _, r := range b.MailRaw {
		n += int64(len(r.Bytes))
	}
	for _, d := range b.Documents {
		n += int64(len(d.Bytes))
	}
	for _, it := range b.Inbox {
		if it.Report != nil {
			n += int64(len(it.Report.Content))
		}
	}
	time.Sleep(20 * time.Millisecond) // a slow disk: pressure only, the bytes decide
	err := s.MailStore.Write(ctx, b)
	s.mu.Lock()
	s.committed += n
	s.mu.Unlock()
	return err
}

func (s *slowStore) done() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.committed
}

// boundMailbox delivers its messages as fast as the import takes them
// and records, before each delivery, the bodies delivered before it and
// not yet committed: what the import holds at most.
type boundMailbox struct {
	fakeMailbox
	store *slowStore
	peak  int64
}

func (f *boundMailbox) Fetch(ctx context.Context, st app.MailboxState, each func(app.Message) error) (app.MailboxState, error) {
	var delivered int64
	return f.fakeMailbox.Fetch(ctx, st, func(m app.Message) error {
		f.peak = max(f.peak, delivered-f.store.done())
		delivered += int64(len(m.Raw))
		for _, r := range m.Reports {
			delivered += int64(len(r.Content))
		}
		return each(m)
	})
}

// TestImportMailHoldsOneUnitOfBodies: whatever the speed of the commits,
// the import holds at most its share of ImportBodyBytes of message bodies
// (the unit gathered and the unit committing together; the rest is the
// fetch's share): a message that would take it over waits for the commit
// running. Every message is still filed and marked, in order.
func TestImportMailHoldsOneUnitOfBodies(t *testing.T) {
	ctx := context.Background()
	p := qualified(t)
	store := &slowStore{MailStore: apptest.NewMailStore(p)}
	mb := &boundMailbox{fakeMailbox: fakeMailbox{validity: 4, modseq: 2}, store: store}
	const n, size = 60, 300 << 10 // 60 messages of 300 KB holding a 300 KB report: 36 MB
	for uid := uint32(1); uid <= n; uid++ {
		mid := fmt.Sprintf("big%d", uid)
		m := msg(uid, mid, report(p, app.DocumentID("d-"+mid), "", 0, "<r>"+strings.Repeat("x", size)+mid+"</r>"))
		m.Raw = append([]byte(strings.Repeat("y", size)), mid...)
		mb.msgs = append(mb.msgs, m)
	}
	sum, err := app.ImportMailbox(ctx, store, mb, app.ImportOptions{Account: "bal"})
	if err != nil || sum.Filed != n {
		t.Fatalf("%+v %v", sum, err)
	}
	if share := int64(app.ImportBodyBytes - app.ImportFetchAheadBytes); mb.peak > share {
		t.Fatalf("the import held %d bytes of bodies, more than its share %d of ImportBodyBytes", mb.peak, share)
	}
	if mb.peak < 2*size { // the fetch did run ahead of the commits
		t.Fatalf("peak %d: the commits did not overlap the fetch", mb.peak)
	}
	man, _ := store.Manifest(ctx, p.ID)
	st, _ := store.MailState(ctx, "bal", "INBOX")
	if len(man.Documents) != n || len(mb.marked) != n || st.LastUID != n {
		t.Fatalf("%d documents, %d marked, state %+v", len(man.Documents), len(mb.marked), st)
	}
	for i, uid := range mb.marked {
		if uid != uint32(i+1) {
			t.Fatalf("marks out of order: %v", mb.marked)
		}
	}
}

// TestImportMailMessageOverBound: a single message larger than the
// import's share of ImportBodyBytes is still imported (alone).
func TestImportMailMessageOverBound(t *testing.T) {
	ctx := context.Background()
	p := qualified(t)
	store := &slowStore{MailStore: apptest.NewMailStore(p)}
	mb := &boundMailbox{fakeMailbox: fakeMailbox{validity: 4}, store: store}
	big := strings.Repeat("z", app.ImportBodyBytes)
	for uid := uint32(1); uid <= 3; uid++ {
		mid := fmt.Sprintf("huge%d", uid)
		mb.msgs = append(mb.msgs, msg(uid, mid, report(p, app.DocumentID("d-"+mid), "", 0, "<r>"+big+mid+"</r>")))
	}
	sum, err := app.ImportMailbox(ctx, store, mb, app.ImportOptions{Account: "bal"})
	if err != nil || sum.Filed != 3 || len(mb.marked) != 3 {
		t.Fatalf("%+v %v, marked %v", sum, err, mb.marked)
	}
}
