package vault

import (
	"encoding/json"
	"fmt"

	"go.etcd.io/bbolt"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/crypto"
)

// Record kinds, bound into every value's associated data with the record
// format version, so that a value cannot be replayed as another kind.
const (
	kindDir       byte = 1 // app.Patient (JSON), dir key
	kindKey       byte = 2 // wrapped patient data key, wrap key
	kindMan       byte = 3 // app.Manifest (JSON), patient key
	kindDoc       byte = 4 // document bytes (raw), patient key
	kindCur       byte = 5 // map stream → app.Cursor (JSON), patient key (dir key for global streams)
	kindOut       byte = 6 // app.OutboxItem (JSON), outbox key
	kindAudit     byte = 7 // auditRecord (JSON), audit key
	kindSet       byte = 8 // app.Settings (JSON), settings key
	kindAuditHead byte = 9 // auditHead (JSON), audit key

	// recordVersion is the version of the record format, bound into every
	// value's associated data. It is a constant, not a per-record counter:
	// a record rolled back to an older sealed copy under the same key still
	// opens (not detected yet; see the package Caveats).
	recordVersion byte = 1
)

// Blind domains: the first part of every blinded key.
const (
	domDir      = "dir"
	domKey      = "key"
	domMan      = "man"
	domDoc      = "doc"
	domCur      = "cur"
	domOut      = "out"
	domSettings = "settings"
	domHead     = "audit-head"
)

// recordAAD is bucket ‖ 0 ‖ bbolt key ‖ kind ‖ recordVersion (the
// constant record format version).
func recordAAD(bucket string, key []byte, kind byte) []byte {
	b := make([]byte, 0, len(bucket)+len(key)+3)
	b = append(b, bucket...)
	b = append(b, 0)
	b = append(b, key...)
	return append(b, kind, recordVersion)
}

func seal(a *crypto.AEAD, bucket string, key []byte, kind byte, plain []byte) []byte {
	return a.Seal(nil, plain, recordAAD(bucket, key, kind))
}

func sealJSON(a *crypto.AEAD, bucket string, key []byte, kind byte, v any) ([]byte, error) {
	plain, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	out := seal(a, bucket, key, kind, plain)
	clear(plain)
	return out, nil
}

// open authenticates and decrypts a stored value. Any failure (tampered,
// truncated, moved under another key) is app.ErrDamaged naming the bucket
// and a prefix of the opaque key, never the content.
func open(a *crypto.AEAD, bucket string, key []byte, kind byte, sealed []byte) ([]byte, error) {
	plain, err := a.Open(sealed, recordAAD(bucket, key, kind))
	if err != nil {
		return nil, damaged(bucket, key)
	}
	return plain, nil
}

func openJSON(a *crypto.AEAD, bucket string, key []byte, kind byte, sealed []byte, out any) error {
	plain, err := open(a, bucket, key, kind, sealed)
	if err != nil {
		return err
	}
	err = json.Unmarshal(plain, out)
	clear(plain)
	if err != nil {
		return damaged(bucket, key)
	}
	return nil
}

func damaged(bucket string, key []byte) error {
	if len(key) > 4 {
		key = key[:4]
	}
	return fmt.Errorf("bucket %s: record %x…: %w", bucket, key, app.ErrDamaged)
}

func bucket(tx *bbolt.Tx, name string) (*bbolt.Bucket, error) {
	b := tx.Bucket([]byte(name))
	if b == nil {
		return nil, fmt.Errorf("bucket %s missing: %w", name, app.ErrDamaged)
	}
	return b, nil
}

// patientKey returns a patient's data key: from the cache, or unwrapped
// from the keys bucket (and cached). ErrNotFound when the patient has none.
func (k *keys) patientKey(tx *bbolt.Tx, bl *crypto.Blinder, id app.PatientID) (*dek, error) {
	kk := bl.Blind(domKey, string(id))
	if d := k.cached(kk); d != nil {
		return d, nil
	}
	b, err := bucket(tx, bKeys)
	if err != nil {
		return nil, err
	}
	w := b.Get(kk)
	if w == nil {
		return nil, fmt.Errorf("patient: %w", app.ErrNotFound)
	}
	d, err := k.unwrapDEK(kk, w)
	if err != nil {
		return nil, err
	}
	k.remember(kk, d)
	return d, nil
}

func (k *keys) unwrapDEK(kk, wrapped []byte) (*dek, error) {
	key, err := crypto.Unwrap(k.wrapKey(), wrapped, recordAAD(bKeys, kk, kindKey))
	if err != nil {
		return nil, damaged(bKeys, kk)
	}
	a, err := crypto.NewAEAD(key)
	if err != nil {
		key.Wipe()
		return nil, err
	}
	return &dek{key: key, aead: a}, nil
}

// newDEK draws a patient data key and its wrapped form.
func (k *keys) newDEK(kk []byte) (*dek, []byte, error) {
	key, err := crypto.NewKey()
	if err != nil {
		return nil, nil, err
	}
	w, err := crypto.Wrap(k.wrapKey(), key, recordAAD(bKeys, kk, kindKey))
	if err != nil {
		key.Wipe()
		return nil, nil, err
	}
	a, err := crypto.NewAEAD(key)
	if err != nil {
		key.Wipe()
		return nil, nil, err
	}
	return &dek{key: key, aead: a}, w, nil
}

// cursorAEAD seals a patient's cursors with the patient's key; global
// streams (no patient) use the directory key.
func (k *keys) cursorAEAD(tx *bbolt.Tx, bl *crypto.Blinder, id app.PatientID) (*crypto.AEAD, error) {
	if id == "" {
		return k.dirA, nil
	}
	d, err := k.patientKey(tx, bl, id)
	if err != nil {
		return nil, err
	}
	return d.aead, nil
}

// readCursors opens the cursor record of a patient (nil map when absent).
func readCursors(tx *bbolt.Tx, a *crypto.AEAD, key []byte) (map[string]app.Cursor, error) {
	b, err := bucket(tx, bCur)
	if err != nil {
		return nil, err
	}
	v := b.Get(key)
	if v == nil {
		return nil, nil
	}
	var m map[string]app.Cursor
	if err := openJSON(a, bCur, key, kindCur, v, &m); err != nil {
		return nil, err
	}
	return m, nil
}
