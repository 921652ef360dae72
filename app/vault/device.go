package vault

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/crypto"
)

// Device secret locations: the header's device field.
const (
	// devKeyring: the OS keyring, account = the vault id (hex).
	devKeyring = "keyring"
	// devKeyringAt prefixes "keyring:<account>": the OS keyring under the
	// named account (a secret redrawn by Recover goes to a fresh account, so
	// that the old entry is never overwritten before the new slot commits).
	devKeyringAt = "keyring:"
	// devFile: a 0600 file beside the vault (devicePath).
	devFile = "file"
)

// devicePath is the fallback file of the device secret.
func (v *Vault) devicePath() string { return v.path + ".device" }

// keyringAccount returns the keyring account of a header whose device
// secret is in the keyring.
func (h *header) keyringAccount() (string, bool) {
	switch {
	case h.device == devKeyring:
		return h.account(), true
	case strings.HasPrefix(h.device, devKeyringAt) && len(h.device) > len(devKeyringAt):
		return h.device[len(devKeyringAt):], true
	}
	return "", false
}

// readDevice fetches the device secret named by the header. A keyring that
// does not answer or lacks the entry, and a missing file, give
// app.ErrDeviceSecret: neither is a wrong passphrase.
func (v *Vault) readDevice(h *header) ([]byte, error) {
	if acct, ok := h.keyringAccount(); ok {
		s, err := v.opt.Keyring.Get(acct)
		if err != nil {
			return nil, fmt.Errorf("OS keyring (%v): %w", err, app.ErrDeviceSecret)
		}
		return s, nil
	}
	if h.device != devFile {
		return nil, fmt.Errorf("header device field: %w", app.ErrDamaged)
	}
	s, err := crypto.ReadSecretFile(v.devicePath())
	switch {
	case errors.Is(err, crypto.ErrInsecureFile):
		return nil, fmt.Errorf("device secret file: %v: %w", err, app.ErrInsecureFile)
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("device secret file missing: %w", app.ErrDeviceSecret)
	case err != nil:
		return nil, fmt.Errorf("device secret file: %v: %w", err, app.ErrDamaged)
	}
	return s, nil
}

// pendingDevice is a device secret stored where no vault looks for it yet:
// in the keyring under an account no header names, or in a temporary file.
// commit puts it in place; abort removes it. Nothing another vault or
// creator wrote is ever deleted.
type pendingDevice struct {
	where   string      // the header's device field once committed
	account string      // keyring: the entry written
	tmp     string      // file: the temporary file, renamed at commit
	info    fs.FileInfo // file: identity of tmp, to remove only our own file
	done    bool        // committed
}

// stageDevice stores secret in the keyring under account (where names it
// in the header), or, when no keyring answers, in a fresh 0600 temporary
// file beside the vault (created with O_EXCL).
func (v *Vault) stageDevice(account, where string, secret []byte) (*pendingDevice, error) {
	if err := v.opt.Keyring.Set(account, secret); err == nil {
		return &pendingDevice{where: where, account: account}, nil
	}
	v.log.Warn("no OS keyring answered; the device secret goes to a 0600 file beside the vault")
	r, err := crypto.Random(8)
	if err != nil {
		return nil, err
	}
	tmp := v.devicePath() + "." + hex.EncodeToString(r) + ".tmp"
	if err := crypto.WriteSecretFile(tmp, secret); err != nil {
		return nil, classify(err)
	}
	info, err := os.Stat(tmp)
	if err != nil {
		_ = os.Remove(tmp)
		return nil, err
	}
	return &pendingDevice{where: devFile, tmp: tmp, info: info}, nil
}

// commit puts a file secret in place (an atomic rename over devicePath,
// made durable); a keyring secret is in place already.
func (d *pendingDevice) commit(v *Vault) error {
	if d.tmp != "" {
		if err := os.Rename(d.tmp, v.devicePath()); err != nil {
			return classify(err)
		}
		syncDir(filepath.Dir(v.path))
	}
	d.done = true
	return nil
}

// abort removes the staged secret: the keyring entry, the temporary file,
// or, once committed, devicePath if it is still the very file staged.
func (d *pendingDevice) abort(v *Vault) {
	switch {
	case d.tmp == "":
		_ = v.opt.Keyring.Delete(d.account)
	case !d.done:
		_ = os.Remove(d.tmp)
	default:
		if fi, err := os.Stat(v.devicePath()); err == nil && os.SameFile(fi, d.info) {
			_ = os.Remove(v.devicePath())
		}
	}
}

// dropOldDevice removes, best effort, the secret of header h after a
// Recover moved the vault to another location or keyring account: it no
// longer opens anything.
func (v *Vault) dropOldDevice(h *header, now *pendingDevice) {
	if acct, ok := h.keyringAccount(); ok && acct != now.account {
		_ = v.opt.Keyring.Delete(acct)
	}
	if h.device == devFile && now.where != devFile {
		_ = os.Remove(v.devicePath())
	}
}
