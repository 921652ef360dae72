package dmptest

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/carnetdesk/carnet/sync/dmp/fhir"
	bolt "go.etcd.io/bbolt"
)

// persist keeps touched records in a bbolt file: a record is written whole
// (JSON) after each change; untouched patients are regenerated from the
// seed on first access, so the file stays small.
type persist struct {
	db *bolt.DB
}

var bucketRecords = []byte("records")

func openPersist(dir string) (*persist, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("dmptest: data dir: %w", err)
	}
	db, err := bolt.Open(filepath.Join(dir, "sandbox.db"), 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("dmptest: open store: %w", err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucketRecords)
		return err
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("dmptest: open store: %w", err)
	}
	return &persist{db: db}, nil
}

func (p *persist) close() error { return p.db.Close() }

// storedList is a submission set with member ids instead of pointers.
type storedList struct {
	List      *subset
	MemberIDs []string
}

type storedRecord struct {
	Record      *record
	StoredLists []storedList
	Generated   bool
}

// persistLater writes rec to the store, when there is one. Callers hold
// s.data.mu. (Named for what a real service would do; the sandbox writes
// synchronously.)
func (s *Server) persistLater(rec *record) {
	if s.store == nil || rec == nil {
		return
	}
	sr := storedRecord{Record: rec, Generated: rec.generated}
	for _, l := range rec.Lists {
		sl := storedList{List: l}
		for _, m := range l.Members {
			sl.MemberIDs = append(sl.MemberIDs, m.Ref.ID)
		}
		sr.StoredLists = append(sr.StoredLists, sl)
	}
	b, err := json.Marshal(sr)
	if err == nil {
		err = s.store.db.Update(func(tx *bolt.Tx) error {
			return tx.Bucket(bucketRecords).Put([]byte(fhir.INSToken(rec.Patient.INS).String()), b)
		})
	}
	if errors.Is(err, bolt.ErrDatabaseNotOpen) {
		return // a request held by a pause, answered after Close: nothing to keep
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "dmptest: persist %s: %v\n", rec.Patient.ID, err)
	}
}

// load restores the stored records over the generated state.
func (p *persist) load(s *Server) error {
	s.data.mu.Lock()
	defer s.data.mu.Unlock()
	return p.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRecords).ForEach(func(k, v []byte) error {
			var sr storedRecord
			if err := json.Unmarshal(v, &sr); err != nil {
				return fmt.Errorf("dmptest: stored record: %w", err)
			}
			rec := sr.Record
			rec.generated = sr.Generated
			docs := rec.Docs
			rec.Docs, rec.Lists = nil, nil
			if old := s.data.records[string(k)]; old != nil {
				for _, d := range old.Docs { // a Fixed patient: replace it
					delete(s.data.docs, d.Ref.ID)
					delete(s.data.binaries, d.BinaryID)
					delete(s.data.unique, d.Ref.UniqueID())
				}
			}
			for _, d := range docs {
				s.data.seq = max(s.data.seq, d.Seq)
				s.data.register(rec, d)
			}
			byID := map[string]*doc{}
			for _, d := range rec.Docs {
				byID[d.Ref.ID] = d
			}
			for _, sl := range sr.StoredLists {
				l := sl.List
				l.Members = nil
				for _, id := range sl.MemberIDs {
					if d := byID[id]; d != nil {
						l.Members = append(l.Members, d)
					}
				}
				s.data.seq = max(s.data.seq, l.Seq)
				rec.Lists = append(rec.Lists, l)
			}
			for _, t := range rec.Audit {
				s.data.seq = max(s.data.seq, t.Seq)
			}
			s.data.records[string(k)] = rec
			if rec.Index >= 0 && rec.Index < len(s.data.byIndex) {
				s.data.byIndex[rec.Index] = rec
			}
			return nil
		})
	})
}
