package xds

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/carnetdesk/carnet/app"
)

// The fast reader of messages. parseXML reads the message (bounded) into
// one string and scans it by hand, building the same tree as the
// encoding/xml reader of xmltree.go (parseXMLStd) with a few allocations
// per message instead of several per token: names, attribute values and
// texts are substrings of the one copy of the message unless an entity
// must be decoded, and the nodes, attributes and child lists come from
// slabs.
//
// The fast scanner accepts only the plain subset of XML 1.0 that SOAP
// messages use (ASCII names with at most one prefix, the predefined and
// numeric character references, comments, CDATA, the XML declaration in
// UTF-8, line ends rewritten as \n). Anything else — a DOCTYPE, another
// charset, a name outside ASCII, a reference to a carriage return, an
// entity it does not know, any syntax error, a limit
// reached — sends the whole message to parseXMLStd, which decides and
// words the refusal exactly as before. So the fast path never accepts what
// the standard reader refuses, and never builds another tree:
// FuzzParseXMLFast checks both against each other.

// readBufs are the buffers messages are read into before their one copy.
var readBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// parseXML reads one XML document from r into a tree, with the refusals
// of parseXMLStd: DTDs and entity declarations, more than limit bytes,
// nesting deeper than maxDepth, more than maxElements elements, trailing
// content after the root element.
func parseXML(r io.Reader, limit int64) (*node, error) {
	lr := &limitedReader{r: r, n: limit}
	buf := readBufs.Get().(*bytes.Buffer)
	buf.Reset()
	_, err := buf.ReadFrom(lr)
	s := buf.String() // the one copy the tree's strings point into
	if buf.Cap() <= 1<<20 {
		readBufs.Put(buf)
	}
	if err != nil {
		if lr.over {
			return nil, fmt.Errorf("%w: message larger than %d bytes: %w", ErrHostileXML, limit, app.ErrServer)
		}
		return nil, fmt.Errorf("xds: malformed XML: %w: %w", err, app.ErrServer)
	}
	if root := fastParse(s); root != nil {
		resolveNames(root, nil)
		return root, nil
	}
	return parseXMLStd(strings.NewReader(s), limit)
}

// scanner is the state of one fast scan.
type scanner struct {
	s     string
	i     int
	nodes []node
	attrs []xml.Attr
	kids  []*node
	open  []*node // elements started, not yet ended
	marks []int   // for each open element, where its children start in pend
	pend  []*node // children of the open elements, in order
	count int
}

// fastParse builds the tree of s, or returns nil when s is outside the
// subset it reads (or is not well formed): the caller then asks
// parseXMLStd.
func fastParse(s string) *node {
	tags := strings.Count(s, "<") - strings.Count(s, "</")
	if tags <= 0 || tags > maxElements+16 {
		return nil
	}
	attrs := strings.Count(s, "=\"") + strings.Count(s, "='") // about one per attribute
	sc := &scanner{s: s, nodes: make([]node, 0, tags), attrs: make([]xml.Attr, 0, attrs), kids: make([]*node, 0, tags),
		open: make([]*node, 0, 16), marks: make([]int, 0, 16), pend: make([]*node, 0, 64)}
	var root *node
	for sc.i < len(s) {
		if s[sc.i] != '<' {
			end := strings.IndexByte(s[sc.i:], '<')
			if end < 0 {
				end = len(s)
			} else {
				end += sc.i
			}
			seg := s[sc.i:end]
			sc.i = end
			if len(sc.open) == 0 {
				if !blank(seg) {
					return nil
				}
				continue
			}
			text, ok := decodeText(seg)
			if !ok {
				return nil
			}
			sc.addText(text)
			continue
		}
		if sc.i+1 >= len(s) {
			return nil
		}
		switch s[sc.i+1] {
		case '/':
			if !sc.endTag() {
				return nil
			}
		case '?':
			if !sc.procInst() {
				return nil
			}
		case '!':
			if strings.HasPrefix(s[sc.i:], "<!--") {
				j := strings.Index(s[sc.i+4:], "--")
				if j < 0 || sc.i+4+j+2 >= len(s) || s[sc.i+4+j+2] != '>' {
					return nil
				}
				sc.i += 4 + j + 3
				continue
			}
			if strings.HasPrefix(s[sc.i:], "<![CDATA[") && len(sc.open) > 0 {
				j := strings.Index(s[sc.i+9:], "]]>")
				if j < 0 {
					return nil
				}
				seg := s[sc.i+9 : sc.i+9+j]
				if !plainChars(seg) {
					return nil
				}
				sc.addText(newlines(seg))
				sc.i += 9 + j + 3
				continue
			}
			return nil // a DOCTYPE or another declaration: parseXMLStd refuses it
		default:
			if root != nil && len(sc.open) == 0 {
				return nil // content after the root element
			}
			n, ok := sc.startTag()
			if !ok {
				return nil
			}
			if root == nil {
				root = n
			}
		}
	}
	if root == nil || len(sc.open) != 0 {
		return nil
	}
	return root
}

// addText appends character data to the open element.
func (sc *scanner) addText(t string) {
	n := sc.open[len(sc.open)-1]
	if n.Text == "" {
		n.Text = t
	} else {
		n.Text += t
	}
}

// newNode returns a node from the slab.
func (sc *scanner) newNode() *node {
	if len(sc.nodes) == cap(sc.nodes) {
		sc.nodes = make([]node, 0, 64)
	}
	sc.nodes = sc.nodes[:len(sc.nodes)+1]
	return &sc.nodes[len(sc.nodes)-1]
}

// startTag reads <name attr="v"…> or <name…/> at sc.i.
func (sc *scanner) startTag() (*node, bool) {
	s := sc.s
	i := sc.i + 1
	name, i, ok := scanName(s, i)
	if !ok {
		return nil, false
	}
	sc.count++
	if sc.count > maxElements || len(sc.open) >= maxDepth {
		return nil, false
	}
	n := sc.newNode()
	n.Name = name
	first := len(sc.attrs)
	empty := false
	for {
		j := skipSpace(s, i)
		if j >= len(s) {
			return nil, false
		}
		if s[j] == '>' {
			i = j + 1
			break
		}
		if s[j] == '/' {
			if j+1 >= len(s) || s[j+1] != '>' {
				return nil, false
			}
			i, empty = j+2, true
			break
		}
		if j == i {
			return nil, false // attributes are separated by white space here
		}
		var a xml.Attr
		if a.Name, j, ok = scanName(s, j); !ok {
			return nil, false
		}
		j = skipSpace(s, j)
		if j >= len(s) || s[j] != '=' {
			return nil, false
		}
		j = skipSpace(s, j+1)
		if j >= len(s) || (s[j] != '"' && s[j] != '\'') {
			return nil, false
		}
		q := s[j]
		end := strings.IndexByte(s[j+1:], q)
		if end < 0 {
			return nil, false
		}
		raw := s[j+1 : j+1+end]
		if strings.IndexByte(raw, '<') >= 0 {
			return nil, false
		}
		if a.Value, ok = decodeAttr(raw); !ok {
			return nil, false
		}
		sc.attrs = append(sc.attrs, a)
		i = j + 1 + end + 1
	}
	if k := len(sc.attrs) - first; k > 0 {
		n.Attr = sc.attrs[first:len(sc.attrs):len(sc.attrs)]
	}
	sc.i = i
	if len(sc.open) > 0 {
		sc.pend = append(sc.pend, n)
	}
	if empty {
		return n, true
	}
	sc.open = append(sc.open, n)
	sc.marks = append(sc.marks, len(sc.pend))
	return n, true
}

// endTag reads </name> at sc.i and closes the open element.
func (sc *scanner) endTag() bool {
	s := sc.s
	name, j, ok := scanName(s, sc.i+2)
	if !ok || len(sc.open) == 0 {
		return false
	}
	j = skipSpace(s, j)
	if j >= len(s) || s[j] != '>' {
		return false
	}
	n := sc.open[len(sc.open)-1]
	if n.Name != name {
		return false // parseXMLStd decides (it does not match names)
	}
	mark := sc.marks[len(sc.marks)-1]
	if k := len(sc.pend) - mark; k > 0 {
		if len(sc.kids)+k > cap(sc.kids) {
			sc.kids = make([]*node, 0, max(k, 256))
		}
		start := len(sc.kids)
		sc.kids = append(sc.kids, sc.pend[mark:]...)
		n.Children = sc.kids[start:len(sc.kids):len(sc.kids)]
	}
	sc.pend = sc.pend[:mark]
	sc.open = sc.open[:len(sc.open)-1]
	sc.marks = sc.marks[:len(sc.marks)-1]
	sc.i = j + 1
	return true
}

// procInst skips a processing instruction; the XML declaration must say
// version 1.0 and UTF-8 (or nothing) for the fast path.
func (sc *scanner) procInst() bool {
	s := sc.s
	start := sc.i + 2
	j := start
	for j < len(s) && isNameChar(s[j]) && s[j] != ':' {
		j++
	}
	if j == start || !isNameStart(s[start]) {
		return false
	}
	target := s[start:j]
	end := strings.Index(s[j:], "?>")
	if end < 0 {
		return false
	}
	content := s[j : j+end]
	if content != "" && !isSpace(content[0]) {
		return false
	}
	if target == "xml" && !plainDeclaration(content) {
		return false
	}
	sc.i = j + end + 2
	return true
}

// plainDeclaration reports whether the XML declaration's content is
// version="1.0", then optionally encoding="UTF-8" and standalone, quoted
// either way, and nothing else.
func plainDeclaration(c string) bool {
	fields := strings.Fields(c)
	want := []string{"version", "encoding", "standalone"}
	for _, f := range fields {
		k, v, ok := strings.Cut(f, "=")
		if !ok || len(v) < 2 || (v[0] != '"' && v[0] != '\'') || v[len(v)-1] != v[0] {
			return false
		}
		v = v[1 : len(v)-1]
		for len(want) > 0 && want[0] != k {
			if want[0] == "version" {
				return false // version comes first
			}
			want = want[1:]
		}
		if len(want) == 0 {
			return false
		}
		switch k {
		case "version":
			if v != "1.0" {
				return false
			}
		case "encoding":
			if !strings.EqualFold(v, "utf-8") {
				return false
			}
		case "standalone":
			if v != "yes" && v != "no" {
				return false
			}
		}
		want = want[1:]
	}
	return len(fields) > 0 && strings.HasPrefix(fields[0], "version=")
}

// scanName reads an ASCII name with at most one prefix (both parts
// non-empty, each starting with a letter or '_').
func scanName(s string, i int) (xml.Name, int, bool) {
	start := i
	colon := -1
	for i < len(s) && isNameChar(s[i]) {
		if s[i] == ':' {
			if colon >= 0 {
				return xml.Name{}, i, false
			}
			colon = i
		}
		i++
	}
	if i == start || i >= len(s) || s[i] >= utf8.RuneSelf || !isNameStart(s[start]) {
		return xml.Name{}, i, false
	}
	if colon < 0 {
		return xml.Name{Local: s[start:i]}, i, true
	}
	if colon == i-1 || !isNameStart(s[colon+1]) {
		return xml.Name{}, i, false
	}
	return xml.Name{Space: s[start:colon], Local: s[colon+1 : i]}, i, true
}

func isNameStart(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' }

func isNameChar(c byte) bool {
	return isNameStart(c) || c >= '0' && c <= '9' || c == '-' || c == '.' || c == ':'
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(s string, i int) int {
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	return i
}

// blank reports whether s is only spaces, tabs and line ends.
func blank(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isSpace(c) {
			return false
		}
	}
	return true
}

// plainChars reports whether s is valid UTF-8 of XML characters.
func plainChars(s string) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || !inCharRange(r) {
			return false
		}
		i += size
	}
	return true
}

func inCharRange(r rune) bool {
	return r == 0x09 || r == 0x0A || r >= 0x20 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF
}

// decodeText decodes character data: plain characters and references, no
// "]]>".
func decodeText(s string) (string, bool) {
	if strings.Contains(s, "]]>") {
		return "", false
	}
	return decodeRefs(s)
}

// decodeAttr decodes an attribute value (without its quotes).
func decodeAttr(s string) (string, bool) { return decodeRefs(s) }

// decodeRefs checks s and replaces its character references; s itself
// when it has none.
func decodeRefs(s string) (string, bool) {
	amp := strings.IndexByte(s, '&')
	if amp < 0 {
		return newlines(s), plainChars(s)
	}
	if !plainChars(s[:amp]) {
		return "", false
	}
	var b strings.Builder
	b.Grow(len(s))
	b.WriteString(newlines(s[:amp]))
	s = s[amp:]
	for len(s) > 0 {
		if s[0] != '&' {
			k := strings.IndexByte(s, '&')
			if k < 0 {
				k = len(s)
			}
			if !plainChars(s[:k]) {
				return "", false
			}
			b.WriteString(newlines(s[:k]))
			s = s[k:]
			continue
		}
		semi := strings.IndexByte(s, ';')
		if semi < 2 || semi > 12 {
			return "", false
		}
		ref := s[1:semi]
		s = s[semi+1:]
		switch ref {
		case "lt":
			b.WriteByte('<')
		case "gt":
			b.WriteByte('>')
		case "amp":
			b.WriteByte('&')
		case "apos":
			b.WriteByte('\'')
		case "quot":
			b.WriteByte('"')
		default:
			r, ok := charRef(ref)
			if !ok {
				return "", false
			}
			b.WriteRune(r)
		}
	}
	return b.String(), true
}

// newlines rewrites the line ends of raw text as XML (and the standard
// reader) does: \r\n and a lone \r become \n.
func newlines(s string) string {
	if strings.IndexByte(s, '\r') < 0 {
		return s
	}
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
}

// charRef decodes #123 or #x7B: an XML character other than a carriage
// return.
func charRef(ref string) (rune, bool) {
	if len(ref) < 2 || ref[0] != '#' {
		return 0, false
	}
	digits, base := ref[1:], rune(10)
	if digits[0] == 'x' {
		digits, base = digits[1:], 16
	}
	if digits == "" || len(digits) > 8 {
		return 0, false
	}
	var r rune
	for i := 0; i < len(digits); i++ {
		c := digits[i]
		var v rune
		switch {
		case c >= '0' && c <= '9':
			v = rune(c - '0')
		case base == 16 && c >= 'a' && c <= 'f':
			v = rune(c-'a') + 10
		case base == 16 && c >= 'A' && c <= 'F':
			v = rune(c-'A') + 10
		default:
			return 0, false
		}
		r = r*base + v
	}
	if !inCharRange(r) {
		return 0, false
	}
	return r, true
}
