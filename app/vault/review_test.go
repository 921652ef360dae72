package vault

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/crypto"
)

// Tests for the findings of the security review (H1, H2, M1, M5, M6, L1,
// L3, L4, L7). Each failed on the code before its fix.

// TestConcurrentCreate: two first-run creations race on one path (30 runs,
// file device secret and shared keyring): exactly one wins, the other gets
// ErrVaultExists or ErrInUse, and the winner's passphrase unlocks the vault.
func TestConcurrentCreate(t *testing.T) {
	for run := 0; run < 30; run++ {
		path := filepath.Join(t.TempDir(), "carnet.vault")
		opt := testOptions()
		if run%2 == 0 {
			opt.Keyring = crypto.NoKeyring{}
		}
		pass := [2][]byte{[]byte("passphrase of A 123456"), []byte("passphrase of B 654321")}
		var vs [2]*Vault
		var errs [2]error
		for i := range vs {
			var err error
			vs[i], err = Open(path, opt)
			mustOK(t, err)
		}
		var wg sync.WaitGroup
		for i := range vs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = vs[i].Create(ctx, append([]byte(nil), pass[i]...), app.CreateOptions{})
			}()
		}
		wg.Wait()
		for _, v := range vs {
			mustOK(t, v.Close())
		}
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil:
				if winner >= 0 {
					t.Fatalf("run %d: both creations succeeded", run)
				}
				winner = i
			case !errors.Is(err, app.ErrVaultExists) && !errors.Is(err, app.ErrInUse):
				t.Fatalf("run %d: loser error %v", run, err)
			}
		}
		if winner < 0 {
			t.Fatalf("run %d: no creation succeeded: %v", run, errs)
		}
		v, err := Open(path, opt)
		mustOK(t, err)
		_, err = v.Unlock(ctx, append([]byte(nil), pass[winner]...))
		if err != nil {
			t.Fatalf("run %d: winner's vault does not unlock: %v (errors %v)", run, err, errs)
		}
		checkOK(t, v)
		mustOK(t, v.Close())
		left, _ := filepath.Glob(path + ".*")
		for _, l := range left {
			if l != path+".device" && l != path+".counter" && l != path+".wrap.1" {
				t.Fatalf("run %d: left behind: %v", run, left)
			}
		}
	}
}

// shredFixture writes a patient and returns, from the closed file, its
// wrapped data key and its sealed documents.
func shredFixture(t *testing.T, opt Options) (string, app.Patient, app.Patient, []byte, [][]byte) {
	t.Helper()
	v, path := newTestVault(t, opt)
	p, keep := synthPatient(7), synthPatient(8)
	mustOK(t, v.Write(ctx, patientBatch(p, 3, 3000)))
	mustOK(t, v.Write(ctx, patientBatch(keep, 2, 3000)))
	bl := v.k.blinder()
	kk := bl.Blind(domKey, string(p.ID))
	var docKeys [][]byte
	for _, d := range synthManifest(p, 3).Documents {
		docKeys = append(docKeys, bl.Blind(domDoc, string(p.ID), string(d.ID)))
	}
	mustOK(t, v.Close())
	var wrapped []byte
	var docs [][]byte
	for _, r := range rawDump(t, path) {
		switch {
		case r.bucket == bKeys && bytes.Equal(r.key, kk):
			wrapped = r.val
		case r.bucket == bDoc:
			for _, dk := range docKeys {
				if bytes.Equal(r.key, dk) {
					docs = append(docs, r.val)
				}
			}
		}
	}
	if wrapped == nil || len(docs) != 3 {
		t.Fatal("fixture records not found")
	}
	return path, p, keep, wrapped, docs
}

func hits(t *testing.T, path string, needles ...[]byte) int {
	t.Helper()
	raw, err := os.ReadFile(path)
	mustOK(t, err)
	n := 0
	for _, s := range needles {
		n += bytes.Count(raw, s)
	}
	return n
}

// TestPurgeShreds: after Purge and the next Lock (or Close, or Open after
// a crash), neither the wrapped data key nor any sealed document of the
// patient is left in the file.
func TestPurgeShreds(t *testing.T) {
	opt := testOptions()
	for _, mode := range []string{"lock", "close", "crash"} {
		t.Run(mode, func(t *testing.T) {
			path, p, keep, wrapped, docs := shredFixture(t, opt)
			needles := append([][]byte{wrapped}, docs...)
			v := reopen(t, nil, path, opt, testPass)
			if hits(t, path, needles...) == 0 {
				t.Fatal("fixture: data not in the file before purge")
			}
			mustOK(t, v.Purge(ctx, p.ID))
			switch mode {
			case "lock":
				v.Lock()
			case "close":
				mustOK(t, v.Close())
			case "crash": // the process dies after the purge: copy the file as it is (the copy shares the keyring entry)
				raw, err := os.ReadFile(path)
				mustOK(t, err)
				path = filepath.Join(t.TempDir(), "copy.vault")
				mustOK(t, os.WriteFile(path, raw, 0o600))
				v2, err := Open(path, opt)
				mustOK(t, err)
				t.Cleanup(func() { v2.Close() })
				v = v2
			}
			if n := hits(t, path, needles...); n != 0 {
				t.Fatalf("%d purged values still in the file", n)
			}
			if mode == "close" {
				v = reopen(t, nil, path, opt, nil)
			}
			if v.shredPending() {
				t.Fatal("shred flag left after compaction")
			}
			if v.Locked() {
				_, err := v.Unlock(ctx, append([]byte(nil), testPass...))
				mustOK(t, err)
			}
			if _, err := v.Manifest(ctx, keep.ID); err != nil {
				t.Fatal(err)
			}
			checkOK(t, v)
			// No purge pending: Lock does not compact.
			before, _ := os.Stat(path)
			v.Lock()
			after, _ := os.Stat(path)
			if !os.SameFile(before, after) {
				t.Fatal("Lock compacted without a pending shred")
			}
		})
	}
}

// TestPassSlotBitFlipsAreDamage: every single-bit flip of the pass slot is
// reported as damage before any derivation, never as a wrong passphrase.
func TestPassSlotBitFlipsAreDamage(t *testing.T) {
	opt := testOptions()
	v, path := newTestVault(t, opt)
	mustOK(t, v.Close())
	orig, err := os.ReadFile(path)
	mustOK(t, err)
	var slot []byte
	for _, r := range rawDump(t, path) {
		if r.bucket == bHeader && r.key != nil && string(r.key) == hPass {
			slot = r.val
		}
	}
	cp := filepath.Join(t.TempDir(), "flip.vault")
	for i := 0; i < 8*len(slot); i++ {
		mustOK(t, os.WriteFile(cp, orig, 0o600))
		s := append([]byte(nil), slot...)
		s[i/8] ^= 1 << (i % 8)
		quickUpdate(t, cp, func(tx *bbolt.Tx) error { return tx.Bucket([]byte(bHeader)).Put([]byte(hPass), s) })
		v2, err := Open(cp, opt)
		mustOK(t, err)
		_, err = v2.Unlock(ctx, append([]byte(nil), testPass...))
		mustOK(t, v2.Close())
		if !errors.Is(err, app.ErrDamaged) || errors.Is(err, app.ErrWrongPassphrase) {
			t.Fatalf("bit %d of the pass slot flipped: %v, want ErrDamaged", i, err)
		}
	}
}

// quickUpdate is rawUpdate without fsync, for tests that edit many copies.
func quickUpdate(t testing.TB, path string, fn func(tx *bbolt.Tx) error) {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second, NoSync: true})
	mustOK(t, err)
	defer db.Close()
	mustOK(t, db.Update(fn))
}

// TestKDFBoundsInHeader: parameters inside the old bounds but far beyond
// the policy (2 GiB, 1000 passes, 200 threads), with a recomputed
// checksum, are refused as damage without running Argon2id.
func TestKDFBoundsInHeader(t *testing.T) {
	opt := testOptions()
	v, path := newTestVault(t, opt)
	mustOK(t, v.Close())
	orig, err := os.ReadFile(path)
	mustOK(t, err)
	for name, edit := range map[string]func(s []byte){
		"memory 2 GiB": func(s []byte) { binary.BigEndian.PutUint32(s[5:], 2<<20) },
		"1000 passes":  func(s []byte) { binary.BigEndian.PutUint32(s[1:], 1000) },
		"200 threads":  func(s []byte) { s[9] = 200 },
	} {
		mustOK(t, os.WriteFile(path, orig, 0o600))
		quickUpdate(t, path, func(tx *bbolt.Tx) error {
			b := tx.Bucket([]byte(bHeader))
			s := append([]byte(nil), b.Get([]byte(hPass))...)
			edit(s)
			return putWithSum(b, hPass, s)
		})
		v2, err := Open(path, opt)
		mustOK(t, err)
		start := time.Now()
		_, err = v2.Unlock(ctx, append([]byte(nil), testPass...))
		mustOK(t, v2.Close())
		mustKind(t, err, app.ErrDamaged)
		if d := time.Since(start); d > time.Second {
			t.Fatalf("%s: refused after %v", name, d)
		}
	}
}

// putWithSum writes a header field and recomputes the unkeyed checksum, as
// an attacker can.
func putWithSum(b *bbolt.Bucket, name string, val []byte) error {
	if err := b.Put([]byte(name), val); err != nil {
		return err
	}
	fields := map[string][]byte{}
	_ = b.ForEach(func(k, v []byte) error { fields[string(k)] = append([]byte(nil), v...); return nil })
	return b.Put([]byte(hSum), headerSum(fields))
}

// TestDeviceFileMissing: a vault whose .device file is gone reports
// ErrDeviceSecret, not a wrong passphrase.
func TestDeviceFileMissing(t *testing.T) {
	opt := testOptions()
	opt.Keyring = crypto.NoKeyring{}
	v, path := newTestVault(t, opt)
	v = reopen(t, v, path, opt, nil)
	mustOK(t, os.Rename(path+".device", path+".device.bak"))
	_, err := v.Unlock(ctx, append([]byte(nil), testPass...))
	mustKind(t, err, app.ErrDeviceSecret)
	if errors.Is(err, app.ErrWrongPassphrase) {
		t.Fatal("counted as a wrong passphrase")
	}
	mustOK(t, os.Rename(path+".device.bak", path+".device"))
	_, err = v.Unlock(ctx, append([]byte(nil), testPass...))
	mustOK(t, err)
}

// TestDamagedDirectoryRecord: one damaged directory record does not stop
// the unlock; its patient is left out with a warning, the others stay
// reachable, and Check runs and lists the problem.
func TestDamagedDirectoryRecord(t *testing.T) {
	opt := testOptions()
	v, path := newTestVault(t, opt)
	p1, p2 := synthPatient(1), synthPatient(2)
	mustOK(t, v.Write(ctx, patientBatch(p1, 1, 100)))
	mustOK(t, v.Write(ctx, patientBatch(p2, 1, 100)))
	bad := v.k.blinder().Blind(domDir, string(p1.ID))
	mustOK(t, v.Close())
	rawUpdate(t, path, func(tx *bbolt.Tx) error {
		b := tx.Bucket([]byte(bDir))
		s := append([]byte(nil), b.Get(bad)...)
		s[30] ^= 1
		return b.Put(bad, s)
	})
	v = reopen(t, nil, path, opt, nil)
	rep, err := v.Unlock(ctx, append([]byte(nil), testPass...))
	mustOK(t, err)
	if rep.Patients != 1 || !hasWarning(rep.Warnings, app.WarnDamagedRecords) {
		t.Fatalf("report %+v", rep)
	}
	if _, err := v.Patient(ctx, p1.ID); !errors.Is(err, app.ErrNotFound) {
		t.Fatalf("damaged patient: %v", err)
	}
	if _, err := v.Manifest(ctx, p2.ID); err != nil {
		t.Fatal(err)
	}
	crep, err := v.Check(ctx)
	mustOK(t, err)
	if crep.OK() || !strings.Contains(strings.Join(crep.Problems, "\n"), "bucket dir") {
		t.Fatalf("check problems: %v", crep.Problems)
	}
	// An undamaged vault reports no such warning.
	v2, _ := newTestVault(t, opt)
	v2.Lock()
	rep, err = v2.Unlock(ctx, append([]byte(nil), testPass...))
	mustOK(t, err)
	if hasWarning(rep.Warnings, app.WarnDamagedRecords) {
		t.Fatal("warning on a sound vault")
	}
}

// TestHeaderNotLaundered: a header edited after the unlock (with or
// without a recomputed checksum) is refused by ChangePassphrase instead of
// being re-signed with a fresh MAC.
func TestHeaderNotLaundered(t *testing.T) {
	for _, withSum := range []bool{false, true} {
		opt := testOptions()
		v, path := newTestVault(t, opt)
		mustOK(t, v.db.Update(func(tx *bbolt.Tx) error {
			b := tx.Bucket([]byte(bHeader))
			if withSum {
				return putWithSum(b, hRecoveryFpr, []byte("ATTACKER-FPR"))
			}
			return b.Put([]byte(hRecoveryFpr), []byte("ATTACKER-FPR"))
		}))
		err := v.ChangePassphrase(ctx, append([]byte(nil), testPass...), append([]byte(nil), otherPass...))
		mustKind(t, err, app.ErrDamaged)
		v = reopen(t, v, path, opt, nil)
		_, err = v.Unlock(ctx, append([]byte(nil), testPass...))
		mustKind(t, err, app.ErrDamaged)
	}
}

// TestRecoverChecksFingerprint: another clinic's recovery key is refused
// at once, naming both fingerprints, and the file is untouched.
func TestRecoverChecksFingerprint(t *testing.T) {
	_, pub, err := crypto.GenerateRecoveryKey("Clinique", "it@example.test", []byte("k1"))
	mustOK(t, err)
	other, otherPub, err := crypto.GenerateRecoveryKey("Autre", "it@autre.test", []byte("k2"))
	mustOK(t, err)
	opt := testOptions()
	path := filepath.Join(t.TempDir(), "carnet.vault")
	v, err := Open(path, opt)
	mustOK(t, err)
	mustOK(t, v.Create(ctx, append([]byte(nil), testPass...), app.CreateOptions{RecoveryKey: []byte(pub)}))
	v = reopen(t, v, path, opt, nil)
	before := fileSHA(t, path)
	err = v.Recover(ctx, []byte(other), []byte("k2"), append([]byte(nil), otherPass...))
	mustKind(t, err, app.ErrInvalid)
	fp, _ := crypto.RecoveryFingerprint([]byte(otherPub))
	mine, _ := crypto.RecoveryFingerprint([]byte(pub))
	if !strings.Contains(err.Error(), fp) || !strings.Contains(err.Error(), mine) {
		t.Fatalf("error does not name both fingerprints: %v", err)
	}
	if fileSHA(t, path) != before {
		t.Fatal("file modified")
	}
}

// failingKDF makes the next pass slot fail to derive (white box): the
// failure happens after the new device secret is staged, before commit.
func failingKDF() *crypto.KDFParams { return &crypto.KDFParams{Time: 0, MemoryKiB: 8, Threads: 1} }

// TestRecoverStagesDeviceSecret: when Recover must draw a new device
// secret, nothing of it replaces the old one until the new slot commits; a
// failed Recover leaves file, keyring and .device as they were.
func TestRecoverStagesDeviceSecret(t *testing.T) {
	priv, pub, err := crypto.GenerateRecoveryKey("Clinique", "it@example.test", []byte("kp"))
	mustOK(t, err)
	for _, mode := range []string{"keyring", "file"} {
		t.Run(mode, func(t *testing.T) {
			opt := testOptions()
			kr := newMemKeyring()
			opt.Keyring = kr
			if mode == "file" {
				opt.Keyring = crypto.NoKeyring{}
			}
			path := filepath.Join(t.TempDir(), "carnet.vault")
			v, err := Open(path, opt)
			mustOK(t, err)
			mustOK(t, v.Create(ctx, append([]byte(nil), testPass...), app.CreateOptions{RecoveryKey: []byte(pub)}))
			mustOK(t, v.Write(ctx, patientBatch(synthPatient(4), 1, 100)))
			mustOK(t, v.Close())
			// The device secret is lost.
			if mode == "file" {
				mustOK(t, os.Remove(path+".device"))
			} else {
				kr.m = map[string][]byte{}
			}
			before := fileSHA(t, path)
			broken := opt
			broken.KDF = failingKDF()
			v = reopen(t, nil, path, broken, nil)
			if err := v.Recover(ctx, []byte(priv), []byte("kp"), append([]byte(nil), otherPass...)); err == nil {
				t.Fatal("recover with a failing KDF succeeded")
			}
			mustOK(t, v.Close())
			if fileSHA(t, path) != before {
				t.Fatal("file modified by a failed recover")
			}
			if len(kr.m) != 0 {
				t.Fatalf("keyring entries left by a failed recover: %d", len(kr.m))
			}
			if left, _ := filepath.Glob(path + ".device*"); len(left) != 0 {
				t.Fatalf("device files left by a failed recover: %v", left)
			}
			v = reopen(t, nil, path, opt, nil)
			mustOK(t, v.Recover(ctx, []byte(priv), []byte("kp"), append([]byte(nil), otherPass...)))
			v = reopen(t, v, path, opt, otherPass)
			checkOK(t, v)
			if mode == "keyring" {
				h, err := v.readHeader()
				mustOK(t, err)
				if !strings.HasPrefix(h.device, devKeyringAt) || len(kr.m) != 3 || kr.m[counterAccount(h)] == nil {
					t.Fatalf("device %q, %d keyring entries", h.device, len(kr.m))
				}
			}
		})
	}
}

// TestAuditChainKey: the audit chain's MACs use their own key, not the
// audit AEAD key.
func TestAuditChainKey(t *testing.T) {
	v, _ := newTestVault(t, testOptions())
	mustOK(t, v.Record(ctx, app.AuditEvent{Action: "a", Result: "ok"}))
	mustOK(t, v.Record(ctx, app.AuditEvent{Action: "b", Result: "ok"}))
	if bytes.Equal(v.k.chain.Bytes(), v.k.audit.Bytes()) {
		t.Fatal("chain key equals the audit key")
	}
	want := v.k.vmk.Derive(infoChain)
	if !bytes.Equal(v.k.chain.Bytes(), want.Bytes()) {
		t.Fatal("chain key is not carnet/audit-chain/v1")
	}
	var first []byte
	var second auditRecord
	mustOK(t, v.db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket([]byte(bAudit))
		first = append([]byte(nil), b.Get(seqKey(1))...)
		return openJSON(v.k.auditA, bAudit, seqKey(2), kindAudit, b.Get(seqKey(2)), &second)
	}))
	if !bytes.Equal(second.P, crypto.MAC(want, first)) || bytes.Equal(second.P, crypto.MAC(v.k.audit, first)) {
		t.Fatal("entry 2 is not chained under the chain key")
	}
	checkOK(t, v)
}

// TestFormat1StillOpens: a version 1 vault (no checksum, audit chain under
// the audit key) still unlocks, records, checks, and changes passphrase
// without gaining fields an older Carnet would not expect.
func TestFormat1StillOpens(t *testing.T) {
	opt := testOptions()
	v, path := newTestVault(t, opt)
	hk := *v.k.header
	mustOK(t, v.Close())
	rawUpdate(t, path, func(tx *bbolt.Tx) error {
		b := tx.Bucket([]byte(bHeader))
		if err := b.Delete([]byte(hSum)); err != nil {
			return err
		}
		if err := b.Put([]byte(hFormat), binary.BigEndian.AppendUint32(nil, 1)); err != nil {
			return err
		}
		fields := map[string][]byte{}
		_ = b.ForEach(func(k, v []byte) error { fields[string(k)] = append([]byte(nil), v...); return nil })
		return b.Put([]byte(hMAC), headerMAC(&hk, fields))
	})
	v = reopen(t, nil, path, opt, testPass)
	if bytes.Equal(v.k.chain.Bytes(), v.k.vmk.Derive(infoChain).Bytes()) {
		t.Fatal("version 1 vault uses the new chain key")
	}
	mustOK(t, v.Record(ctx, app.AuditEvent{Action: "a", Result: "ok"}))
	checkOK(t, v)
	mustOK(t, v.ChangePassphrase(ctx, testPass, otherPass))
	v = reopen(t, v, path, opt, otherPass)
	h, err := v.readHeader()
	mustOK(t, err)
	if h.version != 1 || h.fields[hSum] != nil {
		t.Fatalf("version %d, sum %x", h.version, h.fields[hSum])
	}
	checkOK(t, v)
}
