package xdm

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/carnetdesk/carnet/app"
)

// fuzzLimits keep each fuzz run small.
var fuzzLimits = Limits{MaxEntries: 200, MaxEntrySize: 1 << 20, MaxTotalSize: 2 << 20, MaxMetadataSize: 128 << 10, MaxXMLDepth: 32}

// FuzzXDM feeds arbitrary bytes to Read: it must never panic, every
// refusal must be an *Error with a Reason and a printable ASCII text, and
// every accepted document must match its metadata's size and SHA-1.
func FuzzXDM(f *testing.F) {
	f.Add(validArchive(f))
	f.Add(buildZip(f, xdmEntries(subsetSpec{docs: []docSpec{{uri: "DOC0001.XML", content: tinyCDA}, {uri: "DOC0002/DOC0002.XML", content: []byte("<x/>")}}})))
	stored := xdmEntries(oneDoc())
	for i := range stored {
		stored[i].store = true
	}
	f.Add(buildZip(f, stored))
	for _, tc := range allThreats(f) {
		if len(tc.data) <= 32<<10 { // large seeds stall the fuzzer (minimisation)
			f.Add(tc.data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := Read(data, fuzzLimits)
		if err != nil {
			var xe *Error
			if !errors.As(err, &xe) || xe.Reason == "" {
				t.Fatalf("error %v is not an *Error with a Reason", err)
			}
			if (a != nil) != xe.Manual() {
				t.Fatalf("archive returned = %v with %v", a != nil, err)
			}
			msg := err.Error()
			for i := 0; i < len(msg); i++ {
				if msg[i] < 0x20 || msg[i] > 0x7e {
					t.Fatalf("error text not printable ASCII: %q", msg)
				}
			}
			if a == nil {
				return
			}
		}
		if len(a.Subsets) == 0 {
			t.Fatal("accepted an archive without subsets")
		}
		for _, s := range a.Subsets {
			if len(s.Documents) == 0 {
				t.Fatal("accepted a subset without documents")
			}
			for _, d := range s.Documents {
				if int64(len(d.Content)) != d.Size || sha1hex(d.Content) != d.Hash {
					t.Fatal("accepted a document that does not match its metadata")
				}
				if !strings.HasPrefix(strings.ToUpper(d.Path), rootDir+"/") {
					t.Fatalf("document outside %s/", rootDir)
				}
				if c := d.Meta().ClassCode; app.CleanClassCode(c) != c {
					t.Fatalf("class code %q", c)
				}
			}
		}
	})
}

// benchArchive is a ~100 KB XDM archive: one CDA embedding a base64 PDF.
func benchArchive(b *testing.B) []byte {
	pdf := make([]byte, 72<<10)
	rand.Read(pdf)
	cda := bytes.Replace(tinyCDA, []byte(cdaSecret), []byte("<reference value=\"PDF\"/>"+base64.StdEncoding.EncodeToString(pdf)), 1)
	return buildZip(b, xdmEntries(subsetSpec{docs: []docSpec{{uri: "DOC0001.XML", content: cda}}}))
}

// BenchmarkReadXDM reads a ~100 KB archive: ZIP checks, metadata parse,
// inflate and SHA-1 of the document.
func BenchmarkReadXDM(b *testing.B) {
	data := benchArchive(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Read(data, DefaultLimits()); err != nil {
			b.Fatal(err)
		}
	}
}
