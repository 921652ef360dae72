package crypto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
)

// FormatVersion is the version byte of sealed values and wrapped keys.
const FormatVersion = 1

// PadBlock is the padding granularity of sealed values.
const PadBlock = 512

const (
	nonceSize = 12
	tagSize   = 16
	headSize  = 1 + nonceSize
	lenSize   = 4
)

// AEAD seals and opens values under one key with AES-256-GCM. It is safe for
// concurrent use. It keeps the expanded key schedule: drop it with the Key.
type AEAD struct {
	gcm cipher.AEAD
}

// NewAEAD returns the AEAD of k.
func NewAEAD(k *Key) (*AEAD, error) {
	block, err := aes.NewCipher(k.b[:])
	if err != nil {
		return nil, fmt.Errorf("crypto: aes: %w", err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("crypto: gcm: %w", err)
	}
	return &AEAD{gcm: gcm}, nil
}

// SealedSize returns the size of a sealed value whose plaintext has n bytes.
func SealedSize(n int) int {
	return headSize + paddedSize(n) + tagSize
}

func paddedSize(n int) int {
	p := n + lenSize
	return (p + PadBlock - 1) / PadBlock * PadBlock
}

// Seal pads and encrypts plaintext, binding it to aad. The result is
// appended to dst (which may be nil).
func (a *AEAD) Seal(dst, plaintext, aad []byte) []byte {
	total := SealedSize(len(plaintext))
	out, buf := grow(dst, total)
	buf[0] = FormatVersion
	if _, err := io.ReadFull(rand.Reader, buf[1:headSize]); err != nil {
		panic("crypto: random nonce: " + err.Error()) // the system's RNG failed
	}
	body := buf[headSize : headSize+paddedSize(len(plaintext))]
	binary.BigEndian.PutUint32(body, uint32(len(plaintext)))
	copy(body[lenSize:], plaintext)
	clear(body[lenSize+len(plaintext):])
	a.gcm.Seal(body[:0], buf[1:headSize], body, adWithVersion(aad))
	return out
}

// SealParts seals the concatenation of parts as Seal would seal it, without
// making the concatenation (a large value and its small header are copied
// once, into the sealed value).
func (a *AEAD) SealParts(dst, aad []byte, parts ...[]byte) []byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	total := SealedSize(n)
	out, buf := grow(dst, total)
	buf[0] = FormatVersion
	if _, err := io.ReadFull(rand.Reader, buf[1:headSize]); err != nil {
		panic("crypto: random nonce: " + err.Error()) // the system's RNG failed
	}
	body := buf[headSize : headSize+paddedSize(n)]
	binary.BigEndian.PutUint32(body, uint32(n))
	at := lenSize
	for _, p := range parts {
		at += copy(body[at:], p)
	}
	clear(body[at:])
	a.gcm.Seal(body[:0], buf[1:headSize], body, adWithVersion(aad))
	return out
}

// Open authenticates and decrypts a value sealed with the same key and aad.
func (a *AEAD) Open(sealed, aad []byte) ([]byte, error) {
	if len(sealed) < headSize+lenSize+tagSize {
		return nil, fmt.Errorf("crypto: open: %d bytes: %w", len(sealed), ErrFormat)
	}
	if sealed[0] != FormatVersion {
		return nil, fmt.Errorf("crypto: open: version %d: %w", sealed[0], ErrFormat)
	}
	body, err := a.gcm.Open(nil, sealed[1:headSize], sealed[headSize:], adWithVersion(aad))
	if err != nil {
		return nil, ErrAuth
	}
	n := binary.BigEndian.Uint32(body)
	if int64(n) > int64(len(body)-lenSize) {
		return nil, fmt.Errorf("crypto: open: length field: %w", ErrFormat)
	}
	return body[lenSize : lenSize+int(n)], nil
}

// Wrap encrypts key under kek, bound to aad (no padding: 61 bytes).
func Wrap(kek, key *Key, aad []byte) ([]byte, error) {
	a, err := NewAEAD(kek)
	if err != nil {
		return nil, err
	}
	out := make([]byte, headSize, headSize+KeySize+tagSize)
	out[0] = FormatVersion
	if _, err := io.ReadFull(rand.Reader, out[1:headSize]); err != nil {
		return nil, fmt.Errorf("crypto: wrap: %w", err)
	}
	return a.gcm.Seal(out, out[1:headSize], key.b[:], adWithVersion(aad)), nil
}

// Unwrap decrypts a key wrapped by Wrap with the same kek and aad.
func Unwrap(kek *Key, wrapped, aad []byte) (*Key, error) {
	if len(wrapped) != headSize+KeySize+tagSize || wrapped[0] != FormatVersion {
		return nil, fmt.Errorf("crypto: unwrap: %w", ErrFormat)
	}
	a, err := NewAEAD(kek)
	if err != nil {
		return nil, err
	}
	k := new(Key)
	if _, err := a.gcm.Open(k.b[:0], wrapped[1:headSize], wrapped[headSize:], adWithVersion(aad)); err != nil {
		k.Wipe()
		return nil, ErrAuth
	}
	return k, nil
}

func adWithVersion(aad []byte) []byte {
	ad := make([]byte, 0, 1+len(aad))
	ad = append(ad, FormatVersion)
	return append(ad, aad...)
}

// grow extends dst by n bytes, returning the whole slice and the new part.
func grow(dst []byte, n int) (whole, tail []byte) {
	l := len(dst)
	if cap(dst)-l >= n {
		whole = dst[:l+n]
	} else {
		whole = make([]byte, l+n)
		copy(whole, dst)
	}
	return whole, whole[l:]
}
