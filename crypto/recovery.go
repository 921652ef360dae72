package crypto

import (
	"errors"
	"fmt"
	"strings"

	pgp "github.com/ProtonMail/gopenpgp/v2/crypto"
)

// ErrRecoveryKey: the recovery key is malformed, of the wrong kind, or its
// passphrase is wrong.
var ErrRecoveryKey = errors.New("crypto: unusable recovery key")

// ErrPrivateKeyGiven: a private key was given where the public key is
// expected. It wraps ErrRecoveryKey.
var ErrPrivateKeyGiven = fmt.Errorf("%w: a private key was given where the public key is expected", ErrRecoveryKey)

// GenerateRecoveryKey makes a clinic recovery key pair (x25519). The private
// key is returned armored and locked with passphrase, which should be long
// and random: OpenPGP v4's S2K protecting it is weak (see offline-crypto.md
// §4). The public key is what each vault's recovery slot is encrypted to.
func GenerateRecoveryKey(name, email string, passphrase []byte) (privateArmored, publicArmored string, err error) {
	key, err := pgp.GenerateKey(name, email, "x25519", 0)
	if err != nil {
		return "", "", fmt.Errorf("crypto: generate recovery key: %w", err)
	}
	defer key.ClearPrivateParams()
	publicArmored, err = key.GetArmoredPublicKey()
	if err != nil {
		return "", "", fmt.Errorf("crypto: armor public key: %w", err)
	}
	locked, err := key.Lock(passphrase)
	if err != nil {
		return "", "", fmt.Errorf("crypto: lock recovery key: %w", err)
	}
	privateArmored, err = locked.Armor()
	if err != nil {
		return "", "", fmt.Errorf("crypto: armor private key: %w", err)
	}
	return privateArmored, publicArmored, nil
}

// RecoveryFingerprint returns the fingerprint of an armored public key
// (hex), after checking that it can encrypt.
func RecoveryFingerprint(publicArmored []byte) (string, error) {
	_, fp, err := InspectRecoveryKey(publicArmored)
	return fp, err
}

// InspectRecoveryKey checks that publicArmored is an OpenPGP public key able
// to encrypt and returns its first user id and its fingerprint (upper-case
// hex). A private key fails with ErrPrivateKeyGiven.
func InspectRecoveryKey(publicArmored []byte) (userID, fingerprint string, err error) {
	key, err := pgp.NewKeyFromArmored(string(publicArmored))
	if err != nil {
		return "", "", fmt.Errorf("%w: not an armored openpgp key", ErrRecoveryKey)
	}
	if key.IsPrivate() {
		key.ClearPrivateParams()
		return "", "", ErrPrivateKeyGiven
	}
	if !key.CanEncrypt() {
		return "", "", fmt.Errorf("%w: key cannot encrypt (expired or revoked?)", ErrRecoveryKey)
	}
	if ent := key.GetEntity(); ent != nil {
		if id := ent.PrimaryIdentity(); id != nil {
			userID = id.Name
		}
	}
	return userID, strings.ToUpper(key.GetFingerprint()), nil
}

// PrivateKeyFingerprint returns the fingerprint (upper-case hex) of an
// armored OpenPGP private key without unlocking it, so that a vault can
// tell that the key offered for recovery is not its own before asking for
// work. A public key fails with ErrRecoveryKey.
func PrivateKeyFingerprint(privateArmored []byte) (string, error) {
	key, err := pgp.NewKeyFromArmored(string(privateArmored))
	if err != nil {
		return "", fmt.Errorf("%w: not an armored openpgp key", ErrRecoveryKey)
	}
	defer key.ClearPrivateParams()
	if !key.IsPrivate() {
		return "", fmt.Errorf("%w: a public key was given where the private key is expected", ErrRecoveryKey)
	}
	return strings.ToUpper(key.GetFingerprint()), nil
}

// EncryptToRecovery encrypts secret to the clinic's recovery public key.
func EncryptToRecovery(publicArmored, secret []byte) ([]byte, error) {
	if _, err := RecoveryFingerprint(publicArmored); err != nil {
		return nil, err
	}
	key, err := pgp.NewKeyFromArmored(string(publicArmored))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrRecoveryKey, err)
	}
	ring, err := pgp.NewKeyRing(key)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrRecoveryKey, err)
	}
	msg, err := ring.Encrypt(pgp.NewPlainMessage(secret), nil)
	if err != nil {
		return nil, fmt.Errorf("crypto: encrypt to recovery key: %w", err)
	}
	return msg.GetBinary(), nil
}

// DecryptWithRecovery decrypts what EncryptToRecovery produced, with the
// clinic's armored private key and its passphrase.
func DecryptWithRecovery(privateArmored, passphrase, blob []byte) ([]byte, error) {
	key, err := pgp.NewKeyFromArmored(string(privateArmored))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrRecoveryKey, err)
	}
	if !key.IsPrivate() {
		return nil, fmt.Errorf("%w: a public key was given where the private key is expected", ErrRecoveryKey)
	}
	if locked, _ := key.IsLocked(); locked {
		key, err = key.Unlock(passphrase)
		if err != nil {
			return nil, fmt.Errorf("%w: wrong passphrase for the recovery key", ErrRecoveryKey)
		}
	}
	defer key.ClearPrivateParams()
	ring, err := pgp.NewKeyRing(key)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrRecoveryKey, err)
	}
	plain, err := ring.Decrypt(pgp.NewPGPMessage(blob), nil, 0)
	if err != nil {
		return nil, fmt.Errorf("crypto: decrypt recovery slot: %w", ErrAuth)
	}
	return plain.GetBinary(), nil
}
