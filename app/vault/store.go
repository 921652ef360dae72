package vault

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"time"

	"go.etcd.io/bbolt"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/crypto"
)

// read holds v.mu for reading, checks that the vault is unlocked, and runs
// fn in a read transaction; errors read "vault: op: …". It is the frame of
// every read method.
func (v *Vault) read(op string, fn func(tx *bbolt.Tx, k *keys) error) error {
	v.mu.RLock()
	defer v.mu.RUnlock()
	k, err := v.unlocked(op)
	if err != nil {
		return err
	}
	if err := v.view(v.db, func(tx *bbolt.Tx) error { return fn(tx, k) }); err != nil {
		return fmt.Errorf("vault: %s: %w", op, err)
	}
	return nil
}

// write is read's counterpart for one read-write transaction.
func (v *Vault) write(op string, fn func(tx *bbolt.Tx, k *keys) error) error {
	v.mu.RLock()
	defer v.mu.RUnlock()
	k, err := v.unlocked(op)
	if err != nil {
		return err
	}
	if err := v.update(v.db, func(tx *bbolt.Tx) error { return fn(tx, k) }); err != nil {
		return fmt.Errorf("vault: %s: %w", op, err)
	}
	return nil
}

// readDir holds v.mu and the directory lock for reading, checks that the
// vault is unlocked, and runs fn on the in-memory directory.
func (v *Vault) readDir(op string, fn func(d *app.Directory) error) error {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if _, err := v.unlocked(op); err != nil {
		return err
	}
	v.dirMu.RLock()
	defer v.dirMu.RUnlock()
	return fn(v.dir)
}

// SearchPatients searches the in-memory directory (app.Directory.Search).
func (v *Vault) SearchPatients(ctx context.Context, query string, limit int) ([]app.Patient, error) {
	var out []app.Patient
	err := v.readDir("search patients", func(d *app.Directory) error {
		out = d.Search(query, limit)
		return nil
	})
	return out, err
}

// Patient returns one patient of the directory (app.ErrNotFound if absent).
func (v *Vault) Patient(ctx context.Context, id app.PatientID) (app.Patient, error) {
	var p app.Patient
	err := v.readDir("patient", func(d *app.Directory) error {
		var ok bool
		if p, ok = d.Get(id); !ok {
			return fmt.Errorf("vault: patient: %w", app.ErrNotFound)
		}
		return nil
	})
	return p, err
}

// Patients returns the whole directory, sorted by name.
func (v *Vault) Patients(ctx context.Context) ([]app.Patient, error) {
	var out []app.Patient
	err := v.readDir("patients", func(d *app.Directory) error {
		out = d.All()
		return nil
	})
	return out, err
}

// PatientsByINS returns the patients carrying ins (app.Directory.ByINS).
func (v *Vault) PatientsByINS(ctx context.Context, ins app.INS) ([]app.Patient, error) {
	var out []app.Patient
	err := v.readDir("patients by INS", func(d *app.Directory) error {
		out = d.ByINS(ins)
		return nil
	})
	return out, err
}

// Manifest returns a patient's cached document list: an empty manifest
// when none was stored, app.ErrNotFound for an unknown patient. Each
// DocumentMeta.Cached is set from the vault itself (the content is present),
// whatever the writer said.
func (v *Vault) Manifest(ctx context.Context, id app.PatientID) (app.Manifest, error) {
	if err := v.readable("read manifest", id); err != nil {
		return app.Manifest{}, err
	}
	m := app.Manifest{Patient: id}
	err := v.read("read manifest", func(tx *bbolt.Tx, k *keys) error {
		bl := k.blinder()
		d, err := k.patientKey(tx, bl, id)
		if err != nil {
			return err
		}
		key := bl.Blind(domMan, string(id))
		val := tx.Bucket([]byte(bMan)).Get(key)
		if val == nil {
			return nil
		}
		if err := openJSON(d.aead, bMan, key, kindMan, val, &m); err != nil {
			return err
		}
		docs := tx.Bucket([]byte(bDoc))
		for i := range m.Documents {
			m.Documents[i].Cached = getBig(docs, bl.Blind(domDoc, string(id), string(m.Documents[i].ID))) != nil
		}
		return nil
	})
	if err != nil {
		return app.Manifest{}, err
	}
	return m, nil
}

// Document returns the content of a cached document.
func (v *Vault) Document(ctx context.Context, id app.PatientID, doc app.DocumentID) ([]byte, error) {
	if err := v.readable("read document", id); err != nil {
		return nil, err
	}
	var out []byte
	err := v.read("read document", func(tx *bbolt.Tx, k *keys) error {
		bl := k.blinder()
		d, err := k.patientKey(tx, bl, id)
		if err != nil {
			return err
		}
		key := bl.Blind(domDoc, string(id), string(doc))
		val := getBig(tx.Bucket([]byte(bDoc)), key)
		if val == nil {
			return fmt.Errorf("document: %w", app.ErrNotFound)
		}
		out, err = open(d.aead, bDoc, key, kindDoc, val)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Cursor returns a sync cursor, or the zero Cursor when none was stored.
// An empty patient id names a global stream.
func (v *Vault) Cursor(ctx context.Context, id app.PatientID, stream string) (app.Cursor, error) {
	var c app.Cursor
	err := v.read("read cursor", func(tx *bbolt.Tx, k *keys) error {
		bl := k.blinder()
		a, err := k.cursorAEAD(tx, bl, id)
		if errors.Is(err, app.ErrNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		m, err := readCursors(tx, a, bl.Blind(domCur, string(id)))
		c = m[stream]
		return err
	})
	if err != nil {
		return app.Cursor{}, err
	}
	return c, nil
}

// Outbox returns every outbox item, oldest first (by CreatedAt, then id).
func (v *Vault) Outbox(ctx context.Context) ([]app.OutboxItem, error) {
	var items []app.OutboxItem
	err := v.read("read outbox", func(tx *bbolt.Tx, k *keys) error {
		var err error
		items, err = readOutbox(tx, k)
		return err
	})
	if err != nil {
		return nil, err
	}
	return items, nil
}

func readOutbox(tx *bbolt.Tx, k *keys) ([]app.OutboxItem, error) {
	b, err := bucket(tx, bOut)
	if err != nil {
		return nil, err
	}
	return listSealed(b, k.outA, bOut, kindOut, func(it app.OutboxItem) (time.Time, string) { return it.CreatedAt, string(it.ID) })
}

// listSealed opens every sealed JSON record of bucket b (named name, of
// kind kind) and returns them oldest first, by (created, id) as order
// gives them: the inbox and the outbox are listed so. A record that does
// not open fails the listing (the records read before are returned with
// the error).
func listSealed[T any](b *bbolt.Bucket, a *crypto.AEAD, name string, kind byte, order func(T) (created time.Time, id string)) ([]T, error) {
	var items []T
	err := b.ForEach(func(key, val []byte) error {
		var it T
		if err := openJSON(a, name, key, kind, val, &it); err != nil {
			return err
		}
		items = append(items, it)
		return nil
	})
	sort.SliceStable(items, func(i, j int) bool {
		ci, ii := order(items[i])
		cj, ij := order(items[j])
		if !ci.Equal(cj) {
			return ci.Before(cj)
		}
		return ii < ij
	})
	return items, err
}

// Write applies a batch in one bbolt transaction: all of it or nothing.
// A patient with an empty ID is new: a random ID is drawn and written back
// into b.Patients. A new patient gets a fresh data key. Manifests,
// documents and cursors must belong to a patient of the directory (or of
// the batch); otherwise the batch is refused with app.ErrInvalid.
func (v *Vault) Write(ctx context.Context, b *app.Batch) error {
	return v.writeBatch(ctx, b, false)
}

// WriteReleasing is Write for a batch its caller lets go of (implements
// app.BatchReleaser): the bytes of each document and raw message are
// dropped from b (set to nil) as soon as they are sealed, so that the
// commit holds their sealed copy and bbolt's pages, not the plaintext as
// well (the mail import commits units of several megabytes); after the
// commit, the pages of the file the transaction read are let go of too
// (dropResident). b must not be written again.
func (v *Vault) WriteReleasing(ctx context.Context, b *app.Batch) error {
	return v.writeBatch(ctx, b, true)
}

func (v *Vault) writeBatch(ctx context.Context, b *app.Batch, release bool) error {
	if b == nil || b.Empty() {
		return nil
	}
	v.mu.RLock()
	defer v.mu.RUnlock()
	k, err := v.unlocked("write")
	if err != nil {
		return err
	}
	if err := v.prepare(b); err != nil {
		return fmt.Errorf("vault: write: %w", err)
	}
	for i := range b.Audit {
		if b.Audit[i].Time.IsZero() {
			b.Audit[i].Time = v.opt.Clock.Now()
		}
	}
	fresh := map[string]*dek{} // data keys drawn by this batch
	err = v.update(v.db, func(tx *bbolt.Tx) error { return writeBatch(tx, k, b, fresh, release) })
	if err != nil {
		for _, d := range fresh {
			d.key.Wipe()
		}
		return fmt.Errorf("vault: write: %w", err)
	}
	for kk, d := range fresh {
		k.remember([]byte(kk), d)
	}
	if release {
		dropResident(v.db) // dropmap_linux.go: the import's commits follow one another
	}
	if len(b.Patients) > 0 {
		v.dirMu.Lock()
		for _, p := range b.Patients {
			v.dir.Put(p)
		}
		v.dirMu.Unlock()
	}
	return nil
}

// prepare draws missing patient ids and checks that every record belongs
// to a known patient.
func (v *Vault) prepare(b *app.Batch) error {
	known := map[app.PatientID]bool{}
	for i := range b.Patients {
		if b.Patients[i].ID == "" {
			r, err := crypto.Random(16)
			if err != nil {
				return err
			}
			b.Patients[i].ID = app.PatientID(hex.EncodeToString(r))
		}
		known[b.Patients[i].ID] = true
	}
	v.dirMu.RLock()
	defer v.dirMu.RUnlock()
	check := func(id app.PatientID, what string) error {
		if known[id] {
			return nil
		}
		if _, ok := v.dir.Get(id); ok {
			known[id] = true
			return nil
		}
		return fmt.Errorf("%s for a patient not in the directory: %w", what, app.ErrInvalid)
	}
	for _, m := range b.Manifests {
		if err := check(m.Patient, "manifest"); err != nil {
			return err
		}
	}
	for _, d := range b.Documents {
		if d.ID == "" {
			return fmt.Errorf("document without id: %w", app.ErrInvalid)
		}
		if err := check(d.Patient, "document"); err != nil {
			return err
		}
	}
	for _, g := range b.DocumentsGone {
		if g.ID == "" || g.Patient == "" {
			return fmt.Errorf("removed document without patient or id: %w", app.ErrInvalid)
		}
	}
	for _, c := range b.Cursors {
		if c.Stream == "" {
			return fmt.Errorf("cursor without stream: %w", app.ErrInvalid)
		}
		if c.Patient != "" {
			if err := check(c.Patient, "cursor"); err != nil {
				return err
			}
		}
	}
	for _, it := range b.Outbox {
		if it.ID == "" {
			return fmt.Errorf("outbox item without id: %w", app.ErrInvalid)
		}
	}
	return nil
}

// writeBatch applies b in tx; release drops each document's bytes from b
// once sealed (WriteReleasing).
func writeBatch(tx *bbolt.Tx, k *keys, b *app.Batch, fresh map[string]*dek, release bool) error {
	bl := k.blinder()
	bk := map[string]*bbolt.Bucket{}
	for _, n := range allBuckets {
		var err error
		if bk[n], err = bucket(tx, n); err != nil {
			return err
		}
	}
	local := map[app.PatientID]*dek{}
	dekOf := func(id app.PatientID) (*dek, error) {
		if d := local[id]; d != nil {
			return d, nil
		}
		kk := bl.Blind(domKey, string(id))
		d := fresh[string(kk)]
		if d == nil {
			var err error
			if d, err = k.patientKey(tx, bl, id); err != nil {
				return nil, err
			}
		}
		local[id] = d
		return d, nil
	}
	for _, p := range b.Patients {
		key := bl.Blind(domDir, string(p.ID))
		val, err := sealJSON(k.dirA, bDir, key, kindDir, p)
		if err != nil {
			return err
		}
		if err := bk[bDir].Put(key, val); err != nil {
			return err
		}
		kk := bl.Blind(domKey, string(p.ID))
		if bk[bKeys].Get(kk) != nil || fresh[string(kk)] != nil {
			continue
		}
		d, w, err := k.newDEK(kk)
		if err != nil {
			return err
		}
		fresh[string(kk)] = d
		if err := bk[bKeys].Put(kk, w); err != nil {
			return err
		}
	}
	for _, m := range b.Manifests {
		d, err := dekOf(m.Patient)
		if err != nil {
			return err
		}
		key := bl.Blind(domMan, string(m.Patient))
		val, err := sealJSON(d.aead, bMan, key, kindMan, m)
		if err != nil {
			return err
		}
		if err := bk[bMan].Put(key, val); err != nil {
			return err
		}
	}
	for i, doc := range b.Documents {
		d, err := dekOf(doc.Patient)
		if err != nil {
			return err
		}
		// The cheap path: raw bytes, no encoding around the content.
		key := bl.Blind(domDoc, string(doc.Patient), string(doc.ID))
		if err := putBig(bk[bDoc], key, seal(d.aead, bDoc, key, kindDoc, doc.Bytes)); err != nil { // bigval.go
			return err
		}
		if release {
			b.Documents[i].Bytes = nil
		}
	}
	if err := writeCursors(tx, k, bl, b.Cursors, dekOf); err != nil {
		return err
	}
	for _, it := range b.Outbox {
		key := bl.Blind(domOut, string(it.ID))
		val, err := sealJSON(k.outA, bOut, key, kindOut, it)
		if err != nil {
			return err
		}
		if err := bk[bOut].Put(key, val); err != nil {
			return err
		}
	}
	for _, id := range b.OutboxDone {
		if err := bk[bOut].Delete(bl.Blind(domOut, string(id))); err != nil {
			return err
		}
	}
	for _, g := range b.DocumentsGone {
		if err := deleteBig(bk[bDoc], bl.Blind(domDoc, string(g.Patient), string(g.ID))); err != nil {
			return err
		}
	}
	if err := writeMail(tx, k, b, release); err != nil { // mail.go
		return err
	}
	if err := writeDeclarations(tx, bl, b.Declarations, dekOf); err != nil { // declared.go
		return err
	}
	if err := writePreop(tx, bl, b.Preop, dekOf); err != nil { // preop.go
		return err
	}
	for _, e := range b.Audit { // audit.go: the events of this change, committed with it
		if err := appendAudit(tx, k, e); err != nil {
			return err
		}
	}
	return nil
}

// writeCursors merges cursors into each patient's cursor record.
func writeCursors(tx *bbolt.Tx, k *keys, bl *crypto.Blinder, cs []app.Cursor, dekOf func(app.PatientID) (*dek, error)) error {
	byPatient := map[app.PatientID][]app.Cursor{}
	for _, c := range cs {
		byPatient[c.Patient] = append(byPatient[c.Patient], c)
	}
	for id, list := range byPatient {
		a := k.dirA // global streams
		if id != "" {
			d, err := dekOf(id)
			if err != nil {
				return err
			}
			a = d.aead
		}
		key := bl.Blind(domCur, string(id))
		m, err := readCursors(tx, a, key)
		if err != nil {
			return err
		}
		if m == nil {
			m = map[string]app.Cursor{}
		}
		for _, c := range list {
			m[c.Stream] = c
		}
		val, err := sealJSON(a, bCur, key, kindCur, m)
		if err != nil {
			return err
		}
		if err := tx.Bucket([]byte(bCur)).Put(key, val); err != nil {
			return err
		}
	}
	return nil
}

// Settings returns the vault's settings, app.DefaultSettings() when never
// saved.
func (v *Vault) Settings(ctx context.Context) (app.Settings, error) {
	s := app.DefaultSettings()
	err := v.read("read settings", func(tx *bbolt.Tx, k *keys) error {
		b, err := bucket(tx, bSet)
		if err != nil {
			return err
		}
		key := k.blinder().Blind(domSettings)
		if val := b.Get(key); val != nil {
			return openJSON(k.setA, bSet, key, kindSet, val, &s)
		}
		return nil
	})
	if err != nil {
		return app.Settings{}, err
	}
	return s, nil
}

// SaveSettings validates and stores the settings.
func (v *Vault) SaveSettings(ctx context.Context, s app.Settings) error {
	if err := s.Validate(); err != nil {
		return fmt.Errorf("vault: save settings: %w", err)
	}
	err := v.write("save settings", func(tx *bbolt.Tx, k *keys) error {
		b, err := bucket(tx, bSet)
		if err != nil {
			return err
		}
		key := k.blinder().Blind(domSettings)
		val, err := sealJSON(k.setA, bSet, key, kindSet, s)
		if err != nil {
			return err
		}
		return b.Put(key, val)
	})
	if err == nil {
		v.revalidationDays.Store(int64(s.RevalidationDays))
	}
	return err
}
