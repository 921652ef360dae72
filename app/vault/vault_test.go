package vault

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/crypto"
)

func TestRoundTrip(t *testing.T) {
	opt := testOptions()
	v, path := newTestVault(t, opt)
	p := synthPatient(1)
	p.ID = "" // new patient: the vault draws an id
	nb := &app.Batch{Patients: []app.Patient{p}}
	mustOK(t, v.Write(ctx, nb))
	p = nb.Patients[0]
	if p.ID == "" {
		t.Fatal("no patient id drawn")
	}
	b := patientBatch(p, 3, 700)
	for i := range b.Manifests[0].Documents {
		b.Manifests[0].Documents[i].ID = app.DocumentID("doc-" + string(rune('a'+i)))
		b.Documents[i].Patient, b.Documents[i].ID = p.ID, b.Manifests[0].Documents[i].ID
	}
	b.Manifests[0].Patient, b.Cursors[0].Patient = p.ID, p.ID
	b.Patients = nil
	mustOK(t, v.Write(ctx, b))
	global := app.Cursor{Stream: "mailbox", Token: "uid:42", Time: time.Unix(1700000100, 0).UTC()}
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	items := []app.OutboxItem{
		{ID: "o2", Patient: p.ID, Kind: "provide", State: app.OutboxPending, Payload: []byte("<cda/>"), CreatedAt: t0.Add(time.Minute)},
		{ID: "o1", Patient: p.ID, Kind: "provide", State: app.OutboxPending, Payload: []byte("<cda1/>"), CreatedAt: t0},
		{ID: "o3", Kind: "metadata", State: app.OutboxRetry, CreatedAt: t0.Add(2 * time.Minute)},
	}
	mustOK(t, v.Write(ctx, &app.Batch{Cursors: []app.Cursor{global}, Outbox: items}))
	mustOK(t, v.Write(ctx, &app.Batch{OutboxDone: []app.OutboxID{"o3"}}))
	st, err := v.Settings(ctx)
	mustOK(t, err)
	if st != app.DefaultSettings() {
		t.Fatalf("default settings: %+v", st)
	}
	st.AutoLock = 7 * time.Minute
	mustOK(t, v.SaveSettings(ctx, st))
	mustKind(t, v.SaveSettings(ctx, app.Settings{}), app.ErrInvalid)
	for i := 0; i < 3; i++ {
		mustOK(t, v.Record(ctx, app.AuditEvent{Action: "dmp.iti67", Patient: p.ID, Result: "ok", Time: t0.Add(time.Duration(i) * time.Hour)}))
	}
	mustOK(t, v.Record(ctx, app.AuditEvent{Action: "vault.lock", Result: "ok", Time: t0.Add(5 * time.Hour)}))

	verify := func(v *Vault) {
		t.Helper()
		got, err := v.Patient(ctx, p.ID)
		mustOK(t, err)
		if !reflect.DeepEqual(got, p) {
			t.Fatalf("patient %+v, want %+v", got, p)
		}
		if res, _ := v.SearchPatients(ctx, "hena", 10); len(res) != 1 || res[0].ID != p.ID {
			t.Fatalf("search: %v", res)
		}
		if all, _ := v.Patients(ctx); len(all) != 1 {
			t.Fatalf("patients: %d", len(all))
		}
		m, err := v.Manifest(ctx, p.ID)
		mustOK(t, err)
		want := b.Manifests[0]
		for i := range want.Documents {
			want.Documents[i].Cached = true
		}
		if !reflect.DeepEqual(m, want) {
			t.Fatalf("manifest %+v\nwant %+v", m, want)
		}
		for _, d := range b.Documents {
			got, err := v.Document(ctx, p.ID, d.ID)
			mustOK(t, err)
			if !bytes.Equal(got, d.Bytes) {
				t.Fatal("document bytes differ")
			}
		}
		_, err = v.Document(ctx, p.ID, "nope")
		mustKind(t, err, app.ErrNotFound)
		c, err := v.Cursor(ctx, p.ID, "documents")
		mustOK(t, err)
		if !reflect.DeepEqual(c, b.Cursors[0]) {
			t.Fatalf("cursor %+v", c)
		}
		if c, _ := v.Cursor(ctx, p.ID, "other"); c != (app.Cursor{}) {
			t.Fatalf("absent cursor %+v", c)
		}
		if c, _ := v.Cursor(ctx, "", "mailbox"); !reflect.DeepEqual(c, global) {
			t.Fatalf("global cursor %+v", c)
		}
		out, err := v.Outbox(ctx)
		mustOK(t, err)
		if len(out) != 2 || out[0].ID != "o1" || out[1].ID != "o2" || !bytes.Equal(out[0].Payload, items[1].Payload) {
			t.Fatalf("outbox %+v", out)
		}
		st2, _ := v.Settings(ctx)
		if st2 != st {
			t.Fatalf("settings %+v", st2)
		}
		evs, err := v.Audit(ctx, app.AuditFilter{})
		mustOK(t, err)
		if len(evs) != 4 || evs[0].Seq != 1 || evs[3].Action != "vault.lock" {
			t.Fatalf("audit %+v", evs)
		}
		evs, _ = v.Audit(ctx, app.AuditFilter{Patient: p.ID, Limit: 2})
		if len(evs) != 2 || evs[0].Seq != 2 || evs[1].Seq != 3 {
			t.Fatalf("audit filter %+v", evs)
		}
		evs, _ = v.Audit(ctx, app.AuditFilter{Action: "vault.", Since: t0.Add(time.Hour)})
		if len(evs) != 1 {
			t.Fatalf("audit action filter %+v", evs)
		}
		rep := checkOK(t, v)
		if rep.Patients != 1 || rep.Documents != 3 || rep.Audit != 4 || rep.Outbox != 2 {
			t.Fatalf("check report %+v", rep)
		}
	}
	verify(v)
	v.Lock()
	if !v.Locked() {
		t.Fatal("not locked")
	}
	if _, err := v.Unlock(ctx, append([]byte(nil), testPass...)); err != nil {
		t.Fatal(err)
	}
	verify(v)
	verify(reopen(t, v, path, opt, testPass))
}

func TestLockedErrors(t *testing.T) {
	v, _ := newTestVault(t, testOptions())
	p := synthPatient(2)
	mustOK(t, v.Write(ctx, patientBatch(p, 1, 100)))
	v.Lock()
	errs := []error{
		v.Write(ctx, patientBatch(p, 1, 10)), v.Purge(ctx, p.ID), v.SaveSettings(ctx, app.DefaultSettings()),
		v.Record(ctx, app.AuditEvent{Action: "x"}),
	}
	_, e := v.SearchPatients(ctx, "a", 1)
	errs = append(errs, e)
	_, e = v.Patient(ctx, p.ID)
	errs = append(errs, e)
	_, e = v.Patients(ctx)
	errs = append(errs, e)
	_, e = v.Manifest(ctx, p.ID)
	errs = append(errs, e)
	_, e = v.Document(ctx, p.ID, "x")
	errs = append(errs, e)
	_, e = v.Cursor(ctx, p.ID, "documents")
	errs = append(errs, e)
	_, e = v.Outbox(ctx)
	errs = append(errs, e)
	_, e = v.Settings(ctx)
	errs = append(errs, e)
	_, e = v.Audit(ctx, app.AuditFilter{})
	errs = append(errs, e)
	_, e = v.Check(ctx)
	errs = append(errs, e)
	for i, err := range errs {
		if !strings.HasPrefix(err.Error(), "vault: ") {
			t.Errorf("%d: error text %q", i, err)
		}
		mustKind(t, err, app.ErrLocked)
	}
	if v.k != nil {
		t.Fatal("keys kept after lock")
	}
}

func TestWrongPassphrase(t *testing.T) {
	opt := testOptions()
	v, path := newTestVault(t, opt)
	v = reopen(t, v, path, opt, nil)
	_, err := v.Unlock(ctx, []byte("not the passphrase at all"))
	mustKind(t, err, app.ErrWrongPassphrase)
	if !v.Locked() {
		t.Fatal("unlocked with a wrong passphrase")
	}
	// The right passphrase with another device secret is refused too, as
	// damage (the header's check value), before any derivation.
	other := newMemKeyring()
	for a := range opt.Keyring.(*memKeyring).m {
		other.m[a] = bytes.Repeat([]byte{7}, crypto.DeviceSecretSize)
	}
	opt.Keyring = other
	v = reopen(t, v, path, opt, nil)
	_, err = v.Unlock(ctx, append([]byte(nil), testPass...))
	mustKind(t, err, app.ErrDamaged)
	// No device secret at all is not a wrong passphrase (the Service must
	// not count it as a failed attempt): app.ErrDeviceSecret.
	opt.Keyring = newMemKeyring()
	v = reopen(t, v, path, opt, nil)
	_, err = v.Unlock(ctx, append([]byte(nil), testPass...))
	mustKind(t, err, app.ErrDeviceSecret)
	if errors.Is(err, app.ErrWrongPassphrase) {
		t.Fatal("a missing device secret reads as a wrong passphrase")
	}
}

func TestCreateTwice(t *testing.T) {
	opt := testOptions()
	v, path := newTestVault(t, opt)
	mustKind(t, v.Create(ctx, testPass, app.CreateOptions{}), app.ErrVaultExists)
	v2, err := Open(path+".other", opt)
	mustOK(t, err)
	mustOK(t, os.WriteFile(path+".other", []byte("x"), 0o600))
	mustKind(t, v2.Create(ctx, testPass, app.CreateOptions{}), app.ErrVaultExists)
	if left, _ := filepath.Glob(path + ".other.*"); len(left) != 0 {
		t.Fatalf("temporary files left behind: %v", left)
	}
}

func TestNoKeyringFallback(t *testing.T) {
	opt := testOptions()
	opt.Keyring = crypto.NoKeyring{}
	v, path := newTestVault(t, opt)
	fi, err := os.Stat(path + ".device")
	mustOK(t, err)
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("device file mode %v", fi.Mode().Perm())
	}
	mustOK(t, v.Write(ctx, patientBatch(synthPatient(3), 1, 50)))
	v = reopen(t, v, path, opt, nil)
	rep, err := v.Unlock(ctx, append([]byte(nil), testPass...))
	mustOK(t, err)
	if !hasWarning(rep.Warnings, app.WarnNoKeyring) || rep.Patients != 1 {
		t.Fatalf("report %+v", rep)
	}
	// A device file readable by others is refused.
	v.Lock()
	mustOK(t, os.Chmod(path+".device", 0o644))
	_, err = v.Unlock(ctx, append([]byte(nil), testPass...))
	mustKind(t, err, app.ErrInsecureFile)
}

func hasWarning(ws []app.Warning, w app.Warning) bool {
	for _, x := range ws {
		if x == w {
			return true
		}
	}
	return false
}

func TestNewerFormatUntouched(t *testing.T) {
	opt := testOptions()
	v, path := newTestVault(t, opt)
	mustOK(t, v.Close())
	rawUpdate(t, path, func(tx *bbolt.Tx) error {
		return tx.Bucket([]byte(bHeader)).Put([]byte(hFormat), binary.BigEndian.AppendUint32(nil, FormatVersion+1))
	})
	before := fileSHA(t, path)
	_, err := Open(path, opt)
	mustKind(t, err, app.ErrNewerFormat)
	if fileSHA(t, path) != before {
		t.Fatal("file modified")
	}
}

func TestTruncatedFile(t *testing.T) {
	opt := testOptions()
	v, path := newTestVault(t, opt)
	for i := 0; i < 20; i++ {
		mustOK(t, v.Write(ctx, patientBatch(synthPatient(i), 5, 4000)))
	}
	mustOK(t, v.Close())
	fi, _ := os.Stat(path)
	for _, size := range []int64{fi.Size() / 2, 8192, 100, 0} {
		cp := filepath.Join(t.TempDir(), "trunc.vault")
		raw, _ := os.ReadFile(path)
		mustOK(t, os.WriteFile(cp, raw[:size], 0o600))
		v2, err := Open(cp, opt)
		if err == nil {
			_, err = v2.Unlock(ctx, append([]byte(nil), testPass...))
			v2.Close()
		}
		if !errorsIsAny(err, app.ErrDamaged) {
			t.Fatalf("size %d: error %v, want ErrDamaged", size, err)
		}
	}
}

func errorsIsAny(err error, kinds ...error) bool {
	for _, k := range kinds {
		if app.KindOf(err) == k {
			return true
		}
	}
	return false
}

func TestSecondInstance(t *testing.T) {
	opt := testOptions()
	_, path := newTestVault(t, opt)
	opt.Timeout = 200 * time.Millisecond
	_, err := Open(path, opt)
	mustKind(t, err, app.ErrInUse)

	cmd := exec.Command(os.Args[0], "-test.run=^TestInUseChild$")
	cmd.Env = append(os.Environ(), "CARNET_VAULT_INUSE_CHILD="+path)
	out, _ := cmd.CombinedOutput()
	if !strings.Contains(string(out), "KIND=vault in use by another instance") {
		t.Fatalf("child: %s", out)
	}
}

// TestInUseChild runs in a child process (TestSecondInstance).
func TestInUseChild(t *testing.T) {
	path := os.Getenv("CARNET_VAULT_INUSE_CHILD")
	if path == "" {
		t.Skip("child process only")
	}
	_, err := Open(path, Options{Timeout: 200 * time.Millisecond, Keyring: crypto.NoKeyring{}, Logger: quietLogger()})
	os.Stdout.WriteString("KIND=" + app.KindOf(err).Error() + "\n")
}

func TestHeaderTamper(t *testing.T) {
	opt := testOptions()
	v, path := newTestVault(t, opt)
	mustOK(t, v.Close())
	orig, _ := os.ReadFile(path)
	for _, edit := range []func(b *bbolt.Bucket) error{
		func(b *bbolt.Bucket) error { return b.Put([]byte("extra"), []byte("x")) },
		func(b *bbolt.Bucket) error { return b.Put([]byte(hRecoveryFpr), []byte("ABCDEF")) },
		func(b *bbolt.Bucket) error { return b.Put([]byte(hMAC), make([]byte, 32)) },
	} {
		mustOK(t, os.WriteFile(path, orig, 0o600))
		rawUpdate(t, path, func(tx *bbolt.Tx) error { return edit(tx.Bucket([]byte(bHeader))) })
		v2, err := Open(path, opt)
		mustOK(t, err)
		_, err = v2.Unlock(ctx, append([]byte(nil), testPass...))
		v2.Close()
		mustKind(t, err, app.ErrDamaged)
	}
	// Weakened KDF parameters: the slot's associated data no longer matches.
	mustOK(t, os.WriteFile(path, orig, 0o600))
	rawUpdate(t, path, func(tx *bbolt.Tx) error {
		b := tx.Bucket([]byte(bHeader))
		s := append([]byte(nil), b.Get([]byte(hPass))...)
		s[8] ^= 1
		return b.Put([]byte(hPass), s)
	})
	v2, err := Open(path, opt)
	mustOK(t, err)
	_, err = v2.Unlock(ctx, append([]byte(nil), testPass...))
	v2.Close()
	if err == nil {
		t.Fatal("unlock with altered kdf parameters")
	}
	// Absurd parameters (16 GiB) are refused before any derivation.
	mustOK(t, os.WriteFile(path, orig, 0o600))
	rawUpdate(t, path, func(tx *bbolt.Tx) error {
		b := tx.Bucket([]byte(bHeader))
		s := append([]byte(nil), b.Get([]byte(hPass))...)
		s[5] ^= 1
		return b.Put([]byte(hPass), s)
	})
	v2, err = Open(path, opt)
	mustOK(t, err)
	_, err = v2.Unlock(ctx, append([]byte(nil), testPass...))
	v2.Close()
	mustKind(t, err, app.ErrDamaged)
}

func TestRecovery(t *testing.T) {
	priv, pub, err := crypto.GenerateRecoveryKey("Clinique", "it@example.test", []byte("recovery key passphrase"))
	mustOK(t, err)
	kr := newMemKeyring()
	opt := testOptions()
	opt.Keyring = kr
	path := filepath.Join(t.TempDir(), "carnet.vault")
	v, err := Open(path, opt)
	mustOK(t, err)
	mustOK(t, v.Create(ctx, append([]byte(nil), testPass...), app.CreateOptions{RecoveryKey: []byte(pub)}))
	p := synthPatient(4)
	mustOK(t, v.Write(ctx, patientBatch(p, 2, 300)))
	v = reopen(t, v, path, opt, nil)
	mustKind(t, v.Recover(ctx, []byte(priv), []byte("wrong"), otherPass), app.ErrWrongPassphrase)
	mustOK(t, v.Recover(ctx, []byte(priv), []byte("recovery key passphrase"), append([]byte(nil), otherPass...)))
	if v.Locked() {
		t.Fatal("locked after recover")
	}
	if _, err := v.Manifest(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	v = reopen(t, v, path, opt, nil)
	_, err = v.Unlock(ctx, append([]byte(nil), testPass...))
	mustKind(t, err, app.ErrWrongPassphrase)
	rep, err := v.Unlock(ctx, append([]byte(nil), otherPass...))
	mustOK(t, err)
	if !rep.HasRecovery {
		t.Fatal("recovery slot lost")
	}
	checkOK(t, v)

	// The device secret lost as well (keyring wiped): recovery still works.
	kr.m = map[string][]byte{}
	v = reopen(t, v, path, opt, nil)
	_, err = v.Unlock(ctx, append([]byte(nil), otherPass...))
	mustKind(t, err, app.ErrDeviceSecret)
	mustOK(t, v.Recover(ctx, []byte(priv), []byte("recovery key passphrase"), append([]byte(nil), testPass...)))
	v = reopen(t, v, path, opt, testPass)
	checkOK(t, v)

	// A vault without a recovery slot.
	v2, _ := newTestVault(t, testOptions())
	mustKind(t, v2.Recover(ctx, []byte(priv), []byte("recovery key passphrase"), otherPass), app.ErrNotFound)
}

func TestKDFUpgradeAtUnlock(t *testing.T) {
	if testing.Short() {
		t.Skip("calibrates Argon2id at policy")
	}
	opt := testOptions()
	v, path := newTestVault(t, opt)
	mustOK(t, v.Write(ctx, patientBatch(synthPatient(5), 1, 100)))
	normal := opt
	normal.KDF = nil
	v = reopen(t, v, path, normal, nil)
	rep, err := v.Unlock(ctx, append([]byte(nil), testPass...))
	mustOK(t, err)
	if !rep.KDFUpgraded {
		t.Fatal("not upgraded")
	}
	h, err := v.readHeader()
	mustOK(t, err)
	if h.kdf.BelowPolicy() {
		t.Fatalf("params %v still below policy", h.kdf)
	}
	checkOK(t, v)
	v = reopen(t, v, path, opt, nil)
	rep, err = v.Unlock(ctx, append([]byte(nil), testPass...))
	mustOK(t, err)
	if rep.KDFUpgraded {
		t.Fatal("upgraded twice")
	}
}

func TestPassphraseChange(t *testing.T) {
	opt := testOptions()
	v, path := newTestVault(t, opt)
	mustKind(t, v.ChangePassphrase(ctx, []byte("wrong old passphrase"), otherPass), app.ErrWrongPassphrase)
	mustOK(t, v.ChangePassphrase(ctx, testPass, otherPass))
	// Locked: the old passphrase is verified by a full unlock.
	v.Lock()
	mustKind(t, v.ChangePassphrase(ctx, testPass, testPass), app.ErrWrongPassphrase)
	mustOK(t, v.ChangePassphrase(ctx, otherPass, []byte("third passphrase here")))
	if !v.Locked() {
		t.Fatal("change on a locked vault left it unlocked")
	}
	v = reopen(t, v, path, opt, nil)
	_, err := v.Unlock(ctx, append([]byte(nil), otherPass...))
	mustKind(t, err, app.ErrWrongPassphrase)
	_, err = v.Unlock(ctx, []byte("third passphrase here"))
	mustOK(t, err)
}

func TestPassphraseChangeTouchesOneSlot(t *testing.T) {
	opt := testOptions()
	v, path := newTestVault(t, opt)
	// 500 patients × (dir + key + manifest + cursor + 16 documents) = 10,000 records.
	b := &app.Batch{}
	for i := 0; i < 500; i++ {
		pb := patientBatch(synthPatient(i), 16, 200)
		b.Patients = append(b.Patients, pb.Patients...)
		b.Manifests = append(b.Manifests, pb.Manifests...)
		b.Documents = append(b.Documents, pb.Documents...)
		b.Cursors = append(b.Cursors, pb.Cursors...)
	}
	mustOK(t, v.Write(ctx, b))
	mustOK(t, v.Close())
	before := rawDump(t, path)
	if len(before) < 10000 {
		t.Fatalf("%d records", len(before))
	}
	v = reopen(t, nil, path, opt, testPass)
	mustOK(t, v.ChangePassphrase(ctx, testPass, otherPass))
	mustOK(t, v.Close())
	after := rawDump(t, path)
	if len(after) != len(before) {
		t.Fatalf("%d records before, %d after", len(before), len(after))
	}
	changed := map[string]bool{}
	for i := range before {
		a, b := before[i], after[i]
		if a.bucket != b.bucket || !bytes.Equal(a.key, b.key) {
			t.Fatalf("record %d moved", i)
		}
		if !bytes.Equal(a.val, b.val) {
			changed[a.bucket+"/"+string(a.key)] = true
		}
	}
	// The pass slot, the rollback counter (raised by the unlock and the
	// change), the header MAC and the header checksum: O(1).
	if len(changed) != 4 || !changed[bHeader+"/"+hPass] || !changed[bHeader+"/"+hCounter] || !changed[bHeader+"/"+hMAC] || !changed[bHeader+"/"+hSum] {
		t.Fatalf("changed: %v", changed)
	}
	reopen(t, nil, path, opt, otherPass)
}

func TestPurge(t *testing.T) {
	opt := testOptions()
	v, path := newTestVault(t, opt)
	p1, p2 := synthPatient(10), synthPatient(11)
	mustOK(t, v.Write(ctx, patientBatch(p1, 4, 500)))
	mustOK(t, v.Write(ctx, patientBatch(p2, 4, 500)))
	mustOK(t, v.Write(ctx, &app.Batch{Outbox: []app.OutboxItem{{ID: "o1", Patient: p2.ID, Kind: "provide"}}}))
	mustKind(t, v.Purge(ctx, p2.ID), app.ErrConflict)
	mustKind(t, v.Purge(ctx, "unknown"), app.ErrNotFound)
	before := len(rawDumpOpen(t, v))
	mustOK(t, v.Purge(ctx, p1.ID))
	after := len(rawDumpOpen(t, v)) - 1 // the header's shred flag
	if before-after != 1+1+1+4+1 {      // dir, key, manifest, 4 documents, cursor
		t.Fatalf("purge removed %d records", before-after)
	}
	_, err := v.Manifest(ctx, p1.ID)
	mustKind(t, err, app.ErrNotFound)
	_, err = v.Document(ctx, p1.ID, synthManifest(p1, 1).Documents[0].ID)
	mustKind(t, err, app.ErrNotFound)
	if res, _ := v.SearchPatients(ctx, p1.BirthName, 0); len(res) != 0 {
		t.Fatal("purged patient still found")
	}
	rep := checkOK(t, v)
	if rep.Patients != 1 || rep.Documents != 4 {
		t.Fatalf("report %+v", rep)
	}
	v = reopen(t, v, path, opt, testPass)
	checkOK(t, v)
	if _, err := v.Patient(ctx, p1.ID); err == nil {
		t.Fatal("purged patient back after reopen")
	}
}

// rawDumpOpen counts records through the open vault's handle.
func rawDumpOpen(t testing.TB, v *Vault) []rawRecord {
	var out []rawRecord
	mustOK(t, v.db.View(func(tx *bbolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bbolt.Bucket) error {
			return b.ForEach(func(k, val []byte) error {
				out = append(out, rawRecord{bucket: string(name)})
				return nil
			})
		})
	}))
	return out
}
