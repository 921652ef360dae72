package xds

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/sync/dmp"
	"github.com/carnetdesk/carnet/sync/dmp/dmptest"
)

// TestListWindowAgreesWithFHIR: the first opening lists the acts of the
// last two years. An act that began before the window and lasts into it —
// the Assurance Maladie's reimbursement history covers the last 24 months,
// so it begins just over two years ago — is in the record. XDS has no
// "or" between stored-query parameters, so the client asks for the acts
// that began since and those that stopped since; the answer must be the
// set FHIR's period=ge gives on the same sandbox store, and must hold a
// history that began before the window (the case this test guards).
func TestListWindowAgreesWithFHIR(t *testing.T) {
	e := newEnv(t, dmptest.KeyGP)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cred := e.sb.PKI.Credentials[e.key]
	fc, err := dmp.New(dmp.Config{BaseURL: e.sb.FHIRURL, Certificate: cred.TLS, Signer: cred.Signer, RootCAs: e.sb.PKI.Pool(),
		SoftwareName: "Carnet", SoftwareVersion: "test", Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer fc.Close()
	window := time.Now().Add(-app.FirstOpenWindow)
	q := app.DocumentQuery{ActSince: window}
	list := func(rs app.RecordService, ins app.INS) []string {
		var ids []string
		if err := rs.ListDocuments(ctx, e.acc, ins, q, func(page []app.RemoteDocument) error {
			for _, d := range page {
				ids = append(ids, string(d.Meta.ID))
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		sort.Strings(ids)
		return ids
	}
	living := 0
	seen := map[string]bool{}
	for range 3 {
		p, ok := e.sb.FindPatient(func(p app.Patient, exists, closed bool, authz, blocked map[string]bool) bool {
			return !seen[p.INS.Matricule] && p.Status == app.IdentityQualified && exists && !closed && authz[e.key] && !blocked[e.key]
		})
		if !ok {
			t.Fatal("not enough sandbox patients")
		}
		seen[p.INS.Matricule] = true
		x, f := list(e.client, p.INS), list(fc, p.INS)
		if len(x) == 0 || len(x) != len(f) {
			t.Fatalf("XDS lists %d documents in the window, FHIR %d", len(x), len(f))
		}
		for i := range x {
			if x[i] != f[i] {
				t.Fatalf("XDS and FHIR disagree on the window: %s vs %s", x[i], f[i])
			}
		}
		var entries []app.RemoteDocument
		if err := e.client.ListDocuments(ctx, e.acc, p.INS, q, func(page []app.RemoteDocument) error {
			entries = append(entries, page...)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		for _, d := range entries {
			if d.Meta.TypeCode == "REMB" && d.Meta.Date.Before(window) {
				living++
			}
		}
	}
	if living == 0 {
		t.Fatal("no reimbursement history began before the window: the case this test guards is absent")
	}
	e.checkSchemas(t)
}
