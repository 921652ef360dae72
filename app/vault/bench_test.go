package vault

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/crypto"
)

var (
	policyOnce sync.Once
	policyKDF  crypto.KDFParams
)

// policyParams calibrates Argon2id at policy once per test binary.
func policyParams(b *testing.B) *crypto.KDFParams {
	policyOnce.Do(func() {
		var err error
		if policyKDF, err = crypto.Calibrate(); err != nil {
			b.Fatal(err)
		}
		b.Logf("calibrated: %v", policyKDF)
	})
	p := policyKDF
	return &p
}

const (
	bulkN    = 10000
	bulkSize = 10 * 1024
	bulkPats = 100
)

// bulkFixture: 100 patients × 100 documents of 10 KB.
func bulkFixture() ([]app.Patient, []app.DocumentContent) {
	payloads := make([][]byte, 16)
	for i := range payloads {
		payloads[i] = make([]byte, bulkSize)
		for j := range payloads[i] {
			payloads[i][j] = byte(rand.IntN(256))
		}
	}
	var ps []app.Patient
	for i := 0; i < bulkPats; i++ {
		ps = append(ps, synthPatient(i))
	}
	docs := make([]app.DocumentContent, 0, bulkN)
	for i := 0; i < bulkN; i++ {
		p := ps[i%bulkPats]
		docs = append(docs, app.DocumentContent{Patient: p.ID, ID: app.DocumentID(fmt.Sprintf("doc-%d", i)), Bytes: payloads[i%len(payloads)]})
	}
	return ps, docs
}

// BenchmarkVaultBulkWrite: 10,000 × 10 KB in one transaction. plain: bbolt
// Put of the same bytes under the same blinded keys (computed beforehand) in
// a plain file; sealed: the vault's Write (blind + AES-GCM + Put).
func BenchmarkVaultBulkWrite(b *testing.B) {
	ps, docs := bulkFixture()
	b.Run("plain", func(b *testing.B) {
		bl := crypto.NewBlinder(mustKey(b))
		keys := make([][]byte, len(docs))
		for i, d := range docs {
			keys[i] = bl.Blind(domDoc, string(d.Patient), string(d.ID))
		}
		b.SetBytes(bulkN * bulkSize)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			db, err := bbolt.Open(filepath.Join(b.TempDir(), "plain.db"), 0o600, &bbolt.Options{FreelistType: bbolt.FreelistMapType})
			mustOK(b, err)
			mustOK(b, db.Update(func(tx *bbolt.Tx) error {
				for _, n := range allBuckets {
					if _, err := tx.CreateBucket([]byte(n)); err != nil {
						return err
					}
				}
				return nil
			}))
			b.StartTimer()
			mustOK(b, db.Update(func(tx *bbolt.Tx) error {
				bk := tx.Bucket([]byte(bDoc))
				for j, d := range docs {
					if err := bk.Put(keys[j], d.Bytes); err != nil {
						return err
					}
				}
				return nil
			}))
			b.StopTimer()
			mustOK(b, db.Close())
			b.StartTimer()
		}
	})
	b.Run("sealed", func(b *testing.B) {
		b.SetBytes(bulkN * bulkSize)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			v, _ := newTestVault(b, testOptions())
			mustOK(b, v.Write(ctx, &app.Batch{Patients: ps}))
			batch := &app.Batch{Documents: docs}
			b.StartTimer()
			mustOK(b, v.Write(ctx, batch))
			b.StopTimer()
			mustOK(b, v.Close())
			b.StartTimer()
		}
	})
}

func mustKey(b *testing.B) *crypto.Key {
	k, err := crypto.NewKey()
	mustOK(b, err)
	return k
}

// BenchmarkVaultOpenPatient: manifest + 20 × 10 KB documents, read and
// decrypted.
func BenchmarkVaultOpenPatient(b *testing.B) {
	v, _ := newTestVault(b, testOptions())
	for i := 0; i < 50; i++ {
		mustOK(b, v.Write(ctx, patientBatch(synthPatient(i), 20, bulkSize)))
	}
	p := synthPatient(25)
	b.SetBytes(20 * bulkSize)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m, err := v.Manifest(ctx, p.ID)
		if err != nil || len(m.Documents) != 20 {
			b.Fatal(err)
		}
		for _, d := range m.Documents {
			if _, err := v.Document(ctx, p.ID, d.ID); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkUnlock: Argon2id at policy + unwrap + header MAC + directory of
// 5,000 patients.
func BenchmarkUnlock(b *testing.B) {
	opt := testOptions()
	opt.KDF = policyParams(b)
	v, _ := newTestVault(b, opt)
	batch := &app.Batch{}
	for i := 0; i < 5000; i++ {
		batch.Patients = append(batch.Patients, synthPatient(i))
	}
	mustOK(b, v.Write(ctx, batch))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		v.Lock()
		rep, err := v.Unlock(ctx, append([]byte(nil), testPass...))
		if err != nil || rep.Patients != 5000 {
			b.Fatal(err)
		}
	}
}

// BenchmarkKDF: one DeriveKEK at the calibrated policy parameters (the
// baseline of BenchmarkPassphraseChange).
func BenchmarkKDF(b *testing.B) {
	p := policyParams(b)
	device := make([]byte, crypto.DeviceSecretSize)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k, err := crypto.DeriveKEK(testPass, device, *p, infoKEK)
		if err != nil {
			b.Fatal(err)
		}
		k.Wipe()
	}
}

// BenchmarkPassphraseChange on a 10,000-record vault at policy parameters.
func BenchmarkPassphraseChange(b *testing.B) {
	opt := testOptions()
	opt.KDF = policyParams(b)
	v, _ := newTestVault(b, opt)
	batch := &app.Batch{}
	for i := 0; i < 500; i++ {
		pb := patientBatch(synthPatient(i), 17, 200)
		batch.Patients = append(batch.Patients, pb.Patients...)
		batch.Manifests = append(batch.Manifests, pb.Manifests...)
		batch.Documents = append(batch.Documents, pb.Documents...)
		batch.Cursors = append(batch.Cursors, pb.Cursors...)
	}
	mustOK(b, v.Write(ctx, batch))
	passes := [2][]byte{testPass, otherPass}
	device := make([]byte, crypto.DeviceSecretSize)
	var change, kdf time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if err := v.ChangePassphrase(ctx, passes[i%2], passes[(i+1)%2]); err != nil {
			b.Fatal(err)
		}
		change += time.Since(start)
		// Paired baseline under the same machine load (this VM is shared):
		// one derivation at the same parameters, outside the timer.
		b.StopTimer()
		start = time.Now()
		k, err := crypto.DeriveKEK(testPass, device, *opt.KDF, infoKEK)
		mustOK(b, err)
		kdf += time.Since(start)
		k.Wipe()
		b.StartTimer()
	}
	b.ReportMetric(float64(change)/float64(kdf), "x-kdf")
}

// BenchmarkDirectorySearch: one keystroke (a single letter, cycling a–z)
// over 10,000 patients, 50 results shown.
func BenchmarkDirectorySearch(b *testing.B) {
	v, _ := newTestVault(b, testOptions())
	batch := &app.Batch{}
	for i := 0; i < 10000; i++ {
		batch.Patients = append(batch.Patients, synthPatient(i))
	}
	mustOK(b, v.Write(ctx, batch))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := v.SearchPatients(ctx, string(rune('a'+i%26)), 50); err != nil {
			b.Fatal(err)
		}
	}
}
