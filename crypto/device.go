package crypto

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/zalando/go-keyring"
)

// DeviceSecretSize is the size of the device secret.
const DeviceSecretSize = 32

// KeyringService is the service name under which Carnet keeps device secrets
// in the OS keyring; the account is the vault id.
const KeyringService = "io.github.carnetdesk.carnet"

// ErrNoKeyring: no OS keyring answered.
var ErrNoKeyring = errors.New("crypto: no keyring available")

// ErrInsecureFile: a secret file is readable or writable by others.
var ErrInsecureFile = errors.New("crypto: secret file must have mode 0600")

// Keyring stores device secrets. OSKeyring is the real one; tests pass a
// keyring that fails, to exercise the file fallback.
type Keyring interface {
	Get(account string) ([]byte, error)
	Set(account string, secret []byte) error
	Delete(account string) error
}

// OSKeyring is the operating system's keyring (Secret Service on Linux,
// Keychain on macOS, Credential Manager on Windows), with a timeout so that a
// keyring daemon that does not answer cannot hang Carnet.
type OSKeyring struct {
	Timeout time.Duration // default 3 s
}

func (k OSKeyring) timeout() time.Duration {
	if k.Timeout <= 0 {
		return 3 * time.Second
	}
	return k.Timeout
}

func (k OSKeyring) call(f func() error) error {
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("%w: %v", ErrNoKeyring, err)
		}
		return nil
	case <-time.After(k.timeout()):
		return fmt.Errorf("%w: no answer", ErrNoKeyring)
	}
}

// Get returns the secret stored for account.
func (k OSKeyring) Get(account string) ([]byte, error) {
	var s string
	err := k.call(func() (err error) { s, err = keyring.Get(KeyringService, account); return })
	if err != nil {
		return nil, err
	}
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != DeviceSecretSize {
		return nil, fmt.Errorf("crypto: keyring entry: %w", ErrFormat)
	}
	return b, nil
}

// Set stores secret for account.
func (k OSKeyring) Set(account string, secret []byte) error {
	return k.call(func() error { return keyring.Set(KeyringService, account, hex.EncodeToString(secret)) })
}

// Delete removes the secret of account.
func (k OSKeyring) Delete(account string) error {
	return k.call(func() error { return keyring.Delete(KeyringService, account) })
}

// NoKeyring is a Keyring that never answers: for machines without one, and
// for tests of the fallback.
type NoKeyring struct{}

// Get fails with ErrNoKeyring.
func (NoKeyring) Get(string) ([]byte, error) { return nil, ErrNoKeyring }

// Set fails with ErrNoKeyring.
func (NoKeyring) Set(string, []byte) error { return ErrNoKeyring }

// Delete fails with ErrNoKeyring.
func (NoKeyring) Delete(string) error { return ErrNoKeyring }

// WriteSecretFile writes secret to path with mode 0600, refusing to replace
// an existing file. The file is synced before returning.
func WriteSecretFile(path string, secret []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("crypto: write secret file: %w", err)
	}
	if _, err := f.Write([]byte(hex.EncodeToString(secret) + "\n")); err != nil {
		f.Close()
		return fmt.Errorf("crypto: write secret file: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("crypto: sync secret file: %w", err)
	}
	return f.Close()
}

// ReadSecretFile reads a device secret written by WriteSecretFile. It
// refuses a file that others may read or write (ErrInsecureFile).
func ReadSecretFile(path string) ([]byte, error) {
	if err := CheckPrivateFile(path); err != nil {
		return nil, err
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("crypto: read secret file: %w", err)
	}
	if len(raw) > 0 && raw[len(raw)-1] == '\n' {
		raw = raw[:len(raw)-1]
	}
	b, err := hex.DecodeString(string(raw))
	clear(raw)
	if err != nil || len(b) != DeviceSecretSize {
		return nil, fmt.Errorf("crypto: secret file content: %w", ErrFormat)
	}
	return b, nil
}

// CheckPrivateFile fails with ErrInsecureFile unless path is a regular file
// that only its owner can read and write (mode 0600 or 0400).
func CheckPrivateFile(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("crypto: secret file: %w", err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("crypto: secret file is not a regular file: %w", fs.ErrInvalid)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("crypto: secret file mode %04o: %w", st.Mode().Perm(), ErrInsecureFile)
	}
	return nil
}
