package cda

import (
	"slices"
	"strings"
	"testing"

	"github.com/carnetdesk/carnet/app"
)

// treatment is an FR-Traitement substanceAdministration (moodCode EVN) of
// a coded product, with the inner XML given after its consumable.
func treatment(inner string) string {
	return `<substanceAdministration classCode="SBADM" moodCode="EVN"><templateId root="1.2.250.1.213.1.1.3.42"/>
<consumable><manufacturedProduct><manufacturedMaterial><code code="3400939169002" codeSystem="1.2.250.1.215.200.1.1.1" displayName="CRESTOR 5MG CPR9/10"/>
<name>CRESTOR 5MG CPR9/10</name></manufacturedMaterial></manufacturedProduct></consumable>` + inner + `</substanceAdministration>`
}

// TestNegatedDispensing: a dispensing the document records as NOT done
// (negationInd on the supply or on its REFR relationship) marks its line
// "not dispensed", beside the dispensings that were done; it never leaves
// the line as given.
func TestNegatedDispensing(t *testing.T) {
	cases := []struct {
		name string
		rels string
		want []app.MedicationStatus
	}{
		{"negated supply", `<entryRelationship typeCode="REFR"><supply classCode="SPLY" moodCode="EVN" negationInd="true"><effectiveTime value="20190311"/></supply></entryRelationship>`,
			[]app.MedicationStatus{app.StatusNotDispensed}},
		{"negated relationship", `<entryRelationship typeCode="REFR" negationInd="true"><supply classCode="SPLY" moodCode="EVN"><effectiveTime value="20190311"/></supply></entryRelationship>`,
			[]app.MedicationStatus{app.StatusNotDispensed}},
		{"one done, one not", `<entryRelationship typeCode="REFR"><supply classCode="SPLY" moodCode="EVN"><effectiveTime value="20190211"/></supply></entryRelationship>
<entryRelationship typeCode="REFR"><supply classCode="SPLY" moodCode="EVN" negationInd="true"><effectiveTime value="20190311"/></supply></entryRelationship>`,
			[]app.MedicationStatus{app.StatusDispensed, app.StatusNotDispensed}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := ParseBytes([]byte(entries("", `<entry>`+treatment(c.rels)+`</entry>`)), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(d.Medications) != len(c.want) {
				t.Fatalf("%d lines, want %d: %+v", len(d.Medications), len(c.want), d.Medications)
			}
			for i, m := range d.Medications {
				if m.LineStatus() != c.want[i] {
					t.Errorf("line %d: %s, want %s", i, m.LineStatus(), c.want[i])
				}
				if m.Dispensed.IsZero() {
					t.Errorf("line %d: the (not) dispensing date is lost", i)
				}
			}
		})
	}
	// an entry-level dispensation recorded as not done
	d, err := ParseBytes([]byte(entries("", `<entry><supply classCode="SPLY" moodCode="EVN" negationInd="true"><effectiveTime value="20190311"/>
<product><manufacturedProduct><manufacturedMaterial><code code="3400939169002" codeSystem="1.2.250.1.213.2.3.2" displayName="CRESTOR 5 mg"/></manufacturedMaterial></manufacturedProduct></product></supply></entry>`)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Medications) != 1 || d.Medications[0].LineStatus() != app.StatusNotDispensed {
		t.Errorf("a negated dispensation: %+v", d.Medications)
	}
}

// TestConcernQualifiers: under an allergy or problem concern, only the
// concern's subjects are allergies or problems; a severity (IHE, FR or by
// its code), a status, a comment or a reaction directly under the concern
// qualifies it and never becomes an allergy named "modéré" nor a problem
// named "actif".
func TestConcernQualifiers(t *testing.T) {
	sev := func(rel, tpl string) string {
		return `<entryRelationship typeCode="` + rel + `"><observation classCode="OBS" moodCode="EVN">` + tpl + `
<code code="SEV" codeSystem="2.16.840.1.113883.5.4"/><value xsi:type="CD" code="M" displayName="modéré" codeSystem="2.16.840.1.113883.5.1063"/></observation></entryRelationship>`
	}
	allergy := `<entryRelationship typeCode="SUBJ"><observation classCode="OBS" moodCode="EVN"><templateId root="1.3.6.1.4.1.19376.1.5.3.1.4.6"/>
<code code="DALG" codeSystem="2.16.840.1.113883.5.4"/><participant typeCode="CSM"><participantRole classCode="MANU"><playingEntity classCode="MMAT"><code code="N02BE01" codeSystem="2.16.840.1.113883.6.73" displayName="Paracétamol"/></playingEntity></participantRole></participant></observation></entryRelationship>`
	reaction := `<entryRelationship typeCode="MFST"><observation classCode="OBS" moodCode="EVN"><templateId root="1.3.6.1.4.1.19376.1.5.3.1.4.5"/>
<code code="75321-0" codeSystem="2.16.840.1.113883.6.1"/><value xsi:type="CD" code="X" displayName="urticaire"/></observation></entryRelationship>`
	d, err := ParseBytes([]byte(entries("", `<entry><act classCode="ACT" moodCode="EVN"><templateId root="1.3.6.1.4.1.19376.1.5.3.1.4.5.3"/>`+
		sev("SUBJ", "")+sev("SUBJ", `<templateId root="1.3.6.1.4.1.19376.1.5.3.1.4.1"/>`)+sev("REFR", `<templateId root="1.2.250.1.213.1.1.3.29"/>`)+
		sev("SUBJ", `<templateId root="2.16.840.1.113883.10.20.1.55"/>`)+reaction+allergy+`</act></entry>
<entry><act classCode="ACT" moodCode="EVN"><templateId root="1.3.6.1.4.1.19376.1.5.3.1.4.5.2"/>
<entryRelationship typeCode="SUBJ"><observation classCode="OBS" moodCode="EVN"><code code="33999-4" codeSystem="2.16.840.1.113883.6.1"/><value xsi:type="CE" code="55561003" displayName="actif"/></observation></entryRelationship>
<entryRelationship typeCode="SUBJ" inversionInd="true"><observation classCode="OBS" moodCode="EVN"><code code="X" displayName="commentaire"/><value xsi:type="ST">note</value></observation></entryRelationship>
<entryRelationship typeCode="SUBJ"><observation classCode="OBS" moodCode="EVN"><code code="55607006" codeSystem="2.16.840.1.113883.6.96"/><value xsi:type="CD" code="I10" displayName="Hypertension"/></observation></entryRelationship>
</act></entry>`)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Allergies) != 1 || d.Allergies[0].Text != "Paracétamol" {
		t.Errorf("allergies %+v, want the paracetamol one only", d.Allergies)
	}
	if len(d.Problems) != 1 || d.Problems[0].Text != "Hypertension" {
		t.Errorf("problems %+v, want the hypertension only", d.Problems)
	}
}

// TestCodedNameWins: when the name written in manufacturedMaterial/name and
// the coded product (or, without a product display, the level-5 ATC code)
// disagree on the substance, the line shows the coded name and flags the
// written one (Conflict); a written name that agrees with the code, or
// that nothing shows to be another substance, is kept.
func TestCodedNameWins(t *testing.T) {
	const cis, atc = `codeSystem="1.2.250.1.213.2.3.1"`, `codeSystem="2.16.840.1.113883.6.73"`
	cases := []struct {
		name, codes, written string
		wantName, wantConf   string
	}{
		{"written agrees with the product", `<code code="62080626" ` + cis + ` displayName="LEVOTHYROX 75 microgrammes, comprimé sécable"/>`,
			"LEVOTHYROX 75 microgrammes", "LEVOTHYROX 75 microgrammes", ""},
		{"a category beside a coded product", `<code code="9064295" codeSystem="1.2.250.1.215.200.1.1.2" displayName="NUX VOMICA COMP BOIR GRL"/>`,
			"PRODUIT HOMEOPATHIQUE", "NUX VOMICA COMP BOIR GRL", "PRODUIT HOMEOPATHIQUE"},
		{"another substance than the product", `<code code="62080626" ` + cis + ` displayName="LEVOTHYROX 75 microgrammes"/>`,
			"DOLIPRANE 1000 mg", "LEVOTHYROX 75 microgrammes", "DOLIPRANE 1000 mg"},
		{"a brand and its generic, the same substance", `<code code="1" ` + cis + ` displayName="CLOPIDOGREL BIOGARAN 75 mg"/>`,
			"PLAVIX 75 mg", "PLAVIX 75 mg", ""},
		{"another substance than the ATC code", `<code code="N02BE01" ` + atc + ` displayName="paracétamol"/>`,
			"CRESTOR 5 mg", "paracétamol", "CRESTOR 5 mg"},
		{"a brand the table does not know, beside its ATC", `<code code="V08AB11" ` + atc + ` displayName="IOBITRIDOL"/>`,
			"XENETIX 350", "XENETIX 350", ""},
		{"a class label is no substance", `<code code="C10" codeSystem="1.2.250.1.215.200.1.2.1" displayName="AGENTS MODIFIANT LIPIDES"/>`,
			"CRESTOR 5MG CPR9/10", "CRESTOR 5MG CPR9/10", ""},
		{"display spread over lines", `<code code="1" ` + cis + ` displayName="IMMUNOGLOBULINE HUMAINE
      LFB"/>`, "", "IMMUNOGLOBULINE HUMAINE LFB", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			name := ""
			if c.written != "" {
				name = "<name>" + c.written + "</name>"
			}
			d, err := ParseBytes([]byte(entries("", `<entry><substanceAdministration classCode="SBADM" moodCode="EVN">
<consumable><manufacturedProduct><manufacturedMaterial>`+c.codes+name+`</manufacturedMaterial></manufacturedProduct></consumable></substanceAdministration></entry>`)), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(d.Medications) != 1 {
				t.Fatalf("medications %+v", d.Medications)
			}
			if m := d.Medications[0]; m.Name != c.wantName || m.Conflict != c.wantConf {
				t.Errorf("name %q conflict %q, want %q and %q", m.Name, m.Conflict, c.wantName, c.wantConf)
			}
		})
	}
}

// TestDeviceStatus: only a device implanted or present is an implant; a
// planned or prescribed one (moodCode INT, RQO, PRP), one a pharmacy
// dispensed, equipment or a consumable used during care, and a negated
// one each have their own status.
func TestDeviceStatus(t *testing.T) {
	dev := func(code, sys string) string {
		return `<participant typeCode="DEV"><participantRole classCode="MANU"><playingDevice classCode="DEV" determinerCode="INSTANCE"><code code="` + code + `" codeSystem="` + sys + `" displayName="D` + code + `"/></playingDevice></participantRole></participant>`
	}
	const emdn = "1.2.250.1.213.2.68"
	cases := []struct {
		name, entry string
		want        app.DeviceStatus
	}{
		{"implanted pacemaker (procedure EVN)", `<procedure classCode="PROC" moodCode="EVN"><code code="DEKA001"/><effectiveTime value="20190811"/>` + dev("J010104", emdn) + `</procedure>`, app.DeviceImplanted},
		{"planned pacemaker (procedure INT)", `<procedure classCode="PROC" moodCode="INT"><code code="DEKA001"/>` + dev("J010104", emdn) + `</procedure>`, app.DevicePlanned},
		{"requested (procedure RQO)", `<procedure classCode="PROC" moodCode="RQO">` + dev("J010104", emdn) + `</procedure>`, app.DevicePlanned},
		{"proposed (observation PRP)", `<observation classCode="OBS" moodCode="PRP"><code code="X"/>` + dev("J010104", emdn) + `</observation>`, app.DevicePlanned},
		{"prescribed bed (supply INT)", `<supply classCode="SPLY" moodCode="INT">` + dev("V0806", emdn) + `</supply>`, app.DevicePlanned},
		{"present (supply EVN, no dispenser)", `<supply classCode="SPLY" moodCode="EVN"><effectiveTime><low value="20181203"/></effectiveTime>` + dev("J010104", emdn) + `</supply>`, app.DeviceImplanted},
		{"contrast injector used", `<supply classCode="SPLY" moodCode="EVN">` + dev("Z11039014", emdn) + `</supply>`, app.DeviceUsed},
		{"dressing used", `<supply classCode="SPLY" moodCode="EVN">` + dev("M0404", emdn) + `</supply>`, app.DeviceUsed},
		{"dispensed by a pharmacy", `<supply classCode="SPLY" moodCode="EVN"><performer><time value="20190711"/><assignedEntity><representedOrganization><name>PHARMACIE</name></representedOrganization></assignedEntity></performer>` + dev("3408693", "1.2.250.1.215.200.1.1.3") + `</supply>`, app.DeviceDispensed},
		{"not implanted (negated)", `<procedure classCode="PROC" moodCode="EVN" negationInd="true">` + dev("J010104", emdn) + `</procedure>`, app.DeviceNegated},
		{"unknown category, EVN: taken as implanted", `<supply classCode="SPLY" moodCode="EVN">` + dev("GEN-092.02.02", "1.2.250.1.213.1.1.4.322") + `</supply>`, app.DeviceImplanted},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := ParseBytes([]byte(entries("", `<entry>`+c.entry+`</entry>`)), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(d.Devices) != 1 {
				t.Fatalf("devices %+v", d.Devices)
			}
			dv := d.Devices[0]
			if got := dv.State(); got != c.want {
				t.Errorf("state %s, want %s", got, c.want)
			}
			implants := app.ImplantedDevices(d.Devices)
			if (len(implants) == 1) != (c.want == app.DeviceImplanted) || len(implants)+len(app.OtherDevices(d.Devices)) != 1 {
				t.Errorf("implanted %v, others %v", implants, app.OtherDevices(d.Devices))
			}
		})
	}
}

// TestAllergyAbsence: "no known allergy" (an absence code, or a negated
// allergy to no agent) is a documented absence (NoneKnown, Negated); a
// negated allergy to a named agent is an absence of that allergy only;
// neither is a present allergy.
func TestAllergyAbsence(t *testing.T) {
	obs := func(attrs, inner string) string {
		return `<entry><observation classCode="OBS" moodCode="EVN" ` + attrs + `><templateId root="1.3.6.1.4.1.19376.1.5.3.1.4.6"/>` + inner + `</observation></entry>`
	}
	agent := `<participant typeCode="CSM"><participantRole classCode="MANU"><playingEntity classCode="MMAT"><code code="J01CA04" codeSystem="2.16.840.1.113883.6.73" displayName="amoxicilline"/></playingEntity></participantRole></participant>`
	cases := []struct {
		name, entry        string
		negated, noneKnown bool
		text               string
	}{
		{"no known allergy code", obs(``, `<code code="ASSERTION" codeSystem="2.16.840.1.113883.5.4"/><value xsi:type="CD" code="716186003" codeSystem="2.16.840.1.113883.6.96" displayName="Aucune allergie connue"/>`), true, true, ""},
		{"no known drug allergy code", obs(``, `<code code="DALG" codeSystem="2.16.840.1.113883.5.4"/><value xsi:type="CD" code="409137002" codeSystem="2.16.840.1.113883.6.96"/>`), true, true, ""},
		{"negated allergy, no agent (IHE)", obs(`negationInd="true"`, `<code code="ALG" codeSystem="2.16.840.1.113883.5.4"/><participant typeCode="CSM"><participantRole classCode="MANU"><playingEntity classCode="MMAT"><code nullFlavor="NA"/></playingEntity></participantRole></participant>`), true, true, ""},
		{"negated allergy to a named agent", obs(`negationInd="true"`, `<code code="DALG" codeSystem="2.16.840.1.113883.5.4"/>`+agent), true, false, "amoxicilline"},
		{"an allergy", obs(``, `<code code="DALG" codeSystem="2.16.840.1.113883.5.4"/>`+agent), false, false, "amoxicilline"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := ParseBytes([]byte(entries("", c.entry)), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(d.Allergies) != 1 {
				t.Fatalf("allergies %+v", d.Allergies)
			}
			a := d.Allergies[0]
			if a.Negated != c.negated || a.NoneKnown != c.noneKnown || c.text != "" && a.Text != c.text {
				t.Errorf("negated %v none known %v text %q, want %v %v %q", a.Negated, a.NoneKnown, a.Text, c.negated, c.noneKnown, c.text)
			}
			if present := app.PresentAllergies(d.Allergies); (len(present) == 1) == c.negated {
				t.Errorf("present %+v", present)
			}
			if absent := app.AbsentAllergies(d.Allergies); (len(absent) == 1) != c.negated {
				t.Errorf("absent %+v", absent)
			}
		})
	}
}

// TestSkipMediaSamples: with Options.SkipMedia every sample gives the same
// facts as a full read, and no embedded media (nothing decoded, nothing
// flagged about them).
func TestSkipMediaSamples(t *testing.T) {
	for name := range sampleGoldens {
		t.Run(name, func(t *testing.T) {
			full := parseSample(t, name)
			d, err := ParseBytes(readSample(t, name), Options{SkipMedia: true})
			if err != nil {
				t.Fatal(err)
			}
			if len(d.Media) != 0 {
				t.Errorf("%d media decoded", len(d.Media))
			}
			var want []string
			for _, l := range golden(full) {
				if !strings.HasPrefix(l, "media ") {
					want = append(want, l)
				}
			}
			if got := golden(d); !slices.Equal(got, want) {
				t.Errorf("facts differ:\n got %q\nwant %q", got, want)
			}
		})
	}
}
