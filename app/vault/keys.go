package vault

import (
	"crypto/hmac"
	"crypto/subtle"
	"sync"

	"github.com/carnetdesk/carnet/crypto"
)

// HKDF purposes of the VMK subkeys (offline-crypto.md §6.2).
const (
	infoBlind    = "carnet/blind/v1"
	infoDir      = "carnet/dir/v1"
	infoWrap     = "carnet/wrap/v1"
	infoOutbox   = "carnet/outbox/v1"
	infoAudit    = "carnet/audit/v1"
	infoSettings = "carnet/settings/v1"
	infoHeader   = "carnet/header/v1"
	// infoChain keys the audit log's hash chain (HMAC), apart from the
	// audit AEAD key (format ≥ 2; version 1 vaults chain under infoAudit).
	infoChain = "carnet/audit-chain/v1"
	// infoKEK is the HKDF info of the passphrase slot's key-encryption key.
	infoKEK = "carnet/kek/v1"
)

// maxCachedDEKs bounds the unwrapped patient data keys kept in memory.
const maxCachedDEKs = 256

// keys is the unlocked state: the VMK, its subkeys, their AEADs, the
// device secret, a passphrase verifier and the cache of unwrapped patient
// data keys. Everything is wiped at Lock.
type keys struct {
	vmk                                                      *crypto.Key
	blind, dir, wrap, outbox, audit, settings, header, chain *crypto.Key
	// wrapBase is the VMK's wrap subkey; wrap is the key that wraps the
	// patient data keys: wrapBase itself, or, from format 3, derived from
	// it and the epoch's wrapping secret (wrap.go). wrap changes at a
	// purge: read it with wrapKey.
	wrapBase                 *crypto.Key
	dirA, outA, auditA, setA *crypto.AEAD

	device []byte // device secret, so that a passphrase change costs one KDF

	// session and verifier let ChangePassphrase check the old passphrase
	// without a second Argon2id run: verifier = HMAC(session, passphrase)
	// of the passphrase that unlocked this session. See ChangePassphrase.
	session  *crypto.Key
	verifier []byte

	mu   sync.Mutex
	deks map[string]*dek // by blinded patient key
}

// dek is an unwrapped patient data key and its AEAD.
type dek struct {
	key  *crypto.Key
	aead *crypto.AEAD
}

// newKeys derives the subkeys of vmk for a vault of the given format
// version (which decides the audit chain key) and keeps a copy of device.
func newKeys(vmk *crypto.Key, device, passphrase []byte, format uint32) (*keys, error) {
	chainInfo := infoChain
	if format < sumFormat {
		chainInfo = infoAudit
	}
	k := &keys{
		vmk:      vmk,
		blind:    vmk.Derive(infoBlind),
		dir:      vmk.Derive(infoDir),
		wrapBase: vmk.Derive(infoWrap),
		outbox:   vmk.Derive(infoOutbox),
		audit:    vmk.Derive(infoAudit),
		settings: vmk.Derive(infoSettings),
		header:   vmk.Derive(infoHeader),
		chain:    vmk.Derive(chainInfo),
		device:   append([]byte(nil), device...),
		deks:     map[string]*dek{},
	}
	k.wrap = k.wrapBase
	var err error
	for _, p := range []struct {
		key *crypto.Key
		a   **crypto.AEAD
	}{{k.dir, &k.dirA}, {k.outbox, &k.outA}, {k.audit, &k.auditA}, {k.settings, &k.setA}} {
		if *p.a, err = crypto.NewAEAD(p.key); err != nil {
			k.wipe()
			return nil, err
		}
	}
	if k.session, err = crypto.NewKey(); err != nil {
		k.wipe()
		return nil, err
	}
	k.setVerifier(passphrase)
	return k, nil
}

func (k *keys) setVerifier(passphrase []byte) {
	k.verifier = crypto.MAC(k.session, passphrase)
}

func (k *keys) verify(passphrase []byte) bool {
	return subtle.ConstantTimeCompare(crypto.MAC(k.session, passphrase), k.verifier) == 1
}

func (k *keys) blinder() *crypto.Blinder { return crypto.NewBlinder(k.blind) }

// wrapKey returns the current wrap key of the patient data keys.
func (k *keys) wrapKey() *crypto.Key {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.wrap
}

// setWrap makes w the wrap key (nil: the VMK's wrap subkey), wiping the
// previous one unless it is the subkey.
func (k *keys) setWrap(w *crypto.Key) {
	if w == nil {
		w = k.wrapBase
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.wrap != nil && k.wrap != k.wrapBase && k.wrap != w {
		k.wrap.Wipe()
	}
	k.wrap = w
}

// cached returns an unwrapped patient key, if present.
func (k *keys) cached(id []byte) *dek {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.deks[string(id)]
}

// remember caches d, evicting (and wiping) an arbitrary entry when full.
func (k *keys) remember(id []byte, d *dek) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if old, ok := k.deks[string(id)]; ok && old != d {
		old.key.Wipe()
	}
	if len(k.deks) >= maxCachedDEKs {
		for kk, old := range k.deks {
			old.key.Wipe()
			delete(k.deks, kk)
			break
		}
	}
	k.deks[string(id)] = d
}

// forget wipes and drops a patient key (purge).
func (k *keys) forget(id []byte) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if d, ok := k.deks[string(id)]; ok {
		d.key.Wipe()
		delete(k.deks, string(id))
	}
}

// wipe zeroes every key. The AEADs keep AES key schedules inside the
// standard library that cannot be zeroed; they are dropped with k.
func (k *keys) wipe() {
	for _, key := range []*crypto.Key{k.vmk, k.blind, k.dir, k.wrap, k.wrapBase, k.outbox, k.audit, k.settings, k.header, k.chain, k.session} {
		key.Wipe()
	}
	clear(k.device)
	clear(k.verifier)
	k.mu.Lock()
	for id, d := range k.deks {
		d.key.Wipe()
		delete(k.deks, id)
	}
	k.mu.Unlock()
	k.dirA, k.outA, k.auditA, k.setA = nil, nil, nil, nil
}

// macEqual compares MACs in constant time.
func macEqual(a, b []byte) bool { return hmac.Equal(a, b) }
