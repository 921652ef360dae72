// Package apptest provides in-memory implementations of Carnet's ports for
// unit tests that cross a layer (the UI over app.Service, for example).
// Adapters are tested against their real dependencies, not against these.
package apptest

import (
	"bytes"
	"context"
	"crypto/sha1" // #nosec G505 -- a stand-in fingerprint, not security
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/carnetdesk/carnet/app"
)

var _ app.Store = (*Store)(nil)

// Store is an in-memory app.Store. It keeps its passphrase in clear and
// compares it byte for byte: a stand-in for the vault, never a model of it.
// It honours the locking rules: every method that touches patient data
// returns an error wrapping app.ErrLocked while the store is locked.
//
// The exported fields let a test shape the store's answers; set them before
// the store is shared with other goroutines. Store is safe for concurrent
// use.
type Store struct {
	// UnlockErr, when set, is returned by Unlock whatever the passphrase
	// (app.ErrDamaged, app.ErrInUse…).
	UnlockErr error
	// Warnings are returned in the UnlockReport of every successful Unlock.
	Warnings []app.Warning
	// AcceptedOlder counts AcceptOlderOnce calls (app.OlderVaultAcceptor);
	// each clears an UnlockErr of app.ErrOlderVault, as the vault lets the
	// next unlock open the older copy. Guarded by the store's mutex.
	AcceptedOlder int
	// FileStats is what Stats returns (set it to simulate free pages);
	// Compact gives the free bytes back and counts itself in Compactions.
	// Guarded by the store's mutex once the store is in use.
	FileStats   app.StoreStats
	Compactions int

	unlockCalls int
	drawn       int // patient ids drawn by Write

	mu         sync.Mutex
	exists     bool
	locked     bool
	passphrase []byte
	opt        app.CreateOptions
	patients   []app.Patient // kept while locked, like the sealed directory
	dir        *app.Directory
	settings   *app.Settings
	audit      []app.AuditEvent
	manifests  map[app.PatientID]app.Manifest
	documents  map[app.PatientID]map[app.DocumentID][]byte
	cursors    map[string]app.Cursor
	outbox     map[app.OutboxID]app.OutboxItem
	declared   map[app.PatientID][]app.Declaration
	preop      map[app.PatientID]app.PreopRecord // preop.go
	mail       mailMaps                          // inbox, raw messages, mail records, sync points (mailstore.go)
}

// NewStore returns a store with no vault: HasVault is false until Create.
func NewStore() *Store {
	return &Store{
		locked:    true,
		manifests: map[app.PatientID]app.Manifest{},
		documents: map[app.PatientID]map[app.DocumentID][]byte{},
		cursors:   map[string]app.Cursor{},
		outbox:    map[app.OutboxID]app.OutboxItem{},
		declared:  map[app.PatientID][]app.Declaration{},
		mail:      newMailMaps(),
	}
}

// NewLockedStore returns a store holding a vault protected by passphrase,
// locked, with patients in its directory.
func NewLockedStore(passphrase string, patients ...app.Patient) *Store {
	s := NewStore()
	s.exists = true
	s.passphrase = []byte(passphrase)
	s.Seed(patients...)
	return s
}

// Seed adds patients to the directory (replacing those with the same ID),
// whether the store is locked or not.
func (s *Store) Seed(patients ...app.Patient) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.putPatients(patients)
}

func (s *Store) putPatients(patients []app.Patient) {
	for _, p := range patients {
		replaced := false
		for i := range s.patients {
			if s.patients[i].ID == p.ID {
				s.patients[i], replaced = p, true
			}
		}
		if !replaced {
			s.patients = append(s.patients, p)
		}
		if s.dir != nil {
			s.dir.Put(p)
		}
	}
}

// CreateOptions returns the options the vault was created with.
func (s *Store) CreateOptions() app.CreateOptions {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opt
}

// Passphrase returns the current passphrase (tests check a change).
func (s *Store) Passphrase() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.passphrase)
}

// Events returns a copy of the audit log, whether locked or not.
func (s *Store) Events() []app.AuditEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]app.AuditEvent(nil), s.audit...)
}

// Exists implements app.Store.
func (s *Store) Exists() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.exists
}

// Create implements app.Store.
func (s *Store) Create(_ context.Context, passphrase []byte, opt app.CreateOptions) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.exists {
		return fmt.Errorf("apptest: create: %w", app.ErrVaultExists)
	}
	s.exists = true
	s.passphrase = bytes.Clone(passphrase)
	s.opt = app.CreateOptions{RecoveryKey: bytes.Clone(opt.RecoveryKey)}
	s.open()
	return nil
}

// Unlock implements app.Store.
func (s *Store) Unlock(_ context.Context, passphrase []byte) (app.UnlockReport, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unlockCalls++
	switch {
	case !s.exists:
		return app.UnlockReport{}, fmt.Errorf("apptest: unlock: %w", app.ErrNoVault)
	case s.UnlockErr != nil:
		return app.UnlockReport{}, fmt.Errorf("apptest: unlock: %w", s.UnlockErr)
	case !bytes.Equal(passphrase, s.passphrase):
		return app.UnlockReport{}, fmt.Errorf("apptest: unlock: %w", app.ErrWrongPassphrase)
	}
	s.open()
	return app.UnlockReport{
		Patients:      s.dir.Len(),
		Warnings:      append([]app.Warning(nil), s.Warnings...),
		HasRecovery:   s.opt.RecoveryKey != nil,
		FormatVersion: 1,
	}, nil
}

func (s *Store) open() {
	s.locked = false
	s.dir = app.NewDirectory(s.patients)
}

// Lock implements app.Store.
func (s *Store) Lock() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.locked = true
	s.dir = nil
}

// Locked implements app.Store.
func (s *Store) Locked() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.locked
}

// ChangePassphrase implements app.Store.
func (s *Store) ChangePassphrase(_ context.Context, old, new []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check("change passphrase"); err != nil {
		return err
	}
	if !bytes.Equal(old, s.passphrase) {
		return fmt.Errorf("apptest: change passphrase: %w", app.ErrWrongPassphrase)
	}
	s.passphrase = bytes.Clone(new)
	return nil
}

// Recover implements app.Store: any private key is accepted when the vault
// has a recovery key; keyPassphrase is ignored.
func (s *Store) Recover(_ context.Context, privateKey, _, newPassphrase []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.exists {
		return fmt.Errorf("apptest: recover: %w", app.ErrNoVault)
	}
	if s.opt.RecoveryKey == nil || len(privateKey) == 0 {
		return fmt.Errorf("apptest: recover: no recovery slot: %w", app.ErrInvalid)
	}
	s.passphrase = bytes.Clone(newPassphrase)
	s.open()
	return nil
}

// InspectRecoveryKey implements app.Store without OpenPGP: an armored
// private key block is refused with app.ErrPrivateKey, a public key block is
// described as RecoveryKeyInfo (its fingerprint is the SHA-1 of the bytes),
// anything else fails with app.ErrInvalid.
func (s *Store) InspectRecoveryKey(publicKey []byte) (app.RecoveryKeyInfo, error) {
	switch {
	case bytes.Contains(publicKey, []byte("PGP PRIVATE KEY BLOCK")):
		return app.RecoveryKeyInfo{}, fmt.Errorf("apptest: recovery key: %w", app.ErrPrivateKey)
	case !bytes.Contains(publicKey, []byte("PGP PUBLIC KEY BLOCK")):
		return app.RecoveryKeyInfo{}, fmt.Errorf("apptest: recovery key: %w", app.ErrInvalid)
	}
	return app.RecoveryKeyInfo{UserID: RecoveryUserID, Fingerprint: fmt.Sprintf("%X", sha1.Sum(publicKey))}, nil
}

// RecoveryUserID is the user id InspectRecoveryKey reports.
const RecoveryUserID = "Clinique du Test (récupération) <it@clinique.test>"

// check returns an ErrLocked error while the store is locked.
func (s *Store) check(op string) error {
	if s.locked {
		return fmt.Errorf("apptest: %s: %w", op, app.ErrLocked)
	}
	return nil
}

// SearchPatients implements app.Store.
func (s *Store) SearchPatients(_ context.Context, query string, limit int) ([]app.Patient, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check("search patients"); err != nil {
		return nil, err
	}
	return s.dir.Search(query, limit), nil
}

// Patient implements app.Store.
func (s *Store) Patient(_ context.Context, id app.PatientID) (app.Patient, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check("patient"); err != nil {
		return app.Patient{}, err
	}
	p, ok := s.dir.Get(id)
	if !ok {
		return app.Patient{}, fmt.Errorf("apptest: patient: %w", app.ErrNotFound)
	}
	return p, nil
}

// Patients implements app.Store.
func (s *Store) Patients(context.Context) ([]app.Patient, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check("patients"); err != nil {
		return nil, err
	}
	return s.dir.All(), nil
}

// PatientsByINS implements app.Store.
func (s *Store) PatientsByINS(_ context.Context, ins app.INS) ([]app.Patient, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check("patients by INS"); err != nil {
		return nil, err
	}
	return s.dir.ByINS(ins), nil
}

// Manifest implements app.Store.
func (s *Store) Manifest(_ context.Context, id app.PatientID) (app.Manifest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check("manifest"); err != nil {
		return app.Manifest{}, err
	}
	if _, known := s.dir.Get(id); !known {
		return app.Manifest{}, fmt.Errorf("apptest: manifest: %w", app.ErrNotFound)
	}
	m, ok := s.manifests[id]
	if !ok { // like the vault: an empty manifest for a patient without one
		return app.Manifest{Patient: id}, nil
	}
	m.Documents = append([]app.DocumentMeta(nil), m.Documents...)
	for i := range m.Documents { // like the vault: Cached says whether the content is here
		_, m.Documents[i].Cached = s.documents[id][m.Documents[i].ID]
	}
	return m, nil
}

// Document implements app.Store.
func (s *Store) Document(_ context.Context, id app.PatientID, doc app.DocumentID) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check("document"); err != nil {
		return nil, err
	}
	b, ok := s.documents[id][doc]
	if !ok {
		return nil, fmt.Errorf("apptest: document: %w", app.ErrNotFound)
	}
	return bytes.Clone(b), nil
}

func cursorKey(id app.PatientID, stream string) string { return string(id) + "\x00" + stream }

// Cursor implements app.Store.
func (s *Store) Cursor(_ context.Context, id app.PatientID, stream string) (app.Cursor, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check("cursor"); err != nil {
		return app.Cursor{}, err
	}
	return s.cursors[cursorKey(id, stream)], nil
}

// Outbox implements app.Store.
func (s *Store) Outbox(context.Context) ([]app.OutboxItem, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check("outbox"); err != nil {
		return nil, err
	}
	out := make([]app.OutboxItem, 0, len(s.outbox))
	for _, it := range s.outbox {
		out = append(out, it)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// Write implements app.Store: the whole batch or nothing.
func (s *Store) Write(_ context.Context, b *app.Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check("write"); err != nil {
		return err
	}
	if err := s.checkBatch(b); err != nil {
		return err
	}
	if err := s.checkDeclarations(b); err != nil {
		return err
	}
	if err := s.checkPreop(b); err != nil {
		return err
	}
	for _, e := range b.Audit {
		e.Seq = uint64(len(s.audit) + 1)
		s.audit = append(s.audit, e)
	}
	s.putPatients(b.Patients)
	for _, m := range b.Manifests {
		m.Documents = append([]app.DocumentMeta(nil), m.Documents...)
		s.manifests[m.Patient] = m
	}
	for _, d := range b.Documents {
		if s.documents[d.Patient] == nil {
			s.documents[d.Patient] = map[app.DocumentID][]byte{}
		}
		s.documents[d.Patient][d.ID] = bytes.Clone(d.Bytes)
	}
	for _, c := range b.Cursors {
		s.cursors[cursorKey(c.Patient, c.Stream)] = c
	}
	for _, it := range b.Outbox {
		it.Payload = bytes.Clone(it.Payload)
		s.outbox[it.ID] = it
	}
	for _, id := range b.OutboxDone {
		delete(s.outbox, id)
	}
	for _, g := range b.DocumentsGone {
		delete(s.documents[g.Patient], g.ID)
	}
	s.mail.apply(b)
	s.applyDeclarations(b.Declarations)
	s.applyPreop(b.Preop)
	return nil
}

// checkBatch refuses what the vault refuses (app/vault's prepare): records
// of a patient that is neither in the directory nor in the batch, records
// without an id, a cursor without a stream. A patient without an id gets a
// fresh one, written back into the batch.
func (s *Store) checkBatch(b *app.Batch) error {
	known := map[app.PatientID]bool{}
	for i := range b.Patients {
		if b.Patients[i].ID == "" {
			s.drawn++
			b.Patients[i].ID = app.PatientID(fmt.Sprintf("apptest-%04d", s.drawn))
		}
		known[b.Patients[i].ID] = true
	}
	patient := func(id app.PatientID, what string) error {
		if known[id] {
			return nil
		}
		if _, ok := s.dir.Get(id); ok {
			return nil
		}
		return fmt.Errorf("apptest: write: %s for a patient not in the directory: %w", what, app.ErrInvalid)
	}
	for _, m := range b.Manifests {
		if err := patient(m.Patient, "manifest"); err != nil {
			return err
		}
	}
	for _, d := range b.Documents {
		if d.ID == "" {
			return fmt.Errorf("apptest: write: document without id: %w", app.ErrInvalid)
		}
		if err := patient(d.Patient, "document"); err != nil {
			return err
		}
	}
	for _, g := range b.DocumentsGone {
		if g.ID == "" || g.Patient == "" {
			return fmt.Errorf("apptest: write: removed document without patient or id: %w", app.ErrInvalid)
		}
	}
	for _, c := range b.Cursors {
		if c.Stream == "" {
			return fmt.Errorf("apptest: write: cursor without stream: %w", app.ErrInvalid)
		}
		if c.Patient != "" {
			if err := patient(c.Patient, "cursor"); err != nil {
				return err
			}
		}
	}
	for _, it := range b.Outbox {
		if it.ID == "" {
			return fmt.Errorf("apptest: write: outbox item without id: %w", app.ErrInvalid)
		}
	}
	return nil
}

// Purge implements app.Store.
func (s *Store) Purge(_ context.Context, id app.PatientID) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check("purge"); err != nil {
		return err
	}
	if _, ok := s.dir.Get(id); !ok {
		return fmt.Errorf("apptest: purge: %w", app.ErrNotFound)
	}
	for _, it := range s.outbox {
		if it.Patient == id {
			return fmt.Errorf("apptest: purge: outbox not empty: %w", app.ErrConflict)
		}
	}
	delete(s.manifests, id)
	delete(s.documents, id)
	delete(s.declared, id)
	delete(s.preop, id)
	for k := range s.cursors {
		if strings.HasPrefix(k, string(id)+"\x00") {
			delete(s.cursors, k)
		}
	}
	for i := range s.patients {
		if s.patients[i].ID == id {
			s.patients = append(s.patients[:i], s.patients[i+1:]...)
			break
		}
	}
	s.dir.Remove(id)
	return nil
}

// Settings implements app.Store.
func (s *Store) Settings(context.Context) (app.Settings, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check("settings"); err != nil {
		return app.Settings{}, err
	}
	if s.settings == nil {
		return app.DefaultSettings(), nil
	}
	return *s.settings, nil
}

// SaveSettings implements app.Store.
func (s *Store) SaveSettings(_ context.Context, st app.Settings) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check("save settings"); err != nil {
		return err
	}
	if err := st.Validate(); err != nil {
		return fmt.Errorf("apptest: save settings: %w", err)
	}
	s.settings = &st
	return nil
}

// Record implements app.Store.
func (s *Store) Record(_ context.Context, e app.AuditEvent) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check("record"); err != nil {
		return err
	}
	e.Seq = uint64(len(s.audit)) + 1
	s.audit = append(s.audit, e)
	return nil
}

// Audit implements app.Store.
func (s *Store) Audit(_ context.Context, f app.AuditFilter) ([]app.AuditEvent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check("audit"); err != nil {
		return nil, err
	}
	var out []app.AuditEvent
	for _, e := range s.audit {
		if (f.Patient == "" || e.Patient == f.Patient) &&
			strings.HasPrefix(e.Action, f.Action) &&
			(f.Since.IsZero() || !e.Time.Before(f.Since)) {
			out = append(out, e)
		}
	}
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[len(out)-f.Limit:]
	}
	return out, nil
}

// Check implements app.Store: an in-memory store is always sound.
func (s *Store) Check(context.Context) (app.CheckReport, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check("check"); err != nil {
		return app.CheckReport{}, err
	}
	docs, declared := 0, 0
	for _, d := range s.documents {
		docs += len(d)
	}
	for _, d := range s.declared {
		declared += len(d)
	}
	return app.CheckReport{Patients: s.dir.Len(), Documents: docs, Audit: len(s.audit), Outbox: len(s.outbox), Declared: declared}, nil
}

// Compact implements app.Store: nothing to give back.
// Like the vault, it works locked: it counts the call in Compactions and
// gives the free bytes of FileStats back.
func (s *Store) Compact(context.Context) (app.CompactReport, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rep := app.CompactReport{Before: s.FileStats.FileSize, After: s.FileStats.FileSize - s.FileStats.FreeBytes}
	s.FileStats = app.StoreStats{FileSize: rep.After}
	s.Compactions++
	return rep, nil
}

// UnlockCalls returns how many times Unlock was called.
func (s *Store) UnlockCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.unlockCalls
}

// Stats implements app.Store: it returns FileStats.
func (s *Store) Stats(context.Context) (app.StoreStats, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.FileStats, nil
}

// Close implements app.Store: it locks the store.
func (s *Store) Close() error {
	s.Lock()
	return nil
}

// Declarations implements app.Store: the patient's declarations, oldest
// first; app.ErrNotFound for a patient not in the directory.
func (s *Store) Declarations(_ context.Context, id app.PatientID) ([]app.Declaration, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check("declarations"); err != nil {
		return nil, err
	}
	if _, ok := s.dir.Get(id); !ok {
		return nil, fmt.Errorf("apptest: declarations: %w", app.ErrNotFound)
	}
	return append([]app.Declaration(nil), s.declared[id]...), nil
}

// checkDeclarations refuses declaration sets the vault refuses: without a
// patient of the directory (or of the batch), or with an empty id.
func (s *Store) checkDeclarations(b *app.Batch) error {
	for _, set := range b.Declarations {
		if set.Patient == "" {
			return fmt.Errorf("apptest: write: declarations without patient: %w", app.ErrInvalid)
		}
		_, ok := s.dir.Get(set.Patient)
		ok = ok || slices.ContainsFunc(b.Patients, func(p app.Patient) bool { return p.ID == set.Patient })
		if !ok {
			return fmt.Errorf("apptest: write: declarations of an unknown patient: %w", app.ErrNotFound)
		}
		for _, d := range set.Put {
			if d.ID == "" {
				return fmt.Errorf("apptest: write: declaration without id: %w", app.ErrInvalid)
			}
		}
		for _, id := range set.Remove {
			if id == "" {
				return fmt.Errorf("apptest: write: removed declaration without id: %w", app.ErrInvalid)
			}
		}
	}
	return nil
}

// applyDeclarations merges declaration sets, as the vault does.
func (s *Store) applyDeclarations(sets []app.DeclarationSet) {
	for _, set := range sets {
		list := append([]app.Declaration(nil), s.declared[set.Patient]...)
		for _, p := range set.Put {
			i := slices.IndexFunc(list, func(d app.Declaration) bool { return d.ID == p.ID })
			if i >= 0 {
				list[i] = p
			} else {
				list = append(list, p)
			}
		}
		list = slices.DeleteFunc(list, func(d app.Declaration) bool { return slices.Contains(set.Remove, d.ID) })
		sort.SliceStable(list, func(i, j int) bool {
			a, b := list[i].Medication.Source.Date, list[j].Medication.Source.Date
			if !a.Equal(b) {
				return a.Before(b)
			}
			return list[i].ID < list[j].ID
		})
		if len(list) == 0 {
			delete(s.declared, set.Patient)
		} else {
			s.declared[set.Patient] = list
		}
	}
}

// AcceptOlderOnce implements app.OlderVaultAcceptor (see AcceptedOlder).
func (s *Store) AcceptOlderOnce() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.AcceptedOlder++
	if errors.Is(s.UnlockErr, app.ErrOlderVault) {
		s.UnlockErr = nil
	}
}
