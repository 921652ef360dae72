package dmp

import (
	"crypto"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/sync/dmp/dmptest"
	"github.com/carnetdesk/carnet/sync/dmp/fhir"
)

// BenchmarkListDocuments lists one patient's 500 documents (all submitted
// at the same instant), 100 per page, client and sandbox in process over
// TLS on loopback. The practitioner is the anesthetist (ECDSA P-256 key).
func BenchmarkListDocuments(b *testing.B) {
	e := newEnv(b, dmptest.Options{Patients: 10})
	p, err := e.sb.AddPatient(dmptest.FixedPatient{Docs: 500})
	if err != nil {
		b.Fatal(err)
	}
	c, acc := e.client(dmptest.KeyAnesthetist)
	ctx := b.Context()
	pages := 0
	for b.Loop() {
		n := 0
		pages = 0
		err := c.ListDocuments(ctx, acc, p.INS, app.DocumentQuery{PageSize: 100}, func(docs []app.RemoteDocument) error {
			n += len(docs)
			pages++
			return nil
		})
		if err != nil || n != 500 {
			b.Fatalf("%d documents, %v", n, err)
		}
	}
	b.ReportMetric(float64(pages), "pages/op")
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/500, "µs/doc")
}

// BenchmarkRetrieve retrieves the same 200 documents (about 20 kB of CDA
// each) through the client (assertion, bounded read, size + SHA-1 +
// content-type verification) and by a plain GET with the same TLS client
// certificate and an assertion signed by golang-jwt's own ES256 (the
// service requires one per request) but no verification, in the same run.
// Each sub-benchmark gets its own sandbox built from the same seed (the same
// 200 documents, byte for byte), so that neither pays for the other's
// server-side state (the sandbox's replay cache grows with every request).
// It measures the client alone: writing into the vault is the Service's job.
func BenchmarkRetrieve(b *testing.B) {
	setup := func(b *testing.B) (*env, app.INS, *Client, app.Access, []app.RemoteDocument, int64) {
		e := newEnv(b, dmptest.Options{Patients: 10, Seed: 11})
		p, err := e.sb.AddPatient(dmptest.FixedPatient{Docs: 200, Size: 20000})
		if err != nil {
			b.Fatal(err)
		}
		c, acc := e.client(dmptest.KeyAnesthetist)
		var docs []app.RemoteDocument
		err = c.ListDocuments(b.Context(), acc, p.INS, app.DocumentQuery{PageSize: 100}, func(d []app.RemoteDocument) error {
			docs = append(docs, d...)
			return nil
		})
		if err != nil || len(docs) != 200 {
			b.Fatalf("%d documents, %v", len(docs), err)
		}
		var total int64
		for _, d := range docs {
			total += d.Meta.Size
		}
		return e, p.INS, c, acc, docs, total
	}

	b.Run("carnet", func(b *testing.B) {
		_, ins, c, acc, docs, total := setup(b)
		ctx := b.Context()
		b.SetBytes(total)
		for b.Loop() {
			for _, d := range docs {
				got, err := c.Retrieve(ctx, acc, ins, d)
				if err != nil || int64(len(got)) != d.Meta.Size {
					b.Fatalf("%d bytes, %v", len(got), err)
				}
			}
		}
	})

	b.Run("raw", func(b *testing.B) {
		e, pins, _, acc, docs, total := setup(b)
		ctx := b.Context()
		cred := e.sb.PKI.Credentials[dmptest.KeyAnesthetist]
		hc := e.sb.Client(dmptest.KeyAnesthetist)
		defer hc.CloseIdleConnections()
		var key crypto.PrivateKey = cred.Signer
		ins := fhir.INSToken(pins).String()
		b.SetBytes(total)
		for b.Loop() {
			for _, d := range docs {
				now := time.Now()
				tok, err := jwt.NewWithClaims(jwt.SigningMethodES256, claims{
					RegisteredClaims: jwt.RegisteredClaims{Subject: acc.Practitioner.RPPS, IssuedAt: jwt.NewNumericDate(now),
						ExpiresAt: jwt.NewNumericDate(now.Add(2 * time.Minute)), ID: newJTI(), Audience: jwt.ClaimStrings{e.sb.URL}},
					Assertion: fhir.Assertion{RPPS: acc.Practitioner.RPPS, Structure: acc.Practitioner.Structure.ID, Profession: "10",
						PatientINS: ins, Mode: fhir.ModeNormal, Software: "raw", SoftwareVersion: "0"},
				}).SignedString(key)
				if err != nil {
					b.Fatal(err)
				}
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.sb.URL+"/"+d.URL, nil)
				req.Header.Set(fhir.AssertionHeader, tok)
				resp, err := hc.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 || int64(len(body)) != d.Meta.Size {
					b.Fatalf("%d: %d bytes, %v", resp.StatusCode, len(body), err)
				}
			}
		}
	})
}
