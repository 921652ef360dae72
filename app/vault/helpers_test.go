package vault

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
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

var (
	testPass  = []byte("correct horse battery staple")
	otherPass = []byte("another long passphrase 42")
	ctx       = context.Background()
)

// memKeyring is an in-memory crypto.Keyring.
type memKeyring struct {
	mu sync.Mutex
	m  map[string][]byte
}

func newMemKeyring() *memKeyring { return &memKeyring{m: map[string][]byte{}} }

func (k *memKeyring) Get(a string) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	s, ok := k.m[a]
	if !ok {
		return nil, crypto.ErrNoKeyring
	}
	return append([]byte(nil), s...), nil
}

func (k *memKeyring) Set(a string, s []byte) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.m[a] = append([]byte(nil), s...)
	return nil
}

func (k *memKeyring) Delete(a string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.m, a)
	return nil
}

func lightKDF() *crypto.KDFParams { p := crypto.LightParams(); return &p }

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func testOptions() Options {
	return Options{KDF: lightKDF(), Keyring: newMemKeyring(), Logger: quietLogger()}
}

// newTestVault creates an unlocked vault in a temp dir.
func newTestVault(t testing.TB, opt Options) (*Vault, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "carnet.vault")
	v, err := Open(path, opt)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Create(ctx, append([]byte(nil), testPass...), app.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	return v, path
}

func reopen(t testing.TB, v *Vault, path string, opt Options, pass []byte) *Vault {
	t.Helper()
	if v != nil {
		if err := v.Close(); err != nil {
			t.Fatal(err)
		}
	}
	nv, err := Open(path, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nv.Close() })
	if pass != nil {
		if _, err := nv.Unlock(ctx, append([]byte(nil), pass...)); err != nil {
			t.Fatal(err)
		}
	}
	return nv
}

var (
	surnames = []string{"Lefèvre", "Hénaff", "Dupré", "Bélanger", "Giraud-Lœuvre", "Côté", "Ménard", "Noël", "Fèvre", "Besançon", "Guérin", "Müller", "Aubérive", "Pérez", "Château", "Lemaître", "D'Alembert", "Œillet", "Ségal", "Brûlé"}
	givens   = []string{"Élodie", "Françoise", "Jérôme", "Hélène", "Anaïs", "Gaël", "Zoé", "Léa", "Maëlle", "Timothée", "Cécile", "Loïc", "Bérénice", "Raphaël", "Inès", "Noémie", "Joël", "Agnès", "Clément", "Aurélien"}
)

// synthPatient builds the i-th synthetic patient: accented names, a valid
// test INS, a birth date. The names carry i so that each is unique.
func synthPatient(i int) app.Patient {
	sex := 1 + i%2
	body := fmt.Sprintf("%d%02d%02d%02d%03d%03d", sex, 40+i%60, 1+i%12, 1+i%95, 100+i%900, 100+(i*7)%900)
	key, err := app.INSKey(body)
	if err != nil {
		panic(err)
	}
	return app.Patient{
		ID:              app.PatientID(fmt.Sprintf("p%05d", i)),
		INS:             app.INS{Matricule: body + key, OID: app.OIDINSNIRTest},
		Status:          app.IdentityQualified,
		BirthName:       fmt.Sprintf("%s%s", surnames[i%len(surnames)], suffix(i)),
		BirthGivenNames: givens[(i/3)%len(givens)] + " " + givens[(i/7)%len(givens)],
		BirthDate:       fmt.Sprintf("%04d-%02d-%02d", 1930+i%80, 1+i%12, 1+i%28),
		Sex:             app.Sex([]string{"F", "M"}[i%2]),
		BirthPlace:      "75056",
	}
}

// suffix makes names unique with letters (digits would be folded away).
func suffix(i int) string {
	const letters = "àbcdéfghïjklmnôpqrstùvwxyz"
	r := []rune(letters)
	return string([]rune{r[i%len(r)], r[(i/len(r))%len(r)]})
}

func synthManifest(p app.Patient, docs int) app.Manifest {
	m := app.Manifest{Patient: p.ID, CheckedAt: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)}
	for j := 0; j < docs; j++ {
		m.Documents = append(m.Documents, app.DocumentMeta{
			ID: app.DocumentID(fmt.Sprintf("1.2.250.1.999.%s.%d", p.ID, j)), Version: 1,
			TypeCode: "11488-4", Title: "Compte rendu de consultation de " + p.BirthName,
			Date: time.Date(2025, 1, 1+j, 0, 0, 0, 0, time.UTC), Author: "Dr Hélène Martin", Source: "dmp",
		})
	}
	return m
}

func docBytes(p app.Patient, j, size int) []byte {
	b := []byte(fmt.Sprintf("<ClinicalDocument>%s %s %s %s doc %d</ClinicalDocument>", p.BirthName, p.BirthGivenNames, p.INS.Matricule, p.BirthDate, j))
	for len(b) < size {
		b = append(b, byte('a'+rand.IntN(26)))
	}
	return b[:max(size, 0)]
}

// patientBatch is one patient with a manifest, docs documents and a cursor.
func patientBatch(p app.Patient, docs, size int) *app.Batch {
	m := synthManifest(p, docs)
	b := &app.Batch{Patients: []app.Patient{p}, Manifests: []app.Manifest{m},
		Cursors: []app.Cursor{{Patient: p.ID, Stream: "documents", Time: time.Unix(1700000000, 0).UTC(), Token: "tok"}}}
	for j, d := range m.Documents {
		b.Documents = append(b.Documents, app.DocumentContent{Patient: p.ID, ID: d.ID, Bytes: docBytes(p, j, size)})
	}
	return b
}

func mustOK(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func mustKind(t testing.TB, err, kind error) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("error %v, want %v", err, kind)
	}
}

func checkOK(t testing.TB, v *Vault) app.CheckReport {
	t.Helper()
	rep, err := v.Check(ctx)
	mustOK(t, err)
	if !rep.OK() {
		t.Fatalf("check: %v", rep.Problems)
	}
	return rep
}

type rawRecord struct {
	bucket   string
	key, val []byte
}

// rawDump reads every key/value of a closed vault file with a plain bbolt
// handle; a large value kept in a bucket of its own (bigval.go) is read
// under its record's key.
func rawDump(t testing.TB, path string) []rawRecord {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: time.Second})
	mustOK(t, err)
	defer db.Close()
	var out []rawRecord
	mustOK(t, db.View(func(tx *bbolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bbolt.Bucket) error {
			return b.ForEach(func(k, v []byte) error {
				if nb := b.Bucket(k); v == nil && nb != nil {
					v = nb.Get(bigKey)
				}
				out = append(out, rawRecord{string(name), append([]byte(nil), k...), append([]byte(nil), v...)})
				return nil
			})
		})
	}))
	return out
}

// rawUpdate edits a closed vault file with a plain bbolt handle.
func rawUpdate(t testing.TB, path string, fn func(tx *bbolt.Tx) error) {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second})
	mustOK(t, err)
	defer db.Close()
	mustOK(t, db.Update(fn))
}

func fileSHA(t testing.TB, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	mustOK(t, err)
	return sha256.Sum256(b)
}

// minNeedle is the shortest needle countIn looks for.
const minNeedle = 6

// countIn counts the occurrences of the needles in hay. Needles shorter than
// minNeedle bytes are skipped: a 3-byte name ("Léa") turns up by chance in a
// few megabytes of ciphertext, which proves nothing.
func countIn(hay []byte, needles ...string) int {
	n := 0
	for _, s := range needles {
		if len(s) >= minNeedle {
			n += bytes.Count(hay, []byte(s))
		}
	}
	return n
}

// forgetMirror removes the rollback counter's mirror (keyring entries and
// file): the tests that put an earlier copy of a file back on purpose
// would otherwise meet app.ErrOlderVault.
func forgetMirror(t testing.TB, opt Options, path string) {
	t.Helper()
	if kr, ok := opt.Keyring.(*memKeyring); ok {
		kr.mu.Lock()
		for a := range kr.m {
			if strings.HasSuffix(a, ".counter") {
				delete(kr.m, a)
			}
		}
		kr.mu.Unlock()
	}
	if err := os.Remove(path + ".counter"); err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
}
