//go:build !linux

package mailtest

import "syscall"

// dieWithParent has no equivalent outside Linux: a Dovecot left by a killed
// test process is stopped by hand there.
func dieWithParent() *syscall.SysProcAttr { return &syscall.SysProcAttr{} }
