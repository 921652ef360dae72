package vault

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/carnetdesk/carnet/app"
)

// TestBigValuesOwnBucket: documents and raw messages from bigThreshold on
// are kept in a bucket of their own, read back, replaced, deleted and
// checked like plain values; plain values written before (small ones, or
// a vault of an earlier version) still read; and committing new large
// values does not rewrite the earlier ones (bbolt's pages allocated by the
// commits stay near the bytes stored, where plain values in 4-key leaves
// made it about three times).
func TestBigValuesOwnBucket(t *testing.T) {
	opt := testOptions()
	v, path := newTestVault(t, opt)
	const n, size = 40, 200 << 10
	at := time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC)
	var stored int64
	ps := make([]app.Patient, n)
	for i := range ps {
		ps[i] = synthPatient(i)
	}
	mustOK(t, v.Write(ctx, &app.Batch{Patients: ps}))
	st := v.db.Stats()
	before := st.TxStats.GetPageAlloc()
	for i := 0; i < n; i++ {
		b := patientBatch(ps[i], 2, size)
		b.Patients = nil
		b.Documents[1].Bytes = b.Documents[1].Bytes[:100] // a small one stays plain
		mb := mailBatch("mid:big-"+string(ps[i].ID), uint32(i+1), bytes.Repeat([]byte{'m'}, size), app.OutcomeFiled, at)
		b.MailRaw, b.MailRecords, b.MailStates = mb.MailRaw, mb.MailRecords, mb.MailStates
		mustOK(t, v.Write(ctx, b))
		stored += 2 * size
	}
	st = v.db.Stats()
	alloc := st.TxStats.GetPageAlloc() - before
	if alloc > stored*3/2 {
		t.Errorf("commits allocated %d bytes of pages for %d bytes stored: earlier large values rewritten", alloc, stored)
	}
	// Read back, in both forms.
	for i := 0; i < n; i++ {
		want := patientBatch(ps[i], 2, size)
		m, err := v.Manifest(ctx, ps[i].ID)
		mustOK(t, err)
		if !m.Documents[0].Cached || !m.Documents[1].Cached {
			t.Fatalf("patient %d: documents not cached: %+v", i, m.Documents)
		}
		got, err := v.Document(ctx, ps[i].ID, want.Documents[0].ID)
		mustOK(t, err)
		if len(got) != size {
			t.Fatalf("document %d: %d bytes", i, len(got))
		}
		small, err := v.Document(ctx, ps[i].ID, want.Documents[1].ID)
		mustOK(t, err)
		if len(small) != 100 {
			t.Fatalf("small document %d: %d bytes", i, len(small))
		}
		r, err := v.RawMessage(ctx, "mid:big-"+string(ps[i].ID))
		mustOK(t, err)
		if len(r.Bytes) != size {
			t.Fatalf("raw %d: %d bytes", i, len(r.Bytes))
		}
	}
	checkOK(t, v)
	// Replace a large document by a small one and back, drop one.
	d0 := patientBatch(ps[0], 1, size).Documents[0]
	mustOK(t, v.Write(ctx, &app.Batch{Documents: []app.DocumentContent{{Patient: ps[0].ID, ID: d0.ID, Bytes: []byte("court")}}}))
	if got, err := v.Document(ctx, ps[0].ID, d0.ID); err != nil || string(got) != "court" {
		t.Fatalf("replaced by a small value: %q %v", got, err)
	}
	mustOK(t, v.Write(ctx, &app.Batch{Documents: []app.DocumentContent{d0}}))
	if got, err := v.Document(ctx, ps[0].ID, d0.ID); err != nil || !bytes.Equal(got, d0.Bytes) {
		t.Fatalf("replaced by a large value: %d bytes %v", len(got), err)
	}
	mustOK(t, v.Write(ctx, &app.Batch{DocumentsGone: []app.DocumentRef{{Patient: ps[1].ID, ID: patientBatch(ps[1], 1, 1).Documents[0].ID}}}))
	if _, err := v.Document(ctx, ps[1].ID, patientBatch(ps[1], 1, 1).Documents[0].ID); err == nil {
		t.Fatal("deleted large document still read")
	}
	mustOK(t, v.Write(ctx, &app.Batch{MailRaw: []app.RawMessage{{Key: "mid:big-" + string(ps[2].ID)}}}))
	_, err := v.RawMessage(ctx, "mid:big-"+string(ps[2].ID))
	mustKind(t, err, app.ErrNotFound)
	checkOK(t, v)
	// The large values are in buckets of their own; nothing in clear.
	v.Close()
	nested := 0
	rawUpdate(t, path, func(tx *bbolt.Tx) error {
		for _, name := range []string{bDoc, bMailRaw} {
			_ = tx.Bucket([]byte(name)).ForEach(func(k, val []byte) error {
				if val == nil {
					nested++
				}
				return nil
			})
		}
		return nil
	})
	if nested != 2*n-2 {
		t.Errorf("%d large values in their own bucket, want %d", nested, 2*n-2)
	}
	for _, r := range rawDump(t, path) {
		if strings.Contains(string(r.val), ps[3].BirthName) {
			t.Fatalf("a name in clear in %s", r.bucket)
		}
	}
	// Large values written plain (a vault of an earlier version) read:
	// Check opens every raw message and document.
	rawUpdate(t, path, func(tx *bbolt.Tx) error {
		for _, name := range []string{bDoc, bMailRaw} {
			b := tx.Bucket([]byte(name))
			var keys [][]byte
			_ = b.ForEach(func(k, val []byte) error {
				if val == nil {
					keys = append(keys, append([]byte(nil), k...))
				}
				return nil
			})
			for _, k := range keys {
				plain := append([]byte(nil), getBig(b, k)...)
				if err := b.DeleteBucket(k); err != nil {
					return err
				}
				if err := b.Put(k, plain); err != nil {
					return err
				}
			}
		}
		return nil
	})
	v = reopen(t, nil, path, opt, testPass)
	if r, err := v.RawMessage(ctx, "mid:big-"+string(ps[5].ID)); err != nil || len(r.Bytes) != size {
		t.Fatalf("plain raw message: %d bytes %v", len(r.Bytes), err)
	}
	rep := checkOK(t, v)
	if rep.Documents != 2*n-1 {
		t.Errorf("check saw %d documents, want %d", rep.Documents, 2*n-1)
	}
}
