package meds_test

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/meds"
)

// A realistic mix of chronic treatments: ATC level 5, brand name, CIP13.
var catalogue = []struct{ atc, name, cip string }{
	{"B01AF02", "ELIQUIS 5 mg, comprimé pelliculé", "3400939475868"},
	{"B01AC06", "KARDEGIC 75 mg, poudre pour solution buvable", "3400934998326"},
	{"C07AB07", "BISOPROLOL ARROW 5 mg, comprimé", "3400936211117"},
	{"C09AA05", "RAMIPRIL BIOGARAN 5 mg, gélule", "3400936713245"},
	{"C09CA01", "LOSARTAN MYLAN 50 mg, comprimé", "3400937543119"},
	{"C08CA01", "AMLOR 5 mg, gélule", "3400933184526"},
	{"C10AA07", "CRESTOR 5 mg, comprimé pelliculé", "3400939169002"},
	{"C10AA05", "TAHOR 10 mg, comprimé pelliculé", "3400936432000"},
	{"A10BA02", "METFORMINE TEVA 1000 mg, comprimé", "3400935822338"},
	{"A10BK01", "FORXIGA 10 mg, comprimé pelliculé", "3400927603457"},
	{"A10BJ06", "OZEMPIC 1 mg, solution injectable en stylo", "3400930176434"},
	{"A10AE04", "LANTUS 100 unités/ml, solution injectable", "3400935836311"},
	{"N02BE01", "DOLIPRANE 1000 mg, comprimé", "3400935955838"},
	{"N02AX02", "TRAMADOL ARROW 50 mg, gélule", "3400936125145"},
	{"M01AE01", "IBUPROFENE EG 400 mg, comprimé", "3400937190214"},
	{"H02AB07", "CORTANCYL 20 mg, comprimé sécable", "3400933221238"},
	{"H03AA01", "LEVOTHYROX 75 microgrammes, comprimé sécable", "3400934571852"},
	{"A02BC05", "INEXIUM 20 mg, comprimé gastro-résistant", "3400935585646"},
	{"N05AN01", "TERALITHE 250 mg, comprimé sécable", "3400931911722"},
	{"N06AB05", "DEROXAT 20 mg, comprimé pelliculé sécable", "3400934918560"},
	{"N05BA12", "XANAX 0,25 mg, comprimé sécable", "3400932556595"},
	{"N03AX14", "KEPPRA 500 mg, comprimé pelliculé", "3400935642158"},
	{"N04BA02", "MODOPAR 125, gélule", "3400932811069"},
	{"L04AD02", "PROGRAF 1 mg, gélule", "3400935478054"},
	{"G03AA07", "LUDEAL, comprimé", "3400935673220"},
	{"R03AK06", "SERETIDE 250/50 microgrammes/dose", "3400935512369"},
	{"C03CA01", "LASILIX 40 mg, comprimé sécable", "3400931869320"},
	{"B03BB01", "SPECIAFOLDINE 5 mg, comprimé", "3400932112227"},
	{"A12AX", "CACIT VITAMINE D3 1000 mg/880 UI", "3400935978820"},
	{"M04AA01", "ZYLORIC 100 mg, comprimé", "3400932080526"},
}

var typeCodes = []string{"57833-6", "57833-6", "57833-6", "SYNTH", "11490-0", "11488-4", "34749-2", "60593-1"}

// benchDocs returns n documents' metadata, some of them unstructured.
func benchDocs(n int) []app.DocumentMeta {
	docs := make([]app.DocumentMeta, n)
	for i := range docs {
		docs[i] = app.DocumentMeta{ID: app.DocumentID(fmt.Sprintf("doc-%03d", i)), TypeCode: typeCodes[i%len(typeCodes)],
			Date: now.AddDate(0, 0, -7*i), MediaType: "application/pdf", Superseded: i%17 == 0}
	}
	return docs
}

// benchLines returns n medication lines spread over docs documents: one
// reimbursement history holding about 60% of them (dispensings with CNAM
// CIP and ATC group only), the rest treatments and prescriptions with ATC
// level 5, some declarations and some lines with a name only.
func benchLines(docs, n int) []app.Medication {
	r := rand.New(rand.NewSource(42))
	lines := make([]app.Medication, 0, n)
	hr := app.MedicationSource{Document: "doc-cnam-hr", TypeCode: "REMB", Date: now.AddDate(0, 0, -3), Author: "Assurance Maladie"}
	for i := 0; len(lines) < n; i++ {
		c := catalogue[r.Intn(len(catalogue))]
		d := r.Intn(docs-1) + 1
		src := app.MedicationSource{Document: app.DocumentID(fmt.Sprintf("doc-%03d", d)), TypeCode: typeCodes[d%len(typeCodes)],
			Date: now.AddDate(0, 0, -7*d), Author: fmt.Sprintf("Dr Auteur %d", d%23)}
		switch k := i % 10; {
		case k < 6:
			group := c.atc[:3]
			lines = append(lines, app.Medication{Kind: app.MedicationDispensed, Name: c.name, Product: ccip(c.cip), ATC: atc3(group),
				Dispensed: now.AddDate(0, 0, -r.Intn(730)), Quantity: "1", Prescriber: fmt.Sprintf("Dr Prescripteur %d", r.Intn(9)), Source: hr})
		case k < 8:
			lines = append(lines, app.Medication{Kind: app.MedicationPrescribed, Name: c.name, Product: cip(c.cip), ATC: atc(c.atc),
				Start: src.Date, Prescriber: src.Author, Dose: "1 comprimé", Frequency: "1 fois par jour", Source: src})
		case k < 9:
			m := app.Medication{Kind: app.MedicationTreatment, Name: c.name, ATC: atc(c.atc), Source: src}
			if r.Intn(4) == 0 {
				m.End = src.Date.AddDate(0, -r.Intn(12), 0)
			}
			if r.Intn(3) == 0 {
				m.Start = src.Date.AddDate(-r.Intn(5), 0, 0)
			}
			lines = append(lines, m)
		default:
			if r.Intn(2) == 0 {
				lines = append(lines, app.Medication{Kind: app.MedicationDeclared, Name: c.name,
					Source: app.MedicationSource{Author: "IDE", Date: now.AddDate(0, 0, -r.Intn(60))}})
			} else {
				lines = append(lines, app.Medication{Kind: app.MedicationTreatment, Name: fmt.Sprintf("PREPARATION %c%c", 'K'+r.Intn(6), 'K'+r.Intn(6)), Source: src})
			}
		}
	}
	return lines
}

// BenchmarkConsolidate: a patient with 200 documents and 2,000 medication
// lines. Goal: ≤ 5 ms per consolidation.
func BenchmarkConsolidate(b *testing.B) {
	lines := benchLines(200, 2000)
	docs := benchDocs(200)
	var l meds.List
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		l = meds.Consolidate(lines, docs, now)
	}
	b.StopTimer()
	b.ReportMetric(float64(l.Entries), "entries")
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/op")
}
