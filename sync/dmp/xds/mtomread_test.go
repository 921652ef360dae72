package xds

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/carnetdesk/carnet/app"
)

// compareRetrieve reads b with the streaming reader and with the
// mime/multipart reference: both accept the same document or both refuse.
// (The streaming reader refuses non-binary transfer encodings of parts,
// which mime/multipart decodes: MTOM parts are binary.)
func compareRetrieve(t *testing.T, b []byte, ct string, want Expect) (accepted bool) {
	t.Helper()
	got, gerr := ReadRetrieve(bytes.NewReader(b), ct, "urn:uuid:r", want, 1<<16)
	ref, rerr := readRetrieveStd(bytes.NewReader(b), ct, "urn:uuid:r", want, 1<<16)
	if gerr != nil && rerr == nil && strings.Contains(gerr.Error(), "transfer encoding") {
		return false
	}
	if (gerr == nil) != (rerr == nil) {
		t.Fatalf("streaming: %v, mime/multipart: %v", gerr, rerr)
	}
	if gerr == nil && !bytes.Equal(got, ref) {
		t.Fatalf("streaming read %q, mime/multipart %q", got, ref)
	}
	if gerr != nil && errors.Is(rerr, app.ErrIntegrity) && !errors.Is(gerr, app.ErrIntegrity) && !errors.Is(gerr, app.ErrServer) {
		t.Fatalf("streaming refuses with %v, mime/multipart with %v", gerr, rerr)
	}
	return gerr == nil
}

// The streaming MTOM reader accepts what mime/multipart accepts and refuses
// what it refuses, on the framings of the protocol and their corners.
func TestReadRetrieveStreamMatchesMultipart(t *testing.T) {
	doc := []byte("<ClinicalDocument>compte rendu</ClinicalDocument>\r\n")
	want := Expect{DocumentID: "1.2.250.1", Size: int64(len(doc)), Hash: sha1hex(doc), MaxSize: 1 << 20}
	body, ct := retrieveResponse(t, "urn:uuid:r", "1.2.250.1", []Attachment{{ContentID: "doc1@x", Data: doc}}, "doc1@x")
	boundary := ct[strings.Index(ct, `boundary="`)+10:]
	boundary = boundary[:strings.IndexByte(boundary, '"')]
	lf := bytes.ReplaceAll(body, []byte("\r\n"), []byte("\n"))
	lfDoc := bytes.ReplaceAll(doc, []byte("\r\n"), []byte("\n"))
	cases := []struct {
		name   string
		body   []byte
		want   Expect
		accept bool
	}{
		{"good", body, want, true},
		{"size unknown", body, Expect{DocumentID: want.DocumentID, Size: -1, Hash: want.Hash, MaxSize: 1 << 20}, true},
		{"preamble and epilogue", append(append([]byte("preamble\r\n"), body...), "epilogue"...), want, true},
		{"transport padding", bytes.ReplaceAll(body, []byte("--"+boundary+"\r\n"), []byte("--"+boundary+" \t\r\n")), want, true},
		{"LF line ends", lf, Expect{DocumentID: want.DocumentID, Size: int64(len(lfDoc)), Hash: sha1hex(lfDoc), MaxSize: 1 << 20}, true},
		{"no newline after the close", bytes.TrimSuffix(body, []byte("\r\n")), want, true},
		{"garbage after the close", append(bytes.Clone(bytes.TrimSuffix(body, []byte("\r\n"))), "xx\r\n"...), want, false},
		{"delimiter inside the document", bytes.Replace(body, []byte("compte rendu"), []byte("\r\n--"+boundary+"\r\n"), 1),
			Expect{DocumentID: want.DocumentID, Size: want.Size + int64(len(boundary)+6-12), MaxSize: 1 << 20}, false},
		{"boundary-like text inside the document", bytes.Replace(body, []byte("compte rendu"), []byte("\r\n--"+boundary+"x"), 1),
			Expect{DocumentID: want.DocumentID, Size: want.Size + int64(len(boundary)+5-12), MaxSize: 1 << 20}, true},
		{"truncated", bytes.Clone(body[:len(body)-30]), want, false},
		{"no delimiter at all", []byte("hello"), want, false},
		{"quoted-printable root", bytes.Replace(body, []byte("Content-Transfer-Encoding: binary"), []byte("Content-Transfer-Encoding: quoted-printable"), 1), want, false},
		// The first Content-ID is the part's, as textproto's Get keeps it:
		// a second one and its folded lines are ignored; an empty first
		// one is not replaced by a later one.
		{"second Content-ID folded, ignored", bytes.Replace(body, []byte("Content-Id: <doc1@x>\r\n"), []byte("Content-Id: <doc1@x>\r\nContent-Id: <z>\r\n b>\r\n"), 1), want, true},
		{"empty first Content-ID wins", bytes.Replace(body, []byte("Content-Id: <doc1@x>\r\n"), []byte("Content-Id:\r\nContent-Id: <doc1@x>\r\n"), 1), want, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := compareRetrieve(t, c.body, ct, c.want); got != c.accept {
				_, err := ReadRetrieve(bytes.NewReader(c.body), ct, "urn:uuid:r", c.want, 1<<16)
				t.Fatalf("accepted: %v, want %v (%v)", got, c.accept, err)
			}
		})
	}
}

// A line end split across two reads of the 32 KB buffer (the "\r" the
// last byte of one read, the "\n" the first of the next) still ends the
// part: the delimiter is found, as mime/multipart finds it.
func TestReadRetrieveStreamSplitLineEnd(t *testing.T) {
	long := bytes.Repeat([]byte("A"), 32767)
	body, ct := retrieveResponse(t, "urn:uuid:r", "1.2.250.1", []Attachment{{ContentID: "doc1@x", Data: long}}, "doc1@x")
	if !compareRetrieve(t, body, ct, Expect{DocumentID: "1.2.250.1", Size: -1, Hash: sha1hex(long), MaxSize: 1 << 20}) {
		t.Fatal("refused")
	}
}

// FuzzReadRetrieveStream: whatever the body, the streaming reader and
// mime/multipart agree (the same document, or both refuse).
func FuzzReadRetrieveStream(f *testing.F) {
	doc := []byte("<ClinicalDocument/>")
	body, ct := retrieveResponse(f, "urn:uuid:r", "1.2", []Attachment{{ContentID: "d@x", Data: doc}}, "d@x")
	f.Add(body, ct, true)
	f.Add(bytes.ReplaceAll(body, []byte("\r\n"), []byte("\n")), ct, false)
	f.Add([]byte("--b\r\n\r\n<x/>\r\n--b--\r\n"), `multipart/related; boundary=b`, true)
	f.Fuzz(func(t *testing.T, b []byte, ct string, sized bool) {
		want := Expect{DocumentID: "1.2", Size: int64(len(doc)), Hash: sha1hex(doc), MaxSize: 1 << 16}
		if !sized {
			want.Size = -1
		}
		compareRetrieve(t, b, ct, want)
	})
}
