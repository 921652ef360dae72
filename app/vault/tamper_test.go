package vault

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/carnetdesk/carnet/app"
)

// fixture writes one patient with every kind of record; returns the
// patient and the batch.
func fixture(t *testing.T, v *Vault) (app.Patient, *app.Batch) {
	p := synthPatient(20)
	b := patientBatch(p, 2, 300)
	b.Outbox = []app.OutboxItem{{ID: "o1", Patient: p.ID, Kind: "provide", Payload: []byte("<cda/>"), CreatedAt: time.Unix(1, 0).UTC()}}
	b.Cursors = append(b.Cursors, app.Cursor{Stream: "mailbox", Token: "uid:1"})
	mustOK(t, v.Write(ctx, b))
	mustOK(t, v.SaveSettings(ctx, app.DefaultSettings()))
	mustOK(t, v.Record(ctx, app.AuditEvent{Action: "vault.unlock", Result: "ok"}))
	mustOK(t, v.Record(ctx, app.AuditEvent{Action: "dmp.iti67", Patient: p.ID, Result: "ok"}))
	return p, b
}

// TestTamperEveryByte flips, one at a time, every byte of every sealed
// record in the raw file (written behind the open vault's back: bbolt maps
// the file shared, so the vault reads the flipped byte), and checks that the
// record is reported damaged and never returned.
func TestTamperEveryByte(t *testing.T) {
	opt := testOptions()
	v, path := newTestVault(t, opt)
	p, b := fixture(t, v)
	mustOK(t, v.Close())
	records := rawDump(t, path)
	v = reopen(t, nil, path, opt, testPass)
	// Read after the unlock: it rewrites the header (counter), which moves
	// small inline buckets to new pages.
	raw, err := os.ReadFile(path)
	mustOK(t, err)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	mustOK(t, err)
	defer f.Close()

	read := map[string]func() error{
		bMan: func() error { _, err := v.Manifest(ctx, p.ID); return err },
		bDoc: func() error {
			for _, d := range b.Documents {
				if got, err := v.Document(ctx, p.ID, d.ID); err != nil {
					return err
				} else if !bytes.Equal(got, d.Bytes) {
					t.Fatal("wrong document data returned")
				}
			}
			return nil
		},
		bCur: func() error {
			if _, err := v.Cursor(ctx, p.ID, "documents"); err != nil {
				return err
			}
			_, err := v.Cursor(ctx, "", "mailbox")
			return err
		},
		bOut:   func() error { _, err := v.Outbox(ctx); return err },
		bAudit: func() error { _, err := v.Audit(ctx, app.AuditFilter{}); return err },
	}
	flips := 0
	for _, r := range records {
		if r.bucket == bHeader {
			continue
		}
		// Copy-on-write leaves stale copies of a value in freed pages: flip
		// the byte in every copy (the live one is among them).
		offs := offsets(raw, r.val)
		if len(offs) == 0 {
			t.Fatalf("%s record not found in the file", r.bucket)
		}
		for i := range r.val {
			for _, off := range offs {
				if _, err := f.WriteAt([]byte{r.val[i] ^ 0x01}, int64(off+i)); err != nil {
					t.Fatal(err)
				}
			}
			rep, err := v.Check(ctx)
			mustOK(t, err)
			if rep.OK() {
				t.Fatalf("%s: byte %d flipped, check passed", r.bucket, i)
			}
			for _, pr := range rep.Problems {
				if strings.Contains(pr, p.BirthName) || strings.Contains(pr, p.INS.Matricule) {
					t.Fatalf("health data in problem %q", pr)
				}
			}
			if fn := read[r.bucket]; fn != nil {
				mustKind(t, fn(), app.ErrDamaged)
			}
			for _, off := range offs {
				if _, err := f.WriteAt([]byte{r.val[i]}, int64(off+i)); err != nil {
					t.Fatal(err)
				}
			}
			flips++
		}
	}
	checkOK(t, v)
	t.Logf("%d bytes flipped over %d records", flips, len(records))

	// A flipped directory entry is left out at unlock, with a warning; the
	// other patients stay reachable and Check reports the damage.
	for _, r := range records {
		if r.bucket != bDir {
			continue
		}
		for _, off := range offsets(raw, r.val) {
			f.WriteAt([]byte{r.val[20] ^ 0x80}, int64(off+20))
		}
		v.Lock()
		rep, err := v.Unlock(ctx, append([]byte(nil), testPass...))
		mustOK(t, err)
		if !hasWarning(rep.Warnings, app.WarnDamagedRecords) {
			t.Fatalf("no damaged-records warning: %+v", rep)
		}
		if crep, err := v.Check(ctx); err != nil || crep.OK() {
			t.Fatalf("check: %+v, %v", crep, err)
		}
		for _, off := range offsets(raw, r.val) {
			f.WriteAt([]byte{r.val[20]}, int64(off+20))
		}
	}
}

// offsets returns every position of val in raw.
func offsets(raw, val []byte) []int {
	var offs []int
	for o := 0; ; {
		i := bytes.Index(raw[o:], val)
		if i < 0 {
			return offs
		}
		offs = append(offs, o+i)
		o += i + 1
	}
}

func TestSwappedRecords(t *testing.T) {
	opt := testOptions()
	v, path := newTestVault(t, opt)
	p1, p2 := synthPatient(30), synthPatient(31)
	b1, b2 := patientBatch(p1, 2, 300), patientBatch(p2, 2, 300)
	mustOK(t, v.Write(ctx, b1))
	mustOK(t, v.Write(ctx, b2))
	mustOK(t, v.Close())
	orig, _ := os.ReadFile(path)

	bl := func() *blindHelper { return &blindHelper{t: t, path: path, opt: opt} }
	k := bl().keys()
	cases := []struct {
		name       string
		from, to   rawKey
		read       func(v *Vault) error
		atUnlock   bool
		checkFails bool
	}{
		{"two documents of one patient",
			rawKey{bDoc, k.doc(p1, b1, 0)}, rawKey{bDoc, k.doc(p1, b1, 1)},
			func(v *Vault) error { _, err := v.Document(ctx, p1.ID, b1.Documents[1].ID); return err }, false, true},
		{"documents of two patients",
			rawKey{bDoc, k.doc(p1, b1, 0)}, rawKey{bDoc, k.doc(p2, b2, 0)},
			func(v *Vault) error { _, err := v.Document(ctx, p2.ID, b2.Documents[0].ID); return err }, false, true},
		{"manifests of two patients",
			rawKey{bMan, k.blind(domMan, string(p1.ID))}, rawKey{bMan, k.blind(domMan, string(p2.ID))},
			func(v *Vault) error { _, err := v.Manifest(ctx, p2.ID); return err }, false, true},
		{"a document moved into the manifest bucket",
			rawKey{bDoc, k.doc(p1, b1, 0)}, rawKey{bMan, k.blind(domMan, string(p1.ID))},
			func(v *Vault) error { _, err := v.Manifest(ctx, p1.ID); return err }, false, true},
		{"data keys of two patients",
			rawKey{bKeys, k.blind(domKey, string(p1.ID))}, rawKey{bKeys, k.blind(domKey, string(p2.ID))},
			func(v *Vault) error { _, err := v.Manifest(ctx, p2.ID); return err }, false, true},
		{"directory entries",
			rawKey{bDir, k.blind(domDir, string(p1.ID))}, rawKey{bDir, k.blind(domDir, string(p2.ID))},
			nil, true, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mustOK(t, os.WriteFile(path, orig, 0o600))
			forgetMirror(t, opt, path) // putting orig back is a rollback
			rawUpdate(t, path, func(tx *bbolt.Tx) error {
				val := append([]byte(nil), tx.Bucket([]byte(c.from.bucket)).Get(c.from.key)...)
				return tx.Bucket([]byte(c.to.bucket)).Put(c.to.key, val)
			})
			v, err := Open(path, opt)
			mustOK(t, err)
			defer v.Close()
			rep, err := v.Unlock(ctx, append([]byte(nil), testPass...))
			mustOK(t, err)
			if c.atUnlock {
				// A directory entry that does not open is left out at
				// unlock (with a warning) and reported by Check.
				if !hasWarning(rep.Warnings, app.WarnDamagedRecords) || rep.Patients != 1 {
					t.Fatalf("report %+v", rep)
				}
				if rep, err := v.Check(ctx); err != nil || rep.OK() {
					t.Fatalf("check: %+v, %v", rep, err)
				}
				return
			}
			err = c.read(v)
			mustKind(t, err, app.ErrDamaged)
			if !strings.Contains(err.Error(), "bucket "+c.to.bucket) {
				t.Fatalf("error does not name the bucket: %v", err)
			}
			if rep, _ := v.Check(ctx); rep.OK() {
				t.Fatal("check passed")
			}
		})
	}
}

type rawKey struct {
	bucket string
	key    []byte
}

// blindHelper recomputes blinded keys with the vault's keys (white box).
type blindHelper struct {
	t    *testing.T
	path string
	opt  Options
	k    *keys
}

func (h *blindHelper) keys() *blindHelper {
	v := reopen(h.t, nil, h.path, h.opt, testPass)
	h.k = v.k
	kk := *v.k.blind
	h.k = &keys{blind: &kk}
	mustOK(h.t, v.Close())
	return h
}

func (h *blindHelper) blind(parts ...string) []byte { return h.k.blinder().Blind(parts...) }

func (h *blindHelper) doc(p app.Patient, b *app.Batch, i int) []byte {
	return h.blind(domDoc, string(p.ID), string(b.Documents[i].ID))
}

// TestCanary stores 100 synthetic patients and searches the raw file for
// every name (as written, lower and upper case, folded), INS and birth date
// (YYYY-MM-DD and YYYYMMDD): no hit may be found. Needles shorter than
// minNeedle bytes (a few short given names: "Zoé", "Léa") are skipped, since
// they turn up by chance in ciphertext; birth names, INS and dates are longer.
func TestCanary(t *testing.T) {
	opt := testOptions()
	v, path := newTestVault(t, opt)
	b := &app.Batch{}
	var ps []app.Patient
	for i := 0; i < 100; i++ {
		p := synthPatient(1000 + i)
		p.UsedGivenName = givens[i%len(givens)]
		ps = append(ps, p)
		pb := patientBatch(p, 3, 1500)
		b.Patients = append(b.Patients, pb.Patients...)
		b.Manifests = append(b.Manifests, pb.Manifests...)
		b.Documents = append(b.Documents, pb.Documents...)
		b.Cursors = append(b.Cursors, pb.Cursors...)
		b.Outbox = append(b.Outbox, app.OutboxItem{ID: app.OutboxID("out-" + string(p.ID)), Patient: p.ID, Payload: docBytes(p, 9, 600)})
	}
	mustOK(t, v.Write(ctx, b))
	for _, p := range ps {
		mustOK(t, v.Record(ctx, app.AuditEvent{Action: "dmp.iti67", Patient: p.ID, Detail: p.BirthName}))
	}
	mustOK(t, v.Close())
	raw, err := os.ReadFile(path)
	mustOK(t, err)
	hits := 0
	for i, p := range ps {
		var needles []string
		for _, s := range []string{p.BirthName, p.UsedGivenName, p.INS.Matricule, p.BirthDate, strings.ReplaceAll(p.BirthDate, "-", ""), string(p.ID)} {
			needles = append(needles, s, strings.ToLower(s), strings.ToUpper(s), strings.TrimSpace(app.Fold(s)), hex.EncodeToString([]byte(s)))
		}
		for _, g := range strings.Fields(p.BirthGivenNames) {
			needles = append(needles, g, strings.ToUpper(g))
		}
		if n := countIn(raw, needles...); n > 0 {
			hits += n
			t.Errorf("canary patient %d: %d hits", i, n)
		}
	}
	if hits != 0 {
		t.Fatalf("%d canary hits in the vault file", hits)
	}
	// And the canaries are really there, behind the keys.
	v = reopen(t, nil, path, opt, testPass)
	if res, _ := v.SearchPatients(ctx, ps[0].BirthName, 0); len(res) == 0 {
		t.Fatal("canary patient not found through the vault")
	}
}

func TestAuditChainTamper(t *testing.T) {
	opt := testOptions()
	v, path := newTestVault(t, opt)
	for i := 0; i < 10; i++ {
		mustOK(t, v.Record(ctx, app.AuditEvent{Action: "x", Result: "ok"}))
	}
	checkOK(t, v)
	mustOK(t, v.Close())
	orig, _ := os.ReadFile(path)
	edits := map[string]func(b *bbolt.Bucket) error{
		"delete a middle entry": func(b *bbolt.Bucket) error { return b.Delete(seqKey(5)) },
		"delete the last entry": func(b *bbolt.Bucket) error { return b.Delete(seqKey(10)) },
		"swap two entries": func(b *bbolt.Bucket) error {
			a, c := append([]byte(nil), b.Get(seqKey(3))...), append([]byte(nil), b.Get(seqKey(4))...)
			if err := b.Put(seqKey(3), c); err != nil {
				return err
			}
			return b.Put(seqKey(4), a)
		},
		"replay an entry under a new sequence": func(b *bbolt.Bucket) error {
			return b.Put(seqKey(11), append([]byte(nil), b.Get(seqKey(10))...))
		},
	}
	for name, edit := range edits {
		t.Run(name, func(t *testing.T) {
			mustOK(t, os.WriteFile(path, orig, 0o600))
			forgetMirror(t, opt, path) // putting orig back is a rollback
			rawUpdate(t, path, func(tx *bbolt.Tx) error { return edit(tx.Bucket([]byte(bAudit))) })
			v := reopen(t, nil, path, opt, testPass)
			rep, err := v.Check(ctx)
			mustOK(t, err)
			if rep.OK() {
				t.Fatal("check passed")
			}
			found := false
			for _, p := range rep.Problems {
				found = found || strings.HasPrefix(p, "audit:")
			}
			if !found {
				t.Fatalf("problems %v", rep.Problems)
			}
		})
	}
}

func TestErrorsCarryNoHealthData(t *testing.T) {
	v, _ := newTestVault(t, testOptions())
	p := synthPatient(40)
	_, err := v.Manifest(ctx, p.ID)
	if err == nil || strings.Contains(err.Error(), string(p.ID)) {
		t.Fatalf("error %v", err)
	}
	if !errors.Is(err, app.ErrNotFound) {
		t.Fatal(err)
	}
}

func TestClassifyNoSpace(t *testing.T) {
	err := classify(&os.PathError{Op: "write", Path: "x", Err: syscall.ENOSPC})
	mustKind(t, err, app.ErrNoSpace)
	mustKind(t, classify(bbolt.ErrTimeout), app.ErrInUse)
}

// TestRandomFileCorruption flips random bytes anywhere in the file (page
// headers, branch pages, meta pages): the vault must fail cleanly or return
// the right data, never return wrong data.
//
// Opt-in (CARNET_VAULT_FUZZ_FILE=1): bbolt has no page checksums and builds
// slices from page offsets with unsafe; a corrupted page header can make it
// point into the Go heap, and the garbage collector then aborts the process
// ("found pointer to free object") — seen in about 1 run of 4 here. Value
// corruption, the case Carnet's crypto covers, is TestTamperEveryByte.
func TestRandomFileCorruption(t *testing.T) {
	if os.Getenv("CARNET_VAULT_FUZZ_FILE") == "" {
		t.Skip("set CARNET_VAULT_FUZZ_FILE=1: may crash the process (bbolt limitation)")
	}
	opt := testOptions()
	v, path := newTestVault(t, opt)
	p := synthPatient(50)
	b := patientBatch(p, 5, 3000)
	mustOK(t, v.Write(ctx, b))
	mustOK(t, v.Close())
	orig, _ := os.ReadFile(path)
	rng := rand.New(rand.NewPCG(1, 2))
	outcomes := map[string]int{}
	for i := 0; i < 300; i++ {
		raw := append([]byte(nil), orig...)
		for j := 0; j < 1+rng.IntN(4); j++ {
			raw[rng.IntN(len(raw))] ^= byte(1 + rng.IntN(255))
		}
		mustOK(t, os.WriteFile(path, raw, 0o600))
		outcomes[corruptRun(t, path, opt, p, b)]++
	}
	t.Logf("outcomes: %v", outcomes)
}

func corruptRun(t *testing.T, path string, opt Options, p app.Patient, b *app.Batch) string {
	v, err := Open(path, opt)
	if err != nil {
		return "open: " + kindName(err)
	}
	defer v.Close()
	if _, err := v.Unlock(ctx, append([]byte(nil), testPass...)); err != nil {
		return "unlock: " + kindName(err)
	}
	for _, d := range b.Documents {
		got, err := v.Document(ctx, p.ID, d.ID)
		if err != nil {
			return "read: " + kindName(err)
		}
		if !bytes.Equal(got, d.Bytes) {
			t.Fatal("wrong data returned from a corrupted file")
		}
	}
	if rep, err := v.Check(ctx); err != nil || !rep.OK() {
		return "check: problems"
	}
	return "intact"
}

func kindName(err error) string {
	if k := app.KindOf(err); k != nil {
		return k.Error()
	}
	return "other: " + err.Error()
}
