package mailbox

import (
	"bytes"
	"encoding/base64"
	"io"
)

// This file decodes the base64 bodies of the parts the import reads in one
// pass over the whole encoded body, instead of go-message's stream decoder
// (a whitespace filter and a 1 KiB quantum loop over the multipart
// reader): the import's MIME cost was a sixth of its CPU. The encoded body
// is read into a reused buffer (bufFree); the decoded body goes into dst
// when given (a reused buffer), else into one allocation of its size.

// bufFree holds the free buffers of decodeBase64 (the encoded bodies) and
// of the archives decoded by walkImport: two (what one parser uses at
// once), kept across collections (a sync.Pool is emptied by every
// collection, and the import collects often under its memory limit), none
// over bufKeep.
var bufFree = make(chan *[]byte, 2)

// bufKeep is the largest buffer bufFree keeps.
const bufKeep = 4 << 20

// getBuf returns an empty buffer, a free one when there is one.
func getBuf() *[]byte {
	select {
	case b := <-bufFree:
		*b = (*b)[:0]
		return b
	default:
		return new([]byte)
	}
}

// putBuf gives b back; it is let go of when large or when enough are
// kept.
func putBuf(b *[]byte) {
	if cap(*b) > bufKeep {
		return
	}
	select {
	case bufFree <- b:
	default:
	}
}

// decodeBase64 reads the base64 body r and decodes it, ignoring spaces,
// tabs and line breaks as go-message does. The decoded body must not go
// over max bytes (errTooLarge; the encoded body is read no further than
// what max allows, line breaks included). A body that is not base64 fails
// (a CorruptInputError). With dst non-nil the body is decoded into *dst's
// storage (grown when needed).
func decodeBase64(r io.Reader, max int64, dst *[]byte) ([]byte, error) {
	enc := getBuf()
	defer putBuf(enc)
	// 4/3 of max, plus line breaks (76 characters and CRLF) and slack.
	limit := (max+3)/3*4*80/76 + 4096
	src, err := readAllInto((*enc)[:0], io.LimitReader(r, limit+1))
	*enc = src
	if err != nil {
		return nil, err
	}
	if int64(len(src)) > limit {
		return nil, errTooLarge
	}
	src = stripBase64Space(src)
	size := base64.StdEncoding.DecodedLen(len(src))
	if int64(size) > max+2 {
		return nil, errTooLarge
	}
	var out []byte
	if dst != nil && cap(*dst) >= size {
		out = (*dst)[:size]
	} else {
		out = make([]byte, size)
	}
	m, err := base64.StdEncoding.Decode(out, src)
	if err != nil {
		return nil, err
	}
	if int64(m) > max {
		return nil, errTooLarge
	}
	return out[:m], nil
}

// readAllInto appends r's content to b (as io.ReadAll does, reusing b's
// storage).
func readAllInto(b []byte, r io.Reader) ([]byte, error) {
	if cap(b) < 512 {
		b = make([]byte, 0, 512)
	}
	for {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			return b, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
	}
}

// stripBase64Space drops, in place, the spaces, tabs and line breaks of a
// base64 body: line by line (the lines end in CRLF or LF), a line without
// space or tab moved in one copy.
func stripBase64Space(src []byte) []byte {
	n := 0
	for rest := src; len(rest) > 0; {
		line := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i], rest[i+1:]
		} else {
			rest = nil
		}
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if bytes.IndexByte(line, ' ') < 0 && bytes.IndexByte(line, '\t') < 0 && bytes.IndexByte(line, '\r') < 0 {
			n += copy(src[n:], line)
			continue
		}
		for _, c := range line {
			switch c {
			case ' ', '\t', '\r':
				continue
			}
			src[n] = c
			n++
		}
	}
	return src[:n]
}
