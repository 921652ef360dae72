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

// BenchmarkParseCDASkipMedia reads the IPS sample (three embedded PDFs,
// about 0.9 MB decoded) whole ("full") and as the medication list reads it
// ("skip-media": Options.SkipMedia, the media left undecoded).
func BenchmarkParseCDASkipMedia(b *testing.B) {
	data := readSample(b, "IPS-FR_2024.01.xml")
	for _, c := range []struct {
		name string
		opt  Options
	}{{"full", Options{}}, {"skip-media", Options{SkipMedia: true}}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ParseBytes(data, c.opt); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
