//go:build linux

package vault

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
)

// mappedRSS returns the resident bytes of this process's mappings of the
// file path (/proc/self/smaps).
func mappedRSS(t *testing.T, path string) int64 {
	t.Helper()
	sm, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Skipf("no smaps: %v", err)
	}
	var n int64
	in := false
	for _, l := range strings.Split(string(sm), "\n") {
		f := strings.Fields(l)
		if len(f) >= 5 && strings.Contains(f[0], "-") && !strings.HasSuffix(f[0], ":") {
			in = len(f) >= 6 && f[len(f)-1] == path
			continue
		}
		if in && len(f) == 3 && f[0] == "Rss:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			n += kb << 10
		}
	}
	return n
}

// TestWriteReleasingDropsMappedPages: the pages of the vault file read
// through bbolt's mapping (documents read back) stay resident in the
// process until a WriteReleasing commit lets go of them; what is read
// after is read again unchanged.
func TestWriteReleasingDropsMappedPages(t *testing.T) {
	opt := testOptions()
	v, path := newTestVault(t, opt)
	p := app.Patient{ID: "p1", BirthName: "DUPONT"}
	mustOK(t, v.Write(ctx, &app.Batch{Patients: []app.Patient{p}}))
	doc := func(i int) []byte { return bytes.Repeat([]byte(fmt.Sprintf("<cda n=%d/>", i)), 30000) }
	var man app.Manifest
	man.Patient = p.ID
	for i := 0; i < 20; i++ { // 20 documents of ~300 KB
		id := app.DocumentID(fmt.Sprintf("d%d", i))
		man.Documents = append(man.Documents, app.DocumentMeta{ID: id})
		mustOK(t, v.Write(ctx, &app.Batch{Documents: []app.DocumentContent{{Patient: p.ID, ID: id, Bytes: doc(i)}}, Manifests: []app.Manifest{man}}))
	}
	for i := 0; i < 20; i++ {
		got, err := v.Document(ctx, p.ID, app.DocumentID(fmt.Sprintf("d%d", i)))
		mustOK(t, err)
		if !bytes.Equal(got, doc(i)) {
			t.Fatalf("document %d", i)
		}
	}
	before := mappedRSS(t, path)
	if before < 4<<20 {
		t.Skipf("only %d bytes of the file resident after reading 6 MB through the mapping", before)
	}
	b := mailBatch("mid:drop@labo", 1, []byte("raw"), app.OutcomeFiled, time.Now())
	mustOK(t, v.WriteReleasing(ctx, b))
	after := mappedRSS(t, path)
	if after > before/4 {
		t.Fatalf("%d bytes of the file resident after WriteReleasing, %d before", after, before)
	}
	for i := 0; i < 20; i++ {
		got, err := v.Document(ctx, p.ID, app.DocumentID(fmt.Sprintf("d%d", i)))
		mustOK(t, err)
		if !bytes.Equal(got, doc(i)) {
			t.Fatalf("document %d after the drop", i)
		}
	}
	checkOK(t, v)
	t.Logf("resident pages of the file: %d bytes before, %d after", before, after)
}
