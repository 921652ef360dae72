package cda

import (
	"math/rand/v2"
	"time"

	"github.com/carnetdesk/carnet/app"
)

// Fixtures of the writer tests: a qualified patient whose names hold XML
// metacharacters and accents, an anesthesiologist, a general practitioner.

var (
	cet         = time.FixedZone("CET", 3600)
	testCreated = time.Date(2026, 11, 26, 10, 30, 0, 0, cet)
	testStart   = time.Date(2026, 11, 26, 9, 45, 0, 0, cet)
)

// testRand returns a fixed random stream, so documents are reproducible.
func testRand(seed byte) *rand.ChaCha8 {
	var s [32]byte
	s[0] = seed
	return rand.NewChaCha8(s)
}

func testPatient() app.Patient {
	return app.Patient{
		ID:              "p1",
		INS:             app.INS{Matricule: "279035121518989", OID: app.OIDINSNIRTest},
		Status:          app.IdentityQualified,
		BirthName:       `L'HÔPITAL-DUPRÉ <&"'>`,
		BirthGivenNames: "Zoé Anaïs Françoise",
		UsedName:        "MARTIN & FILS",
		UsedGivenName:   "Zoé",
		BirthDate:       "1979-03-28",
		Sex:             app.SexFemale,
		BirthPlace:      "51215",
	}
}

func testAnesthesiologist() Practitioner {
	return Practitioner{
		RPPS: "01234567897", Prefix: "M", Suffix: "DR", Given: "Pierre", Family: "LEGRIS",
		Profession: app.Code{Code: "G15_10/SM02", System: OIDProfession, Display: "Médecin - Anesthésie-réanimation (SM)"},
		Structure: Structure{
			FINESS: "750803447", Name: "Hôpital Européen <Georges> Pompidou & Cie",
			FacilityType:    app.Code{Code: "SA01", System: OIDFacilityType, Display: "Etablissement public de santé"},
			PracticeSetting: app.Code{Code: "ETABLISSEMENT", System: OIDPracticeSetting, Display: "Etablissement de santé"},
		},
	}
}

func testGP() Practitioner {
	return Practitioner{
		RPPS: "01984758437", Given: "Stéphane", Family: "MÉDIONI",
		Profession: app.Code{Code: "G15_10/SM26", System: OIDProfession, Display: "Médecin - Qualifié en Médecine Générale (SM)"},
		Structure: Structure{
			SIRET: "12345678901234", Name: "Cabinet du Dr Médioni",
			FacilityType: app.Code{Code: "SA07", System: OIDFacilityType, Display: "Cabinet individuel"},
		},
	}
}

func testNote(level Level) Note {
	return Note{
		Patient: testPatient(),
		Author:  testGP(),
		Title:   `Consultation du 26/11 — "suivi" <HTA> & diabète`,
		Start:   testStart,
		Level:   level,
		Sections: []NoteSection{
			{Title: "Motif", Code: app.Code{Code: "29299-5", System: app.SystemLOINC, Display: "Motif de consultation"},
				Text: Paragraphs("Suivi tension artérielle ; patiente « très » fatiguée.\nTA 14/9 — pouls ≥ 80/min.")},
			{Title: "Conclusion & conduite à tenir", Text: Paragraphs(
				`Poursuivre le traitement. Contrôle dans 3 mois. Œdème des chevilles : <surveiller> & "noter".`,
				"Deuxième paragraphe, avec des accents : é è ê à ç ù ï ô.")},
		},
	}
}

func testLines(n int) []MedicationLine {
	base := []MedicationLine{
		{Name: "SOLIAN 100 mg, comprimé sécable", Product: app.Code{Code: "60019927", System: app.SystemCIS},
			CIP13: "3400933516390", ATC: app.Code{Code: "N05AL05", Display: "amisulpride"}, Substance: "amisulpride",
			DoseValue: "1", DoseUnit: "{comprimé}", PeriodValue: "1", PeriodUnit: "d",
			Route: app.Code{Code: "20053000", Display: "Voie orale"}, Start: time.Date(2020, 3, 20, 0, 0, 0, 0, cet),
			Instruction: "Traitement à suspendre pendant l'hospitalisation", Source: "VSM du 11/08/2026"},
		{Name: "ELIQUIS 5 mg, comprimé pelliculé", Product: app.Code{Code: "3400941783411", System: app.SystemCIP13},
			ATC: app.Code{Code: "B01AF02", Display: "apixaban"}, DoseValue: "5", DoseUnit: "mg", PeriodValue: "12", PeriodUnit: "h",
			Route: app.Code{Code: "20053000", Display: "Voie orale"}, Start: time.Date(2025, 1, 2, 0, 0, 0, 0, cet),
			End: time.Date(2026, 12, 1, 0, 0, 0, 0, cet), Instruction: `Arrêt 48 h avant l'intervention (risque "hémorragique" <élevé>)`,
			Source: "Historique des remboursements du 02/11/2026"},
		{Name: `Tisane "maison" <millepertuis> & ginkgo`, Declared: true, Dose: "1 tasse", Frequency: "le soir",
			Instruction: "Arrêter 5 jours avant"},
	}
	var out []MedicationLine
	for i := 0; i < n; i++ {
		out = append(out, base[i%len(base)])
	}
	return out
}

func testPreAnesthesia(nLines int) PreAnesthesia {
	return PreAnesthesia{
		Patient:          testPatient(),
		Anesthesiologist: testAnesthesiologist(),
		Start:            testStart,
		Encounter:        app.Code{Code: "EXTERNE", System: "1.2.250.1.213.1.1.4.2.291", Display: "Acte et consultation externe (établissement)"},
		Sections: []NoteSection{{Title: "Conclusion", Code: app.Code{Code: "55110-1", System: app.SystemLOINC, Display: "Conclusions"},
			Text: Paragraphs("ASA 2. Intubation prévisible facile (Mallampati 1).")}},
		Medications: testLines(nLines),
	}
}
