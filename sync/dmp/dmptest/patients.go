package dmptest

import (
	"fmt"
	"math/rand/v2"

	"github.com/carnetdesk/carnet/app"
)

// French birth names, with the accents, particles, hyphens and apostrophes
// that civil registers hold.
var birthNames = []string{
	"Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau",
	"Simon", "Laurent", "Lefèvre", "Michel", "Garcia", "David", "Bertrand", "Roux", "Vincent", "Fournier",
	"Morel", "Girard", "André", "Lefebvre", "Mercier", "Dupont", "Lambert", "Bonnet", "François", "Martinez",
	"Le Hénaff", "Le Gall", "N'Diaye", "Benoît", "Chevalier", "Gauthier", "Perrin", "Clément", "Müller", "Nguyen",
	"De La Fontaine", "Saint-Just", "Boyer-Lefèvre", "Hébert", "Périer", "Da Silva", "Rousseau", "Lemaître", "Ménard", "Œttinger",
}

var givenNamesF = []string{
	"Hélène", "Marie", "Élodie", "Inès", "Chloé", "Léa", "Zoé", "Anaïs", "Françoise", "Geneviève",
	"Aïssatou", "Maëlle", "Noémie", "Josiane", "Thérèse", "Agnès", "Cécile", "Béatrice", "Jeanne", "Océane",
}

var givenNamesM = []string{
	"Jean", "Pierre", "Jean-Pierre", "François", "Benoît", "Jérôme", "Loïc", "Gaël", "Noël", "Hervé",
	"André", "René", "Mathéo", "Théo", "Raphaël", "Mamadou", "Émile", "Joël", "Rémi", "Stéphane",
}

// INSEE department codes used for birth places (Corsica included).
var departments = []string{"75", "69", "13", "33", "59", "29", "2A", "2B", "67", "31", "44", "35", "06", "971"}

// Patients returns n synthetic patients, the same for the same seed: valid
// INS on the test OID (correct NIR keys), French names with accents, hyphens
// and compound names, some pairs with the same name and birth date, and a
// mix of identity statuses (mostly QUAL). IDs are "p0001"…
func Patients(seed uint64, n int) []app.Patient {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	out := make([]app.Patient, 0, n)
	for i := 0; i < n; i++ {
		var p app.Patient
		if i > 0 && i%25 == 0 {
			// a namesake: same name, same birth date, another person
			p = out[i-1]
			p.INS = app.INS{}
		} else {
			p = randomIdentity(r)
		}
		p.ID = app.PatientID(fmt.Sprintf("p%04d", i+1))
		p.INS = syntheticINS(r, p)
		switch k := r.IntN(20); {
		case k < 15:
			p.Status = app.IdentityQualified
		case k < 17:
			p.Status = app.IdentityValidated
		case k < 19:
			p.Status = app.IdentityRecovered
		default:
			p.Status = app.IdentityProvisional
		}
		out = append(out, p)
	}
	return out
}

func randomIdentity(r *rand.Rand) app.Patient {
	p := app.Patient{BirthName: birthNames[r.IntN(len(birthNames))]}
	given := givenNamesM
	p.Sex = app.SexMale
	if r.IntN(2) == 0 {
		given, p.Sex = givenNamesF, app.SexFemale
	}
	p.BirthGivenNames = given[r.IntN(len(given))]
	if r.IntN(3) == 0 {
		p.BirthGivenNames += " " + given[r.IntN(len(given))]
	}
	if p.Sex == app.SexFemale && r.IntN(4) == 0 {
		p.UsedName = birthNames[r.IntN(len(birthNames))]
	}
	year := 1930 + r.IntN(90)
	p.BirthDate = fmt.Sprintf("%04d-%02d-%02d", year, 1+r.IntN(12), 1+r.IntN(28))
	dep := departments[r.IntN(len(departments))]
	if len(dep) == 3 {
		p.BirthPlace = dep + fmt.Sprintf("%02d", 1+r.IntN(30))
	} else {
		p.BirthPlace = dep + fmt.Sprintf("%03d", 1+r.IntN(300))
	}
	return p
}

// syntheticINS builds a NIR from the traits (sex, year, month, birth place)
// with a random order number and its correct key, on the test OID.
func syntheticINS(r *rand.Rand, p app.Patient) app.INS {
	sex := "1"
	if p.Sex == app.SexFemale {
		sex = "2"
	}
	body := sex + p.BirthDate[2:4] + p.BirthDate[5:7] + p.BirthPlace + fmt.Sprintf("%03d", 1+r.IntN(999))
	key, err := app.INSKey(body)
	if err != nil {
		panic("dmptest: synthetic INS: " + err.Error())
	}
	return app.INS{Matricule: body + key, OID: app.OIDINSNIRTest}
}
