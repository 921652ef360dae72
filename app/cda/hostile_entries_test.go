package cda

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/carnetdesk/carnet/app"
)

// entries builds a document whose one section has the narrative text and
// the entries given.
func entries(text, entries string) string {
	return doc(insTest, `<structuredBody><component><section><title>S</title><text>`+text+`</text>`+entries+`</section></component></structuredBody>`)
}

// vaccine is an FR-Vaccination substanceAdministration with the attributes
// and inner XML given.
func vaccine(attrs, inner string) string {
	return `<substanceAdministration classCode="SBADM" moodCode="EVN" ` + attrs + `>
<templateId root="1.3.6.1.4.1.19376.1.5.3.1.4.12"/><templateId root="1.2.250.1.213.1.1.3.45"/>
<consumable><manufacturedProduct><manufacturedMaterial><code code="J07BC01" codeSystem="2.16.840.1.113883.6.73" displayName="hépatite B"/>
<name>` + secretText + `</name></manufacturedMaterial></manufacturedProduct></consumable>` + inner + `</substanceAdministration>`
}

// problemObs is an FR-Probleme observation.
func problemObs(attrs, inner string) string {
	return `<observation classCode="OBS" moodCode="EVN" ` + attrs + `><templateId root="1.2.250.1.213.1.1.3.37"/>` + inner + `</observation>`
}

// xslWrap wraps bodies in a self-presenting stylesheet.
func xslWrap(inner string) string {
	return `<?xml version="1.0" encoding="UTF-8"?>
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform" xmlns:data="urn:asip-sante:ci-sis">` + inner + `
<xsl:template match="/"><xsl:apply-templates select="//ClinicalDocument"/></xsl:template></xsl:stylesheet>`
}

// bareDoc is doc() without its XML declaration.
func bareDoc(body string) string {
	return strings.TrimPrefix(doc(insTest, body), `<?xml version="1.0" encoding="UTF-8"?>`)
}

// nest wraps inner in n levels of observation/entryRelationship.
func nest(n int, inner string) string {
	return strings.Repeat(`<observation classCode="OBS" moodCode="EVN"><entryRelationship typeCode="COMP">`, n) + inner +
		strings.Repeat(`</entryRelationship></observation>`, n)
}

// The clinical-content faults of issue 13: each has a clear, bounded
// behaviour.
var hostileEntries = []struct {
	name  string
	in    string
	opt   Options
	kind  ErrorKind
	check func(t *testing.T, d *Document)
}{
	{name: "negated entry inside a negated organizer",
		in: entries("", `<entry><organizer classCode="CLUSTER" moodCode="EVN" negationInd="true"><component>`+vaccine(`negationInd="true"`, "")+`</component>
<component>`+vaccine(``, "")+`</component></organizer></entry>`),
		check: func(t *testing.T, d *Document) {
			if len(d.Medications) != 2 || !d.Medications[0].Negated || !d.Medications[1].Negated {
				t.Errorf("medications under a negated organizer: %+v", d.Medications)
			}
		}},
	{name: "negationInd on an entryRelationship",
		in: entries("", `<entry>`+vaccine(``, `<entryRelationship typeCode="RSON" negationInd="true"><observation><code code="X" displayName="`+secretText+`"/></observation></entryRelationship>
<entryRelationship typeCode="REFR" negationInd="true"><supply moodCode="EVN"><effectiveTime value="20240101"/></supply></entryRelationship>`)+`</entry>
<entry><observation classCode="OBS" moodCode="EVN"><entryRelationship typeCode="CAUS" negationInd="true">`+vaccine(``, "")+`</entryRelationship></observation></entry>`),
		check: func(t *testing.T, d *Document) {
			if len(d.Medications) != 2 {
				t.Fatalf("medications %+v", d.Medications)
			}
			// the negated dispensing marks the line "not dispensed" (never
			// dropped, leaving the line given); the negated indication is
			// not one
			if m := d.Medications[0]; m.LineStatus() != app.StatusNotDispensed || m.Indication != "" {
				t.Errorf("negated relationships taken as facts: %+v (status %s)", m, m.LineStatus())
			}
			if !d.Medications[1].Negated {
				t.Errorf("a medication under a negated relationship is not negated")
			}
		}},
	{name: "contradictory code and text",
		in: entries(`<content ID="m1">paracetamol</content>`, `<entry><substanceAdministration moodCode="EVN"><text><reference value="#m1"/></text>
<consumable><manufacturedProduct><manufacturedMaterial xmlns:pharm="urn:ihe:pharm:medication"><code code="62080626" codeSystem="1.2.250.1.213.2.3.1" displayName="LEVOTHYROX 75 microgrammes"/>
<pharm:ingredient classCode="ACTI"><pharm:ingredient><pharm:code code="1" codeSystem="2.16.840.1.113883.3.6905.2" displayName="LÉVOTHYROXINE SODIQUE"/><pharm:name>paracetamol</pharm:name></pharm:ingredient></pharm:ingredient>
</manufacturedMaterial></manufacturedProduct></consumable></substanceAdministration></entry>`),
		check: func(t *testing.T, d *Document) {
			if len(d.Medications) != 1 {
				t.Fatalf("medications %+v", d.Medications)
			}
			m := d.Medications[0]
			if m.Name != "LEVOTHYROX 75 microgrammes" || m.Substance != "LÉVOTHYROXINE SODIQUE" || m.Conflict != "paracetamol" {
				t.Errorf("name %q substance %q conflict %q", m.Name, m.Substance, m.Conflict)
			}
		}},
	{name: "40-level nesting",
		in: entries("", `<entry>`+nest(40, vaccine(``, ""))+`</entry><entry>`+nest(3, vaccine(`negationInd="true"`, ""))+`</entry>`),
		check: func(t *testing.T, d *Document) {
			// the medication 40 levels down is beyond maxEntryDepth: skipped, flagged; the next entry is read
			if len(d.Medications) != 1 || !d.Medications[0].Negated || !hasFlag(d, FlagUnsupported) {
				t.Errorf("medications %+v flags %+v", d.Medications, d.Flags)
			}
		}},
	{name: "reference to a missing narrative ID",
		in: entries(`<content ID="other">Oui</content>`, `<entry><substanceAdministration moodCode="INT"><text><reference value="#nowhere"/></text>
<consumable><manufacturedProduct><manufacturedMaterial><code><originalText><reference value="#absent"/></originalText>
<translation code="N02BE01" codeSystem="2.16.840.1.113883.6.73" displayName="paracétamol"/></code><name nullFlavor="NA"/></manufacturedMaterial></manufacturedProduct></consumable>
</substanceAdministration></entry><entry>`+problemObs(``, `<text><reference value="#other"/></text><value xsi:type="CD" code="I10" codeSystem="2.16.840.1.113883.6.3" displayName="Hypertension"/>`)+`</entry>`),
		check: func(t *testing.T, d *Document) {
			if len(d.Medications) != 1 || d.Medications[0].Name != "paracétamol" || d.Medications[0].Kind != app.MedicationPrescribed {
				t.Errorf("medications %+v", d.Medications)
			}
			if len(d.Problems) != 1 || d.Problems[0].Text != "Hypertension" {
				t.Errorf("problems %+v", d.Problems)
			}
		}},
	{name: "boolean values are never names",
		in: entries(`<content ID="a">Non</content><content ID="b">Oui</content>`, `<entry>`+problemObs(``, `<code code="I10" codeSystem="2.16.840.1.113883.6.3" displayName="Hypertension artérielle"/><text><reference value="#a"/></text><value xsi:type="BL" value="false"/>`)+`</entry>
<entry>`+problemObs(``, `<code code="I26" codeSystem="2.16.840.1.113883.6.3" displayName="Embolie pulmonaire"/><text><reference value="#b"/></text><value xsi:type="BL" value="true"/>`)+`</entry>
<entry>`+problemObs(``, `<text><reference value="#a"/></text>`)+`</entry>
<entry><substanceAdministration moodCode="EVN"><text><reference value="#b"/></text><consumable><manufacturedProduct><manufacturedMaterial><name>Non</name></manufacturedMaterial></manufacturedProduct></consumable></substanceAdministration></entry>`),
		check: func(t *testing.T, d *Document) {
			if len(d.Problems) != 3 {
				t.Fatalf("problems %+v", d.Problems)
			}
			if p := d.Problems[0]; !p.Negated || p.Text != "Hypertension artérielle" || p.Code.Code != "I10" {
				t.Errorf("BL false: %+v", p)
			}
			if p := d.Problems[1]; p.Negated || p.Text != "Embolie pulmonaire" {
				t.Errorf("BL true: %+v", p)
			}
			for _, p := range d.Problems {
				if p.Text == "" || p.Text == "Oui" || p.Text == "Non" {
					t.Errorf("problem named %q", p.Text)
				}
			}
			if len(d.Medications) != 1 || d.Medications[0].Name == "Non" || d.Medications[0].Name == "Oui" || d.Medications[0].Name == "" || !hasFlag(d, FlagMissing) {
				t.Errorf("medications %+v flags %+v", d.Medications, d.Flags)
			}
		}},
	{name: "observationMedia over the media limit",
		in: entries(`<renderMultiMedia referencedObject="big"/>`+secretText, `<entry><observationMedia ID="big"><value mediaType="application/pdf" representation="B64">`+
			b64(append([]byte("%PDF-1.4 "), bytes.Repeat([]byte{'x'}, 3000)...))+`</value></observationMedia></entry>
<entry><observationMedia ID="small"><value mediaType="application/pdf" representation="B64">`+b64([]byte("%PDF-1.4 small"))+`</value></observationMedia></entry>`+
			`<entry>`+vaccine(``, "")+`</entry>`),
		opt: Options{MaxMediaBytes: 1000},
		check: func(t *testing.T, d *Document) {
			if len(d.Media) != 1 || d.Media[0].ID != "small" || !hasFlag(d, FlagUnsupported) {
				t.Errorf("media %d flags %+v", len(d.Media), d.Flags)
			}
			if len(d.Medications) != 1 || d.Body.Sections[0].Text.PlainText() == "" {
				t.Errorf("the rest of the document was lost")
			}
		}},
	{name: "media type that lies",
		in: entries("", `<entry><observationMedia ID="j"><value mediaType="application/pdf" representation="B64">`+b64([]byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00"))+`</value></observationMedia></entry>
<entry><observationMedia ID="u"><value mediaType="application/pdf" representation="B64">`+b64([]byte{0, 1, 2, 3, 0xfe, 0xff})+`</value></observationMedia></entry>
<entry><observationMedia ID="bad"><value mediaType="application/pdf" representation="B64">JVBER*i0x</value></observationMedia></entry>`),
		check: func(t *testing.T, d *Document) {
			if len(d.Media) != 2 || !hasFlag(d, FlagMediaMismatch) || !hasFlag(d, FlagUnsupported) {
				t.Fatalf("media %+v flags %+v", d.Media, d.Flags)
			}
			if m := d.Media[0]; m.MediaType != "image/jpeg" || m.DeclaredType != "application/pdf" || !m.Mismatch {
				t.Errorf("JPEG declared PDF: %s/%s", m.MediaType, m.DeclaredType)
			}
			if m := d.Media[1]; m.MediaType != "application/octet-stream" || !m.Mismatch {
				t.Errorf("unknown bytes declared PDF typed %s", m.MediaType)
			}
		}},
	{name: "XSL wrapper holding two ClinicalDocuments", in: xslWrap(`<data:Contenu>` + bareDoc(n3("a")) + bareDoc(n3(secretText)) + `</data:Contenu>`), kind: KindStructure},
	{name: "XSL wrapper holding none", in: xslWrap(`<data:Contenu><xsl:template match="x">` + bareDoc(n3(secretText)) + `</xsl:template></data:Contenu>`), kind: KindStructure},
	{name: "XSL wrapper with the document too deep", in: xslWrap(`<data:a><data:b>` + bareDoc(n3("x")) + `</data:b></data:a>`), kind: KindStructure},
	{name: "XSL wrapper with one ClinicalDocument", in: xslWrap(`<data:Contenu>` + bareDoc(n3("lu")) + `</data:Contenu>`),
		check: func(t *testing.T, d *Document) {
			if d.Patient.BirthName != secretName || len(d.Body.Sections) != 1 || d.Body.Sections[0].Text.PlainText() != "lu" {
				t.Errorf("wrapped document: %+v", d.Patient)
			}
		}},
	{name: "device participant without device", in: entries("", `<entry><procedure moodCode="EVN" negationInd="true"><code code="DELF014" codeSystem="1.2.250.1.215.300.1"/><effectiveTime value="1999"/>
<participant typeCode="DEV"><participantRole classCode="MANU"><id nullFlavor="UNK"/></participantRole></participant>
<participant typeCode="LOC"><participantRole classCode="SDLOC"/></participant></procedure></entry>`),
		check: func(t *testing.T, d *Document) {
			if len(d.Devices) != 1 || !d.Devices[0].Negated || d.Devices[0].Name != "DELF014" || d.Devices[0].Precision != app.PrecisionYear || d.Devices[0].ID != "" {
				t.Errorf("devices %+v", d.Devices)
			}
		}},
	{name: "partial dates keep their precision", in: entries("", `<entry>`+vaccine(``, `<effectiveTime xsi:type="IVL_TS"><low value="1975"/><high value="197603"/></effectiveTime>`)+`</entry>`),
		check: func(t *testing.T, d *Document) {
			m := d.Medications[0]
			if app.FormatDate(m.Start, m.StartPrecision) != "1975" || app.FormatDate(m.End, m.EndPrecision) != "03/1976" {
				t.Errorf("dates %s %s", app.FormatDate(m.Start, m.StartPrecision), app.FormatDate(m.End, m.EndPrecision))
			}
		}},
	{name: "no known medication, no known allergy",
		in: entries("", `<entry><substanceAdministration moodCode="EVN"><code code="DRUG" codeSystem="2.16.840.1.113883.5.4"/>
<consumable><manufacturedProduct><manufacturedMaterial><code code="no-known-medications" codeSystem="2.16.840.1.113883.5.1150.1" displayName="No known medications"/></manufacturedMaterial></manufacturedProduct></consumable></substanceAdministration></entry>
<entry><observation moodCode="EVN"><templateId root="1.3.6.1.4.1.19376.1.5.3.1.4.6"/><code code="ASSERTION" codeSystem="2.16.840.1.113883.5.4"/>
<value xsi:type="CD" code="716186003" codeSystem="2.16.840.1.113883.6.96" displayName="Aucune allergie connue"/></observation></entry>`),
		check: func(t *testing.T, d *Document) {
			if len(d.Medications) != 0 {
				t.Errorf("a 'no known medication' statement became lines: %+v", d.Medications)
			}
			if len(d.Allergies) != 1 || !d.Allergies[0].Negated || len(app.PresentAllergies(d.Allergies)) != 0 {
				t.Errorf("allergies %+v", d.Allergies)
			}
		}},
	{name: "planned vaccination", in: entries("", strings.Replace(`<entry>`+vaccine(``, ``)+`</entry>`, `moodCode="EVN"`, `moodCode="INT"`, 1)+
		strings.Replace(`<entry>`+vaccine(``, ``)+`</entry>`, `moodCode="EVN"`, `moodCode="RQO"`, 1)),
		check: func(t *testing.T, d *Document) {
			if len(d.Medications) != 2 || d.Medications[0].LineStatus() != app.StatusPlanned || d.Medications[1].LineStatus() != app.StatusPlanned {
				t.Errorf("medications %+v", d.Medications)
			}
		}},
}

func TestHostileEntries(t *testing.T) {
	for _, tc := range hostileEntries {
		t.Run(tc.name, func(t *testing.T) {
			d, err := ParseBytes([]byte(tc.in), tc.opt)
			if tc.kind != "" {
				var pe *ParseError
				if !errors.As(err, &pe) || pe.Kind != tc.kind || !errors.Is(err, app.ErrInvalid) {
					t.Fatalf("err = %v, want a %s ParseError", err, tc.kind)
				}
				assertNoPatientData(t, err.Error())
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			for _, f := range d.Flags {
				assertNoPatientData(t, f.Detail)
			}
			tc.check(t, d)
		})
	}
}

// TestLargeObservationMedia reads a 30 MB embedded PDF (within the default
// limits): decoded whole, once, the rest of the document intact.
func TestLargeObservationMedia(t *testing.T) {
	if testing.Short() {
		t.Skip("30 MB document: skipped in -short")
	}
	pdf := append([]byte("%PDF-1.4 "), bytes.Repeat([]byte("0123456789abcdef"), 30<<20/16)...)
	in := entries("x", `<entry><observationMedia ID="m"><value mediaType="application/pdf" representation="B64">`+b64(pdf)+`</value></observationMedia></entry>`)
	d, err := ParseBytes([]byte(in), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Media) != 1 || !bytes.Equal(d.Media[0].Data, pdf) || d.Media[0].MediaType != "application/pdf" {
		t.Errorf("media %d", len(d.Media))
	}
}

// TestSampleSelfPresenting reads the self-presenting lab report through its
// XSL wrapper: the header of the ClinicalDocument inside (checked by eye in
// the sample: id, type, title, effectiveTime, the test INS) and its body.
func TestSampleSelfPresenting(t *testing.T) {
	d := parseSample(t, "BIO-CR-BIO_2021.01_Auto-Presentable.xml")
	if d.ID != "1.2.250.1.213.1.1.1.55.2021.1.1" || d.Type.Code != "11502-2" || d.Title != "Compte rendu d'examens biologiques" ||
		d.Effective.Format(tsLayout) != "20210401171000+0100" || d.Version != 1 {
		t.Errorf("header = %s %v %q %v", d.ID, d.Type, d.Title, d.Effective)
	}
	if d.Patient.INS.Matricule != "279035121518989" || d.Patient.INSStatus != INSTest || d.Patient.BirthName != "PAT-TROIS" {
		t.Errorf("patient = %+v", d.Patient)
	}
	if len(d.Body.Sections) == 0 {
		t.Error("no sections read inside the wrapper")
	}
	if _, err := (Reader{}).Read(readSample(t, "BIO-CR-BIO_2021.01_Auto-Presentable.xml"), app.DocumentMeta{}); err != nil {
		t.Errorf("Reader refuses the self-presenting document: %v", err)
	}
	h, err := ParseBytes(readSample(t, "BIO-CR-BIO_2021.01_Auto-Presentable.xml"), Options{HeaderOnly: true})
	if err != nil || h.ID != d.ID {
		t.Errorf("header only: %v %v", h, err)
	}
}
