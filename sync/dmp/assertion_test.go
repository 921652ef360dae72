package dmp

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/crypto/credential"
	"github.com/carnetdesk/carnet/crypto/credential/credtest"
	"github.com/carnetdesk/carnet/sync/dmp/fhir"
)

var (
	caOnce sync.Once
	testCA *credtest.CA
)

// unitCA is a test CA shared by the unit tests.
func unitCA(t testing.TB) *credtest.CA {
	caOnce.Do(func() {
		ca, err := credtest.NewCA("")
		if err != nil {
			panic(err)
		}
		testCA = ca
	})
	return testCA
}

// unitIdentity is a practitioner for unit tests.
var unitIdentity = credential.Identity{
	RPPS: "810000000019", Name: "Dr Test Unitaire", Profession: credential.Code{Code: "10"},
	Structure: credential.Structure{ID: "1750000001", Name: "Clinique"},
}

func issue(t testing.TB, ecdsaKey bool) *credtest.Issued {
	t.Helper()
	is, err := unitCA(t).IssuePractitionerWith(unitIdentity, credtest.Options{ECDSA: ecdsaKey})
	if err != nil {
		t.Fatal(err)
	}
	return is
}

func unitAccess() app.Access {
	return app.Access{Practitioner: PractitionerFrom(unitIdentity), Mode: app.AccessNormal}
}

var unitINS = app.INS{Matricule: "279035121518989", OID: app.OIDINSNIRTest}

// TestAssertionVerifiesWithStandardMethods signs with the crypto.Signer
// adapter and verifies with golang-jwt's own methods, as a server would.
func TestAssertionVerifiesWithStandardMethods(t *testing.T) {
	for _, tc := range []struct {
		name  string
		ecdsa bool
		alg   string
	}{{"RS256", false, ""}, {"PS256", false, "PS256"}, {"ES256", true, ""}} {
		t.Run(tc.name, func(t *testing.T) {
			is := issue(t, tc.ecdsa)
			now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
			c, err := New(Config{BaseURL: "https://127.0.0.1:1/fhir", Certificate: is.TLSCertificate(), SigningAlgorithm: tc.alg,
				SoftwareName: "Carnet", SoftwareVersion: "1.2.3", Clock: fixedClock{now}})
			if err != nil {
				t.Fatal(err)
			}
			acc := unitAccess()
			acc.Mode, acc.Justification = app.AccessEmergency, "patient inconscient aux urgences"
			raw, err := c.sign(acc, unitINS)
			if err != nil {
				t.Fatal(err)
			}
			var cl claims
			tok, err := jwt.ParseWithClaims(raw, &cl, func(tk *jwt.Token) (any, error) {
				switch tk.Method.(type) {
				case *jwt.SigningMethodRSA, *jwt.SigningMethodRSAPSS:
					return is.Cert.PublicKey.(*rsa.PublicKey), nil
				case *jwt.SigningMethodECDSA:
					return is.Cert.PublicKey.(*ecdsa.PublicKey), nil
				}
				return nil, errors.New("method")
			}, jwt.WithTimeFunc(func() time.Time { return now }), jwt.WithExpirationRequired(), jwt.WithIssuedAt())
			if err != nil {
				t.Fatal(err)
			}
			if tok.Method.Alg() != tc.name {
				t.Fatalf("alg %s", tok.Method.Alg())
			}
			if cl.RPPS != unitIdentity.RPPS || cl.Subject != unitIdentity.RPPS || cl.Mode != fhir.ModeEmergency ||
				cl.Justification == "" || cl.PatientINS != "urn:oid:1.2.250.1.213.1.4.10|279035121518989" ||
				cl.Software != "Carnet" || cl.SoftwareVersion != "1.2.3" || cl.Structure != "1750000001" || cl.Profession != "10" {
				t.Fatalf("claims %+v", cl)
			}
			if life := cl.ExpiresAt.Sub(cl.IssuedAt.Time); life != AssertionLifetime || life > fhir.MaxAssertionLifetime*time.Second {
				t.Fatalf("lifetime %v", life)
			}
			if len(cl.ID) != 32 {
				t.Fatalf("jti %q", cl.ID)
			}
			if len(cl.Audience) != 1 || cl.Audience[0] != "https://127.0.0.1:1/fhir" {
				t.Fatalf("aud %v, want the service base URL", cl.Audience)
			}
			raw2, _ := c.sign(acc, unitINS)
			var cl2 claims
			_, _, _ = jwt.NewParser().ParseUnverified(raw2, &cl2)
			if cl2.ID == cl.ID {
				t.Fatal("jti reused")
			}
			// our own Verify agrees
			parts := strings.Split(raw, ".")
			sig, _ := jwt.NewParser().DecodeSegment(parts[2])
			if err := c.method.Verify(parts[0]+"."+parts[1], sig, is.Cert.PublicKey); err != nil {
				t.Fatal(err)
			}
			if err := c.method.Verify(parts[0]+"."+parts[1]+"x", sig, is.Cert.PublicKey); err == nil {
				t.Fatal("tampered assertion verified")
			}
		})
	}
}

// TestNormalModeHasNoJustification: a justification typed in normal mode
// does not travel.
func TestNormalModeHasNoJustification(t *testing.T) {
	c, err := New(Config{BaseURL: "https://127.0.0.1:1/fhir", Certificate: issue(t, true).TLSCertificate()})
	if err != nil {
		t.Fatal(err)
	}
	acc := unitAccess()
	acc.Justification = "should not be sent"
	cl := c.assertionClaims(acc, app.INS{}, time.Now())
	if cl.Justification != "" || cl.PatientINS != "" {
		t.Fatalf("%+v", cl.Assertion)
	}
}

type fixedClock struct{ t time.Time }

func (f fixedClock) Now() time.Time { return f.t }

// TestValidateAccessBeforeSending: bad access contexts fail before any
// request (the base URL points nowhere).
func TestValidateAccessBeforeSending(t *testing.T) {
	c, err := New(Config{BaseURL: "https://127.0.0.1:1/fhir", Certificate: issue(t, true).TLSCertificate()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	noJust := unitAccess()
	noJust.Mode = app.AccessEmergency
	if _, err := c.FindPatient(ctx, noJust, unitINS); app.Denial(err) != app.DeniedJustification {
		t.Fatalf("bris de glace without justification: %v", err)
	}
	for _, j := range []string{"                    ", "  urgence ........  ", "!!!!!!!!!!!!!!"} {
		padded := noJust
		padded.Justification = j
		if _, err := c.FindPatient(ctx, padded, unitINS); app.Denial(err) != app.DeniedJustification {
			t.Fatalf("bris de glace with justification %q: %v", j, err)
		}
	}
	reg := unitAccess()
	reg.Mode = app.AccessRegulation
	if _, err := c.FindPatient(ctx, reg, unitINS); app.Denial(err) != app.DeniedNotRegulator {
		t.Fatalf("regulation without role: %v", err)
	}
	bad := unitAccess()
	bad.Mode = "whatever"
	if err := c.GrantAuthorization(ctx, bad, unitINS); !errors.Is(err, app.ErrInvalid) {
		t.Fatalf("unknown mode: %v", err)
	}
	if _, err := c.Retrieve(ctx, unitAccess(), app.INS{Matricule: "279035121518988", OID: app.OIDINSNIRTest}, app.RemoteDocument{URL: "Binary/x"}); !errors.Is(err, app.ErrInvalid) {
		t.Fatalf("bad INS key: %v", err)
	} else if strings.Contains(err.Error(), "27903512151898") {
		t.Fatalf("error leaks the INS: %v", err)
	}
	anon := unitAccess()
	anon.Practitioner.RPPS = ""
	if err := c.ListDocuments(ctx, anon, unitINS, app.DocumentQuery{}, func([]app.RemoteDocument) error { return nil }); !errors.Is(err, app.ErrInvalid) {
		t.Fatalf("no RPPS: %v", err)
	}
}

func TestNewRejects(t *testing.T) {
	cert := issue(t, true).TLSCertificate()
	for _, base := range []string{"", "ftp://x/fhir", "http://example.org/fhir", "https://x/fhir?a=b", "https://user@x/fhir", "fhir"} {
		if _, err := New(Config{BaseURL: base, Certificate: cert}); !errors.Is(err, app.ErrInvalid) {
			t.Errorf("base %q: %v", base, err)
		}
	}
	if _, err := New(Config{BaseURL: "https://x/fhir"}); !errors.Is(err, app.ErrCredential) {
		t.Errorf("no certificate: %v", err)
	}
	if _, err := New(Config{BaseURL: "https://x/fhir", Certificate: cert, SigningAlgorithm: "RS256"}); !errors.Is(err, app.ErrCredential) {
		t.Errorf("RS256 with an ECDSA key: %v", err)
	}
}
