package mailbox

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // registers the ISO-8859-x, Windows-125x… decoders

	"github.com/carnetdesk/carnet/app"
)

// Limits bound what the mailbox reads from a message. The zero value of a
// field means its default.
type Limits struct {
	MaxMessageBytes int64 // whole message (RFC822.SIZE); default 50 MiB
	MaxPartBytes    int64 // one decoded attachment; default 50 MiB
	MaxParts        int   // leaf parts in one message, nested ones included; default 1000
	MaxDepth        int   // multipart and message/rfc822 nesting; default 16
	MaxHeaderBytes  int64 // one header block; default 256 KiB
}

// DefaultLimits returns the default limits.
func DefaultLimits() Limits {
	return Limits{MaxMessageBytes: 50 << 20, MaxPartBytes: 50 << 20, MaxParts: 1000, MaxDepth: 16, MaxHeaderBytes: 256 << 10}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxMessageBytes <= 0 {
		l.MaxMessageBytes = d.MaxMessageBytes
	}
	if l.MaxPartBytes <= 0 {
		l.MaxPartBytes = d.MaxPartBytes
	}
	if l.MaxParts <= 0 {
		l.MaxParts = d.MaxParts
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = d.MaxDepth
	}
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = d.MaxHeaderBytes
	}
	return l
}

// errNotMessage: the input has no readable top-level header.
var errNotMessage = errors.New("mailbox: not a mail message")

// WalkMIME reads a whole message without IMAP: it walks the MIME tree,
// entering forwarded messages (message/rfc822) and numbering parts as IMAP
// does, and returns every leaf part with the decoded content of those
// Carnet reads (ZIP archives, CDA, PDF). What makes the message unsafe or
// unreadable (too large, too deep, too many parts, a broken transfer
// encoding in a part Carnet needs, a multipart without boundary) and what
// sends it to a person (encrypted, signed) comes back as problems. The
// error is non-nil only when raw has no readable header at all.
func WalkMIME(raw []byte, lim Limits) ([]Part, []app.ImportProblem, error) {
	return walkMIME(raw, lim, false)
}

// walkMIME is WalkMIME; all keeps the content of every leaf part (text,
// images: what a person reads), not only of those Carnet files.
func walkMIME(raw []byte, lim Limits, all bool) ([]Part, []app.ImportProblem, error) {
	lim = lim.withDefaults()
	if int64(len(raw)) > lim.MaxMessageBytes {
		return nil, []app.ImportProblem{{Kind: app.ProblemTooLarge, Detail: fmt.Sprintf("message over %d bytes", lim.MaxMessageBytes)}}, nil
	}
	e, err := message.ReadWithOptions(bytes.NewReader(raw), &message.ReadOptions{MaxHeaderBytes: lim.MaxHeaderBytes})
	if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
		return nil, nil, errNotMessage
	}
	w := &walker{lim: lim, all: all}
	w.entity(e, nil, 0, true)
	return w.parts, w.problems, nil
}

// walker is the state of one WalkMIME.
type walker struct {
	lim      Limits
	parts    []Part
	problems []app.ImportProblem
	leaves   int
	stopped  bool
	all      bool // keep every leaf's content (walkMIME)
}

func (w *walker) problem(kind app.ProblemKind, p []int, detail string) {
	for _, q := range w.problems {
		if q.Kind == kind && q.Detail == detail {
			return
		}
	}
	w.problems = append(w.problems, app.ImportProblem{Kind: kind, Part: Part{Path: p}.Section(), Detail: detail})
}

// entity walks e, whose own path is p. top is true for a message's root
// entity: a single-part root is numbered [p…, 1], as IMAP does.
func (w *walker) entity(e *message.Entity, p []int, depth int, top bool) {
	if w.stopped {
		return
	}
	if depth > w.lim.MaxDepth {
		w.problem(app.ProblemMIME, p, "nesting too deep")
		w.stopped = true
		return
	}
	mt, params := parseParams(e.Header.Get("Content-Type"))
	if mt == "" || !strings.Contains(mt, "/") {
		mt = "text/plain"
	}
	if k := secureKind(mt, params); k != "" {
		w.problem(app.ProblemKind(k), p, k+" content")
		if k == "encrypted" {
			return // nothing readable inside
		}
	}
	if strings.HasPrefix(mt, "multipart/") {
		if params["boundary"] == "" {
			w.problem(app.ProblemMIME, p, "multipart without boundary")
			return
		}
		mr := e.MultipartReader()
		if mr == nil {
			w.problem(app.ProblemMIME, p, "unreadable multipart")
			return
		}
		for i := 1; ; i++ {
			child, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil && child == nil {
				if i == 1 {
					w.problem(app.ProblemMIME, p, "malformed multipart")
				}
				break
			}
			w.entity(child, appendPath(p, i), depth+1, false)
			if w.stopped {
				return
			}
		}
		return
	}
	if top {
		p = appendPath(p, 1)
	}
	w.leaf(e, p, mt, params, depth)
}

// leaf records a leaf part, reads the content of the parts Carnet needs and
// enters forwarded messages.
func (w *walker) leaf(e *message.Entity, p []int, mt string, params map[string]string, depth int) {
	w.leaves++
	if w.leaves > w.lim.MaxParts {
		w.problem(app.ProblemMIME, p, fmt.Sprintf("more than %d parts", w.lim.MaxParts))
		w.stopped = true
		return
	}
	disp, dparams := parseParams(e.Header.Get("Content-Disposition"))
	part := Part{
		Path: p, MediaType: mt, Params: params, Disposition: disp,
		FileName: fileName(dparams, params),
		Encoding: strings.ToLower(strings.TrimSpace(e.Header.Get("Content-Transfer-Encoding"))),
		Depth:    depth,
	}
	if mt == "message/rfc822" || mt == "message/global" {
		w.parts = append(w.parts, part)
		inner, err := message.ReadWithOptions(io.LimitReader(e.Body, w.lim.MaxMessageBytes), &message.ReadOptions{MaxHeaderBytes: w.lim.MaxHeaderBytes})
		if err != nil && inner == nil {
			w.problem(app.ProblemMIME, p, "unreadable forwarded message")
			return
		}
		// The parts of a forwarded message are numbered under its own
		// path: [2 1] for a single-part one, [2 k] for a multipart one.
		w.entity(inner, p, depth+1, true)
		return
	}
	if classify(part) == kindOther && !w.all {
		n, _ := io.Copy(io.Discard, io.LimitReader(e.Body, w.lim.MaxPartBytes+1))
		part.Size = n
		w.parts = append(w.parts, part)
		return
	}
	body, err := io.ReadAll(io.LimitReader(e.Body, w.lim.MaxPartBytes+1))
	switch {
	case err != nil:
		w.problem(app.ProblemMIME, p, "broken transfer encoding in an attachment")
		return
	case int64(len(body)) > w.lim.MaxPartBytes:
		w.problem(app.ProblemTooLarge, p, fmt.Sprintf("attachment over %d bytes", w.lim.MaxPartBytes))
		return
	}
	part.Body, part.Size = body, int64(len(body))
	w.parts = append(w.parts, part)
}

func appendPath(p []int, n int) []int {
	out := make([]int, len(p)+1)
	copy(out, p)
	out[len(p)] = n
	return out
}
