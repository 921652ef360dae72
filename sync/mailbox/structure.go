package mailbox

import (
	"fmt"
	"io"
	"mime/quotedprintable"
	"strings"

	"github.com/emersion/go-imap/v2"

	"github.com/carnetdesk/carnet/app"
)

// structureParts lists the leaf parts of an IMAP BODYSTRUCTURE, entering
// forwarded messages (message/rfc822), which go-imap's Walk does not do,
// with their IMAP paths and decoded file names. Signed and encrypted
// containers, and trees over the limits, come back as problems.
func structureParts(bs imap.BodyStructure, lim Limits) ([]Part, []app.ImportProblem) {
	w := &structWalker{lim: lim.withDefaults()}
	if bs == nil {
		return nil, []app.ImportProblem{{Kind: app.ProblemMIME, Detail: "no body structure"}}
	}
	w.walk(bs, nil, 0)
	return w.parts, w.problems
}

type structWalker struct {
	lim      Limits
	parts    []Part
	problems []app.ImportProblem
	stopped  bool
}

func (w *structWalker) problem(kind app.ProblemKind, p []int, detail string) {
	for _, q := range w.problems {
		if q.Kind == kind && q.Detail == detail {
			return
		}
	}
	w.problems = append(w.problems, app.ImportProblem{Kind: kind, Part: Part{Path: p}.Section(), Detail: detail})
}

// walk visits bs, the body of a message (the top one or a forwarded one)
// whose own path is prefix.
func (w *structWalker) walk(bs imap.BodyStructure, prefix []int, depth int) {
	bs.Walk(func(p []int, part imap.BodyStructure) bool {
		if w.stopped {
			return false
		}
		path := append(append([]int(nil), prefix...), p...)
		d := depth + len(p)
		if d > w.lim.MaxDepth {
			w.problem(app.ProblemMIME, path, "nesting too deep")
			w.stopped = true
			return false
		}
		switch sp := part.(type) {
		case *imap.BodyStructureMultiPart:
			var params map[string]string
			if sp.Extended != nil {
				params = sp.Extended.Params
			}
			if k := secureKind(sp.MediaType(), params); k != "" {
				w.problem(app.ProblemKind(k), path, k+" content")
				return k != "encrypted"
			}
			return true
		case *imap.BodyStructureSinglePart:
			if len(w.parts) >= w.lim.MaxParts {
				w.problem(app.ProblemMIME, path, fmt.Sprintf("more than %d parts", w.lim.MaxParts))
				w.stopped = true
				return false
			}
			mt := sp.MediaType()
			if k := secureKind(mt, lowerKeys(sp.Params)); k != "" {
				w.problem(app.ProblemKind(k), path, k+" content")
			}
			pt := Part{Path: path, MediaType: mt, Params: lowerKeys(sp.Params),
				Encoding: strings.ToLower(sp.Encoding), Size: int64(sp.Size), Depth: d}
			var dparams map[string]string
			if disp := sp.Disposition(); disp != nil {
				pt.Disposition = strings.ToLower(disp.Value)
				dparams = lowerKeys(disp.Params)
			}
			pt.FileName = fileName(dparams, pt.Params)
			w.parts = append(w.parts, pt)
			if sp.MessageRFC822 != nil && sp.MessageRFC822.BodyStructure != nil {
				w.walk(sp.MessageRFC822.BodyStructure, path, d+1)
			}
		}
		return true
	})
}

func lowerKeys(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[strings.ToLower(k)] = v
	}
	return out
}

// stripSpace drops the line breaks and spaces of a base64 stream, which
// encoding/base64 would otherwise reject in the middle of a quantum.
type stripSpace struct{ r io.Reader }

func (s stripSpace) Read(b []byte) (int, error) {
	for {
		n, err := s.r.Read(b)
		j := 0
		for _, c := range b[:n] {
			if c != '\r' && c != '\n' && c != ' ' && c != '\t' {
				b[j] = c
				j++
			}
		}
		if j > 0 || err != nil {
			return j, err
		}
	}
}

func qpReader(r io.Reader) io.Reader { return quotedprintable.NewReader(r) }
