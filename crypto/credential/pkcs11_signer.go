//go:build cgo

package credential

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"

	"github.com/miekg/pkcs11"
)

// p11Signer is a crypto.Signer whose key stays on the token: every
// signature is a C_SignInit + C_Sign under the token's mutex.
type p11Signer struct {
	tok *p11Token
	pub crypto.PublicKey
}

func newP11Signer(tok *p11Token, leaf *x509.Certificate) (*p11Signer, error) {
	switch leaf.PublicKey.(type) {
	case *rsa.PublicKey, *ecdsa.PublicKey:
		return &p11Signer{tok: tok, pub: leaf.PublicKey}, nil
	}
	return nil, fmt.Errorf("credential: unsupported key type %T on the card", leaf.PublicKey)
}

// Public implements crypto.Signer.
func (s *p11Signer) Public() crypto.PublicKey { return s.pub }

// digestInfoPrefix is the DER DigestInfo header PKCS#1 v1.5 puts before the
// digest (CKM_RSA_PKCS signs what it is given, so the prefix is ours to add).
var digestInfoPrefix = map[crypto.Hash][]byte{
	crypto.SHA1:   {0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14},
	crypto.SHA224: {0x30, 0x2d, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x04, 0x05, 0x00, 0x04, 0x1c},
	crypto.SHA256: {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20},
	crypto.SHA384: {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30},
	crypto.SHA512: {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40},
}

// pssMechs gives the PKCS#11 hash and MGF of a PSS signature.
var pssMechs = map[crypto.Hash][2]uint{
	crypto.SHA1:   {pkcs11.CKM_SHA_1, pkcs11.CKG_MGF1_SHA1},
	crypto.SHA224: {pkcs11.CKM_SHA224, pkcs11.CKG_MGF1_SHA224},
	crypto.SHA256: {pkcs11.CKM_SHA256, pkcs11.CKG_MGF1_SHA256},
	crypto.SHA384: {pkcs11.CKM_SHA384, pkcs11.CKG_MGF1_SHA384},
	crypto.SHA512: {pkcs11.CKM_SHA512, pkcs11.CKG_MGF1_SHA512},
}

// Sign implements crypto.Signer: digest is the hash of the message
// (opts.HashFunc()). RSA keys sign PKCS#1 v1.5, or PSS when opts is
// *rsa.PSSOptions (salt length: the hash length for PSSSaltLengthAuto and
// PSSSaltLengthEqualsHash); ECDSA keys return an ASN.1 (r, s) signature.
func (s *p11Signer) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	h := opts.HashFunc()
	if h != 0 && len(digest) != h.Size() {
		return nil, fmt.Errorf("credential: sign: digest is %d bytes, %v needs %d", len(digest), h, h.Size())
	}
	var (
		mech  *pkcs11.Mechanism
		input []byte
	)
	switch s.pub.(type) {
	case *rsa.PublicKey:
		if pss, ok := opts.(*rsa.PSSOptions); ok {
			m, ok := pssMechs[h]
			if !ok {
				return nil, fmt.Errorf("credential: sign: RSA-PSS with %v is not supported", h)
			}
			salt := pss.SaltLength
			if salt == rsa.PSSSaltLengthAuto || salt == rsa.PSSSaltLengthEqualsHash {
				salt = h.Size()
			}
			if salt < 0 {
				return nil, fmt.Errorf("credential: sign: invalid PSS salt length %d", pss.SaltLength)
			}
			mech = pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS_PSS, pkcs11.NewPSSParams(m[0], m[1], uint(salt)))
			input = digest
		} else {
			prefix, ok := digestInfoPrefix[h]
			if !ok && h != 0 {
				return nil, fmt.Errorf("credential: sign: RSA PKCS#1 v1.5 with %v is not supported", h)
			}
			mech = pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS, nil)
			input = append(append([]byte(nil), prefix...), digest...)
		}
	case *ecdsa.PublicKey:
		mech = pkcs11.NewMechanism(pkcs11.CKM_ECDSA, nil)
		input = digest
	default:
		return nil, fmt.Errorf("credential: sign: unsupported key type %T", s.pub)
	}
	if mech.Mechanism == pkcs11.CKM_RSA_PKCS_PSS && len(s.tok.mechs) > 0 && !s.tok.mechs[pkcs11.CKM_RSA_PKCS_PSS] {
		return nil, errors.New("credential: sign: this card cannot sign RSA-PSS (TLS 1.2 with PKCS#1 v1.5 only)")
	}

	t := s.tok
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.usable(); err != nil {
		return nil, err
	}
	ctx := t.mod.ctx
	if err := ctx.SignInit(t.session, []*pkcs11.Mechanism{mech}, t.key); err != nil {
		return nil, t.fail("sign", err)
	}
	sig, err := ctx.Sign(t.session, input)
	if err != nil {
		return nil, t.fail("sign", err)
	}
	if ec, ok := s.pub.(*ecdsa.PublicKey); ok {
		return ecdsaDER(ec, sig)
	}
	return sig, nil
}

// ecdsaDER converts PKCS#11's raw r‖s into the ASN.1 form Go (and TLS)
// expect.
func ecdsaDER(pub *ecdsa.PublicKey, raw []byte) ([]byte, error) {
	n := (pub.Curve.Params().BitSize + 7) / 8
	if len(raw) != 2*n {
		return nil, fmt.Errorf("credential: sign: ECDSA signature of %d bytes, want %d", len(raw), 2*n)
	}
	return asn1.Marshal(struct{ R, S *big.Int }{
		new(big.Int).SetBytes(raw[:n]), new(big.Int).SetBytes(raw[n:]),
	})
}

// isCode reports whether err is the PKCS#11 return value code.
func isCode(err error, code uint) bool {
	var e pkcs11.Error
	return errors.As(err, &e) && uint(e) == code
}

// removalCodes are the PKCS#11 return values that mean the card is gone (or
// was replaced, or its session was lost with it).
var removalCodes = map[uint]bool{
	pkcs11.CKR_DEVICE_REMOVED:           true,
	pkcs11.CKR_TOKEN_NOT_PRESENT:        true,
	pkcs11.CKR_TOKEN_NOT_RECOGNIZED:     true,
	pkcs11.CKR_DEVICE_ERROR:             true,
	pkcs11.CKR_SESSION_HANDLE_INVALID:   true,
	pkcs11.CKR_SESSION_CLOSED:           true,
	pkcs11.CKR_SLOT_ID_INVALID:          true,
	pkcs11.CKR_KEY_HANDLE_INVALID:       true,
	pkcs11.CKR_OBJECT_HANDLE_INVALID:    true,
	pkcs11.CKR_USER_NOT_LOGGED_IN:       true,
	pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED: true,
}

// classify maps a PKCS#11 error to this package's sentinel (ErrPIN,
// ErrPINLocked, ErrCardRemoved), or nil when none applies.
func classify(err error) error {
	var e pkcs11.Error
	if !errors.As(err, &e) {
		return nil
	}
	switch c := uint(e); {
	case c == pkcs11.CKR_PIN_INCORRECT, c == pkcs11.CKR_PIN_INVALID, c == pkcs11.CKR_PIN_LEN_RANGE, c == pkcs11.CKR_PIN_EXPIRED:
		return ErrPIN
	case c == pkcs11.CKR_PIN_LOCKED:
		return ErrPINLocked
	case removalCodes[c]:
		return ErrCardRemoved
	}
	return nil
}

// tokenError wraps a PKCS#11 error of operation op with its sentinel, if
// any; both the sentinel and the pkcs11.Error can be matched.
func tokenError(op string, err error) error {
	if s := classify(err); s != nil {
		return fmt.Errorf("%w: %s: %w", s, op, err)
	}
	return fmt.Errorf("credential: %s: %w", op, err)
}

// loginError is tokenError for C_Login, naming the token.
func loginError(err error, label string) error {
	if isCode(err, pkcs11.CKR_PIN_EXPIRED) {
		return fmt.Errorf("%w: the PIN of token %q has expired and must be changed: %w", ErrPIN, label, err)
	}
	return tokenError(fmt.Sprintf("login to token %q", label), err)
}
