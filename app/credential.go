package app

import "fmt"

// PINError is the refusal of the practitioner's PIN by the card (PKCS#11
// token) or the certificate file: the sign-in screen says "PIN incorrect",
// with the tries left when the token says so, or that the PIN is locked,
// or that none was typed. It unwraps to ErrCredential.
type PINError struct {
	Empty  bool // no PIN typed
	Locked bool // the PIN is locked after too many wrong tries
	// TriesLeft is how many tries remain before the card locks, when the
	// token says so (PKCS#11 CKF_USER_PIN_FINAL_TRY: 1); 0 when unknown.
	TriesLeft int
}

// Error implements error (no PIN in it).
func (e *PINError) Error() string {
	switch {
	case e.Empty:
		return "credential: no PIN given"
	case e.Locked:
		return "credential: PIN locked"
	case e.TriesLeft > 0:
		return fmt.Sprintf("credential: wrong PIN, %d tries left", e.TriesLeft)
	}
	return "credential: wrong PIN"
}

// Unwrap returns ErrCredential.
func (e *PINError) Unwrap() error { return ErrCredential }
