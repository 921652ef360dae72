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
	"time"

	"go.etcd.io/bbolt"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/crypto"
)

// Create makes a new vault protected by passphrase and leaves it unlocked.
// The file is built under a temporary name, synced, then linked into place
// (bbolt's first initialisation is not crash-safe; a half-built vault never
// appears at path). It fails with app.ErrVaultExists when a vault exists.
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
	if _, err := os.Stat(v.path); err == nil {
		return app.ErrVaultExists
	}
	p, err := v.kdfFor(nil)
	if err != nil {
		return err
	}
	id, err := crypto.Random(16)
	if err != nil {
		return err
	}
	vmk, err := crypto.NewKey()
	if err != nil {
		return err
	}
	fields := map[string][]byte{
		hFormat: binary.BigEndian.AppendUint32(nil, FormatVersion),
		hID:     id,
	}
	if opt.RecoveryKey != nil {
		fpr, err := crypto.RecoveryFingerprint(opt.RecoveryKey)
		if err != nil {
			vmk.Wipe()
			return fmt.Errorf("recovery key: %v: %w", err, app.ErrInvalid)
		}
		blob, err := crypto.EncryptToRecovery(opt.RecoveryKey, vmk.Bytes())
		if err != nil {
			vmk.Wipe()
			return fmt.Errorf("recovery slot: %v: %w", err, app.ErrInvalid)
		}
		fields[hRecovery], fields[hRecoveryFpr] = blob, []byte(fpr)
	}
	device, where, err := v.newDevice(hex.EncodeToString(id))
	if err != nil {
		vmk.Wipe()
		return err
	}
	linked := false
	defer func() {
		if err != nil && !linked {
			v.dropDevice(hex.EncodeToString(id), where)
		}
	}()
	fields[hDevice] = []byte(where)
	k, err := newKeys(vmk, device, passphrase)
	clear(device)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			k.wipe()
		}
	}()
	kek, err := crypto.DeriveKEK(passphrase, k.device, p, infoKEK)
	if err != nil {
		return err
	}
	wrapped, err := crypto.Wrap(kek, vmk, slotAAD(id, "pass", p))
	kek.Wipe()
	if err != nil {
		return err
	}
	fields[hPass] = encodeSlot(p, wrapped)
	fields[hMAC] = headerMAC(k.header, fields)
	if err := v.buildFile(fields); err != nil {
		return err
	}
	linked = true // from here on the file exists and needs its device secret
	if v.db, err = v.openDB(false); err != nil {
		return err
	}
	v.k = k
	v.dirMu.Lock()
	v.dir = app.NewDirectory(nil)
	v.dirMu.Unlock()
	v.log.Info("vault created", "kdf", p.String(), "device", where, "recovery", opt.RecoveryKey != nil)
	return nil
}

func (v *Vault) dropDevice(account, where string) {
	switch where {
	case devKeyring:
		_ = v.opt.Keyring.Delete(account)
	case devFile:
		_ = os.Remove(v.devicePath())
	}
}

// buildFile writes a fresh bbolt file with every bucket and the header under
// a temporary name, syncs it, and links it at v.path (failing, not
// replacing, when another process created a vault meanwhile).
func (v *Vault) buildFile(fields map[string][]byte) error {
	tmp := v.path + ".creating"
	if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	db, err := bbolt.Open(tmp, 0o600, &bbolt.Options{Timeout: v.opt.Timeout})
	if err != nil {
		return classify(err)
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
	if err == nil {
		err = os.Link(tmp, v.path)
		switch {
		case errors.Is(err, fs.ErrExist):
			err = app.ErrVaultExists
		case err != nil:
			// No hard links on this file system: rename, after checking
			// (racily, but this is the fallback) that no vault appeared.
			if _, serr := os.Stat(v.path); serr == nil {
				err = app.ErrVaultExists
			} else {
				err = os.Rename(tmp, v.path)
			}
		}
	}
	_ = os.Remove(tmp)
	if err == nil {
		syncDir(filepath.Dir(v.path))
	}
	return classify(err)
}

// syncPath fsyncs a file or a directory.
func syncPath(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// syncDir makes a rename or link durable, where the platform allows
// syncing a directory (not on Windows: best effort).
func syncDir(dir string) { _ = syncPath(dir) }

// Unlock derives the key-encryption key (Argon2id with the device secret),
// unwraps the VMK, verifies the header MAC, and loads the directory. A
// vault whose KDF parameters are below policy is upgraded when
// Options.KDF is nil.
func (v *Vault) Unlock(ctx context.Context, passphrase []byte) (app.UnlockReport, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	rep, err := v.unlockLocked(passphrase)
	if err != nil {
		return app.UnlockReport{}, fmt.Errorf("vault: unlock: %w", err)
	}
	return rep, nil
}

func (v *Vault) unlockLocked(passphrase []byte) (app.UnlockReport, error) {
	var rep app.UnlockReport
	if v.db == nil {
		return rep, app.ErrNoVault
	}
	v.lockLocked()
	h, err := v.readHeader()
	if err != nil {
		return rep, err
	}
	device, err := v.readDevice(h)
	if err != nil {
		return rep, err
	}
	defer clear(device)
	start := time.Now()
	kek, err := crypto.DeriveKEK(passphrase, device, h.kdf, infoKEK)
	if err != nil {
		return rep, fmt.Errorf("kdf parameters: %w", app.ErrDamaged)
	}
	rep.KDFDuration = time.Since(start)
	vmk, err := crypto.Unwrap(kek, h.wrapped, slotAAD(h.id, "pass", h.kdf))
	kek.Wipe()
	switch {
	case errors.Is(err, crypto.ErrAuth):
		return rep, app.ErrWrongPassphrase
	case err != nil:
		return rep, fmt.Errorf("pass slot: %w", app.ErrDamaged)
	}
	k, err := newKeys(vmk, device, passphrase)
	if err != nil {
		vmk.Wipe()
		return rep, err
	}
	if err := v.finishUnlock(k, h); err != nil {
		k.wipe()
		return rep, err
	}
	if v.opt.KDF == nil && h.kdf.BelowPolicy() {
		if p, err := v.kdfFor(nil); err != nil {
			v.log.Error("kdf upgrade: calibrate", "err", err)
		} else if err := v.writePassSlot(k, h.id, passphrase, p, nil); err != nil {
			v.log.Error("kdf upgrade: write slot", "err", err)
		} else {
			rep.KDFUpgraded = true
			v.log.Info("kdf upgraded", "kdf", p.String())
		}
	}
	rep.Patients = v.dir.Len()
	rep.HasRecovery = h.recovery != nil
	rep.FormatVersion = int(h.version)
	if h.device == devFile {
		rep.Warnings = append(rep.Warnings, app.WarnNoKeyring)
	}
	if !rep.HasRecovery {
		rep.Warnings = append(rep.Warnings, app.WarnNoRecovery)
	}
	return rep, nil
}

// finishUnlock verifies the header MAC with the VMK's header subkey and
// loads the directory; on success the vault is unlocked with k.
func (v *Vault) finishUnlock(k *keys, h *header) error {
	if !macEqual(headerMAC(k.header, h.fields), h.mac) {
		return fmt.Errorf("header mac: %w", app.ErrDamaged)
	}
	dir, err := v.loadDirectory(k)
	if err != nil {
		return err
	}
	v.k = k
	v.dirMu.Lock()
	v.dir = dir
	v.dirMu.Unlock()
	return nil
}

// loadDirectory opens every directory entry.
func (v *Vault) loadDirectory(k *keys) (*app.Directory, error) {
	var ps []app.Patient
	err := v.view(v.db, func(tx *bbolt.Tx) error {
		b, err := bucket(tx, bDir)
		if err != nil {
			return err
		}
		ps = make([]app.Patient, 0, b.Stats().KeyN)
		return b.ForEach(func(key, val []byte) error {
			var p app.Patient
			if err := openJSON(k.dirA, bDir, key, kindDir, val, &p); err != nil {
				return err
			}
			ps = append(ps, p)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return app.NewDirectory(ps), nil
}

// ChangePassphrase rewrites the pass slot (and the header MAC) only: O(1)
// whatever the vault size.
//
// Cost: one Argon2id derivation for the new passphrase. When the vault is
// unlocked, the old passphrase is checked against an in-memory verifier
// (HMAC under a random per-session key of the passphrase that unlocked this
// session) instead of a second derivation: it proves the same thing (the
// person at the keyboard knows the passphrase of this session) at no KDF
// cost. The verifier lives only while unlocked, beside the VMK that a memory
// reader would get anyway. When the vault is locked, the old passphrase is
// verified by a full unlock (two derivations) and the vault is locked again.
func (v *Vault) ChangePassphrase(ctx context.Context, old, new []byte) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if err := v.changePassphrase(old, new); err != nil {
		return fmt.Errorf("vault: change passphrase: %w", err)
	}
	return nil
}

func (v *Vault) changePassphrase(old, new []byte) error {
	if v.db == nil {
		return app.ErrNoVault
	}
	wasLocked := v.k == nil
	if wasLocked {
		if _, err := v.unlockLocked(old); err != nil {
			return err
		}
		defer v.lockLocked()
	} else if !v.k.verify(old) {
		return app.ErrWrongPassphrase
	}
	h, err := v.readHeader()
	if err != nil {
		return err
	}
	p, err := v.kdfFor(&h.kdf)
	if err != nil {
		return err
	}
	if err := v.writePassSlot(v.k, h.id, new, p, nil); err != nil {
		return err
	}
	v.k.setVerifier(new)
	return nil
}

// Recover resets the passphrase with the clinic's recovery private key: the
// recovery slot gives the VMK, a new pass slot is written, and the vault is
// left unlocked. If the device secret is lost too (keyring wiped), a new
// one is drawn.
func (v *Vault) Recover(ctx context.Context, privateKey, keyPassphrase, newPassphrase []byte) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if err := v.recover(privateKey, keyPassphrase, newPassphrase); err != nil {
		return fmt.Errorf("vault: recover: %w", err)
	}
	return nil
}

func (v *Vault) recover(privateKey, keyPassphrase, newPassphrase []byte) error {
	if v.db == nil {
		return app.ErrNoVault
	}
	v.lockLocked()
	h, err := v.readHeader()
	if err != nil {
		return err
	}
	if h.recovery == nil {
		return fmt.Errorf("no recovery slot: %w", app.ErrNotFound)
	}
	raw, err := crypto.DecryptWithRecovery(privateKey, keyPassphrase, h.recovery)
	if err != nil {
		return fmt.Errorf("%v: %w", err, app.ErrWrongPassphrase)
	}
	vmk, err := crypto.KeyFromBytes(raw)
	clear(raw)
	if err != nil {
		return fmt.Errorf("recovery slot: %w", app.ErrDamaged)
	}
	extra := map[string][]byte{}
	device, err := v.readDevice(h)
	if err != nil {
		var where string
		if device, where, err = v.newDevice(h.account()); err != nil {
			vmk.Wipe()
			return err
		}
		extra[hDevice] = []byte(where)
		v.log.Warn("recover: device secret lost, a new one was drawn", "device", where)
	}
	k, err := newKeys(vmk, device, newPassphrase)
	clear(device)
	if err != nil {
		vmk.Wipe()
		return err
	}
	if !macEqual(headerMAC(k.header, h.fields), h.mac) {
		k.wipe()
		return fmt.Errorf("header mac: %w", app.ErrDamaged)
	}
	p, err := v.kdfFor(&h.kdf)
	if err == nil {
		err = v.writePassSlot(k, h.id, newPassphrase, p, extra)
	}
	if err == nil {
		if h, err = v.readHeader(); err == nil {
			err = v.finishUnlock(k, h)
		}
	}
	if err != nil {
		k.wipe()
		return err
	}
	return nil
}

// InspectRecoveryKey checks a clinic recovery public key and describes it
// (app.Store). It needs no unlocked vault: it reads nothing from the file.
func (v *Vault) InspectRecoveryKey(publicKey []byte) (app.RecoveryKeyInfo, error) {
	uid, fp, err := crypto.InspectRecoveryKey(publicKey)
	switch {
	case errors.Is(err, crypto.ErrPrivateKeyGiven):
		return app.RecoveryKeyInfo{}, fmt.Errorf("vault: recovery key: %w", app.ErrPrivateKey)
	case err != nil:
		return app.RecoveryKeyInfo{}, fmt.Errorf("vault: recovery key: %v: %w", err, app.ErrInvalid)
	}
	return app.RecoveryKeyInfo{UserID: uid, Fingerprint: fp}, nil
}
