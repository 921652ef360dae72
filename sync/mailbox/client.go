package mailbox

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/sync/mailbox/xdm"
)

var _ app.Mailbox = (*Client)(nil)

// The fetch pipeline's bounds.
const (
	// fetchBatch is how many messages one FETCH of structures covers.
	fetchBatch = 50
	// rawChunkBytes bounds (by RFC822.SIZE) the messages one FETCH of
	// whole messages covers (at least one message).
	rawChunkBytes = 2 << 20
	// inFlightBytes bounds the messages fetched ahead of the caller:
	// downloaded or being parsed, and not yet handed over (counted twice
	// their size: the raw message and the documents taken from it).
	inFlightBytes = 8 << 20
)

// Client is one account's IMAP session; it implements app.Mailbox. It
// connects lazily, reconnects after a failure, and is safe for concurrent
// use (calls are serialised).
type Client struct {
	acct Account
	log  *slog.Logger

	mu       sync.Mutex
	c        *imapclient.Client
	selected string // mailbox selected on c
	sel      *imap.SelectData
	wake     chan struct{} // new mail announced while idling
}

// New returns a client for acct; it connects on first use. log may be nil.
func New(acct Account, log *slog.Logger) (*Client, error) {
	if acct.Security != ImplicitTLS && acct.Security != StartTLS {
		return nil, ErrPlaintext
	}
	if log == nil {
		log = slog.Default()
	}
	return &Client{acct: acct, log: log, wake: make(chan struct{}, 1)}, nil
}

// Close logs out and closes the connection.
func (cl *Client) Close() error {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	cl.drop()
	return nil
}

// drop closes the current connection, if any.
func (cl *Client) drop() {
	if cl.c != nil {
		_ = cl.c.Logout().Wait()
		_ = cl.c.Close()
		cl.c, cl.selected, cl.sel = nil, "", nil
	}
}

// session returns a connected, authenticated client with the account's
// mailbox selected (CONDSTORE enabled when offered).
func (cl *Client) session(ctx context.Context) (*imapclient.Client, *imap.SelectData, error) {
	if cl.c != nil {
		select {
		case <-cl.c.Closed():
			cl.c, cl.selected, cl.sel = nil, "", nil
		default:
		}
	}
	if cl.c == nil {
		handler := &imapclient.UnilateralDataHandler{
			// Runs on the client's reader goroutine: never block.
			Mailbox: func(d *imapclient.UnilateralDataMailbox) {
				if d.NumMessages != nil {
					select {
					case cl.wake <- struct{}{}:
					default:
					}
				}
			},
		}
		c, err := cl.acct.dial(ctx, handler)
		if err != nil {
			return nil, nil, err
		}
		cl.c = c
	}
	name := cl.acct.mailbox()
	if cl.selected != name || cl.sel == nil {
		sel, err := cl.c.Select(name, &imap.SelectOptions{CondStore: cl.c.Caps().Has(imap.CapCondStore)}).Wait()
		if err != nil {
			cl.drop()
			return nil, nil, fmt.Errorf("mailbox: select: %v: %w", err, app.ErrOffline)
		}
		cl.selected, cl.sel = name, sel
	}
	return cl.c, cl.sel, nil
}

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
	// import's critical path) and to the producer.
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

// locked runs fn with the session's lock held, on a session whose
// UIDVALIDITY is still st's (reconnecting after a failure of MarkImported).
// A failure of fn drops the connection.
func (cl *Client) locked(ctx context.Context, st app.MailboxState, fn func(c *imapclient.Client) error) error {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	c, sel, err := cl.session(ctx)
	if err != nil {
		return err
	}
	if sel.UIDValidity != st.UIDValidity {
		return fmt.Errorf("mailbox: UIDVALIDITY changed during fetch: %w", app.ErrConflict)
	}
	if err := fn(c); err != nil {
		cl.drop()
		return err
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

// msgPlan is what the structure of a message decides, before any
// download: its headers, the parts Carnet reads and the problems met.
type msgPlan struct {
	m        *app.Message
	lim      Limits
	need     []Part              // the parts Carnet reads
	problems []app.ImportProblem // from the structure
	walk     bool                // the parts are taken from the raw message (WalkMIME)
	final    bool                // nothing to download (over the size cap)
	demo     bool
}

// plan reads one fetched structure: headers, size checks, and the parts
// needed.
func (cl *Client) plan(st app.MailboxState, meta *imapclient.FetchMessageBuffer, lim Limits) msgPlan {
	m := &app.Message{
		Ref:  app.MessageRef{Account: st.Account, Mailbox: st.Mailbox, UIDValidity: st.UIDValidity, UID: uint32(meta.UID)},
		Date: meta.InternalDate,
		Size: meta.RFC822Size,
	}
	p := msgPlan{m: m, lim: lim, demo: cl.acct.Demo}
	if env := meta.Envelope; env != nil {
		m.Ref.MessageID, m.Subject = env.MessageID, env.Subject
		if len(env.From) > 0 {
			m.From = env.From[0].Addr()
		}
		if !env.Date.IsZero() {
			m.Date = env.Date
		}
	}
	if len(meta.BodySection) > 0 {
		h := headerOf(append(append([]byte(nil), meta.BodySection[0].Bytes...), "\r\n"...), lim)
		m.NotifyTo, m.ReturnPath, m.HeaderINS = h.notifyTo, h.returnPath, h.headerINS
		if m.Ref.MessageID == "" {
			m.Ref.MessageID = h.messageID
		}
	}
	if meta.RFC822Size > lim.MaxMessageBytes {
		m.Problems = append(m.Problems, app.ImportProblem{Kind: app.ProblemTooLarge, Detail: fmt.Sprintf("message over %d bytes", lim.MaxMessageBytes)})
		p.final = true
		return p
	}
	parts, problems := structureParts(meta.BodyStructure, lim)
	var need []Part
	for _, part := range parts {
		if classify(part) == kindOther || strings.HasPrefix(part.MediaType, "message/") {
			continue
		}
		// Encoded size from BODYSTRUCTURE: base64 shrinks by a quarter.
		if dec := part.Size * 3 / 4; dec > lim.MaxPartBytes {
			problems = append(problems, app.ImportProblem{Kind: app.ProblemTooLarge, Part: part.Section(), Detail: fmt.Sprintf("attachment over %d bytes", lim.MaxPartBytes)})
			continue
		}
		need = append(need, part)
	}
	if quarantines(problems) || secure(problems) {
		need = nil
	}
	// The whole message is downloaded anyway (it is sealed in the vault):
	// when it is within the cap, its parts are taken from it by WalkMIME
	// instead of being fetched a second time (BINARY.PEEK): half the bytes
	// on the wire. The BODYSTRUCTURE decisions above still stand (a message
	// refused by its structure is not walked).
	p.need, p.problems, p.walk = need, problems, len(need) > 0
	return p
}

// finish builds the Message of a downloaded job (CPU only: MIME walk, XDM
// and CDA reading); nil when the message was expunged meanwhile.
func (j *fetchJob) finish() *app.Message {
	p := j.plan
	m := p.m
	if p.final {
		return m
	}
	if j.gone {
		return nil
	}
	opt := readOptions{Demo: p.demo, HeaderINS: m.HeaderINS, XDM: xdm.DefaultLimits()}
	m.Raw = j.raw
	if p.walk && !j.split {
		parts, wprobs, err := WalkMIME(j.raw, p.lim)
		if err != nil {
			m.Problems = []app.ImportProblem{{Kind: app.ProblemMIME, Detail: "not a mail message"}}
			return m
		}
		if quarantines(wprobs) {
			m.Problems = wprobs
			return m
		}
		m.Reports, m.Problems = reportsOf(parts, wprobs, opt)
		return m
	}
	if j.split { // raw over the cap (the server lied about RFC822.SIZE): the parts, fetched
		m.Raw = nil
	}
	need, problems := p.need, p.problems
	for i := range need {
		if i < len(j.bodies) {
			need[i].Body = j.bodies[i]
		}
		if need[i].Body == nil {
			problems = append(problems, app.ImportProblem{Kind: app.ProblemMIME, Part: need[i].Section(), Detail: "attachment could not be decoded"})
		}
	}
	if quarantines(problems) {
		m.Problems = problems
		return m
	}
	m.Reports, m.Problems = reportsOf(need, problems, opt)
	return m
}

func secure(ps []app.ImportProblem) bool {
	for _, p := range ps {
		if p.Kind == app.ProblemEncrypted || p.Kind == app.ProblemSigned {
			return true
		}
	}
	return false
}

// download fetches, in one FETCH and with PEEK only, the whole message and
// the needed parts: BINARY.PEEK when the server has BINARY (it removes the
// transfer encoding), else BODY.PEEK decoded here. gone reports that the
// message was expunged meanwhile.
func (cl *Client) download(ctx context.Context, c *imapclient.Client, uid imap.UID, need []Part, lim Limits) (raw []byte, bodies [][]byte, gone bool, err error) {
	binary := c.Caps().Has(imap.CapBinary) || c.Caps().Has(imap.CapIMAP4rev2)
	opts := &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{{Peek: true}}}
	for _, p := range need {
		if binary {
			opts.BinarySection = append(opts.BinarySection, &imap.FetchItemBinarySection{Part: p.Path, Peek: true})
		} else {
			opts.BodySection = append(opts.BodySection, &imap.FetchItemBodySection{Part: p.Path, Peek: true})
		}
	}
	fc := c.Fetch(imap.UIDSetNum(uid), opts)
	defer fc.Close()
	msg := fc.Next()
	if msg == nil {
		if err := fc.Close(); err != nil {
			return nil, nil, false, fmt.Errorf("mailbox: fetch: %v: %w", err, app.ErrOffline)
		}
		return nil, nil, true, nil
	}
	bodies = make([][]byte, len(need))
	for item := msg.Next(); item != nil; item = msg.Next() {
		switch it := item.(type) {
		case imapclient.FetchItemDataBodySection:
			if it.Literal == nil {
				continue
			}
			if len(it.Section.Part) == 0 && it.Section.Specifier == imap.PartSpecifierNone {
				raw, err = io.ReadAll(io.LimitReader(it.Literal, lim.MaxMessageBytes+1))
				if err != nil {
					return nil, nil, false, fmt.Errorf("mailbox: fetch message: %v: %w", err, app.ErrOffline)
				}
				continue
			}
			for i, p := range need {
				if samePath(p.Path, it.Section.Part) {
					bodies[i] = decodePart(it.Literal, p.Encoding, lim.MaxPartBytes)
				}
			}
		case imapclient.FetchItemDataBinarySection:
			if it.Literal == nil {
				continue
			}
			for i, p := range need {
				if samePath(p.Path, it.Section.Part) {
					b, err := io.ReadAll(io.LimitReader(it.Literal, lim.MaxPartBytes+1))
					if err == nil && int64(len(b)) <= lim.MaxPartBytes {
						bodies[i] = b
					}
				}
			}
		}
	}
	if err := fc.Close(); err != nil {
		return nil, nil, false, fmt.Errorf("mailbox: fetch: %v: %w", err, app.ErrOffline)
	}
	_ = ctx
	return raw, bodies, false, nil
}

// decodePart reads a part fetched with BODY.PEEK and removes its transfer
// encoding; nil when it cannot be decoded or is over max.
func decodePart(r io.Reader, enc string, max int64) []byte {
	switch strings.ToLower(enc) {
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, stripSpace{r})
	case "quoted-printable":
		r = qpReader(r)
	}
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil || int64(len(b)) > max {
		return nil
	}
	return b
}

func samePath(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// MarkImported implements app.Mailbox: the $CarnetImported keyword when the
// mailbox's PERMANENTFLAGS allow it (or MarkKeyword), else a MOVE to
// ImportedFolder when the server has MOVE or UIDPLUS (without them go-imap
// would fall back to an EXPUNGE of the whole mailbox). Never a deletion.
// When neither is possible the message is left as is: the vault's record is
// the only mark, and nil is returned.
func (cl *Client) MarkImported(ctx context.Context, ref app.MessageRef) error {
	return cl.MarkImportedSet(ctx, []app.MessageRef{ref})
}

var _ app.MailboxSetMarker = (*Client)(nil)

// MarkImportedSet implements app.MailboxSetMarker: MarkImported for every
// message of refs in one command (UID STORE <set> +FLAGS.SILENT, or one
// UID MOVE <set>).
func (cl *Client) MarkImportedSet(ctx context.Context, refs []app.MessageRef) error {
	if len(refs) == 0 {
		return nil
	}
	cl.mu.Lock()
	defer cl.mu.Unlock()
	var set imap.UIDSet
	for _, ref := range refs {
		if ref.Mailbox != "" && ref.Mailbox != cl.acct.mailbox() {
			return fmt.Errorf("mailbox: mark: message of another mailbox: %w", app.ErrInvalid)
		}
		if ref.UIDValidity != refs[0].UIDValidity {
			return fmt.Errorf("mailbox: mark: messages of several UIDVALIDITY: %w", app.ErrInvalid)
		}
		set.AddNum(imap.UID(ref.UID))
	}
	c, sel, err := cl.session(ctx)
	if err != nil {
		return err
	}
	if sel.UIDValidity != refs[0].UIDValidity {
		return fmt.Errorf("mailbox: mark: UIDVALIDITY changed: %w", app.ErrConflict)
	}
	keyword := cl.acct.Mark != MarkMove && permits(sel.PermanentFlags, app.ImportedKeyword)
	if keyword {
		err := c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{app.ImportedKeyword}}, nil).Close()
		if err != nil {
			cl.drop()
			return fmt.Errorf("mailbox: mark: %v: %w", err, app.ErrOffline)
		}
		return nil
	}
	if cl.acct.Mark == MarkKeyword || cl.acct.ImportedFolder == "" {
		return nil
	}
	caps := c.Caps()
	if !caps.Has(imap.CapMove) && !caps.Has(imap.CapUIDPlus) && !caps.Has(imap.CapIMAP4rev2) {
		cl.log.Warn("mailbox: cannot move imported message: server has neither MOVE nor UIDPLUS")
		return nil
	}
	if err := c.Create(cl.acct.ImportedFolder, nil).Wait(); err != nil {
		var ie *imap.Error
		if !errors.As(err, &ie) || (ie.Code != imap.ResponseCodeAlreadyExists && ie.Type != imap.StatusResponseTypeNo) {
			cl.drop()
			return fmt.Errorf("mailbox: create folder: %v: %w", err, app.ErrOffline)
		}
	}
	if _, err := c.Move(set, cl.acct.ImportedFolder).Wait(); err != nil {
		cl.drop()
		return fmt.Errorf("mailbox: move: %v: %w", err, app.ErrOffline)
	}
	return nil
}

// permits reports whether PERMANENTFLAGS allow setting keyword.
func permits(flags []imap.Flag, keyword string) bool {
	for _, f := range flags {
		if f == imap.FlagWildcard || strings.EqualFold(string(f), keyword) {
			return true
		}
	}
	return false
}

// Watch calls handler once, then each time new mail arrives: with IDLE
// when the server has it (restarted by go-imap every 28 minutes, and here
// at least every interval), else by polling every interval. Connection
// failures are retried with exponential backoff (1 s to 5 min). It returns
// when ctx ends, or with handler's error when that wraps no
// app.ErrOffline.
func (cl *Client) Watch(ctx context.Context, interval time.Duration, handler func(context.Context) error) error {
	if interval <= 0 {
		interval = 5 * time.Minute
	}
	backoff := time.Second
	for {
		err := handler(ctx)
		if err != nil && !errors.Is(err, app.ErrOffline) {
			return err
		}
		if err == nil {
			backoff = time.Second
			err = cl.wait(ctx, interval)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			cl.log.Warn("mailbox: watch: reconnecting", "in", backoff, "err", err)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 5*time.Minute)
		}
	}
}

// wait blocks until new mail is announced (IDLE) or interval passes.
func (cl *Client) wait(ctx context.Context, interval time.Duration) error {
	cl.mu.Lock()
	c, _, err := cl.session(ctx)
	if err != nil {
		cl.mu.Unlock()
		return err
	}
	select { // forget announcements that the handler already served
	case <-cl.wake:
	default:
	}
	if !c.Caps().Has(imap.CapIdle) && !c.Caps().Has(imap.CapIMAP4rev2) {
		cl.mu.Unlock()
		select {
		case <-ctx.Done():
		case <-time.After(interval):
		}
		return nil
	}
	idle, err := c.Idle()
	if err != nil {
		cl.drop()
		cl.mu.Unlock()
		return fmt.Errorf("mailbox: idle: %v: %w", err, app.ErrOffline)
	}
	defer cl.mu.Unlock()
	select {
	case <-ctx.Done():
	case <-cl.wake:
	case <-time.After(interval):
	case <-c.Closed():
	}
	if err := idle.Close(); err != nil {
		cl.drop()
		return fmt.Errorf("mailbox: idle: %v: %w", err, app.ErrOffline)
	}
	if err := idle.Wait(); err != nil {
		cl.drop()
		return fmt.Errorf("mailbox: idle: %v: %w", err, app.ErrOffline)
	}
	return nil
}
