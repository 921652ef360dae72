// Package vault is Carnet's encrypted local cache: a bbolt file that
// implements app.Store. It keeps the patient directory, manifests,
// documents, sync cursors, the outbox, the settings and a hash-chained
// audit log, all sealed; nothing in the file names a patient.
//
// Open returns a locked Vault; Create makes the file on first run; Unlock
// derives the keys from the passphrase and the device secret. The design is
// offline-crypto.md §6; the primitives are package crypto (see its package
// comment for the scheme in plain words).
//
// # File layout
//
// One bbolt file, one bucket per kind of record (names are fixed short
// strings):
//
//	header  clear: format version, vault id, device-secret location, the
//	        pass slot (Argon2id params ‖ salt ‖ wrapped VMK), the optional
//	        recovery slot and its key fingerprint, the header MAC, the
//	        header checksum (format ≥ 2: unkeyed SHA-256, checked before the
//	        KDF so that damage is not reported as a wrong passphrase), the
//	        shred flag while a purge awaits compaction; from format 3 the
//	        audit head, the rollback counter, the device secret's check
//	        value, the wrapping epoch (and its secret encrypted to the
//	        recovery key, with that public key), and the unlock throttle
//	        (outside the MAC and the sum): see integrity.go and wrap.go
//	dir     one directory entry (app.Patient) per patient, dir key
//	keys    one wrapped data key (DEK) per patient, wrap key
//	man     one manifest per patient, patient DEK
//	doc     one document per (patient, document id), patient DEK, raw bytes
//	cur     one cursor record per patient (all its streams), patient DEK;
//	        global streams under the dir key
//	out     one outbox item per item id, outbox key; ordered by CreatedAt
//	audit   the audit log, keyed by big-endian sequence, audit key; events
//	        may be appended by a Batch, in the transaction of its data
//	set     the settings (settings key) and the audit head (audit key)
//	decl    the medications a patient declared, one record per patient,
//	        patient DEK (declared.go); shredded with the patient
//	inbox, mraw, mrec, mstate
//	        the MSSanté manual queue, raw messages, dedup records and IMAP
//	        sync points, under the mail key "carnet/mail/v1" (mail.go);
//	        created on first use, raw messages dropped by PruneMail
//
// Every key except the audit sequence and the header field names is an
// opaque 16-byte HMAC (crypto.Blinder with the VMK's blind subkey) of a
// domain and the record's identifiers: no INS, name, date or patient prefix
// appears, and the records of one patient are not grouped.
//
// # What is in clear
//
// The header fields above (no patient data), the number and sizes of
// records (padded to 512 bytes), the audit entry count, and bbolt's page
// structure. Every value is AES-256-GCM with associated data bucket ‖ key ‖
// record kind ‖ record format version (a constant), so a value moved under
// another key, bucket or kind does not open.
//
// # Keys
//
// passphrase → Argon2id (params in the pass slot) + device secret (OS
// keyring, else a 0600 file path+".device") → KEK → unwraps the VMK. HKDF
// subkeys of the VMK: carnet/blind/v1, carnet/dir/v1, carnet/wrap/v1,
// carnet/outbox/v1, carnet/audit/v1, carnet/audit-chain/v1 (the audit
// log's hash chain; format 1 vaults chain under carnet/audit/v1),
// carnet/settings/v1, carnet/header/v1.
// Per-patient DEKs are random and wrapped by the wrap key (format 3: derived
// from carnet/wrap/v1 and the epoch's wrapping secret, kept beside the
// device secret and rotated by every purge); purge deletes the DEK first
// (crypto-shredding). A passphrase change rewrites the pass
// slot, the counter, the header MAC and the checksum only, after verifying
// the header in the same transaction, then overwrites the old slot where
// bbolt freed it (or compacts the file) so that it does not stay in free
// pages. The recovery slot holds the VMK encrypted to the
// clinic's OpenPGP recovery key.
//
// # Files beside the vault
//
// path+".device" (the device secret when no keyring answers, 0600),
// path+".counter" and path+".wrap.N" (the rollback counter's mirror and the
// wrapping secret, likewise), path+".lock" (the creation lock, only while
// Create runs), and temporary files path+".creating-*", path+".compact-*",
// path+".device.*.tmp", path+".counter.*.tmp" that live only during an
// operation; Open removes those an interrupted operation left (the next
// unlock reports app.WarnLeftovers).
//
// # Errors
//
// Errors read "vault: op: …" and wrap an app kind: ErrLocked, ErrNoVault,
// ErrVaultExists, ErrWrongPassphrase, ErrDeviceSecret (keyring or .device
// file unavailable: not a failed passphrase), ErrDamaged (any value that
// fails to authenticate, a tampered header, a truncated file: never wrong
// data), ErrNewerFormat, ErrInUse (another instance holds the file, or is
// creating it), ErrNoSpace, ErrNotFound, ErrInvalid (also: a recovery key
// of another vault), ErrConflict, ErrInsecureFile. A damaged directory
// record does not fail Unlock: the patient is left out and the report
// carries app.WarnDamagedRecords. They name buckets and key prefixes, never health
// data.
//
// # Caveats
//
//   - Go cannot guarantee that keys leave no copy in memory: Lock zeroes the
//     keys Carnet holds, but AES key schedules inside the standard library,
//     strings, and garbage-collected copies may linger.
//   - Rollback of the whole file to an older copy is detected through the
//     counter and its mirror (app.ErrOlderVault; AcceptOlderOnce opens it by
//     the user's choice), unless the mirror is rolled back with it. The
//     counter is raised per unlock, purge and slot rewrite: a copy taken
//     within one session is not older. Rollback of a single record to an
//     older version of the same record is not detected (the record
//     version in the associated data is a constant, not a per-record
//     counter). Cutting, wiping or replacing the audit log's tail is
//     detected through the head bound in the header, and recorded as a gap.
//   - Deleted ciphertext stays in freed pages until compaction. A purge
//     sets the header's shred flag and the next Lock, Close or Open
//     compacts (see Purge), so purged records leave the file within the
//     idle delay; until then their wrapped key still opens under the VMK.
//     Ordinary overwrites and deletions wait for the idle compaction
//     (free pages above app.CompactThreshold). Blocks the file system freed
//     when the old file was replaced are not overwritten.
//   - Recover that must draw a new device secret kept in a file commits
//     the new slot, then renames the file into place: a crash between the
//     two needs another Recover.
//   - The passphrase-change verifier (see ChangePassphrase) is an HMAC of the
//     session's passphrase held in memory while unlocked.
//   - Documents not listed by any manifest cannot be purged by Purge (Purge
//     follows the manifest); Check reports them.
//   - bbolt has no page checksums. Values are authenticated, but a corrupted
//     page structure (branch or page headers) is bbolt's to detect: it
//     usually panics (turned into ErrDamaged) and, rarely, misleads bbolt's
//     unsafe slicing into the Go heap so that the runtime aborts the process
//     (see TestRandomFileCorruption). Never wrong data, but not always a
//     clean error.
//   - Compact closes and reopens the file; another process could take the
//     lock in between (it then gets the vault and this one ErrInUse).
package vault
