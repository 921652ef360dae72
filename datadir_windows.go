//go:build windows

package main

import (
	"fmt"
	"os"
)

// userDataBase is %LOCALAPPDATA% (the vault stays on this computer: not
// in the roaming profile).
func userDataBase() (string, error) {
	return os.UserCacheDir() // %LocalAppData% on Windows
}

// privateFileAdvice tells how to make path readable by its owner alone:
// on Windows an ACL that grants the current user only, inherited entries
// removed (icacls, built into Windows; SYSTEM and the Administrators may
// stay, Carnet accepts them).
func privateFileAdvice(path string) string {
	return fmt.Sprintf(`icacls "%s" /inheritance:r /grant:r "%%USERNAME%%:F"`, path)
}
