package app

import (
	"strings"
	"testing"
	"time"
)

// validINS builds a matricule with its control key.
func validINS(t testing.TB, body string) string {
	k, err := INSKey(body)
	if err != nil {
		t.Fatal(err)
	}
	return body + k
}

func TestParseOperatingList(t *testing.T) {
	a, b := validINS(t, "1840375123456"), validINS(t, "2920175111222")
	bad := a[:13] + "00"
	cases := []struct {
		name, file, text string
		want             []string // matricules, in date order
		err              bool
	}{
		{"csv semicolon with header", "bloc.csv", "INS;Date;Nom\n" + a + ";15/03/2027 08:30;DUPONT\n" + b + ";14/03/2027;MARTIN\n", []string{b, a}, false},
		{"csv comma iso dates, crlf, bom", "x.csv", "\ufeffdate,ins\r\n2027-03-14," + a + "\r\n", []string{a}, false},
		{"csv quoted fields with separators", "x.csv", `"Dupont; Jean";"` + a + `";"2027-03-14 10:00"` + "\n", []string{a}, false},
		{"csv wrong control key skipped", "x.csv", bad + ";2027-03-14\n" + b + ";2027-03-15\n", []string{b}, false},
		{"csv absurd year skipped", "x.csv", a + ";1850-01-01\n", nil, false},
		{"csv spaced INS", "x.csv", strings.Join([]string{a[:1], a[1:3], a[3:5], a[5:7], a[7:10], a[10:13], a[13:]}, " ") + ";2027-03-14\n", []string{a}, false},
		{"ics x-ins and folded description", "list.ics", "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:20270314T083000Z\r\nX-INS:" + a + "\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20270313\r\nDESCRIPTION:Patient INS " + b[:7] + "\r\n " + b[7:] + "\\, salle 2\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n", []string{b, a}, false},
		{"ics sniffed without extension", "export", "BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART;TZID=Europe/Paris:20270314T083000\nSUMMARY:Bloc " + a + "\nEND:VEVENT\nEND:VCALENDAR\n", []string{a}, false},
		{"ics event without date skipped", "a.ics", "BEGIN:VCALENDAR\nBEGIN:VEVENT\nX-INS:" + a + "\nEND:VEVENT\nEND:VCALENDAR\n", nil, false},
		{"ics INS inside a longer number ignored", "a.ics", "BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART:20270314\nSUMMARY:9" + a + "9\nEND:VEVENT\nEND:VCALENDAR\n", nil, false},
		{"ics nesting bomb", "a.ics", strings.Repeat("BEGIN:VCALENDAR\n", 20), nil, true},
		{"too long line", "x.csv", strings.Repeat("x", maxOperatingLine+1), nil, true},
		{"binary garbage", "x.csv", "\x00\xff\xfe" + strings.Repeat("\x01;", 100), nil, false},
		{"empty", "x.csv", "", nil, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseOperatingList(strings.NewReader(c.text), c.file)
			if (err != nil) != c.err {
				t.Fatalf("err = %v", err)
			}
			if err != nil {
				if strings.Contains(err.Error(), a) {
					t.Fatal("the error repeats the input")
				}
				return
			}
			if len(got) != len(c.want) {
				t.Fatalf("got %+v, want %v", got, c.want)
			}
			for i := range got {
				if got[i].Matricule != c.want[i] || got[i].Line == 0 || got[i].Date.IsZero() {
					t.Fatalf("entry %d = %+v, want %s", i, got[i], c.want[i])
				}
			}
		})
	}
	big := strings.Repeat(a+";2027-03-14\n", MaxOperatingListBytes/len(a+";2027-03-14\n")+2)
	if _, err := ParseOperatingList(strings.NewReader(big), "x.csv"); err == nil {
		t.Fatal("a file over the size bound was read")
	}
}

func TestApplyOperatingListAndWatch(t *testing.T) {
	a, b := validINS(t, "1840375123456"), validINS(t, "2920175111222")
	now := time.Date(2027, 3, 13, 18, 0, 0, 0, time.UTC)
	ps := []Patient{{ID: "p1", INS: INS{Matricule: a, OID: OIDINSNIRTest}}}
	list := []Scheduled{{Matricule: a, Date: now.Add(14 * time.Hour), Line: 2}, {Matricule: b, Date: now.Add(14 * time.Hour), Line: 3},
		{Matricule: a, Date: now.Add(-72 * time.Hour), Line: 4}}
	res := ApplyOperatingList(ps, list, now)
	if len(res.Scheduled) != 1 || !res.Scheduled[0].Scheduled.Equal(now.Add(14*time.Hour)) || len(res.ToIdentify) != 1 || res.ToIdentify[0].Line != 3 {
		t.Fatalf("%+v", res)
	}
	p := res.Scheduled[0]
	if !Watched(p, now, 30, 48*time.Hour) || Watched(p, now.Add(5*24*time.Hour), 30, 48*time.Hour) {
		t.Fatal("a scheduled patient is watched ahead of its date until the day after")
	}
	if RetentionDue(Patient{LastAccess: now.Add(-40 * 24 * time.Hour), Scheduled: now.Add(time.Hour)}, 30, now) {
		t.Fatal("a patient with an intervention to come was due for retention")
	}
	if !RetentionDue(Patient{LastAccess: now.Add(-40 * 24 * time.Hour)}, 30, now) || RetentionDue(Patient{LastAccess: now.Add(-40 * 24 * time.Hour), Pinned: true}, 30, now) {
		t.Fatal("retention rule")
	}
	if RevalidationDue(Patient{}, 7, now) || !RevalidationDue(Patient{Revalidated: now.Add(-8 * 24 * time.Hour)}, 7, now) {
		t.Fatal("re-validation rule")
	}
}

func FuzzOperatingList(f *testing.F) {
	f.Add([]byte("INS;Date\n184037512345697;15/03/2027 08:30\n"), false)
	f.Add([]byte("BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART:20270314T083000Z\nX-INS:184037512345697\nEND:VEVENT\nEND:VCALENDAR\n"), true)
	f.Add([]byte("Date;INS;Nom de naissance;Prénoms;DDN;Sexe;Lieu de naissance;Statut;OID\n15/03/2027;184037512345690;Dupont;Jean Pierre;15/03/1984;M;2A020;QUAL;1.2.250.1.213.1.4.10\n"), false)
	f.Add([]byte("status hl7,ins,date,sex\nVALI,184037512345690,2027-03-15,F\n"), false)
	f.Add([]byte("BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART:20270314\nX-INS:184037512345690\nX-NOM-NAISSANCE:Dupont\nX-SEXE:M\nX-STATUT:QUAL\nEND:VEVENT\nEND:VCALENDAR\n"), true)
	f.Fuzz(func(t *testing.T, data []byte, ics bool) {
		name := "list.csv"
		if ics {
			name = "list.ics"
		}
		got, err := ParseOperatingList(strings.NewReader(string(data)), name)
		if err != nil {
			return
		}
		if len(got) > MaxOperatingListEntries {
			t.Fatalf("%d entries", len(got))
		}
		for _, s := range got {
			if !validMatricule(s.Matricule) || s.Date.Year() < 2000 || s.Date.Year() > 2100 || s.Line <= 0 {
				t.Fatalf("bad entry %+v", s)
			}
			id := s.Identity
			switch {
			case id.BirthDate != "" && (len(id.BirthDate) != 10 || id.BirthDate[4] != '-' || !isDigits(id.BirthDate[:4]+id.BirthDate[5:7]+id.BirthDate[8:])),
				id.Sex != "" && id.Sex != SexFemale && id.Sex != SexMale && id.Sex != SexUnknown,
				id.Status != "" && id.Status != IdentityQualified && id.Status != IdentityValidated && id.Status != IdentityRecovered && id.Status != IdentityProvisional,
				id.BirthPlace != "" && (len(id.BirthPlace) != 5 || !isAlnum(id.BirthPlace)),
				id.BirthName != "" && listName(id.BirthName) != id.BirthName,
				id.BirthGivenNames != "" && listName(id.BirthGivenNames) != id.BirthGivenNames,
				s.OID != "" && s.OID != OIDINSNIR && s.OID != OIDINSNIA && s.OID != OIDINSNIRTest && s.OID != OIDINSNIRDemo:
				t.Fatalf("bad identity %+v", s)
			}
		}
		// Applying what was read never schedules a disagreeing identity
		// nor looks up one that is not qualified and complete.
		res := ApplyOperatingList(nil, got, time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC))
		for _, l := range res.Lookup {
			if l.Identity.lookupable() != "" {
				t.Fatalf("lookup of %+v", l)
			}
		}
		if len(res.Scheduled) != 0 {
			t.Fatal("an empty directory scheduled a patient")
		}
	})
}
