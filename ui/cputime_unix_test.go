//go:build unix

package ui

import (
	"syscall"
	"time"
)

// processCPU is the CPU time the test process used so far (user and
// system, every goroutine): a benchmark's figure that holds on a loaded
// machine, where wall time mostly measures the other processes.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
