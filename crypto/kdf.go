package crypto

import (
	"crypto/sha256"
	"fmt"
	"io"
	"runtime/debug"
	"time"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/hkdf"
)

// Argon2id policy. A vault below the floor is upgraded at the next normal
// unlock.
const (
	MinMemoryKiB   = 256 * 1024 // 256 MiB
	MinTime        = 1
	DefaultThreads = 4
	SaltSize       = 16
	// TargetMin and TargetMax bound the calibrated derivation time.
	TargetMin = 500 * time.Millisecond
	TargetMax = time.Second
)

// Upper bounds on stored parameters (KDFParams.Validate). They sit well
// above the policy (Calibrate uses 256 MiB and at most MaxTime passes) and
// keep a damaged or edited header from making a derivation allocate
// gigabytes or run for hours.
const (
	MaxTime      = 64
	MaxMemoryKiB = 1 << 20 // 1 GiB
	MaxThreads   = 16
	MinSaltSize  = 8
	MaxSaltSize  = 64
)

// KDFParams are the Argon2id parameters of a key slot. They are stored in
// clear in the vault header.
type KDFParams struct {
	Time      uint32 // passes
	MemoryKiB uint32
	Threads   uint8
	Salt      []byte // SaltSize random bytes
}

// BelowPolicy reports whether p is weaker than the floor (test vaults made
// with LightParams are).
func (p KDFParams) BelowPolicy() bool {
	return p.MemoryKiB < MinMemoryKiB || p.Time < MinTime || len(p.Salt) < SaltSize
}

// Validate fails with ErrFormat unless every parameter is within the
// bounds a derivation may use: 1..MaxTime passes, up to MaxMemoryKiB (and
// at least 8 KiB per thread, Argon2's own floor), 1..MaxThreads threads, a
// salt of MinSaltSize..MaxSaltSize bytes.
func (p KDFParams) Validate() error {
	switch {
	case p.Time == 0 || p.Time > MaxTime,
		p.Threads == 0 || p.Threads > MaxThreads,
		p.MemoryKiB < 8*uint32(p.Threads) || p.MemoryKiB > MaxMemoryKiB,
		len(p.Salt) < MinSaltSize || len(p.Salt) > MaxSaltSize:
		return fmt.Errorf("crypto: kdf parameters out of bounds (%v, salt %d bytes): %w", p, len(p.Salt), ErrFormat)
	}
	return nil
}

// String describes the parameters (no secret in them).
func (p KDFParams) String() string {
	return fmt.Sprintf("argon2id t=%d m=%dMiB p=%d", p.Time, p.MemoryKiB/1024, p.Threads)
}

// LightParams are fast, weak parameters for tests and benchmarks that are
// not about the KDF. Never use them for a real vault: they are below policy
// and a normal unlock upgrades them.
func LightParams() KDFParams {
	salt, err := Random(SaltSize)
	if err != nil {
		panic(err)
	}
	return KDFParams{Time: 1, MemoryKiB: 8 * 1024, Threads: 1, Salt: salt}
}

// Calibrate measures Argon2id on this machine and returns policy parameters
// (256 MiB, DefaultThreads) whose pass count makes one derivation last
// between TargetMin and TargetMax, aiming at their middle. It takes about as
// long as three single-pass derivations.
func Calibrate() (KDFParams, error) {
	salt, err := Random(SaltSize)
	if err != nil {
		return KDFParams{}, err
	}
	p := KDFParams{Time: 1, MemoryKiB: MinMemoryKiB, Threads: DefaultThreads, Salt: salt}
	// Measured as an unlock runs it: DeriveKEK gives Argon2id's work area
	// back to the kernel after each derivation, so every derivation faults
	// in 256 MiB of fresh memory first. That fixed cost is separated from
	// the cost of one pass by timing 1 and 2 passes (the fastest of two
	// runs each): ignoring it calibrated unlocks at 1.1–1.2 s, above
	// TargetMax.
	measure := func(t uint32) time.Duration {
		best := time.Duration(0)
		for i := 0; i < 2; i++ {
			debug.FreeOSMemory()
			start := time.Now()
			k := argon2.IDKey([]byte("calibration"), salt, t, p.MemoryKiB, p.Threads, KeySize)
			clear(k)
			if d := time.Since(start); i == 0 || d < best {
				best = d
			}
		}
		return best
	}
	one, two := measure(1), measure(2)
	per := two - one
	if per <= 0 || per > one {
		per = one
	}
	fixed := one - per
	debug.FreeOSMemory()
	p.Time = passesForFixed(per, fixed)
	return p, nil
}

// passesFor returns the pass count for a machine where one pass takes one:
// the count nearest the middle of [TargetMin, TargetMax], then raised until
// the estimate reaches TargetMin (a machine where one pass takes 0.45 s
// gets 2 passes, 0.9 s, not 1 pass, 0.45 s). Whenever one pass takes at most
// TargetMax-TargetMin, some count lands inside the bounds and this finds it;
// a machine slower than TargetMax per pass gets MinTime. The count is kept
// within MinTime..MaxTime.
func passesFor(one time.Duration) uint32 { return passesForFixed(one, 0) }

// passesForFixed is passesFor when each derivation also costs fixed (the
// memory faulted in before the first pass): the window is shifted by it.
func passesForFixed(one, fixed time.Duration) uint32 {
	if one <= 0 {
		one = time.Millisecond
	}
	// TargetMin, TargetMax and the middle, less the fixed cost.
	lo, hi := max(TargetMin-fixed, 0), max(TargetMax-fixed, one)
	target := (lo + hi) / 2
	t := uint32((target + one/2) / one)
	t = max(t, MinTime)
	for t < MaxTime && time.Duration(t)*one < lo {
		t++
	}
	for t > MinTime && time.Duration(t)*one > hi && time.Duration(t-1)*one >= lo {
		t--
	}
	return min(t, MaxTime)
}

// freeAfterKiB is the Argon2id memory above which DeriveKEK returns the
// work area to the operating system right away.
const freeAfterKiB = 64 * 1024

// DeriveKEK derives the key-encryption key of a passphrase slot:
// HKDF-SHA256(Argon2id(passphrase, salt) ‖ deviceSecret, info). deviceSecret
// may be empty (recovery and test slots). Parameters outside the bounds of
// KDFParams.Validate fail with ErrFormat before any work.
func DeriveKEK(passphrase, deviceSecret []byte, p KDFParams, info string) (*Key, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	pw := argon2.IDKey(passphrase, p.Salt, p.Time, p.MemoryKiB, p.Threads, KeySize)
	if p.MemoryKiB >= freeAfterKiB {
		// Argon2id's work area (256 MiB at policy) is garbage now, and it
		// holds passphrase-derived blocks that x/crypto does not zero:
		// give it back to the kernel at once (released pages are zeroed
		// before reuse) instead of keeping it in the heap until the next
		// collection, which also keeps Carnet's resident size small.
		debug.FreeOSMemory()
	}
	ikm := make([]byte, 0, len(pw)+len(deviceSecret))
	ikm = append(append(ikm, pw...), deviceSecret...)
	clear(pw)
	kek := new(Key)
	_, err := io.ReadFull(hkdf.New(sha256.New, ikm, nil, []byte(info)), kek.b[:])
	clear(ikm)
	if err != nil {
		return nil, fmt.Errorf("crypto: hkdf: %w", err)
	}
	return kek, nil
}
