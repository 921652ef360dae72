package ui

import (
	"fmt"
	"testing"

	"fyne.io/fyne/v2/test"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/apptest"
)

// BenchmarkSearchKeystroke measures one keystroke in the patient search,
// from the key to the results rendered (the window painted by the software
// painter), over 10,000 cached patients. Each iteration types one more
// letter of a name and then erases it, so every keystroke is a new search.
func BenchmarkSearchKeystroke(b *testing.B) {
	names := []string{"Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Lefèvre", "Moreau"}
	given := []string{"Hélène", "Jean", "Zoé", "Loïc", "Inès", "Gaël", "Anaïs", "Noël"}
	ps := make([]app.Patient, 10000)
	for i := range ps {
		ps[i] = app.Patient{
			ID:              app.PatientID(fmt.Sprintf("p%05d", i)),
			BirthName:       fmt.Sprintf("%s-%c%c", names[i%len(names)], 'a'+rune(i/26%26), 'a'+rune(i%26)),
			BirthGivenNames: given[i%len(given)],
			BirthDate:       fmt.Sprintf("%04d-%02d-%02d", 1930+i%80, 1+i%12, 1+i%28),
			Sex:             app.SexFemale,
			Status:          app.IdentityQualified,
		}
	}
	f := newFixture(b, apptest.NewLockedStore(testPassphrase, ps...), Options{})
	s := f.unlock()
	c := f.u.Window().Canvas()
	f.typeAndWait(s.search.query, "mar")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		test.Type(s.search.query, "t") // "mart": a new search over 10,000 patients
		f.wait()
		c.Capture()
		if len(s.search.results) == 0 {
			b.Fatal("no results")
		}
		b.StopTimer()
		s.search.query.SetText("mar")
		f.wait()
		b.StartTimer()
	}
}
