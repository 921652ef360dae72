package crypto

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
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

// WriteSecretFile writes secret to path with mode 0600 (on Windows: created
// with an owner-only ACL), refusing to replace an existing file. The file
// is synced before returning.
func WriteSecretFile(path string, secret []byte) error {
	f, err := createPrivate(path)
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

// maxSecretFile bounds what ReadSecretFile reads: a hex device secret and a
// newline.
const maxSecretFile = 2*DeviceSecretSize + 2

// ReadSecretFile reads a device secret written by WriteSecretFile. It
// refuses a file that others may read or write, that another user owns, or
// that is reached through a symbolic link (ErrInsecureFile); the checks and
// the read use one open descriptor (see ReadPrivateFile).
func ReadSecretFile(path string) ([]byte, error) {
	raw, err := ReadPrivateFile(path, maxSecretFile)
	if err != nil {
		return nil, err
	}
	defer clear(raw)
	text := raw
	if len(text) > 0 && text[len(text)-1] == '\n' {
		text = text[:len(text)-1]
	}
	b := make([]byte, DeviceSecretSize)
	if n, err := hex.Decode(b, text); err != nil || n != DeviceSecretSize || len(text) != 2*DeviceSecretSize {
		clear(b)
		return nil, fmt.Errorf("crypto: secret file content: %w", ErrFormat)
	}
	return b, nil
}

// ReadPrivateFile reads a secret file of at most limit bytes after checking,
// on the descriptor it reads from (no window between check and read), that
// it is a regular file, not reached through a symbolic link, owned by the
// current user and closed to group and others (mode 0600 or 0400). Other
// files fail with ErrInsecureFile (fs.ErrInvalid for a directory, a device
// or a pipe); a missing one with an error wrapping fs.ErrNotExist; a longer
// one with ErrFormat. On Windows, "mode 0600" means an owner-only ACL: the
// file must be owned by the current user and its DACL may grant access to
// no one but that user, SYSTEM and the Administrators (as OpenSSH for
// Windows checks its keys).
func ReadPrivateFile(path string, limit int64) ([]byte, error) {
	f, err := openPrivate(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		clear(raw)
		return nil, fmt.Errorf("crypto: read secret file: %w", err)
	}
	if int64(len(raw)) > limit {
		clear(raw)
		return nil, fmt.Errorf("crypto: secret file longer than %d bytes: %w", limit, ErrFormat)
	}
	return raw, nil
}

// CheckPrivateFile fails unless path is a file ReadPrivateFile would read:
// regular, not a symbolic link, owned by the current user, mode 0600 or
// 0400 (ErrInsecureFile otherwise). Prefer ReadPrivateFile, which checks
// and reads through the same descriptor.
func CheckPrivateFile(path string) error {
	f, err := openPrivate(path)
	if err != nil {
		return err
	}
	return f.Close()
}

// checkPrivateInfo applies the mode checks shared by every platform to the
// information of an open file.
func checkPrivateInfo(st fs.FileInfo) error {
	if !st.Mode().IsRegular() {
		return fmt.Errorf("crypto: secret file is not a regular file: %w", fs.ErrInvalid)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("crypto: secret file mode %04o: %w", st.Mode().Perm(), ErrInsecureFile)
	}
	return nil
}

// CreatePrivateFile creates path for writing, failing if it exists, readable
// by its owner alone: mode 0600, on Windows an owner-only ACL given at
// creation (an inherited ACL may let other users read it, and
// ReadPrivateFile refuses such a file).
func CreatePrivateFile(path string) (*os.File, error) {
	return createPrivate(path)
}
