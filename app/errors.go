package app

import (
	"errors"
	"fmt"
	"time"
)

// The error kinds of Carnet. Adapters wrap one of them with the operation
// that failed (fmt.Errorf("vault: unlock: %w", app.ErrWrongPassphrase)); the
// UI chooses its message with errors.Is. Error strings never contain health
// data.
var (
	// ErrLocked: the vault is locked; unlock it first.
	ErrLocked = errors.New("vault locked")
	// ErrNoVault: no vault exists yet at the configured place; create one.
	ErrNoVault = errors.New("no vault")
	// ErrVaultExists: a vault already exists where one was to be created.
	ErrVaultExists = errors.New("vault already exists")
	// ErrWrongPassphrase: the passphrase (or the device secret) does not open
	// the vault.
	ErrWrongPassphrase = errors.New("wrong passphrase")
	// ErrTooManyAttempts: too many failed unlocks; wait before the next
	// try. The error is a *WaitError that says how long.
	ErrTooManyAttempts = errors.New("too many attempts")
	// ErrWeakPassphrase: the new passphrase is refused by the policy.
	ErrWeakPassphrase = errors.New("passphrase too weak")
	// ErrDamaged: the vault file is damaged or was tampered with. Carnet never
	// returns wrong data instead.
	ErrDamaged = errors.New("vault damaged")
	// ErrNewerFormat: the vault was written by a newer Carnet; it is left
	// untouched.
	ErrNewerFormat = errors.New("vault written by a newer version")
	// ErrInUse: another Carnet already has this vault open.
	ErrInUse = errors.New("vault in use by another instance")
	// ErrNotFound: no such patient, document or item.
	ErrNotFound = errors.New("not found")
	// ErrInvalid: the input is malformed or breaks a rule; the wrapping text
	// says which, without health data.
	ErrInvalid = errors.New("invalid input")
	// ErrOffline: the central record service or the mailbox cannot be reached.
	ErrOffline = errors.New("offline")
	// ErrAccessDenied: the central record service refused access.
	ErrAccessDenied = errors.New("access denied")
	// ErrConflict: someone else changed the same thing meanwhile.
	ErrConflict = errors.New("conflict")
	// ErrNoSpace: the disk holding the vault is full.
	ErrNoSpace = errors.New("no space left")
	// ErrInsecureFile: a secret file is readable by other users (mode must be
	// 0600).
	ErrInsecureFile = errors.New("secret file readable by others")
	// ErrPrivateKey: a private key was given where a public key is expected
	// (the clinic's recovery key must never leave the clinic's safe).
	ErrPrivateKey = errors.New("private key where a public key is expected")

	// Kinds of the central record service and the mailbox.

	// ErrWithdrawn: the document or record is gone (deleted, deprecated,
	// hidden: HTTP 404/410 from the central service).
	ErrWithdrawn = errors.New("withdrawn")
	// ErrThrottled: the service asks to slow down (HTTP 429); the error is a
	// *WaitError with the Retry-After delay when the service gave one.
	ErrThrottled = errors.New("throttled")
	// ErrServer: the service failed (HTTP 5xx, malformed answer).
	ErrServer = errors.New("server fault")
	// ErrIntegrity: what was received does not match its metadata (hash,
	// size, content type). Nothing of it is kept.
	ErrIntegrity = errors.New("integrity check failed")
	// ErrCredential: the practitioner's card or certificate cannot be used
	// (absent, removed, PIN wrong or locked, expired).
	ErrCredential = errors.New("credential unavailable")
	// ErrDeviceSecret: the vault's device secret cannot be read (the OS
	// keyring is locked, does not answer or lost the entry, or the .device
	// file beside the vault is gone). Not a failed passphrase attempt; the
	// recovery key can reset it.
	ErrDeviceSecret = errors.New("device secret unavailable")
	// ErrNotConfigured: what is asked needs a setting that is not set yet
	// (the central service, the credential, a mailbox password); the
	// settings screen sets it.
	ErrNotConfigured = errors.New("not configured")
	// ErrOlderVault: the vault file is older than the last one used on
	// this computer (a backup or disk image put back, or a rollback by
	// someone holding the file). It opens only when the user accepts it
	// (Service.UnlockOlder); purged patients stay unreadable in it.
	ErrOlderVault = errors.New("vault older than the last one used here")
	// ErrReadOnly: a file Carnet must write (the configuration) is
	// read-only, or its folder cannot be written: deployed so by the
	// clinic's IT, it is left as it is.
	ErrReadOnly = errors.New("read-only")
	// ErrCardModule: the card's PKCS#11 module (the CPS middleware
	// library, cps3_pkcs11_w64.dll on Windows) is not installed at the
	// configured path or cannot be loaded.
	ErrCardModule = errors.New("card module missing")
)

// WaitError says that an operation was refused for now and may be retried
// after Wait. It wraps its Kind (ErrTooManyAttempts, for example).
type WaitError struct {
	Kind error
	Wait time.Duration
}

// Error implements error.
func (e *WaitError) Error() string {
	return fmt.Sprintf("%v: retry in %s", e.Kind, e.Wait.Round(time.Second))
}

// Unwrap returns the kind, so errors.Is(err, ErrTooManyAttempts) holds.
func (e *WaitError) Unwrap() error { return e.Kind }

// kinds lists every kind, in the order KindOf tries them.
var kinds = []error{
	ErrLocked, ErrNoVault, ErrVaultExists, ErrWrongPassphrase, ErrTooManyAttempts,
	ErrWeakPassphrase, ErrDamaged, ErrNewerFormat, ErrInUse, ErrNotFound, ErrInvalid,
	ErrOffline, ErrAccessDenied, ErrConflict, ErrNoSpace, ErrInsecureFile, ErrPrivateKey,
	ErrWithdrawn, ErrThrottled, ErrServer, ErrIntegrity, ErrCredential, ErrDeviceSecret,
	ErrNotConfigured, ErrOlderVault, ErrReadOnly, ErrCardModule,
}

// Kinds returns every error kind, for tests that check each has a message.
func Kinds() []error { return append([]error(nil), kinds...) }

// KindOf returns the kind of err (one of the Err values of this package), or
// nil when err is nil or of no known kind: an internal error, to be logged
// and shown as such.
func KindOf(err error) error {
	if err == nil {
		return nil
	}
	for _, k := range kinds {
		if errors.Is(err, k) {
			return k
		}
	}
	return nil
}
