package crypto

import (
	"errors"
	"testing"
	"time"
)

// TestPassesForReachesTargetMin: the calibrated pass count never leaves a
// derivation below TargetMin when a count inside the bounds exists (the
// old rounding gave 1 pass, 0.45 s, for a 0.45 s pass).
func TestPassesForReachesTargetMin(t *testing.T) {
	for ms := 5; ms <= 1500; ms += 5 {
		one := time.Duration(ms) * time.Millisecond
		p := passesFor(one)
		if p < MinTime || p > MaxTime {
			t.Fatalf("one pass %v: %d passes out of range", one, p)
		}
		est := time.Duration(p) * one
		switch {
		case MaxTime*one < TargetMin:
			if p != MaxTime {
				t.Errorf("one pass %v: %d passes, want MaxTime", one, p)
			}
		case one <= TargetMax-TargetMin && (est < TargetMin || est > TargetMax):
			t.Errorf("one pass %v: %d passes, %v, outside [%v, %v]", one, p, est, TargetMin, TargetMax)
		case one > TargetMax-TargetMin && one < TargetMin && est < TargetMin:
			t.Errorf("one pass %v: %d passes, %v, below %v", one, p, est, TargetMin)
		}
	}
	if got := passesFor(450 * time.Millisecond); got != 2 {
		t.Errorf("passesFor(450ms) = %d, want 2", got)
	}
	if got := passesFor(time.Microsecond); got != MaxTime {
		t.Errorf("passesFor(1µs) = %d, want MaxTime", got)
	}
}

// TestKDFBounds: parameters a flipped header byte could produce (1 GiB+,
// hours of passes, 255 threads) are refused before any derivation.
func TestKDFBounds(t *testing.T) {
	ok := LightParams()
	if err := ok.Validate(); err != nil {
		t.Fatalf("LightParams: %v", err)
	}
	pol := KDFParams{Time: MaxTime, MemoryKiB: MaxMemoryKiB, Threads: MaxThreads, Salt: ok.Salt}
	if err := pol.Validate(); err != nil {
		t.Fatalf("bounds themselves: %v", err)
	}
	for name, edit := range map[string]func(*KDFParams){
		"memory > 1 GiB": func(p *KDFParams) { p.MemoryKiB = MaxMemoryKiB + 1 },
		"time > 64":      func(p *KDFParams) { p.Time = MaxTime + 1 },
		"threads > 16":   func(p *KDFParams) { p.Threads = MaxThreads + 1 },
		"no time":        func(p *KDFParams) { p.Time = 0 },
		"no threads":     func(p *KDFParams) { p.Threads = 0 },
		"tiny memory":    func(p *KDFParams) { p.MemoryKiB = 1 },
		"short salt":     func(p *KDFParams) { p.Salt = p.Salt[:4] },
		"long salt":      func(p *KDFParams) { p.Salt = make([]byte, MaxSaltSize+1) },
	} {
		p := ok
		edit(&p)
		start := time.Now()
		if _, err := DeriveKEK([]byte("x"), nil, p, "i"); !errors.Is(err, ErrFormat) {
			t.Errorf("%s: DeriveKEK = %v, want ErrFormat", name, err)
		}
		if d := time.Since(start); d > 100*time.Millisecond {
			t.Errorf("%s: refused after %v", name, d)
		}
	}
}

func TestPrivateKeyFingerprint(t *testing.T) {
	priv, pub, err := GenerateRecoveryKey("Clinique", "it@example.test", []byte("pp"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := RecoveryFingerprint([]byte(pub))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := PrivateKeyFingerprint([]byte(priv)); err != nil || got != want {
		t.Fatalf("PrivateKeyFingerprint = %q, %v; want %q", got, err, want)
	}
	if _, err := PrivateKeyFingerprint([]byte(pub)); !errors.Is(err, ErrRecoveryKey) {
		t.Fatalf("PrivateKeyFingerprint(public) = %v", err)
	}
}
