package vault

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.etcd.io/bbolt"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/crypto"
)

// FormatVersion is the version of the vault file layout written by this
// package. A vault with a higher version is refused with app.ErrNewerFormat
// and left untouched. Version 2 added the header checksum and the audit
// chain key; version 3 bound the audit head, the rollback counter and the
// device secret's check value into the header (integrity.go). Versions 1
// and 2 are still read; version 2 is upgraded to 3 at unlock.
const FormatVersion = 3

// DefaultTimeout is how long Open waits for another instance to release the
// file before failing with app.ErrInUse.
const DefaultTimeout = 2 * time.Second

// Options configure a Vault. The zero value is the production configuration.
type Options struct {
	// KDF, when set, gives the Argon2id parameters of new passphrase slots
	// (a fresh salt is always drawn). Tests and benchmarks pass
	// crypto.LightParams(). When nil, Create calibrates (policy: ≥ 256 MiB),
	// and Unlock upgrades a vault whose stored parameters are below policy.
	KDF *crypto.KDFParams
	// Keyring holds the device secret. Nil means crypto.OSKeyring{}. When
	// the keyring does not answer at Create, the secret goes to a 0600 file
	// at path+".device" and unlocks report app.WarnNoKeyring.
	Keyring crypto.Keyring
	// Timeout bounds the wait for the file lock (DefaultTimeout when zero):
	// a second instance gets app.ErrInUse instead of hanging.
	Timeout time.Duration
	// Clock stamps records. Nil means app.SystemClock{}.
	Clock app.Clock
	// Logger receives operational logs, never identifiers. Nil means
	// slog.Default().
	Logger *slog.Logger
}

// Vault is the encrypted bbolt cache; it implements app.Store. It is safe
// for concurrent use. A Vault starts locked.
type Vault struct {
	path string
	opt  Options
	log  *slog.Logger

	// mu guards db and the unlocked state (k). Data operations hold it for
	// reading; Unlock, Lock, ChangePassphrase, Recover, Compact and Close
	// hold it for writing.
	mu sync.RWMutex
	db *bbolt.DB
	k  *keys // nil when locked

	dirMu sync.RWMutex
	dir   *app.Directory

	// acceptOlder lets the next unlock open a file older than its counter
	// mirror (AcceptOlderOnce); leftovers counts the temporary files
	// removed at Open, reported by the next unlock. Both are guarded by mu.
	acceptOlder bool
	leftovers   int

	// revalidationDays is Settings.RevalidationDays, loaded at unlock and
	// kept by SaveSettings (see revalidate.go).
	revalidationDays atomic.Int64
}

var _ app.Store = (*Vault)(nil)

// Open opens the vault at path, or prepares one to be created there (Create)
// when no file exists. An existing file is first opened read-only to check
// its format version: a newer one gives app.ErrNewerFormat and the file is
// not modified. Another instance holding the file gives app.ErrInUse after
// Options.Timeout. The vault is returned locked. A shred left pending by a
// purge before a crash is completed here (see Purge).
func Open(path string, opt Options) (*Vault, error) {
	if opt.Keyring == nil {
		opt.Keyring = crypto.OSKeyring{}
	}
	if opt.Timeout <= 0 {
		opt.Timeout = DefaultTimeout
	}
	if opt.Clock == nil {
		opt.Clock = app.SystemClock{}
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	v := &Vault{path: path, opt: opt, log: opt.Logger}
	if fi, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return v, nil
	} else if err != nil {
		return nil, fmt.Errorf("vault: open: %w", err)
	} else if fi.Size() == 0 {
		// bbolt would initialise an empty file: refuse to touch it.
		return nil, fmt.Errorf("vault: open: empty file: %w", app.ErrDamaged)
	}
	if err := v.checkFormat(); err != nil {
		return nil, err
	}
	db, err := v.openDB(false)
	if err != nil {
		return nil, err
	}
	v.db = db
	v.leftovers = v.removeLeftovers()
	v.shredIfPending()
	return v, nil
}

// checkFormat opens the file read-only and checks its header version and
// size before any read-write open can touch it.
func (v *Vault) checkFormat() error {
	db, err := v.openDB(true)
	if err != nil {
		return err
	}
	defer db.Close()
	return v.view(db, func(tx *bbolt.Tx) error {
		if fi, err := os.Stat(v.path); err == nil && fi.Size() < tx.Size() {
			return fmt.Errorf("vault: open: file truncated (%d of %d bytes): %w", fi.Size(), tx.Size(), app.ErrDamaged)
		}
		h := tx.Bucket([]byte(bHeader))
		if h == nil {
			return fmt.Errorf("vault: open: no header (not a Carnet vault?): %w", app.ErrDamaged)
		}
		ver, err := headerVersion(h)
		if err != nil {
			return fmt.Errorf("vault: open: %w", err)
		}
		if ver > FormatVersion {
			return fmt.Errorf("vault: open: format %d > %d: %w", ver, FormatVersion, app.ErrNewerFormat)
		}
		return nil
	})
}

func (v *Vault) openDB(readOnly bool) (*bbolt.DB, error) {
	db, err := bbolt.Open(v.path, 0o600, &bbolt.Options{Timeout: v.opt.Timeout, ReadOnly: readOnly, FreelistType: bbolt.FreelistMapType})
	if err != nil {
		return nil, fmt.Errorf("vault: open: %w", classify(err))
	}
	return db, nil
}

// Path returns the vault file's path.
func (v *Vault) Path() string { return v.path }

// Exists reports whether the vault file exists.
func (v *Vault) Exists() bool {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.db != nil
}

// Locked reports whether the vault is locked.
func (v *Vault) Locked() bool {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.k == nil
}

// Lock wipes every key, drops the directory and the caches, and keeps the
// file open (it holds only ciphertext). When a purge is pending a shred,
// Lock then compacts the file (see Purge): app.Service locks on idle, on
// Ctrl+L and at shutdown, so purged data leaves the file within the idle
// delay at most.
func (v *Vault) Lock() {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.lockLocked()
	v.shredIfPending()
}

func (v *Vault) lockLocked() {
	if v.k != nil {
		v.k.wipe()
		v.k = nil
	}
	v.dirMu.Lock()
	v.dir = nil
	v.dirMu.Unlock()
}

// Close locks the vault, compacts it when a purge is pending a shred (see
// Purge), and closes the file.
func (v *Vault) Close() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.lockLocked()
	if v.db == nil {
		return nil
	}
	v.shredIfPending()
	if v.db == nil { // the compaction could not reopen the file
		return nil
	}
	err := v.db.Close()
	v.db = nil
	if err != nil {
		return fmt.Errorf("vault: close: %w", err)
	}
	return nil
}

// unlocked returns the keys and db, or an error wrapping app.ErrLocked (or
// app.ErrNoVault). The caller holds v.mu (read or write).
func (v *Vault) unlocked(op string) (*keys, error) {
	if v.db == nil {
		return nil, fmt.Errorf("vault: %s: %w", op, app.ErrNoVault)
	}
	if v.k == nil {
		return nil, fmt.Errorf("vault: %s: %w", op, app.ErrLocked)
	}
	return v.k, nil
}

// view runs fn in a read transaction of db, turning a panic of bbolt on a
// corrupted page (or a fault on a truncated mapping) into app.ErrDamaged.
func (v *Vault) view(db *bbolt.DB, fn func(*bbolt.Tx) error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer guard(&err)
	return classify(db.View(fn))
}

// update runs fn in a read-write transaction of db (see view).
func (v *Vault) update(db *bbolt.DB, fn func(*bbolt.Tx) error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer guard(&err)
	return classify(db.Update(fn))
}

// guard must be deferred; it converts panics into app.ErrDamaged. bbolt
// panics on some corrupted pages; SetPanicOnFault turns a SIGBUS on a
// truncated mapping into a panic that can be recovered.
func guard(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("vault: file structure: %v: %w", r, app.ErrDamaged)
	}
}

// classify maps file-system and bbolt errors onto the app kinds.
func classify(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, bbolt.ErrTimeout):
		return fmt.Errorf("%w: %v", app.ErrInUse, err)
	case errors.Is(err, syscall.ENOSPC):
		return fmt.Errorf("%w: %v", app.ErrNoSpace, err)
	case errors.Is(err, bbolt.ErrInvalid), errors.Is(err, bbolt.ErrChecksum), errors.Is(err, bbolt.ErrVersionMismatch):
		return fmt.Errorf("%w: %v", app.ErrDamaged, err)
	}
	if c := classifyOS(err); c != nil {
		return c
	}
	if s := err.Error(); strings.Contains(s, "file size too small") || strings.Contains(s, "invalid database") {
		return fmt.Errorf("%w: %v", app.ErrDamaged, err)
	}
	return err
}
