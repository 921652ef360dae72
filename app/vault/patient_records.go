package vault

import (
	"go.etcd.io/bbolt"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/crypto"
)

// patientRecords describes a bucket of one sealed record per patient (the
// declared medications, the pre-operative decisions): the record sits
// under the blinded key (dom, patient id), sealed with the patient's data
// key as a record of its kind; Purge deletes it with the key, Check opens
// it. The bucket is created on the first write: a vault made before it has
// none, and every reader tolerates its absence.
type patientRecords struct {
	bucket string
	dom    string
	kind   byte
}

// key is the blinded key of id's record.
func (r patientRecords) key(bl *crypto.Blinder, id app.PatientID) []byte {
	return bl.Blind(r.dom, string(id))
}

// read opens the record under key into out; found is false (out untouched)
// when there is none.
func (r patientRecords) read(tx *bbolt.Tx, a *crypto.AEAD, key []byte, out any) (found bool, err error) {
	b := tx.Bucket([]byte(r.bucket))
	if b == nil {
		return false, nil
	}
	val := b.Get(key)
	if val == nil {
		return false, nil
	}
	return true, openJSON(a, r.bucket, key, r.kind, val, out)
}

// store seals v under key in b, or deletes the record when empty (nothing
// left to keep).
func (r patientRecords) store(b *bbolt.Bucket, a *crypto.AEAD, key []byte, v any, empty bool) error {
	if empty {
		return b.Delete(key)
	}
	val, err := sealJSON(a, r.bucket, key, r.kind, v)
	if err != nil {
		return err
	}
	return b.Put(key, val)
}

// purge deletes id's record inside Purge's transaction (after the key:
// the record is already unreadable).
func (r patientRecords) purge(tx *bbolt.Tx, bl *crypto.Blinder, id app.PatientID) error {
	if b := tx.Bucket([]byte(r.bucket)); b != nil {
		return b.Delete(r.key(bl, id))
	}
	return nil
}

// checkPatientRecords opens the record of every patient of ps with the
// patient's key, counts it and hands it to each (which reports what is
// wrong inside); records of no patient of the directory are reported.
func checkPatientRecords[T any](c *checker, r patientRecords, ps []app.Patient, each func(key []byte, v T)) {
	b := c.tx.Bucket([]byte(r.bucket))
	if b == nil {
		return
	}
	seen := map[string]bool{}
	for _, p := range ps {
		key := r.key(c.bl, p.ID)
		val := b.Get(key)
		if val == nil {
			continue
		}
		seen[string(key)] = true
		d := c.deks[string(c.bl.Blind(domKey, string(p.ID)))]
		if d == nil {
			continue // the key's problem is reported already
		}
		var v T
		if err := openJSON(d.aead, r.bucket, key, r.kind, val, &v); err != nil {
			c.problem("%v", err)
			continue
		}
		c.rep.Records++
		each(key, v)
	}
	orphans, first := 0, []byte(nil)
	_ = b.ForEach(func(key, _ []byte) error {
		if !seen[string(key)] {
			if orphans == 0 {
				first = append([]byte(nil), key...)
			}
			orphans++
		}
		return nil
	})
	if orphans > 0 {
		c.problem("%s: %d records belong to no patient of the directory (first %x…)", r.bucket, orphans, first[:min(4, len(first))])
	}
}
