//go:build cgo

package credential

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/miekg/pkcs11"
)

// OpenPKCS11 opens the practitioner's card through the PKCS#11 module at
// module (e.g. the CPS "cryptolib" library, or SoftHSM2's libsofthsm2.so).
//
// slotOrLabel chooses the token: a slot id, else a token label, else (a
// small number) the index of the slot in the module's list of slots with a
// token; empty means the only token present (an error lists the labels when
// there are several).
//
// The PIN logs the user in: a wrong PIN gives ErrPIN (with ErrPINFinalTry
// too when the card says one try is left), a locked PIN ErrPINLocked. The
// certificate chosen is the one best fit for client authentication (extended
// key usage clientAuth, key usage digitalSignature; a CPS card also holds a
// signature-only certificate) that has a private key with the same CKA_ID.
// The key stays on the card: the Signer calls C_Sign (CKM_RSA_PKCS,
// CKM_RSA_PKCS_PSS, CKM_ECDSA). A card whose mechanism list lacks
// CKM_RSA_PKCS_PSS is restricted to TLS 1.2 with PKCS#1 v1.5 (see
// MaxTLSVersion and TLSConfig): TLS 1.3 allows only PSS for RSA keys.
//
// The session is guarded by a mutex (PKCS#11 sessions are not safe for
// concurrent use). A card removed while in use turns every later signature
// into ErrCardRemoved. Close logs out and releases the module.
func OpenPKCS11(module string, slotOrLabel string, pin []byte) (*Credential, error) {
	return openPKCS11(module, slotOrLabel, pin, time.Now())
}

// p11Module is a loaded and initialised PKCS#11 library. C_Initialize and
// C_Finalize are process-wide, so modules are shared and counted.
type p11Module struct {
	path string
	ctx  *pkcs11.Ctx
	refs int
}

var p11Modules = struct {
	sync.Mutex
	m map[string]*p11Module
}{m: map[string]*p11Module{}}

func acquireModule(path string) (*p11Module, error) {
	p11Modules.Lock()
	defer p11Modules.Unlock()
	if m := p11Modules.m[path]; m != nil {
		m.refs++
		return m, nil
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoModule, err)
	}
	ctx := pkcs11.New(path)
	if ctx == nil {
		return nil, fmt.Errorf("%w: %s", ErrNoModule, path)
	}
	if err := ctx.Initialize(); err != nil && !isCode(err, pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		ctx.Destroy()
		return nil, fmt.Errorf("credential: PKCS#11 module %s: initialise: %w", path, err)
	}
	m := &p11Module{path: path, ctx: ctx, refs: 1}
	p11Modules.m[path] = m
	return m, nil
}

func (m *p11Module) release() error {
	p11Modules.Lock()
	defer p11Modules.Unlock()
	m.refs--
	if m.refs > 0 {
		return nil
	}
	delete(p11Modules.m, m.path)
	err := m.ctx.Finalize()
	m.ctx.Destroy()
	if err != nil && !isCode(err, pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED) {
		return fmt.Errorf("credential: finalise PKCS#11 module: %w", err)
	}
	return nil
}

// p11Token is an open, logged-in session on a token.
type p11Token struct {
	mu      sync.Mutex
	mod     *p11Module
	slot    uint
	label   string
	session pkcs11.SessionHandle
	key     pkcs11.ObjectHandle
	mechs   map[uint]bool
	closed  bool
	gone    error // set once the card is seen removed; later calls fail fast
}

func openPKCS11(module, slotOrLabel string, pin []byte, now time.Time) (cred *Credential, err error) {
	mod, err := acquireModule(module)
	if err != nil {
		return nil, err
	}
	tok := &p11Token{mod: mod}
	defer func() {
		if err != nil {
			tok.close()
		}
	}()
	ctx := mod.ctx
	if tok.slot, tok.label, err = findSlot(ctx, slotOrLabel); err != nil {
		return nil, err
	}
	info, err := ctx.GetTokenInfo(tok.slot)
	if err != nil {
		return nil, tokenError("token info", err)
	}
	if info.Flags&pkcs11.CKF_USER_PIN_LOCKED != 0 {
		return nil, fmt.Errorf("%w on token %q", ErrPINLocked, tok.label)
	}
	if len(pin) == 0 {
		return nil, fmt.Errorf("%w: empty PIN for token %q", ErrPIN, tok.label)
	}
	if tok.session, err = ctx.OpenSession(tok.slot, pkcs11.CKF_SERIAL_SESSION); err != nil {
		tok.session = 0
		return nil, tokenError("open session", err)
	}
	if err := ctx.Login(tok.session, pkcs11.CKU_USER, string(pin)); err != nil && !isCode(err, pkcs11.CKR_USER_ALREADY_LOGGED_IN) {
		err = loginError(err, tok.label)
		if errors.Is(err, ErrPIN) {
			if info, ierr := ctx.GetTokenInfo(tok.slot); ierr == nil && info.Flags&pkcs11.CKF_USER_PIN_FINAL_TRY != 0 {
				err = fmt.Errorf("%w: %w", err, ErrPINFinalTry)
			}
		}
		return nil, err
	}
	tok.mechs = map[uint]bool{}
	if ms, err := ctx.GetMechanismList(tok.slot); err == nil {
		for _, m := range ms {
			tok.mechs[m.Mechanism] = true
		}
	}

	leaf, key, err := tok.findCredential()
	if err != nil {
		return nil, err
	}
	tok.key = key
	signer, err := newP11Signer(tok, leaf)
	if err != nil {
		return nil, err
	}
	cred, err = newCredential(KindPKCS11, leaf, nil, signer, now)
	if err != nil {
		return nil, err
	}
	if _, isRSA := leaf.PublicKey.(*rsa.PublicKey); isRSA && !tok.mechs[pkcs11.CKM_RSA_PKCS_PSS] {
		cred.noPSS = true
	}
	cred.closer = tok.close
	return cred, nil
}

// findSlot resolves slotOrLabel to a slot with a token.
func findSlot(ctx *pkcs11.Ctx, slotOrLabel string) (uint, string, error) {
	slots, err := ctx.GetSlotList(true)
	if err != nil {
		return 0, "", tokenError("list slots", err)
	}
	if len(slots) == 0 {
		return 0, "", fmt.Errorf("%w: no card in any reader", ErrCardRemoved)
	}
	// Only initialised tokens count (SoftHSM2 always shows an empty one).
	var labels []string
	var ready []uint
	for _, s := range slots {
		if info, err := ctx.GetTokenInfo(s); err == nil && info.Flags&pkcs11.CKF_TOKEN_INITIALIZED != 0 {
			ready = append(ready, s)
			labels = append(labels, info.Label)
		}
	}
	slots = ready
	if len(slots) == 0 {
		return 0, "", fmt.Errorf("%w: no initialised card in any reader", ErrCardRemoved)
	}
	want := strings.TrimSpace(slotOrLabel)
	if want == "" {
		if len(slots) == 1 {
			return slots[0], labels[0], nil
		}
		return 0, "", fmt.Errorf("credential: %d tokens present (%s): choose one by slot or label", len(slots), quoteAll(labels))
	}
	n, numErr := strconv.ParseUint(want, 10, 64)
	if numErr == nil {
		for i, s := range slots {
			if uint64(s) == n {
				return s, labels[i], nil
			}
		}
	}
	for i, l := range labels {
		if l == want {
			return slots[i], l, nil
		}
	}
	if numErr == nil && n < uint64(len(slots)) {
		return slots[n], labels[n], nil
	}
	return 0, "", fmt.Errorf("credential: no token with slot or label %q (present: %s)", want, quoteAll(labels))
}

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}

// p11Cert is a certificate object of the token.
type p11Cert struct {
	id   []byte
	cert *x509.Certificate
}

// findCredential finds the certificates, picks the best one for client
// authentication that has a private key with the same CKA_ID, and returns
// it with that key's handle.
func (t *p11Token) findCredential() (*x509.Certificate, pkcs11.ObjectHandle, error) {
	ctx := t.mod.ctx
	objs, err := t.findObjects([]*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_CERTIFICATE),
		pkcs11.NewAttribute(pkcs11.CKA_CERTIFICATE_TYPE, pkcs11.CKC_X_509),
	})
	if err != nil {
		return nil, 0, err
	}
	var certs []p11Cert
	for _, o := range objs {
		attrs, err := ctx.GetAttributeValue(t.session, o, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_ID, nil),
			pkcs11.NewAttribute(pkcs11.CKA_VALUE, nil),
		})
		if err != nil {
			if mapped := classify(err); errors.Is(mapped, ErrCardRemoved) {
				return nil, 0, tokenError("read certificate", err)
			}
			continue
		}
		var pc p11Cert
		for _, a := range attrs {
			switch a.Type {
			case pkcs11.CKA_ID:
				pc.id = a.Value
			case pkcs11.CKA_VALUE:
				pc.cert, _ = x509.ParseCertificate(a.Value)
			}
		}
		if pc.cert != nil && !pc.cert.IsCA {
			certs = append(certs, pc)
		}
	}
	if len(certs) == 0 {
		return nil, 0, fmt.Errorf("credential: no certificate on token %q", t.label)
	}
	sort.SliceStable(certs, func(i, j int) bool { return certScore(certs[i].cert) > certScore(certs[j].cert) })
	for _, pc := range certs {
		keys, err := t.findObjects([]*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY),
			pkcs11.NewAttribute(pkcs11.CKA_ID, pc.id),
		})
		if err != nil {
			return nil, 0, err
		}
		if len(keys) > 0 {
			return pc.cert, keys[0], nil
		}
	}
	return nil, 0, fmt.Errorf("credential: token %q has no private key matching its certificate (same CKA_ID)", t.label)
}

// certScore ranks certificates for TLS client authentication.
func certScore(c *x509.Certificate) int {
	s := 0
	for _, u := range c.ExtKeyUsage {
		if u == x509.ExtKeyUsageClientAuth {
			s += 4
		}
	}
	if c.KeyUsage&x509.KeyUsageDigitalSignature != 0 {
		s += 2
	}
	if c.KeyUsage == x509.KeyUsageContentCommitment {
		s -= 4 // a signature-only (non-repudiation) certificate
	}
	switch c.PublicKey.(type) {
	case *rsa.PublicKey, *ecdsa.PublicKey:
		s++
	}
	return s
}

func (t *p11Token) findObjects(tmpl []*pkcs11.Attribute) ([]pkcs11.ObjectHandle, error) {
	ctx := t.mod.ctx
	if err := ctx.FindObjectsInit(t.session, tmpl); err != nil {
		return nil, tokenError("find objects", err)
	}
	var all []pkcs11.ObjectHandle
	for {
		objs, _, err := ctx.FindObjects(t.session, 16)
		if err != nil {
			_ = ctx.FindObjectsFinal(t.session)
			return nil, tokenError("find objects", err)
		}
		all = append(all, objs...)
		if len(objs) == 0 || len(all) > 1024 {
			break
		}
	}
	if err := ctx.FindObjectsFinal(t.session); err != nil {
		return nil, tokenError("find objects", err)
	}
	return all, nil
}

// close logs out, closes the session and releases the module. Errors of a
// card already removed are not reported: the session is gone anyway.
func (t *p11Token) close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	t.closed = true
	var errs []error
	if t.session != 0 && t.gone == nil {
		ctx := t.mod.ctx
		if err := ctx.Logout(t.session); err != nil && !ignorableOnClose(err) {
			errs = append(errs, fmt.Errorf("credential: logout: %w", err))
		}
		if err := ctx.CloseSession(t.session); err != nil && !ignorableOnClose(err) {
			errs = append(errs, fmt.Errorf("credential: close session: %w", err))
		}
	}
	if err := t.mod.release(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func ignorableOnClose(err error) bool {
	return isCode(err, pkcs11.CKR_USER_NOT_LOGGED_IN) || errors.Is(classify(err), ErrCardRemoved)
}

// Alive checks that a card credential's session still works (a cheap
// C_GetSessionInfo), returning ErrCardRemoved once the card is gone. For a
// file credential it returns nil. Use it to notice a card pulled out
// between signatures, e.g. to lock the UI.
func (c *Credential) Alive() error {
	s, ok := c.signer.(*p11Signer)
	if !ok {
		return nil
	}
	t := s.tok
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.usable(); err != nil {
		return err
	}
	info, err := t.mod.ctx.GetSessionInfo(t.session)
	if err != nil {
		return t.fail("session", err)
	}
	if info.State != pkcs11.CKS_RO_USER_FUNCTIONS && info.State != pkcs11.CKS_RW_USER_FUNCTIONS {
		t.gone = fmt.Errorf("%w: logged out of token %q", ErrCardRemoved, t.label)
		return t.gone
	}
	return nil
}

// usable reports why the token cannot be used (closed, card gone). The
// caller holds t.mu.
func (t *p11Token) usable() error {
	if t.closed {
		return ErrClosed
	}
	return t.gone
}

// fail classifies err of operation op, remembering a card removal. The
// caller holds t.mu.
func (t *p11Token) fail(op string, err error) error {
	e := tokenError(op, err)
	if errors.Is(e, ErrCardRemoved) {
		t.gone = e
	}
	return e
}
