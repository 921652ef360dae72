package cda

import (
	"bytes"
	"encoding/xml"
	"io"
	"testing"
)

// BenchmarkParseCDA measures the reader beside a bare encoding/xml token
// walk of the same bytes: N3 pairs with xmltokens (the VSM sample), N1 with
// xmltokens-N1 (the 450 KB N1 sample).
func BenchmarkParseCDA(b *testing.B) {
	n3 := readSample(b, "VSM_1.4_2022.01.xml")
	n1 := readSample(b, "DOC_NON_STRUCTURE_CDA-R2-N1.xml")
	parse := func(data []byte) func(b *testing.B) {
		return func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ParseBytes(data, Options{}); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	tokens := func(data []byte) func(b *testing.B) {
		return func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				d := xml.NewDecoder(bytes.NewReader(data))
				for {
					_, err := d.Token()
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
				}
			}
		}
	}
	b.Run("N3", parse(n3))
	b.Run("xmltokens", tokens(n3))
	b.Run("N1", parse(n1))
	b.Run("xmltokens-N1", tokens(n1))
}
