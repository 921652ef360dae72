package fhir

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/carnetdesk/carnet/app"
)

// MaxDepth is the deepest JSON nesting DecodeBounded accepts. FHIR resources
// used here nest about 10 levels; 64 leaves room for contained resources and
// extensions on extensions.
const MaxDepth = 64

// ErrTooLarge is returned when a body exceeds the size bound.
var ErrTooLarge = errors.New("fhir: body too large")

// ErrTooDeep is returned when JSON nests deeper than MaxDepth.
var ErrTooDeep = errors.New("fhir: json nested too deeply")

// DecodeBounded reads at most maxBytes from r and decodes one JSON value
// into v. A longer body fails with ErrTooLarge (without reading more than
// maxBytes+1 bytes), a deeper one with ErrTooDeep, malformed JSON or
// trailing data with an error wrapping app.ErrInvalid. Unknown fields are
// ignored.
func DecodeBounded(r io.Reader, maxBytes int64, v any) error {
	b, err := ReadBounded(r, maxBytes)
	if err != nil {
		return err
	}
	return Unmarshal(b, v)
}

// ReadBounded reads at most maxBytes from r; more fails with ErrTooLarge.
// The buffer grows by doubling but never beyond maxBytes+1, so an endless
// body costs at most about twice the bound in allocations.
func ReadBounded(r io.Reader, maxBytes int64) ([]byte, error) {
	if maxBytes < 0 {
		maxBytes = 0
	}
	buf := make([]byte, 0, min(maxBytes, 32<<10))
	for {
		if int64(len(buf)) == maxBytes {
			// full: one more byte means too large
			var one [1]byte
			for {
				n, err := r.Read(one[:])
				if n > 0 {
					return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, maxBytes)
				}
				if err == io.EOF {
					return buf, nil
				}
				if err != nil {
					return nil, fmt.Errorf("fhir: read body: %w", err)
				}
			}
		}
		if len(buf) == cap(buf) {
			next := make([]byte, len(buf), min(maxBytes, int64(2*cap(buf))))
			copy(next, buf)
			buf = next
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, fmt.Errorf("fhir: read body: %w", err)
		}
	}
}

// Unmarshal decodes b into v after checking its nesting depth; errors wrap
// app.ErrInvalid (and ErrTooDeep when too deep). Trailing data after the
// value is an error too.
//
// It decodes from b in place (json.Unmarshal, which rejects trailing data
// itself): a json.Decoder would copy b into its own growing buffer first.
func Unmarshal(b []byte, v any) error {
	if err := checkDepth(b, MaxDepth); err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) && len(bytes.TrimSpace(b)) > 0 && trailing(b) {
			return fmt.Errorf("fhir: decode: trailing data after the json value: %w", app.ErrInvalid)
		}
		return fmt.Errorf("fhir: decode: %v: %w", err, app.ErrInvalid)
	}
	return nil
}

// trailing reports whether b starts with one complete JSON value followed
// by more than white space (for the error message only).
func trailing(b []byte) bool {
	d := json.NewDecoder(bytes.NewReader(b))
	var raw json.RawMessage
	if d.Decode(&raw) != nil {
		return false
	}
	_, err := d.Token()
	return err != io.EOF
}

// checkDepth scans b for brackets outside strings.
func checkDepth(b []byte, max int) error {
	depth, inStr, esc := 0, false, false
	for _, c := range b {
		switch {
		case inStr:
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
			}
		case c == '"':
			inStr = true
		case c == '{' || c == '[':
			depth++
			if depth > max {
				return fmt.Errorf("%w (more than %d levels): %w", ErrTooDeep, max, app.ErrInvalid)
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return nil
}
