package vault

import (
	"os"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/carnetdesk/carnet/app"
)

func declaration(id, name string, at time.Time) app.Declaration {
	return app.Declaration{ID: app.DeclarationID(id), Medication: app.Medication{Kind: app.MedicationDeclared, Name: name,
		Dose: "1 comprimé", Source: app.MedicationSource{Author: "IDE Accueil", Date: at}}}
}

func TestDeclarationsRoundTripPurgeCheck(t *testing.T) {
	opt := testOptions()
	v, path := newTestVault(t, opt)
	p, q := synthPatient(1), synthPatient(2)
	mustOK(t, v.Write(ctx, patientBatch(p, 2, 600)))
	mustOK(t, v.Write(ctx, &app.Batch{Patients: []app.Patient{q}}))
	before := checkOK(t, v)

	// None yet (and no bucket yet).
	ds, err := v.Declarations(ctx, p.ID)
	mustOK(t, err)
	if len(ds) != 0 {
		t.Fatalf("declarations of a new patient: %+v", ds)
	}
	_, err = v.Declarations(ctx, "nobody")
	mustKind(t, err, app.ErrNotFound)

	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	const canary = "Canarimycine 500 mg"
	mustOK(t, v.Write(ctx, &app.Batch{Declarations: []app.DeclarationSet{
		{Patient: p.ID, Put: []app.Declaration{declaration("d2", canary, at.Add(time.Hour)), declaration("d1", "Millepertuis", at)}},
		{Patient: q.ID, Put: []app.Declaration{declaration("dq", "Doliprane 1 g", at)}},
	}}))
	// Merged inside the transaction: a second batch adds, replaces, removes.
	mustOK(t, v.Write(ctx, &app.Batch{Declarations: []app.DeclarationSet{
		{Patient: p.ID, Put: []app.Declaration{declaration("d3", "Ozempic", at.Add(2*time.Hour))}},
		{Patient: p.ID, Put: []app.Declaration{declaration("d1", "Millepertuis (tisane)", at)}, Remove: []app.DeclarationID{"nope"}},
	}}))

	v = reopen(t, v, path, opt, testPass)
	ds, err = v.Declarations(ctx, p.ID)
	mustOK(t, err)
	var names []string
	for _, d := range ds {
		names = append(names, string(d.ID)+"="+d.Medication.Name)
	}
	if got := strings.Join(names, ","); got != "d1=Millepertuis (tisane),d2="+canary+",d3=Ozempic" {
		t.Fatalf("declarations %s", got)
	}
	if ds[1].Medication.Source.Author != "IDE Accueil" || !ds[1].Medication.Source.Date.Equal(at.Add(time.Hour)) {
		t.Fatalf("declaration %+v", ds[1])
	}
	rep := checkOK(t, v)
	if rep.Declared != 4 || rep.Records-before.Records != 2 {
		t.Fatalf("check: %d declarations in %d more records, want 4 in 2", rep.Declared, rep.Records-before.Records)
	}

	// Invalid sets are refused whole.
	mustKind(t, v.Write(ctx, &app.Batch{Declarations: []app.DeclarationSet{{Patient: p.ID, Put: []app.Declaration{{}}}}}), app.ErrInvalid)
	mustKind(t, v.Write(ctx, &app.Batch{Declarations: []app.DeclarationSet{{Put: []app.Declaration{declaration("x", "X", at)}}}}), app.ErrInvalid)
	mustKind(t, v.Write(ctx, &app.Batch{Declarations: []app.DeclarationSet{{Patient: "nobody", Put: []app.Declaration{declaration("x", "X", at)}}}}), app.ErrNotFound)

	// Removing the last one removes the record.
	mustOK(t, v.Write(ctx, &app.Batch{Declarations: []app.DeclarationSet{{Patient: q.ID, Remove: []app.DeclarationID{"dq"}}}}))
	if rep := checkOK(t, v); rep.Declared != 3 {
		t.Fatalf("after removal: %d declarations", rep.Declared)
	}

	// Sealed: the name never appears in the file.
	mustOK(t, v.Close())
	raw, err := os.ReadFile(path)
	mustOK(t, err)
	if n := countIn(raw, canary, strings.ToUpper(canary), "Millepertuis"); n != 0 {
		t.Fatalf("%d canary hits in the vault file", n)
	}

	// Purge shreds them with the patient's key; nothing is left behind and
	// the check is clean.
	v = reopen(t, nil, path, opt, testPass)
	mustOK(t, v.Purge(ctx, p.ID))
	_, err = v.Declarations(ctx, p.ID)
	mustKind(t, err, app.ErrNotFound)
	if rep := checkOK(t, v); rep.Declared != 0 {
		t.Fatalf("after purge: %d declarations", rep.Declared)
	}
	mustOK(t, v.Close())
	for _, r := range rawDump(t, path) {
		if r.bucket == bDecl {
			t.Fatalf("a declaration record survived the purge")
		}
	}
	v = reopen(t, nil, path, opt, testPass)
	v.Lock()
	_, err = v.Declarations(ctx, q.ID)
	mustKind(t, err, app.ErrLocked)
}

// TestDeclarationsTamper moves a declaration record under another patient
// and leaves an orphan: nothing opens, Check names the bucket.
func TestDeclarationsTamper(t *testing.T) {
	opt := testOptions()
	v, path := newTestVault(t, opt)
	p, q := synthPatient(1), synthPatient(2)
	mustOK(t, v.Write(ctx, &app.Batch{Patients: []app.Patient{p, q}}))
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	mustOK(t, v.Write(ctx, &app.Batch{Declarations: []app.DeclarationSet{{Patient: p.ID, Put: []app.Declaration{declaration("d1", "X", at)}}}}))
	var pKey, qKey []byte
	mustOK(t, v.read("test", func(tx *bbolt.Tx, k *keys) error {
		pKey, qKey = declRecords.key(k.blinder(), p.ID), declRecords.key(k.blinder(), q.ID)
		return nil
	}))
	mustOK(t, v.Close())
	rawUpdate(t, path, func(tx *bbolt.Tx) error {
		b := tx.Bucket([]byte(bDecl))
		val := append([]byte(nil), b.Get(pKey)...)
		if err := b.Put(qKey, val); err != nil { // p's record under q's key
			return err
		}
		return b.Put([]byte("orphan-record-key"), val)
	})
	v = reopen(t, nil, path, opt, testPass)
	_, err := v.Declarations(ctx, q.ID)
	mustKind(t, err, app.ErrDamaged)
	rep, err := v.Check(ctx)
	mustOK(t, err)
	text := strings.Join(rep.Problems, "\n")
	if !strings.Contains(text, "bucket decl") || !strings.Contains(text, "decl: 1 records belong to no patient") {
		t.Fatalf("problems %q", text)
	}
}
