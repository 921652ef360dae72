package cda

import (
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
