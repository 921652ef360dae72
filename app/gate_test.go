package app_test

import (
	"context"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/apptest"
)

// TestIdentityGate: with a session, every call about a patient whose
// identity is PROV, RECUP or VALI stops before the central service in
// normal access (the fake counts no call), and the record says why; bris
// de glace reaches it (but sends no document); QUAL reaches it always.
func TestIdentityGate(t *testing.T) {
	ctx := context.Background()
	for _, st := range []app.IdentityStatus{app.IdentityProvisional, app.IdentityRecovered, app.IdentityValidated, app.IdentityQualified} {
		t.Run(string(st), func(t *testing.T) {
			p := qualified(t)
			p.Status = st
			svc, _ := unlockedService(t, p)
			rs := &apptest.Records{}
			pr := app.Practitioner{RPPS: "10000000001"}
			svc.SignIn(app.Session{Practitioner: pr, Records: rs})
			rec, err := svc.OpenPatient(ctx, p.ID, app.AccessNormal, "")
			if err != nil {
				t.Fatal(err)
			}
			gated, _, _ := svc.Records()
			_, ferr := gated.FindPatient(ctx, app.Access{Practitioner: pr, Mode: app.AccessNormal}, p.INS)
			_, perr := gated.Provide(ctx, app.Access{Practitioner: pr, Mode: app.AccessEmergency, Justification: "urgence vitale"}, p.INS, nil)
			_, terr := gated.AccessTraces(ctx, app.Access{Practitioner: pr, Mode: app.AccessNormal}, p.INS, time.Time{})
			if st == app.IdentityQualified {
				if rec.NotQualified || rs.Calls("FindPatient") != 2 || ferr != nil || perr != nil || terr != nil {
					t.Fatalf("qualified: NotQualified=%v calls=%d %v %v %v", rec.NotQualified, rs.Calls("FindPatient"), ferr, perr, terr)
				}
				return
			}
			if !rec.NotQualified || rs.Calls("FindPatient")+rs.Calls("ListDocuments")+rs.Calls("Provide")+rs.Calls("AccessTraces") != 0 {
				t.Fatalf("NotQualified=%v, calls find %d list %d provide %d", rec.NotQualified, rs.Calls("FindPatient"), rs.Calls("ListDocuments"), rs.Calls("Provide"))
			}
			for _, err := range []error{ferr, perr, terr} {
				if app.Denial(err) != app.DeniedNotQualified {
					t.Fatalf("gate error %v", err)
				}
			}
			// Bris de glace, justified, is still possible.
			rec, err = svc.OpenPatient(ctx, p.ID, app.AccessEmergency, "urgence vitale, patient inconscient")
			if err != nil || rec.NotQualified || rs.Calls("FindPatient") != 1 {
				t.Fatalf("bris de glace: %v NotQualified=%v calls=%d", err, rec.NotQualified, rs.Calls("FindPatient"))
			}
		})
	}
	// An INS no local identity carries is refused too.
	svc, _ := unlockedService(t)
	rs := &apptest.Records{}
	svc.SignIn(app.Session{Practitioner: app.Practitioner{RPPS: "1"}, Records: rs})
	gated, _, _ := svc.Records()
	if _, err := gated.FindPatient(ctx, app.Access{Mode: app.AccessNormal}, qualified(t).INS); app.Denial(err) != app.DeniedNotQualified || rs.Calls("FindPatient") != 0 {
		t.Fatalf("unknown INS: %v", err)
	}
}
