package app

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestOperatingListIdentityColumns: the identity traits and status a list
// may carry, French or English header, any column order, CSV or
// iCalendar; unreadable values are left empty, never guessed.
func TestOperatingListIdentityColumns(t *testing.T) {
	a, b := validINS(t, "1840375123456"), validINS(t, "2920175111222")
	full := ListedIdentity{Status: IdentityQualified, BirthName: "Le Hénaff-D'Œuvre", BirthGivenNames: "Anne Marie",
		BirthDate: "1984-03-15", Sex: SexFemale, BirthPlace: "2A020"}
	cases := []struct {
		name, file, text string
		want             ListedIdentity
		oid              string
		date             string // the intervention's day
	}{
		{"french header", "x.csv", "Date;INS;Nom de naissance;Prénoms de naissance;Date de naissance;Sexe;Lieu de naissance;Statut;OID\n" +
			"15/03/2027 08:30;" + a + ";Le Hénaff-D'Œuvre;Anne Marie;15/03/1984;F;2a020;QUAL;" + OIDINSNIRTest + "\n", full, OIDINSNIRTest, "2027-03-15"},
		{"english header, other order, comma", "x.csv", "status,birth place,sex,birth date,birth given names,birth name,ins,date\n" +
			"qual,2A020,female,1984-03-15,Anne  Marie,Le Hénaff-D'Œuvre," + a + ",2027-03-15\n", full, "", "2027-03-15"},
		{"a birth date after 2000 is not the intervention's", "x.csv", "date de naissance;ins;date\n2005-01-02;" + a + ";2027-03-15\n",
			ListedIdentity{BirthDate: "2005-01-02"}, "", "2027-03-15"},
		{"legacy HL7 v2 VALI means qualified", "x.csv", "ins;date;statut HL7\n" + a + ";2027-03-15;VALI\n", ListedIdentity{Status: IdentityQualified}, "", "2027-03-15"},
		{"plain VALI is validated", "x.csv", "ins;date;statut\n" + a + ";2027-03-15;VALI\n", ListedIdentity{Status: IdentityValidated}, "", "2027-03-15"},
		{"french status words", "x.csv", "ins;date;statut\n" + a + ";2027-03-15;Provisoire\n", ListedIdentity{Status: IdentityProvisional}, "", "2027-03-15"},
		{"hostile values left empty", "x.csv", "ins;date;nom de naissance;prénoms;ddn;sexe;lieu de naissance;statut;oid\n" +
			a + ";2027-03-15;DUPONT1;<script>;1984-13-40;X;2A0201;QUALIFIED;1.2.3\n", ListedIdentity{}, "", "2027-03-15"},
		{"missing trailing columns", "x.csv", "ins;date;nom de naissance;sexe\n" + a + ";2027-03-15\n", ListedIdentity{}, "", "2027-03-15"},
		{"over-long name", "x.csv", "ins;date;nom de naissance\n" + a + ";2027-03-15;" + strings.Repeat("A", 101) + "\n", ListedIdentity{}, "", "2027-03-15"},
		{"ics X- properties", "l.ics", "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:20270315T083000Z\r\nX-INS:" + a + "\r\nX-INS-OID:" + OIDINSNIRTest +
			"\r\nX-NOM-NAISSANCE:Le Hénaff-D'Œuvre\r\nX-PRENOMS-NAISSANCE:Anne Marie\r\nX-DATE-NAISSANCE:19840315\r\nX-SEXE:F\r\nX-LIEU-NAISSANCE:2A020\r\nX-STATUT:QUAL\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
			full, OIDINSNIRTest, "2027-03-15"},
		{"ics english X- properties", "l.ics", "BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART;VALUE=DATE:20270315\nSUMMARY:Bloc " + a + "\nX-BIRTH-NAME:Le Hénaff-D'Œuvre\nX-BIRTH-GIVEN-NAMES:Anne Marie\nX-BIRTH-DATE:1984-03-15\nX-SEX:F\nX-BIRTH-PLACE:2A020\nX-IDENTITY-STATUS:QUAL\nEND:VEVENT\nEND:VCALENDAR\n",
			full, "", "2027-03-15"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseOperatingList(strings.NewReader(c.text), c.file)
			if err != nil || len(got) != 1 {
				t.Fatalf("%+v %v", got, err)
			}
			if got[0].Identity != c.want || got[0].OID != c.oid || got[0].Matricule != a || got[0].Date.Format("2006-01-02") != c.date {
				t.Fatalf("got %+v, want identity %+v oid %q date %s", got[0], c.want, c.oid, c.date)
			}
		})
	}
	// The README's example.
	got, err := ParseOperatingList(strings.NewReader("Date;INS;Nom de naissance;Prénoms de naissance;Date de naissance;Sexe;Lieu de naissance;Statut\n"+
		"15/03/2027 08:30;184037512345690;DUPONT;JEAN PIERRE;15/03/1984;M;75056;QUAL\n"), "bloc.csv")
	if err != nil || len(got) != 1 || got[0].Identity.lookupable() != "" || got[0].Identity.BirthGivenNames != "JEAN PIERRE" {
		t.Fatalf("README example: %+v %v", got, err)
	}
	// Rows without a header keep the old reading: any column, no identity.
	got, err = ParseOperatingList(strings.NewReader(b+";2027-03-15;QUAL;F\n"), "x.csv")
	if err != nil || len(got) != 1 || got[0].Identity != (ListedIdentity{}) {
		t.Fatalf("%+v %v", got, err)
	}
}

// TestApplyOperatingListIdentity: known INS whose listed traits disagree
// are not scheduled; unknown INS go to the lookup only with a qualified,
// complete identity, once per INS; every other entry has its reason.
func TestApplyOperatingListIdentity(t *testing.T) {
	ins := func(body string) string { return validINS(t, body) }
	known, prov, incomplete, fresh, twice, clash := ins("1840375123456"), ins("2920175111222"), ins("1850175111333"),
		ins("2900175111444"), ins("1910175111555"), ins("2930175111666")
	now := time.Date(2027, 3, 13, 18, 0, 0, 0, time.UTC)
	local := Patient{ID: "p1", INS: INS{Matricule: known, OID: OIDINSNIRTest}, Status: IdentityQualified,
		BirthName: "DUPONT", BirthGivenNames: "JEAN PIERRE", BirthDate: "1984-03-15", Sex: SexMale}
	qual := ListedIdentity{Status: IdentityQualified, BirthName: "Martin", BirthGivenNames: "Léa", BirthDate: "1990-01-02", Sex: SexFemale, BirthPlace: "75056"}
	other := qual
	other.BirthDate = "1990-01-03"
	day := now.Add(14 * time.Hour)
	list := []Scheduled{
		{Matricule: known, Date: day, Line: 2, Identity: ListedIdentity{BirthName: "Dupont", BirthGivenNames: "Jean-Pierre"}}, // agrees (folded, first given name)
		{Matricule: known, Date: day, Line: 3, Identity: ListedIdentity{BirthDate: "1984-03-16"}},                             // disagrees
		{Matricule: prov, Date: day, Line: 4, Identity: ListedIdentity{Status: IdentityProvisional, BirthName: "X", BirthGivenNames: "Y", BirthDate: "1990-01-02", Sex: SexMale, BirthPlace: "75056"}},
		{Matricule: incomplete, Date: day, Line: 5, Identity: ListedIdentity{Status: IdentityQualified, BirthName: "X", BirthDate: "1990-01-02", Sex: SexMale, BirthPlace: "75056"}},
		{Matricule: fresh, Date: day, Line: 6, Identity: qual, OID: OIDINSNIRTest},
		{Matricule: twice, Date: day.Add(time.Hour), Line: 7, Identity: qual},
		{Matricule: twice, Date: day, Line: 8, Identity: qual},
		{Matricule: clash, Date: day, Line: 9, Identity: qual},
		{Matricule: clash, Date: day, Line: 10, Identity: other},
		{Matricule: fresh, Date: now.Add(-72 * time.Hour), Line: 11, Identity: other}, // past: ignored
	}
	res := ApplyOperatingList([]Patient{local}, list, now)
	if len(res.Scheduled) != 1 || res.Scheduled[0].ID != "p1" {
		t.Fatalf("scheduled %+v", res.Scheduled)
	}
	reasons := map[int]OperatingListReason{}
	for _, s := range res.ToIdentify {
		reasons[s.Line] = s.Reason
	}
	want := map[int]OperatingListReason{3: ListTraitsDisagree, 4: ListNotQualified, 5: ListTraitsIncomplete, 9: ListTraitsDisagree, 10: ListTraitsDisagree}
	if len(reasons) != len(want) {
		t.Fatalf("to identify %+v", res.ToIdentify)
	}
	for l, r := range want {
		if reasons[l] != r {
			t.Errorf("line %d: reason %q, want %q", l, reasons[l], r)
		}
	}
	if len(res.Lookup) != 2 || res.Lookup[0].Matricule != fresh || res.Lookup[1].Matricule != twice || !res.Lookup[1].Date.Equal(day) {
		t.Fatalf("lookup %+v", res.Lookup)
	}
	p := ListedPatient(res.Lookup[0])
	if p.ID != "" || p.Status != IdentityQualified || p.INS != (INS{Matricule: fresh, OID: OIDINSNIRTest}) || p.BirthName != "MARTIN" ||
		p.BirthGivenNames != "LÉA" || p.BirthDate != "1990-01-02" || p.Sex != SexFemale || p.BirthPlace != "75056" || !p.Scheduled.Equal(day) {
		t.Fatalf("listed patient %+v", p)
	}
	if q := ListedPatient(Scheduled{Matricule: "7" + fresh[1:]}); q.INS.OID != OIDINSNIA {
		t.Fatalf("a matricule starting with 7 is an INS-NIA: %+v", q.INS)
	}
	if ListedPatient(res.Lookup[1]).INS.OID != OIDINSNIR {
		t.Fatal("no OID in the list: INS-NIR")
	}
}

// TestOperatingListUnsureRows: the rows a review showed could add a
// patient are judged as a whole — a second row of an unknown INS that is
// incomplete but gives another identity makes both disagree; two status
// columns that disagree make the row not qualified; an INS read from free
// text or from a property other than X-INS never adds a patient (it may
// still schedule one the vault knows).
func TestOperatingListUnsureRows(t *testing.T) {
	ins := func(body string) string { return validINS(t, body) }
	a, b, c := ins("2900175111444"), ins("1910175111555"), ins("2930175111666")
	now := time.Date(2027, 3, 13, 18, 0, 0, 0, time.UTC)
	day := now.Add(14 * time.Hour)
	qual := ListedIdentity{Status: IdentityQualified, BirthName: "Dupont", BirthGivenNames: "Marie", BirthDate: "1990-01-02", Sex: SexFemale, BirthPlace: "75056"}
	other := ListedIdentity{Status: IdentityQualified, BirthName: "Martin", BirthGivenNames: "Jeanne", BirthDate: "1990-01-02", Sex: SexFemale}
	res := ApplyOperatingList(nil, []Scheduled{
		{Matricule: a, Date: day, Line: 2, Identity: qual},
		{Matricule: a, Date: day, Line: 3, Identity: other}, // incomplete, and another person
	}, now)
	if len(res.Lookup) != 0 || len(res.ToIdentify) != 2 || res.ToIdentify[0].Reason != ListTraitsDisagree || res.ToIdentify[1].Reason != ListTraitsDisagree {
		t.Fatalf("two identities for one INS: lookup %+v, to identify %+v", res.Lookup, res.ToIdentify)
	}

	csv := "ins;date;nom de naissance;prénoms;date de naissance;sexe;lieu de naissance;statut;statut HL7\n" +
		b + ";2027-03-14;Dupont;Marie;02/01/1990;F;75056;PROV;VALI\n"
	list, err := ParseOperatingList(strings.NewReader(csv), "liste.csv")
	if err != nil || len(list) != 1 {
		t.Fatalf("parse: %v %+v", err, list)
	}
	if res := ApplyOperatingList(nil, list, now); len(res.Lookup) != 0 || len(res.ToIdentify) != 1 || res.ToIdentify[0].Reason != ListNotQualified {
		t.Fatalf("PROV and legacy VALI in one row: %+v", res)
	}

	for _, prop := range []string{"X-MOTHER-INS:" + c, "DESCRIPTION:INS " + c, "X-INS:" + c + "\r\nX-INS:" + a} {
		ics := "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:20270314T080000Z\r\n" + prop + "\r\n" +
			"X-NOM-NAISSANCE:Dupont\r\nX-PRENOMS:Marie\r\nX-DATE-NAISSANCE:1990-01-02\r\nX-SEXE:F\r\nX-LIEU-NAISSANCE:75056\r\nX-STATUT:QUAL\r\n" +
			"END:VEVENT\r\nEND:VCALENDAR\r\n"
		list, err := ParseOperatingList(strings.NewReader(ics), "liste.ics")
		if err != nil || len(list) != 1 {
			t.Fatalf("%s: parse: %v %+v", prop, err, list)
		}
		if res := ApplyOperatingList(nil, list, now); len(res.Lookup) != 0 || len(res.ToIdentify) != 1 || res.ToIdentify[0].Reason != ListINSUnsure {
			t.Fatalf("%s: %+v", prop, res)
		}
		known := Patient{ID: "p1", INS: INS{Matricule: list[0].Matricule}, Status: IdentityQualified, BirthName: "DUPONT", BirthGivenNames: "MARIE", BirthDate: "1990-01-02", Sex: SexFemale}
		if res := ApplyOperatingList([]Patient{known}, list, now); len(res.Scheduled) != 1 {
			t.Fatalf("%s: a known patient is still scheduled: %+v", prop, res)
		}
	}
	// The control: X-INS alone adds.
	ics := "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:20270314T080000Z\r\nX-INS:" + c + "\r\n" +
		"X-NOM-NAISSANCE:Dupont\r\nX-PRENOMS:Marie\r\nX-DATE-NAISSANCE:1990-01-02\r\nX-SEXE:F\r\nX-LIEU-NAISSANCE:75056\r\nX-STATUT:QUAL\r\n" +
		"END:VEVENT\r\nEND:VCALENDAR\r\n"
	list, err = ParseOperatingList(strings.NewReader(ics), "liste.ics")
	if err != nil || len(list) != 1 {
		t.Fatalf("parse: %v %+v", err, list)
	}
	if res := ApplyOperatingList(nil, list, now); len(res.Lookup) != 1 {
		t.Fatalf("X-INS with a qualified identity is looked up: %+v", res)
	}
}

// stubRecords answers FindPatient and counts every call.
type stubRecords struct {
	RecordService
	calls int
}

func (s *stubRecords) FindPatient(context.Context, Access, INS) (RecordStatus, error) {
	s.calls++
	return RecordStatus{Exists: true}, nil
}

func (s *stubRecords) ListDocuments(context.Context, Access, INS, DocumentQuery, func([]RemoteDocument) error) error {
	s.calls++
	return nil
}

// TestGateListedIdentity: the identity gate lets a record lookup through
// for a qualified identity of the operating list carrying the INS asked
// about, and nothing else: not another INS, not a provisional identity,
// not a listing.
func TestGateListedIdentity(t *testing.T) {
	ctx := context.Background()
	rs := &stubRecords{}
	g := gatedRecords{RecordService: rs, byINS: func(context.Context, INS) ([]Patient, error) { return nil, nil }}
	ins := INS{Matricule: validINS(t, "1840375123456"), OID: OIDINSNIRTest}
	acc := Access{Mode: AccessNormal}
	listed := Patient{INS: ins, Status: IdentityQualified}
	if _, err := g.FindPatient(WithListedIdentity(ctx, listed), acc, ins); err != nil || rs.calls != 1 {
		t.Fatalf("listed qualified identity: %v, %d calls", err, rs.calls)
	}
	prov := listed
	prov.Status = IdentityProvisional
	other := INS{Matricule: validINS(t, "2920175111222"), OID: OIDINSNIRTest}
	for name, call := range map[string]func() error{
		"unlisted":    func() error { _, err := g.FindPatient(ctx, acc, ins); return err },
		"provisional": func() error { _, err := g.FindPatient(WithListedIdentity(ctx, prov), acc, ins); return err },
		"other INS":   func() error { _, err := g.FindPatient(WithListedIdentity(ctx, listed), acc, other); return err },
		"other OID": func() error {
			_, err := g.FindPatient(WithListedIdentity(ctx, listed), acc, INS{Matricule: ins.Matricule, OID: OIDINSNIR})
			return err
		},
		"listing": func() error {
			return g.ListDocuments(WithListedIdentity(ctx, listed), acc, ins, DocumentQuery{}, func([]RemoteDocument) error { return nil })
		},
	} {
		if err := call(); Denial(err) != DeniedNotQualified {
			t.Errorf("%s: %v", name, err)
		}
	}
	if rs.calls != 1 {
		t.Fatalf("%d calls reached the service", rs.calls)
	}
}
