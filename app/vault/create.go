package vault

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"go.etcd.io/bbolt"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/crypto"
)

// Create makes a new vault protected by passphrase and leaves it unlocked.
// It fails with app.ErrVaultExists when a vault exists, and with
// app.ErrInUse when another process is creating one at the same path for
// longer than Options.Timeout.
//
// Concurrent creations are serialised by a creation lock (path+".lock",
// see lockCreate) held from the existence check to the moment the vault
// appears: exactly one creator wins, the others get app.ErrVaultExists (or
// app.ErrInUse). The keys, the KDF and the pass slot are computed before
// the lock is taken. The file is built under a unique temporary name,
// synced, then linked into place (bbolt's first initialisation is not
// crash-safe; a half-built vault never appears at path). A file device
// secret is written under a unique temporary name too (O_EXCL, 0600) and
// renamed into place just before the vault is linked, so that a vault never
// appears without its secret; a crash in between leaves only a secret that
// the next creation replaces.
func (v *Vault) Create(ctx context.Context, passphrase []byte, opt app.CreateOptions) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if err := v.create(passphrase, opt); err != nil {
		return fmt.Errorf("vault: create: %w", err)
	}
	return nil
}

func (v *Vault) create(passphrase []byte, opt app.CreateOptions) (err error) {
	if v.db != nil {
		return app.ErrVaultExists
	}
	if _, err := os.Lstat(v.path); err == nil {
		return app.ErrVaultExists
	}
	k, fields, p, err := v.newVaultKeys(passphrase, opt)
	if err != nil {
		return err
	}
	linked := false
	defer func() {
		if err != nil && !linked {
			k.wipe()
		}
	}()
	release, err := lockCreate(v.path, v.opt.Timeout)
	if err != nil {
		return err
	}
	defer release()
	if _, err := os.Lstat(v.path); err == nil {
		return app.ErrVaultExists
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	id := fields[hID]
	dev, err := v.stageDevice(hex.EncodeToString(id), devKeyring, k.device)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil && !linked {
			dev.abort(v)
		}
	}()
	fields[hDevice] = []byte(dev.where)
	rot, err := v.beginRotation(k, &header{id: id, device: dev.where, fields: map[string][]byte{hRecoveryPub: fields[hRecoveryPub]}})
	if err != nil {
		return err
	}
	defer func() {
		if err != nil && !linked {
			rot.abort()
		}
	}()
	fields[hWrap] = rot.field
	if rot.recovery != nil {
		fields[hWrapRecovery] = rot.recovery
	}
	rot.commit(k)
	sealHeader(k, fields, FormatVersion)
	tmp, err := v.buildTemp(fields)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	if err := dev.commit(v); err != nil {
		return err
	}
	if err := linkNew(tmp, v.path); err != nil {
		return err
	}
	linked = true // from here on the file exists and needs its device secret
	// Drop the temporary name now, before the vault is opened: Windows
	// cannot delete a link of a file another handle holds open.
	_ = os.Remove(tmp)
	syncDir(filepath.Dir(v.path))
	if v.db, err = v.openDB(false); err != nil {
		k.wipe()
		return err
	}
	v.k = k
	v.dirMu.Lock()
	v.dir = app.NewDirectory(nil)
	v.dirMu.Unlock()
	v.revalidationDays.Store(int64(app.DefaultSettings().RevalidationDays))
	if h, err := v.readHeader(); err == nil {
		if err := v.writeMirror(h, 1); err != nil {
			v.log.Error("rollback counter: mirror not written", "err", err)
		}
	}
	v.log.Info("vault created", "kdf", p.String(), "device", dev.where, "recovery", opt.RecoveryKey != nil)
	return nil
}

// newVaultKeys draws the vault id, the VMK and the device secret, and
// computes the header fields that depend on no file: format, id, recovery
// slot, pass slot. It touches nothing on disk.
func (v *Vault) newVaultKeys(passphrase []byte, opt app.CreateOptions) (*keys, map[string][]byte, crypto.KDFParams, error) {
	p, err := v.kdfFor(nil)
	if err != nil {
		return nil, nil, p, err
	}
	id, err := crypto.Random(16)
	if err != nil {
		return nil, nil, p, err
	}
	fields := map[string][]byte{
		hFormat: binary.BigEndian.AppendUint32(nil, FormatVersion),
		hID:     id,
	}
	vmk, err := crypto.NewKey()
	if err != nil {
		return nil, nil, p, err
	}
	if opt.RecoveryKey != nil {
		fpr, err := crypto.RecoveryFingerprint(opt.RecoveryKey)
		if err != nil {
			vmk.Wipe()
			return nil, nil, p, fmt.Errorf("recovery key: %v: %w", err, app.ErrInvalid)
		}
		blob, err := crypto.EncryptToRecovery(opt.RecoveryKey, vmk.Bytes())
		if err != nil {
			vmk.Wipe()
			return nil, nil, p, fmt.Errorf("recovery slot: %v: %w", err, app.ErrInvalid)
		}
		fields[hRecovery], fields[hRecoveryFpr] = blob, []byte(fpr)
		fields[hRecoveryPub] = append([]byte(nil), opt.RecoveryKey...)
	}
	device, err := crypto.Random(crypto.DeviceSecretSize)
	if err != nil {
		vmk.Wipe()
		return nil, nil, p, err
	}
	k, err := newKeys(vmk, device, passphrase, FormatVersion)
	clear(device)
	if err != nil {
		vmk.Wipe()
		return nil, nil, p, err
	}
	if fields[hPass], err = k.passSlot(id, passphrase, p); err != nil {
		k.wipe()
		return nil, nil, p, err
	}
	if fields[hDevCheck], err = deviceCheck(k.device, id); err != nil {
		k.wipe()
		return nil, nil, p, err
	}
	fields[hAudit] = headField{}.encode()
	fields[hCounter] = encodeCounter(1)
	return k, fields, p, nil
}

// buildTemp writes a fresh bbolt file with every bucket and the header
// under a unique temporary name beside the vault, syncs it, and returns
// its name.
func (v *Vault) buildTemp(fields map[string][]byte) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(v.path), filepath.Base(v.path)+".creating-*")
	if err != nil {
		return "", classify(err)
	}
	tmp := f.Name()
	f.Close()
	db, err := bbolt.Open(tmp, 0o600, &bbolt.Options{Timeout: v.opt.Timeout})
	if err != nil {
		_ = os.Remove(tmp)
		return "", classify(err)
	}
	err = v.update(db, func(tx *bbolt.Tx) error {
		for _, name := range allBuckets {
			if _, err := tx.CreateBucket([]byte(name)); err != nil {
				return err
			}
		}
		h := tx.Bucket([]byte(bHeader))
		for n, val := range fields {
			if err := h.Put([]byte(n), val); err != nil {
				return err
			}
		}
		return nil
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = syncPath(tmp)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return "", classify(err)
	}
	return tmp, nil
}

// linkNew links tmp at path, failing with app.ErrVaultExists rather than
// replacing a file there. Without hard links (some file systems), it
// renames after checking that path is free; the creation lock makes that
// check safe against other Carnets.
func linkNew(tmp, path string) error {
	err := os.Link(tmp, path)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, fs.ErrExist):
		return app.ErrVaultExists
	}
	if _, serr := os.Lstat(path); serr == nil {
		return app.ErrVaultExists
	}
	return classify(os.Rename(tmp, path))
}
