package vault

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"go.etcd.io/bbolt"

	"github.com/carnetdesk/carnet/app"
)

// compactTxMax bounds each transaction of the compaction copy.
const compactTxMax = 64 << 20

// Compact rewrites the file without its free pages: bbolt.Compact into a
// temporary file beside the vault, fsync, close both, atomic rename, reopen.
// Only live records are copied, so deleted and purged values (in free and
// pending pages) are not in the new file; the pending-shred flag of Purge
// is cleared in the copy. The unlocked state (keys, directory) is kept. It
// works locked too: only ciphertext is copied. The old file is closed
// before the rename, as Windows requires.
func (v *Vault) Compact(ctx context.Context) (app.CompactReport, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	rep, err := v.compact()
	if err != nil {
		return rep, fmt.Errorf("vault: compact: %w", err)
	}
	return rep, nil
}

func (v *Vault) compact() (app.CompactReport, error) {
	var rep app.CompactReport
	if v.db == nil {
		return rep, app.ErrNoVault
	}
	if fi, err := os.Stat(v.path); err == nil {
		rep.Before = fi.Size()
	}
	f, err := os.CreateTemp(filepath.Dir(v.path), filepath.Base(v.path)+".compact-*")
	if err != nil {
		return rep, classify(err)
	}
	tmp := f.Name()
	f.Close()
	dst, err := bbolt.Open(tmp, 0o600, &bbolt.Options{Timeout: v.opt.Timeout, FreelistType: bbolt.FreelistMapType})
	if err != nil {
		_ = os.Remove(tmp)
		return rep, classify(err)
	}
	err = func() (err error) {
		defer guard(&err)
		if err := bbolt.Compact(dst, v.db, compactTxMax); err != nil {
			return classify(err)
		}
		return dst.Update(func(tx *bbolt.Tx) error {
			if b := tx.Bucket([]byte(bHeader)); b != nil {
				if err := b.Delete([]byte(hSlotShred)); err != nil {
					return err
				}
				return b.Delete([]byte(hShred))
			}
			return nil
		})
	}()
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = syncPath(tmp)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return rep, classify(err)
	}
	if err := v.db.Close(); err != nil {
		_ = os.Remove(tmp)
		return rep, err
	}
	v.db = nil
	renameErr := os.Rename(tmp, v.path)
	if renameErr == nil {
		syncDir(filepath.Dir(v.path))
	} else {
		_ = os.Remove(tmp)
	}
	// Reopen whatever is at path now (the compacted file, or the original
	// when the rename failed).
	db, err := v.openDB(false)
	if err != nil {
		v.lockLocked()
		return rep, err
	}
	v.db = db
	if renameErr != nil {
		return rep, classify(renameErr)
	}
	if fi, err := os.Stat(v.path); err == nil {
		rep.After = fi.Size()
	}
	v.log.Info("vault compacted", "before", rep.Before, "after", rep.After)
	return rep, nil
}

// shredPending reports whether a purge left deleted records in free pages
// that no compaction has removed yet (the header's shred flag). The caller
// holds v.mu.
func (v *Vault) shredPending() bool {
	if v.db == nil {
		return false
	}
	pending := false
	err := v.view(v.db, func(tx *bbolt.Tx) error {
		if b := tx.Bucket([]byte(bHeader)); b != nil {
			pending = b.Get([]byte(hShred)) != nil || b.Get([]byte(hSlotShred)) != nil
		}
		return nil
	})
	return err == nil && pending
}

// shredIfPending compacts the file when a purge is pending a shred,
// whatever the share of free pages. A failure is logged; the flag stays, so
// the next Lock, Close or Open tries again. The caller holds v.mu for
// writing.
func (v *Vault) shredIfPending() {
	if !v.shredPending() {
		return
	}
	if _, err := v.compact(); err != nil {
		v.log.Error("shred after purge: compaction failed; retried at the next lock", "err", err)
		return
	}
	v.log.Info("purged records shredded (file compacted)")
}

// Stats returns the file size and the bytes held by free and pending
// pages. It works locked too.
func (v *Vault) Stats(ctx context.Context) (app.StoreStats, error) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if v.db == nil {
		return app.StoreStats{}, fmt.Errorf("vault: stats: %w", app.ErrNoVault)
	}
	fi, err := os.Stat(v.path)
	if err != nil {
		return app.StoreStats{}, fmt.Errorf("vault: stats: %w", err)
	}
	st := v.db.Stats()
	return app.StoreStats{
		FileSize:  fi.Size(),
		FreeBytes: int64(st.FreePageN+st.PendingPageN) * int64(v.db.Info().PageSize),
	}, nil
}
