package credential

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"software.sslmate.com/src/go-pkcs12"
)

// maxPKCS12Size bounds the read of a certificate file: a practitioner's
// PKCS#12 is a few kilobytes.
const maxPKCS12Size = 1 << 20

// OpenPKCS12 opens a PKCS#12 certificate file (.p12, .pfx) with its PIN
// (the file's password). The file must be readable by its owner only
// (mode 0600 or 0400; on Windows an owner-only ACL), else ErrFileMode. A wrong PIN
// gives ErrPIN; a certificate outside its validity period, ErrExpired.
// Intermediate certificates in the file are kept in the chain presented to
// the server.
//
// The PIN is converted to a string for the decoder and cannot be wiped from
// memory afterwards; the caller should wipe its own copy.
func OpenPKCS12(path string, pin []byte) (*Credential, error) {
	return openPKCS12(path, pin, time.Now())
}

func openPKCS12(path string, pin []byte, now time.Time) (*Credential, error) {
	name := filepath.Base(path)
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("credential: certificate file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("credential: certificate file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("credential: %s is not a regular file", name)
	}
	if err := checkOwnerOnly(f, fi, name); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, maxPKCS12Size+1))
	if err != nil {
		return nil, fmt.Errorf("credential: read %s: %w", name, err)
	}
	if len(data) > maxPKCS12Size {
		return nil, fmt.Errorf("credential: %s is too large for a certificate file (over %d bytes)", name, maxPKCS12Size)
	}
	return decodePKCS12(name, data, pin, now)
}

// decodePKCS12 decodes a PKCS#12 blob; name only labels errors.
func decodePKCS12(name string, data, pin []byte, now time.Time) (c *Credential, err error) {
	defer func() {
		// The decoder is third-party code fed with a user's file: a panic
		// in it is a bad file, not a crash.
		if r := recover(); r != nil {
			c, err = nil, fmt.Errorf("credential: %s is not a valid PKCS#12 file", name)
		}
	}()
	key, leaf, chain, err := pkcs12.DecodeChain(data, string(pin))
	switch {
	case errors.Is(err, pkcs12.ErrIncorrectPassword):
		return nil, fmt.Errorf("%w for %s", ErrPIN, name)
	case err != nil:
		// go-pkcs12's messages name structures, never the password.
		return nil, fmt.Errorf("credential: %s is not a valid PKCS#12 file: %v", name, err)
	case leaf == nil:
		return nil, fmt.Errorf("credential: %s holds no certificate", name)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("credential: %s: unsupported private key type %T", name, key)
	}
	cred, err := newCredential(KindPKCS12, leaf, chain, signer, now)
	if err != nil {
		wipeKey(signer)
		return nil, fmt.Errorf("%w (%s)", err, name)
	}
	cred.closer = func() error { wipeKey(signer); return nil }
	return cred, nil
}

// wipeKey zeroes the secret integers of a file credential's private key
// (Close calls it: the key does not wait in memory for the garbage
// collector). Best effort: the copies the standard library derives for
// its own computations (an RSA key's precomputed form) are not reachable.
func wipeKey(k crypto.Signer) {
	zero := func(n *big.Int) {
		if n != nil {
			clear(n.Bits())
			n.SetInt64(0)
		}
	}
	switch k := k.(type) {
	case *rsa.PrivateKey:
		zero(k.D)
		for _, p := range k.Primes {
			zero(p)
		}
		zero(k.Precomputed.Dp)
		zero(k.Precomputed.Dq)
		zero(k.Precomputed.Qinv)
	case *ecdsa.PrivateKey:
		zero(k.D)
	case ed25519.PrivateKey:
		clear(k)
	}
}
