package vault

import (
	"bytes"
	"testing"

	"go.etcd.io/bbolt"

	"github.com/carnetdesk/carnet/app"
)

func TestCompact(t *testing.T) {
	opt := testOptions()
	v, _ := newTestVault(t, opt)
	for i := 0; i < 40; i++ {
		mustOK(t, v.Write(ctx, patientBatch(synthPatient(i), 10, 10000)))
	}
	for i := 0; i < 30; i++ {
		mustOK(t, v.Purge(ctx, synthPatient(i).ID))
	}
	st, err := v.Stats(ctx)
	mustOK(t, err)
	if st.FreeRatio() <= app.CompactThreshold {
		t.Fatalf("free ratio %.2f after purging 3/4 of the patients, want > %.2f", st.FreeRatio(), app.CompactThreshold)
	}
	rep, err := v.Compact(ctx)
	mustOK(t, err)
	if rep.After >= rep.Before {
		t.Fatalf("stats %+v, compacted %+v", st, rep)
	}
	if v.Locked() {
		t.Fatal("locked by compaction")
	}
	rc := checkOK(t, v)
	if rc.Patients != 10 || rc.Documents != 100 {
		t.Fatalf("after compaction %+v", rc)
	}
	if st, _ := v.Stats(ctx); st.FreeRatio() > app.CompactThreshold {
		t.Fatalf("free ratio %.2f right after compaction", st.FreeRatio())
	}
	v.Lock()
	_, err = v.Compact(ctx)
	mustOK(t, err)
}

func TestNonceUniqueness(t *testing.T) {
	v, _ := newTestVault(t, testOptions())
	p := synthPatient(12)
	b := patientBatch(p, 1, 100)
	mustOK(t, v.Write(ctx, b))
	first := rawDumpValues(t, v, bDoc)
	mustOK(t, v.Write(ctx, &app.Batch{Documents: b.Documents}))
	second := rawDumpValues(t, v, bDoc)
	if bytes.Equal(first[0], second[0]) {
		t.Fatal("same value sealed twice to the same bytes")
	}
	for i := 0; i < 300; i++ {
		mustOK(t, v.Record(ctx, app.AuditEvent{Action: "x"}))
	}
	seen := map[string]bool{}
	for _, val := range rawDumpValues(t, v, bAudit) {
		n := string(val[1:13])
		if seen[n] {
			t.Fatal("nonce reused")
		}
		seen[n] = true
	}
}

func rawDumpValues(t testing.TB, v *Vault, bucket string) [][]byte {
	var out [][]byte
	mustOK(t, v.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket([]byte(bucket)).ForEach(func(_, val []byte) error {
			out = append(out, append([]byte(nil), val...))
			return nil
		})
	}))
	return out
}

func TestWriteRefusesUnknownPatient(t *testing.T) {
	v, _ := newTestVault(t, testOptions())
	p := synthPatient(13)
	b := patientBatch(p, 1, 10)
	b.Patients = nil
	mustKind(t, v.Write(ctx, b), app.ErrInvalid)
	checkOK(t, v)
}

// TestBatchAudit: audit events given with a batch are appended to the chain
// in the same transaction as the data they describe.
func TestBatchAudit(t *testing.T) {
	v, _ := newTestVault(t, testOptions())
	p := synthPatient(3)
	mustOK(t, v.Record(ctx, app.AuditEvent{Action: "before"}))
	b := patientBatch(p, 2, 100)
	b.Audit = []app.AuditEvent{{Action: "mail.import", Patient: p.ID}, {Action: "mail.import", Patient: p.ID}}
	mustOK(t, v.Write(ctx, b))
	evs, err := v.Audit(ctx, app.AuditFilter{})
	mustOK(t, err)
	if len(evs) != 3 || evs[1].Seq != 2 || evs[2].Seq != 3 || evs[2].Time.IsZero() {
		t.Fatalf("audit after the batch: %+v", evs)
	}
	if rep := checkOK(t, v); rep.Audit != 3 {
		t.Fatalf("check counted %d audit events", rep.Audit)
	}
}
