//go:build windows

package sessionlock

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/windows"
)

var (
	user32   = windows.NewLazySystemDLL("user32.dll")
	wtsapi32 = windows.NewLazySystemDLL("wtsapi32.dll")

	procRegisterClassExW     = user32.NewProc("RegisterClassExW")
	procCreateWindowExW      = user32.NewProc("CreateWindowExW")
	procDefWindowProcW       = user32.NewProc("DefWindowProcW")
	procDestroyWindow        = user32.NewProc("DestroyWindow")
	procGetMessageW          = user32.NewProc("GetMessageW")
	procDispatchMessageW     = user32.NewProc("DispatchMessageW")
	procPostMessageW         = user32.NewProc("PostMessageW")
	procPostQuitMessage      = user32.NewProc("PostQuitMessage")
	procWTSRegisterSession   = wtsapi32.NewProc("WTSRegisterSessionNotification")
	procWTSUnRegisterSession = wtsapi32.NewProc("WTSUnRegisterSessionNotification")
	classRegistered          atomic.Bool
	current                  atomic.Pointer[func()]
	wndProc                  = syscall.NewCallback(windowProc)
)

// Window messages and WTS codes (winuser.h, wtsapi32.h).
const (
	wmDestroy            = 0x0002
	wmClose              = 0x0010
	wmWTSSessionChange   = 0x02B1
	wtsSessionLock       = 0x7
	notifyForThisSession = 0
)

// hwndMessage is HWND_MESSAGE, (HWND)-3.
var hwndMessage = ^uintptr(2)

type wndClassEx struct {
	size       uint32
	style      uint32
	wndProc    uintptr
	clsExtra   int32
	wndExtra   int32
	instance   windows.Handle
	icon       windows.Handle
	cursor     windows.Handle
	background windows.Handle
	menuName   *uint16
	className  *uint16
	iconSm     windows.Handle
}

type msg struct {
	hwnd    windows.HWND
	message uint32
	wParam  uintptr
	lParam  uintptr
	time    uint32
	pt      struct{ x, y int32 }
}

var className = windows.StringToUTF16Ptr("CarnetSessionLock")

func windowProc(hwnd windows.HWND, m uint32, wParam, lParam uintptr) uintptr {
	switch m {
	case wmWTSSessionChange:
		if wParam == wtsSessionLock {
			if f := current.Load(); f != nil {
				(*f)()
			}
		}
		return 0
	case wmClose:
		procDestroyWindow.Call(uintptr(hwnd))
		return 0
	case wmDestroy:
		procPostQuitMessage.Call(0)
		return 0
	}
	r, _, _ := procDefWindowProcW.Call(uintptr(hwnd), uintptr(m), wParam, lParam)
	return r
}

// Watch calls onLock (on its own goroutine's OS thread: onLock must not
// block) each time Windows locks this session, until ctx ends. It returns
// at once; an error means no hook could be installed (Carnet then relies
// on its idle lock). One watcher per process.
func Watch(ctx context.Context, onLock func()) error {
	_, err := watch(ctx, onLock)
	return err
}

// watch is Watch returning the hidden window that receives the
// notifications (for the test, which sends it one).
func watch(ctx context.Context, onLock func()) (windows.HWND, error) {
	type result struct {
		hwnd windows.HWND
		err  error
	}
	started := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // a window's messages go to the thread that made it
		defer runtime.UnlockOSThread()
		var inst windows.Handle
		_ = windows.GetModuleHandleEx(0, nil, &inst)
		if !classRegistered.Load() {
			wc := wndClassEx{wndProc: wndProc, className: className, instance: inst}
			wc.size = uint32(unsafe.Sizeof(wc))
			if r, _, e := procRegisterClassExW.Call(uintptr(unsafe.Pointer(&wc))); r == 0 {
				started <- result{err: fmt.Errorf("sessionlock: register window class: %v", e)}
				return
			}
			classRegistered.Store(true)
		}
		// A message-only window (parent HWND_MESSAGE): never shown, needs
		// no display, receives WTS session notifications.
		h, _, e := procCreateWindowExW.Call(0, uintptr(unsafe.Pointer(className)), 0, 0, 0, 0, 0, 0,
			hwndMessage, 0, uintptr(inst), 0)
		if h == 0 {
			started <- result{err: fmt.Errorf("sessionlock: create window: %v", e)}
			return
		}
		hwnd := windows.HWND(h)
		if r, _, e := procWTSRegisterSession.Call(h, notifyForThisSession); r == 0 {
			procDestroyWindow.Call(h)
			started <- result{err: fmt.Errorf("sessionlock: WTSRegisterSessionNotification: %v", e)}
			return
		}
		defer procWTSUnRegisterSession.Call(h)
		current.Store(&onLock)
		started <- result{hwnd: hwnd}
		go func() {
			<-ctx.Done()
			procPostMessageW.Call(h, wmClose, 0, 0)
		}()
		var m msg
		for {
			r, _, _ := procGetMessageW.Call(uintptr(unsafe.Pointer(&m)), 0, 0, 0)
			if int32(r) <= 0 { // WM_QUIT or an error
				return
			}
			procDispatchMessageW.Call(uintptr(unsafe.Pointer(&m)))
		}
	}()
	r := <-started
	return r.hwnd, r.err
}
