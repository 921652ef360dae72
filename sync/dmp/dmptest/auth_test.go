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
