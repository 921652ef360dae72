package crypto

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"

	"golang.org/x/crypto/hkdf"
)

// KeySize is the size of every symmetric key in bytes.
const KeySize = 32

// BlindSize is the size of an opaque (blinded) bbolt key in bytes.
const BlindSize = 16

// Errors of this package. Callers classify them (a failed Open is damage or
// a wrong key, depending on where it happens).
var (
	// ErrAuth: the ciphertext does not authenticate under this key and
	// associated data (wrong key, tampering, or a value moved elsewhere).
	ErrAuth = errors.New("crypto: message authentication failed")
	// ErrFormat: the value is truncated or of an unknown format version.
	ErrFormat = errors.New("crypto: malformed or unknown format")
)

// Key is a 32-byte symmetric key. Pass it by pointer; call Wipe when done.
type Key struct {
	b [KeySize]byte
}

// NewKey draws a random key.
func NewKey() (*Key, error) {
	k := new(Key)
	if _, err := io.ReadFull(rand.Reader, k.b[:]); err != nil {
		return nil, fmt.Errorf("crypto: new key: %w", err)
	}
	return k, nil
}

// KeyFromBytes copies b (KeySize bytes) into a new Key.
func KeyFromBytes(b []byte) (*Key, error) {
	if len(b) != KeySize {
		return nil, fmt.Errorf("crypto: key of %d bytes: %w", len(b), ErrFormat)
	}
	k := new(Key)
	copy(k.b[:], b)
	return k, nil
}

// Bytes returns the key bytes. The slice aliases the key: it is wiped with it.
func (k *Key) Bytes() []byte { return k.b[:] }

// Wipe zeroes the key.
func (k *Key) Wipe() {
	if k == nil {
		return
	}
	for i := range k.b {
		k.b[i] = 0
	}
}

// Derive returns the subkey of k for purpose info (HKDF-SHA256, no salt).
// Different infos give independent keys.
func (k *Key) Derive(info string) *Key {
	sub := new(Key)
	r := hkdf.New(sha256.New, k.b[:], nil, []byte(info))
	if _, err := io.ReadFull(r, sub.b[:]); err != nil {
		panic("crypto: hkdf: " + err.Error()) // cannot happen for 32 bytes
	}
	return sub
}

// Blinder computes opaque bbolt keys: HMAC-SHA256 truncated to BlindSize
// bytes. It is not safe for concurrent use; make one per goroutine.
type Blinder struct {
	mac hashResetter
	sum []byte
}

type hashResetter interface {
	Write([]byte) (int, error)
	Sum([]byte) []byte
	Reset()
}

// NewBlinder returns a Blinder keyed with k.
func NewBlinder(k *Key) *Blinder {
	return &Blinder{mac: hmac.New(sha256.New, k.b[:]), sum: make([]byte, 0, sha256.Size)}
}

// Blind returns the opaque key for the given parts. Parts are length-prefixed
// so that ("ab","c") and ("a","bc") differ.
func (bl *Blinder) Blind(parts ...string) []byte {
	bl.mac.Reset()
	var n [2]byte
	for _, p := range parts {
		n[0], n[1] = byte(len(p)>>8), byte(len(p))
		bl.mac.Write(n[:])
		bl.mac.Write([]byte(p))
	}
	bl.sum = bl.mac.Sum(bl.sum[:0])
	out := make([]byte, BlindSize)
	copy(out, bl.sum)
	return out
}

// MAC returns HMAC-SHA256 of data under k (used for the header MAC and the
// audit chain).
func MAC(k *Key, data ...[]byte) []byte {
	m := hmac.New(sha256.New, k.b[:])
	for _, d := range data {
		m.Write(d)
	}
	return m.Sum(nil)
}

// Random returns n random bytes.
func Random(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(rand.Reader, b); err != nil {
		return nil, fmt.Errorf("crypto: random: %w", err)
	}
	return b, nil
}
