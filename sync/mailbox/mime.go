package mailbox

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // registers the ISO-8859-x, Windows-125x… decoders
	"github.com/emersion/go-message/textproto"

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

// errTooLarge: a part decodes to more than the limit.
var errTooLarge = errors.New("mailbox: part over the size limit")

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
	w := &walker{}
	return w.walk(raw, lim)
}

// walkMIME is WalkMIME; all keeps the content of every leaf part (text,
// images: what a person reads), not only of those Carnet files.
func walkMIME(raw []byte, lim Limits, all bool) ([]Part, []app.ImportProblem, error) {
	w := &walker{all: all}
	return w.walk(raw, lim)
}

// walkImport is WalkMIME for the import: the bodies of the archives
// (IHE_XDM.ZIP), which only the XDM reader reads, are decoded into
// reused buffers (bufFree); release gives them back, once nothing reads them any
// more (never nil).
func walkImport(raw []byte, lim Limits) (parts []Part, problems []app.ImportProblem, release func(), err error) {
	w := &walker{pool: true}
	parts, problems, err = w.walk(raw, lim)
	return parts, problems, w.release, err
}

// walk walks the message raw (see WalkMIME).
func (w *walker) walk(raw []byte, lim Limits) ([]Part, []app.ImportProblem, error) {
	lim = lim.withDefaults()
	w.lim = lim
	if int64(len(raw)) > lim.MaxMessageBytes {
		return nil, []app.ImportProblem{{Kind: app.ProblemTooLarge, Detail: fmt.Sprintf("message over %d bytes", lim.MaxMessageBytes)}}, nil
	}
	e, err := message.ReadWithOptions(bytes.NewReader(raw), &message.ReadOptions{MaxHeaderBytes: lim.MaxHeaderBytes})
	if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
		return nil, nil, errNotMessage
	}
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
	// b64 are the entities whose body is still base64 (decoded by
	// decodeBase64, in one pass, rather than through go-message's
	// stream decoder).
	b64 map[*message.Entity]bool
	// pool: the archives' bodies are decoded into pooled buffers
	// (walkImport), listed in pooled until release.
	pool   bool
	pooled []*[]byte
}

// release gives the pooled buffers back (walkImport).
func (w *walker) release() {
	for _, b := range w.pooled {
		putBuf(b)
	}
	w.pooled = nil
}

// child makes the entity of a multipart's part, as go-message's
// multipart reader does, except that a base64 body of a type that is not
// text (no charset to apply after the decoding), not a container and not a
// message is left encoded, for leaf to decode in one pass.
func (w *walker) child(h message.Header, body io.Reader) (*message.Entity, error) {
	if strings.ToLower(h.Get("Content-Transfer-Encoding")) == "base64" {
		mt, params := parseParams(h.Get("Content-Type"))
		if strings.Contains(mt, "/") && !strings.HasPrefix(mt, "text/") && !strings.HasPrefix(mt, "multipart/") &&
			!strings.HasPrefix(mt, "message/") && secureKind(mt, params) == "" {
			h = h.Copy()
			h.Del("Content-Transfer-Encoding")
			e, err := message.New(h, body)
			if e != nil {
				if w.b64 == nil {
					w.b64 = map[*message.Entity]bool{}
				}
				w.b64[e] = true
			}
			return e, err
		}
	}
	return message.New(h, body)
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
		if e.MultipartReader() == nil {
			w.problem(app.ProblemMIME, p, "unreadable multipart")
			return
		}
		// go-message's multipart reader, with the parts made by child.
		_, cparams, _ := e.Header.ContentType()
		mr := textproto.NewMultipartReader(e.Body, cparams["boundary"])
		for i := 1; ; i++ {
			var child *message.Entity
			tp, err := mr.NextPart()
			if err == nil {
				child, err = w.child(message.Header{Header: tp.Header}, tp)
			}
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
	b64 := w.b64[e]
	if b64 {
		part.Encoding = "base64"
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
	kind := classify(part)
	if kind == kindOther && !w.all {
		r := e.Body
		if b64 {
			r = base64.NewDecoder(base64.StdEncoding, stripSpace{r})
		}
		n, _ := io.Copy(io.Discard, io.LimitReader(r, w.lim.MaxPartBytes+1))
		part.Size = n
		w.parts = append(w.parts, part)
		return
	}
	var body []byte
	var err error
	if b64 {
		var pooled *[]byte
		if w.pool && kind == kindXDM {
			pooled = getBuf()
		}
		body, err = decodeBase64(e.Body, w.lim.MaxPartBytes, pooled)
		if pooled != nil {
			if err == nil {
				*pooled = body[:0]
			}
			w.pooled = append(w.pooled, pooled)
		}
	} else {
		body, err = io.ReadAll(io.LimitReader(e.Body, w.lim.MaxPartBytes+1))
	}
	switch {
	case errors.Is(err, errTooLarge):
		w.problem(app.ProblemTooLarge, p, fmt.Sprintf("attachment over %d bytes", w.lim.MaxPartBytes))
		return
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
