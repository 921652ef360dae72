package vault

import (
	"context"
	"errors"
	"fmt"

	"go.etcd.io/bbolt"

	"github.com/carnetdesk/carnet/app"
)

// Purge forgets a patient by crypto-shredding, in one transaction: the
// data key is deleted first, then the manifest, the documents it lists,
// the cursors, the declared medications and the directory entry. A
// patient with outbox items is refused with app.ErrConflict.
//
// bbolt keeps deleted values in free pages, where the wrapped data key
// would still open under the VMK. So the same transaction sets the
// header's shred flag, and the next Lock, Close, Compact or Open compacts
// the file whatever its share of free pages (shredIfPending): the purged
// records are then absent from the vault file. app.Service locks after
// the idle delay (5 minutes by default), on Ctrl+L and at shutdown, so a
// purge leaves the file within minutes; a batch of purges (retention)
// costs one compaction, not one per patient. The flag survives a crash.
// Blocks the file system freed when the old file was replaced may still
// hold the bytes until reused: full-disk encryption covers that.
//
// Why not compact inside Purge: a compaction rewrites the whole file (about
// a second per hundred megabytes) under the exclusive lock, and the
// retention sweep purges many patients in a row.
func (v *Vault) Purge(ctx context.Context, id app.PatientID) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	k, err := v.unlocked("purge")
	if err != nil {
		return err
	}
	v.dirMu.RLock()
	_, ok := v.dir.Get(id)
	v.dirMu.RUnlock()
	if !ok {
		return fmt.Errorf("vault: purge: %w", app.ErrNotFound)
	}
	var rot *wrapRotation
	if h, err := v.readHeader(); err != nil {
		return fmt.Errorf("vault: purge: %w", err)
	} else if h.fields[hWrap] != nil {
		if rot, err = v.beginRotation(k, h); err != nil {
			return fmt.Errorf("vault: purge: %w", err)
		}
	}
	var kk []byte
	err = v.update(v.db, func(tx *bbolt.Tx) error {
		items, err := readOutbox(tx, k)
		if err != nil {
			return err
		}
		for _, it := range items {
			if it.Patient == id {
				return fmt.Errorf("patient has outbox items: %w", app.ErrConflict)
			}
		}
		bl := k.blinder()
		kk = bl.Blind(domKey, string(id))
		manKey := bl.Blind(domMan, string(id))
		var docKeys [][]byte
		if d, err := k.patientKey(tx, bl, id); err == nil {
			if val := tx.Bucket([]byte(bMan)).Get(manKey); val != nil {
				var m app.Manifest
				if err := openJSON(d.aead, bMan, manKey, kindMan, val, &m); err != nil {
					return err
				}
				for _, doc := range m.Documents {
					docKeys = append(docKeys, bl.Blind(domDoc, string(id), string(doc.ID)))
				}
			}
		} else if !errors.Is(err, app.ErrNotFound) {
			return err
		}
		// Crypto-shredding: the key goes first.
		if err := tx.Bucket([]byte(bKeys)).Delete(kk); err != nil {
			return err
		}
		if err := tx.Bucket([]byte(bMan)).Delete(manKey); err != nil {
			return err
		}
		for _, dk := range docKeys {
			if err := deleteBig(tx.Bucket([]byte(bDoc)), dk); err != nil {
				return err
			}
		}
		if err := tx.Bucket([]byte(bCur)).Delete(bl.Blind(domCur, string(id))); err != nil {
			return err
		}
		if err := purgeDeclarations(tx, bl, id); err != nil { // declared.go
			return err
		}
		if err := purgePreop(tx, bl, id); err != nil { // preop.go
			return err
		}
		if err := tx.Bucket([]byte(bDir)).Delete(bl.Blind(domDir, string(id))); err != nil {
			return err
		}
		hb, h, err := txHeader(tx, k)
		if err != nil {
			return err
		}
		if rot != nil {
			// The remaining data keys go to a new wrapping epoch: an
			// older copy of the file no longer opens this patient's.
			if err := rot.rewrap(tx, k, hb, h, nil); err != nil {
				return err
			}
		}
		return hb.Put([]byte(hShred), []byte{1})
	})
	if err != nil {
		if rot != nil {
			rot.abort()
		}
		return fmt.Errorf("vault: purge: %w", err)
	}
	if rot != nil {
		rot.commit(k)
	}
	if err := v.raiseCounter(k); err != nil {
		v.log.Error("purge: rollback counter", "err", err)
	}
	k.forget(kk)
	v.dirMu.Lock()
	v.dir.Remove(id)
	v.dirMu.Unlock()
	return nil
}
