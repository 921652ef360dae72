package apptest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/apptest"
)

func TestStoreLocking(t *testing.T) {
	ctx := context.Background()
	s := apptest.NewLockedStore("cheval agrafe correct",
		app.Patient{ID: "p1", BirthName: "MARTIN", BirthGivenNames: "Hélène", Status: app.IdentityProvisional})
	if !s.Exists() || !s.Locked() {
		t.Fatal("new locked store: want an existing, locked vault")
	}
	if _, err := s.SearchPatients(ctx, "hel", 0); !errors.Is(err, app.ErrLocked) {
		t.Errorf("search while locked: err = %v, want ErrLocked", err)
	}
	if _, err := s.Unlock(ctx, []byte("wrong")); !errors.Is(err, app.ErrWrongPassphrase) {
		t.Errorf("unlock with a wrong passphrase: err = %v", err)
	}
	rep, err := s.Unlock(ctx, []byte("cheval agrafe correct"))
	if err != nil || rep.Patients != 1 {
		t.Fatalf("unlock: %v, %+v", err, rep)
	}
	ps, err := s.SearchPatients(ctx, "hel", 0)
	if err != nil || len(ps) != 1 {
		t.Errorf("search %q = %v, %v; want MARTIN Hélène", "hel", ps, err)
	}
	s.Seed(app.Patient{ID: "p2", BirthName: "HÉLIE", BirthGivenNames: "Jean"})
	if ps, _ := s.SearchPatients(ctx, "hel", 0); len(ps) != 2 {
		t.Errorf("seeded patient not searchable: %v", ps)
	}
	s.Lock()
	for name, err := range map[string]error{
		"settings": func() error { _, err := s.Settings(ctx); return err }(),
		"record":   s.Record(ctx, app.AuditEvent{Action: "x"}),
		"write":    s.Write(ctx, &app.Batch{}),
		"patients": func() error { _, err := s.Patients(ctx); return err }(),
	} {
		if !errors.Is(err, app.ErrLocked) {
			t.Errorf("%s while locked: err = %v, want ErrLocked", name, err)
		}
	}
}

func TestStoreThroughService(t *testing.T) {
	ctx := context.Background()
	s := apptest.NewStore()
	clock := apptest.NewClock(time.Date(2026, 1, 1, 8, 0, 0, 0, time.UTC))
	svc := app.NewService(app.Deps{Store: s, Clock: clock})
	if svc.HasVault() {
		t.Fatal("empty store has a vault")
	}
	if err := svc.Create(ctx, []byte("cheval agrafe correct"), app.CreateOptions{RecoveryKey: []byte("key")}); err != nil {
		t.Fatal(err)
	}
	if string(s.CreateOptions().RecoveryKey) != "key" || s.Passphrase() != "cheval agrafe correct" {
		t.Error("create options or passphrase not kept")
	}
	if err := svc.Create(ctx, []byte("cheval agrafe correct"), app.CreateOptions{}); !errors.Is(err, app.ErrVaultExists) {
		t.Errorf("second create: err = %v", err)
	}
	st := svc.Settings()
	st.AutoLock = 2 * time.Hour
	if err := svc.SaveSettings(ctx, st); !errors.Is(err, app.ErrInvalid) {
		t.Errorf("invalid settings: err = %v", err)
	}
	if err := svc.ChangePassphrase(ctx, []byte("cheval agrafe correct"), []byte("une autre phrase longue")); err != nil {
		t.Fatal(err)
	}
	clock.Advance(10 * time.Minute)
	svc.Tick()
	if !svc.Locked() {
		t.Fatal("not locked after the idle delay")
	}
	if _, err := svc.Unlock(ctx, []byte("une autre phrase longue")); err != nil {
		t.Fatal(err)
	}
	evs, err := svc.Audit(ctx, app.AuditFilter{Action: "vault."})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range evs {
		actions = append(actions, e.Action)
	}
	want := []string{"vault.create", "vault.passwd", "vault.lock", "vault.unlock"}
	if len(actions) != len(want) {
		t.Fatalf("audit = %v, want %v", actions, want)
	}
	for i := range want {
		if actions[i] != want[i] || evs[i].Seq != uint64(i+1) {
			t.Errorf("audit[%d] = %s #%d, want %s #%d", i, actions[i], evs[i].Seq, want[i], i+1)
		}
	}
}

func TestStoreBatch(t *testing.T) {
	ctx := context.Background()
	s := apptest.NewLockedStore("cheval agrafe correct")
	if _, err := s.Unlock(ctx, []byte("cheval agrafe correct")); err != nil {
		t.Fatal(err)
	}
	b := &app.Batch{
		Patients:  []app.Patient{{ID: "p1", BirthName: "DUPONT"}},
		Manifests: []app.Manifest{{Patient: "p1", Documents: []app.DocumentMeta{{ID: "d1"}}}},
		Documents: []app.DocumentContent{{Patient: "p1", ID: "d1", Bytes: []byte("<ClinicalDocument/>")}},
		Cursors:   []app.Cursor{{Patient: "p1", Stream: "documents", Token: "t"}},
		Outbox:    []app.OutboxItem{{ID: "o1", Patient: "p1", State: app.OutboxPending}},
	}
	if err := s.Write(ctx, b); err != nil {
		t.Fatal(err)
	}
	if m, err := s.Manifest(ctx, "p1"); err != nil || len(m.Documents) != 1 {
		t.Errorf("manifest = %+v, %v", m, err)
	}
	if d, err := s.Document(ctx, "p1", "d1"); err != nil || string(d) != "<ClinicalDocument/>" {
		t.Errorf("document = %q, %v", d, err)
	}
	if c, _ := s.Cursor(ctx, "p1", "documents"); c.Token != "t" {
		t.Errorf("cursor = %+v", c)
	}
	if err := s.Purge(ctx, "p1"); !errors.Is(err, app.ErrConflict) {
		t.Errorf("purge with outbox items: err = %v, want ErrConflict", err)
	}
	if err := s.Write(ctx, &app.Batch{OutboxDone: []app.OutboxID{"o1"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Purge(ctx, "p1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Patient(ctx, "p1"); !errors.Is(err, app.ErrNotFound) {
		t.Errorf("purged patient: err = %v, want ErrNotFound", err)
	}
	if _, err := s.Document(ctx, "p1", "d1"); !errors.Is(err, app.ErrNotFound) {
		t.Errorf("purged document: err = %v, want ErrNotFound", err)
	}
}
