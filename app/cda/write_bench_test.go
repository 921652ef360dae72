package cda

import "testing"

// BenchmarkWriteCDA measures the writer, for information: the
// pre-anesthesia report with 20 medication lines, a consultation note at
// each level (N1 includes the PDF rendering), and the medical synthesis
// (VSM) with 20 active problems and every other list.
func BenchmarkWriteCDA(b *testing.B) {
	cases := []struct {
		name  string
		write func(opt WriteOptions) ([]byte, error)
	}{
		{"preanesthesia", func(o WriteOptions) ([]byte, error) { return WritePreAnesthesia(testPreAnesthesia(20), o) }},
		{"note-n3", func(o WriteOptions) ([]byte, error) { return WriteNote(testNote(LevelN3), o) }},
		{"note-n1", func(o WriteOptions) ([]byte, error) { return WriteNote(testNote(LevelN1), o) }},
		{"vsm", func(o WriteOptions) ([]byte, error) { return WriteSynthesis(testSynthesis(20), o) }},
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
