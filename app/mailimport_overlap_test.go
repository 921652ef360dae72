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

// heldStore holds its first commit until the mailbox has delivered the
// messages of the next unit: the import must gather a unit while the
// previous one commits. failSecond makes the second commit fail.
type heldStore struct {
	*apptest.MailStore
	gathered   chan struct{}
	calls      int
	failSecond bool
}

func (s *heldStore) Write(ctx context.Context, b *app.Batch) error {
	s.calls++ // commits never run at the same time (one in flight)
	switch s.calls {
	case 1:
		select {
		case <-s.gathered:
		case <-time.After(2 * time.Minute): // only a hang: the overlap is missing
			return errors.New("the next unit was not gathered while the first one committed")
		}
	case 2:
		if s.failSecond {
			return fmt.Errorf("disk full: %w", app.ErrNoSpace)
		}
	}
	return s.MailStore.Write(ctx, b)
}

// gatherMailbox closes gathered once message `at` was handled.
type gatherMailbox struct {
	setMailbox
	at       uint32
	gathered chan struct{}
}

func (f *gatherMailbox) Fetch(ctx context.Context, st app.MailboxState, each func(app.Message) error) (app.MailboxState, error) {
	return f.setMailbox.Fetch(ctx, st, func(m app.Message) error {
		err := each(m)
		if m.Ref.UID == f.at {
			close(f.gathered)
		}
		return err
	})
}

// TestImportMailCommitOverlap: the commit of a unit runs while the next
// one is gathered; the next unit files into the manifest the committing
// unit leaves (same patient), recognises its messages as duplicates, and
// nothing is marked on the server before its own unit's commit succeeded.
// A failed commit of the second unit leaves its messages unmarked and the
// sync point after the first unit.
func TestImportMailCommitOverlap(t *testing.T) {
	ctx := context.Background()
	p := qualified(t)
	for _, fail := range []bool{false, true} {
		t.Run(fmt.Sprintf("fail=%v", fail), func(t *testing.T) {
			gathered := make(chan struct{})
			store := &heldStore{MailStore: apptest.NewMailStore(p), gathered: gathered, failSecond: fail}
			mb := &gatherMailbox{setMailbox: setMailbox{fakeMailbox: fakeMailbox{validity: 3, modseq: 9}, store: store.MailStore},
				at: 150, gathered: gathered}
			for uid := uint32(1); uid <= 250; uid++ {
				mid := fmt.Sprintf("m%d", uid)
				if uid == 120 {
					mid = "m50" // the same message again, its first copy in the committing unit
				}
				mb.msgs = append(mb.msgs, msg(uid, mid, report(p, app.DocumentID("d-"+mid), "", 0, "<"+mid+"/>")))
			}
			sum, err := app.ImportMailbox(ctx, store, mb, app.ImportOptions{Account: "bal"})
			man, _ := store.Manifest(ctx, p.ID)
			st, _ := store.MailState(ctx, "bal", "INBOX")
			if fail {
				if !errors.Is(err, app.ErrNoSpace) {
					t.Fatalf("err %v", err)
				}
				if len(mb.marked) != 100 || len(man.Documents) != 100 || st.LastUID != 100 {
					t.Fatalf("after a failed second commit: %d marked, %d documents, state %+v", len(mb.marked), len(man.Documents), st)
				}
				return
			}
			if err != nil || sum.Filed != 249 || sum.Duplicates != 1 {
				t.Fatalf("%+v %v", sum, err)
			}
			for i, w := range mb.writes {
				if w != i+1 {
					t.Fatalf("mark %d after %d commits: %v", i, w, mb.writes)
				}
			}
			if len(mb.marked) != 250 || len(man.Documents) != 249 || st.LastUID != 250 {
				t.Fatalf("%d marked, %d documents, state %+v", len(mb.marked), len(man.Documents), st)
			}
		})
	}
}
