package mailbox

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/emersion/go-message"
)

// stockDecode decodes a base64 body as go-message does (the independent
// peer of decodeBase64): an entity of Content-Transfer-Encoding base64,
// read whole.
func stockDecode(body []byte) ([]byte, error) {
	var h message.Header
	h.Set("Content-Type", "application/zip")
	h.Set("Content-Transfer-Encoding", "base64")
	e, err := message.New(h, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(e.Body)
}

// wrap76 is base64 of b in lines of 76 characters ending in eol.
func wrap76(b []byte, eol string) []byte {
	s := base64.StdEncoding.EncodeToString(b)
	var out strings.Builder
	for len(s) > 76 {
		out.WriteString(s[:76] + eol)
		s = s[76:]
	}
	out.WriteString(s + eol)
	return []byte(out.String())
}

// TestDecodeBase64 compares the one-pass decoder with go-message's on
// well-formed and hostile bodies: the same bytes when both decode, a
// failure of both otherwise.
func TestDecodeBase64(t *testing.T) {
	data := bytes.Repeat([]byte("PK\x03\x04 une archive\x00\xff"), 500)
	cases := []struct {
		name string
		body []byte
	}{
		{"crlf lines", wrap76(data, "\r\n")},
		{"lf lines", wrap76(data, "\n")},
		{"one line", []byte(base64.StdEncoding.EncodeToString(data))},
		{"spaces and tabs", []byte(strings.ReplaceAll(string(wrap76(data, "\r\n")), "\r\n", " \t\r\n\t "))},
		{"cr only", []byte(strings.ReplaceAll(string(wrap76(data, "\r\n")), "\r\n", "\r"))},
		{"empty", nil},
		{"white space only", []byte(" \r\n\t\r\n")},
		{"one byte", []byte("QQ==\r\n")},
		{"two bytes", []byte("QUI=")},
		{"missing padding", []byte("QUI")},
		{"lone quantum char", []byte("QUJDRA")},
		{"bad character", []byte("QUJD*A==")},
		{"data after padding", []byte("QQ==QUJD")},
		{"padding in the middle", []byte("QU==QUJDRA==")},
		{"url alphabet", []byte("-_-_")},
		{"nul byte", []byte("QU\x00JD")},
		{"8-bit byte", []byte("QUJD\xe9A==")},
		{"too much padding", []byte("QQ===")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want, werr := stockDecode(c.body)
			got, err := decodeBase64(bytes.NewReader(c.body), 1<<20, nil)
			if (err != nil) != (werr != nil) {
				t.Fatalf("error %v, go-message's %v", err, werr)
			}
			if err == nil && !bytes.Equal(got, want) {
				t.Fatalf("%d bytes, go-message %d", len(got), len(want))
			}
			// Into a pooled buffer: the same.
			buf := getBuf()
			defer putBuf(buf)
			got2, err2 := decodeBase64(bytes.NewReader(c.body), 1<<20, buf)
			if (err2 != nil) != (err != nil) || !bytes.Equal(got2, got) {
				t.Fatalf("into a buffer: %v %d bytes", err2, len(got2))
			}
		})
	}
}

// TestDecodeBase64Limit: a body decoding to more than max fails with
// errTooLarge, whatever its line breaks; exactly max passes.
func TestDecodeBase64Limit(t *testing.T) {
	data := bytes.Repeat([]byte{0xab}, 3000)
	for _, eol := range []string{"", "\r\n", "\r\n \t \t \t"} {
		body := wrap76(data, eol)
		if _, err := decodeBase64(bytes.NewReader(body), 2999, nil); !errors.Is(err, errTooLarge) {
			t.Fatalf("eol %q: %v, want errTooLarge", eol, err)
		}
		if got, err := decodeBase64(bytes.NewReader(body), 3000, nil); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("eol %q at the limit: %v", eol, err)
		}
	}
	// An endless stream is not read past the limit.
	r := io.LimitReader(zeroA{}, 1<<30)
	if _, err := decodeBase64(r, 1<<10, nil); !errors.Is(err, errTooLarge) {
		t.Fatalf("endless body: %v", err)
	}
}

// zeroA is an endless stream of 'A' (base64 zeros).
type zeroA struct{}

func (zeroA) Read(b []byte) (int, error) {
	for i := range b {
		b[i] = 'A'
	}
	return len(b), nil
}

// TestWalkMIMEBase64AsGoMessage: the parts WalkMIME (and the import's
// walk) decode in one pass are those go-message's own multipart reader
// decodes, for well-formed and sloppy base64 parts.
func TestWalkMIMEBase64AsGoMessage(t *testing.T) {
	p := testPatient(t, "p1", "2800175123456")
	raws := [][]byte{
		xdmMail(t, "w1@x", cdaDoc{ID: "1.2.3", Patient: p}, xdmOpts{}),
		mail("w2@x", "s", "", multipart("mixed", "b", textPart("x"),
			mimePart{"Content-Type: application/pdf\r\nContent-Transfer-Encoding: base64", " JVBE Ri0x\tLjQK\r\n  JSVFT0YK"},
			mimePart{"Content-Type: application/zip; name=IHE_XDM.ZIP\r\nContent-Transfer-Encoding: BASE64", "UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA=="},
			mimePart{"Content-Type: application/pdf\r\nContent-Transfer-Encoding: base64", "JVBE*Ri0x"})),
	}
	for i, raw := range raws {
		stock := stockParts(t, raw)
		parts, _, err := WalkMIME(raw, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		imp, _, release, err := walkImport(raw, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		compared := 0
		for _, set := range [][]Part{parts, imp} {
			for _, part := range set {
				want, ok := stock[part.Section()]
				if !ok || classify(part) == kindOther {
					continue
				}
				compared++
				if !bytes.Equal(part.Body, want) {
					t.Errorf("message %d part %s: %d bytes, go-message %d", i, part.Section(), len(part.Body), len(want))
				}
			}
		}
		release()
		if compared < 2 {
			t.Errorf("message %d: %d parts compared", i, compared)
		}
	}
}

// stockParts decodes the first-level parts of raw with go-message alone:
// their bodies by section; a part go-message cannot decode is absent.
func stockParts(t *testing.T, raw []byte) map[string][]byte {
	t.Helper()
	e, err := message.Read(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	mr := e.MultipartReader()
	for i := 1; mr != nil; i++ {
		c, err := mr.NextPart()
		if err != nil {
			break
		}
		b, err := io.ReadAll(c.Body)
		if err == nil {
			out[Part{Path: []int{i}}.Section()] = b
		}
	}
	return out
}

// FuzzDecodeBase64: on any body, the one-pass decoder and go-message's
// agree (the same bytes, or both fail), within the limit.
func FuzzDecodeBase64(f *testing.F) {
	f.Add([]byte("QUJD\r\nRA==\r\n"))
	f.Add([]byte("QQ==QQ=="))
	f.Add([]byte(" Q U J D\tRA=="))
	f.Add(wrap76(bytes.Repeat([]byte{1, 2, 3}, 100), "\r\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		const max = 1 << 16
		got, err := decodeBase64(bytes.NewReader(body), max, nil)
		if err == nil && len(got) > max {
			t.Fatalf("%d bytes over the limit", len(got))
		}
		if errors.Is(err, errTooLarge) {
			return
		}
		want, werr := stockDecode(body)
		if (err != nil) != (werr != nil) {
			t.Fatalf("error %v, go-message's %v", err, werr)
		}
		if err == nil && !bytes.Equal(got, want) {
			t.Fatalf("%x, go-message %x", got, want)
		}
	})
}
