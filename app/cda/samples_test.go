package cda

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
)

// The facts below were read by eye in the ANS samples
// (ansforge/TestContenuCDA-3-0 ExemplesCDA, copies in shared/samples/cda).
// All eight use the same fictitious patient, with the test INS-NIR OID.
var sampleFacts = []struct {
	file      string
	id        string
	typeCode  string
	typeSys   string
	title     string
	effective string // 20060102150405-0700
	author    string // first author's display name
	org       string
	version   int
	replaces  string
	service   string // service start, 20060102150405-0700, "" when absent
}{
	{"ANEST-CR-CPA_2022.01.xml", "1.2.250.1.213.1.1.1.41.2022.1.1", "34749-2", app.SystemLOINC,
		"CR de consultation pré-anesthésique", "20200317171100+0100", "Dr Pierre LEGRIS", "Hôpital Européen Georges Pompidou", 1, "", "20200317171100+0100"},
	{"BIO-CR-BIO_2024.01_TSH_1.xml", "1.2.250.1.213.1.1.1.55.2024.9.1", "11502-2", app.SystemLOINC,
		"Compte rendu d'examens biologiques", "20210401171000+0100", "Dr Marcel CAMPARINI", "Laboratoire des charmes", 1, "", "20210104092200+0100"},
	{"CNAM-HR_2021.01.xml", "1.2.250.1.213.1.1.1.36.2021.1.1", "REMB", "1.2.250.1.213.1.1.4.12",
		"Données de remboursement", "20190701164900+0100", "Assurance Maladie", "Assurance Maladie", 1, "", "20190101154500+0100"},
	{"DOC_NON_STRUCTURE_CDA-R2-N1.xml", "1.3.6.1.4.1.19376.1.2.20.12345.1.1", "11502-2", app.SystemLOINC,
		"Compte rendu d'examens biologiques", "20210401134745+0100", "Dr Marcel CAMPARINI", "Laboratoire des charmes", 1, "", "20210104134700+0100"},
	{"IMG_CR_IMG_2024.01.xml", "1.2.250.1.213.1.1.1.45.2024.1.1", "18748-4", app.SystemLOINC,
		"CR d’imagerie médicale - Scanner Tête + Cou + Thorax avec injection", "20210108111700+0100", "Dr Jacques BIDEAULT", "Centre de radiologie Ambroise", 2, "90E1C8EC-F951-4B26-A305-A34848818DD6", "20210108102500+0100"},
	{"LDL-SES_2022.01.xml", "1.2.250.1.213.1.1.1.29.2022.1.1", "11490-0", app.SystemLOINC,
		"Lettre de liaison à la sortie de l'établissement de santé", "20191203133000+0100", "Dr Charles DAVID", "Hôpital Européen Georges Pompidou", 1, "", "20191029111700+0100"},
	{"VSM_1.4_2022.01.xml", "1.2.250.1.213.1.1.1.13.2022.1.1", "SYNTH", "1.2.250.1.213.1.1.4.12",
		"Synthèse Médicale", "20200312111700+0100", "Dr Stéphane MEDIONI", "Centre de soins le Belvédère", 1, "", "20200312111700+0100"},
	{"eP-MED-DM_2024.01_PosoStruct.xml", "1.2.250.1.213.1.1.1.39.2024.2.1", "57833-6", app.SystemLOINC,
		"Prescription de médicaments et/ou de dispositifs médicaux", "20231201093000+0100", "Dr Romain PIOU", "Cabinet du DR Pierre JOLI", 1, "", "20231201091000+0100"},
}

const tsLayout = "20060102150405-0700"

func parseSample(t *testing.T, name string) *Document {
	t.Helper()
	d, err := ParseBytes(readSample(t, name), Options{})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return d
}

func TestSamplesHeader(t *testing.T) {
	for _, f := range sampleFacts {
		t.Run(f.file, func(t *testing.T) {
			d := parseSample(t, f.file)
			if string(d.ID) != f.id {
				t.Errorf("ID = %q, want %q", d.ID, f.id)
			}
			if d.Type.Code != f.typeCode || d.Type.System != f.typeSys {
				t.Errorf("Type = %+v, want %s in %s", d.Type, f.typeCode, f.typeSys)
			}
			if d.Title != f.title {
				t.Errorf("Title = %q, want %q", d.Title, f.title)
			}
			if got := d.Effective.Format(tsLayout); got != f.effective {
				t.Errorf("Effective = %s, want %s", got, f.effective)
			}
			if len(d.Authors) == 0 || d.Authors[0].Name() != f.author {
				t.Errorf("author = %v, want %q", d.Authors, f.author)
			} else if d.Authors[0].Organisation.Name != f.org {
				t.Errorf("organisation = %q, want %q", d.Authors[0].Organisation.Name, f.org)
			}
			if d.Version != f.version || string(d.Replaces) != f.replaces {
				t.Errorf("version %d replaces %q, want %d %q", d.Version, d.Replaces, f.version, f.replaces)
			}
			if got := d.ServiceStart.Format(tsLayout); f.service != "" && got != f.service {
				t.Errorf("ServiceStart = %s, want %s", got, f.service)
			}
			if d.Confidentiality.Code != "N" || d.Language != "fr-FR" {
				t.Errorf("confidentiality %q language %q", d.Confidentiality.Code, d.Language)
			}
			// The patient: same fictitious person in every sample, test INS-NIR.
			p := d.Patient
			if p.INS.Matricule != "279035121518989" || p.INS.OID != app.OIDINSNIRTest || p.INSStatus != INSTest {
				t.Errorf("INS = %+v %s", p.INS, p.INSStatus)
			}
			if len(p.LocalIDs) != 1 || p.LocalIDs[0] != (ID{Root: "1.2.3.4.567.8.9.10", Extension: "1234567890121"}) {
				t.Errorf("LocalIDs = %v", p.LocalIDs)
			}
			if p.BirthName != "PAT-TROIS" || p.GivenNames != "DOMINIQUE MARIE-LOUISE" || p.UsedGiven != "DOMINIQUE" ||
				p.Sex != app.SexFemale || p.BirthDate != "1979-03-28" || p.BirthPlace != "51215" {
				t.Errorf("patient traits = %+v", p)
			}
			for _, fl := range d.Flags {
				// eP-MED's illustrative image (observationMedia Code2dPDF) is
				// declared image/jpeg and its bytes are a PNG: a true mismatch.
				if f.file == "eP-MED-DM_2024.01_PosoStruct.xml" && fl == (Flag{Kind: FlagMediaMismatch, Detail: "observationMedia/value/@mediaType"}) {
					continue
				}
				t.Errorf("unexpected flag %+v", fl)
			}
			m := d.Meta()
			if m.ID != d.ID || m.TypeCode != f.typeCode || m.Title != f.title || m.Author != f.author {
				t.Errorf("Meta = %+v", m)
			}
		})
	}
}

func TestSampleProductionFlagsTestINS(t *testing.T) {
	d, err := ParseBytes(readSample(t, "VSM_1.4_2022.01.xml"), Options{Production: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Flags) != 1 || d.Flags[0].Kind != FlagTestINS {
		t.Fatalf("flags = %+v, want one test-ins", d.Flags)
	}
}

func TestSampleCNAMHR(t *testing.T) {
	d := parseSample(t, "CNAM-HR_2021.01.xml")
	a := d.Authors[0]
	if a.Person != nil || a.Device != "Assurance Maladie" || a.Role.Code != "ALIM_AM" {
		t.Errorf("author = %+v, want the Assurance Maladie device ALIM_AM", a)
	}
	if d.Facility.Code != "SA24" || d.ServiceEnd.Format(tsLayout) != "20190701154500+0100" {
		t.Errorf("facility %v service end %v", d.Facility, d.ServiceEnd)
	}
	day := func(s string) time.Time { t, _ := time.ParseInLocation("2006-01-02", s, time.Local); return t }
	// Every dispensing, from the entries (the narrative table of the sample
	// names another prescriber, "Dr Henri MARTIN", for the homeopathic line,
	// and "HARMACIE COMPAIN" is misspelt in two entries: the entries win).
	want := []struct {
		name, product, productSys, atc, atcSys, date, qty, prescriber, substance string
	}{
		{"LUDEAL CPR3/21", "3400935673220", app.SystemCNAMCIP, "G03", app.SystemCNAMATC3, "2019-05-26", "1", "Dr Antoine DUPONT (id 697121458706)", "ETHINYLESTRADIOL + LEVONORGESTREL"},
		{"CRESTOR 5MG CPR9/10", "3400939169002", app.SystemCNAMCIP, "C10", app.SystemCNAMATC3, "2019-03-11", "1", "Dr Laure MARIGNY (RPPS 10100997245)", "ROSUVASTATINE"},
		// written "PRODUIT HOMEOPATHIQUE" (a category): the coded UCD names it
		{"NUX VOMICA COMP BOIR GRL", "9064295", app.SystemCNAMUCD, "W99", app.SystemCNAMATC3, "2019-03-08", "4", "Dr Laure MARIGNY (RPPS 10100997245)", "NUX VOMICA"},
		// Vaccinations section: ATC level 5 in the CNAM "valence" system, no quantity.
		{"VACCIN TETANIQUE PASTEUR SUSP INJ1/.5", "3400932857241", app.SystemCNAMCIP, "J07AM01", app.SystemCNAMATC5, "2019-07-11", "", "Dr Laure MARIGNY (RPPS 10100997245)", ""},
		{"HBVAXPRO 10 MICROG/ML SUSP INJ SER1/1", "3400936924642", app.SystemCNAMCIP, "J07BC01", app.SystemCNAMATC5, "2019-07-08", "", "Dr Laure MARIGNY (RPPS 10100997245)", ""},
		{"VACCIN TETANIQUE PASTEUR SUSP INJ1/.5", "3400932857241", app.SystemCNAMCIP, "J07AM01", app.SystemCNAMATC5, "2019-06-26", "", "Dr Laure MARIGNY (RPPS 10100997245)", ""},
	}
	if len(d.Medications) != len(want) {
		t.Fatalf("%d medication lines, want %d", len(d.Medications), len(want))
	}
	for i, w := range want {
		m := d.Medications[i]
		if m.Kind != app.MedicationDispensed || m.Name != w.name || m.Product.Code != w.product || m.Product.System != w.productSys ||
			m.ATC.Code != w.atc || m.ATC.System != w.atcSys || !m.Dispensed.Equal(day(w.date)) || m.Quantity != w.qty ||
			m.Prescriber != w.prescriber || m.Substance != w.substance {
			t.Errorf("line %d = %+v\nwant %+v", i, m, w)
		}
		if wantConf := map[int]string{2: "PRODUIT HOMEOPATHIQUE"}[i]; m.Conflict != wantConf {
			t.Errorf("line %d conflict %q, want %q", i, m.Conflict, wantConf)
		}
		if m.Source.Document != d.ID || m.Source.TypeCode != "REMB" || m.Source.Author != "Assurance Maladie" || !m.Source.Date.Equal(d.Effective) {
			t.Errorf("line %d source = %+v", i, m.Source)
		}
	}
	// The narrative table of the medications section: header and three rows.
	meds := d.Body.Sections[1]
	if meds.Code.Code != "10160-0" || meds.Title != "Médicaments" {
		t.Fatalf("section 2 = %v %q", meds.Code, meds.Title)
	}
	tb := meds.Text.Blocks[0].Table
	if tb == nil || len(tb.Header) != 1 || len(tb.Body) != 3 {
		t.Fatalf("medications table = %+v", meds.Text.Blocks)
	}
	if h := tb.Header[0].Cells[0]; !h.Header || h.ColSpan != 2 || h.Text() != "Date de délivrance" {
		t.Errorf("first header cell = %+v", h)
	}
	rows := []string{
		"\t26/05/2019\tLUDEAL CPR3/21\tHORMONES SEXUELLES ET MODULATEURS DE LA FONCTION GENITALE\tLEVONORGESTREL ETHYNILESTRADIOL\tDr Antoine DUPONT\tNon communiqué\tCLINIQUE SAINTE GENEVIEVE\tCLINIQUE SAINTE GENEVIEVE\t1",
		"\t11/03/2019\tCRESTOR 5MG CPR9/10\tAGENTS MODIFIANT LIPIDES\tROSUVASTATINE\tDr Laure MARIGNY\tMédecin - Qualifié en Médecine Générale (SM)\tCENTRE DE SANTE SAINT MARTIN (CSM)\tPHARMACIE COMPAIN\t1",
		"\t08/03/2019\tPRODUIT HOMEOPATHIQUE\t\t\tDr Henri MARTIN\tMédecin - Qualifié en Médecine Générale (SM)\tCABINET DU DR HENRI MARTIN\tPHARMACIE COMPAIN\t4",
	}
	for i, r := range rows {
		if got := tb.Body[i].Text(); got != r {
			t.Errorf("row %d = %q\nwant %q", i, got, r)
		}
	}
	// LEVONORGESTREL<br/>ETHYNILESTRADIOL: a line break inside the cell.
	if in := tb.Body[0].Cells[4].Blocks[0].Inlines; len(in) != 3 || in[1].Kind != app.InlineBreak {
		t.Errorf("components cell inlines = %+v", in)
	}
	titles := []string{"Usage et Responsabilités", "Médicaments", "Vaccinations", "Dispositifs médicaux", "Hospitalisations", "Soins médicaux et dentaires", "Radiologie", "Biologie"}
	if len(d.Body.Sections) != len(titles) {
		t.Fatalf("%d sections", len(d.Body.Sections))
	}
	for i, s := range d.Body.Sections {
		if s.Title != titles[i] {
			t.Errorf("section %d title %q, want %q", i, s.Title, titles[i])
		}
	}
}

func TestSampleN1(t *testing.T) {
	d := parseSample(t, "DOC_NON_STRUCTURE_CDA-R2-N1.xml")
	att := d.Body.NonXML
	if att == nil || len(d.Body.Sections) != 0 {
		t.Fatal("no N1 body")
	}
	if !bytes.HasPrefix(att.Data, []byte("%PDF")) || att.MediaType != "application/pdf" || att.DeclaredType != "application/pdf" {
		t.Errorf("body %q… %s/%s", att.Data[:8], att.MediaType, att.DeclaredType)
	}
	if !bytes.Contains(att.Data[len(att.Data)-64:], []byte("%%EOF")) || len(att.Data) < 300_000 {
		t.Errorf("decoded body of %d bytes does not end with %%%%EOF", len(att.Data))
	}
	if d.Facility.Code != "SA07" || d.LegalAuthenticator == nil || d.LegalAuthenticator.Name() != "Dr Marcel Camparini" {
		t.Errorf("facility %v legal authenticator %+v", d.Facility, d.LegalAuthenticator)
	}
	if !strings.Contains(strings.Join(d.TemplateIDs, " "), "1.3.6.1.4.1.19376.1.2.20") {
		t.Errorf("templates %v lack XDS-SD", d.TemplateIDs)
	}
}

func TestSampleVSM(t *testing.T) {
	d := parseSample(t, "VSM_1.4_2022.01.xml")
	want := []struct{ name, cis, cip, dose, freq, route, start, indication string }{
		// The entry says 2 tablets for PLAVIX, the narrative table "1 cp/j": the entry is kept.
		{"PLAVIX 75 mg", "63564053", "3400938022209", "2 tablet", "1 fois par jour", "20053000", "2019-08-11", "Angine de poitrine instable"},
		{"COUMADINE 5mg", "63245753", "3400935693099", "1 tablet", "toutes les 6 h", "20053000", "2019-08-11", "Accident ischémique cérébral transitoire, sans précision"},
	}
	if len(d.Medications) != len(want) {
		t.Fatalf("%d medications", len(d.Medications))
	}
	for i, w := range want {
		m := d.Medications[i]
		cip := ""
		for _, c := range m.Codes {
			if c.System == app.SystemCIP13 {
				cip = c.Code
			}
		}
		if m.Kind != app.MedicationTreatment || m.Name != w.name || m.Product.Code != w.cis || m.Product.System != app.SystemCIS ||
			cip != w.cip || m.Dose != w.dose || m.Frequency != w.freq || m.Route.Code != w.route ||
			m.Start.Format("2006-01-02") != w.start || !m.End.IsZero() || m.Indication != w.indication || m.Source.TypeCode != "SYNTH" {
			t.Errorf("medication %d = %+v", i, m)
		}
	}
	if len(d.Allergies) != 1 || d.Allergies[0].Agent.Code != "60234100" || d.Allergies[0].Text != "Paracétamol" ||
		d.Allergies[0].Code.Code != "416098002" || d.Allergies[0].Start.Format("2006-01-02") != "2018-06-03" {
		t.Errorf("allergies = %+v", d.Allergies)
	}
	var pbs []string
	for _, p := range d.Problems {
		pbs = append(pbs, p.Code.Code)
	}
	if strings.Join(pbs, " ") != "G45.9 I20.0 N10 I21.1" {
		t.Errorf("problems = %v", pbs)
	}
	// Nested sections keep their titles and codes.
	s := d.Body.Sections[0]
	if s.Code.Code != "46612-8" || len(s.Sections) == 0 || s.Sections[0].Code.Code != "34117-2" ||
		s.Sections[0].Sections[0].Title != "Pathologie en cours" || s.Sections[0].Sections[0].Code.Code != "11450-4" {
		t.Errorf("nested sections lost: %+v", s)
	}
	tb := s.Sections[0].Sections[0].Text.Blocks[0].Table
	if tb == nil || len(tb.Body) != 2 || tb.Body[1].Text() != "11/08/2019\tAngine de poitrine instable" {
		t.Errorf("problems table = %+v", tb)
	}
}

func TestSamplePrescription(t *testing.T) {
	d := parseSample(t, "eP-MED-DM_2024.01_PosoStruct.xml") // starts with a UTF-8 BOM
	if len(d.Medications) != 2 {
		t.Fatalf("%d medications", len(d.Medications))
	}
	m := d.Medications[0]
	// IHE PHARM: ATC in pharm:generalizedMedicineClass, form, ingredient.
	if m.Kind != app.MedicationPrescribed || m.Product.Code != "63107752" || m.ATC.Code != "N02BE01" || m.ATC.System != app.SystemATC ||
		m.Form != "Comprimé" || m.Substance != "Paracetamol" || m.Start.Format("20060102") != "20231201" || m.End.Format("20060102") != "20231206" ||
		m.Dose != "1 tablet" || m.Frequency != "toutes les 8 h" || m.Route.Display != "Voie orale" {
		t.Errorf("paracetamol = %+v", m)
	}
	// A magistral preparation without code nor name: the narrative text names it.
	m = d.Medications[1]
	if m.Name != "Préparation magistrale : - 30g de diprosone - 70g de Cérat Frais de Galien" || m.Frequency != "1 fois par jour" || m.Route.Code != "20003000" {
		t.Errorf("preparation = %+v", m)
	}
}

func TestSampleImaging(t *testing.T) {
	d := parseSample(t, "IMG_CR_IMG_2024.01.xml")
	// Contrast and radiopharmaceutical products given during the exams: administered, not treatments.
	if len(d.Medications) != 6 {
		t.Fatalf("%d medications", len(d.Medications))
	}
	for _, m := range d.Medications {
		if m.Kind != app.MedicationAdminister {
			t.Errorf("%s kind %s", m.Name, m.Kind)
		}
	}
	if m := d.Medications[0]; m.Name != "XENETIX 350" || m.ATC.Code != "V08AB11" || m.Dose != "150 mL" {
		t.Errorf("contrast = %+v", m)
	}
	// linkHtml (WADO) kept as text, renderMultiMedia, BoldItalics style.
	var links, media int
	var bold bool
	var walk func([]app.Block)
	walk = func(bs []app.Block) {
		for _, b := range bs {
			for _, in := range b.Inlines {
				if in.Kind == app.InlineLink && strings.HasPrefix(in.Href, "http://www.example.org/wado") && strings.HasPrefix(in.Text, "images examen") {
					links++
				}
				if in.Kind == app.InlineText && in.Style&(app.Bold|app.Italic) == app.Bold|app.Italic {
					bold = true
				}
			}
			if b.Kind == app.BlockMedia && len(b.Media.Refs) == 1 && b.Media.Refs[0] == "DOC-001" {
				media++
			}
			for _, it := range b.Items {
				walk(it.Blocks)
			}
			if b.Table != nil {
				for _, rows := range [][]app.Row{b.Table.Header, b.Table.Body, b.Table.Footer} {
					for _, r := range rows {
						for _, c := range r.Cells {
							walk(c.Blocks)
						}
					}
				}
			}
		}
	}
	var sections func([]Section)
	sections = func(ss []Section) {
		for _, s := range ss {
			walk(s.Text.Blocks)
			sections(s.Sections)
		}
	}
	sections(d.Body.Sections)
	if links != 3 || media != 1 || !bold {
		t.Errorf("links %d media %d bold-italic %v", links, media, bold)
	}
}

func TestSampleAnesthesia(t *testing.T) {
	d := parseSample(t, "ANEST-CR-CPA_2022.01.xml")
	if len(d.Medications) != 1 || d.Medications[0].Name != "SOLIAN 100 mg" || d.Medications[0].ATC.Code != "N05AL05" {
		t.Errorf("medications = %+v", d.Medications)
	}
	// The reaction observation (MFST) is negationInd="true": recorded as not observed.
	if len(d.Allergies) != 1 || d.Allergies[0].Reaction != "urticaire" || !d.Allergies[0].ReactionNegated || d.Allergies[0].Agent.Code != "N02BE01" {
		t.Errorf("allergies = %+v", d.Allergies)
	}
	// 18 problem observations, 10 of which the document negates: the
	// patient has 8 of them (hypertension and pulmonary embolism are "Non").
	var has, not []string
	for _, p := range d.Problems {
		if p.Negated {
			not = append(not, p.Code.Code)
		} else {
			has = append(has, p.Code.Code)
		}
	}
	if strings.Join(not, " ") != "I10 I26 J40 J81 J44.9 N76.0 O03 B16 D68.9 D75.9" ||
		strings.Join(has, " ") != "E03.9 G22 F33 K21 N04 E10 MED-670 B19" {
		t.Errorf("negated problems %v, present %v", not, has)
	}
	if ps := app.PresentProblems(d.Problems); len(ps) != 8 {
		t.Errorf("%d present problems, want 8", len(ps))
	}
}
