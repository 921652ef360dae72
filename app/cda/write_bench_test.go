package cda

import "testing"

// BenchmarkWriteCDA measures the writer, for information: the
// pre-anesthesia report with 20 medication lines, and a consultation note
// at each level (N1 includes the PDF rendering).
func BenchmarkWriteCDA(b *testing.B) {
	cases := []struct {
		name  string
		write func(opt WriteOptions) ([]byte, error)
	}{
		{"preanesthesia", func(o WriteOptions) ([]byte, error) { return WritePreAnesthesia(testPreAnesthesia(20), o) }},
		{"note-n3", func(o WriteOptions) ([]byte, error) { return WriteNote(testNote(LevelN3), o) }},
		{"note-n1", func(o WriteOptions) ([]byte, error) { return WriteNote(testNote(LevelN1), o) }},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			opt := testOpts(1)
			out, err := c.write(opt)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(out)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.write(opt); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
