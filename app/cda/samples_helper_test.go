package cda

import (
	"os"
	"path/filepath"
	"testing"
)

// samplesDir walks up from the package directory to find shared/samples/cda
// (the ANS example documents, never copied into the repository).
func samplesDir(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		p := filepath.Join(dir, "shared", "samples", "cda")
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Skip("ANS CDA samples not found (looked for shared/samples/cda above the package): skipped")
		}
		dir = parent
	}
}

// readSample reads one ANS sample, skipping the test when absent.
func readSample(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(samplesDir(tb), name))
	if os.IsNotExist(err) {
		tb.Skipf("sample %s not found: skipped", name)
	}
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
