//go:build linux

package mailtest

import "syscall"

// dieWithParent asks the kernel to send SIGTERM to the child when the test
// process dies (Linux only).
func dieWithParent() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
