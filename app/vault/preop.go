package vault

import (
	"context"
	"fmt"
	"sort"

	"go.etcd.io/bbolt"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/crypto"
)

// The pre-operative decisions (app/preopsaved.go) in the vault: one
// bucket, created on the first decision (a vault made before it has none):
//
//	preop   one record per patient: the JSON app.PreopRecord (inputs and
//	        decisions), sealed with the patient's data key under the
//	        blinded key (preop, patient id)
//
// Like the declarations, the record is the patient's: Purge shreds it with
// the key and deletes it in the same transaction; Check opens it.
// Batch.Preop sets are merged into the stored record inside Write's
// transaction.

// bPreop is the bucket of the pre-operative decisions; created on demand,
// Check tolerates its absence.
const bPreop = "preop"

// preopRecords are the pre-operative records: kind 0x51, app.PreopRecord
// (JSON), patient key, blind domain "preop".
var preopRecords = patientRecords{bucket: bPreop, dom: "preop", kind: 0x51}

// PreopDecisions returns the patient's saved pre-operative inputs and
// decisions (decisions ordered by line): an empty record when none was
// saved, app.ErrNotFound for a patient without a data key. The
// re-validation rule applies as to the manifest.
func (v *Vault) PreopDecisions(ctx context.Context, id app.PatientID) (app.PreopRecord, error) {
	if err := v.readable("read pre-operative decisions", id); err != nil {
		return app.PreopRecord{}, err
	}
	var out app.PreopRecord
	err := v.read("read pre-operative decisions", func(tx *bbolt.Tx, k *keys) error {
		bl := k.blinder()
		d, err := k.patientKey(tx, bl, id)
		if err != nil {
			return err
		}
		out, err = readPreop(tx, d.aead, preopRecords.key(bl, id))
		return err
	})
	if err != nil {
		return app.PreopRecord{}, err
	}
	out.Patient = id
	return out, nil
}

// readPreop opens a patient's pre-operative record (empty when absent).
func readPreop(tx *bbolt.Tx, a *crypto.AEAD, key []byte) (app.PreopRecord, error) {
	var r app.PreopRecord
	if _, err := preopRecords.read(tx, a, key, &r); err != nil {
		return app.PreopRecord{}, err
	}
	return r, nil
}

// writePreop merges the pre-operative sets of a batch into each patient's
// record, inside Write's transaction. A record left without inputs and
// decisions is removed. A set without patient, or a decision without line,
// is app.ErrInvalid; a patient without a data key app.ErrNotFound: either
// fails the whole batch.
func writePreop(tx *bbolt.Tx, bl *crypto.Blinder, sets []app.PreopSet, dekOf func(app.PatientID) (*dek, error)) error {
	if len(sets) == 0 {
		return nil
	}
	for _, set := range sets {
		if set.Patient == "" {
			return fmt.Errorf("pre-operative decisions without patient: %w", app.ErrInvalid)
		}
		for _, d := range set.Put {
			if d.Line == "" {
				return fmt.Errorf("pre-operative decision without line: %w", app.ErrInvalid)
			}
		}
	}
	b, err := tx.CreateBucketIfNotExists([]byte(bPreop))
	if err != nil {
		return err
	}
	for _, set := range sets {
		d, err := dekOf(set.Patient)
		if err != nil {
			return err
		}
		key := preopRecords.key(bl, set.Patient)
		rec, err := readPreop(tx, d.aead, key)
		if err != nil {
			return err
		}
		if set.Inputs != nil {
			rec.Inputs = *set.Inputs
		}
		for _, p := range set.Put {
			replaced := false
			for i := range rec.Decisions {
				if rec.Decisions[i].Line == p.Line {
					rec.Decisions[i], replaced = p, true
				}
			}
			if !replaced {
				rec.Decisions = append(rec.Decisions, p)
			}
		}
		for _, gone := range set.Remove {
			for i := 0; i < len(rec.Decisions); i++ {
				if rec.Decisions[i].Line == gone {
					rec.Decisions = append(rec.Decisions[:i], rec.Decisions[i+1:]...)
					i--
				}
			}
		}
		sort.SliceStable(rec.Decisions, func(i, j int) bool { return rec.Decisions[i].Line < rec.Decisions[j].Line })
		rec.Patient = "" // the key says whose it is; no id inside
		empty := len(rec.Decisions) == 0 && rec.Inputs == (app.PreopInputs{})
		if err := preopRecords.store(b, d.aead, key, rec, empty); err != nil {
			return err
		}
	}
	return nil
}

// purgePreop deletes a patient's pre-operative record inside Purge's
// transaction (after the key: the record is already unreadable).
func purgePreop(tx *bbolt.Tx, bl *crypto.Blinder, id app.PatientID) error {
	return preopRecords.purge(tx, bl, id)
}

// preop checks the pre-operative records: each opens with its patient's
// key; records of no patient of the directory are reported.
func (c *checker) preop(ps []app.Patient) {
	checkPatientRecords(c, preopRecords, ps, func(key []byte, r app.PreopRecord) {
		for _, x := range r.Decisions {
			if x.Line == "" {
				c.problem("preop: record %x… holds a decision without line", key[:4])
				break
			}
		}
	})
}
