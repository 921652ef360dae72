package dmp

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/sync/dmp/fhir"
)

// This file classifies every failure in one place, so that each error the
// client returns wraps exactly one app kind (app.ErrOffline, *app.AccessError,
// app.ErrWithdrawn, app.ErrConflict, *app.WaitError{ErrThrottled},
// app.ErrServer, app.ErrIntegrity, app.ErrInvalid, app.ErrCredential) or a
// context error of the caller. Error strings read "dmp: <op>: …" and never
// contain health data: no INS, no name, no document text, no URL (URLs carry
// the INS in their query).

// opError is an error of one operation: "dmp: op: msg: kind".
type opError struct {
	op   string
	msg  string // may be ""
	kind error  // what errors.Is/As see
}

func (e *opError) Error() string {
	if e.msg == "" {
		return "dmp: " + e.op + ": " + e.kind.Error()
	}
	return "dmp: " + e.op + ": " + e.msg + ": " + e.kind.Error()
}

func (e *opError) Unwrap() error { return e.kind }

// fail returns an error of op that wraps kind.
func fail(op string, kind error, msg string) error {
	return &opError{op: op, msg: msg, kind: kind}
}

// failf is fail with a formatted message. Never format health data into it.
func failf(op string, kind error, format string, args ...any) error {
	return &opError{op: op, msg: fmt.Sprintf(format, args...), kind: kind}
}

// errCertNotAccepted is returned during the handshake when the server
// does not accept the practitioner certificate.
var errCertNotAccepted = errors.New("the service does not accept the practitioner certificate")

// errRedirect is returned by CheckRedirect for a redirect the client refuses.
var errRedirect = errors.New("redirect to another host refused")

// classifyTransport maps a failure of the HTTP exchange itself (no status
// code read yet, or the body failed half-way) to a kind. parent is the
// caller's context: when it is done, its error passes through unchanged
// (wrapped with the operation), so errors.Is(err, context.Canceled) holds.
// A per-request timeout of the client is ErrOffline.
func classifyTransport(op string, parent context.Context, err error) error {
	if err == nil {
		return nil
	}
	if perr := parent.Err(); perr != nil {
		return &opError{op: op, kind: perr}
	}
	var oe *opError
	if errors.As(err, &oe) {
		return oe
	}
	switch {
	case errors.Is(err, errRedirect):
		return fail(op, app.ErrServer, "redirect to another host refused")
	case errors.Is(err, errCertNotAccepted):
		return fail(op, app.ErrCredential, "the service does not accept the practitioner certificate (unknown authority or key type)")
	case errors.Is(err, errTooLarge):
		return fail(op, app.ErrServer, "answer larger than the allowed size")
	}
	// TLS: the server refused our certificate (an alert it sent), or we
	// refused the server's.
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "remote error" {
		s := opErr.Err.Error()
		if strings.Contains(s, "certificate") || strings.Contains(s, "unknown ca") || strings.Contains(s, "unknown certificate authority") {
			return fail(op, app.ErrCredential, "the service refused the practitioner certificate ("+s+")")
		}
		return fail(op, app.ErrOffline, "TLS handshake failed ("+s+")")
	}
	var unknownAuth x509.UnknownAuthorityError
	var certInvalid x509.CertificateInvalidError
	var hostErr x509.HostnameError
	var verifyErr *tls.CertificateVerificationError
	switch {
	case errors.As(err, &unknownAuth), errors.As(err, &certInvalid), errors.As(err, &hostErr), errors.As(err, &verifyErr):
		return fail(op, app.ErrOffline, "the service's certificate is not trusted")
	}
	var recErr tls.RecordHeaderError
	if errors.As(err, &recErr) {
		return fail(op, app.ErrOffline, "the service does not speak TLS")
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, http.ErrHandlerTimeout):
		return fail(op, app.ErrOffline, "timed out")
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return fail(op, app.ErrOffline, "connection lost during the answer")
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return fail(op, app.ErrOffline, "connection reset")
	case errors.Is(err, syscall.ECONNREFUSED):
		return fail(op, app.ErrOffline, "connection refused")
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return fail(op, app.ErrOffline, "name resolution failed")
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fail(op, app.ErrOffline, "timed out")
	}
	if errors.As(err, &opErr) {
		return fail(op, app.ErrOffline, "network error")
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		// a transport failure we did not recognise: still the network
		return fail(op, app.ErrOffline, "request failed")
	}
	return fail(op, app.ErrOffline, "network error")
}

// classifyStatus maps a non-2xx answer to a kind. outcome is the decoded
// OperationOutcome of the body, or nil. now is the client's clock, for an
// HTTP-date Retry-After.
func classifyStatus(op string, status int, header http.Header, outcome *fhir.OperationOutcome, now time.Time) error {
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return &opError{op: op, msg: "refused (" + strconv.Itoa(status) + ")", kind: &app.AccessError{Reason: denialReason(outcome)}}
	case status == http.StatusNotFound || status == http.StatusGone:
		if r := denialReason(outcome); r != app.DeniedOther && outcome != nil {
			// an absence the service explains with a DMP reason: both
			// ErrWithdrawn and the *app.AccessError of that reason
			return &opError{op: op, msg: "not found or withdrawn (" + strconv.Itoa(status) + ")", kind: withdrawnFor{&app.AccessError{Reason: r}}}
		}
		return fail(op, app.ErrWithdrawn, "not found or withdrawn ("+strconv.Itoa(status)+")")
	case status == http.StatusConflict || status == http.StatusPreconditionFailed:
		return fail(op, app.ErrConflict, "changed meanwhile ("+strconv.Itoa(status)+")")
	case status == http.StatusTooManyRequests:
		return &opError{op: op, kind: &app.WaitError{Kind: app.ErrThrottled, Wait: retryAfter(header.Get("Retry-After"), now)}}
	case status >= 500:
		return fail(op, app.ErrServer, "service failed ("+strconv.Itoa(status)+")")
	case status >= 300 && status < 400:
		return fail(op, app.ErrServer, "unexpected redirect ("+strconv.Itoa(status)+")")
	case status >= 400:
		return fail(op, app.ErrInvalid, "request refused ("+strconv.Itoa(status)+")")
	}
	return fail(op, app.ErrServer, "unexpected status ("+strconv.Itoa(status)+")")
}

// withdrawnFor is a 404/410 that carries a DMP reason: errors.Is sees
// app.ErrWithdrawn, errors.As the *app.AccessError (an explicit signal for
// the sync engine, unlike a bare 404/410).
type withdrawnFor struct{ ae *app.AccessError }

func (w withdrawnFor) Error() string   { return "withdrawn: " + string(w.ae.Reason) }
func (w withdrawnFor) Unwrap() []error { return []error{app.ErrWithdrawn, w.ae} }

// retryAfter parses a Retry-After value (delay-seconds or HTTP-date). An
// absent or unreadable value gives 0 (the caller picks its own back-off);
// the delay is capped at one hour so a hostile value cannot stall sync.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0
		}
		if n > 3600 {
			n = 3600
		}
		d = time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	if d < 0 {
		return 0
	}
	if d > time.Hour {
		return time.Hour
	}
	return d
}

// denialReason reads the reason of a refusal from the OperationOutcome's
// issue details (the sandbox's code system fhir.DenialCodeSystem). Codes
// from that system win; otherwise a bare code equal to a known reason is
// accepted; anything else is DeniedOther.
func denialReason(oo *fhir.OperationOutcome) app.DenialReason {
	if oo == nil {
		return app.DeniedOther
	}
	var loose app.DenialReason
	for _, is := range oo.Issue {
		if is.Details == nil {
			continue
		}
		for _, c := range is.Details.Coding {
			r, ok := knownDenial(c.Code)
			if !ok {
				continue
			}
			if c.System == fhir.DenialCodeSystem {
				return r
			}
			if loose == "" {
				loose = r
			}
		}
	}
	if loose != "" {
		return loose
	}
	return app.DeniedOther
}

// knownDenial maps a code to a denial reason Carnet knows.
func knownDenial(code string) (app.DenialReason, bool) {
	switch r := app.DenialReason(code); r {
	case app.DeniedBlocked, app.DeniedNoAuthorization, app.DeniedClosed, app.DeniedNoRecord,
		app.DeniedProfession, app.DeniedJustification, app.DeniedNotRegulator, app.DeniedNotAuthor,
		app.DeniedNotQualified, app.DeniedOther:
		return r, true
	}
	return "", false
}

// malformed is the error of an answer that does not decode: a server fault.
func malformed(op, what string) error {
	return fail(op, app.ErrServer, "malformed "+what)
}
