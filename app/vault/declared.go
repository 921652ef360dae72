package vault

import (
	"context"
	"fmt"
	"sort"

	"go.etcd.io/bbolt"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/crypto"
)

// Medications declared by patients (app/declaration.go) in the vault: one
// bucket, created on the first declaration (a vault made before it simply
// has none yet):
//
//	decl    one record per patient: the JSON list of its app.Declaration,
//	        sealed with the patient's data key under the blinded key
//	        (decl, patient id)
//
// Like the manifest and the cursors, the record is the patient's: sealed
// with the patient's DEK, so Purge shreds it with the key (and deletes it
// in the same transaction), and Check opens it with the other records of
// the patient. Batch.Declarations are merged into the stored list inside
// Write's transaction.

// bDecl is the bucket of the declarations; created on demand, Check
// tolerates its absence.
const bDecl = "decl"

// declRecords are the declaration records: kind 0x50 (a range of its own,
// apart from records.go and mail.go), []app.Declaration (JSON), patient
// key, blind domain "decl".
var declRecords = patientRecords{bucket: bDecl, dom: "decl", kind: 0x50}

// Declarations returns the medications the patient declared, oldest first
// (by entry time, then id): none when nothing was declared, app.ErrNotFound
// for a patient without a data key. The re-validation rule applies as to the
// manifest.
func (v *Vault) Declarations(ctx context.Context, id app.PatientID) ([]app.Declaration, error) {
	if err := v.readable("read declarations", id); err != nil {
		return nil, err
	}
	var out []app.Declaration
	err := v.read("read declarations", func(tx *bbolt.Tx, k *keys) error {
		bl := k.blinder()
		d, err := k.patientKey(tx, bl, id)
		if err != nil {
			return err
		}
		out, err = readDeclarations(tx, d.aead, declRecords.key(bl, id))
		return err
	})
	if err != nil {
		return nil, err
	}
	sortDeclarations(out)
	return out, nil
}

// readDeclarations opens a patient's declaration record (nil when absent).
func readDeclarations(tx *bbolt.Tx, a *crypto.AEAD, key []byte) ([]app.Declaration, error) {
	var ds []app.Declaration
	if _, err := declRecords.read(tx, a, key, &ds); err != nil {
		return nil, err
	}
	return ds, nil
}

func sortDeclarations(ds []app.Declaration) {
	sort.SliceStable(ds, func(i, j int) bool {
		a, b := ds[i].Medication.Source.Date, ds[j].Medication.Source.Date
		if !a.Equal(b) {
			return a.Before(b)
		}
		return ds[i].ID < ds[j].ID
	})
}

// writeDeclarations merges the declaration sets of a batch into each
// patient's record, inside Write's transaction. A list left empty removes
// the record. A set without patient or with an empty id is app.ErrInvalid;
// a patient without a data key (not in the directory) app.ErrNotFound:
// either fails the whole batch.
func writeDeclarations(tx *bbolt.Tx, bl *crypto.Blinder, sets []app.DeclarationSet, dekOf func(app.PatientID) (*dek, error)) error {
	if len(sets) == 0 {
		return nil
	}
	for _, set := range sets {
		if set.Patient == "" {
			return fmt.Errorf("declarations without patient: %w", app.ErrInvalid)
		}
		for _, d := range set.Put {
			if d.ID == "" {
				return fmt.Errorf("declaration without id: %w", app.ErrInvalid)
			}
		}
		for _, id := range set.Remove {
			if id == "" {
				return fmt.Errorf("removed declaration without id: %w", app.ErrInvalid)
			}
		}
	}
	b, err := tx.CreateBucketIfNotExists([]byte(bDecl))
	if err != nil {
		return err
	}
	byPatient := map[app.PatientID][]app.DeclarationSet{}
	var order []app.PatientID
	for _, s := range sets {
		if _, ok := byPatient[s.Patient]; !ok {
			order = append(order, s.Patient)
		}
		byPatient[s.Patient] = append(byPatient[s.Patient], s)
	}
	for _, id := range order {
		d, err := dekOf(id)
		if err != nil {
			return err
		}
		key := declRecords.key(bl, id)
		list, err := readDeclarations(tx, d.aead, key)
		if err != nil {
			return err
		}
		for _, s := range byPatient[id] {
			for _, p := range s.Put {
				replaced := false
				for i := range list {
					if list[i].ID == p.ID {
						list[i], replaced = p, true
					}
				}
				if !replaced {
					list = append(list, p)
				}
			}
			for _, gone := range s.Remove {
				for i := 0; i < len(list); i++ {
					if list[i].ID == gone {
						list = append(list[:i], list[i+1:]...)
						i--
					}
				}
			}
		}
		sortDeclarations(list)
		if err := declRecords.store(b, d.aead, key, list, len(list) == 0); err != nil {
			return err
		}
	}
	return nil
}

// purgeDeclarations deletes a patient's declaration record inside Purge's
// transaction (after the key: the record is already unreadable).
func purgeDeclarations(tx *bbolt.Tx, bl *crypto.Blinder, id app.PatientID) error {
	return declRecords.purge(tx, bl, id)
}

// declarations checks the declaration records: each opens with its
// patient's key (unwrapped by patient) and lists declarations with ids;
// records of no patient of the directory are reported.
func (c *checker) declarations(ps []app.Patient) {
	checkPatientRecords(c, declRecords, ps, func(key []byte, ds []app.Declaration) {
		for _, x := range ds {
			if x.ID == "" {
				c.problem("decl: record %x… holds a declaration without id", key[:4])
				break
			}
		}
		c.rep.Declared += len(ds)
	})
}
