//go:build !windows

package sessionlock

import "context"

// Watch returns ErrUnsupported: no session-lock hook here.
func Watch(ctx context.Context, onLock func()) error { return ErrUnsupported }
