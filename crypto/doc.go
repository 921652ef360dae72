// Package crypto holds Carnet's cryptography: small, pure and boring.
//
// # The scheme in plain words
//
// A practitioner's passphrase goes through Argon2id (at least 256 MiB of
// memory, its passes calibrated on first run so that it takes 0.5 to 1 s).
// The result is combined, with HKDF-SHA256, with a 32-byte device secret kept
// in the operating system's keyring (or, where none answers, in a 0600 file
// beside the vault, with a warning). That gives the key-encryption key (KEK).
//
// The KEK unwraps the vault master key (VMK), 32 random bytes drawn when the
// vault is created and never stored in clear. HKDF turns the VMK into subkeys,
// one per purpose: opaque bbolt keys (truncated HMACs, so that no INS, name or
// date ever appears in the file), the patient directory, the wrapping of
// per-patient data keys, the outbox, the audit log, the audit log's hash
// chain, the header MAC.
//
// Every value is sealed with AES-256-GCM, a random 96-bit nonce, and
// associated data that binds it to its place (bucket, key, record kind and
// record format version): a value moved under another key does not open.
// The record version is a constant format number, not a per-record
// counter, so a record rolled back to an older sealed copy of itself is not
// detected yet. Plaintexts are padded to a
// multiple of 512 bytes so that sizes tell little.
//
// A passphrase change re-wraps the VMK under a new KEK: one key slot is
// rewritten, whatever the size of the vault. Purging a patient destroys the
// patient's data key first (crypto-shredding).
//
// An optional recovery slot holds the VMK encrypted with OpenPGP (gopenpgp,
// x25519) to the clinic's recovery public key, so that a lost passphrase does
// not lose unsynced work. OpenPGP is used only there: it is 10 to 20 times
// slower than AES-GCM per record and its password mode is weak.
//
// # Format
//
// A sealed value is: version (1 byte, 1) ‖ nonce (12) ‖ AES-256-GCM
// ciphertext of (length (4, big endian) ‖ plaintext ‖ zero padding) with
// associated data version ‖ caller's AAD. A wrapped key is the same without
// padding. Unknown versions are refused with ErrFormat.
//
// Stored Argon2id parameters are bounded (KDFParams.Validate: at most 1 GiB,
// 64 passes, 16 threads) so that a damaged header cannot make a derivation
// exhaust memory or run for hours. Secret files are opened without
// following symbolic links and checked (regular, owner, mode 0600) on the
// descriptor they are read from.
//
// # Limits
//
// Go cannot promise that a key leaves no copy in memory (the garbage
// collector moves objects, and the AES key schedule lives inside the standard
// library). Key.Wipe zeroes what Carnet holds; lifetimes are kept short.
package crypto
