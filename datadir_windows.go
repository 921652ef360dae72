//go:build windows

package main

import (
	"os"
)

// userDataBase is %LOCALAPPDATA% (the vault stays on this computer: not
// in the roaming profile).
func userDataBase() (string, error) {
	return os.UserCacheDir() // %LocalAppData% on Windows
}
