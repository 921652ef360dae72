//go:build windows

package crypto

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/windows"
)

// grant adds an allow entry for sid (string form) with rights to the
// DACL of path, keeping the rest: what `icacls path /grant` does.
func grant(t *testing.T, path string, rights uint32, sid string) {
	t.Helper()
	sd, err := windows.GetNamedSecurityInfo(path, windows.SE_FILE_OBJECT, windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		t.Fatal(err)
	}
	s := sd.String()
	dacl, _, err := sd.DACL()
	if err != nil {
		t.Fatal(err)
	}
	var entries []windows.EXPLICIT_ACCESS
	sidp, err := windows.StringToSid(sid)
	if err != nil {
		t.Fatal(err)
	}
	mask := windows.ACCESS_MASK(rights)
	entries = append(entries, windows.EXPLICIT_ACCESS{
		AccessPermissions: mask,
		AccessMode:        windows.GRANT_ACCESS,
		Inheritance:       windows.NO_INHERITANCE,
		Trustee: windows.TRUSTEE{
			TrusteeForm:  windows.TRUSTEE_IS_SID,
			TrusteeType:  windows.TRUSTEE_IS_UNKNOWN,
			TrusteeValue: windows.TrusteeValueFromSID(sidp),
		},
	})
	merged, err := windows.ACLFromEntries(entries, dacl)
	if err != nil {
		t.Fatal(err)
	}
	if err := windows.SetNamedSecurityInfo(path, windows.SE_FILE_OBJECT, windows.DACL_SECURITY_INFORMATION, nil, nil, merged, nil); err != nil {
		t.Fatalf("set ACL (was %s): %v", s, err)
	}
}

// TestSecretFileOwnerOnlyACL: a secret file written by WriteSecretFile has
// an owner-only ACL and reads back; once another Windows user (a local
// account's SID), the Users group or Everyone may read it, it is refused
// with ErrInsecureFile, as a 0644 file is on Unix.
func TestSecretFileOwnerOnlyACL(t *testing.T) {
	secret := bytes.Repeat([]byte{0x42}, DeviceSecretSize)
	for _, other := range []string{
		"S-1-5-21-1004336348-1177238915-682003330-1001", // another local user
		"S-1-5-32-545", // BUILTIN\Users
		"S-1-1-0",      // Everyone
	} {
		t.Run(other, func(t *testing.T) {
			dir := winTempDir(t)
			p := filepath.Join(dir, "Hélène Dupont.device")
			if err := WriteSecretFile(p, secret); err != nil {
				t.Fatal(err)
			}
			got, err := ReadSecretFile(p)
			if err != nil {
				t.Fatalf("ReadSecretFile(own file) = %v", err)
			}
			if !bytes.Equal(got, secret) {
				t.Fatal("secret changed")
			}
			if err := WriteSecretFile(p, secret); !errors.Is(err, os.ErrExist) {
				t.Fatalf("WriteSecretFile over a file = %v, want ErrExist", err)
			}
			grant(t, p, windows.GENERIC_READ, other)
			if _, err := ReadSecretFile(p); !errors.Is(err, ErrInsecureFile) {
				t.Fatalf("ReadSecretFile(readable by %s) = %v, want ErrInsecureFile", other, err)
			}
			if err := CheckPrivateFile(p); !errors.Is(err, ErrInsecureFile) {
				t.Fatalf("CheckPrivateFile(readable by %s) = %v, want ErrInsecureFile", other, err)
			}
		})
	}
}

// TestSecretFileNullDACL: a file whose DACL is null (open to everyone) is
// refused; a directory is not a secret file; a missing one says so.
func TestSecretFileNullDACL(t *testing.T) {
	dir := winTempDir(t)
	p := filepath.Join(dir, "open.device")
	if err := WriteSecretFile(p, bytes.Repeat([]byte{1}, DeviceSecretSize)); err != nil {
		t.Fatal(err)
	}
	if err := windows.SetNamedSecurityInfo(p, windows.SE_FILE_OBJECT, windows.DACL_SECURITY_INFORMATION, nil, nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadSecretFile(p); !errors.Is(err, ErrInsecureFile) {
		t.Fatalf("ReadSecretFile(null DACL) = %v, want ErrInsecureFile", err)
	}
	if _, err := ReadSecretFile(dir); err == nil {
		t.Fatal("ReadSecretFile(directory) succeeded")
	}
	if _, err := ReadSecretFile(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("ReadSecretFile(missing) = %v, want ErrNotExist", err)
	}
}

// winTempDir is t.TempDir with a cleanup that Wine 8 supports: Go's
// os.RemoveAll uses a POSIX-semantics delete Wine answers with "Invalid
// function", where os.Remove (DeleteFile) works.
func winTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "carnet-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			_ = os.Remove(filepath.Join(dir, e.Name()))
		}
		if err := os.Remove(dir); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return dir
}
