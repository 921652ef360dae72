package crypto

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func mustKey(t testing.TB) *Key {
	t.Helper()
	k, err := NewKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustAEAD(t testing.TB, k *Key) *AEAD {
	t.Helper()
	a, err := NewAEAD(k)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestSealRoundTrip(t *testing.T) {
	a := mustAEAD(t, mustKey(t))
	for _, n := range []int{0, 1, 507, 508, 509, 511, 512, 1000, 10 * 1024, 1 << 20} {
		pt := bytes.Repeat([]byte{byte(n)}, n)
		aad := []byte("doc|key")
		sealed := a.Seal(nil, pt, aad)
		if len(sealed) != SealedSize(n) {
			t.Errorf("len(Seal(%d bytes)) = %d, want %d", n, len(sealed), SealedSize(n))
		}
		if (len(sealed)-headSize-tagSize)%PadBlock != 0 {
			t.Errorf("Seal(%d bytes): body of %d bytes is not padded to %d", n, len(sealed)-headSize-tagSize, PadBlock)
		}
		got, err := a.Open(sealed, aad)
		if err != nil {
			t.Fatalf("Open(Seal(%d bytes)) = %v", n, err)
		}
		if !bytes.Equal(got, pt) {
			t.Fatalf("Open(Seal(%d bytes)) differs", n)
		}
	}
}

func TestSealAppendsToDst(t *testing.T) {
	a := mustAEAD(t, mustKey(t))
	prefix := []byte("prefix")
	out := a.Seal(append([]byte{}, prefix...), []byte("hello"), nil)
	if !bytes.HasPrefix(out, prefix) {
		t.Fatal("Seal lost dst's prefix")
	}
	if got, err := a.Open(out[len(prefix):], nil); err != nil || string(got) != "hello" {
		t.Fatalf("Open = %q, %v", got, err)
	}
}

// TestTamperEveryByte flips each byte of a sealed record in turn: every
// variant must fail to open, none may return data.
func TestTamperEveryByte(t *testing.T) {
	a := mustAEAD(t, mustKey(t))
	aad := []byte("man|0123456789abcdef|1")
	sealed := a.Seal(nil, []byte("Compte rendu opératoire: RAS"), aad)
	for i := range sealed {
		for _, mask := range []byte{0x01, 0x80, 0xff} {
			bad := append([]byte{}, sealed...)
			bad[i] ^= mask
			got, err := a.Open(bad, aad)
			if err == nil || got != nil {
				t.Fatalf("byte %d ^ %#x: Open = %q, %v; want an error and no data", i, mask, got, err)
			}
			if !errors.Is(err, ErrAuth) && !errors.Is(err, ErrFormat) {
				t.Fatalf("byte %d: error %v is neither ErrAuth nor ErrFormat", i, err)
			}
		}
	}
}

func TestTruncated(t *testing.T) {
	a := mustAEAD(t, mustKey(t))
	sealed := a.Seal(nil, []byte("x"), nil)
	for n := 0; n < len(sealed); n++ {
		if _, err := a.Open(sealed[:n], nil); err == nil {
			t.Fatalf("Open of %d/%d bytes succeeded", n, len(sealed))
		}
	}
}

func TestWrongKeyAndMovedValue(t *testing.T) {
	k1, k2 := mustKey(t), mustKey(t)
	a1, a2 := mustAEAD(t, k1), mustAEAD(t, k2)
	sealed := a1.Seal(nil, []byte("secret"), []byte("doc|A"))
	tests := []struct {
		name string
		a    *AEAD
		aad  string
	}{
		{"wrong key", a2, "doc|A"},
		{"moved under another key", a1, "doc|B"},
		{"moved to another bucket", a1, "man|A"},
		{"no aad", a1, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.a.Open(sealed, []byte(tc.aad)); !errors.Is(err, ErrAuth) {
				t.Fatalf("Open = %v, want ErrAuth", err)
			}
		})
	}
}

func TestUnknownVersion(t *testing.T) {
	a := mustAEAD(t, mustKey(t))
	sealed := a.Seal(nil, []byte("x"), nil)
	sealed[0] = 2
	if _, err := a.Open(sealed, nil); !errors.Is(err, ErrFormat) {
		t.Fatalf("Open(version 2) = %v, want ErrFormat", err)
	}
}

func TestNonceUniqueness(t *testing.T) {
	a := mustAEAD(t, mustKey(t))
	seen := make(map[string]bool)
	for i := 0; i < 100000; i++ {
		s := a.Seal(nil, []byte("same plaintext"), nil)
		n := string(s[1:headSize])
		if seen[n] {
			t.Fatalf("nonce repeated after %d seals", i)
		}
		seen[n] = true
	}
}

func TestWrapUnwrap(t *testing.T) {
	kek, key := mustKey(t), mustKey(t)
	w, err := Wrap(kek, key, []byte("slot|pass"))
	if err != nil {
		t.Fatal(err)
	}
	if len(w) != 61 {
		t.Errorf("wrapped key has %d bytes, want 61", len(w))
	}
	got, err := Unwrap(kek, w, []byte("slot|pass"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), key.Bytes()) {
		t.Fatal("unwrapped key differs")
	}
	if _, err := Unwrap(mustKey(t), w, []byte("slot|pass")); !errors.Is(err, ErrAuth) {
		t.Errorf("Unwrap with another kek = %v, want ErrAuth", err)
	}
	if _, err := Unwrap(kek, w, []byte("slot|recovery")); !errors.Is(err, ErrAuth) {
		t.Errorf("Unwrap with another aad = %v, want ErrAuth", err)
	}
	if _, err := Unwrap(kek, w[:60], []byte("slot|pass")); !errors.Is(err, ErrFormat) {
		t.Errorf("Unwrap of truncated key = %v, want ErrFormat", err)
	}
}

func TestWipe(t *testing.T) {
	k := mustKey(t)
	b := k.Bytes()
	k.Wipe()
	if !bytes.Equal(b, make([]byte, KeySize)) {
		t.Fatal("Wipe left key bytes")
	}
	var nilKey *Key
	nilKey.Wipe() // must not panic
}

func TestDeriveIndependent(t *testing.T) {
	k := mustKey(t)
	a, b, a2 := k.Derive("carnet/blind/v1"), k.Derive("carnet/dir/v1"), k.Derive("carnet/blind/v1")
	if bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("two purposes gave the same subkey")
	}
	if !bytes.Equal(a.Bytes(), a2.Bytes()) {
		t.Fatal("Derive is not deterministic")
	}
	if bytes.Equal(a.Bytes(), k.Bytes()) {
		t.Fatal("subkey equals its parent")
	}
}

func TestBlind(t *testing.T) {
	k := mustKey(t)
	bl := NewBlinder(k)
	x := bl.Blind("doc", "p1", "d1")
	if len(x) != BlindSize {
		t.Fatalf("blind key of %d bytes, want %d", len(x), BlindSize)
	}
	if !bytes.Equal(x, NewBlinder(k).Blind("doc", "p1", "d1")) {
		t.Fatal("Blind is not deterministic")
	}
	if bytes.Equal(bl.Blind("ab", "c"), bl.Blind("a", "bc")) {
		t.Fatal("Blind confuses part boundaries")
	}
	if bytes.Equal(x, NewBlinder(mustKey(t)).Blind("doc", "p1", "d1")) {
		t.Fatal("Blind ignores the key")
	}
	if bytes.Contains(x, []byte("p1")) {
		t.Fatal("blind key shows its input")
	}
}

func TestDeriveKEK(t *testing.T) {
	p := LightParams()
	if !p.BelowPolicy() {
		t.Fatal("LightParams must be below policy")
	}
	dev := bytes.Repeat([]byte{7}, DeviceSecretSize)
	k1, err := DeriveKEK([]byte("correct horse battery"), dev, p, "carnet/kek/v1")
	if err != nil {
		t.Fatal(err)
	}
	k2, _ := DeriveKEK([]byte("correct horse battery"), dev, p, "carnet/kek/v1")
	if !bytes.Equal(k1.Bytes(), k2.Bytes()) {
		t.Fatal("DeriveKEK is not deterministic")
	}
	variants := map[string]func() (*Key, error){
		"other passphrase": func() (*Key, error) { return DeriveKEK([]byte("correct horse battery!"), dev, p, "carnet/kek/v1") },
		"other device":     func() (*Key, error) { return DeriveKEK([]byte("correct horse battery"), dev[:31], p, "carnet/kek/v1") },
		"no device":        func() (*Key, error) { return DeriveKEK([]byte("correct horse battery"), nil, p, "carnet/kek/v1") },
		"other info":       func() (*Key, error) { return DeriveKEK([]byte("correct horse battery"), dev, p, "carnet/kek/v2") },
		"other salt": func() (*Key, error) {
			q := p
			q.Salt = append([]byte{}, p.Salt...)
			q.Salt[0] ^= 1
			return DeriveKEK([]byte("correct horse battery"), dev, q, "carnet/kek/v1")
		},
	}
	for name, f := range variants {
		k, err := f()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if bytes.Equal(k.Bytes(), k1.Bytes()) {
			t.Errorf("%s gives the same KEK", name)
		}
	}
	if _, err := DeriveKEK([]byte("x"), nil, KDFParams{}, "i"); !errors.Is(err, ErrFormat) {
		t.Errorf("DeriveKEK(zero params) = %v, want ErrFormat", err)
	}
}

func TestCalibrateMeetsPolicy(t *testing.T) {
	if testing.Short() {
		t.Skip("calibration runs Argon2id at 256 MiB")
	}
	p, err := Calibrate()
	if err != nil {
		t.Fatal(err)
	}
	if p.BelowPolicy() {
		t.Fatalf("Calibrate() = %v, below policy", p)
	}
	if p.MemoryKiB < MinMemoryKiB {
		t.Fatalf("memory %d KiB < floor", p.MemoryKiB)
	}
}

func TestSecretFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "vault.db.device")
	secret := bytes.Repeat([]byte{0xab}, DeviceSecretSize)
	if err := WriteSecretFile(path, secret); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(path)
	if runtime.GOOS != "windows" && st.Mode().Perm() != 0o600 { // Windows: an ACL (file_windows_test.go)
		t.Fatalf("secret file mode %04o, want 0600", st.Mode().Perm())
	}
	got, err := ReadSecretFile(path)
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("ReadSecretFile = %x, %v", got, err)
	}
	if err := WriteSecretFile(path, secret); err == nil {
		t.Fatal("WriteSecretFile replaced an existing file")
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadSecretFile(path); !errors.Is(err, ErrInsecureFile) {
		t.Fatalf("ReadSecretFile(0644) = %v, want ErrInsecureFile", err)
	}
	bad := filepath.Join(dir, "bad")
	if err := os.WriteFile(bad, []byte("not hex\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadSecretFile(bad); !errors.Is(err, ErrFormat) {
		t.Fatalf("ReadSecretFile(garbage) = %v, want ErrFormat", err)
	}
}

func TestNoKeyring(t *testing.T) {
	var k Keyring = NoKeyring{}
	if _, err := k.Get("x"); !errors.Is(err, ErrNoKeyring) {
		t.Fatalf("Get = %v", err)
	}
	if err := k.Set("x", nil); !errors.Is(err, ErrNoKeyring) {
		t.Fatalf("Set = %v", err)
	}
}

func TestRecoveryRoundTrip(t *testing.T) {
	priv, pub, err := GenerateRecoveryKey("Clinique test", "dsi@clinique.test", []byte("recovery passphrase, long and random"))
	if err != nil {
		t.Fatal(err)
	}
	fp, err := RecoveryFingerprint([]byte(pub))
	if err != nil || len(fp) != 40 {
		t.Fatalf("RecoveryFingerprint = %q, %v", fp, err)
	}
	if uid, fp2, err := InspectRecoveryKey([]byte(pub)); err != nil || fp2 != fp || !strings.Contains(uid, "dsi@clinique.test") {
		t.Fatalf("InspectRecoveryKey = %q, %q, %v", uid, fp2, err)
	}
	if _, _, err := InspectRecoveryKey([]byte(priv)); !errors.Is(err, ErrPrivateKeyGiven) {
		t.Fatalf("InspectRecoveryKey(private) = %v, want ErrPrivateKeyGiven", err)
	}
	secret := bytes.Repeat([]byte{0x42}, KeySize)
	blob, err := EncryptToRecovery([]byte(pub), secret)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(blob, secret) {
		t.Fatal("recovery blob contains the secret")
	}
	got, err := DecryptWithRecovery([]byte(priv), []byte("recovery passphrase, long and random"), blob)
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("DecryptWithRecovery = %x, %v", got, err)
	}
	if _, err := DecryptWithRecovery([]byte(priv), []byte("wrong"), blob); !errors.Is(err, ErrRecoveryKey) {
		t.Errorf("wrong key passphrase: %v, want ErrRecoveryKey", err)
	}
	if _, err := DecryptWithRecovery([]byte(pub), nil, blob); !errors.Is(err, ErrRecoveryKey) {
		t.Errorf("public key as private: %v, want ErrRecoveryKey", err)
	}
	if _, err := RecoveryFingerprint([]byte(priv)); !errors.Is(err, ErrRecoveryKey) {
		t.Errorf("private key as recovery public key: %v, want ErrRecoveryKey", err)
	}
	if _, err := EncryptToRecovery([]byte("-----BEGIN PGP PUBLIC KEY BLOCK-----\ngarbage"), secret); !errors.Is(err, ErrRecoveryKey) {
		t.Errorf("garbage key: %v, want ErrRecoveryKey", err)
	}
	other, _, _ := GenerateRecoveryKey("Autre", "x@y.test", []byte("p"))
	if _, err := DecryptWithRecovery([]byte(other), []byte("p"), blob); err == nil {
		t.Error("another clinic's key decrypted the slot")
	}
}

func BenchmarkSeal10KB(b *testing.B) {
	a := mustAEAD(b, mustKey(b))
	pt := bytes.Repeat([]byte("x"), 10*1024)
	buf := make([]byte, 0, SealedSize(len(pt)))
	b.SetBytes(int64(len(pt)))
	for b.Loop() {
		buf = a.Seal(buf[:0], pt, []byte("doc|key"))
	}
}

func BenchmarkOpen10KB(b *testing.B) {
	a := mustAEAD(b, mustKey(b))
	pt := bytes.Repeat([]byte("x"), 10*1024)
	sealed := a.Seal(nil, pt, []byte("doc|key"))
	b.SetBytes(int64(len(pt)))
	for b.Loop() {
		if _, err := a.Open(sealed, []byte("doc|key")); err != nil {
			b.Fatal(err)
		}
	}
}
