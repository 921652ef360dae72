package app_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/apptest"
)

// scanCountingStore counts the reads of the whole directory.
type scanCountingStore struct {
	*apptest.Store
	scans atomic.Int64
}

func (s *scanCountingStore) Patients(ctx context.Context) ([]app.Patient, error) {
	s.scans.Add(1)
	return s.Store.Patients(ctx)
}

// TestIdentityGateLooksUpByKey: the identity gate finds the patient of an
// INS by key; it never reads the whole directory, whatever the number of
// calls, and still decides as before (a second, provisional homonym of the
// same INS does not block the qualified one; an INS typed with spaces and
// lower case is the same INS).
func TestIdentityGateLooksUpByKey(t *testing.T) {
	ctx := context.Background()
	p := qualified(t)
	prov := p
	prov.ID, prov.Status = "p-prov", app.IdentityProvisional
	others := make([]app.Patient, 0, 200)
	for i := 0; i < 200; i++ {
		o := qualified(t)
		o.ID = app.PatientID("p-other-" + string(rune('a'+i%26)) + string(rune('a'+i/26)))
		o.INS = app.INS{}
		others = append(others, o)
	}
	store := &scanCountingStore{Store: apptest.NewLockedStore(svcPass, append([]app.Patient{p, prov}, others...)...)}
	svc := app.NewService(app.Deps{Store: store})
	if _, err := svc.Unlock(ctx, []byte(svcPass)); err != nil {
		t.Fatal(err)
	}
	rs := &apptest.Records{}
	pr := app.Practitioner{RPPS: "10000000001"}
	svc.SignIn(app.Session{Practitioner: pr, Records: rs})
	gated, _, _ := svc.Records()
	store.scans.Store(0)
	acc := app.Access{Practitioner: pr, Mode: app.AccessNormal}
	for i := 0; i < 50; i++ {
		if _, err := gated.FindPatient(ctx, acc, p.INS); err != nil {
			t.Fatalf("qualified INS refused: %v", err)
		}
	}
	typed := app.INS{Matricule: "  " + p.INS.Matricule + " ", OID: p.INS.OID}
	if _, err := gated.FindPatient(ctx, acc, typed); err != nil {
		t.Fatalf("the same INS with spaces refused: %v", err)
	}
	other := p.INS
	other.OID = app.OIDINSNIA
	if _, err := gated.FindPatient(ctx, acc, other); app.Denial(err) != app.DeniedNotQualified {
		t.Fatalf("another OID let through: %v", err)
	}
	if n := store.scans.Load(); n != 0 {
		t.Fatalf("the gate read the whole directory %d times", n)
	}
	if rs.Calls("FindPatient") != 51 {
		t.Fatalf("calls through the gate: %d", rs.Calls("FindPatient"))
	}
}
