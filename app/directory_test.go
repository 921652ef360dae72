package app

import (
	"fmt"
	"testing"
)

func TestFold(t *testing.T) {
	tests := map[string]string{
		"Hélène":            "helene",
		"LE HÉNAFF-D'ŒUVRE": "le henaff d oeuvre",
		"Ærøskøbing":        "aeroskobing",
		"Straße":            "strasse",
		"Çà et là":          "ca et la",
		"e\u0301lodie":      "elodie", // decomposed é
		"N’Diaye":           "n diaye",
		"":                  "",
	}
	for in, want := range tests {
		if got := Fold(in); got != want {
			t.Errorf("Fold(%q) = %q, want %q", in, got, want)
		}
	}
}

func samplePatients() []Patient {
	return []Patient{
		{ID: "1", BirthName: "Martin", BirthGivenNames: "Hélène Marie", BirthDate: "1952-03-14", INS: INS{Matricule: "252037512345678"}},
		{ID: "2", BirthName: "Le Hénaff", BirthGivenNames: "Jean-Pierre", BirthDate: "1948-11-02", INS: INS{Matricule: "148112912345601"}},
		{ID: "3", BirthName: "Martinez", UsedName: "Dupont", BirthGivenNames: "Inès", BirthDate: "1990-07-21"},
		{ID: "4", BirthName: "N'Diaye", BirthGivenNames: "Aïssatou", BirthDate: "2001-01-05"},
		{ID: "5", BirthName: "Martin", BirthGivenNames: "Hélène", BirthDate: "1960-01-01"},
	}
}

func TestDirectorySearch(t *testing.T) {
	d := NewDirectory(samplePatients())
	tests := []struct {
		q    string
		want []PatientID
	}{
		{"", nil},
		{"   ", nil},
		{"mart", []PatientID{"3", "1", "5"}}, // DUPONT Inès (Martinez), MARTIN Hélène ×2 by birth date
		{"MARTIN hel", []PatientID{"1", "5"}},
		{"helene", []PatientID{"1", "5"}},
		{"hénaff", []PatientID{"2"}},
		{"henaff jean", []PatientID{"2"}},
		{"pierre", []PatientID{"2"}},
		{"dupont", []PatientID{"3"}},
		{"aiss", []PatientID{"4"}},
		{"diaye", []PatientID{"4"}},
		{"2520375", []PatientID{"1"}},
		{"1481", []PatientID{"2"}},
		{"zzz", nil},
		{"elene", nil}, // prefix, not substring
	}
	for _, tc := range tests {
		got := d.Search(tc.q, 0)
		if fmt.Sprint(ids(got)) != fmt.Sprint(tc.want) {
			t.Errorf("Search(%q) = %v, want %v", tc.q, ids(got), tc.want)
		}
	}
	if got := d.Search("mart", 2); len(got) != 2 {
		t.Errorf("limit 2 gave %d", len(got))
	}
}

func TestDirectoryPutRemove(t *testing.T) {
	d := NewDirectory(samplePatients())
	d.Put(Patient{ID: "1", BirthName: "Bernard", BirthGivenNames: "Hélène"})
	if got := ids(d.Search("martin", 0)); fmt.Sprint(got) != "[3 5]" {
		t.Fatalf("after rename: %v", got)
	}
	d.Remove("2")
	d.Remove("absent")
	if d.Len() != 4 {
		t.Fatalf("Len = %d", d.Len())
	}
	if _, ok := d.Get("2"); ok {
		t.Fatal("removed patient still there")
	}
	if p, ok := d.Get("4"); !ok || p.BirthName != "N'Diaye" {
		t.Fatal("Get after Remove lost another patient")
	}
	if all := d.All(); len(all) != 4 || all[0].ID != "1" {
		t.Fatalf("All = %v", ids(all))
	}
}

func ids(ps []Patient) []PatientID {
	var out []PatientID
	for _, p := range ps {
		out = append(out, p.ID)
	}
	return out
}

func BenchmarkDirectorySearchInMemory(b *testing.B) {
	ps := make([]Patient, 10000)
	names := []string{"Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau"}
	for i := range ps {
		ps[i] = Patient{ID: PatientID(fmt.Sprint(i)), BirthName: names[i%10] + fmt.Sprint(i), BirthGivenNames: "Hélène", INS: INS{Matricule: fmt.Sprintf("%015d", i)}}
	}
	d := NewDirectory(ps)
	for b.Loop() {
		d.Search("mar", 50)
	}
}
