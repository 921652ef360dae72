package vault

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
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
	hDevice      = "device"        // where the device secret lives (see device.go)
	hPass        = "slot.pass"     // KDF params ‖ salt ‖ wrapped VMK
	hRecovery    = "slot.recovery" // VMK encrypted to the clinic's recovery key (OpenPGP)
	hRecoveryFpr = "recovery.fpr"  // the recovery key's fingerprint (hex)
	hMAC         = "mac"           // HMAC-SHA256(header subkey, every field but mac, sum, shred)
	// hSum (format ≥ 2) is an unkeyed SHA-256 of every field but sum and
	// shred, checked before the KDF: a damaged header (pass slot included)
	// is reported as damage, not as a wrong passphrase. The MAC still
	// proves the header authentic once the VMK is known.
	hSum = "sum"
	// hShred is present while purged records may remain in free pages; the
	// next Lock, Close, Open or Compact compacts the file and removes it.
	// It is outside the MAC and the sum (it must be cleared while locked):
	// setting it costs a compaction, removing it gains nothing over reading
	// the file as it is.
	hShred = "shred"
)

// sumFormat is the first format version whose header carries hSum and whose
// audit chain is keyed with carnet/audit-chain/v1. Version 1 vaults
// (pre-release builds) are still read: no checksum, audit chain under the
// audit key.
const sumFormat = 2

const slotVersion = 1

// header is the decoded clear header.
type header struct {
	version  uint32
	id       []byte
	device   string
	kdf      crypto.KDFParams
	wrapped  []byte
	recovery []byte
	fpr      string
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
	fields := map[string][]byte{}
	err := v.view(v.db, func(tx *bbolt.Tx) error {
		b, err := bucket(tx, bHeader)
		if err != nil {
			return err
		}
		return b.ForEach(func(k, val []byte) error {
			fields[string(k)] = append([]byte(nil), val...)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return decodeHeader(fields)
}

// decodeHeader checks the format version and, from sumFormat on, the
// checksum, then decodes the fields. Nothing here needs a key: it runs
// before the KDF. The map is kept as h.fields (not copied).
func decodeHeader(f map[string][]byte) (*header, error) {
	if len(f[hFormat]) != 4 || len(f[hID]) != 16 {
		return nil, fmt.Errorf("header fields: %w", app.ErrDamaged)
	}
	h := &header{fields: f, version: binary.BigEndian.Uint32(f[hFormat])}
	switch {
	case h.version > FormatVersion:
		return nil, fmt.Errorf("format %d: %w", h.version, app.ErrNewerFormat)
	case h.version == 0:
		return nil, fmt.Errorf("format 0: %w", app.ErrDamaged)
	case h.version >= sumFormat && !bytes.Equal(f[hSum], headerSum(f)):
		return nil, fmt.Errorf("header checksum: %w", app.ErrDamaged)
	}
	h.id, h.device, h.mac, h.recovery, h.fpr = f[hID], string(f[hDevice]), f[hMAC], f[hRecovery], string(f[hRecoveryFpr])
	var err error
	if h.kdf, h.wrapped, err = decodeSlot(f[hPass]); err != nil {
		return nil, err
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
// change rewrites exactly one header entry besides the MAC and the sum.
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
	if len(b) < 11+n {
		return crypto.KDFParams{}, nil, bad
	}
	p.Salt = append([]byte(nil), b[11:11+n]...)
	// Out-of-range parameters would let an edited header make Unlock
	// allocate gigabytes or spin for hours: refused as damage.
	if p.Validate() != nil {
		return crypto.KDFParams{}, nil, bad
	}
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

// canonical encodes the header fields but skip, in key order, each
// length-prefixed: a field added, removed or changed changes the encoding.
func canonical(fields map[string][]byte, skip ...string) [][]byte {
	names := make([]string, 0, len(fields))
	for n := range fields {
		if !slices.Contains(skip, n) {
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
	return parts
}

// headerMAC covers every header field but the MAC, the sum, the shred
// flag and the throttle.
func headerMAC(k *crypto.Key, fields map[string][]byte) []byte {
	return crypto.MAC(k, canonical(fields, hMAC, hSum, hShred, hSlotShred, hThrottle)...)
}

// headerSum is the unkeyed checksum: SHA-256 of every field but the sum,
// the shred flag and the throttle (the MAC included).
func headerSum(fields map[string][]byte) []byte {
	h := sha256.New()
	for _, p := range canonical(fields, hSum, hShred, hSlotShred, hThrottle) {
		h.Write(p)
	}
	return h.Sum(nil)
}

// sealHeader sets the MAC, and the sum from sumFormat on, of fields.
func sealHeader(k *keys, fields map[string][]byte, version uint32) {
	fields[hMAC] = headerMAC(k.header, fields)
	if version >= sumFormat {
		fields[hSum] = headerSum(fields)
	}
}

// passSlot derives the KEK of passphrase (with the device secret k holds)
// under p, wraps the VMK with it and returns the encoded pass slot: the one
// derive-and-wrap of Create, ChangePassphrase, Recover and the KDF upgrade.
func (k *keys) passSlot(id, passphrase []byte, p crypto.KDFParams) ([]byte, error) {
	kek, err := crypto.DeriveKEK(passphrase, k.device, p, infoKEK)
	if err != nil {
		return nil, err
	}
	wrapped, err := crypto.Wrap(kek, k.vmk, slotAAD(id, "pass", p))
	kek.Wipe()
	if err != nil {
		return nil, err
	}
	return encodeSlot(p, wrapped), nil
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

// writePassSlot writes a pass slot for passphrase under p, any extra header
// fields, the MAC and the sum in one transaction (see updateHeader), and
// sets the slot-shred flag: the old slot, in free pages now, is overwritten
// right after (shredSlots), or the file is compacted at the next Lock,
// Close or Open if that fails or the process dies first. Nothing else in the file changes.
func (v *Vault) writePassSlot(k *keys, id, passphrase []byte, p crypto.KDFParams, extra map[string][]byte) error {
	slot, err := k.passSlot(id, passphrase, p)
	if err != nil {
		return err
	}
	changes := map[string][]byte{hPass: slot, hSlotShred: {1}}
	for n, val := range extra {
		changes[n] = val
	}
	return v.updateHeader(k, changes)
}

// updateHeader applies changes to the header and re-seals it (MAC, sum) in
// one transaction. Inside that transaction it first verifies the header as
// it is on disk (checksum, then MAC under k): a header edited since it was
// verified is refused with app.ErrDamaged instead of being re-signed. Only
// the fields whose value changes are written.
func (v *Vault) updateHeader(k *keys, changes map[string][]byte) error {
	return v.update(v.db, func(tx *bbolt.Tx) error {
		b, h, err := txHeader(tx, k)
		if err != nil {
			return err
		}
		return putHeader(b, k, h, changes)
	})
}
