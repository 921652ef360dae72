package vault

import (
	"os"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/carnetdesk/carnet/app"
)

// TestPreopSealedPurgedTampered: the pre-operative decisions are sealed
// (the reason, the drug never in clear in the file), survive a reopen,
// are shredded with the patient, and a record moved under another
// patient or orphaned opens for nobody and is reported by Check.
func TestPreopSealedPurgedTampered(t *testing.T) {
	opt := testOptions()
	v, path := newTestVault(t, opt)
	p, q := synthPatient(1), synthPatient(2)
	mustOK(t, v.Write(ctx, &app.Batch{Patients: []app.Patient{p, q}}))
	at := time.Date(2026, 12, 7, 18, 0, 0, 0, time.UTC)
	const canary = "Canarixaban valve mitrale"
	mustOK(t, v.Write(ctx, &app.Batch{Preop: []app.PreopSet{{Patient: p.ID,
		Inputs: &app.PreopInputs{Surgery: at.AddDate(0, 0, 3), Bleeding: "high", CrCl: 61, CrClSource: "Cockcroft-Gault : créatinine 85"},
		Put:    []app.PreopDecision{{Line: "atc:B01AF01", Drug: canary, Action: "bridge", Override: true, Reason: canary, By: "Dr Canari", At: at}}}}}))
	mustKind(t, v.Write(ctx, &app.Batch{Preop: []app.PreopSet{{Patient: "nobody", Put: []app.PreopDecision{{Line: "x", Action: "stop"}}}}}), app.ErrNotFound)
	v = reopen(t, v, path, opt, testPass)
	rec, err := v.PreopDecisions(ctx, p.ID)
	mustOK(t, err)
	if len(rec.Decisions) != 1 || rec.Decisions[0].Reason != canary || rec.Inputs.CrCl != 61 || !rec.Decisions[0].At.Equal(at) {
		t.Fatalf("read back %+v", rec)
	}
	checkOK(t, v)
	mustOK(t, v.Close())
	raw, err := os.ReadFile(path)
	mustOK(t, err)
	if n := countIn(raw, canary, "Canarixaban", "Dr Canari", "B01AF01", "Cockcroft"); n != 0 {
		t.Fatalf("%d canary hits in the vault file", n)
	}

	// Tamper: p's record under q's key, and an orphan.
	v = reopen(t, nil, path, opt, testPass)
	var pKey, qKey []byte
	mustOK(t, v.read("test", func(tx *bbolt.Tx, k *keys) error {
		pKey, qKey = preopRecords.key(k.blinder(), p.ID), preopRecords.key(k.blinder(), q.ID)
		return nil
	}))
	mustOK(t, v.Close())
	rawUpdate(t, path, func(tx *bbolt.Tx) error {
		b := tx.Bucket([]byte(bPreop))
		val := append([]byte(nil), b.Get(pKey)...)
		if err := b.Put(qKey, val); err != nil {
			return err
		}
		return b.Put([]byte("orphan-record-key"), val)
	})
	v = reopen(t, nil, path, opt, testPass)
	_, err = v.PreopDecisions(ctx, q.ID)
	mustKind(t, err, app.ErrDamaged)
	rep, err := v.Check(ctx)
	mustOK(t, err)
	if text := strings.Join(rep.Problems, "\n"); !strings.Contains(text, "preop: 1 records belong to no patient") {
		t.Fatalf("problems %q", text)
	}
	// Purge shreds p's record with its key.
	mustOK(t, v.Purge(ctx, p.ID))
	_, err = v.PreopDecisions(ctx, p.ID)
	mustKind(t, err, app.ErrNotFound)
	mustOK(t, v.Close())
	for _, r := range rawDump(t, path) {
		if r.bucket == bPreop && string(r.key) == string(pKey) {
			t.Fatal("the purged patient's record survived")
		}
	}
}
