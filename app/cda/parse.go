package cda

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/carnetdesk/carnet/app"
)

// Namespaces the reader knows.
const (
	nsHL7   = "urn:hl7-org:v3"
	nsPharm = "urn:ihe:pharm:medication"
	nsXSI   = "http://www.w3.org/2001/XMLSchema-instance"
	nsXSL   = "http://www.w3.org/1999/XSL/Transform"
)

// Default limits of Options.
const (
	DefaultMaxBytes     = 64 << 20 // whole document
	DefaultMaxBodyBytes = 50 << 20 // decoded N1 body
	DefaultMaxDepth     = 256
	DefaultMaxElements  = 1 << 20
)

// Options tune the reader. The zero value is ready to use.
type Options struct {
	// Production flags an INS of the test or demo domain (a document read
	// from the production DMP should carry a production INS).
	Production bool
	// MaxBytes bounds the size of the document (DefaultMaxBytes when 0).
	MaxBytes int64
	// MaxBodyBytes bounds the decoded size of an N1 body (DefaultMaxBodyBytes
	// when 0).
	MaxBodyBytes int64
	// MaxDepth bounds the nesting of elements (DefaultMaxDepth when 0).
	MaxDepth int
	// MaxElements bounds the number of elements (DefaultMaxElements when 0).
	MaxElements int
	// Location is the time zone of times written without an offset
	// (time.Local when nil).
	Location *time.Location
	// MaxMediaBytes bounds the decoded size of the observationMedia of a
	// structured body, all together (DefaultMaxMediaBytes when 0): what
	// goes over is left out and flagged.
	MaxMediaBytes int64
	// HeaderOnly stops at the body: the header is read and checked, the
	// body (sections, entries, an N1 attachment) is neither read nor
	// validated. For callers that only file a document (the mail import:
	// identity, ids, type, dates); readers of the content parse it whole.
	HeaderOnly bool
	// SkipMedia leaves the observationMedia of a structured body out
	// without decoding them (Document.Media stays empty, nothing is
	// flagged): for callers that read only the entries (the medication
	// list), not the embedded PDFs and images. An N1 body is still read
	// and checked.
	SkipMedia bool
}

func (o Options) withDefaults() Options {
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.MaxDepth <= 0 {
		o.MaxDepth = DefaultMaxDepth
	}
	if o.MaxMediaBytes <= 0 {
		o.MaxMediaBytes = DefaultMaxMediaBytes
	}
	if o.MaxElements <= 0 {
		o.MaxElements = DefaultMaxElements
	}
	if o.Location == nil {
		o.Location = time.Local
	}
	return o
}

// ErrorKind classifies a ParseError.
type ErrorKind string

// The kinds of ParseError.
const (
	KindSyntax    ErrorKind = "syntax"    // not well-formed XML
	KindForbidden ErrorKind = "forbidden" // DOCTYPE, entity declaration
	KindTooLarge  ErrorKind = "too-large" // document or N1 body over its size limit
	KindTooDeep   ErrorKind = "too-deep"  // nesting over the depth limit
	KindTooMany   ErrorKind = "too-many"  // more elements than the limit
	KindStructure ErrorKind = "structure" // wrong root or namespace, missing recordTarget …
	KindIdentity  ErrorKind = "identity"  // ambiguous patient identity (two INS)
	KindEncoding  ErrorKind = "encoding"  // unsupported or invalid character encoding
	KindBody      ErrorKind = "body"      // an N1 body that cannot be decoded
	KindRead      ErrorKind = "read"      // the reader failed
)

// ParseError is the only error type the reader returns. Reason says what is
// wrong in words that never quote the document: no names, identifiers or
// text. It wraps app.ErrInvalid (and the reader's error for KindRead).
type ParseError struct {
	Kind   ErrorKind
	Reason string
	Line   int   // line of the input where the problem was seen; 0 when unknown
	Err    error // the underlying error for KindRead; nil otherwise
}

// Error implements error.
func (e *ParseError) Error() string {
	if e.Line > 0 {
		return "cda: " + e.Reason + " (line " + strconv.Itoa(e.Line) + ")"
	}
	return "cda: " + e.Reason
}

// Unwrap returns app.ErrInvalid and the underlying error, if any.
func (e *ParseError) Unwrap() []error {
	if e.Err != nil {
		return []error{app.ErrInvalid, e.Err}
	}
	return []error{app.ErrInvalid}
}

// ParseBytes reads a CDA R2 document from b. See Parse.
func ParseBytes(b []byte, opt Options) (*Document, error) {
	return Parse(bytes.NewReader(b), opt)
}

// Parse reads a CDA R2 document in one streaming pass. It refuses DOCTYPE
// and entity declarations, documents over the limits of opt, a root other
// than urn:hl7-org:v3 ClinicalDocument, a missing recordTarget and a patient
// with two INS; every such error is a *ParseError. What it notices without
// refusing (a test INS in production, a malformed date, an N1 body whose
// bytes do not match its declared type …) is in Document.Flags.
func Parse(r io.Reader, opt Options) (*Document, error) {
	opt = opt.withDefaults()
	p := newParser(r, opt)
	doc := &Document{}
	p.doc = doc
	p.document()
	if p.err == errHeaderDone {
		p.err = nil
	}
	if p.err != nil {
		return nil, p.err
	}
	p.finish()
	return doc, nil
}

// errHeaderDone stops a HeaderOnly parse at the body; Parse clears it.
var errHeaderDone = &ParseError{Reason: "header read"}

// parser is the state of one streaming read.
type parser struct {
	d     *xml.Decoder
	guard *guardReader
	opt   Options
	doc   *Document
	err   *ParseError
	depth int
	elems int
	refs  map[string]string // narrative ID → plain text, for entry references
	// mediaBytes is the decoded size of the observationMedia read so far.
	mediaBytes int64
	sawRT      bool // a recordTarget was read
}

func newParser(r io.Reader, opt Options) *parser {
	// No text node may be longer than the base64 of the largest N1 body
	// (plus room for line breaks).
	maxRun := opt.MaxBodyBytes/3*4 + opt.MaxBodyBytes/16 + 1<<20
	g := &guardReader{r: r, left: opt.MaxBytes, maxRun: maxRun}
	br := bufio.NewReaderSize(g, 16<<10)
	if b, err := br.Peek(3); err == nil && string(b) == "\xef\xbb\xbf" {
		br.Discard(3) // UTF-8 byte order mark
	}
	d := xml.NewDecoder(br)
	d.Strict = true
	d.CharsetReader = charsetReader
	return &parser{d: d, guard: g, opt: opt}
}

// fail records the first error.
func (p *parser) fail(kind ErrorKind, reason string) {
	if p.err == nil {
		line, _ := p.d.InputPos()
		p.err = &ParseError{Kind: kind, Reason: reason, Line: line}
	}
}

// flag records something noticed; detail names an element, never content.
func (p *parser) flag(kind FlagKind, detail string) {
	for _, f := range p.doc.Flags {
		if f.Kind == kind && f.Detail == detail {
			return
		}
	}
	p.doc.Flags = append(p.doc.Flags, Flag{Kind: kind, Detail: detail})
}

// next returns the next token (nil after an error), enforcing the security
// rules and limits and keeping the depth.
func (p *parser) next() xml.Token {
	if p.err != nil {
		return nil
	}
	t, err := p.d.Token()
	if err != nil {
		p.readError(err)
		return nil
	}
	switch tt := t.(type) {
	case xml.StartElement:
		p.depth++
		p.elems++
		if p.depth > p.opt.MaxDepth {
			p.fail(KindTooDeep, "elements nested deeper than the limit")
			return nil
		}
		if p.elems > p.opt.MaxElements {
			p.fail(KindTooMany, "more elements than the limit")
			return nil
		}
	case xml.EndElement:
		p.depth--
	case xml.Directive:
		if bytes.Contains(tt, []byte("ENTITY")) {
			p.fail(KindForbidden, "entity declarations are not allowed")
		} else {
			p.fail(KindForbidden, "document type declarations are not allowed")
		}
		return nil
	}
	return t
}

// readError turns a decoder error into a ParseError without its text (which
// may quote the input).
func (p *parser) readError(err error) {
	var se *xml.SyntaxError
	switch {
	case errors.Is(err, errTooLarge):
		p.fail(KindTooLarge, "document larger than the size limit")
	case errors.Is(err, errCharset):
		p.fail(KindEncoding, "unsupported character encoding")
	case errors.Is(err, io.EOF):
		p.fail(KindSyntax, "unexpected end of document")
	case errors.As(err, &se):
		reason := "malformed XML"
		switch {
		case strings.Contains(se.Msg, "UTF-8"):
			p.fail(KindEncoding, "text is not valid UTF-8 and no other encoding is declared")
			return
		case strings.Contains(se.Msg, "entity"):
			reason = "malformed XML: unknown or invalid entity reference"
		case strings.Contains(se.Msg, "unexpected EOF"):
			reason = "unexpected end of document"
		case strings.Contains(se.Msg, "closed by"), strings.Contains(se.Msg, "unexpected end element"):
			reason = "malformed XML: mismatched end tag"
		}
		p.err = &ParseError{Kind: KindSyntax, Reason: reason, Line: se.Line}
	default:
		line, _ := p.d.InputPos()
		p.err = &ParseError{Kind: KindRead, Reason: "cannot read the document", Line: line, Err: err}
	}
}

// children calls f for each child element of the element just started, then
// returns after its end element. f may consume the child or leave it: what
// it leaves is skipped.
func (p *parser) children(f func(se *xml.StartElement)) {
	base := p.depth
	for {
		switch t := p.next().(type) {
		case nil:
			return
		case xml.StartElement:
			f(&t)
			p.skipTo(base)
		case xml.EndElement:
			if p.depth < base {
				return
			}
		}
	}
}

// skipTo consumes tokens until the depth is back to base.
func (p *parser) skipTo(base int) {
	for p.depth > base && p.err == nil {
		p.next()
	}
}

// skip consumes the rest of the element just started.
func (p *parser) skip() { p.skipTo(p.depth - 1) }

// text returns the character data of the element just started (and of its
// descendants), whitespace collapsed, and consumes the element.
func (p *parser) text() string {
	base := p.depth - 1
	var b []byte
	for p.depth > base {
		switch t := p.next().(type) {
		case nil:
			return ""
		case xml.CharData:
			b = append(b, t...)
		}
	}
	return collapse(b)
}

// collapse trims s and turns each run of white space into one space.
func collapse(b []byte) string {
	b = bytes.TrimSpace(b)
	simple := true
	for i, c := range b {
		if c == '\n' || c == '\t' || c == '\r' || (c == ' ' && i > 0 && b[i-1] == ' ') {
			simple = false
			break
		}
	}
	if simple {
		return string(b)
	}
	return strings.Join(strings.Fields(string(b)), " ")
}

// attr returns the value of the unqualified attribute name.
func attr(se *xml.StartElement, name string) string {
	for _, a := range se.Attr {
		if a.Name.Local == name && (a.Name.Space == "" || a.Name.Space == nsHL7) {
			return a.Value
		}
	}
	return ""
}

// xsiType returns the xsi:type attribute, without a namespace prefix.
func xsiType(se *xml.StartElement) string {
	for _, a := range se.Attr {
		if a.Name.Local == "type" && a.Name.Space == nsXSI {
			if _, v, ok := strings.Cut(a.Value, ":"); ok {
				return v
			}
			return a.Value
		}
	}
	return ""
}

// is reports whether se is the HL7 element local.
func is(se *xml.StartElement, local string) bool {
	return se.Name.Local == local && se.Name.Space == nsHL7
}

// hl7 returns the local name of se when it is in the HL7 namespace, "" otherwise.
func hl7(se *xml.StartElement) string {
	if se.Name.Space != nsHL7 {
		return ""
	}
	return se.Name.Local
}

// code reads a coded element's attributes (code, codeSystem, displayName).
func code(se *xml.StartElement) app.Code {
	return app.Code{Code: attr(se, "code"), System: attr(se, "codeSystem"), Display: attr(se, "displayName")}
}

// ii reads an instance identifier.
func ii(se *xml.StartElement) ID {
	return ID{Root: attr(se, "root"), Extension: attr(se, "extension")}
}

// ts reads the value attribute of a TS element as a time; a malformed value
// is flagged under detail and gives the zero time.
func (p *parser) ts(se *xml.StartElement, detail string) time.Time {
	v := attr(se, "value")
	if v == "" {
		return time.Time{}
	}
	t, ok := parseTS(v, p.opt.Location)
	if !ok {
		p.flag(FlagBadDate, detail)
	}
	return t
}

// parseTS parses an HL7 TS: YYYY[MM[DD[hh[mm[ss[.f…]]]]]][+-zzzz].
func parseTS(v string, loc *time.Location) (time.Time, bool) {
	s := v
	zone := (*time.Location)(nil)
	if i := strings.IndexAny(s, "+-"); i >= 0 {
		z := s[i+1:]
		if len(z) != 4 || !digits(z) {
			return time.Time{}, false
		}
		h, _ := strconv.Atoi(z[:2])
		m, _ := strconv.Atoi(z[2:])
		if h > 14 || m > 59 {
			return time.Time{}, false
		}
		off := h*3600 + m*60
		if s[i] == '-' {
			off = -off
		}
		zone = time.FixedZone("", off)
		s = s[:i]
	}
	frac := 0
	if i := strings.IndexByte(s, '.'); i >= 0 {
		f := s[i+1:]
		if f == "" || len(f) > 9 || !digits(f) || i != 14 {
			return time.Time{}, false
		}
		n, _ := strconv.Atoi(f)
		for k := len(f); k < 9; k++ {
			n *= 10
		}
		frac = n
		s = s[:i]
	}
	switch len(s) {
	case 4, 6, 8, 10, 12, 14:
	default:
		return time.Time{}, false
	}
	if !digits(s) {
		return time.Time{}, false
	}
	num := func(a, b, def int) int {
		if len(s) < b {
			return def
		}
		n, _ := strconv.Atoi(s[a:b])
		return n
	}
	y, mo, d, h, mi, sec := num(0, 4, 0), num(4, 6, 1), num(6, 8, 1), num(8, 10, 0), num(10, 12, 0), num(12, 14, 0)
	if mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo) || h > 23 || mi > 59 || sec > 60 {
		return time.Time{}, false
	}
	if zone == nil {
		zone = loc
	}
	return time.Date(y, time.Month(mo), d, h, mi, sec, frac, zone), true
}

func daysIn(y, m int) int {
	return time.Date(y, time.Month(m)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

func digits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// birthDate turns a TS value into YYYY-MM-DD (or YYYY-MM, YYYY).
func birthDate(v string) (string, bool) {
	if v == "" {
		return "", true
	}
	t, ok := parseTS(v, time.UTC)
	if !ok {
		return "", false
	}
	switch {
	case len(v) >= 8:
		return t.Format("2006-01-02"), true
	case len(v) >= 6:
		return t.Format("2006-01"), true
	default:
		return t.Format("2006"), true
	}
}
