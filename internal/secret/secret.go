// Package secret reads the command line's secrets (a vault passphrase, a
// PIN, a mailbox password, a recovery key): from a file that must be
// private (mode 0600 or 0400, owned by the user, not a symbolic link), else
// from the terminal; never from the command line or the environment.
package secret

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/term"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/crypto"
)

// ErrNoTTY: a secret was needed, no file was given and there is no terminal.
var ErrNoTTY = errors.New("no terminal to ask for a secret: give a 0600 file instead (see carnet help)")

// ReadFile reads the first line of a file that must have mode 0600
// (or 0400): a secret never comes from a file others can read.
func ReadFile(path string) ([]byte, error) {
	raw, err := ReadPrivateFile(path)
	if err != nil {
		return nil, err
	}
	line, _, _ := bytes.Cut(raw, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	out := append([]byte{}, line...)
	app.Wipe(raw)
	return out, nil
}

// maxSecretFile bounds a secret file (a passphrase, a PIN, an armored key).
const maxSecretFile = 1 << 20

// ReadPrivateFile reads a whole file (at most 1 MiB) that must have mode 0600 (or 0400), be
// owned by the current user and not be a symbolic link; the check and the
// read use the same descriptor.
func ReadPrivateFile(path string) ([]byte, error) {
	raw, err := crypto.ReadPrivateFile(path, maxSecretFile)
	if err != nil {
		if errors.Is(err, crypto.ErrInsecureFile) {
			return nil, fmt.Errorf("%s: %w (%s)", path, app.ErrInsecureFile, privateFileAdvice(path))
		}
		return nil, fmt.Errorf("read secret file: %w", err)
	}
	return raw, nil
}

// Source reads secrets from a file when one is given, else from the
// terminal.
type Source struct {
	Stderr io.Writer // kept for the commands' messages; prompts go to the terminal
}

// Get returns the secret: from file when non-empty, else prompted on the
// terminal (twice when confirm).
func (s Source) Get(file, prompt string, confirm bool) ([]byte, error) {
	if file != "" {
		return ReadFile(file)
	}
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return nil, ErrNoTTY
	}
	defer tty.Close()
	if !term.IsTerminal(int(tty.Fd())) {
		return nil, ErrNoTTY
	}
	ask := func(p string) ([]byte, error) {
		fmt.Fprint(tty, p)
		b, err := term.ReadPassword(int(tty.Fd()))
		fmt.Fprintln(tty)
		return b, err
	}
	first, err := ask(prompt + ": ")
	if err != nil {
		return nil, fmt.Errorf("read secret: %w", err)
	}
	if confirm {
		again, err := ask(prompt + " (again): ")
		if err != nil {
			return nil, fmt.Errorf("read secret: %w", err)
		}
		same := bytes.Equal(first, again)
		app.Wipe(again)
		if !same {
			app.Wipe(first)
			return nil, fmt.Errorf("the two entries differ: %w", app.ErrInvalid)
		}
	}
	return first, nil
}
