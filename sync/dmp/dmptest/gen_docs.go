package dmptest

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/sync/dmp/fhir"
)

// uidRoot is the (fictitious) OID arc of the sandbox's document uniqueIds.
const uidRoot = "1.2.250.1.999.1"

// docKind is a kind of synthetic document.
type docKind struct {
	Type, TypeSystem, TypeName string
	Class, ClassName           string
	Title                      string
	Facility, FacilityLbl      string
	Template                   string
}

var (
	kindVSM = docKind{"SYNTH", oidTREA05, "Synthèse", "11", "Synthèse", "Volet de synthèse médicale",
		"SA42", "Cabinet individuel", "1.2.250.1.213.1.1.1.13"}
	kindREMB = docKind{"REMB", oidTREA05, "Données de remboursement", "60", "Données de remboursement", "Historique des remboursements",
		"SA41", "Assurance Maladie", "1.2.250.1.213.1.1.1.36"}
	kindLDL = docKind{"11490-0", oidLOINC, "Lettre de liaison à la sortie d'un établissement de soins", "10", "Compte rendu",
		"Lettre de liaison à la sortie", "SA01", "Établissement public de santé", "1.2.250.1.213.1.1.1.29"}
	kindBIO = docKind{"11502-2", oidLOINC, "CR d'examens biologiques", "10", "Compte rendu", "Compte rendu de biologie",
		"SA29", "Laboratoire de biologie médicale", "1.2.250.1.213.1.1.1.55"}
	kindIMG = docKind{"18748-4", oidLOINC, "CR d'imagerie médicale", "31", "Imagerie médicale", "Compte rendu d'imagerie",
		"SA05", "Centre de radiologie", ""}
	kindCPA = docKind{"34749-2", oidLOINC, "CR de consultation pré-anesthésique", "10", "Compte rendu", "Consultation pré-anesthésique",
		"SA07", "Clinique", "1.2.250.1.213.1.1.1.20"}
	kindCONS = docKind{"11488-4", oidLOINC, "CR ou fiche de consultation ou de visite", "10", "Compte rendu", "Compte rendu de consultation",
		"SA42", "Cabinet individuel", ""}
)

// hospital authors that are not sandbox practitioners.
var otherAuthors = []cdaAuthor{
	{RPPS: rppsWithKey("2000000011"), FirstName: "Anaïs", LastName: "Rousseau", Role: "G15_10/SM53", RoleName: "Médecin - Médecine interne", OrgID: "1750000011", OrgName: "CHU Saint-Antoine"},
	{RPPS: rppsWithKey("2000000012"), FirstName: "Gaël", LastName: "Da Silva", Role: "G15_10/SM44", RoleName: "Médecin - Radiologie", OrgID: "34000000000441", OrgName: "Imagerie du Val"},
	{RPPS: rppsWithKey("2000000013"), FirstName: "Cécile", LastName: "Lemaître", Role: "G15_21/SM09", RoleName: "Pharmacien biologiste", OrgID: "34000000000992", OrgName: "Laboratoire Bio-Seine"},
}

var amDevice = cdaAuthor{Device: true, Name: "Assurance Maladie", OrgID: "180035024", OrgName: "Caisse nationale de l'Assurance Maladie"}

func authorOf(p Practitioner) cdaAuthor {
	first, last, _ := strings.Cut(strings.TrimPrefix(p.Name, "Dr "), " ")
	return cdaAuthor{RPPS: p.RPPS, FirstName: first, LastName: last, Role: "G15_" + p.Profession.Code + "/" + p.Specialty.Code,
		RoleName: p.Profession.Display, OrgID: p.Structure.ID, OrgName: p.Structure.Name}
}

// newRecord builds patient i's record status from the population rules
// (see the package documentation).
func newRecord(i int, p app.Patient, epoch time.Time) *record {
	rec := &record{Index: i, Patient: p, Exists: i%40 != 39, Closed: i%50 == 49, AttachMES: i%3 != 2,
		Authz: map[string]time.Time{}, Blocked: map[string]bool{}}
	if rec.Closed {
		rec.ClosedAt = epoch.AddDate(0, -3, 0)
	}
	year := epoch.AddDate(1, 0, 0)
	gp, an, bl, nu := practitionerByKey(KeyGP).RPPS, practitionerByKey(KeyAnesthetist).RPPS, practitionerByKey(KeyBlocked).RPPS, practitionerByKey(KeyNurse).RPPS
	if i%4 != 3 {
		rec.Treating = gp
		rec.Authz[gp] = year
	}
	if i%2 == 0 {
		rec.Authz[an] = year
		if i%10 == 4 {
			rec.Authz[an] = epoch.AddDate(0, 0, -1) // expired
		}
	}
	rec.Authz[bl] = year
	if i%3 == 0 {
		rec.Blocked[bl] = true
	}
	if i%5 == 0 {
		rec.Authz[nu] = year
	}
	return rec
}

// genDoc is a document before it is registered.
type genDoc struct {
	kind     docKind
	at       time.Time // act date
	sub      time.Time // submission (lastUpdated)
	author   cdaAuthor
	authRPPS string
	masked   bool
	replaces int // index in the list of the version it replaces, -1
}

// generate writes patient rec's documents, deterministic from seed and the
// patient's index: 10 to 80 over five years before epoch.
func (d *data) generate(seed uint64, rec *record, epoch time.Time) {
	rec.generated = true
	if !rec.Exists {
		return
	}
	r := rand.New(rand.NewPCG(seed, uint64(rec.Index)*0x9e3779b97f4a7c15+7))
	p := rec.Patient
	age := epoch.Year() - atoiPrefix(p.BirthDate, 4)
	meds := treatment(r, age)
	gp, an := practitionerByKey(KeyGP), practitionerByKey(KeyAnesthetist)
	n := 10 + r.IntN(71)
	start := epoch.AddDate(-5, 0, 0)
	span := epoch.Sub(start)
	day := func(t time.Time) time.Time { // submissions land at 08:00 UTC: many equal timestamps
		y, m, dd := t.UTC().Date()
		return time.Date(y, m, dd, 8, 0, 0, 0, time.UTC)
	}
	var plan []genDoc
	// three VSM versions, each replacing the previous
	for k := 0; k < 3; k++ {
		at := start.Add(span * time.Duration(1+3*k) / 10)
		plan = append(plan, genDoc{kind: kindVSM, at: at, sub: day(at.Add(24 * time.Hour)), author: authorOf(gp), authRPPS: gp.RPPS, replaces: len(plan) - 1})
	}
	plan[0].replaces = -1
	// reimbursement history: an older version superseded by the current one
	for k := 0; k < 2; k++ {
		at := epoch.AddDate(0, -6*(1-k), -1)
		plan = append(plan, genDoc{kind: kindREMB, at: at, sub: day(at), author: amDevice, replaces: map[bool]int{true: -1, false: len(plan) - 1}[k == 0]})
	}
	for len(plan) < n {
		at := start.Add(time.Duration(r.Int64N(int64(span))))
		g := genDoc{at: at, sub: day(at.Add(time.Duration(r.IntN(3)) * 24 * time.Hour)), replaces: -1}
		switch k := r.IntN(10); {
		case k < 3:
			g.kind, g.author = kindBIO, otherAuthors[2]
		case k < 5:
			g.kind, g.author, g.authRPPS = kindCONS, authorOf(gp), gp.RPPS
		case k < 7:
			g.kind, g.author = kindIMG, otherAuthors[1]
		case k < 9:
			g.kind, g.author = kindLDL, otherAuthors[0]
		default:
			g.kind, g.author, g.authRPPS = kindCPA, authorOf(an), an.RPPS
		}
		if g.authRPPS == "" {
			g.authRPPS = g.author.RPPS
		}
		g.masked = r.IntN(12) == 0
		plan = append(plan, g)
		if g.kind == kindBIO && len(plan) < n { // labs often come in pairs, same submission
			g2 := g
			g2.at = g.at.Add(time.Hour)
			plan = append(plan, g2)
		}
	}
	ids := make([]string, len(plan))
	docs := make([]*doc, len(plan))
	for k, g := range plan {
		ids[k] = fmt.Sprintf("%s.%d.%d.%d", uidRoot, seed, rec.Index+1, k+1)
		cd := cdaDoc{ID: ids[k], SetID: ids[k], Version: 1, TypeCode: g.kind.Type, TypeSystem: g.kind.TypeSystem, TypeName: g.kind.TypeName,
			Title: g.kind.Title, Created: g.at.Add(2 * time.Hour), ActStart: g.at, Patient: p, Author: g.author,
			Facility: g.kind.Facility, FacilityLbl: g.kind.FacilityLbl}
		if g.kind.Template != "" {
			cd.Templates = []string{g.kind.Template}
		}
		if g.replaces >= 0 {
			cd.Replaces, cd.SetID, cd.Version = ids[g.replaces], setIDOf(plan, ids, k), 1+countPrev(plan, k)
		}
		body(r, &cd, g.kind, meds, epoch)
		content := writeCDA(cd)
		dc := newDoc(rec, fmt.Sprintf("%s-d%02d", rec.Patient.ID, k+1), fmt.Sprintf("%s-b%02d", rec.Patient.ID, k+1), cd, g.kind, content)
		dc.Author = g.authRPPS
		if g.masked {
			dc.Ref.SecurityLabel = fhir.SecurityLabels(app.Visibility{MaskedToProfessionals: true})
			dc.changed()
		}
		dc.Seq = d.nextSeq()
		dc.stamp(1, g.sub)
		docs[k] = dc
	}
	for k, g := range plan {
		if g.replaces >= 0 {
			old := docs[g.replaces]
			docs[k].Ref.RelatesTo = []fhir.RelatesTo{{Code: "replaces", Target: fhir.Reference{Reference: "DocumentReference/" + old.Ref.ID}}}
			docs[k].changed()
			old.Ref.Status = "superseded"
			old.stamp(2, docs[k].LastUpdated)
		}
	}
	for _, dc := range docs {
		d.register(rec, dc)
		rec.Lists = append(rec.Lists, newSubset(d, rec, fmt.Sprintf("%s-s%s", rec.Patient.ID, strings.TrimPrefix(dc.Ref.ID, string(rec.Patient.ID)+"-d")), dc.LastUpdated, dc.Author, dc))
	}
}

func countPrev(plan []genDoc, k int) int {
	n := 0
	for j := plan[k].replaces; j >= 0; j = plan[j].replaces {
		n++
	}
	return n
}

func setIDOf(plan []genDoc, ids []string, k int) string {
	for plan[k].replaces >= 0 {
		k = plan[k].replaces
	}
	return ids[k]
}

func atoiPrefix(s string, n int) int {
	if len(s) < n {
		return 0
	}
	v, _ := strconv.Atoi(s[:n])
	return v
}

// body fills the document's sections (or PDF) for its kind.
func body(r *rand.Rand, cd *cdaDoc, k docKind, meds []med, epoch time.Time) {
	name := cd.Patient.DisplayName()
	switch k {
	case kindVSM:
		rows := [][]string{{"Médicament", "DCI", "ATC", "Posologie"}}
		for _, m := range meds {
			rows = append(rows, []string{m.Name, m.DCI, m.ATC, m.Dose})
		}
		cd.Sections = []cdaSection{
			{Code: "11450-4", Title: "Problèmes actifs", Paras: []string{pick(r, "Hypertension artérielle.", "Diabète de type 2.", "Fibrillation atriale.", "Trouble bipolaire stabilisé.", "BPCO stade 2.")}},
			{Code: "48765-2", Title: "Allergies et intolérances", Paras: []string{pick(r, "Aucune allergie connue.", "Allergie à la pénicilline (urticaire).", "Intolérance à la codéine.")}},
			{Code: "10160-0", Title: "Traitements", Table: rows, Entries: medEntries(meds, false, nil)},
		}
	case kindREMB:
		rembBody(r, cd, meds, nil)
	case kindLDL:
		cd.ActEnd = cd.ActStart.Add(time.Duration(1+r.IntN(10)) * 24 * time.Hour)
		cd.Sections = []cdaSection{
			{Code: "42346-7", Title: "Traitements à l'admission", Paras: []string{meds[0].Name + " " + meds[0].Dose + "."}},
			{Code: "8648-8", Title: "Synthèse du séjour", Paras: []string{"Hospitalisation de " + name + " pour " + pick(r, "décompensation cardiaque.", "pneumopathie.", "chute avec fracture du col fémoral.", "malaise.") + " Évolution favorable."}},
			{Code: "10183-2", Title: "Traitements de sortie", Table: medTable(meds), Entries: medEntries(meds, false, nil)},
		}
	case kindBIO:
		cd.Sections = []cdaSection{{Code: "18719-5", Title: "Biochimie", Table: [][]string{
			{"Analyse", "Résultat", "Unité", "Valeurs de référence"},
			{"Créatinine", strconv.Itoa(55 + r.IntN(80)), "µmol/L", "45–104"},
			{"Hémoglobine glyquée", fmt.Sprintf("%.1f", 5+r.Float64()*4), "%", "4,0–6,0"},
			{"INR", fmt.Sprintf("%.1f", 1+r.Float64()*2.5), "", "2,0–3,0 sous AVK"},
			{"Kaliémie", fmt.Sprintf("%.1f", 3.4+r.Float64()*1.6), "mmol/L", "3,5–5,0"},
		}}}
	case kindIMG:
		exam := pick(r, "Radiographie thoracique", "Échographie abdominale", "Scanner cérébral sans injection", "IRM du genou droit")
		cd.Title = "Compte rendu – " + exam
		cd.PDF = minimalPDF([]string{"Compte rendu d'imagerie médicale", exam, "Patient : " + name, "Date : " + cd.ActStart.In(paris).Format("02/01/2006"),
			"Conclusion : " + pick(r, "examen normal.", "pas d'anomalie significative.", "aspect compatible avec une arthrose débutante.")})
	case kindCPA:
		cd.Sections = []cdaSection{
			{Code: "10160-0", Title: "Traitements en cours", Table: medTable(meds), Entries: medEntries(meds, false, nil)},
			{Code: "51848-0", Title: "Évaluation anesthésique", Paras: []string{fmt.Sprintf("Score ASA %d. Mallampati %d. Intervention prévue : %s.", 1+r.IntN(3), 1+r.IntN(3), pick(r, "cholécystectomie", "prothèse totale de hanche", "cure de hernie inguinale", "coloscopie"))}},
			{Code: "18776-5", Title: "Conduite à tenir pour les traitements", Paras: []string{"Anticoagulants et antiagrégants : arrêt selon protocole, relais discuté. Metformine suspendue la veille."}},
		}
	default:
		cd.Sections = []cdaSection{{Code: "29545-1", Title: "Examen clinique", Paras: []string{"Consultation de suivi de " + name + ".", pick(r, "Tension artérielle 13/8.", "Auscultation normale.", "Poids stable.")}}}
	}
}

func medTable(meds []med) [][]string {
	rows := [][]string{{"Médicament", "Posologie"}}
	for _, m := range meds {
		rows = append(rows, []string{m.Name, m.Dose})
	}
	return rows
}

func pick(r *rand.Rand, s ...string) string { return s[r.IntN(len(s))] }
