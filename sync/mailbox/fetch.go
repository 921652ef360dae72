package mailbox

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"runtime"
	"sort"
	"sync"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/carnetdesk/carnet/app"
)

// This file is the fetch pipeline: a producer fetching structures and
// whole messages ahead of the caller within a byte budget, parsers on all
// CPUs but one, delivery in UID order.

// The fetch pipeline's bounds.
const (
	// fetchBatch is how many messages one FETCH of structures covers.
	fetchBatch = 50
	// inFlightBytes bounds the messages fetched ahead of the caller:
	// downloaded or being parsed, and not yet handed over (counted twice
	// their size: the raw message and the documents taken from it). It is
	// the import's share for the fetch of its bound on message bodies in
	// memory (app.ImportBodyBytes).
	inFlightBytes = app.ImportFetchAheadBytes
	// rawChunkBytes bounds (by RFC822.SIZE) the messages one FETCH of
	// whole messages covers (at least one message): a quarter of
	// inFlightBytes, so that a chunk is downloaded while the one before
	// is parsed and handed over.
	rawChunkBytes = inFlightBytes / 4
)

// Fetch implements app.Mailbox. For each new message it fetches, with PEEK
// only, the structure and a few header fields first (a FETCH per
// fetchBatch messages), checks the sizes against the limits, then the whole
// messages (to be sealed; one FETCH per rawChunkBytes) and builds the
// reports. A producer fetches ahead of the caller, bounded by
// inFlightBytes, and the messages are parsed on all CPUs but one, while
// each handles the previous ones; each is called in UID order, without the
// session's lock held, so that it may call MarkImported (the commands are
// serialised by the lock, never interleaved).
func (cl *Client) Fetch(ctx context.Context, state app.MailboxState, each func(app.Message) error) (app.MailboxState, error) {
	cl.mu.Lock()
	// Re-select so that UIDVALIDITY, UIDNEXT and HIGHESTMODSEQ are fresh.
	cl.selected = ""
	c, sel, err := cl.session(ctx)
	if err != nil {
		cl.mu.Unlock()
		return state, err
	}
	st := state
	st.Account, st.Mailbox = cl.acct.Name, cl.acct.mailbox()
	if st.UIDValidity != sel.UIDValidity {
		st.UIDValidity, st.LastUID, st.HighestModSeq = sel.UIDValidity, 0, 0
	}
	modseq := sel.HighestModSeq
	uids, err := cl.newUIDs(c, st.LastUID)
	if err != nil {
		cl.drop()
		cl.mu.Unlock()
		return state, err
	}
	cl.mu.Unlock()
	if len(uids) == 0 {
		st.HighestModSeq = modseq
		return st, nil
	}

	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	budget := newBudget(inFlightBytes)
	stop := context.AfterFunc(pctx, budget.cancel)
	defer stop()
	queue := make(chan *fetchJob, 2*fetchBatch) // in UID order
	work := make(chan *fetchJob, 2*fetchBatch)  // to the parsers
	var perr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(queue)
		defer close(work)
		perr = cl.produce(pctx, st, uids, budget, queue, work)
	}()
	// The parsers leave a CPU to the caller (the vault commit is the
	// import's critical path) and to the producer. (Two parsers on two
	// CPUs held 2 MB more at the peak and were not faster.)
	for range max(1, runtime.GOMAXPROCS(0)-1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range work {
				j.msg = j.finish()
				close(j.done)
			}
		}()
	}
	// end stops the pipeline and waits for its goroutines.
	end := func() {
		cancel()
		for range queue { // unblock the producer
		}
		wg.Wait()
	}
	for j := range queue {
		<-j.done
		// Nothing touches the job any more: it lets go of the message.
		m, cost := j.msg, j.cost
		*j = fetchJob{}
		if m == nil { // expunged meanwhile
			budget.release(cost)
			continue
		}
		if err := ctx.Err(); err != nil {
			end()
			return st, err
		}
		err := each(*m)
		budget.release(cost)
		if err != nil {
			end()
			return st, err
		}
		st.LastUID = m.Ref.UID
	}
	wg.Wait()
	if perr != nil {
		return st, perr
	}
	if err := ctx.Err(); err != nil {
		return st, err
	}
	st.HighestModSeq = modseq
	return st, nil
}

// fetchJob is one message in the fetch pipeline: planned from its
// structure, downloaded, then parsed.
type fetchJob struct {
	cl     *Client
	plan   msgPlan
	raw    []byte
	bodies [][]byte // the needed parts, when fetched separately
	split  bool     // the raw message was over the cap: parts fetched separately
	gone   bool     // expunged meanwhile
	cost   int64    // bytes reserved in the budget
	msg    *app.Message
	done   chan struct{} // closed when msg is set
}

// produce fetches the structures of uids by fetchBatch, then the whole
// messages by rawChunkBytes within budget, and hands the jobs over in UID
// order to queue (the caller) and work (the parsers).
func (cl *Client) produce(ctx context.Context, st app.MailboxState, uids []imap.UID, budget *budget, queue, work chan<- *fetchJob) error {
	lim := cl.acct.Limits.withDefaults()
	send := func(j *fetchJob) error {
		select {
		case queue <- j:
		case <-ctx.Done():
			return ctx.Err()
		}
		select {
		case work <- j:
		case <-ctx.Done():
			j.msg = nil
			close(j.done)
			return ctx.Err()
		}
		return nil
	}
	for start := 0; start < len(uids); start += fetchBatch {
		if err := ctx.Err(); err != nil {
			return err
		}
		batch := uids[start:min(start+fetchBatch, len(uids))]
		var metas []*imapclient.FetchMessageBuffer
		err := cl.locked(ctx, st, func(c *imapclient.Client) error {
			var err error
			metas, err = c.Fetch(imap.UIDSetNum(batch...), &imap.FetchOptions{
				UID: true, Flags: true, Envelope: true, RFC822Size: true, InternalDate: true,
				BodyStructure: &imap.FetchItemBodyStructure{Extended: true},
				BodySection: []*imap.FetchItemBodySection{{Specifier: imap.PartSpecifierHeader, Peek: true,
					HeaderFields: headerFields}},
			}).Collect()
			if err != nil {
				return fmt.Errorf("mailbox: fetch structure: %v: %w", err, app.ErrOffline)
			}
			return nil
		})
		if err != nil {
			return err
		}
		sort.Slice(metas, func(i, j int) bool { return metas[i].UID < metas[j].UID })
		var jobs []*fetchJob
		for _, meta := range metas {
			if meta.UID <= imap.UID(st.LastUID) {
				continue
			}
			jobs = append(jobs, &fetchJob{cl: cl, plan: cl.plan(st, meta, lim), done: make(chan struct{})})
		}
		for i := 0; i < len(jobs); {
			// A chunk: the next messages up to rawChunkBytes (at least one).
			var chunk []*fetchJob
			var want []imap.UID
			var size, cost int64
			for ; i < len(jobs); i++ {
				j := jobs[i]
				if j.plan.final { // nothing to download
					j.cost = 1
				} else {
					if len(want) > 0 && size+j.plan.m.Size > rawChunkBytes {
						break
					}
					size += j.plan.m.Size
					j.cost = 2*max(j.plan.m.Size, 0) + 1
					want = append(want, imap.UID(j.plan.m.Ref.UID))
				}
				cost += j.cost
				chunk = append(chunk, j)
			}
			if err := budget.acquire(cost); err != nil {
				return ctx.Err()
			}
			if len(want) > 0 {
				var raws map[imap.UID][]byte
				err := cl.locked(ctx, st, func(c *imapclient.Client) error {
					var err error
					raws, err = downloadRaws(c, want, lim)
					if err != nil {
						return err
					}
					// A message over the cap although its RFC822.SIZE
					// was not (the server lied): its parts, fetched.
					for _, j := range chunk {
						raw, ok := raws[imap.UID(j.plan.m.Ref.UID)]
						switch {
						case j.plan.final:
						case !ok:
							j.gone = true
						case j.plan.walk && int64(len(raw)) > lim.MaxMessageBytes:
							_, bodies, gone, err := cl.download(ctx, c, imap.UID(j.plan.m.Ref.UID), j.plan.need, lim)
							if err != nil {
								return err
							}
							j.split, j.bodies, j.gone = true, bodies, gone
						default:
							j.raw = raw
						}
					}
					return nil
				})
				if err != nil {
					budget.release(cost)
					return err
				}
			}
			for _, j := range chunk {
				if err := send(j); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// downloadRaws fetches, in one UID FETCH with PEEK only, the whole
// messages of uids (each read up to the cap plus one byte). A message
// expunged meanwhile is absent from the result.
func downloadRaws(c *imapclient.Client, uids []imap.UID, lim Limits) (map[imap.UID][]byte, error) {
	fc := c.Fetch(imap.UIDSetNum(uids...), &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{{Peek: true}}})
	defer fc.Close()
	out := make(map[imap.UID][]byte, len(uids))
	for msg := fc.Next(); msg != nil; msg = fc.Next() {
		var uid imap.UID
		var raw []byte
		got := false
		for item := msg.Next(); item != nil; item = msg.Next() {
			switch it := item.(type) {
			case imapclient.FetchItemDataUID:
				uid = it.UID
			case imapclient.FetchItemDataBodySection:
				if it.Literal == nil || len(it.Section.Part) != 0 || it.Section.Specifier != imap.PartSpecifierNone {
					continue
				}
				var err error
				if raw, err = readLiteral(it.Literal, lim.MaxMessageBytes+1); err != nil {
					return nil, fmt.Errorf("mailbox: fetch message: %v: %w", err, app.ErrOffline)
				}
				got = true
			}
		}
		if got && uid != 0 {
			out[uid] = raw
		}
	}
	if err := fc.Close(); err != nil {
		return nil, fmt.Errorf("mailbox: fetch: %v: %w", err, app.ErrOffline)
	}
	return out, nil
}

// readLiteral reads a literal up to max bytes, in one allocation of its
// announced size.
func readLiteral(lit imap.LiteralReader, max int64) ([]byte, error) {
	var buf bytes.Buffer
	if n := lit.Size(); n > 0 {
		buf.Grow(int(min(n, max)) + bytes.MinRead)
	}
	_, err := buf.ReadFrom(io.LimitReader(lit, max))
	return buf.Bytes(), err
}

// budget bounds the bytes in flight in the fetch pipeline.
type budget struct {
	mu       sync.Mutex
	cond     *sync.Cond
	used     int64
	max      int64
	canceled bool
}

func newBudget(max int64) *budget {
	b := &budget{max: max}
	b.cond = sync.NewCond(&b.mu)
	return b
}

// acquire reserves n bytes, waiting for releases while over the bound (a
// reservation alone may exceed it); it fails once canceled.
func (b *budget) acquire(n int64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for !b.canceled && b.used > 0 && b.used+n > b.max {
		b.cond.Wait()
	}
	if b.canceled {
		return context.Canceled
	}
	b.used += n
	return nil
}

func (b *budget) release(n int64) {
	b.mu.Lock()
	b.used -= n
	b.mu.Unlock()
	b.cond.Broadcast()
}

func (b *budget) cancel() {
	b.mu.Lock()
	b.canceled = true
	b.mu.Unlock()
	b.cond.Broadcast()
}

// newUIDs returns the UIDs above last, ascending. "UID last+1:*" always
// matches the highest UID even when it is not above last (RFC 3501 "*"
// semantics): such UIDs are filtered out.
func (cl *Client) newUIDs(c *imapclient.Client, last uint32) ([]imap.UID, error) {
	var set imap.UIDSet
	set.AddRange(imap.UID(last+1), 0)
	sd, err := c.UIDSearch(&imap.SearchCriteria{UID: []imap.UIDSet{set}}, nil).Wait()
	if err != nil {
		return nil, fmt.Errorf("mailbox: search: %v: %w", err, app.ErrOffline)
	}
	var out []imap.UID
	for _, u := range sd.AllUIDs() {
		if uint32(u) > last {
			out = append(out, u)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, nil
}
