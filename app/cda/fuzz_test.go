package cda

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/carnetdesk/carnet/app"
)

// FuzzParseCDA feeds arbitrary bytes to the reader, seeded with the hostile
// inputs and the small samples: it must return a document or a *ParseError,
// never panic.
func FuzzParseCDA(f *testing.F) {
	for _, tc := range hostile {
		if len(tc.in) < 64<<10 {
			f.Add([]byte(tc.in))
		}
	}
	for _, tc := range hostileEntries {
		f.Add([]byte(tc.in))
	}
	f.Add([]byte(doc(insTest, n3(`<paragraph>a<content ID="x">b</content></paragraph>`))))
	if dir, err := findSamples(); err == nil {
		for _, name := range []string{"VSM_1.4_2022.01.xml", "LDL-SES_2022.01.xml"} {
			if b, err := os.ReadFile(filepath.Join(dir, name)); err == nil {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := ParseBytes(b, Options{MaxDepth: 64, MaxElements: 20000})
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		_ = d.Meta()
		for _, s := range d.Body.Sections {
			_ = s.Text.PlainText()
		}
	})
}

// FuzzEntries feeds arbitrary entry content (statements, nested
// relationships, supplies, devices, observationMedia) to the entry readers
// inside a valid document: a document or a *ParseError, never a panic, and
// never a medication, allergy, problem or device without a name.
func FuzzEntries(f *testing.F) {
	for _, s := range []string{
		vaccine(`negationInd="true"`, ""),
		nest(20, vaccine(``, `<entryRelationship typeCode="REFR"><supply moodCode="EVN"><effectiveTime value="2019"/></supply></entryRelationship>`)),
		`<supply moodCode="EVN"><quantity value="2" unit="30009000"/><product><manufacturedProduct><manufacturedMaterial><code nullFlavor="NA"/><name>Oui</name></manufacturedMaterial></manufacturedProduct></product></supply>`,
		`<supply moodCode="EVN"><participant typeCode="DEV"><participantRole classCode="MANU"><playingDevice><code><translation code="1" displayName="Non"/></code></playingDevice></participantRole></participant></supply>`,
		`<organizer negationInd="true"><component>` + problemObs(`negationInd="true"`, `<value xsi:type="BL" value="false"/>`) + `</component></organizer>`,
		`<act><templateId root="1.3.6.1.4.1.19376.1.5.3.1.4.5.3"/><entryRelationship typeCode="SUBJ"><observation><entryRelationship typeCode="MFST" negationInd="true"><observation/></entryRelationship></observation></entryRelationship></act>`,
		`<observationMedia ID="m"><value mediaType="image/png" representation="B64">iVBORw0KGgo=</value></observationMedia>`,
		`<procedure><participant typeCode="DEV"><participantRole><playingDevice><manufacturerModelName>M</manufacturerModelName></playingDevice></participantRole></participant></procedure>`,
		`<procedure moodCode="INT"><participant typeCode="DEV"><participantRole><playingDevice><code code="Z1" codeSystem="1.2.250.1.213.2.68"/></playingDevice></participantRole></participant></procedure>`,
		`<act><templateId root="1.3.6.1.4.1.19376.1.5.3.1.4.5.3"/><entryRelationship typeCode="SUBJ"><observation><code code="SEV"/><value xsi:type="CD" displayName="modéré"/></observation></entryRelationship></act>`,
		`<observation negationInd="true"><templateId root="1.3.6.1.4.1.19376.1.5.3.1.4.6"/><value xsi:type="CD" code="716186003"/></observation>`,
		`<substanceAdministration moodCode="EVN"><consumable><manufacturedProduct><manufacturedMaterial><code code="1" codeSystem="1.2.250.1.213.2.3.1" displayName="NUX VOMICA"/><name>PRODUIT</name></manufacturedMaterial></manufacturedProduct></consumable><entryRelationship typeCode="REFR"><supply moodCode="EVN" negationInd="true"/></entryRelationship></substanceAdministration>`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseBytes([]byte(entries(`<content ID="a">Oui</content>`, `<entry>`+s+`</entry>`)), Options{MaxDepth: 96, MaxElements: 20000, MaxMediaBytes: 1 << 16})
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		for _, m := range d.Medications {
			if m.Name == "" || m.Name == "Oui" || m.Name == "Non" {
				t.Errorf("medication named %q", m.Name)
			}
		}
		for _, a := range d.Allergies {
			if a.Text == "" {
				t.Error("allergy without a name")
			}
		}
		for _, p := range d.Problems {
			if p.Text == "" {
				t.Error("problem without a name")
			}
		}
		for _, v := range d.Devices {
			if v.Name == "" {
				t.Error("device without a name")
			}
		}
		var total int
		for _, m := range d.Media {
			total += len(m.Data)
		}
		if total > 1<<16 {
			t.Errorf("%d bytes of media over the limit", total)
		}
		for _, v := range d.Devices {
			switch v.State() {
			case app.DeviceImplanted, app.DeviceUsed, app.DevicePlanned, app.DeviceDispensed, app.DeviceNegated:
			default:
				t.Errorf("device status %q", v.State())
			}
		}
		for _, a := range d.Allergies {
			if a.NoneKnown && !a.Negated {
				t.Error("\"no known allergy\" not negated")
			}
		}
		// the medication list's reading (no media decoded) finds the same facts
		sd, err := ParseBytes([]byte(entries(`<content ID="a">Oui</content>`, `<entry>`+s+`</entry>`)), Options{MaxDepth: 96, MaxElements: 20000, MaxMediaBytes: 1 << 16, SkipMedia: true})
		if err != nil {
			t.Fatalf("a document read whole is refused without its media: %v", err)
		}
		if len(sd.Media) != 0 || len(sd.Medications) != len(d.Medications) || len(sd.Allergies) != len(d.Allergies) ||
			len(sd.Problems) != len(d.Problems) || len(sd.Devices) != len(d.Devices) {
			t.Errorf("SkipMedia changes the facts: %d/%d meds, %d media", len(sd.Medications), len(d.Medications), len(sd.Media))
		}
	})
}

// FuzzNarrative feeds arbitrary section text to the narrative reader.
func FuzzNarrative(f *testing.F) {
	for _, s := range []string{
		"plain", `<content styleCode="Bold">b</content><br/>x`, `<paragraph ID="p">a <linkHtml href="h">l</linkHtml></paragraph>`,
		`<list listType="ordered"><caption>c</caption><item>i<list><item>j</item></list></item></list>`,
		`<table><caption>t</caption><thead><tr><th colspan="2">h</th></tr></thead><tbody><tr><td rowspan="9999999">a</td></tr></tbody><tfoot><tr><td>f</td></tr></tfoot></table>`,
		`<renderMultiMedia referencedObject="a b"><caption>c</caption></renderMultiMedia>`, `x<footnote ID="f">n<paragraph>p</paragraph></footnote><footnoteRef IDREF="f"/>`,
		`<sup><sub><content>deep</content></sub></sup>`, `<caption>loose</caption><col/><colgroup/>`, `<unknown>kept</unknown>`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseNarrative([]byte(`<text xmlns="urn:hl7-org:v3">`+s+`</text>`), Options{MaxDepth: 64})
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		_ = n.PlainText()
	})
}

// findSamples is samplesDir without a testing.TB.
func findSamples() (string, error) {
	dir, err := os.Getwd()
	for err == nil {
		p := filepath.Join(dir, "shared", "samples", "cda")
		if st, e := os.Stat(p); e == nil && st.IsDir() {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", os.ErrNotExist
		}
		dir = parent
	}
	return "", err
}
