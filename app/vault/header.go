package vault

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"

	"go.etcd.io/bbolt"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/crypto"
)

// Bucket names: fixed short strings, no patient information.
const (
	bHeader = "header"
	bDir    = "dir"
	bKeys   = "keys"
	bMan    = "man"
	bDoc    = "doc"
	bCur    = "cur"
	bOut    = "out"
	bAudit  = "audit"
	bSet    = "set"
)

var allBuckets = []string{bHeader, bDir, bKeys, bMan, bDoc, bCur, bOut, bAudit, bSet}

// Keys of the clear header bucket.
const (
	hFormat      = "format"        // uint32 big endian
	hID          = "id"            // 16 random bytes; the keyring account (hex)
	hDevice      = "device"        // where the device secret lives: "keyring" or "file"
	hPass        = "slot.pass"     // KDF params ‖ salt ‖ wrapped VMK
	hRecovery    = "slot.recovery" // VMK encrypted to the clinic's recovery key (OpenPGP)
	hRecoveryFpr = "recovery.fpr"  // the recovery key's fingerprint (hex)
	hMAC         = "mac"           // HMAC-SHA256(header subkey, every other field)
)

// Device secret locations.
const (
	devKeyring = "keyring"
	devFile    = "file"
)

const slotVersion = 1

// Bounds on stored KDF parameters (far above the policy: Calibrate uses
// 256 MiB and at most 64 passes).
const (
	maxKDFTime      = 1024
	maxKDFMemoryKiB = 4 << 20 // 4 GiB
)

// header is the decoded clear header.
type header struct {
	version  uint32
	id       []byte
	device   string
	kdf      crypto.KDFParams
	wrapped  []byte
	recovery []byte
	mac      []byte
	fields   map[string][]byte // every field, copied out of the transaction
}

func (h *header) account() string { return hex.EncodeToString(h.id) }

func headerVersion(b *bbolt.Bucket) (uint32, error) {
	v := b.Get([]byte(hFormat))
	if len(v) != 4 {
		return 0, fmt.Errorf("header format field: %w", app.ErrDamaged)
	}
	return binary.BigEndian.Uint32(v), nil
}

// readHeader copies and decodes the header bucket.
func (v *Vault) readHeader() (*header, error) {
	h := &header{fields: map[string][]byte{}}
	err := v.view(v.db, func(tx *bbolt.Tx) error {
		b := tx.Bucket([]byte(bHeader))
		if b == nil {
			return fmt.Errorf("no header bucket: %w", app.ErrDamaged)
		}
		return b.ForEach(func(k, val []byte) error {
			h.fields[string(k)] = append([]byte(nil), val...)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	f := h.fields
	if len(f[hFormat]) != 4 || len(f[hID]) != 16 {
		return nil, fmt.Errorf("header fields: %w", app.ErrDamaged)
	}
	h.version = binary.BigEndian.Uint32(f[hFormat])
	if h.version > FormatVersion {
		return nil, fmt.Errorf("format %d: %w", h.version, app.ErrNewerFormat)
	}
	h.id, h.device, h.mac, h.recovery = f[hID], string(f[hDevice]), f[hMAC], f[hRecovery]
	var err2 error
	if h.kdf, h.wrapped, err2 = decodeSlot(f[hPass]); err2 != nil {
		return nil, err2
	}
	return h, nil
}

// encodeKDF is the KDF part of the pass slot, also its associated data.
func encodeKDF(p crypto.KDFParams) []byte {
	b := make([]byte, 0, 11+len(p.Salt))
	b = append(b, slotVersion)
	b = binary.BigEndian.AppendUint32(b, p.Time)
	b = binary.BigEndian.AppendUint32(b, p.MemoryKiB)
	b = append(b, p.Threads, byte(len(p.Salt)))
	return append(b, p.Salt...)
}

// encodeSlot is KDF params ‖ salt ‖ wrapped VMK. Keeping the KDF params in
// the slot itself (instead of a separate header field) means a passphrase
// change rewrites exactly one header entry besides the MAC.
func encodeSlot(p crypto.KDFParams, wrapped []byte) []byte {
	return append(encodeKDF(p), wrapped...)
}

func decodeSlot(b []byte) (crypto.KDFParams, []byte, error) {
	bad := fmt.Errorf("pass slot: %w", app.ErrDamaged)
	if len(b) < 11 || b[0] != slotVersion {
		return crypto.KDFParams{}, nil, bad
	}
	p := crypto.KDFParams{
		Time:      binary.BigEndian.Uint32(b[1:]),
		MemoryKiB: binary.BigEndian.Uint32(b[5:]),
		Threads:   b[9],
	}
	n := int(b[10])
	if len(b) < 11+n || p.Time == 0 || p.Time > maxKDFTime || p.MemoryKiB == 0 || p.MemoryKiB > maxKDFMemoryKiB || p.Threads == 0 {
		// Out-of-range parameters would let an edited header make Unlock
		// allocate gigabytes or spin for minutes: refused as damage.
		return crypto.KDFParams{}, nil, bad
	}
	p.Salt = append([]byte(nil), b[11:11+n]...)
	return p, b[11+n:], nil
}

// slotAAD binds the wrapped VMK to this vault, this slot and its KDF
// parameters: a slot copied from another vault, or with weakened parameters,
// does not open.
func slotAAD(id []byte, slot string, p crypto.KDFParams) []byte {
	aad := append([]byte(nil), id...)
	aad = append(aad, slot...)
	aad = append(aad, 0)
	return append(aad, encodeKDF(p)...)
}

// headerMAC covers every header field but the MAC, in key order, each
// length-prefixed: a field added, removed or changed breaks it.
func headerMAC(k *crypto.Key, fields map[string][]byte) []byte {
	names := make([]string, 0, len(fields))
	for n := range fields {
		if n != hMAC {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	parts := make([][]byte, 0, 2*len(names))
	for _, n := range names {
		var l [6]byte
		binary.BigEndian.PutUint16(l[:2], uint16(len(n)))
		binary.BigEndian.PutUint32(l[2:], uint32(len(fields[n])))
		parts = append(parts, append(l[:], n...), fields[n])
	}
	return crypto.MAC(k, parts...)
}

// kdfFor returns the parameters of a new pass slot: Options.KDF when set,
// else the current ones if they meet the policy, else calibrated ones. A
// fresh salt is always drawn.
func (v *Vault) kdfFor(current *crypto.KDFParams) (crypto.KDFParams, error) {
	var p crypto.KDFParams
	switch {
	case v.opt.KDF != nil:
		p = *v.opt.KDF
	case current != nil && !current.BelowPolicy():
		p = *current
	default:
		var err error
		if p, err = crypto.Calibrate(); err != nil {
			return p, err
		}
	}
	salt, err := crypto.Random(crypto.SaltSize)
	if err != nil {
		return p, err
	}
	p.Salt = salt
	return p, nil
}

// devicePath is the fallback file of the device secret.
func (v *Vault) devicePath() string { return v.path + ".device" }

// readDevice fetches the device secret named by the header.
func (v *Vault) readDevice(h *header) ([]byte, error) {
	switch h.device {
	case devKeyring:
		s, err := v.opt.Keyring.Get(h.account())
		if err != nil {
			return nil, fmt.Errorf("device secret not available from the OS keyring (%v): %w", err, app.ErrWrongPassphrase)
		}
		return s, nil
	case devFile:
		s, err := crypto.ReadSecretFile(v.devicePath())
		switch {
		case errors.Is(err, crypto.ErrInsecureFile):
			return nil, fmt.Errorf("device secret file: %w", app.ErrInsecureFile)
		case errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("device secret file missing: %w", app.ErrWrongPassphrase)
		case err != nil:
			return nil, fmt.Errorf("device secret file: %v: %w", err, app.ErrDamaged)
		}
		return s, nil
	}
	return nil, fmt.Errorf("header device field: %w", app.ErrDamaged)
}

// newDevice draws a device secret and stores it in the keyring, or in a
// 0600 file beside the vault when no keyring answers.
func (v *Vault) newDevice(account string) (secret []byte, where string, err error) {
	if secret, err = crypto.Random(crypto.DeviceSecretSize); err != nil {
		return nil, "", err
	}
	if err := v.opt.Keyring.Set(account, secret); err == nil {
		return secret, devKeyring, nil
	}
	v.log.Warn("no OS keyring answered; the device secret goes to a 0600 file beside the vault")
	// A leftover file belongs to a vault that no longer exists (Create) or
	// to this vault's lost secret (Recover): neither can use it any more.
	if err := os.Remove(v.devicePath()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, "", err
	}
	if err := crypto.WriteSecretFile(v.devicePath(), secret); err != nil {
		return nil, "", classify(err)
	}
	return secret, devFile, nil
}

// writePassSlot wraps the VMK under a KEK from passphrase and p, and writes
// the pass slot, any extra header fields and the header MAC in one
// transaction. Nothing else in the file changes.
func (v *Vault) writePassSlot(k *keys, id, passphrase []byte, p crypto.KDFParams, extra map[string][]byte) error {
	kek, err := crypto.DeriveKEK(passphrase, k.device, p, infoKEK)
	if err != nil {
		return err
	}
	wrapped, err := crypto.Wrap(kek, k.vmk, slotAAD(id, "pass", p))
	kek.Wipe()
	if err != nil {
		return err
	}
	return v.update(v.db, func(tx *bbolt.Tx) error {
		b := tx.Bucket([]byte(bHeader))
		if b == nil {
			return fmt.Errorf("no header bucket: %w", app.ErrDamaged)
		}
		fields := map[string][]byte{}
		if err := b.ForEach(func(kk, vv []byte) error { fields[string(kk)] = vv; return nil }); err != nil {
			return err
		}
		changed := map[string][]byte{hPass: encodeSlot(p, wrapped)}
		for n, val := range extra {
			changed[n] = val
		}
		for n, val := range changed {
			fields[n] = val
		}
		changed[hMAC] = headerMAC(k.header, fields)
		for n, val := range changed {
			if err := b.Put([]byte(n), val); err != nil {
				return err
			}
		}
		return nil
	})
}
