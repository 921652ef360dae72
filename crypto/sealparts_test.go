package crypto

import (
	"bytes"
	"errors"
	"testing"
)

// TestSealParts: sealing parts gives what Seal gives for their
// concatenation (size, padding, opening), for empty and boundary parts,
// and appends to dst; the aad still binds.
func TestSealParts(t *testing.T) {
	a := mustAEAD(t, mustKey(t))
	aad := []byte("mraw|key")
	for _, parts := range [][][]byte{
		nil,
		{{}},
		{[]byte("head"), nil},
		{nil, bytes.Repeat([]byte{7}, 507)},
		{[]byte{1, 2, 3, 4}, []byte(`{"Key":"mid:a"}`), bytes.Repeat([]byte{9}, 100<<10)},
		{bytes.Repeat([]byte{1}, 508), bytes.Repeat([]byte{2}, 4)},
	} {
		want := bytes.Join(parts, nil)
		sealed := a.SealParts([]byte("dst"), aad, parts...)
		if !bytes.HasPrefix(sealed, []byte("dst")) || len(sealed) != 3+SealedSize(len(want)) {
			t.Fatalf("%d bytes: sealed %d, want dst + %d", len(want), len(sealed), SealedSize(len(want)))
		}
		got, err := a.Open(sealed[3:], aad)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%d bytes: open %d bytes, %v", len(want), len(got), err)
		}
		if _, err := a.Open(sealed[3:], []byte("mraw|other")); !errors.Is(err, ErrAuth) {
			t.Fatalf("other aad: %v", err)
		}
	}
}
