package cda

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/cda/cdacheck"
)

// vsmSchematron is the ANS rule set of the volet the synthesis writer
// follows.
const vsmSchematron = "CI-SIS_VSM_2023.01.sch"

func testSynthesis(n int) Synthesis {
	d := func(y, m, dd int) time.Time { return time.Date(y, time.Month(m), dd, 0, 0, 0, 0, cet) }
	src := "2.25.1234567890123456789"
	s := Synthesis{
		Patient: testPatient(),
		Author:  testGP(),
		Date:    testStart,
		Problems: []SynthesisItem{
			{Text: "Accident ischémique cérébral transitoire", Code: app.Code{Code: "G45.9", System: "2.16.840.1.113883.6.3", Display: "Accident ischémique cérébral transitoire, sans précision"},
				Start: d(2019, 8, 11), StartPrecision: app.PrecisionDay, Source: "VSM du 11/08/2019", SourceID: app.DocumentID(src)},
			{Text: `Douleurs "atypiques" <thoraciques> & fatigue`, Start: d(2024, 1, 1), StartPrecision: app.PrecisionYear},
		},
		History: []SynthesisItem{
			{Text: "Infarctus du myocarde", Code: app.Code{Code: "I21.1", System: "2.16.840.1.113883.6.3", Display: "Infarctus transmural aigu du myocarde, de la paroi inférieure"},
				Start: d(2015, 3, 1), StartPrecision: app.PrecisionMonth, End: d(2015, 4, 1), EndPrecision: app.PrecisionMonth, Source: "CR d'hospitalisation", SourceID: app.DocumentID(src)},
		},
		Allergies: []SynthesisItem{
			{Text: "Paracétamol", Code: app.Code{Code: "60234100", System: app.SystemCIS, Display: "PARACETAMOL"},
				Kind: app.Code{Code: "416098002", System: "2.16.840.1.113883.6.96", Display: "allergie médicamenteuse"}, Detail: "Urticaire", Start: d(2018, 6, 3), StartPrecision: app.PrecisionDay},
			{Text: "Pollen de bouleau"},
		},
		RiskFactors:  []SynthesisItem{{Text: "Tabagisme actif, 20 paquets-années"}},
		Treatments:   testLines(3),
		Vaccinations: []MedicationLine{{Name: "VACCIN TETANIQUE PASTEUR", ATC: app.Code{Code: "J07AM01", Display: "ANATOXINE TETANIQUE"}, Start: d(2019, 7, 11), Source: "Historique des remboursements"}},
		Devices:      []SynthesisItem{{Text: "Stimulateur cardiaque double chambre", Start: d(2021, 5, 4), StartPrecision: app.PrecisionDay}},
		Vigilance:    "Anticoagulé : risque hémorragique.\n\nAllergie au paracétamol.",
		Comment:      "Synthèse établie à partir du dossier.",
	}
	for i := 0; len(s.Problems) < n; i++ {
		s.Problems = append(s.Problems, s.Problems[i%2])
	}
	return s
}

// TestWriteSynthesisConformsVSM writes a synthesis with every list filled
// and one with every list empty: both pass the VSM 2023.01 schematron and
// the common profiles with 0 failed assertions.
func TestWriteSynthesisConformsVSM(t *testing.T) {
	empty := Synthesis{Patient: testPatient(), Author: testGP(), Date: testStart}
	for name, s := range map[string]Synthesis{"full": testSynthesis(2), "empty": empty} {
		t.Run(name, func(t *testing.T) {
			doc, err := WriteSynthesis(s, testOpts(1))
			if err != nil {
				t.Fatal(err)
			}
			if p := os.Getenv("VSM_OUT"); p != "" {
				_ = os.WriteFile(p+"."+name, doc, 0o600)
			}
			cdacheck.Check(t, doc, vsmSchematron)
			cdacheck.Check(t, doc)
		})
	}
}

// TestWriteSynthesisRoundTrip reads the written synthesis back with
// Carnet's own reader: the same problems, allergies, treatments,
// vaccinations and devices, with their codes, and a narrative that names
// each of them.
func TestWriteSynthesisRoundTrip(t *testing.T) {
	s := testSynthesis(2)
	content, err := WriteSynthesis(s, testOpts(3))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := ParseBytes(content, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if doc.Type.Code != "SYNTH" || doc.Type.System != OIDDocumentTypeA05 {
		t.Errorf("type %+v", doc.Type)
	}
	if len(doc.Problems) != len(s.Problems)+len(s.History) {
		t.Fatalf("%d problems read, want %d: %+v", len(doc.Problems), len(s.Problems)+len(s.History), doc.Problems)
	}
	for i, want := range append(append([]SynthesisItem{}, s.Problems...), s.History...) {
		got := doc.Problems[i]
		if got.Text != want.Text || got.Code.Code != want.Code.Code || got.Code.System != want.Code.System || got.Negated ||
			!sameDate(got.Start, want.Start, want.StartPrecision) || !sameDate(got.End, want.End, want.EndPrecision) {
			t.Errorf("problem %d read back as %+v, want %+v", i, got, want)
		}
		if want.StartPrecision != app.PrecisionNone && got.StartPrecision != want.StartPrecision {
			t.Errorf("problem %d: precision %v, want %v", i, got.StartPrecision, want.StartPrecision)
		}
	}
	if len(doc.Allergies) != len(s.Allergies) {
		t.Fatalf("allergies read back: %+v", doc.Allergies)
	}
	for i, want := range s.Allergies {
		got := doc.Allergies[i]
		if got.Text != want.Text || got.Agent.Code != want.Code.Code || got.Negated {
			t.Errorf("allergy %d read back as %+v, want %+v", i, got, want)
		}
	}
	var meds, vaccines []app.Medication
	for _, m := range doc.Medications {
		if m.Kind == app.MedicationAdminister {
			vaccines = append(vaccines, m)
		} else {
			meds = append(meds, m)
		}
	}
	if len(meds) != len(s.Treatments) || len(vaccines) != len(s.Vaccinations) {
		t.Fatalf("medications read back: %+v", doc.Medications)
	}
	for i, want := range s.Treatments {
		if got := meds[i]; got.Name != want.Name || got.Product.Code != want.Product.Code || got.ATC.Code != want.ATC.Code {
			t.Errorf("treatment %d read back as %+v, want %+v", i, got, want)
		}
	}
	if v := vaccines[0]; v.Name != s.Vaccinations[0].Name || v.ATC.Code != "J07AM01" || !sameDate(v.Start, s.Vaccinations[0].Start, app.PrecisionDay) {
		t.Errorf("vaccination read back as %+v", v)
	}
	if len(doc.Devices) != 1 || doc.Devices[0].Name != s.Devices[0].Text || !sameDate(doc.Devices[0].Date, s.Devices[0].Start, app.PrecisionDay) {
		t.Errorf("devices read back: %+v", doc.Devices)
	}
	// The narrative holds every line (the tables are written from the same
	// lines as the entries) and the sources.
	text := string(content)
	for _, want := range []string{"Accident ischémique cérébral transitoire", "Douleurs &#34;atypiques&#34; &lt;thoraciques&gt; &amp; fatigue",
		"Pollen de bouleau", "Urticaire", "VACCIN TETANIQUE PASTEUR", "Stimulateur cardiaque double chambre",
		"Tabagisme actif", "VSM du 11/08/2019", "Anticoagulé : risque hémorragique.", `<externalDocument classCode="DOC" moodCode="EVN">`} {
		if !strings.Contains(text, want) {
			t.Errorf("the document lacks %q", want)
		}
	}
}

// sameDate compares two dates at the precision written.
func sameDate(got, want time.Time, p app.DatePrecision) bool {
	if got.IsZero() || want.IsZero() {
		return got.IsZero() == want.IsZero()
	}
	return app.FormatDate(got, orDay(p)) == app.FormatDate(want, orDay(p))
}

// hostileText is 10,000 characters of free text with every C0 control
// character, markup and a right-to-left override.
func hostileText() string {
	var b strings.Builder
	for i := 0; b.Len() < 9000; i++ {
		b.WriteString("Ligne « ")
		b.WriteByte(byte(i % 32))
		b.WriteString(` » <script>&amp;"'` + "\u202e\n\n")
	}
	r := []rune(b.String())
	for len(r) < 10000 {
		r = append(r, 'é')
	}
	return string(r[:10000])
}

// TestWriteSynthesisHostile: hostile drafting input gives a conformant
// document or a clear error wrapping app.ErrInvalid, never a document the
// ANS rules refuse nor one Carnet cannot read back.
func TestWriteSynthesisHostile(t *testing.T) {
	ok := func(s Synthesis) Synthesis { return s }
	base := func() Synthesis { return testSynthesis(2) }
	conformant := map[string]Synthesis{
		"10000-char free texts with control characters": func() Synthesis {
			s := base()
			s.Vigilance, s.Comment = hostileText(), hostileText()
			s.Problems[1].Text = "Texte \x00\x01\x1f\x7f avec contrôles\u2028 et <balises>"
			return s
		}(),
		"medications without code": func() Synthesis {
			s := base()
			s.Treatments = []MedicationLine{{Name: "Préparation magistrale \x02 sans code"}, {Name: "Homéopathie", Dose: "3 granules"}}
			s.Vaccinations = []MedicationLine{{Name: "Vaccin \x03 non codé"}}
			return s
		}(),
		"uncoded items": ok(Synthesis{Patient: testPatient(), Author: testGP(), Date: testStart,
			Problems:  []SynthesisItem{{Text: "x"}},
			Allergies: []SynthesisItem{{Text: "y", Kind: app.Code{Code: "ABC", System: "1.2.3"}}}, // a type outside the value set: the general one
			Devices:   []SynthesisItem{{Text: "z"}}}),
	}
	for name, s := range conformant {
		t.Run(name, func(t *testing.T) {
			doc, err := WriteSynthesis(s, testOpts(5))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := ParseBytes(doc, Options{}); err != nil {
				t.Fatalf("Carnet cannot read it back: %v", err)
			}
			cdacheck.Check(t, doc, vsmSchematron)
			cdacheck.Check(t, doc)
		})
	}
	refused := map[string]func(*Synthesis){
		"free text over the bound":  func(s *Synthesis) { s.Comment = strings.Repeat("a", MaxSynthesisText+1) },
		"free text not UTF-8":       func(s *Synthesis) { s.Vigilance = "a\xffb" },
		"item without text":         func(s *Synthesis) { s.Problems[0].Text = " \n" },
		"item text not UTF-8":       func(s *Synthesis) { s.Allergies[0].Text = "\xc3" },
		"malformed code":            func(s *Synthesis) { s.Problems[0].Code.Code = "G45 <9>" },
		"malformed code system":     func(s *Synthesis) { s.Problems[0].Code.System = "CIM10" },
		"malformed source id":       func(s *Synthesis) { s.History[0].SourceID = "not an oid" },
		"ends before it starts":     func(s *Synthesis) { s.History[0].End = s.History[0].Start.AddDate(-1, 0, 0) },
		"medication without name":   func(s *Synthesis) { s.Treatments[0].Name = "" },
		"medication with a bad CIP": func(s *Synthesis) { s.Treatments[1].Product.Code = "12" },
		"too many lines":            func(s *Synthesis) { s.Devices = make([]SynthesisItem, MaxSynthesisItems+1) },
		"medication name not UTF-8": func(s *Synthesis) { s.Vaccinations[0].Name = "\xff" },
		"patient not qualified":     func(s *Synthesis) { s.Patient.Status = app.IdentityValidated },
		"no date":                   func(s *Synthesis) { s.Date = time.Time{} },
		"title over the bound":      func(s *Synthesis) { s.Title = strings.Repeat("é", MaxSynthesisText+1) },
	}
	for name, mutate := range refused {
		t.Run(name, func(t *testing.T) {
			s := base()
			mutate(&s)
			doc, err := WriteSynthesis(s, testOpts(5))
			if err == nil || !errors.Is(err, app.ErrInvalid) || doc != nil {
				t.Fatalf("got %d bytes, err %v; want a clear ErrInvalid", len(doc), err)
			}
			if strings.Contains(err.Error(), "atypiques") || strings.Contains(err.Error(), "HÔPITAL") {
				t.Errorf("the error quotes patient data: %v", err)
			}
		})
	}
}

// TestWriterSynthesisDropsBadCodes: the app adapter keeps a line whose code
// the CDA rules refuse, as text, rather than failing the synthesis.
func TestWriterSynthesisDropsBadCodes(t *testing.T) {
	w := Writer{FacilityType: app.Code{Code: "SA07", System: OIDFacilityType, Display: "Cabinet individuel"}, AllowTestINS: true}
	author := app.Practitioner{RPPS: "801984758437", Name: "Dr Stéphane MÉDIONI", Structure: app.Structure{ID: "312345678901234", Name: "Cabinet"}}
	d := app.SynthesisDraft{
		Problems:   []app.SynthesisLine{{Text: "HTA", Code: app.Code{Code: "I10 <x>", System: "CIM10"}, Source: app.MedicationSource{Document: "not-an-oid", Title: "CR"}}},
		Treatments: []app.Medication{{Name: "PRODUIT X", Product: app.Code{Code: "1234567", System: app.SystemCNAMCIP}}},
	}
	doc, err := w.WriteSynthesis(testPatient(), author, d, nil, testStart)
	if err != nil {
		t.Fatal(err)
	}
	if doc.Meta.TypeCode != "SYNTH" || doc.Meta.ClassCode != app.ClassSynthesis {
		t.Errorf("meta %+v", doc.Meta)
	}
	cd, err := ParseBytes(doc.Content, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if ps := app.PresentProblems(cd.Problems); len(ps) != 1 || ps[0].Text != "HTA" || !ps[0].Code.IsZero() {
		t.Errorf("problems %+v", ps)
	}
	if len(cd.Medications) != 1 || cd.Medications[0].Name != "PRODUIT X" || !cd.Medications[0].Product.IsZero() {
		t.Errorf("medications %+v", cd.Medications)
	}
}

// FuzzWriteSynthesis writes syntheses of arbitrary texts: the writer
// either refuses with ErrInvalid or writes a document Carnet reads back
// with the same number of problems.
func FuzzWriteSynthesis(f *testing.F) {
	f.Add("Hypertension", "Paracétamol", "Points", "I10")
	f.Add("\x00<&>\"'", "\xff", "\u202e", "")
	f.Add(strings.Repeat("a", 300), "]]>", "<!-- -->", "A00.0")
	f.Fuzz(func(t *testing.T, problem, allergy, free, code string) {
		s := Synthesis{Patient: testPatient(), Author: testGP(), Date: testStart, Vigilance: free, Comment: free,
			Problems:   []SynthesisItem{{Text: problem, Code: app.Code{Code: code, System: "2.16.840.1.113883.6.3"}}},
			Allergies:  []SynthesisItem{{Text: allergy, Detail: free}},
			Treatments: []MedicationLine{{Name: allergy}},
		}
		doc, err := WriteSynthesis(s, testOpts(9))
		if err != nil {
			if !errors.Is(err, app.ErrInvalid) {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		cd, err := ParseBytes(doc, Options{})
		if err != nil {
			t.Fatalf("written document not readable: %v", err)
		}
		if ps := app.PresentProblems(cd.Problems); len(ps) != 1 {
			t.Fatalf("%d problems read back", len(ps))
		}
	})
}
