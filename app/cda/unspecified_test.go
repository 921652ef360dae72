package cda

import "testing"

// TestAllergyUnspecified: an allergy entry that names only its kind (no
// substance, no description, a text reference resolving to nothing — as in
// the ANS LDL-SES sample, whose narrative says no allergy was found) is
// marked Unspecified, never read as an allergy to act on; an entry with a
// substance or a description is not.
func TestAllergyUnspecified(t *testing.T) {
	const kind = `<code code="416098002" displayName="allergie médicamenteuse" codeSystem="2.16.840.1.113883.6.96"/>`
	entry := func(inner string) string {
		return `<entry><act classCode="ACT" moodCode="EVN"><templateId root="1.3.6.1.4.1.19376.1.5.3.1.4.5.3"/>
<entryRelationship typeCode="SUBJ"><observation classCode="OBS" moodCode="EVN"><templateId root="1.3.6.1.4.1.19376.1.5.3.1.4.6"/>` + kind + inner +
			`</observation></entryRelationship></act></entry>`
	}
	for _, tc := range []struct {
		name, inner string
		want        bool
	}{
		{"kind only, dangling reference", `<text><reference value="#NO-ALL"/></text><value xsi:type="CD"><originalText><reference value="#"/></originalText></value>`, true},
		{"kind only", ``, true},
		{"substance", `<participant typeCode="CSM"><participantRole classCode="MANU"><playingEntity classCode="MMAT"><code code="N02BE01" codeSystem="2.16.840.1.113883.6.73" displayName="Paracétamol"/></playingEntity></participantRole></participant>`, false},
		{"coded value", `<value xsi:type="CD" code="294505008" displayName="allergie à l'amoxicilline" codeSystem="2.16.840.1.113883.6.96"/>`, false},
		{"negated", ``, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := entry(tc.inner)
			if tc.name == "negated" {
				body = `<entry><act classCode="ACT" moodCode="EVN"><templateId root="1.3.6.1.4.1.19376.1.5.3.1.4.5.3"/>
<entryRelationship typeCode="SUBJ"><observation classCode="OBS" moodCode="EVN" negationInd="true"><templateId root="1.3.6.1.4.1.19376.1.5.3.1.4.6"/>` + kind + `</observation></entryRelationship></act></entry>`
			}
			d, err := ParseBytes([]byte(entries("", body)), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(d.Allergies) != 1 {
				t.Fatalf("allergies %+v, want one", d.Allergies)
			}
			if a := d.Allergies[0]; a.Unspecified != tc.want || a.Text == "" {
				t.Errorf("allergy %+v: Unspecified = %v, want %v (and a name)", a, a.Unspecified, tc.want)
			}
		})
	}
}
