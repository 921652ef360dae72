package vault

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/bbolt"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/crypto"
)

// Unlock checks the header (format, checksum), fetches the device secret,
// derives the key-encryption key (Argon2id), unwraps the VMK, verifies the
// header MAC, and loads the directory. A vault whose KDF parameters are
// below policy is upgraded when Options.KDF is nil.
//
// A damaged header gives app.ErrDamaged before any derivation; an
// unreadable device secret gives app.ErrDeviceSecret (not a failed
// passphrase). A directory record that does not open does not stop the
// unlock: its patient is left out of the directory, the report carries
// app.WarnDamagedRecords, and Check lists the problem.
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
	defer func() { v.acceptOlder = false }() // one attempt only (AcceptOlderOnce)
	v.lockLocked()
	h, err := v.readHeader()
	if err != nil {
		return rep, err
	}
	if wait := v.throttleWait(h); wait > 0 {
		return rep, &app.WaitError{Kind: app.ErrTooManyAttempts, Wait: wait}
	}
	device, err := v.readDevice(h)
	if err != nil {
		return rep, err
	}
	defer clear(device)
	if err := checkDevice(h, device); err != nil {
		return rep, err
	}
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
		v.recordAttempt(true)
		return rep, app.ErrWrongPassphrase
	case err != nil:
		return rep, fmt.Errorf("pass slot: %w", app.ErrDamaged)
	}
	k, err := newKeys(vmk, device, passphrase, h.version)
	if err != nil {
		vmk.Wipe()
		return rep, err
	}
	if h.fields[hThrottle] != nil {
		v.recordAttempt(false)
	}
	// The rollback check comes before the wrapping secret is looked for:
	// an older copy is named as such, and opens only by choice.
	older := false
	if macEqual(headerMAC(k.header, h.fields), h.mac) {
		if older, err = v.checkRollback(k, h); err != nil {
			k.wipe()
			return rep, err
		}
	}
	if older {
		rep.Warnings = append(rep.Warnings, app.WarnOlderVault)
	}
	skipped, err := v.finishUnlock(k, h)
	if err != nil {
		k.wipe()
		return rep, err
	}
	if wf, ok := decodeWrapField(h.fields[hWrap]); ok && !older {
		// Wrapping secrets a crashed purge left. Not when an older copy
		// was opened by choice: the newer file's secret is not ours to
		// delete.
		v.wrapStoreOf(h).dropOthers(wf.n)
	}
	// A full disk must not lock the practitioner out: only damage stops
	// the unlock here (the upgrade and the counter wait for the next one).
	if err := v.upgradeIntegrity(k); errors.Is(err, app.ErrDamaged) {
		v.lockLocked()
		return rep, err
	} else if err != nil {
		v.log.Error("unlock: format upgrade postponed", "err", err)
	}
	if err := v.raiseCounter(k); errors.Is(err, app.ErrDamaged) {
		v.lockLocked()
		return rep, err
	} else if err != nil {
		v.log.Error("unlock: rollback counter not raised", "err", err)
	}
	if v.opt.KDF == nil && h.kdf.BelowPolicy() {
		if p, err := v.kdfFor(nil); err != nil {
			v.log.Error("kdf upgrade: calibrate", "err", err)
		} else if err := v.rewriteSlot(k, h.id, passphrase, p, nil); err != nil {
			v.log.Error("kdf upgrade: write slot", "err", err)
		} else {
			rep.KDFUpgraded = true
			v.log.Info("kdf upgraded", "kdf", p.String())
		}
	}
	if gap, err := v.auditGapSeen(k); err != nil {
		v.log.Error("unlock: audit head", "err", err)
	} else if gap {
		rep.Warnings = append(rep.Warnings, app.WarnAuditGap)
		v.log.Warn("unlock: the audit log has a gap; run a vault check")
	}
	if v.leftovers > 0 {
		rep.Warnings = append(rep.Warnings, app.WarnLeftovers)
		v.leftovers = 0
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
	if skipped > 0 {
		rep.Warnings = append(rep.Warnings, app.WarnDamagedRecords)
		v.log.Warn("unlock: damaged directory records left out; run a vault check", "count", skipped)
	}
	return rep, nil
}

// finishUnlock verifies the header MAC with the VMK's header subkey and
// loads the directory; on success the vault is unlocked with k. It returns
// the number of directory records left out because they do not open.
func (v *Vault) finishUnlock(k *keys, h *header) (int, error) {
	if !macEqual(headerMAC(k.header, h.fields), h.mac) {
		return 0, fmt.Errorf("header mac: %w", app.ErrDamaged)
	}
	if err := v.loadWrap(k, h); err != nil {
		return 0, err
	}
	dir, skipped, err := v.loadDirectory(k)
	if err != nil {
		return 0, err
	}
	v.k = k
	v.dirMu.Lock()
	v.dir = dir
	v.dirMu.Unlock()
	v.loadPolicy(k)
	return skipped, nil
}

// loadDirectory opens every directory entry. An entry that does not open
// (damaged, or filed under another key) is left out and counted: one bad
// record must not lock the practitioner out of every other patient, nor
// keep Check from running. A damaged file structure still fails.
func (v *Vault) loadDirectory(k *keys) (*app.Directory, int, error) {
	var ps []app.Patient
	skipped := 0
	err := v.view(v.db, func(tx *bbolt.Tx) error {
		b, err := bucket(tx, bDir)
		if err != nil {
			return err
		}
		ps = make([]app.Patient, 0, b.Stats().KeyN)
		return b.ForEach(func(key, val []byte) error {
			var p app.Patient
			if err := openJSON(k.dirA, bDir, key, kindDir, val, &p); err != nil {
				skipped++
				return nil
			}
			ps = append(ps, p)
			return nil
		})
	})
	if err != nil {
		return nil, 0, err
	}
	return app.NewDirectory(ps), skipped, nil
}

// ChangePassphrase rewrites the pass slot (and the counter, the header MAC
// and checksum) only. The header on disk is verified again in the writing
// transaction (updateHeader): an edited header is refused with
// app.ErrDamaged, never re-signed. The old slot, which the old passphrase
// and the device secret still open, is then overwritten in bbolt's free
// pages (rewriteSlot, shredSlots): a read of the file, not a copy.
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
	// writePassSlot re-verifies the header on disk in its transaction
	// before re-signing it.
	if err := v.rewriteSlot(v.k, h.id, new, p, nil); err != nil {
		return err
	}
	v.k.setVerifier(new)
	return nil
}

// Recover resets the passphrase with the clinic's recovery private key: the
// recovery slot gives the VMK, a new pass slot is written, and the vault is
// left unlocked.
//
// The key's fingerprint is compared with the one stored at creation first:
// another clinic's key (or another vault's) fails at once with
// app.ErrInvalid, naming both fingerprints. The header is verified (MAC
// under the recovered VMK) before anything is written, and again inside
// the writing transaction.
//
// If the device secret is unavailable too (keyring wiped, .device file
// gone), a new one is drawn. It is staged where no header points yet (a
// fresh keyring account, or a temporary file), the new slot and the new
// location are committed in one transaction, and only then is the file
// renamed into place and the old secret removed: a failure before the
// commit leaves the vault as it was. (A crash between the commit and the
// rename of a file secret leaves the vault needing another Recover.)
func (v *Vault) Recover(ctx context.Context, privateKey, keyPassphrase, newPassphrase []byte) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if err := v.recover(privateKey, keyPassphrase, newPassphrase); err != nil {
		return fmt.Errorf("vault: recover: %w", err)
	}
	return nil
}

func (v *Vault) recover(privateKey, keyPassphrase, newPassphrase []byte) (err error) {
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
	if err := checkRecoveryKey(h, privateKey); err != nil {
		return err
	}
	if wait := v.throttleWait(h); wait > 0 {
		return &app.WaitError{Kind: app.ErrTooManyAttempts, Wait: wait}
	}
	raw, err := crypto.DecryptWithRecovery(privateKey, keyPassphrase, h.recovery)
	if err != nil {
		v.recordAttempt(true)
		return fmt.Errorf("%v: %w", err, app.ErrWrongPassphrase)
	}
	vmk, err := crypto.KeyFromBytes(raw)
	clear(raw)
	if err != nil {
		return fmt.Errorf("recovery slot: %w", app.ErrDamaged)
	}
	device, err := v.readDevice(h)
	if err == nil {
		if cerr := checkDevice(h, device); cerr != nil {
			clear(device)
			err = cerr
		}
	}
	lost := err != nil
	if lost {
		v.log.Warn("recover: device secret unavailable, a new one is drawn", "err", err)
		if device, err = crypto.Random(crypto.DeviceSecretSize); err != nil {
			vmk.Wipe()
			return err
		}
	}
	k, err := newKeys(vmk, device, newPassphrase, h.version)
	if err != nil {
		clear(device)
		vmk.Wipe()
		return err
	}
	defer func() {
		if err != nil {
			k.wipe()
		}
	}()
	if !macEqual(headerMAC(k.header, h.fields), h.mac) {
		clear(device)
		return fmt.Errorf("header mac: %w", app.ErrDamaged)
	}
	extra := map[string][]byte{}
	var dev *pendingDevice
	if lost {
		r, rerr := crypto.Random(4)
		if rerr != nil {
			clear(device)
			return rerr
		}
		acct := h.account() + "-" + hex.EncodeToString(r)
		dev, err = v.stageDevice(acct, devKeyringAt+acct, device)
		if err != nil {
			clear(device)
			return err
		}
		extra[hDevice] = []byte(dev.where)
	}
	clear(device)
	p, err := v.kdfFor(&h.kdf)
	if err == nil && lost {
		extra[hDevCheck], err = deviceCheck(k.device, h.id)
	}
	if err == nil {
		err = v.writePassSlot(k, h.id, newPassphrase, p, extra)
	}
	if err != nil {
		if dev != nil {
			dev.abort(v)
		}
		return err
	}
	if dev != nil {
		if err := dev.commit(v); err != nil {
			v.log.Error("recover: new slot committed but the device secret file could not be put in place; recover again", "err", err)
			return err
		}
		v.dropOldDevice(h, dev)
	}
	nh, err := v.readHeader()
	if err != nil {
		return err
	}
	if werr := v.loadWrap(k, nh); errors.Is(werr, app.ErrDeviceSecret) && v.restoreWrap(nh, privateKey, keyPassphrase) {
		v.log.Warn("recover: wrapping secret restored from the recovery key")
	} else if errors.Is(werr, app.ErrDeviceSecret) {
		// Only a vault with a copy of the wrapping secret for the
		// recovery key has wrapping epochs when it has a recovery slot
		// (see upgradeIntegrity): a missing copy is damage. Nothing is
		// deleted: the secret may come back with the keyring.
		return fmt.Errorf("wrapping secret unavailable and no recovery copy: %w", app.ErrDamaged)
	}
	if _, err = v.finishUnlock(k, nh); err != nil {
		return err
	}
	if nh.fields[hThrottle] != nil {
		v.recordAttempt(false)
	}
	if err := v.upgradeIntegrity(k); err != nil {
		return err
	}
	if err := v.raiseCounter(k); err != nil {
		return err
	}
	return v.shredSlots(h.fields[hPass])
}

// checkRecoveryKey compares the fingerprint of the offered private key with
// the one stored at creation. A header from before fingerprints were
// stored skips the check (decryption then decides).
func checkRecoveryKey(h *header, privateKey []byte) error {
	fp, err := crypto.PrivateKeyFingerprint(privateKey)
	if err != nil {
		return fmt.Errorf("recovery key: %v: %w", err, app.ErrInvalid)
	}
	if h.fpr != "" && fp != h.fpr {
		return fmt.Errorf("the recovery key %s is not this vault's (%s): %w", fp, h.fpr, app.ErrInvalid)
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
