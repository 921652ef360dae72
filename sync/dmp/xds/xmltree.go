package xds

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/carnetdesk/carnet/app"
)

// Namespaces of the messages.
const (
	NSSOAP  = "http://www.w3.org/2003/05/soap-envelope"
	NSWSA   = "http://www.w3.org/2005/08/addressing"
	NSWSSE  = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
	NSSAML  = "urn:oasis:names:tc:SAML:2.0:assertion"
	NSDSig  = "http://www.w3.org/2000/09/xmldsig#"
	NSXSI   = "http://www.w3.org/2001/XMLSchema-instance"
	NSHL7   = "urn:hl7-org:v3"
	NSRim   = "urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0"
	NSRs    = "urn:oasis:names:tc:ebxml-regrep:xsd:rs:3.0"
	NSQuery = "urn:oasis:names:tc:ebxml-regrep:xsd:query:3.0"
	NSLcm   = "urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0"
	NSXDSb  = "urn:ihe:iti:xds-b:2007"
	NSXOP   = "http://www.w3.org/2004/08/xop/include"
	NSXML   = "http://www.w3.org/XML/1998/namespace"
)

// Limits of the XML reader. A message beyond them is refused, not truncated.
const (
	maxDepth    = 64
	maxElements = 500_000
)

// ErrHostileXML is wrapped (with app.ErrServer) by every refusal of the XML
// reader: DTD, entity declaration, depth or size beyond the limits.
var ErrHostileXML = errors.New("xds: refused XML")

// node is one element of a parsed message: a minimal tree, read by namespace.
type node struct {
	Name     xml.Name
	Attr     []xml.Attr
	Children []*node
	Text     string // character data directly inside the element, concatenated
}

// attr returns the value of the unqualified (or any-namespace) attribute.
func (n *node) attr(local string) string {
	for _, a := range n.Attr {
		if a.Name.Local == local && (a.Name.Space == "" || a.Name.Space == n.Name.Space) {
			return a.Value
		}
	}
	return ""
}

// attrNS returns the value of the attribute in namespace space.
func (n *node) attrNS(space, local string) string {
	for _, a := range n.Attr {
		if a.Name.Local == local && a.Name.Space == space {
			return a.Value
		}
	}
	return ""
}

// is reports whether n is the element space:local.
func (n *node) is(space, local string) bool {
	return n != nil && n.Name.Space == space && n.Name.Local == local
}

// child returns the first child element space:local, or nil.
func (n *node) child(space, local string) *node {
	if n == nil {
		return nil
	}
	for _, c := range n.Children {
		if c.is(space, local) {
			return c
		}
	}
	return nil
}

// all returns the child elements space:local.
func (n *node) all(space, local string) []*node {
	if n == nil {
		return nil
	}
	var out []*node
	for _, c := range n.Children {
		if c.is(space, local) {
			out = append(out, c)
		}
	}
	return out
}

// text returns the trimmed text of n (empty for nil).
func (n *node) text() string {
	if n == nil {
		return ""
	}
	return strings.TrimSpace(n.Text)
}

// parseXMLStd reads one XML document from r into a tree with encoding/xml.
// It refuses DTDs and entity declarations (a DOCTYPE is refused outright),
// more than limit bytes, nesting deeper than maxDepth, more than
// maxElements elements, and trailing content after the root element. It is
// the reference of the fast reader (xmlfast.go), which hands it every
// message outside the plain subset it reads.
func parseXMLStd(r io.Reader, limit int64) (*node, error) {
	lr := &limitedReader{r: r, n: limit}
	br := xmlReaders.Get().(*bufio.Reader)
	br.Reset(lr)
	defer func() { br.Reset(nil); xmlReaders.Put(br) }()
	d := xml.NewDecoder(br)
	d.Strict = true
	d.Entity = nil
	d.CharsetReader = func(label string, in io.Reader) (io.Reader, error) {
		if strings.EqualFold(label, "utf-8") || strings.EqualFold(label, "us-ascii") {
			return in, nil
		}
		return nil, fmt.Errorf("%w: charset %q", ErrHostileXML, label)
	}
	var root *node
	var stack []*node
	count := 0
	for {
		tok, err := d.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			if lr.over {
				return nil, fmt.Errorf("%w: message larger than %d bytes: %w", ErrHostileXML, limit, app.ErrServer)
			}
			return nil, fmt.Errorf("xds: malformed XML: %w: %w", err, app.ErrServer)
		}
		switch t := tok.(type) {
		case xml.Directive:
			return nil, fmt.Errorf("%w: DTD or entity declaration: %w", ErrHostileXML, app.ErrServer)
		case xml.StartElement:
			count++
			if count > maxElements {
				return nil, fmt.Errorf("%w: more than %d elements: %w", ErrHostileXML, maxElements, app.ErrServer)
			}
			if len(stack) >= maxDepth {
				return nil, fmt.Errorf("%w: nesting deeper than %d: %w", ErrHostileXML, maxDepth, app.ErrServer)
			}
			if root != nil && len(stack) == 0 {
				return nil, fmt.Errorf("xds: malformed XML: content after the root element: %w", app.ErrServer)
			}
			n := &node{Name: t.Name, Attr: append([]xml.Attr(nil), t.Attr...)}
			if len(stack) > 0 {
				p := stack[len(stack)-1]
				p.Children = append(p.Children, n)
			} else {
				root = n
			}
			stack = append(stack, n)
		case xml.EndElement:
			if len(stack) == 0 {
				return nil, fmt.Errorf("xds: malformed XML: unbalanced end tag: %w", app.ErrServer)
			}
			if t.Name != stack[len(stack)-1].Name { // RawToken does not check it
				return nil, fmt.Errorf("xds: malformed XML: end tag does not match its start tag: %w", app.ErrServer)
			}
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].Text += string(t)
			} else if len(bytes.TrimSpace(t)) > 0 {
				return nil, fmt.Errorf("xds: malformed XML: text outside the root element: %w", app.ErrServer)
			}
		}
	}
	if root == nil || len(stack) != 0 {
		return nil, fmt.Errorf("xds: malformed XML: no complete root element: %w", app.ErrServer)
	}
	resolveNames(root, nil)
	return root, nil
}

// xmlReaders are the decoders' read buffers (one per message otherwise).
var xmlReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4096) }}

// resolveNames turns the raw prefixes of RawToken into namespace URIs, with
// the scope of xmlns declarations. Unknown prefixes stay as they are (and so
// match nothing).
func resolveNames(n *node, scope map[string]string) {
	local := scope
	copied := false
	for _, a := range n.Attr {
		if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
			if !copied {
				local = make(map[string]string, len(scope)+2)
				for k, v := range scope {
					local[k] = v
				}
				copied = true
			}
			if a.Name.Space == "" {
				local[""] = a.Value
			} else {
				local[a.Name.Local] = a.Value
			}
		}
	}
	ns := func(prefix string, isAttr bool) string {
		if prefix == "xml" {
			return NSXML
		}
		if prefix == "" && isAttr {
			return ""
		}
		if v, ok := local[prefix]; ok {
			return v
		}
		return prefix
	}
	n.Name.Space = ns(n.Name.Space, false)
	attrs := n.Attr[:0]
	for _, a := range n.Attr {
		if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
			continue
		}
		a.Name.Space = ns(a.Name.Space, true)
		attrs = append(attrs, a)
	}
	n.Attr = attrs
	for _, c := range n.Children {
		resolveNames(c, local)
	}
}

// limitedReader is io.LimitReader that remembers it hit the limit.
type limitedReader struct {
	r    io.Reader
	n    int64
	over bool
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		// One more byte tells a message of exactly the limit from a longer one.
		var one [1]byte
		k, err := l.r.Read(one[:])
		if k > 0 {
			l.over = true
			return 0, errors.New("size limit")
		}
		return 0, err
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	k, err := l.r.Read(p)
	l.n -= int64(k)
	return k, err
}
