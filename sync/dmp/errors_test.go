package dmp

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/sync/dmp/fhir"
)

// TestClassifyStatus is the table of HTTP answers → error kinds.
func TestClassifyStatus(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	deny := func(r app.DenialReason) *fhir.OperationOutcome { return fhir.DenialOutcome(r, "x") }
	cases := []struct {
		name    string
		status  int
		header  http.Header
		outcome *fhir.OperationOutcome
		kind    error
		reason  app.DenialReason
		wait    time.Duration
	}{
		{"401 replay", 401, nil, fhir.NewOutcome("login", "jti already used"), app.ErrAccessDenied, app.DeniedOther, 0},
		{"403 blocked", 403, nil, deny(app.DeniedBlocked), app.ErrAccessDenied, app.DeniedBlocked, 0},
		{"403 no authorization", 403, nil, deny(app.DeniedNoAuthorization), app.ErrAccessDenied, app.DeniedNoAuthorization, 0},
		{"403 closed", 403, nil, deny(app.DeniedClosed), app.ErrAccessDenied, app.DeniedClosed, 0},
		{"403 profession", 403, nil, deny(app.DeniedProfession), app.ErrAccessDenied, app.DeniedProfession, 0},
		{"403 justification", 403, nil, deny(app.DeniedJustification), app.ErrAccessDenied, app.DeniedJustification, 0},
		{"403 not regulator", 403, nil, deny(app.DeniedNotRegulator), app.ErrAccessDenied, app.DeniedNotRegulator, 0},
		{"403 not author", 403, nil, deny(app.DeniedNotAuthor), app.ErrAccessDenied, app.DeniedNotAuthor, 0},
		{"403 not qualified", 403, nil, deny(app.DeniedNotQualified), app.ErrAccessDenied, app.DeniedNotQualified, 0},
		{"403 unknown code", 403, nil, &fhir.OperationOutcome{Issue: []fhir.Issue{{Code: "forbidden", Details: &fhir.CodeableConcept{Coding: []fhir.Coding{{System: fhir.DenialCodeSystem, Code: "martian"}}}}}}, app.ErrAccessDenied, app.DeniedOther, 0},
		{"403 without outcome", 403, nil, nil, app.ErrAccessDenied, app.DeniedOther, 0},
		{"403 bare code", 403, nil, &fhir.OperationOutcome{Issue: []fhir.Issue{{Code: "forbidden", Details: &fhir.CodeableConcept{Coding: []fhir.Coding{{Code: "closed"}}}}}}, app.ErrAccessDenied, app.DeniedClosed, 0},
		{"404", 404, nil, nil, app.ErrWithdrawn, "", 0},
		{"410", 410, nil, nil, app.ErrWithdrawn, "", 0},
		{"409", 409, nil, nil, app.ErrConflict, "", 0},
		{"412", 412, nil, nil, app.ErrConflict, "", 0},
		{"429 seconds", 429, http.Header{"Retry-After": {"7"}}, nil, app.ErrThrottled, "", 7 * time.Second},
		{"429 date", 429, http.Header{"Retry-After": {now.Add(90 * time.Second).Format(http.TimeFormat)}}, nil, app.ErrThrottled, "", 90 * time.Second},
		{"429 none", 429, nil, nil, app.ErrThrottled, "", 0},
		{"429 hostile", 429, http.Header{"Retry-After": {"99999999"}}, nil, app.ErrThrottled, "", time.Hour},
		{"429 garbage", 429, http.Header{"Retry-After": {"soon"}}, nil, app.ErrThrottled, "", 0},
		{"500", 500, nil, nil, app.ErrServer, "", 0},
		{"503", 503, nil, fhir.NewOutcome("transient", "x"), app.ErrServer, "", 0},
		{"302", 302, nil, nil, app.ErrServer, "", 0},
		{"400", 400, nil, nil, app.ErrInvalid, "", 0},
		{"405", 405, nil, nil, app.ErrInvalid, "", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.header
			if h == nil {
				h = http.Header{}
			}
			err := classifyStatus("op", tc.status, h, tc.outcome, now)
			if !errors.Is(err, tc.kind) {
				t.Fatalf("%v: not %v", err, tc.kind)
			}
			if app.KindOf(err) != tc.kind {
				t.Fatalf("KindOf = %v", app.KindOf(err))
			}
			if got := app.Denial(err); got != tc.reason {
				t.Fatalf("reason %q, want %q", got, tc.reason)
			}
			if tc.kind == app.ErrThrottled {
				var we *app.WaitError
				if !errors.As(err, &we) || we.Wait != tc.wait {
					t.Fatalf("wait %v, want %v", we, tc.wait)
				}
			}
			if !strings.HasPrefix(err.Error(), "dmp: op: ") {
				t.Fatalf("error text %q", err)
			}
		})
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

// TestClassifyTransport is the table of transport failures → kinds.
func TestClassifyTransport(t *testing.T) {
	wrap := func(err error) error {
		return &url.Error{Op: "Get", URL: "https://x/fhir/Patient?identifier=secret", Err: err}
	}
	cases := []struct {
		name string
		err  error
		kind error
	}{
		{"dns", wrap(&net.DNSError{Err: "no such host", Name: "x"}), app.ErrOffline},
		{"refused", wrap(&net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}), app.ErrOffline},
		{"reset", wrap(&net.OpError{Op: "read", Err: syscall.ECONNRESET}), app.ErrOffline},
		{"timeout", wrap(timeoutErr{}), app.ErrOffline},
		{"deadline", wrap(context.DeadlineExceeded), app.ErrOffline},
		{"eof", wrap(io.EOF), app.ErrOffline},
		{"unexpected eof", io.ErrUnexpectedEOF, app.ErrOffline},
		{"unknown authority", wrap(x509.UnknownAuthorityError{}), app.ErrOffline},
		{"client cert refused", wrap(&net.OpError{Op: "remote error", Err: errors.New("tls: unknown certificate authority")}), app.ErrCredential},
		{"client cert required", wrap(&net.OpError{Op: "remote error", Err: errors.New("tls: certificate required")}), app.ErrCredential},
		{"redirect", wrap(errRedirect), app.ErrServer},
		{"other", errors.New("boom"), app.ErrOffline},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := classifyTransport("op", context.Background(), tc.err)
			if !errors.Is(err, tc.kind) {
				t.Fatalf("%v: not %v", err, tc.kind)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Fatalf("error leaks the URL: %v", err)
			}
		})
	}
	// the caller's cancellation passes through
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := classifyTransport("op", ctx, wrap(context.Canceled))
	if !errors.Is(err, context.Canceled) || app.KindOf(err) != nil {
		t.Fatalf("cancel: %v", err)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Duration{"": 0, "0": 0, "-3": 0, "120": 2 * time.Minute, "x": 0,
		now.Add(-time.Minute).Format(http.TimeFormat): 0} {
		if got := retryAfter(in, now); got != want {
			t.Errorf("retryAfter(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestOpErrorText(t *testing.T) {
	err := failf("list documents", app.ErrServer, "page %d", 3)
	if got := err.Error(); got != "dmp: list documents: page 3: server fault" {
		t.Fatal(got)
	}
	if got := fmt.Sprint(fail("x", app.ErrOffline, "")); got != "dmp: x: offline" {
		t.Fatal(got)
	}
}
