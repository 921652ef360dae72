package app_test

import (
	"testing"

	"github.com/carnetdesk/carnet/app"
)

// matricule returns a valid 15-character matricule for a 13-digit body.
func matricule(t testing.TB, body string) string {
	t.Helper()
	k, err := app.INSKey(body)
	if err != nil {
		t.Fatal(err)
	}
	return body + k
}

func qualified(t testing.TB) app.Patient {
	return app.Patient{
		ID: "p-elodie", INS: app.INS{Matricule: matricule(t, "2800175123456"), OID: app.OIDINSNIR},
		Status: app.IdentityQualified, BirthName: "DUPONT", BirthGivenNames: "ÉLODIE MARIE",
		BirthDate: "1980-01-01", Sex: app.SexFemale, BirthPlace: "75112",
	}
}

func identityOf(p app.Patient) app.ReportIdentity {
	return app.ReportIdentity{
		INS: p.INS, XDMPatient: p.INS, HasXDM: true,
		BirthName: p.BirthName, GivenNames: p.BirthGivenNames, BirthDate: p.BirthDate,
		Sex: p.Sex, BirthPlace: p.BirthPlace,
	}
}

func TestMatchPatientAuto(t *testing.T) {
	p := qualified(t)
	other := app.Patient{ID: "p-other", INS: app.INS{Matricule: matricule(t, "1790275123457"), OID: app.OIDINSNIR}, Status: app.IdentityQualified, BirthName: "MARTIN", BirthGivenNames: "PAUL", BirthDate: "1979-02-02", Sex: app.SexMale}
	res := app.MatchPatient(identityOf(p), []app.Patient{other, p}, false)
	if !res.Auto() || res.Patient != p.ID || res.Reason.Code() != 0 {
		t.Fatalf("got %+v, want auto to %s", res, p.ID)
	}
	// A bare CDA (no XDM) with the same identity files too.
	id := identityOf(p)
	id.HasXDM, id.XDMPatient = false, app.INS{}
	if res := app.MatchPatient(id, []app.Patient{p}, false); !res.Auto() {
		t.Fatalf("bare CDA: %+v", res)
	}
	// Birth place absent from the report: not compared.
	id.BirthPlace = ""
	if res := app.MatchPatient(id, []app.Patient{p}, false); !res.Auto() {
		t.Fatalf("no birth place: %+v", res)
	}
	// INS-NIA is a production domain.
	nia := p
	nia.INS.OID = app.OIDINSNIA
	if res := app.MatchPatient(identityOf(nia), []app.Patient{nia}, false); !res.Auto() {
		t.Fatalf("INS-NIA: %+v", res)
	}
}

func TestMatchPatientEverySingleTraitDiffers(t *testing.T) {
	p := qualified(t)
	cases := []struct {
		name  string
		mod   func(*app.ReportIdentity)
		trait string
		fold  bool // equal once folded
	}{
		{"birth name", func(id *app.ReportIdentity) { id.BirthName = "DURAND" }, "birth-name", false},
		{"birth name case", func(id *app.ReportIdentity) { id.BirthName = "Dupont" }, "birth-name", true},
		{"birth name hyphen", func(id *app.ReportIdentity) { id.BirthName = "DU-PONT" }, "birth-name", false},
		{"birth name accent", func(id *app.ReportIdentity) { id.BirthName = "DÛPONT" }, "birth-name", true},
		{"given name", func(id *app.ReportIdentity) { id.GivenNames = "MARIE ÉLODIE" }, "given-name", false},
		{"given name accent", func(id *app.ReportIdentity) { id.GivenNames = "ELODIE MARIE" }, "given-name", true},
		{"given name case", func(id *app.ReportIdentity) { id.GivenNames = "Élodie Marie" }, "given-name", true},
		{"birth date", func(id *app.ReportIdentity) { id.BirthDate = "1980-01-02" }, "birth-date", false},
		{"sex", func(id *app.ReportIdentity) { id.Sex = app.SexMale }, "sex", false},
		{"birth place", func(id *app.ReportIdentity) { id.BirthPlace = "75113" }, "birth-place", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id := identityOf(p)
			tc.mod(&id)
			res := app.MatchPatient(id, []app.Patient{p}, false)
			if res.Auto() || res.Reason != app.ReasonTraitsDiffer || res.Reason.Code() != 904 {
				t.Fatalf("got %+v, want manual 904", res)
			}
			if len(res.Differs) != 1 || res.Differs[0] != tc.trait || res.OnlyFolded != tc.fold {
				t.Fatalf("differs %v folded %v, want [%s] %v", res.Differs, res.OnlyFolded, tc.trait, tc.fold)
			}
			if len(res.Candidates) == 0 || res.Candidates[0].Patient != p.ID || res.Candidates[0].Kind != app.CandidateSameINS {
				t.Fatalf("candidates %+v", res.Candidates)
			}
		})
	}
}

func TestMatchPatientManual(t *testing.T) {
	p := qualified(t)
	notQual := p
	notQual.ID, notQual.Status = "p-recup", app.IdentityRecovered
	twin := p
	twin.ID = "p-twin"
	namesake := app.Patient{ID: "p-namesake", BirthName: "Dupont", BirthGivenNames: "Élodie", BirthDate: "1980-01-01", Sex: app.SexFemale, Status: app.IdentityProvisional}
	otherINS := app.INS{Matricule: matricule(t, "2800175999999"), OID: app.OIDINSNIR}
	testINS := app.INS{Matricule: p.INS.Matricule, OID: app.OIDINSNIRTest}
	demoINS := app.INS{Matricule: p.INS.Matricule, OID: app.OIDINSNIRDemo}
	corsicaA := matricule(t, "28001"+"2A"+"123456")
	cases := []struct {
		name     string
		mod      func(*app.ReportIdentity)
		patients []app.Patient
		demo     bool
		reason   app.MatchReason
		code     int
		cand     app.PatientID
	}{
		{"no INS", func(id *app.ReportIdentity) { id.INS, id.XDMPatient, id.HasXDM = app.INS{}, app.INS{}, false }, []app.Patient{p, namesake}, false, app.ReasonNoINS, 903, p.ID},
		{"bad key", func(id *app.ReportIdentity) { id.INS.Matricule = p.INS.Matricule[:13] + "00" }, []app.Patient{p}, false, app.ReasonInvalidINS, 905, p.ID},
		{"short matricule", func(id *app.ReportIdentity) { id.INS.Matricule = "28001" }, []app.Patient{p}, false, app.ReasonInvalidINS, 905, p.ID},
		{"unknown OID", func(id *app.ReportIdentity) { id.INS.OID = "1.2.250.1.213.1.4.2" }, []app.Patient{p}, false, app.ReasonInvalidINS, 905, p.ID},
		{"test OID outside demo", func(id *app.ReportIdentity) { id.INS, id.XDMPatient = testINS, testINS }, []app.Patient{p}, false, app.ReasonTestINS, 905, p.ID},
		{"demo OID outside demo", func(id *app.ReportIdentity) { id.INS, id.XDMPatient = demoINS, demoINS }, []app.Patient{p}, false, app.ReasonTestINS, 905, p.ID},
		{"test OID in demo, no such local INS", func(id *app.ReportIdentity) { id.INS, id.XDMPatient = testINS, testINS }, []app.Patient{p}, true, app.ReasonUnknownPatient, 902, p.ID},
		{"missing birth name", func(id *app.ReportIdentity) { id.BirthName = "" }, []app.Patient{p}, false, app.ReasonIncomplete, 905, p.ID},
		{"missing given", func(id *app.ReportIdentity) { id.GivenNames = " " }, []app.Patient{p}, false, app.ReasonIncomplete, 905, p.ID},
		{"partial birth date", func(id *app.ReportIdentity) { id.BirthDate = "1980-01" }, []app.Patient{p}, false, app.ReasonIncomplete, 905, p.ID},
		{"unknown sex", func(id *app.ReportIdentity) { id.Sex = app.SexUnknown }, []app.Patient{p}, false, app.ReasonIncomplete, 905, p.ID},
		{"XDM patient id differs", func(id *app.ReportIdentity) { id.XDMPatient = otherINS }, []app.Patient{p}, false, app.ReasonXDMDisagrees, 904, p.ID},
		{"XDM patient id OID differs", func(id *app.ReportIdentity) { id.XDMPatient.OID = app.OIDINSNIA }, []app.Patient{p}, false, app.ReasonXDMDisagrees, 904, p.ID},
		{"XDM without patient id", func(id *app.ReportIdentity) { id.XDMPatient = app.INS{} }, []app.Patient{p}, false, app.ReasonXDMDisagrees, 904, p.ID},
		{"unknown patient, namesake proposed", func(id *app.ReportIdentity) { id.INS, id.XDMPatient = otherINS, otherINS }, []app.Patient{namesake}, false, app.ReasonUnknownPatient, 902, namesake.ID},
		{"not qualified", nil, []app.Patient{notQual}, false, app.ReasonNotQualified, 902, notQual.ID},
		{"two local identities", nil, []app.Patient{p, twin}, false, app.ReasonDuplicateLocal, 904, p.ID},
		{"corsica 2A unknown", func(id *app.ReportIdentity) {
			id.INS = app.INS{Matricule: corsicaA, OID: app.OIDINSNIR}
			id.XDMPatient = id.INS
		}, []app.Patient{p}, false, app.ReasonUnknownPatient, 902, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id := identityOf(p)
			if tc.mod != nil {
				tc.mod(&id)
			}
			res := app.MatchPatient(id, tc.patients, tc.demo)
			if res.Auto() || res.Patient != "" {
				t.Fatalf("filed automatically: %+v", res)
			}
			if res.Reason != tc.reason || res.Reason.Code() != tc.code {
				t.Fatalf("reason %s (%d), want %s (%d)", res.Reason, res.Reason.Code(), tc.reason, tc.code)
			}
			if res.Reason.Text() == "" || res.Reason.Text() == string(res.Reason) {
				t.Errorf("reason %s has no text", res.Reason)
			}
			if tc.cand != "" && (len(res.Candidates) == 0 || res.Candidates[0].Patient != tc.cand) {
				t.Fatalf("candidates %+v, want %s first", res.Candidates, tc.cand)
			}
		})
	}
}

func TestMatchPatientCorsicaAndDemo(t *testing.T) {
	p := qualified(t)
	p.INS = app.INS{Matricule: matricule(t, "28001"+"2B"+"123456"), OID: app.OIDINSNIR}
	if res := app.MatchPatient(identityOf(p), []app.Patient{p}, false); !res.Auto() {
		t.Fatalf("Corsica 2B: %+v", res)
	}
	p.INS.OID = app.OIDINSNIRTest
	if res := app.MatchPatient(identityOf(p), []app.Patient{p}, true); !res.Auto() {
		t.Fatalf("test OID in demo mode: %+v", res)
	}
}
