//go:build !cgo

package credential

// OpenPKCS11 needs cgo (the PKCS#11 module is a C library loaded with
// dlopen); in a build without cgo it always fails with ErrNoCgo. Use a
// PKCS#12 certificate file, or build with CGO_ENABLED=1.
func OpenPKCS11(module string, slotOrLabel string, pin []byte) (*Credential, error) {
	return nil, ErrNoCgo
}

// Alive returns nil: without cgo there are no card credentials.
func (c *Credential) Alive() error { return nil }
