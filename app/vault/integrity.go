package vault

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.etcd.io/bbolt"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/crypto"
)

// This file holds what defends the vault against an attacker holding the
// file (format ≥ integrityFormat): the audit head and the rollback counter
// bound into the header MAC, the counter's mirror outside the file, the
// device secret's check value, the persisted unlock throttle, and the
// removal of leftover temporary files at open.

// integrityFormat is the first format whose header carries hAudit,
// hCounter and hDevCheck. Format 2 vaults are upgraded at unlock.
const integrityFormat = 3

// Header fields of format ≥ integrityFormat.
const (
	// hAudit is the audit head: last sequence (8) ‖ MAC of the last entry
	// (32, absent while the log is empty) ‖ number of recorded gaps (4).
	// Inside the MAC: cutting or wiping the log without the key is seen at
	// the next append, unlock or check.
	hAudit = "audit"
	// hCounter is the monotonic counter (8, big endian), raised at every
	// unlock, purge and slot rewrite, and mirrored outside the file (the OS
	// keyring, or path+".counter"): an older copy of the file has a lower
	// counter than its mirror.
	hCounter = "ctr"
	// hDevCheck is HMAC(device secret, "carnet/device-check/v1" ‖ id): a
	// damaged or foreign device secret reads as damage, not as a wrong
	// passphrase.
	hDevCheck = "devcheck"
	// hSlotShred is set in the transaction that replaces the pass slot and
	// removed once the old slot is overwritten in the free pages
	// (shredSlots); left set (a crash, a failure) it makes the next Lock,
	// Close or Open compact the file, as hShred does. Outside the MAC and
	// the sum.
	hSlotShred = "shred.slot"
	// hThrottle is the unlock throttle: failures (4) ‖ next allowed attempt
	// (8, Unix nanoseconds). Outside the MAC and the sum: it is written while
	// locked. Whoever can edit the file can reset it, but could as well copy
	// the file; it paces the person at the keyboard, across processes.
	hThrottle = "throttle"
)

// domGaps keys the sealed list of recorded audit gaps (bucket set).
const domGaps = "audit-gaps"

// kindAuditGaps is the record kind of the gap list.
const kindAuditGaps byte = 'g'

// headField is the decoded hAudit.
type headField struct {
	seq  uint64
	mac  []byte
	gaps uint32
}

func (h headField) encode() []byte {
	b := binary.BigEndian.AppendUint64(nil, h.seq)
	b = append(b, h.mac...)
	return binary.BigEndian.AppendUint32(b, h.gaps)
}

func decodeHeadField(b []byte) (headField, bool) {
	if len(b) != 12 && len(b) != 44 {
		return headField{}, false
	}
	h := headField{seq: binary.BigEndian.Uint64(b), gaps: binary.BigEndian.Uint32(b[len(b)-4:])}
	if len(b) == 44 {
		h.mac = bytes.Clone(b[8:40])
	}
	return h, true
}

func counterOf(f map[string][]byte) uint64 {
	if len(f[hCounter]) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(f[hCounter])
}

func encodeCounter(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

// deviceCheck is the check value of a device secret for vault id.
func deviceCheck(device, id []byte) ([]byte, error) {
	k, err := crypto.KeyFromBytes(device)
	if err != nil {
		return nil, fmt.Errorf("device secret: %w", app.ErrDamaged)
	}
	defer k.Wipe()
	return crypto.MAC(k, []byte("carnet/device-check/v1"), id), nil
}

// checkDevice compares the device secret with the header's check value
// (when the header has one).
func checkDevice(h *header, device []byte) error {
	want := h.fields[hDevCheck]
	if want == nil {
		return nil
	}
	got, err := deviceCheck(device, h.id)
	if err != nil {
		return err
	}
	if !macEqual(got, want) {
		return fmt.Errorf("the device secret does not match this vault (damaged or replaced): %w", app.ErrDamaged)
	}
	return nil
}

// txHeader reads the header inside tx and verifies it (checksum, then MAC
// under k).
func txHeader(tx *bbolt.Tx, k *keys) (*bbolt.Bucket, *header, error) {
	b, err := bucket(tx, bHeader)
	if err != nil {
		return nil, nil, err
	}
	fields := map[string][]byte{}
	if err := b.ForEach(func(kk, vv []byte) error { fields[string(kk)] = bytes.Clone(vv); return nil }); err != nil {
		return nil, nil, err
	}
	h, err := decodeHeader(fields)
	if err != nil {
		return nil, nil, err
	}
	if !macEqual(headerMAC(k.header, fields), h.mac) {
		return nil, nil, fmt.Errorf("header mac: %w", app.ErrDamaged)
	}
	return b, h, nil
}

// putHeader applies changes to the verified header h, re-seals it and
// writes the fields whose value changed.
func putHeader(b *bbolt.Bucket, k *keys, h *header, changes map[string][]byte) error {
	old := map[string][]byte{}
	for n, val := range h.fields {
		old[n] = val
	}
	fields := h.fields
	version := h.version
	for n, val := range changes {
		fields[n] = val
	}
	if f := fields[hFormat]; len(f) == 4 {
		version = binary.BigEndian.Uint32(f)
	}
	sealHeader(k, fields, version)
	for n, val := range fields {
		if o, ok := old[n]; ok && bytes.Equal(o, val) {
			continue
		}
		if err := b.Put([]byte(n), val); err != nil {
			return err
		}
	}
	return nil
}

// integrityFields returns the header changes that take a verified format 2
// header to integrityFormat: the format, the audit head as the legacy head
// names it (so that a log cut before the upgrade is still seen), the
// counter and the device check value.
func integrityFields(tx *bbolt.Tx, k *keys, h *header) (map[string][]byte, error) {
	hf := headField{}
	if lh, ok, err := legacyHead(tx, k); err != nil {
		return nil, err
	} else if ok {
		hf.seq, hf.mac = lh.Seq, lh.MAC
	}
	dc, err := deviceCheck(k.device, h.id)
	if err != nil {
		return nil, err
	}
	return map[string][]byte{
		hFormat:   binary.BigEndian.AppendUint32(nil, integrityFormat),
		hAudit:    hf.encode(),
		hCounter:  encodeCounter(counterOf(h.fields)),
		hDevCheck: dc,
	}, nil
}

// --- the counter's mirror ---

// counterMirrorPath is the mirror of a vault whose device secret is a file.
func (v *Vault) counterMirrorPath() string { return v.path + ".counter" }

// counterAccount is the keyring account of the mirror.
func counterAccount(h *header) string { return h.account() + ".counter" }

// readMirror returns the counter last recorded outside the file for this
// vault (0 when none was: first use on this computer). The keyring or file
// that holds the device secret holds the mirror.
func (v *Vault) readMirror(h *header) (uint64, error) {
	var raw []byte
	if _, ok := h.keyringAccount(); ok {
		s, err := v.opt.Keyring.Get(counterAccount(h))
		if err != nil {
			return 0, nil // no entry yet (or no answer: the device secret came from it a moment ago)
		}
		raw = s
	} else {
		s, err := crypto.ReadSecretFile(v.counterMirrorPath())
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return 0, nil
		case err != nil:
			return 0, fmt.Errorf("counter file: %v: %w", err, app.ErrDamaged)
		}
		raw = s
	}
	if len(raw) != crypto.DeviceSecretSize {
		return 0, fmt.Errorf("counter mirror: %w", app.ErrDamaged)
	}
	if !bytes.Equal(raw[8:24], h.id) {
		return 0, nil // another vault's, once at this path
	}
	return binary.BigEndian.Uint64(raw), nil
}

// writeMirror records n outside the file: a 32-byte value (the counter,
// big endian, the vault id, zeros), the shape the keyring entries have.
func (v *Vault) writeMirror(h *header, n uint64) error {
	raw := make([]byte, crypto.DeviceSecretSize)
	binary.BigEndian.PutUint64(raw, n)
	copy(raw[8:24], h.id)
	if _, ok := h.keyringAccount(); ok {
		if err := v.opt.Keyring.Set(counterAccount(h), raw); err == nil {
			return nil
		}
	}
	r, err := crypto.Random(8)
	if err != nil {
		return err
	}
	tmp := fmt.Sprintf("%s.%x.tmp", v.counterMirrorPath(), r)
	if err := crypto.WriteSecretFile(tmp, raw); err != nil {
		return classify(err)
	}
	if err := os.Rename(tmp, v.counterMirrorPath()); err != nil {
		_ = os.Remove(tmp)
		return classify(err)
	}
	syncDir(filepath.Dir(v.path))
	return nil
}

// raiseCounter raises the header's counter above both its value and the
// mirror's, then records it in the mirror. The caller holds v.mu for
// writing and the vault is unlocked with k. A failure to write the mirror
// is logged: the file is the stronger copy.
func (v *Vault) raiseCounter(k *keys) error {
	var h *header
	var next uint64
	err := v.update(v.db, func(tx *bbolt.Tx) error {
		b, hh, err := txHeader(tx, k)
		if err != nil {
			return err
		}
		if hh.version < integrityFormat {
			return nil
		}
		h = hh
		m, err := v.readMirror(hh)
		if err != nil {
			m = 0
		}
		next = max(counterOf(hh.fields), m) + 1
		return putHeader(b, k, hh, map[string][]byte{hCounter: encodeCounter(next)})
	})
	if err != nil || h == nil {
		return err
	}
	if err := v.writeMirror(h, next); err != nil {
		v.log.Error("rollback counter: mirror not written", "err", err)
	}
	return nil
}

// --- the persisted throttle ---

// throttleState is the decoded hThrottle.
type throttleState struct {
	failures int
	next     time.Time
}

func readThrottle(f map[string][]byte) throttleState {
	b := f[hThrottle]
	if len(b) != 12 {
		return throttleState{}
	}
	return throttleState{
		failures: int(binary.BigEndian.Uint32(b)),
		next:     time.Unix(0, int64(binary.BigEndian.Uint64(b[4:]))),
	}
}

// throttleWait returns how long the next attempt must wait (zero: now).
// A wait longer than app.MaxDelay (a clock set back) is cut to it.
func (v *Vault) throttleWait(h *header) time.Duration {
	t := readThrottle(h.fields)
	if t.failures < app.FreeAttempts {
		return 0
	}
	d := t.next.Sub(v.opt.Clock.Now())
	return min(max(d, 0), app.MaxDelay)
}

// recordAttempt stores the outcome of a passphrase attempt: a failure
// raises the count and, from app.FreeAttempts on, the delay (doubling from
// app.FirstDelay to app.MaxDelay, as app.Service does); a success clears
// it. The field is outside the MAC and the sum, so this needs no key.
func (v *Vault) recordAttempt(failed bool) {
	err := v.update(v.db, func(tx *bbolt.Tx) error {
		b, err := bucket(tx, bHeader)
		if err != nil {
			return err
		}
		if !failed {
			if b.Get([]byte(hThrottle)) == nil {
				return nil
			}
			return b.Delete([]byte(hThrottle))
		}
		t := readThrottle(map[string][]byte{hThrottle: b.Get([]byte(hThrottle))})
		t.failures++
		next := v.opt.Clock.Now()
		if t.failures >= app.FreeAttempts {
			d := app.FirstDelay << min(t.failures-app.FreeAttempts, 30)
			if d > app.MaxDelay || d <= 0 {
				d = app.MaxDelay
			}
			next = next.Add(d)
		}
		val := binary.BigEndian.AppendUint32(nil, uint32(min(t.failures, 1<<30)))
		val = binary.BigEndian.AppendUint64(val, uint64(next.UnixNano()))
		return b.Put([]byte(hThrottle), val)
	})
	if err != nil {
		v.log.Error("unlock throttle: not recorded", "err", err)
	}
}

// --- leftovers ---

// removeLeftovers deletes the temporary files an interrupted operation
// may have left beside the vault: a compaction copy (a complete second
// vault), a staged device secret or counter, and, when the creation lock
// is free, a half-built creation. The caller holds the file's lock (v.db
// open read-write). It returns how many it removed.
func (v *Vault) removeLeftovers() int {
	dir, base := filepath.Dir(v.path), filepath.Base(v.path)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	creating := false
	if release, err := lockCreate(v.path, 50*time.Millisecond); err == nil {
		defer release()
		creating = true
	}
	n := 0
	for _, e := range entries {
		name := e.Name()
		rest, ok := strings.CutPrefix(name, base+".")
		if !ok || !e.Type().IsRegular() {
			continue
		}
		stale := strings.HasPrefix(rest, "compact-") ||
			(creating && strings.HasPrefix(rest, "creating-")) ||
			((strings.HasPrefix(rest, "device.") || strings.HasPrefix(rest, "counter.")) && strings.HasSuffix(rest, ".tmp"))
		if !stale {
			continue
		}
		if err := os.Remove(filepath.Join(dir, name)); err == nil {
			n++
		} else {
			v.log.Warn("leftover file not removed", "err", err)
		}
	}
	if n > 0 {
		v.log.Warn("leftover temporary files of an interrupted operation removed", "count", n)
	}
	return n
}

// --- rollback ---

// AcceptOlderOnce lets the next Unlock open a vault file older than the
// last one used on this computer (app.OlderVaultAcceptor): the user chose
// it after an app.ErrOlderVault. That unlock reports app.WarnOlderVault and
// makes this file the reference. The permission ends with the next unlock
// attempt, whatever its outcome.
func (v *Vault) AcceptOlderOnce() {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.acceptOlder = true
}

// checkRollback compares the verified header's counter with its mirror:
// lower means an older copy of the file. It fails with app.ErrOlderVault
// unless AcceptOlderOnce was called (then it reports older = true). The
// caller holds v.mu for writing.
func (v *Vault) checkRollback(k *keys, h *header) (older bool, err error) {
	if h.version < integrityFormat && h.version < sumFormat {
		return false, nil // format 1: pre-release, never upgraded
	}
	// A format 2 file has no counter (0): older than any mirror, i.e. a
	// copy from before this computer upgraded it.
	m, err := v.readMirror(h)
	if err != nil {
		v.log.Error("rollback counter: mirror unreadable", "err", err)
		return false, nil
	}
	c := counterOf(h.fields)
	if m <= c {
		return false, nil
	}
	if !v.acceptOlder {
		return false, fmt.Errorf("counter %d, last used %d: %w", c, m, app.ErrOlderVault)
	}
	v.log.Warn("an older copy of the vault was opened by the user's choice", "counter", c, "mirror", m)
	return true, nil
}

// upgradeIntegrity takes a verified format 2 vault to integrityFormat:
// the new header fields and the first wrapping epoch (every data key
// re-wrapped), in one transaction. A format 2 vault with a recovery slot
// did not keep the recovery public key, so no copy of a wrapping secret
// could be made for it: such a vault keeps its data keys wrapped by the
// VMK alone (no epochs; a purged patient then reopens from an older copy
// opened by choice), rather than losing its cached data with the keyring.
func (v *Vault) upgradeIntegrity(k *keys) error {
	h, err := v.readHeader()
	if err != nil || h.version != sumFormat {
		return err
	}
	if h.fields[hRecovery] != nil && h.fields[hRecoveryPub] == nil {
		return v.update(v.db, func(tx *bbolt.Tx) error {
			b, h, err := txHeader(tx, k)
			if err != nil || h.version != sumFormat {
				return err
			}
			changes, err := integrityFields(tx, k, h)
			if err != nil {
				return err
			}
			return putHeader(b, k, h, changes)
		})
	}
	r, err := v.beginRotation(k, h)
	if err != nil {
		return err
	}
	err = v.update(v.db, func(tx *bbolt.Tx) error {
		b, h, err := txHeader(tx, k)
		if err != nil {
			return err
		}
		if h.version != sumFormat {
			return errors.New("header changed during the upgrade")
		}
		changes, err := integrityFields(tx, k, h)
		if err != nil {
			return err
		}
		return r.rewrap(tx, k, b, h, changes)
	})
	if err != nil {
		r.abort()
		return err
	}
	r.commit(k)
	v.log.Info("vault format upgraded", "format", integrityFormat)
	return nil
}

// auditGapSeen reports whether the audit log has a recorded gap or a tail
// that does not match its head.
func (v *Vault) auditGapSeen(k *keys) (bool, error) {
	gap := false
	err := v.view(v.db, func(tx *bbolt.Tx) error {
		b, err := bucket(tx, bHeader)
		if err != nil {
			return err
		}
		fields := map[string][]byte{}
		if err := b.ForEach(func(kk, vv []byte) error { fields[string(kk)] = bytes.Clone(vv); return nil }); err != nil {
			return err
		}
		h, err := decodeHeader(fields)
		if err != nil {
			return err
		}
		gap, err = auditState(tx, k, h)
		return err
	})
	return gap, err
}
