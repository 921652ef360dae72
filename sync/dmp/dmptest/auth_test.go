package dmptest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"net/http"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/sync/dmp/fhir"
	"github.com/golang-jwt/jwt/v5"
)

func TestAssertion(t *testing.T) {
	sb := start(t, Options{Patients: 30})
	p := sb.patientWhere(t, openPatient)
	path := docsPath(p.INS)
	foreignKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	anRPPS := sb.PKI.Credentials[KeyAnesthetist].Practitioner.RPPS
	cases := []struct {
		name   string
		key    string
		mutate func(*claims)
		signer any
		want   int
	}{
		{"expired", KeyGP, func(c *claims) {
			c.IssuedAt, c.ExpiresAt = jwt.NewNumericDate(time.Now().Add(-10*time.Minute)), jwt.NewNumericDate(time.Now().Add(-6*time.Minute))
		}, nil, 401},
		{"issued in the future", KeyGP, func(c *claims) {
			c.IssuedAt, c.ExpiresAt = jwt.NewNumericDate(time.Now().Add(10*time.Minute)), jwt.NewNumericDate(time.Now().Add(12*time.Minute))
		}, nil, 401},
		{"lifetime over 5 minutes", KeyGP, func(c *claims) { c.ExpiresAt = jwt.NewNumericDate(time.Now().Add(time.Hour)) }, nil, 401},
		{"no exp", KeyGP, func(c *claims) { c.ExpiresAt = nil }, nil, 401},
		{"no jti", KeyGP, func(c *claims) { c.ID = "" }, nil, 401},
		{"wrong signature (ECDSA cert, foreign key)", KeyAnesthetist, nil, foreignKey, 401},
		{"wrong algorithm for the key (RSA cert, ES256)", KeyGP, nil, foreignKey, 401},
		{"rpps of someone else", KeyGP, func(c *claims) { c.RPPS, c.Subject = anRPPS, anRPPS }, nil, 403},
		{"assertion for another patient", KeyGP, func(c *claims) { c.PatientINS = fhir.INSToken(sb.Population()[3].INS).String() }, nil, 403},
		{"no patient", KeyGP, func(c *claims) { c.PatientINS = "" }, nil, 403},
		{"unknown mode", KeyGP, func(c *claims) { c.Mode = "root" }, nil, 400},
	}
	for _, c := range cases {
		a := sb.as(t, c.key)
		a.mutate, a.signer = c.mutate, c.signer
		if st := a.get(path, p.INS, nil); st != c.want {
			t.Errorf("%s: status %d, want %d", c.name, st, c.want)
		}
	}
	// replay: the same assertion twice
	gp := sb.as(t, KeyGP)
	tok := gp.assertion(p.INS)
	send := func() int {
		req, _ := http.NewRequest("GET", sb.URL+path, nil)
		req.Header.Set(fhir.AssertionHeader, tok)
		resp, err := gp.cl.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := send(); st != 200 {
		t.Fatalf("first use: %d", st)
	}
	if st := send(); st != 401 {
		t.Fatalf("replay: %d", st)
	}
	// no assertion
	req, _ := http.NewRequest("GET", sb.URL+path, nil)
	resp, err := gp.cl.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("no assertion: %d", resp.StatusCode)
	}
	// no client certificate: the TLS handshake fails
	noCert := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: sb.PKI.Pool()}}}
	if resp, err := noCert.Get(sb.URL + path); err == nil {
		resp.Body.Close()
		t.Fatal("request without a client certificate accepted")
	}
	// metadata needs no assertion
	if resp, err := gp.cl.Get(sb.URL + "/metadata"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("metadata: %v", err)
	} else {
		resp.Body.Close()
	}
}

// TestSandboxRefusesWeakAssertions: what the README says the sandbox
// refuses, it refuses: an assertion for another service (aud) or for none,
// a lifetime over 120 s (almost 5 minutes used to pass), a bris de glace
// justification of spaces or punctuation; and a replay is one
// practitioner's jti used twice, not another practitioner's.
func TestSandboxRefusesWeakAssertions(t *testing.T) {
	sb := start(t, Options{Patients: 30})
	p := sb.patientWhere(t, openPatient)
	path := docsPath(p.INS)
	lifetime := func(d time.Duration) func(*claims) {
		return func(c *claims) {
			now := time.Now()
			c.IssuedAt, c.ExpiresAt = jwt.NewNumericDate(now), jwt.NewNumericDate(now.Add(d))
		}
	}
	for _, c := range []struct {
		name   string
		mutate func(*claims)
		mode   string
		just   string
		want   int
	}{
		{"aud of another service", func(c *claims) { c.Audience = jwt.ClaimStrings{"https://other.example/fhir"} }, fhir.ModeNormal, "", 401},
		{"aud of this host, another path", func(c *claims) { c.Audience = jwt.ClaimStrings{sb.URL + "-other"} }, fhir.ModeNormal, "", 401},
		{"two audiences", func(c *claims) { c.Audience = jwt.ClaimStrings{sb.URL, "https://other.example/fhir"} }, fhir.ModeNormal, "", 401},
		{"no aud", func(c *claims) { c.Audience = nil }, fhir.ModeNormal, "", 401},
		{"lifetime 121 s", lifetime(121 * time.Second), fhir.ModeNormal, "", 401},
		{"lifetime 4 min 59 s", lifetime(299 * time.Second), fhir.ModeNormal, "", 401},
		{"justification of spaces", nil, fhir.ModeEmergency, "                    ", 403},
		{"justification of padding around a word", nil, fhir.ModeEmergency, "   urgence  .......   ", 403},
		{"justification of punctuation", nil, fhir.ModeEmergency, "!!!!!!!!!!!!----", 403},
		// the controls: what must still pass
		{"lifetime 120 s", lifetime(120 * time.Second), fhir.ModeNormal, "", 200},
		{"aud with a trailing slash", func(c *claims) { c.Audience = jwt.ClaimStrings{sb.URL + "/"} }, fhir.ModeNormal, "", 200},
		{"a real justification", nil, fhir.ModeEmergency, "  Patient inconscient aux urgences  ", 200},
	} {
		a := sb.as(t, KeyGP)
		a.mutate, a.mode, a.just = c.mutate, c.mode, c.just
		if st := a.get(path, p.INS, nil); st != c.want {
			t.Errorf("%s: status %d, want %d", c.name, st, c.want)
		}
	}
	// Replay is per practitioner.
	same := func(c *claims) { c.ID = "shared-jti-0123456789" }
	gp, an := sb.as(t, KeyGP), sb.as(t, KeyAnesthetist)
	gp.mutate, an.mutate = same, same
	if st := gp.get(path, p.INS, nil); st != 200 {
		t.Fatalf("first use: %d", st)
	}
	if st := an.get(path, p.INS, nil); st == 401 {
		t.Fatal("another practitioner's jti refused as a replay")
	}
	if st := gp.get(path, p.INS, nil); st != 401 {
		t.Fatalf("the same practitioner's replay: %d, want 401", st)
	}
}
