package cda

// The entries of the medical synthesis (VSM): problems, allergies,
// vaccinations, devices, and the "nothing known" entries of empty lists.

import (
	"strconv"
	"strings"

	"github.com/carnetdesk/carnet/app"
)

// codedOrText writes a coded element with its original text pointing to
// the narrative: the code as read, or nullFlavor UNK when there is none
// (a code Carnet does not know is never invented).
func (w *xw) codedOrText(name string, c app.Code, ref string, attrs ...string) {
	if c.IsZero() {
		w.open(name, append(attrs, "nullFlavor", "UNK")...)
	} else {
		w.open(name, append(attrs, "code", c.Code, "displayName", c.Display, "codeSystem", c.System, "codeSystemName", codeSystemNames[c.System])...)
	}
	w.open("originalText")
	w.leaf("reference", "value", "#"+ref)
	w.close()
	w.close()
}

// sourceRef writes the reference of an entry to the document it was read
// from.
func (w *xw) sourceRef(id app.DocumentID) {
	if id == "" {
		return
	}
	sid, err := splitID(string(id), "source")
	if err != nil {
		return // checked before writing
	}
	w.open("reference", "typeCode", "REFR")
	w.open("externalDocument", "classCode", "DOC", "moodCode", "EVN")
	w.id("id", sid)
	w.close()
	w.close()
}

// concern opens an entry act of a concern list (FR-Liste-des-problemes or
// FR-Liste-des-allergies-et-hypersensibilites) and its SUBJ relationship.
func (w *xw) concern(x *ids, list string, typ string, it SynthesisItem, active bool) error {
	eid, err := x.entryID()
	if err != nil {
		return err
	}
	w.open("entry")
	w.open("act", "classCode", "ACT", "moodCode", "EVN")
	w.leaf("templateId", "root", "2.16.840.1.113883.10.20.1.27")
	w.leaf("templateId", "root", "1.3.6.1.4.1.19376.1.5.3.1.4.5.1")
	w.leaf("templateId", "root", typ)
	w.leaf("templateId", "root", list)
	w.leaf("id", "root", eid)
	w.leaf("code", "nullFlavor", "NA")
	status := "completed"
	if active {
		status = "active"
	}
	w.leaf("statusCode", "code", status)
	w.ivl(it, !active)
	w.open("entryRelationship", "typeCode", "SUBJ", "inversionInd", "false")
	return nil
}

// endConcern closes what concern opened, with the source reference.
func (w *xw) endConcern(it SynthesisItem) {
	w.close() // entryRelationship
	w.sourceRef(it.SourceID)
	w.close() // act
	w.close() // entry
}

// writeProblems writes FR-Problemes-actifs (active) or
// FR-Antecedents-medicaux (history), VSM_1.4_2022.01.xml lines 517-758.
func (w *xw) writeProblems(x *ids, items []SynthesisItem, active bool) error {
	prefix := "atcd"
	if active {
		if err := w.vsmSection(x, "11450-4", "Liste des problèmes actifs", "Pathologies en cours",
			"2.16.840.1.113883.10.20.1.11", "1.3.6.1.4.1.19376.1.5.3.1.3.6", "1.2.250.1.213.1.1.2.132"); err != nil {
			return err
		}
		prefix = "pb"
		w.itemTable(items, prefix, "Aucune pathologie en cours renseignée.", "Pathologie")
	} else {
		if err := w.vsmSection(x, "11348-0", "Antécédents médicaux", "Antécédents",
			"1.3.6.1.4.1.19376.1.5.3.1.3.8", "1.2.250.1.213.1.1.2.134"); err != nil {
			return err
		}
		w.itemTable(items, prefix, "Aucun antécédent renseigné.", "Antécédent")
	}
	if len(items) == 0 {
		a := absentHistory
		if active {
			a = absentProblem
		}
		if err := w.writeNoKnown(x, a); err != nil {
			return err
		}
	}
	for i, it := range items {
		ref := prefix + "-" + strconv.Itoa(i+1)
		if err := w.concern(x, "1.2.250.1.213.1.1.3.39", "1.3.6.1.4.1.19376.1.5.3.1.4.5.2", it, active); err != nil {
			return err
		}
		oid, err := x.entryID()
		if err != nil {
			return err
		}
		w.open("observation", "classCode", "OBS", "moodCode", "EVN", "negationInd", "false")
		w.leaf("templateId", "root", "2.16.840.1.113883.10.20.1.28")
		w.leaf("templateId", "root", "1.3.6.1.4.1.19376.1.5.3.1.4.5")
		w.leaf("templateId", "root", "1.2.250.1.213.1.1.3.37")
		w.leaf("id", "root", oid)
		w.code("code", app.Code{Code: "282291009", System: "2.16.840.1.113883.6.96", Display: "interprétation diagnostique"}, "SNOMED CT")
		w.textRef(ref)
		w.leaf("statusCode", "code", "completed")
		w.ivl(it, false)
		w.codedOrText("value", it.Code, ref, "xsi:type", "CD")
		w.close()
		w.endConcern(it)
	}
	w.close()
	w.close()
	return nil
}

// allergyKind is the observation code of an allergy whose type the record
// does not give, or gives outside the value set the CI-SIS allows
// (JDV_TypeEvenementIndesirablePrevisible_CISIS): SNOMED CT 420134006, the
// most general of the set ("propension aux effets indésirables"), never a
// narrower guess.
var allergyKind = app.Code{Code: "420134006", System: "2.16.840.1.113883.6.96", Display: "propension aux effets indésirables"}

// allergyKinds is JDV_TypeEvenementIndesirablePrevisible_CISIS (SNOMED CT).
var allergyKinds = map[string]bool{"420134006": true, "609328004": true, "416098002": true, "414285001": true,
	"419199007": true, "609396006": true, "609398007": true, "735449006": true, "609397002": true,
	"782197009": true, "59037007": true, "235719002": true, "56840009": true}

// writeAllergies writes FR-Allergies-et-hypersensibilites
// (VSM_1.4_2022.01.xml lines 849-968).
func (w *xw) writeAllergies(x *ids, items []SynthesisItem) error {
	if err := w.vsmSection(x, "48765-2", "Allergies et hypersensibilités", "Allergies et intolérances",
		"2.16.840.1.113883.10.20.1.2", "1.3.6.1.4.1.19376.1.5.3.1.3.13", "1.2.250.1.213.1.1.2.137"); err != nil {
		return err
	}
	w.itemTable(items, "all", "Aucune allergie ni intolérance renseignée.", "Allergie ou intolérance", "Réaction")
	if len(items) == 0 {
		if err := w.writeNoKnown(x, absentAllergy); err != nil {
			return err
		}
	}
	for i, it := range items {
		ref := "all-" + strconv.Itoa(i+1)
		if err := w.concern(x, tplFRAllergyList, tplAllergyConcern, it, true); err != nil {
			return err
		}
		oid, err := x.entryID()
		if err != nil {
			return err
		}
		w.open("observation", "classCode", "OBS", "moodCode", "EVN", "negationInd", "false")
		for _, t := range []string{"2.16.840.1.113883.10.20.1.18", "2.16.840.1.113883.10.20.1.28", tplProblemEntry, tplAllergyEntry, tplFRAllergy} {
			w.leaf("templateId", "root", t)
		}
		w.leaf("id", "root", oid)
		kind := it.Kind
		if kind.System != allergyKind.System || !allergyKinds[kind.Code] {
			kind = allergyKind
		}
		w.code("code", kind, codeSystemNames[kind.System])
		w.textRef(ref)
		w.leaf("statusCode", "code", "completed")
		w.ivl(it, false)
		w.open("value", "xsi:type", "CD", "nullFlavor", "UNK")
		w.open("originalText")
		w.leaf("reference", "value", "#"+ref+"-detail")
		w.close()
		w.close()
		w.open("participant", "typeCode", "CSM")
		w.open("participantRole", "classCode", "MANU")
		w.open("playingEntity", "classCode", "MMAT")
		w.codedOrText("code", it.Code, ref)
		w.text("name", it.Text)
		w.close()
		w.close()
		w.close()
		w.close()
		w.endConcern(it)
	}
	w.close()
	w.close()
	return nil
}

// writeVaccinations writes FR-Vaccinations with FR-Vaccination entries
// (CNAM-HR_2021.01.xml lines 698-860).
func (w *xw) writeVaccinations(x *ids, lines []MedicationLine) error {
	if err := w.vsmSection(x, "11369-6", "Historique des vaccinations", "Vaccinations",
		"2.16.840.1.113883.10.20.1.6", "1.3.6.1.4.1.19376.1.5.3.1.3.23", "1.2.250.1.213.1.1.2.147"); err != nil {
		return err
	}
	w.open("text")
	if len(lines) == 0 {
		w.text("paragraph", "Aucune vaccination renseignée.", "ID", absentImmunization.ref)
	} else {
		w.tableStart("Date", "Vaccin", "Code", "ATC", "Source")
		for i, l := range lines {
			ref := "vac-" + strconv.Itoa(i+1)
			w.open("tr")
			w.cell("", dateFR(l.Start))
			w.cell(ref, l.Name)
			w.cell("", l.Product.Code)
			w.cell("", strings.TrimSpace(l.ATC.Code+" "+l.ATC.Display))
			w.cell("", l.Source)
			w.close()
		}
		w.close()
		w.close()
	}
	w.close()
	if len(lines) == 0 {
		if err := w.writeNoKnown(x, absentImmunization); err != nil {
			return err
		}
	}
	for i, l := range lines {
		ref := "vac-" + strconv.Itoa(i+1)
		eid, err := x.entryID()
		if err != nil {
			return err
		}
		w.open("entry")
		w.open("substanceAdministration", "classCode", "SBADM", "moodCode", "EVN", "negationInd", "false")
		w.leaf("templateId", "root", "2.16.840.1.113883.10.20.1.24")
		w.leaf("templateId", "root", tplImmunization)
		w.leaf("templateId", "root", tplFRVaccination)
		w.leaf("id", "root", eid)
		w.leaf("code", "code", "IMMUNIZ", "displayName", "Vaccination", "codeSystem", "2.16.840.1.113883.5.4", "codeSystemName", "HL7:ActCode")
		w.textRef(ref)
		w.leaf("statusCode", "code", "completed")
		if l.Start.IsZero() {
			w.leaf("effectiveTime", "nullFlavor", "UNK")
		} else {
			w.leaf("effectiveTime", "value", hl7Date(l.Start))
		}
		w.openProduct()
		if l.Product.IsZero() {
			w.open("code", "nullFlavor", "UNK")
		} else {
			w.open("code", "code", l.Product.Code, "displayName", l.Name, "codeSystem", l.Product.System, "codeSystemName", productSystemNames[l.Product.System])
		}
		w.open("originalText")
		w.leaf("reference", "value", "#"+ref)
		w.close()
		if !l.ATC.IsZero() {
			w.code("translation", l.ATC, "ATC")
		}
		w.close()
		w.text("name", l.Name)
		w.close()
		w.close()
		w.close()
		w.close()
		w.close()
	}
	w.close()
	w.close()
	return nil
}

// writeDevices writes FR-Dispositifs-medicaux with FR-Dispositif-medical
// entries (CNAM-HR_2021.01.xml lines 1040-1130): the device as the
// participant's playingDevice.
func (w *xw) writeDevices(x *ids, items []SynthesisItem) error {
	if err := w.vsmSection(x, "46264-8", "Dispositifs médicaux", "Dispositifs médicaux",
		"2.16.840.1.113883.10.20.1.7", "1.3.6.1.4.1.19376.1.5.3.1.1.5.3.5", "1.2.250.1.213.1.1.2.1"); err != nil {
		return err
	}
	w.itemTable(items, "dm", "Aucun dispositif médical renseigné.", "Dispositif")
	for i, it := range items {
		ref := "dm-" + strconv.Itoa(i+1)
		eid, err := x.entryID()
		if err != nil {
			return err
		}
		w.open("entry")
		w.open("supply", "classCode", "SPLY", "moodCode", "EVN")
		w.leaf("templateId", "root", "2.16.840.1.113883.10.20.1.34")
		w.leaf("templateId", "root", "1.2.250.1.213.1.1.3.20")
		w.leaf("id", "root", eid)
		w.textRef(ref)
		w.ivl(it, false)
		w.open("participant", "typeCode", "DEV")
		w.open("participantRole", "classCode", "MANU")
		w.open("playingDevice")
		w.codedOrText("code", it.Code, ref)
		w.close()
		w.close()
		w.close()
		w.sourceRef(it.SourceID)
		w.close()
		w.close()
	}
	w.close()
	w.close()
	return nil
}

// oidAbsentUnknown is the code system of the IPS absent/unknown codes
// (JDV_AbsentOrUnknown*_CISIS).
const oidAbsentUnknown = "2.16.840.1.113883.5.1150.1"

// noKnown is the entry an empty list is written with, where the IHE
// sections require one: "nothing known", from the CI-SIS absent/unknown
// value sets, pointing to the section's empty paragraph (ref).
type noKnown struct {
	kind string // "problem", "history", "allergy", "medication", "immunization"
	code app.Code
	ref  string
}

var (
	absentProblem      = noKnown{"problem", app.Code{Code: "no-known-problems", System: oidAbsentUnknown, Display: "Pas de problème connu"}, "pb-aucun"}
	absentHistory      = noKnown{"history", app.Code{Code: "no-known-problems", System: oidAbsentUnknown, Display: "Pas de problème connu"}, "atcd-aucun"}
	absentAllergy      = noKnown{"allergy", app.Code{Code: "no-known-allergies", System: oidAbsentUnknown, Display: "Pas d'allergie connue"}, "all-aucun"}
	absentMedication   = noKnown{"medication", app.Code{Code: "no-known-medications", System: oidAbsentUnknown, Display: "Pas de traitement connu"}, "med-aucun"}
	absentImmunization = noKnown{"immunization", app.Code{Code: "no-known-immunizations", System: oidAbsentUnknown, Display: "Pas de vaccination connue"}, "vac-aucun"}
)

// writeNoKnown writes the "nothing known" entry of an empty list; Carnet's
// reader reads it as an absence, never as a line.
func (w *xw) writeNoKnown(x *ids, a noKnown) error {
	eid, err := x.entryID()
	if err != nil {
		return err
	}
	switch a.kind {
	case "problem", "history", "allergy":
		list, typ := "1.2.250.1.213.1.1.3.39", tplProblemConcern
		if a.kind == "allergy" {
			list, typ = tplFRAllergyList, tplAllergyConcern
		}
		if err := w.concern(x, list, typ, SynthesisItem{}, a.kind != "history"); err != nil {
			return err
		}
		w.open("observation", "classCode", "OBS", "moodCode", "EVN", "negationInd", "false")
		if a.kind == "allergy" {
			for _, t := range []string{"2.16.840.1.113883.10.20.1.18", "2.16.840.1.113883.10.20.1.28", tplProblemEntry, tplAllergyEntry, tplFRAllergy} {
				w.leaf("templateId", "root", t)
			}
		} else {
			w.leaf("templateId", "root", "2.16.840.1.113883.10.20.1.28")
			w.leaf("templateId", "root", tplProblemEntry)
			w.leaf("templateId", "root", tplFRProblem)
		}
		w.leaf("id", "root", eid)
		if a.kind == "allergy" {
			w.code("code", allergyKind, "SNOMED CT")
		} else {
			w.code("code", app.Code{Code: "282291009", System: "2.16.840.1.113883.6.96", Display: "interprétation diagnostique"}, "SNOMED CT")
		}
		w.textRef(a.ref)
		w.leaf("statusCode", "code", "completed")
		w.ivl(SynthesisItem{}, false)
		w.open("value", "xsi:type", "CD", "code", a.code.Code, "displayName", a.code.Display, "codeSystem", a.code.System)
		w.open("originalText")
		w.leaf("reference", "value", "#"+a.ref)
		w.close()
		w.close()
		w.close()
		w.endConcern(SynthesisItem{})
		return nil
	}
	w.open("entry")
	w.open("substanceAdministration", "classCode", "SBADM", "moodCode", "EVN", "negationInd", "false")
	if a.kind == "immunization" {
		w.leaf("templateId", "root", "2.16.840.1.113883.10.20.1.24")
		w.leaf("templateId", "root", tplImmunization)
		w.leaf("templateId", "root", tplFRVaccination)
		w.leaf("id", "root", eid)
		w.code("code", a.code, "")
	} else {
		w.leaf("templateId", "root", "2.16.840.1.113883.10.20.1.24")
		w.leaf("templateId", "root", "1.3.6.1.4.1.19376.1.5.3.1.4.7")
		w.leaf("templateId", "root", "1.2.250.1.213.1.1.3.42")
		w.leaf("templateId", "root", "1.3.6.1.4.1.19376.1.5.3.1.4.7.1")
		w.leaf("id", "root", eid)
		w.code("code", a.code, "")
	}
	w.textRef(a.ref)
	w.leaf("statusCode", "code", "completed")
	if a.kind == "immunization" {
		w.leaf("effectiveTime", "nullFlavor", "UNK")
	} else {
		w.open("effectiveTime", "xsi:type", "IVL_TS")
		w.leaf("low", "nullFlavor", "UNK")
		w.leaf("high", "nullFlavor", "UNK")
		w.close()
	}
	w.openProduct()
	w.open("code", "nullFlavor", "NA")
	w.open("originalText")
	w.leaf("reference", "value", "#"+a.ref)
	w.close()
	w.close()
	w.leaf("name", "nullFlavor", "NA")
	w.close()
	w.close()
	w.close()
	w.close()
	w.close()
	return nil
}

// textRef writes an entry's text: a reference to its narrative.
func (w *xw) textRef(ref string) {
	w.open("text")
	w.leaf("reference", "value", "#"+ref)
	w.close()
}

// tableStart opens a narrative table with its header row and opens its
// body; the caller writes the rows and closes twice (tbody, table).
func (w *xw) tableStart(headers ...string) {
	w.open("table", "border", "1", "width", "100%")
	w.open("thead")
	w.open("tr")
	for _, h := range headers {
		w.text("th", h)
	}
	w.close()
	w.close()
	w.open("tbody")
}

// openProduct opens consumable/manufacturedProduct (FR-Produit-de-sante)/
// manufacturedMaterial; the caller writes the material and closes three
// times.
func (w *xw) openProduct() {
	w.open("consumable", "typeCode", "CSM")
	w.open("manufacturedProduct", "classCode", "MANU")
	w.leaf("templateId", "root", "2.16.840.1.113883.10.20.1.53")
	w.leaf("templateId", "root", "1.3.6.1.4.1.19376.1.5.3.1.4.7.2")
	w.leaf("templateId", "root", "1.2.250.1.213.1.1.3.43")
	w.open("manufacturedMaterial", "classCode", "MMAT", "determinerCode", "KIND")
}
