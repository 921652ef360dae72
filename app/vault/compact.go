package vault

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"go.etcd.io/bbolt"

	"github.com/carnetdesk/carnet/app"
)

// compactTxMax bounds each transaction of the compaction copy.
const compactTxMax = 64 << 20

// Compact rewrites the file without its free pages: bbolt.Compact into a
// temporary file beside the vault, fsync, close both, atomic rename, reopen.
// The unlocked state (keys, directory) is kept. It works locked too: only
// ciphertext is copied. The old file is closed before the rename, as
// Windows requires.
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
	tmp := v.path + ".compact"
	if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return rep, err
	}
	dst, err := bbolt.Open(tmp, 0o600, &bbolt.Options{Timeout: v.opt.Timeout, FreelistType: bbolt.FreelistMapType})
	if err != nil {
		return rep, classify(err)
	}
	err = func() (err error) {
		defer guard(&err)
		return classify(bbolt.Compact(dst, v.db, compactTxMax))
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
