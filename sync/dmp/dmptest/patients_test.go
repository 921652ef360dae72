package dmptest

import (
	"reflect"
	"testing"

	"github.com/carnetdesk/carnet/app"
)

func TestPatientsDeterministicAndValid(t *testing.T) {
	a, b := Patients(1, 200), Patients(1, 200)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same seed, different patients")
	}
	if reflect.DeepEqual(a, Patients(2, 200)) {
		t.Fatal("different seeds, same patients")
	}
	statuses := map[app.IdentityStatus]int{}
	namesakes := 0
	seenINS := map[string]bool{}
	for i, p := range a {
		if _, err := app.ParseINS(p.INS.Matricule, p.INS.OID); err != nil {
			t.Fatalf("patient %d: invalid INS: %v", i, err)
		}
		if p.INS.OID != app.OIDINSNIRTest {
			t.Fatalf("patient %d: OID %s, want the test OID", i, p.INS.OID)
		}
		if seenINS[p.INS.Matricule] {
			t.Fatalf("patient %d: duplicate INS", i)
		}
		seenINS[p.INS.Matricule] = true
		statuses[p.Status]++
		if i > 0 && p.BirthName == a[i-1].BirthName && p.BirthDate == a[i-1].BirthDate && p.BirthGivenNames == a[i-1].BirthGivenNames {
			namesakes++
		}
	}
	if statuses[app.IdentityQualified] < 100 || len(statuses) < 3 {
		t.Errorf("statuses %v: want mostly QUAL and a mix", statuses)
	}
	if namesakes == 0 {
		t.Error("no namesakes")
	}
}
