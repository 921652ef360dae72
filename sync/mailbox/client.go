package mailbox

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
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

// fetchBatch is how many messages one FETCH of structures covers.
const fetchBatch = 50

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
// only, the structure and a few header fields first, checks the sizes
// against the limits, then the whole message (to be sealed) and the parts
// Carnet reads, and builds the reports.
func (cl *Client) Fetch(ctx context.Context, state app.MailboxState, each func(app.Message) error) (app.MailboxState, error) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	// Re-select so that UIDVALIDITY, UIDNEXT and HIGHESTMODSEQ are fresh.
	cl.selected = ""
	c, sel, err := cl.session(ctx)
	if err != nil {
		return state, err
	}
	st := state
	st.Account, st.Mailbox = cl.acct.Name, cl.acct.mailbox()
	if st.UIDValidity != sel.UIDValidity {
		st.UIDValidity, st.LastUID, st.HighestModSeq = sel.UIDValidity, 0, 0
	}
	uids, err := cl.newUIDs(c, st.LastUID)
	if err != nil {
		cl.drop()
		return state, err
	}
	for start := 0; start < len(uids); start += fetchBatch {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		batch := uids[start:min(start+fetchBatch, len(uids))]
		metas, err := c.Fetch(imap.UIDSetNum(batch...), &imap.FetchOptions{
			UID: true, Flags: true, Envelope: true, RFC822Size: true, InternalDate: true,
			BodyStructure: &imap.FetchItemBodyStructure{Extended: true},
			BodySection: []*imap.FetchItemBodySection{{Specifier: imap.PartSpecifierHeader, Peek: true,
				HeaderFields: headerFields}},
		}).Collect()
		if err != nil {
			cl.drop()
			return st, fmt.Errorf("mailbox: fetch structure: %v: %w", err, app.ErrOffline)
		}
		sort.Slice(metas, func(i, j int) bool { return metas[i].UID < metas[j].UID })
		for _, meta := range metas {
			if meta.UID <= imap.UID(st.LastUID) {
				continue
			}
			m, err := cl.read(ctx, c, st, meta)
			if err != nil {
				cl.drop()
				return st, err
			}
			if m == nil {
				continue // expunged meanwhile
			}
			// each may call MarkImported, which uses this session: the
			// connection is idle between messages.
			cl.mu.Unlock()
			err = each(*m)
			cl.mu.Lock()
			if err != nil {
				return st, err
			}
			st.LastUID = m.Ref.UID
			if cl.c != c {
				// MarkImported dropped a failed connection: reconnect.
				var sel2 *imap.SelectData
				if c, sel2, err = cl.session(ctx); err != nil {
					return st, err
				}
				if sel2.UIDValidity != st.UIDValidity {
					return st, fmt.Errorf("mailbox: UIDVALIDITY changed during fetch: %w", app.ErrConflict)
				}
			}
		}
	}
	st.HighestModSeq = sel.HighestModSeq
	return st, nil
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

// read builds the Message of one fetched structure: size checks, then the
// raw message and the needed parts with BODY.PEEK/BINARY.PEEK.
func (cl *Client) read(ctx context.Context, c *imapclient.Client, st app.MailboxState, meta *imapclient.FetchMessageBuffer) (*app.Message, error) {
	lim := cl.acct.Limits.withDefaults()
	m := &app.Message{
		Ref:  app.MessageRef{Account: st.Account, Mailbox: st.Mailbox, UIDValidity: st.UIDValidity, UID: uint32(meta.UID)},
		Date: meta.InternalDate,
		Size: meta.RFC822Size,
	}
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
		return m, nil
	}
	parts, problems := structureParts(meta.BodyStructure, lim)
	var need []Part
	for _, p := range parts {
		if classify(p) == kindOther || strings.HasPrefix(p.MediaType, "message/") {
			continue
		}
		// Encoded size from BODYSTRUCTURE: base64 shrinks by a quarter.
		if dec := p.Size * 3 / 4; dec > lim.MaxPartBytes {
			problems = append(problems, app.ImportProblem{Kind: app.ProblemTooLarge, Part: p.Section(), Detail: fmt.Sprintf("attachment over %d bytes", lim.MaxPartBytes)})
			continue
		}
		need = append(need, p)
	}
	if quarantines(problems) || secure(problems) {
		need = nil
	}
	// The whole message is downloaded anyway (it is sealed in the vault):
	// when it is within the cap, its parts are taken from it by WalkMIME
	// instead of being fetched a second time (BINARY.PEEK): half the bytes
	// on the wire. The BODYSTRUCTURE decisions above still stand (a message
	// refused by its structure is not walked).
	walk := len(need) > 0
	fetch := need
	if walk {
		fetch = nil
	}
	raw, bodies, gone, err := cl.download(ctx, c, meta.UID, fetch, lim)
	if err != nil {
		return nil, err
	}
	if gone {
		return nil, nil
	}
	m.Raw = raw
	if walk && int64(len(raw)) <= lim.MaxMessageBytes {
		parts, wprobs, err := WalkMIME(raw, lim)
		if err != nil {
			m.Problems = []app.ImportProblem{{Kind: app.ProblemMIME, Detail: "not a mail message"}}
			return m, nil
		}
		if quarantines(wprobs) {
			m.Problems = wprobs
			return m, nil
		}
		m.Reports, m.Problems = reportsOf(parts, wprobs, readOptions{Demo: cl.acct.Demo, HeaderINS: m.HeaderINS, XDM: xdm.DefaultLimits()})
		return m, nil
	}
	if walk { // raw over the cap (the server lied about RFC822.SIZE): the parts, fetched
		if raw, bodies, gone, err = cl.download(ctx, c, meta.UID, need, lim); err != nil || gone {
			return nil, err
		}
		m.Raw = nil
	}
	for i := range need {
		need[i].Body = bodies[i]
		if bodies[i] == nil {
			problems = append(problems, app.ImportProblem{Kind: app.ProblemMIME, Part: need[i].Section(), Detail: "attachment could not be decoded"})
		}
	}
	if quarantines(problems) {
		m.Problems = problems
		return m, nil
	}
	m.Reports, m.Problems = reportsOf(need, problems, readOptions{Demo: cl.acct.Demo, HeaderINS: m.HeaderINS, XDM: xdm.DefaultLimits()})
	return m, nil
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
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if ref.Mailbox != "" && ref.Mailbox != cl.acct.mailbox() {
		return fmt.Errorf("mailbox: mark: message of another mailbox: %w", app.ErrInvalid)
	}
	c, sel, err := cl.session(ctx)
	if err != nil {
		return err
	}
	if sel.UIDValidity != ref.UIDValidity {
		return fmt.Errorf("mailbox: mark: UIDVALIDITY changed: %w", app.ErrConflict)
	}
	set := imap.UIDSetNum(imap.UID(ref.UID))
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
