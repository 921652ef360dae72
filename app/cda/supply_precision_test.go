package cda

import (
	"testing"

	"github.com/carnetdesk/carnet/app"
)

// TestSupplyDatePrecision: a dispensation dated by its performer's time,
// or by its section author's, keeps the precision written there ("20190711"
// is a day, not midnight; "201907" a month).
func TestSupplyDatePrecision(t *testing.T) {
	product := `<product><manufacturedProduct><manufacturedMaterial><code code="3400933516390" codeSystem="1.2.250.1.213.2.3.2" displayName="PARACETAMOL 500 mg"/></manufacturedMaterial></manufacturedProduct></product>`
	device := `<participant typeCode="DEV"><participantRole classCode="MANU"><playingDevice><code code="J0105" codeSystem="1.2.250.1.213.2.68" displayName="DEFIBRILLATEUR"/></playingDevice></participantRole></participant>`
	for _, tc := range []struct {
		name, author, supply string
		want                 string
	}{
		{"performer day", "", `<supply moodCode="EVN"><performer><time value="20190711"/><assignedEntity><id nullFlavor="UNK"/></assignedEntity></performer>` + product + `</supply>`, "11/07/2019"},
		{"performer month", "", `<supply moodCode="EVN"><performer><time value="201907"/><assignedEntity><id nullFlavor="UNK"/></assignedEntity></performer>` + product + `</supply>`, "07/2019"},
		{"performer minute", "", `<supply moodCode="EVN"><performer><time value="201907110930+0200"/><assignedEntity><id nullFlavor="UNK"/></assignedEntity></performer>` + product + `</supply>`, "11/07/2019 09:30"},
		{"section author day", `<author><time value="20211201"/><assignedAuthor><id nullFlavor="UNK"/></assignedAuthor></author>`, `<supply moodCode="EVN">` + product + `</supply>`, "01/12/2021"},
		{"device performer day", "", `<supply moodCode="EVN"><performer><time value="20190528"/><assignedEntity><id nullFlavor="UNK"/></assignedEntity></performer>` + device + `</supply>`, "28/05/2019"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := doc(insTest, `<structuredBody><component><section><title>S</title><text>x</text>`+tc.author+`<entry>`+tc.supply+`</entry></section></component></structuredBody>`)
			d, err := ParseBytes([]byte(in), Options{})
			if err != nil {
				t.Fatal(err)
			}
			var got string
			switch {
			case len(d.Medications) == 1:
				m := d.Medications[0]
				got = app.FormatDate(m.Dispensed, m.DispensedPrecision)
			case len(d.Devices) == 1:
				got = app.FormatDate(d.Devices[0].Date, d.Devices[0].Precision)
			default:
				t.Fatalf("medications %+v devices %+v", d.Medications, d.Devices)
			}
			if got != tc.want {
				t.Errorf("date %q, want %q", got, tc.want)
			}
		})
	}
}
