//go:build windows

package secret

import "fmt"

// privateFileAdvice tells how to make path readable by its owner alone:
// on Windows an ACL that grants the current user only, inherited entries
// removed (icacls, built into Windows; SYSTEM and the Administrators may
// stay, Carnet accepts them).
func privateFileAdvice(path string) string {
	return fmt.Sprintf(`icacls "%s" /inheritance:r /grant:r "%%USERNAME%%:F"`, path)
}
