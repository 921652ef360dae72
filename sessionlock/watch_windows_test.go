//go:build windows

package sessionlock

import (
	"context"
	"testing"
	"time"
)

// TestWatchSessionLock: the hidden window calls onLock for
// WM_WTSSESSION_CHANGE/WTS_SESSION_LOCK (as Windows sends it when the
// session locks), not for WTS_SESSION_UNLOCK (0x8); the watcher stops when
// its context ends. Run under Wine by scripts/windows/wine-test.sh.
func TestWatchSessionLock(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	locked := make(chan struct{}, 4)
	hwnd, err := watch(ctx, func() { locked <- struct{}{} })
	if err != nil {
		t.Fatal(err)
	}
	procPostMessageW.Call(uintptr(hwnd), wmWTSSessionChange, 0x8, 0) // unlock: ignored
	procPostMessageW.Call(uintptr(hwnd), wmWTSSessionChange, wtsSessionLock, 0)
	select {
	case <-locked:
	case <-time.After(2 * time.Minute): // a hang guard, not a deadline
		t.Fatal("no onLock after WTS_SESSION_LOCK")
	}
	if len(locked) != 0 {
		t.Fatal("onLock called for WTS_SESSION_UNLOCK")
	}
}
