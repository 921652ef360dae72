package cda

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"unicode/utf8"
)

var (
	errTooLarge = errors.New("cda: document larger than the size limit")
	errCharset  = errors.New("cda: unsupported character encoding")
)

// guardReader fails with errTooLarge once more than left bytes were read, or
// when a run of bytes without '<' (one text node: the XML decoder buffers it
// whole) exceeds maxRun, so that a huge input never reaches the decoder's
// buffers in full.
type guardReader struct {
	r      io.Reader
	left   int64
	run    int64 // bytes since the last '<'
	maxRun int64
}

// Read implements io.Reader.
func (g *guardReader) Read(b []byte) (int, error) {
	if g.left < 0 {
		return 0, errTooLarge
	}
	if int64(len(b)) > g.left+1 {
		b = b[:g.left+1]
	}
	n, err := g.r.Read(b)
	g.left -= int64(n)
	if g.left < 0 {
		return 0, errTooLarge
	}
	if i := bytes.LastIndexByte(b[:n], '<'); i >= 0 {
		g.run = int64(n - i - 1)
	} else {
		g.run += int64(n)
	}
	if g.maxRun > 0 && g.run > g.maxRun {
		g.left = -1
		return 0, errTooLarge
	}
	return n, err
}

// charsetReader converts the encodings French documents declare besides
// UTF-8: ISO-8859-1 (Latin-1), ISO-8859-15 and Windows-1252.
func charsetReader(label string, in io.Reader) (io.Reader, error) {
	switch strings.ToLower(strings.TrimSpace(label)) {
	case "iso-8859-1", "iso8859-1", "iso_8859-1", "latin1", "latin-1", "l1", "iso-ir-100", "cp819", "ibm819":
		return &singleByteReader{r: in, table: &latin1}, nil
	case "windows-1252", "cp1252", "x-cp1252":
		return &singleByteReader{r: in, table: &cp1252}, nil
	case "iso-8859-15", "iso8859-15", "latin-9", "latin9":
		return &singleByteReader{r: in, table: &latin9}, nil
	case "us-ascii", "ascii":
		return in, nil
	}
	return nil, errCharset
}

// singleByteReader decodes a single-byte character set into UTF-8.
type singleByteReader struct {
	r     io.Reader
	table *[256]rune
	buf   []byte
	out   []byte // decoded, not yet returned
}

// Read implements io.Reader.
func (s *singleByteReader) Read(p []byte) (int, error) {
	if len(s.out) == 0 {
		if cap(s.buf) == 0 {
			s.buf = make([]byte, 4096)
		}
		n, err := s.r.Read(s.buf[:cap(s.buf)])
		if n == 0 {
			return 0, err
		}
		s.out = s.out[:0]
		for _, c := range s.buf[:n] {
			if c < 0x80 {
				s.out = append(s.out, c)
				continue
			}
			s.out = utf8.AppendRune(s.out, s.table[c])
		}
	}
	n := copy(p, s.out)
	s.out = s.out[n:]
	return n, nil
}

var latin1, cp1252, latin9 = func() (a, b, c [256]rune) {
	for i := range a {
		a[i], b[i], c[i] = rune(i), rune(i), rune(i)
	}
	hi := []rune("€\ufffd‚ƒ„…†‡ˆ‰Š‹Œ\ufffdŽ\ufffd\ufffd‘’“”•–—˜™š›œ\ufffdžŸ")
	for i, r := range hi {
		b[0x80+i] = r
	}
	for k, r := range map[int]rune{0xA4: '€', 0xA6: 'Š', 0xA8: 'š', 0xB4: 'Ž', 0xB8: 'ž', 0xBC: 'Œ', 0xBD: 'œ', 0xBE: 'Ÿ'} {
		c[k] = r
	}
	return
}()
