package vault

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/crypto"
)

// The tests of this file are the findings of a hostile review with the
// file in hand (issue 15): each one failed on the code before the fix.

// auditFixture makes a vault with n audit entries, closed.
func auditFixture(t *testing.T, opt Options, n int) string {
	t.Helper()
	v, path := newTestVault(t, opt)
	for i := 0; i < n; i++ {
		mustOK(t, v.Record(ctx, app.AuditEvent{Action: "x", Result: "ok"}))
	}
	checkOK(t, v)
	mustOK(t, v.Close())
	return path
}

// gapProblems returns the check problems about the audit log.
func gapProblems(rep app.CheckReport) []string {
	var out []string
	for _, p := range rep.Problems {
		if strings.HasPrefix(p, "audit:") {
			out = append(out, p)
		}
	}
	return out
}

// deleteLegacyHead removes the head sealed in the set bucket: without the
// key it cannot be rewritten, only removed.
func deleteLegacyHead(t *testing.T, tx *bbolt.Tx) {
	t.Helper()
	set := tx.Bucket([]byte(bSet))
	var gone [][]byte
	// The head is the one set record besides the settings; removing every
	// set record also removes the settings, which the vault tolerates.
	mustOK(t, set.ForEach(func(k, _ []byte) error { gone = append(gone, bytes.Clone(k)); return nil }))
	for _, k := range gone {
		mustOK(t, set.Delete(k))
	}
}

// TestAuditGapTailDropAndWipe: the audit log's tail is cut, or the whole
// log wiped, together with its sealed head, by someone without any key.
// The unlock (which appends "vault.unlock" right after, as app.Service
// does) must not seal over it: the unlock warns, Check reports the gap,
// and it is still reported after more appends and a reopen.
func TestAuditGapTailDropAndWipe(t *testing.T) {
	for name, cut := range map[string]func(t *testing.T, tx *bbolt.Tx){
		"tail drop": func(t *testing.T, tx *bbolt.Tx) {
			b := tx.Bucket([]byte(bAudit))
			for s := uint64(8); s <= 10; s++ {
				mustOK(t, b.Delete(seqKey(s)))
			}
			deleteLegacyHead(t, tx)
		},
		"tail drop, head kept": func(t *testing.T, tx *bbolt.Tx) {
			b := tx.Bucket([]byte(bAudit))
			mustOK(t, b.Delete(seqKey(10)))
		},
		"wipe": func(t *testing.T, tx *bbolt.Tx) {
			mustOK(t, tx.DeleteBucket([]byte(bAudit)))
			_, err := tx.CreateBucket([]byte(bAudit))
			mustOK(t, err)
			deleteLegacyHead(t, tx)
		},
	} {
		t.Run(name, func(t *testing.T) {
			opt := testOptions()
			path := auditFixture(t, opt, 10)
			rawUpdate(t, path, func(tx *bbolt.Tx) error { cut(t, tx); return nil })
			v, err := Open(path, opt)
			mustOK(t, err)
			defer v.Close()
			rep, err := v.Unlock(ctx, append([]byte(nil), testPass...))
			mustOK(t, err)
			if !hasWarning(rep.Warnings, app.WarnAuditGap) {
				t.Errorf("unlock warnings %v: no audit gap", rep.Warnings)
			}
			// app.Service appends at once after every unlock.
			mustOK(t, v.Record(ctx, app.AuditEvent{Action: "vault.unlock", Result: "ok"}))
			crep, err := v.Check(ctx)
			mustOK(t, err)
			if len(gapProblems(crep)) == 0 {
				t.Fatalf("gap sealed over: check says %v", crep.Problems)
			}
			evs, err := v.Audit(ctx, app.AuditFilter{Action: "audit.gap"})
			mustOK(t, err)
			if len(evs) != 1 {
				t.Fatalf("%d audit.gap events", len(evs))
			}
			// Persistent: more appends and a reopen do not clear it.
			for i := 0; i < 3; i++ {
				mustOK(t, v.Record(ctx, app.AuditEvent{Action: "y", Result: "ok"}))
			}
			v = reopen(t, v, path, opt, testPass)
			crep, err = v.Check(ctx)
			mustOK(t, err)
			gp := gapProblems(crep)
			if len(gp) != 1 || !strings.Contains(gp[0], "gap recorded") {
				t.Fatalf("after reopen: %v", crep.Problems)
			}
			rep, err = v.Unlock(ctx, append([]byte(nil), testPass...))
			mustOK(t, err)
			if !hasWarning(rep.Warnings, app.WarnAuditGap) {
				t.Errorf("the gap is not shown at the next unlock: %v", rep.Warnings)
			}
		})
	}
}

// TestAuditGapRecordRemoved: deleting the sealed gap record does not erase
// the gap: the header (MAC) counts the gaps.
func TestAuditGapRecordRemoved(t *testing.T) {
	opt := testOptions()
	path := auditFixture(t, opt, 5)
	rawUpdate(t, path, func(tx *bbolt.Tx) error { return tx.Bucket([]byte(bAudit)).Delete(seqKey(5)) })
	v := reopen(t, nil, path, opt, testPass)
	mustOK(t, v.Record(ctx, app.AuditEvent{Action: "vault.unlock", Result: "ok"}))
	gk := v.k.blinder().Blind(domGaps)
	mustOK(t, v.Close())
	rawUpdate(t, path, func(tx *bbolt.Tx) error { return tx.Bucket([]byte(bSet)).Delete(gk) })
	v = reopen(t, nil, path, opt, testPass)
	crep, err := v.Check(ctx)
	mustOK(t, err)
	found := false
	for _, p := range crep.Problems {
		found = found || strings.Contains(p, "gap records removed")
	}
	if !found {
		t.Fatalf("removed gap record not seen: %v", crep.Problems)
	}
}

// TestAuditGapHeadFieldRemoved: the header's audit head cannot be removed
// either: the header MAC fails (damage), nothing is appended.
func TestAuditGapHeadFieldRemoved(t *testing.T) {
	opt := testOptions()
	path := auditFixture(t, opt, 3)
	rawUpdate(t, path, func(tx *bbolt.Tx) error {
		return putWithSum(tx.Bucket([]byte(bHeader)), hAudit, headField{}.encode())
	})
	v, err := Open(path, opt)
	mustOK(t, err)
	defer v.Close()
	_, err = v.Unlock(ctx, append([]byte(nil), testPass...))
	mustKind(t, err, app.ErrDamaged)
}

// passSlots returns the wrapped-VMK part of the pass slot of a closed file.
func passSlot(t *testing.T, path string) []byte {
	t.Helper()
	for _, r := range rawDump(t, path) {
		if r.bucket == bHeader && string(r.key) == hPass {
			_, w, err := decodeSlot(r.val)
			mustOK(t, err)
			return w
		}
	}
	t.Fatal("no pass slot")
	return nil
}

// staleSlots counts the old slots still somewhere in the file's bytes.
func staleSlots(t *testing.T, path string, old [][]byte) int {
	t.Helper()
	raw, err := os.ReadFile(path)
	mustOK(t, err)
	n := 0
	for _, s := range old {
		if bytes.Contains(raw, s) {
			n++
		}
	}
	return n
}

// TestStaleSlotAfterPassphraseChange: after three passphrase changes, no
// earlier slot is left in bbolt's free pages, and no earlier passphrase
// opens the vault (with the same device secret).
func TestStaleSlotAfterPassphraseChange(t *testing.T) {
	opt := testOptions()
	v, path := newTestVault(t, opt)
	mustOK(t, v.Write(ctx, patientBatch(synthPatient(1), 2, 3000)))
	mustOK(t, v.Close())
	passes := [][]byte{testPass, otherPass, []byte("a third long passphrase 7"), []byte("a fourth long passphrase 9")}
	var old [][]byte
	for i := 1; i < len(passes); i++ {
		old = append(old, passSlot(t, path))
		v = reopen(t, nil, path, opt, passes[i-1])
		mustOK(t, v.ChangePassphrase(ctx, append([]byte(nil), passes[i-1]...), append([]byte(nil), passes[i]...)))
		if n := staleSlots(t, path, old); n != 0 {
			t.Fatalf("change %d: %d old slots in the file", i, n)
		}
		mustOK(t, v.Close())
	}
	for _, p := range passes[:len(passes)-1] {
		v, err := Open(path, opt)
		mustOK(t, err)
		_, err = v.Unlock(ctx, append([]byte(nil), p...))
		mustKind(t, err, app.ErrWrongPassphrase)
		mustOK(t, v.Close())
		forgetThrottle(t, path)
	}
	reopen(t, nil, path, opt, passes[len(passes)-1])
}

// forgetThrottle clears the persisted throttle, for tests that try many
// passphrases on purpose.
func forgetThrottle(t *testing.T, path string) {
	t.Helper()
	rawUpdate(t, path, func(tx *bbolt.Tx) error { return tx.Bucket([]byte(bHeader)).Delete([]byte(hThrottle)) })
}

// TestStaleSlotAfterRecovery: Recover (device secret kept, and device
// secret lost) leaves no earlier slot in the file; the old passphrase is
// refused.
func TestStaleSlotAfterRecovery(t *testing.T) {
	priv, pub, err := crypto.GenerateRecoveryKey("Clinique", "it@example.test", []byte("kp"))
	mustOK(t, err)
	for _, lose := range []bool{false, true} {
		t.Run(map[bool]string{false: "device kept", true: "device lost"}[lose], func(t *testing.T) {
			opt := testOptions()
			path := filepath.Join(t.TempDir(), "carnet.vault")
			v, err := Open(path, opt)
			mustOK(t, err)
			mustOK(t, v.Create(ctx, append([]byte(nil), testPass...), app.CreateOptions{RecoveryKey: []byte(pub)}))
			mustOK(t, v.Write(ctx, patientBatch(synthPatient(2), 2, 3000)))
			mustOK(t, v.ChangePassphrase(ctx, append([]byte(nil), testPass...), append([]byte(nil), otherPass...)))
			mustOK(t, v.Close())
			old := [][]byte{passSlot(t, path)}
			if lose {
				kr := opt.Keyring.(*memKeyring)
				kr.mu.Lock()
				for a := range kr.m {
					if !strings.HasSuffix(a, ".counter") {
						delete(kr.m, a)
					}
				}
				kr.mu.Unlock()
			}
			v = reopen(t, nil, path, opt, nil)
			mustOK(t, v.Recover(ctx, []byte(priv), []byte("kp"), []byte("recovered long passphrase 1")))
			checkOK(t, v)
			mustOK(t, v.Close())
			if n := staleSlots(t, path, old); n != 0 {
				t.Fatalf("%d old slots in the file after recovery", n)
			}
			v, err = Open(path, opt)
			mustOK(t, err)
			_, err = v.Unlock(ctx, append([]byte(nil), otherPass...))
			mustKind(t, err, app.ErrWrongPassphrase)
			mustOK(t, v.Close())
			reopen(t, nil, path, opt, []byte("recovered long passphrase 1"))
		})
	}
}

// TestStaleSlotAfterKDFUpgrade: the silent KDF upgrade at unlock leaves
// no slot with the weak parameters in the file.
func TestStaleSlotAfterKDFUpgrade(t *testing.T) {
	if testing.Short() {
		t.Skip("calibrates Argon2id at policy")
	}
	opt := testOptions()
	v, path := newTestVault(t, opt)
	mustOK(t, v.Write(ctx, patientBatch(synthPatient(3), 1, 100)))
	mustOK(t, v.Close())
	old := [][]byte{passSlot(t, path)}
	normal := opt
	normal.KDF = nil
	v = reopen(t, nil, path, normal, nil)
	rep, err := v.Unlock(ctx, append([]byte(nil), testPass...))
	mustOK(t, err)
	if !rep.KDFUpgraded {
		t.Fatal("not upgraded")
	}
	mustOK(t, v.Close())
	if n := staleSlots(t, path, old); n != 0 {
		t.Fatalf("%d weak slots left in the file", n)
	}
}

// TestDeviceSecretFlippedIsDamage: a device secret file with one hex digit
// changed (still well-formed) reads as damage, not as a wrong passphrase,
// and does not count against the throttle.
func TestDeviceSecretFlippedIsDamage(t *testing.T) {
	opt := testOptions()
	opt.Keyring = crypto.NoKeyring{}
	v, path := newTestVault(t, opt)
	mustOK(t, v.Close())
	raw, err := os.ReadFile(path + ".device")
	mustOK(t, err)
	orig := bytes.Clone(raw)
	if raw[0] == '0' {
		raw[0] = '1'
	} else {
		raw[0] = '0'
	}
	mustOK(t, os.WriteFile(path+".device", raw, 0o600))
	for i := 0; i < app.FreeAttempts+2; i++ {
		v, err := Open(path, opt)
		mustOK(t, err)
		_, err = v.Unlock(ctx, append([]byte(nil), testPass...))
		mustOK(t, v.Close())
		if !errors.Is(err, app.ErrDamaged) || errors.Is(err, app.ErrWrongPassphrase) {
			t.Fatalf("attempt %d: %v, want damage", i, err)
		}
	}
	mustOK(t, os.WriteFile(path+".device", orig, 0o600))
	reopen(t, nil, path, opt, testPass) // not throttled
}

// TestFormat2Upgrade: a format 2 vault (no audit head in the header, no
// counter, no device check, data keys wrapped by the VMK's subkey alone)
// is upgraded at its first unlock: its data stays readable, a tail cut
// before the upgrade is still seen, and the pre-upgrade file put back
// afterwards is an older copy.
func TestFormat2Upgrade(t *testing.T) {
	opt := testOptions()
	v, path := newTestVault(t, opt)
	format2Fixture(t, v, path, opt)
}

// format2Fixture writes a patient and audit entries, closes v and turns
// its file into a format 2 one (with one audit entry cut), then checks the
// upgrade.
func format2Fixture(t *testing.T, v *Vault, path string, opt Options) {
	t.Helper()
	p := synthPatient(30)
	b := patientBatch(p, 2, 1200)
	mustOK(t, v.Write(ctx, b))
	for i := 0; i < 4; i++ {
		mustOK(t, v.Record(ctx, app.AuditEvent{Action: "x", Result: "ok"}))
	}
	hk, epoch, base := *v.k.header, *v.k.wrapKey(), *v.k.wrapBase
	mustOK(t, v.Close())
	forgetMirror(t, opt, path)
	rawUpdate(t, path, func(tx *bbolt.Tx) error {
		kb := tx.Bucket([]byte(bKeys))
		var ks, ws [][]byte
		_ = kb.ForEach(func(k, w []byte) error { ks, ws = append(ks, bytes.Clone(k)), append(ws, bytes.Clone(w)); return nil })
		for i, k := range ks {
			key, err := crypto.Unwrap(&epoch, ws[i], recordAAD(bKeys, k, kindKey))
			mustOK(t, err)
			w, err := crypto.Wrap(&base, key, recordAAD(bKeys, k, kindKey))
			mustOK(t, err)
			mustOK(t, kb.Put(k, w))
		}
		mustOK(t, tx.Bucket([]byte(bAudit)).Delete(seqKey(4))) // a tail cut before the upgrade
		hb := tx.Bucket([]byte(bHeader))
		for _, f := range []string{hAudit, hCounter, hDevCheck, hWrap, hWrapRecovery, hRecoveryPub} {
			mustOK(t, hb.Delete([]byte(f)))
		}
		mustOK(t, hb.Put([]byte(hFormat), binary.BigEndian.AppendUint32(nil, sumFormat)))
		fields := map[string][]byte{}
		_ = hb.ForEach(func(k, v []byte) error { fields[string(k)] = bytes.Clone(v); return nil })
		fields[hMAC] = headerMAC(&hk, fields)
		fields[hSum] = headerSum(fields)
		mustOK(t, hb.Put([]byte(hMAC), fields[hMAC]))
		return hb.Put([]byte(hSum), fields[hSum])
	})
	v2file, err := os.ReadFile(path)
	mustOK(t, err)
	v = reopen(t, nil, path, opt, nil)
	rep, err := v.Unlock(ctx, append([]byte(nil), testPass...))
	mustOK(t, err)
	if !hasWarning(rep.Warnings, app.WarnAuditGap) {
		t.Errorf("the tail cut before the upgrade is not seen: %v", rep.Warnings)
	}
	mustOK(t, v.Record(ctx, app.AuditEvent{Action: "vault.unlock", Result: "ok"}))
	crep, err := v.Check(ctx)
	mustOK(t, err)
	if gp := gapProblems(crep); len(gp) != 1 {
		t.Fatalf("check: %v", crep.Problems)
	}
	h, err := v.readHeader()
	mustOK(t, err)
	// A format 2 vault with a recovery slot has no recovery public key:
	// it keeps the VMK's wrap (no epoch it could lose with the keyring).
	withEpochs := h.fields[hRecovery] == nil
	if h.version != FormatVersion || (h.fields[hWrap] != nil) != withEpochs || h.fields[hAudit] == nil || h.fields[hDevCheck] == nil {
		t.Fatalf("not upgraded: version %d, wrap %x", h.version, h.fields[hWrap])
	}
	got, err := v.Document(ctx, p.ID, b.Documents[1].ID)
	mustOK(t, err)
	if !bytes.Equal(got, b.Documents[1].Bytes) {
		t.Fatal("document changed by the upgrade")
	}
	mustOK(t, v.Close())
	// The format 2 file put back: older than the upgraded one.
	mustOK(t, os.WriteFile(path, v2file, 0o600))
	v, err = Open(path, opt)
	mustOK(t, err)
	defer v.Close()
	_, err = v.Unlock(ctx, append([]byte(nil), testPass...))
	mustKind(t, err, app.ErrOlderVault)
}

// TestIntegrityFieldsHostile: malformed audit head, wrap, counter and
// throttle fields decode as absent or fail cleanly, never panic.
func TestIntegrityFieldsHostile(t *testing.T) {
	for _, b := range [][]byte{nil, {}, {1}, make([]byte, 11), make([]byte, 13), make([]byte, 43), make([]byte, 45), bytes.Repeat([]byte{0xff}, 44)} {
		if _, ok := decodeHeadField(b); ok != (len(b) == 12 || len(b) == 44) {
			t.Errorf("head field of %d bytes: ok %v", len(b), ok)
		}
		if _, ok := decodeWrapField(b); ok != (len(b) == 40) {
			t.Errorf("wrap field of %d bytes: ok %v", len(b), ok)
		}
		_ = counterOf(map[string][]byte{hCounter: b})
		th := readThrottle(map[string][]byte{hThrottle: b})
		if len(b) != 12 && th.failures != 0 {
			t.Errorf("throttle of %d bytes: %+v", len(b), th)
		}
	}
	// A huge failure count or a far-future time cannot make the wait
	// longer than app.MaxDelay.
	v := &Vault{opt: Options{Clock: fixedClock{time.Unix(0, 0)}}}
	f := map[string][]byte{hThrottle: append(binary.BigEndian.AppendUint32(nil, 1<<31), bytes.Repeat([]byte{0x7f}, 8)...)}
	if w := v.throttleWait(&header{fields: f}); w != app.MaxDelay {
		t.Errorf("wait %v", w)
	}
}

// FuzzIntegrityFields feeds arbitrary bytes to the decoders of the
// integrity fields.
func FuzzIntegrityFields(f *testing.F) {
	f.Add(headField{seq: 3, mac: make([]byte, 32), gaps: 1}.encode())
	f.Add(make([]byte, 40))
	f.Add(make([]byte, 12))
	f.Fuzz(func(t *testing.T, b []byte) {
		if h, ok := decodeHeadField(b); ok && !bytes.Equal(h.encode(), b) {
			t.Fatalf("head field does not round-trip: %x", b)
		}
		_, _ = decodeWrapField(b)
		_ = readThrottle(map[string][]byte{hThrottle: b})
		v := &Vault{opt: Options{Clock: fixedClock{time.Unix(1, 0)}}}
		if w := v.throttleWait(&header{fields: map[string][]byte{hThrottle: b}}); w < 0 || w > app.MaxDelay {
			t.Fatalf("wait %v", w)
		}
	})
}

// TestStaleSlotOverwrittenInPlace: the old slot is overwritten where bbolt
// freed it (no copy of the whole file: the file is the same one), the
// slot-shred flag is cleared, and the vault checks clean.
func TestStaleSlotOverwrittenInPlace(t *testing.T) {
	opt := testOptions()
	v, path := newTestVault(t, opt)
	mustOK(t, v.Write(ctx, patientBatch(synthPatient(40), 3, 3000)))
	before, err := os.Stat(path)
	mustOK(t, err)
	h, err := v.readHeader()
	mustOK(t, err)
	old := h.fields[hPass]
	mustOK(t, v.ChangePassphrase(ctx, append([]byte(nil), testPass...), append([]byte(nil), otherPass...)))
	after, err := os.Stat(path)
	mustOK(t, err)
	if !os.SameFile(before, after) {
		t.Error("the file was compacted (replaced) instead of overwritten in place")
	}
	raw, err := os.ReadFile(path)
	mustOK(t, err)
	if bytes.Contains(raw, old) {
		t.Fatal("old slot still in the file")
	}
	if v.shredPending() {
		t.Fatal("slot-shred flag left set")
	}
	checkOK(t, v)
}

// TestStaleSlotCrashBeforeOverwrite: the process dies between the slot
// rewrite and the overwrite (here: the rewrite alone, white box); the flag
// set in the rewrite's transaction makes the next open compact the file,
// so the old slot does not survive.
func TestStaleSlotCrashBeforeOverwrite(t *testing.T) {
	opt := testOptions()
	v, path := newTestVault(t, opt)
	mustOK(t, v.Write(ctx, patientBatch(synthPatient(41), 2, 3000)))
	h, err := v.readHeader()
	mustOK(t, err)
	old := h.fields[hPass]
	p := *lightKDF()
	p.Salt = bytes.Repeat([]byte{9}, crypto.SaltSize)
	v.mu.Lock()
	mustOK(t, v.writePassSlot(v.k, h.id, otherPass, p, nil))
	v.mu.Unlock()
	// "Crash": copy the file as it is now, and open the copy.
	raw, err := os.ReadFile(path)
	mustOK(t, err)
	if !bytes.Contains(raw, old) {
		t.Skip("bbolt reused the freed page already; nothing to test")
	}
	cp := filepath.Join(t.TempDir(), "copy.vault")
	mustOK(t, os.WriteFile(cp, raw, 0o600))
	v2, err := Open(cp, opt)
	mustOK(t, err)
	defer v2.Close()
	raw, err = os.ReadFile(cp)
	mustOK(t, err)
	if bytes.Contains(raw, old) {
		t.Fatal("old slot survives the next open")
	}
	_, err = v2.Unlock(ctx, append([]byte(nil), otherPass...))
	mustOK(t, err)
}

// TestFormat2UpgradeWithRecoverySlot: the same upgrade for a vault with a
// recovery slot: no wrapping epoch (its secret could not be copied for the
// recovery key), and a purge and a recovery after a lost keyring still
// work, nothing of the cache lost.
func TestFormat2UpgradeWithRecoverySlot(t *testing.T) {
	priv, pub, err := crypto.GenerateRecoveryKey("Clinique", "it@example.test", []byte("kp"))
	mustOK(t, err)
	opt := testOptions()
	path := filepath.Join(t.TempDir(), "carnet.vault")
	v, err := Open(path, opt)
	mustOK(t, err)
	mustOK(t, v.Create(ctx, append([]byte(nil), testPass...), app.CreateOptions{RecoveryKey: []byte(pub)}))
	t.Cleanup(func() { v.Close() })
	format2Fixture(t, v, path, opt) // ends with the format 2 file put back
	forgetMirror(t, opt, path)
	v = reopen(t, nil, path, opt, testPass)
	other := synthPatient(31)
	mustOK(t, v.Write(ctx, patientBatch(other, 1, 500)))
	mustOK(t, v.Purge(ctx, other.ID))
	mustOK(t, v.Close())
	kr := opt.Keyring.(*memKeyring)
	kr.mu.Lock()
	clear(kr.m)
	kr.mu.Unlock()
	v = reopen(t, nil, path, opt, nil)
	mustOK(t, v.Recover(ctx, []byte(priv), []byte("kp"), append([]byte(nil), otherPass...)))
	if _, err := v.Manifest(ctx, synthPatient(30).ID); err != nil {
		t.Fatalf("cached data lost by the recovery: %v", err)
	}
}
