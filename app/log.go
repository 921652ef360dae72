package app

import (
	"fmt"
	"log/slog"
)

// Redacted wraps an identifier (an INS, a patient id, a name) so that the
// structured logger never prints it: it logs as "[redacted]". Use it for every
// attribute that could identify a patient.
type Redacted string

// LogValue implements slog.LogValuer.
func (Redacted) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// String implements fmt.Stringer, so that %v and %s do not leak either.
func (Redacted) String() string { return "[redacted]" }

// GoString implements fmt.GoStringer.
func (Redacted) GoString() string { return "[redacted]" }

// Wipe overwrites b with zeros. Call it on passphrases and key bytes as soon
// as they are no longer needed. Go cannot promise that no copy remains (the
// garbage collector may have moved the bytes); Carnet keeps such lifetimes
// short.
func Wipe(b []byte) {
	for i := range b {
		b[i] = 0
	}
}

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }
