package dmptest

import (
	"fmt"
	"strconv"

	"github.com/carnetdesk/carnet/app"
)

// Practitioner is one of the sandbox's practitioners: who they are, and
// what the sandbox wrote for them (their PKCS#12 file and its PIN) when it
// has a data dir.
type Practitioner struct {
	app.Practitioner
	Key     string // short name: "generaliste", "anesthesiste", "bloque", "regulateur", "opticien", "infirmiere"
	PIN     string // PIN of the PKCS#12 file
	P12Path string // written by Main into the data dir; "" in memory
}

// The keys of the fixed practitioners.
const (
	KeyGP          = "generaliste"  // médecin généraliste, médecin traitant of most patients, authorised by them
	KeyAnesthetist = "anesthesiste" // anesthésiste-réanimateur, authorised by every other patient
	KeyBlocked     = "bloque"       // médecin authorised everywhere but blocked by every third patient
	KeyRegulator   = "regulateur"   // SAMU regulation doctor (role regulation), no authorisation
	KeyNurse       = "infirmiere"   // infirmière, authorised by some patients
	KeyOptician    = "opticien"     // opticien-lunetier: a profession without DMP access
)

// rppsWithKey returns "8" + 10 digits + a Luhn check digit, the form of the
// national identifier of a practitioner (RPPS).
func rppsWithKey(body string) string {
	sum := 0
	for i := len(body) - 1; i >= 0; i-- {
		d := int(body[i] - '0')
		if (len(body)-1-i)%2 == 0 { // doubled from the right, as the key will follow
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return "8" + body + strconv.Itoa((10-sum%10)%10)
}

// Practitioners returns the sandbox's practitioners, the same for every
// seed (their RPPS ids are stable so that test scripts can name them).
func Practitioners() []Practitioner {
	mk := func(key, body, name, prof, profDisp, spec, structID, structName string, roles ...string) Practitioner {
		return Practitioner{Key: key, Practitioner: app.Practitioner{
			RPPS:       rppsWithKey(body),
			Name:       name,
			Profession: app.Code{Code: prof, System: "1.2.250.1.213.1.1.4.5", Display: profDisp},
			Specialty:  app.Code{Code: spec},
			Structure:  app.Structure{ID: structID, Name: structName},
			Roles:      roles,
		}}
	}
	return []Practitioner{
		mk(KeyGP, "1000000001", "Dr Hélène Lefèvre", "10", "Médecin", "SM26", "3"+"40000000000010", "Cabinet médical du Parc"),
		mk(KeyAnesthetist, "1000000002", "Dr Benoît Saint-Just", "10", "Médecin", "SM02", "1"+"750000001", "Clinique Sainte-Geneviève"),
		mk(KeyBlocked, "1000000003", "Dr Jérôme Le Hénaff", "10", "Médecin", "SM26", "3"+"40000000000028", "Cabinet du Port"),
		mk(KeyRegulator, "1000000004", "Dr Aïssatou N'Diaye", "10", "Médecin", "SM54", "1"+"750000002", "SAMU 75 – Centre 15", app.RoleRegulation),
		mk(KeyNurse, "1000000005", "Maëlle Perrin", "60", "Infirmier", "", "1"+"750000001", "Clinique Sainte-Geneviève"),
		mk(KeyOptician, "1000000006", "Loïc Ménard", "28", "Opticien-lunetier", "", "3"+"40000000000036", "Optique Ménard"),
	}
}

// allowedProfessions are the TRE_G15 professions the sandbox lets consult
// and feed records: médecin, pharmacien, chirurgien-dentiste, sage-femme,
// infirmier, masseur-kinésithérapeute.
var allowedProfessions = map[string]bool{"10": true, "21": true, "40": true, "50": true, "60": true, "70": true}

// practitionerByKey returns the fixed practitioner with key.
func practitionerByKey(key string) Practitioner {
	for _, p := range Practitioners() {
		if p.Key == key {
			return p
		}
	}
	panic(fmt.Sprintf("dmptest: no practitioner %q", key))
}
