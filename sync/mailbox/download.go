package mailbox

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/sync/mailbox/xdm"
)

// This file is the MIME plan of a message (what to download, what to
// refuse by size) and the download of the parts it needs.

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
		parts, wprobs, release, err := walkImport(j.raw, p.lim)
		// The archives' bodies go back to the pool once read (their
		// documents are copies).
		defer release()
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
