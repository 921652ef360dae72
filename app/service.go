package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// LockReason says why the vault was locked.
type LockReason string

// The reasons for locking.
const (
	LockByUser   LockReason = "user"   // lock button, Ctrl+L, CLI
	LockIdle     LockReason = "idle"   // no activity for Settings.AutoLock
	LockReauth   LockReason = "reauth" // Settings.Reauth elapsed since the last full unlock
	LockSession  LockReason = "session"
	LockShutdown LockReason = "shutdown"
)

// Unlock throttling: after FreeAttempts failures, each further failure
// doubles the wait, from FirstDelay up to MaxDelay.
const (
	FreeAttempts = 3
	FirstDelay   = 5 * time.Second
	MaxDelay     = 5 * time.Minute
)

// Service holds Carnet's use cases. The desktop UI and the command line call
// it; it calls the ports. Its methods are safe for concurrent use.
type Service struct {
	store Store
	clock Clock
	log   *slog.Logger

	attemptMu    sync.Mutex // serialises passphrase checks (see attempt)
	mu           sync.Mutex
	settings     Settings
	lastActivity time.Time
	unlockedAt   time.Time
	failures     int
	nextTry      time.Time
	onLock       []func(LockReason)
	onUnlock     []func(UnlockReport)
	session      *Session
	syncer       Syncer
	writer       DocumentWriter
	sheets       SheetRenderer // pre-operative sheets as PDF (preop.go)
	printer      Printer       // the system's printing (preop.go)
	terms        Terminology
	reading      documentReading // the document reader and its cache of read documents (reading.go)
	conns        ConnectionStore // where the connection is kept (connection.go)
	conn         Connection      // the connection as loaded or last saved
	onConn       []func(Connection)
	connSave     sync.Mutex       // one SaveConnection at a time: the store and conn change together
	opened       map[InboxID]bool // manual-queue reports a person opened (mailservice.go): attachable
	msgReader    MessageReader    // reads the sealed raw messages of the manual queue (mailview.go)
	link         *connTracker     // the session's connectivity (connectivity.go)
	stopLink     func()           // stops its probe
	mailLive     mailLive         // open mailbox sessions, closed at every lock (mail_import_service.go)
}

// NewService returns the use cases over store. clock and log may be nil (the
// system clock, slog.Default()).
func NewService(store Store, clock Clock, log *slog.Logger) *Service {
	if clock == nil {
		clock = SystemClock{}
	}
	if log == nil {
		log = slog.Default()
	}
	return &Service{store: store, clock: clock, log: log, settings: DefaultSettings()}
}

// Store returns the vault the service works on (for the CLI's maintenance
// commands).
func (s *Service) Store() Store { return s.store }

// HasVault reports whether a vault exists; when not, the UI shows the
// first-run screen.
func (s *Service) HasVault() bool { return s.store.Exists() }

// Locked reports whether the vault is locked.
func (s *Service) Locked() bool { return s.store.Locked() }

// OnLock registers f, called (from any goroutine) every time the vault locks.
func (s *Service) OnLock(f func(LockReason)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onLock = append(s.onLock, f)
}

// OnUnlock registers f, called every time the vault is unlocked.
func (s *Service) OnUnlock(f func(UnlockReport)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onUnlock = append(s.onUnlock, f)
}

// Create makes the vault on first run and leaves it unlocked. The passphrase
// must pass CheckPassphrase. passphrase is wiped.
func (s *Service) Create(ctx context.Context, passphrase []byte, opt CreateOptions) error {
	defer Wipe(passphrase)
	if err := CheckPassphrase(passphrase); err != nil {
		return err
	}
	if err := s.store.Create(ctx, passphrase, opt); err != nil {
		return fmt.Errorf("create vault: %w", err)
	}
	rep := UnlockReport{HasRecovery: opt.RecoveryKey != nil}
	if opt.RecoveryKey == nil {
		rep.Warnings = append(rep.Warnings, WarnNoRecovery)
	}
	s.unlocked(ctx, rep, "vault.create")
	return nil
}

// InspectRecoveryKey checks and describes a clinic recovery public key
// before it is used at creation.
func (s *Service) InspectRecoveryKey(publicKey []byte) (RecoveryKeyInfo, error) {
	info, err := s.store.InspectRecoveryKey(publicKey)
	if err != nil {
		return RecoveryKeyInfo{}, fmt.Errorf("recovery key: %w", err)
	}
	return info, nil
}

// Unlock opens the vault. After FreeAttempts failures it refuses further
// attempts for a growing delay (a *WaitError wrapping ErrTooManyAttempts).
// Attempts are serialised: parallel calls cannot slip past the delay.
// passphrase is wiped.
func (s *Service) Unlock(ctx context.Context, passphrase []byte) (UnlockReport, error) {
	defer Wipe(passphrase)
	var rep UnlockReport
	err := s.attempt(func() error {
		// Timestamps first, so that a Tick running between the store's
		// unlock and the end of this call does not see the previous
		// session's and lock at once.
		now := s.clock.Now()
		s.mu.Lock()
		s.lastActivity, s.unlockedAt = now, now
		s.mu.Unlock()
		var err error
		rep, err = s.store.Unlock(ctx, passphrase)
		return err
	})
	if err != nil {
		return UnlockReport{}, fmt.Errorf("unlock: %w", err)
	}
	s.unlocked(ctx, rep, "vault.unlock")
	return rep, nil
}

// UnlockOlder opens a vault that Unlock refused with ErrOlderVault, after
// the user chose to open it anyway (the warning says it is older than the
// last one used on this computer). The store must implement
// OlderVaultAcceptor; otherwise it is Unlock.
func (s *Service) UnlockOlder(ctx context.Context, passphrase []byte) (UnlockReport, error) {
	if a, ok := s.store.(OlderVaultAcceptor); ok {
		a.AcceptOlderOnce()
	}
	return s.Unlock(ctx, passphrase)
}

// attempt runs a passphrase check (unlock, passphrase change, recovery) under
// the throttle: one at a time, refused during the delay, and a wrong
// passphrase counted.
func (s *Service) attempt(check func() error) error {
	s.attemptMu.Lock()
	defer s.attemptMu.Unlock()
	s.mu.Lock()
	if now := s.clock.Now(); now.Before(s.nextTry) {
		wait := s.nextTry.Sub(now)
		s.mu.Unlock()
		return &WaitError{Kind: ErrTooManyAttempts, Wait: wait}
	}
	s.mu.Unlock()
	err := check()
	var we *WaitError
	if errors.As(err, &we) && errors.Is(err, ErrTooManyAttempts) {
		// The store keeps its own throttle across processes (the vault
		// persists it): show its delay.
		s.mu.Lock()
		if next := s.clock.Now().Add(we.Wait); next.After(s.nextTry) {
			s.nextTry = next
		}
		s.mu.Unlock()
		return err
	}
	if errors.Is(err, ErrWrongPassphrase) {
		s.mu.Lock()
		s.failures++
		failures := s.failures
		if failures >= FreeAttempts {
			d := FirstDelay << (failures - FreeAttempts)
			if d > MaxDelay || d <= 0 {
				d = MaxDelay
			}
			s.nextTry = s.clock.Now().Add(d)
		}
		s.mu.Unlock()
		s.log.Warn("passphrase refused", "failures", failures)
	}
	return err
}

// unlocked resets the counters, loads the settings, audits and notifies.
func (s *Service) unlocked(ctx context.Context, rep UnlockReport, action string) {
	settings, err := s.store.Settings(ctx)
	if err != nil {
		s.log.Error("load settings", "err", err)
		settings = DefaultSettings()
	}
	now := s.clock.Now()
	s.mu.Lock()
	s.failures, s.nextTry = 0, time.Time{}
	s.lastActivity, s.unlockedAt = now, now
	s.settings = settings
	hooks := append([]func(UnlockReport){}, s.onUnlock...)
	s.mu.Unlock()
	s.audit(ctx, AuditEvent{Action: action, Result: "ok"})
	for _, f := range hooks {
		f(rep)
	}
}

// Recover resets a lost passphrase with the clinic's recovery private key
// (armored, protected by keyPassphrase) and leaves the vault unlocked. It is
// throttled like Unlock and audited. The three slices are wiped.
func (s *Service) Recover(ctx context.Context, privateKey, keyPassphrase, newPassphrase []byte) error {
	defer Wipe(privateKey)
	defer Wipe(keyPassphrase)
	defer Wipe(newPassphrase)
	if err := CheckPassphrase(newPassphrase); err != nil {
		return err
	}
	err := s.attempt(func() error { return s.store.Recover(ctx, privateKey, keyPassphrase, newPassphrase) })
	if err != nil {
		return fmt.Errorf("recover: %w", err)
	}
	s.unlocked(ctx, UnlockReport{HasRecovery: true}, "vault.recover")
	return nil
}

// Lock wipes the keys and drops the decrypted data. Locking a locked vault
// does nothing.
func (s *Service) Lock(reason LockReason) {
	if s.store.Locked() {
		return
	}
	s.audit(context.Background(), AuditEvent{Action: "vault.lock", Result: "ok", Detail: string(reason)})
	s.store.Lock()
	s.mu.Lock()
	// Every lock ends the card session: after the unlock, the PIN is
	// asked again (the main program closes the credential on lock).
	s.session = nil
	hooks := append([]func(LockReason){}, s.onLock...)
	s.mu.Unlock()
	s.log.Info("vault locked", "reason", string(reason))
	for _, f := range hooks {
		f(reason)
	}
}

// Touch records user activity; it postpones the idle lock.
func (s *Service) Touch() {
	s.mu.Lock()
	s.lastActivity = s.clock.Now()
	s.mu.Unlock()
}

// Tick locks the vault when it has been idle for Settings.AutoLock, or
// unlocked for longer than Settings.Reauth. Run calls it every second; tests
// call it after moving a fake clock.
func (s *Service) Tick() {
	if s.store.Locked() {
		return
	}
	now := s.clock.Now()
	s.mu.Lock()
	idle := elapsed(now, s.lastActivity) >= s.settings.AutoLock
	reauth := elapsed(now, s.unlockedAt) >= s.settings.Reauth
	s.mu.Unlock()
	switch {
	case reauth:
		s.Lock(LockReauth)
	case idle:
		s.Lock(LockIdle)
		s.CompactIfWorthIt(context.Background())
	}
}

// CompactThreshold is the share of free pages in the vault file above which
// Carnet compacts it when idle (bbolt never shrinks a file by itself).
const CompactThreshold = 0.30

// CompactIfWorthIt compacts the vault when free pages exceed
// CompactThreshold of the file. It works on a locked vault (only ciphertext
// is copied). Tick calls it after an idle lock; it reports whether it
// compacted.
func (s *Service) CompactIfWorthIt(ctx context.Context) bool {
	st, err := s.store.Stats(ctx)
	if err != nil {
		s.log.Error("vault stats", "err", err)
		return false
	}
	if st.FreeRatio() <= CompactThreshold {
		return false
	}
	rep, err := s.store.Compact(ctx)
	if err != nil {
		s.log.Error("idle compaction", "err", err)
		return false
	}
	s.log.Info("vault compacted", "before", rep.Before, "after", rep.After)
	return true
}

// elapsed returns the time from then to now, the larger of the wall-clock
// and the monotonic differences: the monotonic clock stops while the
// computer sleeps, and a suspended laptop must wake up locked.
func elapsed(now, then time.Time) time.Duration {
	mono := now.Sub(then)
	wall := now.Round(0).Sub(then.Round(0))
	return max(mono, wall)
}

// Run calls Tick every interval until ctx is done.
func (s *Service) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.Tick()
		}
	}
}

// IdleRemaining returns how long until the idle lock, for a countdown.
func (s *Service) IdleRemaining() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.settings.AutoLock - elapsed(s.clock.Now(), s.lastActivity)
}

// RetryIn returns how long until the next unlock attempt is allowed; zero
// when one may be made now. The unlock screen shows it as a countdown.
func (s *Service) RetryIn() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d := s.nextTry.Sub(s.clock.Now()); d > 0 {
		return d
	}
	return 0
}

// ChangePassphrase replaces the passphrase. Both slices are wiped.
func (s *Service) ChangePassphrase(ctx context.Context, old, new []byte) error {
	defer Wipe(old)
	defer Wipe(new)
	if err := CheckPassphrase(new); err != nil {
		return err
	}
	err := s.attempt(func() error { return s.store.ChangePassphrase(ctx, old, new) })
	s.audit(ctx, AuditEvent{Action: "vault.passwd", Result: resultOf(err)})
	if err != nil {
		return fmt.Errorf("change passphrase: %w", err)
	}
	return nil
}

// SearchPatients searches the cached patients by name or INS (as you type).
func (s *Service) SearchPatients(ctx context.Context, query string, limit int) ([]Patient, error) {
	s.Touch()
	ps, err := s.store.SearchPatients(ctx, query, limit)
	if err != nil {
		return nil, fmt.Errorf("search patients: %w", err)
	}
	return ps, nil
}

// Settings returns the current settings.
func (s *Service) Settings() Settings {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.settings
}

// SaveSettings validates and stores settings; they apply at once.
func (s *Service) SaveSettings(ctx context.Context, st Settings) error {
	if err := st.Validate(); err != nil {
		return err
	}
	if err := s.store.SaveSettings(ctx, st); err != nil {
		return fmt.Errorf("save settings: %w", err)
	}
	s.mu.Lock()
	s.settings = st
	s.mu.Unlock()
	s.audit(ctx, AuditEvent{Action: "settings.save", Result: "ok"})
	return nil
}

// Audit returns audit events.
func (s *Service) Audit(ctx context.Context, f AuditFilter) ([]AuditEvent, error) {
	evs, err := s.store.Audit(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("read audit log: %w", err)
	}
	return evs, nil
}

// audit appends to the audit log; a failure is logged, never hidden from
// the operator.
func (s *Service) audit(ctx context.Context, e AuditEvent) {
	if e.Time.IsZero() {
		e.Time = s.clock.Now()
	}
	if e.Practitioner == "" {
		e.Practitioner = LocalOperator()
	}
	if err := s.store.Record(ctx, e); err != nil && !errors.Is(err, ErrLocked) {
		s.log.Error("audit log write failed", "action", e.Action, "err", err)
	}
}

func resultOf(err error) string {
	if err == nil {
		return "ok"
	}
	if k := KindOf(err); k != nil {
		return k.Error()
	}
	return "internal error"
}

// Passphrase policy.
const (
	MinPassphraseLength = 12 // characters
)

// Strength grades a passphrase for the hint shown while typing.
type Strength int

// The grades.
const (
	StrengthTooShort Strength = iota // refused
	StrengthWeak                     // accepted, but the hint says to lengthen it
	StrengthGood
	StrengthStrong
)

// PassphraseStrength grades p from its length and variety: a rough estimate
// of the bits an attacker must guess, not a promise.
func PassphraseStrength(p []byte) Strength {
	n := 0
	var lower, upper, digit, other bool
	for _, r := range string(p) {
		n++
		switch {
		case r >= 'a' && r <= 'z':
			lower = true
		case r >= 'A' && r <= 'Z':
			upper = true
		case r >= '0' && r <= '9':
			digit = true
		default:
			other = true
		}
	}
	if n < MinPassphraseLength {
		return StrengthTooShort
	}
	classes := 0
	for _, c := range []bool{lower, upper, digit, other} {
		if c {
			classes++
		}
	}
	switch {
	case n >= 20 || (n >= 16 && classes >= 3):
		return StrengthStrong
	case n >= 14 || classes >= 3:
		return StrengthGood
	}
	return StrengthWeak
}

// CheckPassphrase refuses a passphrase shorter than MinPassphraseLength.
func CheckPassphrase(p []byte) error {
	if PassphraseStrength(p) == StrengthTooShort {
		return fmt.Errorf("passphrase: fewer than %d characters: %w", MinPassphraseLength, ErrWeakPassphrase)
	}
	return nil
}
