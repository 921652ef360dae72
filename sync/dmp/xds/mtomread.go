package xds

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/carnetdesk/carnet/app"
)

// The streaming reader of ITI-43 MTOM answers. It reads the multipart body
// once, from the HTTP body's buffer: the root part into the XML reader,
// then the document part straight into one buffer of the size the registry
// gave (one copy, large reads), then checks that the close delimiter
// follows. It keeps every check of the mime/multipart reader it replaces
// (readRetrieveStd, the reference of FuzzReadRetrieveStream): a part that
// is missing, extra, answered under another Content-ID, shorter or longer
// than the metadata, a document that contains a delimiter of its own
// (where mime/multipart would cut it), the size, MaxSize and SHA-1 checks.
// It is stricter on one point: MTOM parts are binary (XOP §4), so a part in
// quoted-printable or base64 transfer encoding is refused.

// Bounds of the MIME framing read before the parts.
const (
	maxPreamble    = 64 << 10
	maxPartHeaders = 64
	mtomBufSize    = 32 << 10 // a header line must fit in the buffer
)

// readRetrieveMTOM reads an ITI-43 MTOM answer with this boundary.
func readRetrieveMTOM(body io.Reader, boundary, relatesTo string, want Expect, rootLimit int64) ([]byte, error) {
	if boundary == "" || len(boundary) > 200 {
		return nil, fmt.Errorf("%w: no usable boundary: %w", ErrMTOM, app.ErrServer)
	}
	br, ok := body.(*bufio.Reader)
	if !ok || br.Size() < mtomBufSize {
		br = bufio.NewReaderSize(body, mtomBufSize)
	}
	m := &mtomReader{br: br, dash: []byte("--" + boundary)}
	if err := m.skipPreamble(); err != nil {
		return nil, err
	}
	if _, err := m.header(); err != nil {
		return nil, err
	}
	root, closed, err := m.body(rootLimit)
	if err != nil {
		if errors.Is(err, errPartTooLarge) {
			return nil, fmt.Errorf("%w: message larger than %d bytes: %w", ErrHostileXML, rootLimit, app.ErrServer)
		}
		return nil, err
	}
	env, err := ReadEnvelope(bytes.NewReader(root), rootLimit, relatesTo)
	if err != nil {
		return nil, err
	}
	doc, err := theDocument(env, want)
	if err != nil {
		return nil, err
	}
	if doc.Include == "" {
		if !closed {
			return nil, fmt.Errorf("%w: extra part: %w", ErrMTOM, app.ErrIntegrity)
		}
		data, err := inlineDocument(doc)
		if err != nil {
			return nil, err
		}
		if err := checkDocument(data, want); err != nil {
			return nil, err
		}
		return data, nil
	}
	if closed {
		return nil, fmt.Errorf("%w: missing part: %w", ErrMTOM, app.ErrIntegrity)
	}
	h, err := m.header()
	if err != nil {
		return nil, err
	}
	if cid := strings.Trim(strings.TrimSpace(h.contentID), "<>"); cid != doc.Include {
		return nil, fmt.Errorf("%w: part is not the one referenced: %w", ErrMTOM, app.ErrIntegrity)
	}
	var data []byte
	if want.Size >= 0 && want.Size <= want.MaxSize {
		data, closed, err = m.sizedBody(want.Size)
	} else {
		data, closed, err = m.body(want.MaxSize)
		if errors.Is(err, errPartTooLarge) {
			return nil, fmt.Errorf("%w: part larger than %d bytes: %w", ErrMTOM, want.MaxSize, app.ErrIntegrity)
		}
	}
	if err != nil {
		return nil, err
	}
	if !closed {
		return nil, fmt.Errorf("%w: extra part: %w", ErrMTOM, app.ErrIntegrity)
	}
	if err := checkDocument(data, want); err != nil {
		return nil, err
	}
	return data, nil
}

// errPartTooLarge: a part beyond its limit.
var errPartTooLarge = errors.New("part too large")

// mtomReader reads the multipart framing from br, with the rules of
// mime/multipart: the line end (CRLF, or LF when the first delimiter line
// ends so) is fixed by the first delimiter; a part ends where a line end
// is followed by "--boundary" and then white space, a line end, "--" or
// the end of the body.
type mtomReader struct {
	br   *bufio.Reader
	dash []byte // "--" boundary
	nl   string // "\r\n", or "\n"
}

// partHeader holds the headers of a part that matter here.
type partHeader struct {
	contentID string
	// cidSeen: a Content-ID header came (its value may be empty); the
	// first one is kept, as textproto's Get does. cidFolding: the header
	// being continued by folded lines is that kept Content-ID.
	cidSeen, cidFolding bool
}

// endsPart reports whether line, at the start of a line, ends the part
// (mime/multipart's matchAfterPrefix): "--boundary" then white space, a
// line end, "--", or nothing more.
func (m *mtomReader) endsPart(line []byte, eof bool) bool {
	if !bytes.HasPrefix(line, m.dash) {
		return false
	}
	rest := line[len(m.dash):]
	if len(rest) == 0 {
		return eof
	}
	switch c := rest[0]; {
	case c == ' ' || c == '\t' || c == '\r' || c == '\n':
		return true
	case c == '-':
		return len(rest) == 1 && eof || len(rest) > 1 && rest[1] == '-'
	}
	return false
}

// delimiterLine: "--boundary", white space, the line end.
func (m *mtomReader) delimiterLine(line []byte) bool {
	if !bytes.HasPrefix(line, m.dash) {
		return false
	}
	return string(bytes.TrimLeft(line[len(m.dash):], " \t")) == m.nl
}

// finalLine: "--boundary--", white space, then the line end or nothing.
func (m *mtomReader) finalLine(line []byte) bool {
	if !bytes.HasPrefix(line, m.dash) || !bytes.HasPrefix(line[len(m.dash):], []byte("--")) {
		return false
	}
	rest := bytes.TrimLeft(line[len(m.dash)+2:], " \t")
	return len(rest) == 0 || string(rest) == m.nl
}

// malformed is the error of a broken framing.
func malformed(what string, err error) error {
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return fmt.Errorf("%w: %s: %v: %w", ErrMTOM, what, err, app.ErrOffline)
	}
	return fmt.Errorf("%w: %s: %w", ErrMTOM, what, app.ErrServer)
}

// skipPreamble reads up to the first delimiter line, which sets the line
// end.
func (m *mtomReader) skipPreamble() error {
	read := 0
	for read <= maxPreamble {
		line, err := m.br.ReadSlice('\n')
		read += len(line)
		if err != nil || len(line) > 4096 {
			return malformed("no root part", err)
		}
		if bytes.HasPrefix(line, m.dash) {
			switch string(bytes.TrimLeft(line[len(m.dash):], " \t")) {
			case "\r\n":
				m.nl = "\r\n"
				return nil
			case "\n":
				m.nl = "\n"
				return nil
			}
			m.nl = "\r\n"
			if m.finalLine(line) {
				return malformed("no root part", nil)
			}
		}
	}
	return malformed("no root part within the preamble", nil)
}

// header reads a part's headers up to the blank line.
func (m *mtomReader) header() (partHeader, error) {
	var h partHeader
	last := ""
	for n := 0; ; n++ {
		if n > maxPartHeaders {
			return h, malformed("too many part headers", nil)
		}
		line, err := m.br.ReadSlice('\n')
		if err != nil {
			return h, malformed("part headers", err)
		}
		line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
		if len(line) == 0 {
			return h, nil
		}
		if !validHeaderValue(line) {
			return h, malformed("bad part header", nil)
		}
		if line[0] == ' ' || line[0] == '\t' { // folded: continues the last header
			if last == "" {
				return h, malformed("bad part header", nil)
			}
			if err := h.set(last, string(bytes.TrimSpace(line)), true); err != nil {
				return h, err
			}
			continue
		}
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok || !validHeaderKey(k) {
			return h, malformed("bad part header", nil)
		}
		last = strings.ToLower(string(k))
		if last != "content-id" {
			h.cidFolding = false
		}
		if err := h.set(last, string(bytes.TrimSpace(v)), false); err != nil {
			return h, err
		}
	}
}

// set records a header value (appended when folded).
func (h *partHeader) set(key, val string, folded bool) error {
	switch key {
	case "content-id":
		switch {
		case folded:
			if h.cidFolding {
				h.contentID += " " + val
			}
		case !h.cidSeen:
			h.cidSeen, h.cidFolding, h.contentID = true, true, val
		default:
			h.cidFolding = false // a second Content-ID: ignored, and its folded lines too
		}
	case "content-transfer-encoding":
		switch strings.ToLower(val) {
		case "binary", "8bit", "7bit":
		default:
			return fmt.Errorf("%w: part in %q transfer encoding, MTOM parts are binary: %w", ErrMTOM, val, app.ErrServer)
		}
	}
	return nil
}

// validHeaderKey: an RFC 7230 token.
func validHeaderKey(k []byte) bool {
	if len(k) == 0 {
		return false
	}
	for _, c := range k {
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// validHeaderValue: no control character but the tab.
func validHeaderValue(v []byte) bool {
	for _, c := range v {
		if c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// after reads what follows a part that ended at a line end (consumed by
// the caller): the delimiter line (another part: closed false) or the
// final one.
func (m *mtomReader) after() (closed bool, err error) {
	line, err := m.br.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, io.EOF) && m.finalLine(line) {
			return true, nil
		}
		return false, malformed("part without its delimiter", err)
	}
	switch {
	case m.delimiterLine(line):
		return false, nil
	case m.finalLine(line):
		return true, nil
	}
	return false, malformed("bad delimiter line", nil)
}

// body reads a part's content up to its delimiter, at most limit bytes;
// closed says it was the final delimiter.
func (m *mtomReader) body(limit int64) (data []byte, closed bool, err error) {
	var out []byte
	atStart := true
	for {
		line, err := m.br.ReadSlice('\n')
		eof := errors.Is(err, io.EOF)
		if atStart && m.endsPart(line, eof) {
			if len(out) > 0 {
				out = out[:len(out)-len(m.nl)] // the line end belongs to the delimiter
			}
			switch {
			case m.delimiterLine(line):
				return out, false, nil
			case m.finalLine(line):
				return out, true, nil
			}
			return nil, false, malformed("bad delimiter line", nil)
		}
		out = append(out, line...)
		if int64(len(out)) > limit+int64(len(m.nl)) {
			return nil, false, errPartTooLarge
		}
		switch {
		case err == nil, errors.Is(err, bufio.ErrBufferFull):
			// On what was read so far, not on this slice: a line end may
			// be split across two reads of the buffer ("\r" | "\n").
			atStart = bytes.HasSuffix(out, []byte(m.nl))
		default:
			return nil, false, malformed("part without its delimiter", err)
		}
	}
}

// sizedBody reads a part of exactly size bytes into one buffer, then its
// delimiter. A part that ends earlier (a delimiter inside the bytes read)
// or goes on after size bytes is refused.
func (m *mtomReader) sizedBody(size int64) (data []byte, closed bool, err error) {
	if size == 0 {
		// mime/multipart also ends a part that starts with its delimiter
		// (no line end before it).
		if start, _ := m.br.Peek(len(m.dash) + 2); m.endsPart(start, len(start) < len(m.dash)+2) {
			closed, err := m.after()
			return []byte{}, closed, err
		}
	}
	buf := make([]byte, size)
	if _, err := io.ReadFull(m.br, buf); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return nil, false, fmt.Errorf("%w: part shorter than the metadata says: %w", ErrMTOM, app.ErrIntegrity)
		}
		return nil, false, fmt.Errorf("%w: reading the part: %v: %w", ErrMTOM, err, app.ErrOffline)
	}
	if m.containsEnd(buf) {
		return nil, false, fmt.Errorf("%w: part shorter than the metadata says: %w", ErrMTOM, app.ErrIntegrity)
	}
	// The content ends here: the line end of the delimiter, then its line.
	nl, err := m.br.Peek(len(m.nl))
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, false, malformed("part without its delimiter", err)
	}
	if string(nl) != m.nl {
		return nil, false, fmt.Errorf("%w: part larger than the metadata says: %w", ErrMTOM, app.ErrIntegrity)
	}
	rest, _ := m.br.Peek(len(m.nl) + len(m.dash) + 2)
	if !m.endsPart(rest[len(m.nl):], len(rest) < len(m.nl)+len(m.dash)+2) {
		return nil, false, fmt.Errorf("%w: part larger than the metadata says: %w", ErrMTOM, app.ErrIntegrity)
	}
	_, _ = m.br.Discard(len(m.nl))
	closed, err = m.after()
	if err != nil {
		return nil, false, err
	}
	return buf, closed, nil
}

// containsEnd reports whether the end of a part lies inside b, as
// mime/multipart would find it: "--boundary" at the start of b, or after a
// line end, that endsPart accepts (or that the end of b leaves undecided:
// refused too).
func (m *mtomReader) containsEnd(b []byte) bool {
	undecided := func(rest []byte) bool { // what may still become an end
		return len(rest) == 0 || len(rest) == 1 && rest[0] == '-'
	}
	if bytes.HasPrefix(b, m.dash) && (m.endsPart(b, false) || undecided(b[len(m.dash):])) {
		return true
	}
	nd := append([]byte(m.nl), m.dash...)
	for off := 0; ; {
		i := bytes.Index(b[off:], nd)
		if i < 0 {
			break
		}
		at := b[off+i+len(m.nl):]
		if m.endsPart(at, false) || undecided(at[len(m.dash):]) {
			return true
		}
		off += i + 1
	}
	// A delimiter that begins inside b and ends after it is refused by
	// sizedBody: what follows b is then not a line end and a delimiter.
	return false
}
