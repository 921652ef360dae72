package vault

import (
	"bytes"
	"os"

	"go.etcd.io/bbolt"

	"github.com/carnetdesk/carnet/crypto"
)

// Removing a replaced pass slot from the file: the old passphrase and the
// device secret still open the slot bbolt freed, so it must not stay in
// the free pages.

// rewriteSlot writes a new pass slot (writePassSlot), raises the counter,
// then removes the old slot, which the old passphrase still opens, from
// bbolt's free pages (shredSlots). The caller holds v.mu for writing.
func (v *Vault) rewriteSlot(k *keys, id, passphrase []byte, p crypto.KDFParams, extra map[string][]byte) error {
	old, err := v.readHeader()
	if err != nil {
		return err
	}
	if err := v.writePassSlot(k, id, passphrase, p, extra); err != nil {
		return err
	}
	if err := v.raiseCounter(k); err != nil {
		v.log.Error("slot rewrite: rollback counter not raised", "err", err)
	}
	return v.shredSlots(old.fields[hPass])
}

// shredSlots removes the replaced pass slot from the file: every copy of
// it, which can only be in pages bbolt has freed, is overwritten with
// random bytes and synced (scrubFreed); then the slot-shred flag is
// cleared. Should a copy turn up outside a free page, or anything fail,
// the flag stays and the file is compacted now (only live records are
// copied) or at the next Lock, Close or Open. A failure does not undo the
// rewrite, which is committed: it is logged. The caller holds v.mu for
// writing.
func (v *Vault) shredSlots(old []byte) error {
	left, err := v.scrubFreed([][]byte{old})
	switch {
	case err != nil:
		v.log.Warn("old key slot: overwrite failed, compacting", "err", err)
	case left > 0:
		v.log.Warn("old key slot: a copy outside the free pages, compacting", "copies", left)
	default:
		err = v.update(v.db, func(tx *bbolt.Tx) error {
			b, err := bucket(tx, bHeader)
			if err != nil {
				return err
			}
			return b.Delete([]byte(hSlotShred))
		})
		if err == nil {
			return nil
		}
	}
	v.shredIfPending()
	return nil
}

// scrubFreed overwrites with random bytes every copy of the needles found
// in the file, when every page it spans is free in bbolt's freelist. Two
// empty commits first make both meta pages name trees without the freed
// pages, and v.mu (held for writing) keeps every read transaction of this
// process out; another process cannot hold the file (its lock). It
// returns how many copies were left because they are not in free pages.
func (v *Vault) scrubFreed(needles [][]byte) (int, error) {
	for i := 0; i < 2; i++ {
		if err := v.update(v.db, func(*bbolt.Tx) error { return nil }); err != nil {
			return 0, err
		}
	}
	raw, err := os.ReadFile(v.path)
	if err != nil {
		return 0, err
	}
	ps := v.db.Info().PageSize
	type hit struct{ off, n int }
	var hits []hit
	for _, nd := range needles {
		if len(nd) < 16 {
			continue // too short to be found by chance only
		}
		for i := 0; ; {
			j := bytes.Index(raw[i:], nd)
			if j < 0 {
				break
			}
			hits = append(hits, hit{i + j, len(nd)})
			i += j + len(nd)
		}
	}
	clear(raw)
	if len(hits) == 0 {
		return 0, nil
	}
	left := 0
	var free []hit
	err = v.view(v.db, func(tx *bbolt.Tx) error {
		for _, h := range hits {
			ok := true
			for id := h.off / ps; id <= (h.off+h.n-1)/ps; id++ {
				info, err := tx.Page(id)
				if err != nil || info == nil || info.Type != "free" {
					ok = false
					break
				}
			}
			if ok {
				free = append(free, h)
			} else {
				left++
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	f, err := os.OpenFile(v.path, os.O_RDWR, 0)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	for _, h := range free {
		junk, err := crypto.Random(h.n)
		if err != nil {
			return 0, err
		}
		if _, err := f.WriteAt(junk, int64(h.off)); err != nil {
			return 0, classify(err)
		}
	}
	if err := f.Sync(); err != nil {
		return 0, classify(err)
	}
	return left, nil
}
