package app_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/apptest"
)

const pass = "une phrase de passe assez longue"

func newService(t *testing.T) (*app.Service, *apptest.Store, *apptest.Clock) {
	t.Helper()
	store := apptest.NewLockedStore(pass, app.Patient{ID: "p1", BirthName: "Hébert", BirthGivenNames: "Zoé"})
	clock := apptest.NewClock(time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC))
	return app.NewService(app.Deps{Store: store, Clock: clock}), store, clock
}

func TestAutoLockWhenIdle(t *testing.T) {
	svc, _, clock := newService(t)
	var reasons []app.LockReason
	svc.OnLock(func(r app.LockReason) { reasons = append(reasons, r) })
	if _, err := svc.Unlock(context.Background(), []byte(pass)); err != nil {
		t.Fatal(err)
	}

	clock.Advance(4 * time.Minute)
	svc.Tick()
	if svc.Locked() {
		t.Fatal("locked after 4 idle minutes; the default is 5")
	}
	svc.Touch() // activity postpones the lock
	clock.Advance(4 * time.Minute)
	svc.Tick()
	if svc.Locked() {
		t.Fatal("locked 4 minutes after activity")
	}
	clock.Advance(time.Minute)
	svc.Tick()
	if !svc.Locked() {
		t.Fatal("not locked after 5 idle minutes")
	}
	if len(reasons) != 1 || reasons[0] != app.LockIdle {
		t.Fatalf("lock reasons = %v, want [idle]", reasons)
	}
	if _, err := svc.SearchPatients(context.Background(), "heb", 10); !errors.Is(err, app.ErrLocked) {
		t.Fatalf("search after lock = %v, want ErrLocked", err)
	}
	svc.Tick() // locking a locked vault is a no-op
	if len(reasons) != 1 {
		t.Fatalf("second Tick notified again: %v", reasons)
	}
}

func TestAutoLockFollowsSettings(t *testing.T) {
	svc, _, clock := newService(t)
	ctx := context.Background()
	if _, err := svc.Unlock(ctx, []byte(pass)); err != nil {
		t.Fatal(err)
	}
	st := svc.Settings()
	st.AutoLock = 15 * time.Minute
	if err := svc.SaveSettings(ctx, st); err != nil {
		t.Fatal(err)
	}
	clock.Advance(14 * time.Minute)
	svc.Tick()
	if svc.Locked() {
		t.Fatal("locked before the configured 15 minutes")
	}
	clock.Advance(time.Minute)
	svc.Tick()
	if !svc.Locked() {
		t.Fatal("not locked after the configured 15 minutes")
	}
	st.AutoLock = 0
	if err := svc.SaveSettings(ctx, st); !errors.Is(err, app.ErrInvalid) {
		t.Fatalf("SaveSettings(0 min) = %v, want ErrInvalid", err)
	}
}

func TestReauthenticationEvery12Hours(t *testing.T) {
	svc, _, clock := newService(t)
	var reasons []app.LockReason
	svc.OnLock(func(r app.LockReason) { reasons = append(reasons, r) })
	if _, err := svc.Unlock(context.Background(), []byte(pass)); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 12*60-1; i++ { // a busy practitioner: activity every minute
		clock.Advance(time.Minute)
		svc.Touch()
		svc.Tick()
		if svc.Locked() {
			t.Fatalf("locked after %d busy minutes", i+1)
		}
	}
	clock.Advance(time.Minute)
	svc.Touch()
	svc.Tick()
	if !svc.Locked() || len(reasons) != 1 || reasons[0] != app.LockReauth {
		t.Fatalf("after 12 h: locked=%v reasons=%v, want a reauth lock", svc.Locked(), reasons)
	}
}

func TestUnlockThrottling(t *testing.T) {
	svc, _, clock := newService(t)
	ctx := context.Background()
	for i := 1; i <= app.FreeAttempts; i++ {
		_, err := svc.Unlock(ctx, []byte("mauvaise phrase de passe"))
		if !errors.Is(err, app.ErrWrongPassphrase) {
			t.Fatalf("attempt %d: %v, want ErrWrongPassphrase", i, err)
		}
	}
	if d := svc.RetryIn(); d != app.FirstDelay {
		t.Fatalf("RetryIn after %d failures = %v, want %v", app.FreeAttempts, d, app.FirstDelay)
	}
	// Even the right passphrase is refused during the delay.
	_, err := svc.Unlock(ctx, []byte(pass))
	var wait *app.WaitError
	if !errors.As(err, &wait) || !errors.Is(err, app.ErrTooManyAttempts) || wait.Wait != app.FirstDelay {
		t.Fatalf("Unlock during the delay = %v, want a WaitError of %v", err, app.FirstDelay)
	}
	clock.Advance(app.FirstDelay)
	if _, err := svc.Unlock(ctx, []byte("encore une mauvaise phrase")); !errors.Is(err, app.ErrWrongPassphrase) {
		t.Fatal(err)
	}
	if d := svc.RetryIn(); d != 2*app.FirstDelay {
		t.Fatalf("the delay does not grow: %v", d)
	}
	clock.Advance(2 * app.FirstDelay)
	if _, err := svc.Unlock(ctx, []byte(pass)); err != nil {
		t.Fatalf("right passphrase after the delay: %v", err)
	}
	if svc.RetryIn() != 0 {
		t.Fatal("a successful unlock does not reset the delay")
	}
	// The delay is capped.
	svc.Lock(app.LockByUser)
	for i := 0; i < 30; i++ {
		clock.Advance(app.MaxDelay)
		svc.Unlock(ctx, []byte("mauvaise phrase de passe"))
	}
	if d := svc.RetryIn(); d != app.MaxDelay {
		t.Fatalf("delay after many failures = %v, want the cap %v", d, app.MaxDelay)
	}
}

func TestUnlockWipesPassphrase(t *testing.T) {
	svc, _, _ := newService(t)
	p := []byte(pass)
	if _, err := svc.Unlock(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	for _, b := range p {
		if b != 0 {
			t.Fatal("the passphrase bytes were not wiped")
		}
	}
}

func TestCreateRefusesShortPassphrase(t *testing.T) {
	svc := app.NewService(app.Deps{Store: apptest.NewStore()})
	if err := svc.Create(context.Background(), []byte("court"), app.CreateOptions{}); !errors.Is(err, app.ErrWeakPassphrase) {
		t.Fatalf("Create(short) = %v, want ErrWeakPassphrase", err)
	}
	if svc.HasVault() {
		t.Fatal("a vault was created with a refused passphrase")
	}
	if err := svc.Create(context.Background(), []byte(pass), app.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if !svc.HasVault() || svc.Locked() {
		t.Fatal("Create must leave an unlocked vault")
	}
}

func TestActionsAreAudited(t *testing.T) {
	svc, store, _ := newService(t)
	ctx := context.Background()
	if _, err := svc.Unlock(ctx, []byte(pass)); err != nil {
		t.Fatal(err)
	}
	if err := svc.ChangePassphrase(ctx, []byte(pass), []byte("une nouvelle phrase de passe")); err != nil {
		t.Fatal(err)
	}
	svc.Lock(app.LockByUser)
	var actions []string
	for _, e := range store.Events() {
		actions = append(actions, e.Action)
		if e.Time.IsZero() || e.Practitioner == "" {
			t.Errorf("event %s lacks time or practitioner", e.Action)
		}
	}
	want := []string{"vault.unlock", "vault.passwd", "vault.lock"}
	if len(actions) != len(want) {
		t.Fatalf("audited %v, want %v", actions, want)
	}
	for i := range want {
		if actions[i] != want[i] {
			t.Fatalf("audited %v, want %v", actions, want)
		}
	}
}

func TestIdleLockCompactsWhenWorthIt(t *testing.T) {
	svc, store, clock := newService(t)
	ctx := context.Background()
	if _, err := svc.Unlock(ctx, []byte(pass)); err != nil {
		t.Fatal(err)
	}
	store.FileStats = app.StoreStats{FileSize: 100 << 20, FreeBytes: 20 << 20} // 20 %: not worth it
	clock.Advance(5 * time.Minute)
	svc.Tick()
	if !svc.Locked() || store.Compactions != 0 {
		t.Fatalf("locked=%v compactions=%d; want locked and no compaction at 20 %% free", svc.Locked(), store.Compactions)
	}
	if _, err := svc.Unlock(ctx, []byte(pass)); err != nil {
		t.Fatal(err)
	}
	store.FileStats = app.StoreStats{FileSize: 100 << 20, FreeBytes: 40 << 20} // 40 %
	clock.Advance(5 * time.Minute)
	svc.Tick()
	if store.Compactions != 1 {
		t.Fatalf("compactions = %d after an idle lock at 40 %% free, want 1", store.Compactions)
	}
	if svc.CompactIfWorthIt(ctx) {
		t.Fatal("compacted again right after compaction")
	}
}

func TestParallelUnlocksCannotBypassTheDelay(t *testing.T) {
	svc, store, _ := newService(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			svc.Unlock(ctx, []byte("mauvaise phrase de passe"))
		}()
	}
	wg.Wait()
	if n := store.UnlockCalls(); n != app.FreeAttempts {
		t.Fatalf("%d wrong passphrases reached the vault in parallel, want %d", n, app.FreeAttempts)
	}
}

func TestChangePassphraseIsThrottled(t *testing.T) {
	svc, _, _ := newService(t)
	ctx := context.Background()
	if _, err := svc.Unlock(ctx, []byte(pass)); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < app.FreeAttempts; i++ {
		err := svc.ChangePassphrase(ctx, []byte("pas la bonne phrase"), []byte("une nouvelle phrase de passe"))
		if !errors.Is(err, app.ErrWrongPassphrase) {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	err := svc.ChangePassphrase(ctx, []byte(pass), []byte("une nouvelle phrase de passe"))
	if !errors.Is(err, app.ErrTooManyAttempts) {
		t.Fatalf("change with the right passphrase during the delay = %v, want ErrTooManyAttempts", err)
	}
}

// TestNewServiceDeps: every port given in Deps is the one the use cases
// use, without a setter; WriterFor builds the writer from the connection at
// once and again after each saved change of it.
func TestNewServiceDeps(t *testing.T) {
	store := apptest.NewLockedStore(pass)
	ctx := context.Background()
	first := app.Connection{ServiceURL: "https://dmp.example/fhir", FacilityType: "SA07"}
	cs := &memConns{c: first}
	var mu sync.Mutex
	var built []string // the facility types the writers were built for
	sy := &apptest.Syncer{Store: store}
	sy.SetStatus(app.SyncStatus{Pending: 3})
	svc := app.NewService(app.Deps{
		Store:       store,
		Connections: cs,
		Connection:  first,
		WriterFor: func(c app.Connection) app.DocumentWriter {
			mu.Lock()
			defer mu.Unlock()
			built = append(built, c.FacilityType)
			return &apptest.Writer{}
		},
		Terminology: fakeTerms{"11490-0": "Lettre de liaison"},
		Syncer:      sy,
	})
	if _, err := svc.Unlock(ctx, []byte(pass)); err != nil {
		t.Fatal(err)
	}
	if !svc.CanEditConnection() || svc.Connection().ServiceURL != first.ServiceURL {
		t.Fatalf("connection from Deps: editable %v, %+v", svc.CanEditConnection(), svc.Connection())
	}
	if got := svc.DocumentTypeLabel("11490-0"); got != "Lettre de liaison" {
		t.Errorf("terminology from Deps: label %q", got)
	}
	if got := svc.SyncStatus().Pending; got != 3 {
		t.Errorf("syncer from Deps: pending %d, want 3", got)
	}
	next := app.Connection{ServiceURL: "https://dmp2.example/fhir", FacilityType: "SA04",
		Credential: app.CredentialConfig{Kind: app.CredentialFile, File: "/home/dr/cps.p12"}}
	if err := svc.SaveConnection(ctx, next); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(built) != 2 || built[0] != "SA07" || built[1] != "SA04" {
		t.Errorf("writers built for %q, want [SA07 SA04]", built)
	}
	if cs.saves != 1 {
		t.Errorf("%d saves, want 1", cs.saves)
	}
}
