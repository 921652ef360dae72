package vault

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"go.etcd.io/bbolt"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/crypto"
)

// The patient data keys are wrapped under a key that needs, besides the
// VMK, a wrapping secret kept outside the file (beside the device secret:
// the OS keyring, or a 0600 file path+".wrap.N"). Every purge draws a new
// wrapping secret, re-wraps the remaining data keys under it and deletes
// the old one: an older copy of the file (a backup, a disk image), opened
// with today's passphrase and device, no longer unwraps the purged
// patient's data key — its own wrapping secret is gone.

// hWrap is the wrapping epoch: N (8, big endian) ‖ HMAC(secret,
// "carnet/wrap-check/v1" ‖ id ‖ N) (32). Inside the MAC. Format ≥
// integrityFormat.
const hWrap = "wrap"

// hWrapRecovery is the current wrapping secret encrypted to the clinic's
// recovery key (hRecoveryPub), so that Recover after a lost keyring opens
// the cached data too. The clinic's recovery key opens any copy of the
// file by design; the practitioner's passphrase and device do not open a
// purged patient's data in an older copy.
const hWrapRecovery = "wrap.recovery"

// hRecoveryPub is the clinic's recovery public key (armored), kept from
// Create so that every new wrapping secret is encrypted to it.
const hRecoveryPub = "recovery.pub"

type wrapField struct {
	n     uint64
	check []byte
}

func decodeWrapField(b []byte) (wrapField, bool) {
	if len(b) != 40 {
		return wrapField{}, false
	}
	return wrapField{n: binary.BigEndian.Uint64(b), check: b[8:]}, true
}

func wrapCheck(secret, id []byte, n uint64) ([]byte, error) {
	k, err := crypto.KeyFromBytes(secret)
	if err != nil {
		return nil, fmt.Errorf("wrapping secret: %w", app.ErrDamaged)
	}
	defer k.Wipe()
	return crypto.MAC(k, []byte("carnet/wrap-check/v1"), id, binary.BigEndian.AppendUint64(nil, n)), nil
}

func encodeWrapField(secret, id []byte, n uint64) ([]byte, error) {
	c, err := wrapCheck(secret, id, n)
	if err != nil {
		return nil, err
	}
	return append(binary.BigEndian.AppendUint64(nil, n), c...), nil
}

// epochWrapKey is the wrap key of an epoch: HMAC(VMK wrap subkey,
// "carnet/wrap-epoch/v1" ‖ secret).
func epochWrapKey(base *crypto.Key, secret []byte) (*crypto.Key, error) {
	raw := crypto.MAC(base, []byte("carnet/wrap-epoch/v1"), secret)
	defer clear(raw)
	return crypto.KeyFromBytes(raw)
}

// wrapStore says where the wrapping secrets of a vault live: the keyring
// (account = vault id ".wrap." N) when the device secret is there, else
// files beside the vault.
type wrapStore struct {
	v       *Vault
	id      []byte
	keyring bool
}

func (v *Vault) wrapStoreOf(h *header) wrapStore {
	_, ok := h.keyringAccount()
	return wrapStore{v: v, id: h.id, keyring: ok}
}

func (s wrapStore) account(n uint64) string {
	return fmt.Sprintf("%x.wrap.%d", s.id, n)
}

func (s wrapStore) file(n uint64) string { return s.v.path + ".wrap." + strconv.FormatUint(n, 10) }

func (s wrapStore) get(n uint64) ([]byte, error) {
	if s.keyring {
		b, err := s.v.opt.Keyring.Get(s.account(n))
		if err != nil {
			return nil, fmt.Errorf("wrapping secret %d not in the keyring (%v): %w", n, err, app.ErrDeviceSecret)
		}
		return b, nil
	}
	b, err := crypto.ReadSecretFile(s.file(n))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("wrapping secret file %d missing: %w", n, app.ErrDeviceSecret)
	case errors.Is(err, crypto.ErrInsecureFile):
		return nil, fmt.Errorf("wrapping secret file: %v: %w", err, app.ErrInsecureFile)
	case err != nil:
		return nil, fmt.Errorf("wrapping secret file: %v: %w", err, app.ErrDamaged)
	}
	return b, nil
}

func (s wrapStore) put(n uint64, secret []byte) error {
	if s.keyring {
		if err := s.v.opt.Keyring.Set(s.account(n), secret); err != nil {
			return fmt.Errorf("wrapping secret: keyring: %v: %w", err, app.ErrDeviceSecret)
		}
		return nil
	}
	_ = os.Remove(s.file(n)) // a leftover of a crashed purge of the same epoch
	if err := crypto.WriteSecretFile(s.file(n), secret); err != nil {
		return classify(err)
	}
	syncDir(filepath.Dir(s.v.path))
	return nil
}

func (s wrapStore) drop(n uint64) {
	if s.keyring {
		_ = s.v.opt.Keyring.Delete(s.account(n))
		return
	}
	_ = os.Remove(s.file(n))
}

// dropOthers removes every wrapping secret but epoch n that a crash may
// have left: files by name; in the keyring, the neighbours n−1 and n+1.
func (s wrapStore) dropOthers(n uint64) {
	if s.keyring {
		if n > 1 {
			s.drop(n - 1)
		}
		s.drop(n + 1)
		return
	}
	dir, base := filepath.Dir(s.v.path), filepath.Base(s.v.path)+".wrap."
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), base)
		if !ok {
			continue
		}
		if m, err := strconv.ParseUint(rest, 10, 64); err == nil && m != n {
			_ = os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// loadWrap sets k.wrap from the header's wrapping epoch: the VMK's wrap
// subkey alone when there is none (formats < integrityFormat), else with
// the epoch's secret, checked against the header. A missing secret is
// app.ErrDeviceSecret: a purge since this copy was made rotated it away,
// or the keyring lost it (Recover restores it from the copy encrypted to
// the recovery key).
func (v *Vault) loadWrap(k *keys, h *header) error {
	f, ok := h.fields[hWrap]
	if !ok {
		k.setWrap(nil)
		return nil
	}
	wf, ok := decodeWrapField(f)
	if !ok {
		return fmt.Errorf("header wrap field: %w", app.ErrDamaged)
	}
	secret, err := v.wrapStoreOf(h).get(wf.n)
	if err != nil {
		return fmt.Errorf("the patient keys of this copy cannot be unwrapped here (a purge since it was made, or a lost keyring): %w", err)
	}
	defer clear(secret)
	c, err := wrapCheck(secret, h.id, wf.n)
	if err != nil {
		return err
	}
	if !macEqual(c, wf.check) {
		return fmt.Errorf("wrapping secret %d does not match this vault: %w", wf.n, app.ErrDamaged)
	}
	key, err := epochWrapKey(k.wrapBase, secret)
	if err != nil {
		return err
	}
	k.setWrap(key)
	return nil
}

// wrapRotation is a new wrapping epoch, stored outside the file but not
// yet named by the header.
type wrapRotation struct {
	store    wrapStore
	old      uint64 // 0: none
	n        uint64
	field    []byte
	recovery []byte // the secret encrypted to the recovery key, or nil
	key      *crypto.Key
}

// beginRotation draws and stores the secret of the next epoch after the
// header's.
func (v *Vault) beginRotation(k *keys, h *header) (*wrapRotation, error) {
	r := &wrapRotation{store: v.wrapStoreOf(h), n: 1}
	if wf, ok := decodeWrapField(h.fields[hWrap]); ok {
		r.old, r.n = wf.n, wf.n+1
	}
	secret, err := crypto.Random(crypto.DeviceSecretSize)
	if err != nil {
		return nil, err
	}
	defer clear(secret)
	if r.field, err = encodeWrapField(secret, h.id, r.n); err != nil {
		return nil, err
	}
	if pub := h.fields[hRecoveryPub]; pub != nil {
		if r.recovery, err = crypto.EncryptToRecovery(pub, secret); err != nil {
			return nil, fmt.Errorf("wrapping secret to the recovery key: %v: %w", err, app.ErrInvalid)
		}
	}
	if r.key, err = epochWrapKey(k.wrapBase, secret); err != nil {
		return nil, err
	}
	if err := r.store.put(r.n, secret); err != nil {
		r.key.Wipe()
		return nil, err
	}
	return r, nil
}

// rewrap re-wraps, inside tx, every data key of the keys bucket from k's
// current wrap key to the rotation's, and names the new epoch in the
// header (b, h verified by txHeader; other changes may ride along).
func (r *wrapRotation) rewrap(tx *bbolt.Tx, k *keys, b *bbolt.Bucket, h *header, changes map[string][]byte) error {
	kb, err := bucket(tx, bKeys)
	if err != nil {
		return err
	}
	type kv struct{ k, v []byte }
	var out []kv
	cur := k.wrapKey()
	err = kb.ForEach(func(kk, w []byte) error {
		key, err := crypto.Unwrap(cur, w, recordAAD(bKeys, kk, kindKey))
		if err != nil {
			return damaged(bKeys, kk)
		}
		nw, err := crypto.Wrap(r.key, key, recordAAD(bKeys, kk, kindKey))
		key.Wipe()
		if err != nil {
			return err
		}
		out = append(out, kv{append([]byte(nil), kk...), nw})
		return nil
	})
	if err != nil {
		return err
	}
	for _, e := range out {
		if err := kb.Put(e.k, e.v); err != nil {
			return err
		}
	}
	if changes == nil {
		changes = map[string][]byte{}
	}
	changes[hWrap] = r.field
	if r.recovery != nil {
		changes[hWrapRecovery] = r.recovery
	}
	return putHeader(b, k, h, changes)
}

// commit makes the new epoch k's and deletes the old secret (after the
// transaction committed).
func (r *wrapRotation) commit(k *keys) {
	k.setWrap(r.key)
	if r.old != 0 {
		r.store.drop(r.old)
	}
}

// abort deletes the new secret (the transaction failed).
func (r *wrapRotation) abort() {
	r.key.Wipe()
	r.store.drop(r.n)
}

// restoreWrap puts back, from the header's copy encrypted to the recovery
// key, a wrapping secret the keyring lost (Recover). It reports whether it
// did.
func (v *Vault) restoreWrap(h *header, privateKey, keyPassphrase []byte) bool {
	wf, ok := decodeWrapField(h.fields[hWrap])
	blob := h.fields[hWrapRecovery]
	if !ok || blob == nil {
		return false
	}
	secret, err := crypto.DecryptWithRecovery(privateKey, keyPassphrase, blob)
	if err != nil {
		return false
	}
	defer clear(secret)
	if c, err := wrapCheck(secret, h.id, wf.n); err != nil || !macEqual(c, wf.check) {
		return false
	}
	return v.wrapStoreOf(h).put(wf.n, secret) == nil
}
