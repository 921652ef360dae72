package dmptest

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// med is a medication of the synthetic catalogue: the molecules that
// matter before surgery (anticoagulants, antiplatelets, antidiabetics,
// lithium, corticoids) and common others. ATC codes are the WHO ones; the
// CIP13 codes are synthetic (34009 + 7 digits + EAN-13 key), well formed
// but not real presentations.
type med struct {
	Name  string // the presentation label as the reimbursement history shows it
	DCI   string // active substance
	ATC   string // ATC level 5
	ATC3L string // ATC level 3 label
	CIP13 string
	Dose  string
}

func cip13(body7 string) string {
	b := "340093" + body7[:6]
	sum := 0
	for i, c := range b {
		d := int(c - '0')
		if i%2 == 1 {
			d *= 3
		}
		sum += d
	}
	return b + fmt.Sprint((10-sum%10)%10)
}

var catalogue = []med{
	{"ELIQUIS 5 mg cp pellic", "apixaban", "B01AF02", "ANTITHROMBOTIQUES", cip13("4924031"), "1 cp matin et soir"},
	{"PREVISCAN 20 mg cp séc", "fluindione", "B01AA12", "ANTITHROMBOTIQUES", cip13("3209142"), "1 cp le soir selon INR"},
	{"CLOPIDOGREL 75 mg cp pellic", "clopidogrel", "B01AC04", "ANTITHROMBOTIQUES", cip13("4957203"), "1 cp par jour"},
	{"KARDEGIC 75 mg pdre sol buv", "acide acétylsalicylique", "B01AC06", "ANTITHROMBOTIQUES", cip13("3622514"), "1 sachet par jour"},
	{"METFORMINE 1000 mg cp pellic", "metformine", "A10BA02", "MEDICAMENTS DU DIABETE SAUF INSULINES", cip13("3797325"), "1 cp matin et soir"},
	{"FORXIGA 10 mg cp pellic", "dapagliflozine", "A10BK01", "MEDICAMENTS DU DIABETE SAUF INSULINES", cip13("2677436"), "1 cp par jour"},
	{"OZEMPIC 1 mg sol inj stylo", "sémaglutide", "A10BJ06", "MEDICAMENTS DU DIABETE SAUF INSULINES", cip13("3018547"), "1 injection par semaine"},
	{"LANTUS 100 U/ml sol inj stylo", "insuline glargine", "A10AE04", "INSULINES ET ANALOGUES", cip13("3656658"), "20 U le soir"},
	{"TERALITHE 400 mg cp séc LP", "lithium", "N05AN01", "ANTIPSYCHOTIQUES", cip13("3147769"), "1 cp le soir"},
	{"CORTANCYL 20 mg cp séc", "prednisone", "H02AB07", "CORTICOIDES A USAGE SYSTEMIQUE", cip13("3129870"), "1 cp le matin"},
	{"AMLODIPINE 5 mg gél", "amlodipine", "C08CA01", "INHIBITEURS CALCIQUES", cip13("3638981"), "1 gél par jour"},
	{"ATORVASTATINE 20 mg cp pellic", "atorvastatine", "C10AA05", "HYPOLIPIDEMIANTS", cip13("3862092"), "1 cp le soir"},
	{"RAMIPRIL 5 mg cp séc", "ramipril", "C09AA05", "IEC", cip13("3599103"), "1 cp par jour"},
	{"BISOPROLOL 5 mg cp pellic séc", "bisoprolol", "C07AB07", "BETABLOQUANTS", cip13("3649214"), "1 cp le matin"},
	{"LEVOTHYROX 75 µg cp séc", "lévothyroxine", "H03AA01", "MEDICAMENTS DE LA THYROIDE", cip13("3586325"), "1 cp à jeun"},
	{"OMEPRAZOLE 20 mg gél gastrorés", "oméprazole", "A02BC01", "MEDICAMENTS DE L'ULCERE", cip13("3575436"), "1 gél le matin"},
	{"DOLIPRANE 1000 mg cp", "paracétamol", "N02BE01", "AUTRES ANALGESIQUES ET ANTIPYRETIQUES", cip13("3600547"), "1 cp si douleur, max 3/j"},
	{"FUROSEMIDE 40 mg cp séc", "furosémide", "C03CA01", "DIURETIQUES", cip13("3129658"), "1 cp le matin"},
	{"SERTRALINE 50 mg gél", "sertraline", "N06AB06", "PSYCHOANALEPTIQUES", cip13("3716769"), "1 gél par jour"},
	{"VENTOLINE 100 µg susp inhal", "salbutamol", "R03AC02", "ANTIASTHMATIQUES", cip13("3162870"), "2 bouffées si besoin"},
}

// treatment picks 2 to 7 distinct medications for a patient; every patient
// over 60 gets one perioperative-relevant drug among the first ten.
func treatment(r *rand.Rand, age int) []med {
	n := 2 + r.IntN(6)
	idx := r.Perm(len(catalogue))[:n]
	out := make([]med, 0, n+1)
	seen := map[int]bool{}
	if age > 60 {
		k := r.IntN(10)
		out = append(out, catalogue[k])
		seen[k] = true
	}
	for _, i := range idx {
		if !seen[i] {
			out = append(out, catalogue[i])
			seen[i] = true
		}
	}
	return out
}

// medEntries writes FR-Traitement entries (N3) for meds, CIP13 and ATC coded.
func medEntries(meds []med, cnam bool, dispensed []time.Time) string {
	var b strings.Builder
	for i, m := range meds {
		cipSys, atc, atcSys := "1.2.250.1.213.2.3.2", m.ATC, "2.16.840.1.113883.6.73"
		if cnam {
			cipSys, atc, atcSys = "1.2.250.1.215.200.1.1.1", m.ATC[:3], "1.2.250.1.215.200.1.2.1"
		}
		fmt.Fprintf(&b, `<entry><substanceAdministration classCode="SBADM" moodCode="EVN">`+
			`<templateId root="2.16.840.1.113883.10.20.1.24"/><templateId root="1.3.6.1.4.1.19376.1.5.3.1.4.7"/>`+
			`<templateId root="1.2.250.1.213.1.1.3.42"/><templateId root="1.3.6.1.4.1.19376.1.5.3.1.4.7.1"/>`+
			`<id root="1.2.250.1.999.4.%d"/><text><reference value="#MED%03d"/></text><statusCode code="completed"/>`+
			`<effectiveTime xsi:type="IVL_TS"><low nullFlavor="UNK"/><high nullFlavor="UNK"/></effectiveTime>`+
			`<consumable><manufacturedProduct><templateId root="2.16.840.1.113883.10.20.1.53"/>`+
			`<templateId root="1.3.6.1.4.1.19376.1.5.3.1.4.7.2"/><templateId root="1.2.250.1.213.1.1.3.43"/>`+
			`<manufacturedMaterial><code><originalText><reference value="#MED%03d"/></originalText>`+
			`<translation code="%s" codeSystem="%s" displayName="%s"/><translation code="%s" codeSystem="%s" displayName="%s"/></code>`+
			`<name>%s</name></manufacturedMaterial></manufacturedProduct></consumable>`,
			i+1, i+1, i+1, m.CIP13, cipSys, esc(m.Name), atc, atcSys, esc(m.ATC3L), esc(m.Name))
		if cnam && i < len(dispensed) {
			fmt.Fprintf(&b, `<entryRelationship typeCode="REFR"><supply classCode="SPLY" moodCode="EVN">`+
				`<templateId root="2.16.840.1.113883.10.20.1.34"/><templateId root="1.3.6.1.4.1.19376.1.5.3.1.4.7.3"/>`+
				`<templateId root="1.2.250.1.213.1.1.3.44"/><id root="1.2.250.1.999.5.%d"/><quantity value="1"/>`+
				`<performer><time value="%s"/><assignedEntity><id nullFlavor="UNK"/></assignedEntity></performer></supply></entryRelationship>`,
				i+1, dispensed[i].Format("20060102"))
		}
		b.WriteString(`</substanceAdministration></entry>`)
	}
	return b.String()
}
