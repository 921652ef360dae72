//go:build windows

package crypto

import (
	"fmt"
	"io/fs"
	"os"
	"unsafe"

	"golang.org/x/sys/windows"
)

// openPrivate opens path for reading without following a final symbolic
// link or junction (FILE_FLAG_OPEN_REPARSE_POINT), then checks the open
// handle itself: a regular file whose owner and DACL pass checkOwnerOnly.
func openPrivate(path string) (*os.File, error) {
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return nil, fmt.Errorf("crypto: secret file: %w", fs.ErrInvalid)
	}
	h, err := windows.CreateFile(p, windows.GENERIC_READ|windows.READ_CONTROL,
		windows.FILE_SHARE_READ, nil, windows.OPEN_EXISTING,
		windows.FILE_ATTRIBUTE_NORMAL|windows.FILE_FLAG_OPEN_REPARSE_POINT, 0)
	if err != nil {
		return nil, fmt.Errorf("crypto: secret file: %w", &fs.PathError{Op: "open", Path: path, Err: err})
	}
	f := os.NewFile(uintptr(h), path)
	var info windows.ByHandleFileInformation
	if err := windows.GetFileInformationByHandle(h, &info); err != nil {
		f.Close()
		return nil, fmt.Errorf("crypto: secret file: %w", err)
	}
	if info.FileAttributes&windows.FILE_ATTRIBUTE_REPARSE_POINT != 0 {
		f.Close()
		return nil, fmt.Errorf("crypto: secret file is a symbolic link or junction: %w", ErrInsecureFile)
	}
	if info.FileAttributes&windows.FILE_ATTRIBUTE_DIRECTORY != 0 {
		f.Close()
		return nil, fmt.Errorf("crypto: secret file is not a regular file: %w", fs.ErrInvalid)
	}
	if err := checkOwnerOnly(h); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// createPrivate creates path for writing, failing if it exists, with an
// owner-only protected DACL given at creation (no window in which the
// inherited ACL applies).
func createPrivate(path string) (*os.File, error) {
	me, err := currentUser()
	if err != nil {
		return nil, err
	}
	sd, err := windows.SecurityDescriptorFromString("O:" + me.String() + "D:P(A;;FA;;;" + me.String() + ")")
	if err != nil {
		return nil, fmt.Errorf("crypto: owner-only ACL: %w", err)
	}
	sa := &windows.SecurityAttributes{SecurityDescriptor: sd}
	sa.Length = uint32(unsafe.Sizeof(*sa))
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: fs.ErrInvalid}
	}
	h, err := windows.CreateFile(p, windows.GENERIC_READ|windows.GENERIC_WRITE, 0, sa,
		windows.CREATE_NEW, windows.FILE_ATTRIBUTE_NORMAL, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(h), path), nil
}

// currentUser is the SID of the user this process runs as.
func currentUser() (*windows.SID, error) {
	tu, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		return nil, fmt.Errorf("crypto: current user: %w", err)
	}
	return tu.User.Sid, nil
}

// ACE types that grant nothing (winnt.h).
const (
	systemAuditACE = 2
	systemAlarmACE = 3
)

// secretRights are the rights that let someone read, change or take over a
// file.
const secretRights = windows.FILE_READ_DATA | windows.FILE_WRITE_DATA | windows.FILE_APPEND_DATA |
	windows.GENERIC_READ | windows.GENERIC_WRITE | windows.GENERIC_ALL |
	windows.WRITE_DAC | windows.WRITE_OWNER | windows.DELETE

// trustedSID reports whether sid may have access to a secret file besides
// its owner: the local system and the Administrators, who can take any
// file anyway (root's place on Unix).
func trustedSID(sid *windows.SID) bool {
	return sid.IsWellKnown(windows.WinLocalSystemSid) || sid.IsWellKnown(windows.WinBuiltinAdministratorsSid)
}

// checkOwnerOnly is the Windows meaning of "mode 0600": the file at h is
// owned by the current user, has a DACL (a null DACL lets everyone in), and
// every allow entry of that DACL that grants a right of secretRights names
// the current user, SYSTEM or the Administrators. Anything else is
// ErrInsecureFile.
func checkOwnerOnly(h windows.Handle) error {
	me, err := currentUser()
	if err != nil {
		return err
	}
	sd, err := windows.GetSecurityInfo(h, windows.SE_FILE_OBJECT,
		windows.OWNER_SECURITY_INFORMATION|windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		return fmt.Errorf("crypto: secret file ACL: %w", err)
	}
	owner, _, err := sd.Owner()
	if err != nil || owner == nil {
		return fmt.Errorf("crypto: secret file has no owner: %w", ErrInsecureFile)
	}
	if !owner.Equals(me) {
		return fmt.Errorf("crypto: secret file owned by %s, not %s: %w", owner, me, ErrInsecureFile)
	}
	dacl, _, err := sd.DACL()
	if err != nil || dacl == nil {
		return fmt.Errorf("crypto: secret file has no DACL (open to everyone): %w", ErrInsecureFile)
	}
	for i := uint32(0); i < uint32(dacl.AceCount); i++ {
		var ace *windows.ACCESS_ALLOWED_ACE
		if err := windows.GetAce(dacl, i, &ace); err != nil {
			return fmt.Errorf("crypto: secret file ACL: %w", err)
		}
		switch ace.Header.AceType {
		case windows.ACCESS_DENIED_ACE_TYPE, systemAuditACE, systemAlarmACE:
			continue
		case windows.ACCESS_ALLOWED_ACE_TYPE:
		default:
			return fmt.Errorf("crypto: secret file ACL entry of type %d: %w", ace.Header.AceType, ErrInsecureFile)
		}
		if ace.Header.AceFlags&windows.INHERIT_ONLY_ACE != 0 {
			continue
		}
		sid := (*windows.SID)(unsafe.Pointer(&ace.SidStart))
		if sid.Equals(me) || trustedSID(sid) {
			continue
		}
		if uint32(ace.Mask)&secretRights != 0 {
			return fmt.Errorf("crypto: secret file open to %s (access mask %#x): %w", sid, ace.Mask, ErrInsecureFile)
		}
	}
	return nil
}

// CheckOwnerOnly applies the Windows meaning of "mode 0600" (see
// ReadPrivateFile) to an open file: for callers that read a secret file
// through their own descriptor (the PKCS#12 credential).
func CheckOwnerOnly(f *os.File) error {
	return checkOwnerOnly(windows.Handle(f.Fd()))
}
