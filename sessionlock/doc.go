// Package sessionlock tells Carnet when the operating system locks the
// user's session, so that Carnet locks its vault too. Windows gives the
// hook (WTS session notifications, WM_WTSSESSION_CHANGE); elsewhere Watch
// reports ErrUnsupported and Carnet relies on its own idle lock.
package sessionlock

import "errors"

// ErrUnsupported: this platform gives Carnet no session-lock hook.
var ErrUnsupported = errors.New("sessionlock: no session-lock notification on this platform")
