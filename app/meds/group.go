package meds

import (
	"sort"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/terms"
)

// The group of entries with no usable class.
const (
	GroupOther      = "other"
	groupOtherLabel = "Classe thérapeutique non renseignée"
)

// group sorts the entries into their therapeutic classes: the family of the
// most severe flag that certainly applies, else the ATC level-1 group, else
// "other". Flagged groups come first, most severe first, in the table's
// order; then ATC groups in code order; "other" last.
func group(entries []Entry) []Group {
	famOrder := map[string]int{}
	for i, f := range terms.PerioperativeFamilies() {
		famOrder[f.ID] = i
	}
	var groups []Group
	index := map[string]int{}
	rankOf := map[string][2]int{} // group → (kind, position)
	for i := range entries {
		e := &entries[i]
		id, label, kind, pos := GroupOther, groupOtherLabel, 2, 0
		for _, f := range e.Flags {
			if !f.Possible() {
				id, label, kind, pos = "perio:"+f.Class.Family.ID, f.Class.Family.Label, 0, famOrder[f.Class.Family.ID]
				break
			}
		}
		if kind != 0 {
			if c, ok := terms.ATCGroup(e.ATC.Code); ok {
				id, label, kind, pos = "atc:"+c.Code, c.Label, 1, int(c.Code[0])
			}
		}
		e.Group = id
		g, ok := index[id]
		if !ok {
			g = len(groups)
			index[id] = g
			groups = append(groups, Group{ID: id, Label: label, Flagged: kind == 0})
			rankOf[id] = [2]int{kind, pos}
		}
		if kind == 0 {
			for _, f := range e.Flags {
				if !f.Possible() && f.Class.Severity > groups[g].Severity {
					groups[g].Severity = f.Class.Severity
				}
			}
		}
		groups[g].Entries = append(groups[g].Entries, *e)
	}
	sort.SliceStable(groups, func(i, j int) bool {
		a, b := rankOf[groups[i].ID], rankOf[groups[j].ID]
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		if groups[i].Severity != groups[j].Severity {
			return groups[i].Severity > groups[j].Severity
		}
		if a[1] != b[1] {
			return a[1] < b[1]
		}
		return groups[i].ID < groups[j].ID
	})
	for g := range groups {
		es := groups[g].Entries
		sort.SliceStable(es, func(i, j int) bool {
			a, b := &es[i], &es[j]
			if ra, rb := recencyRank(a.Recency), recencyRank(b.Recency); ra != rb {
				return ra < rb
			}
			if sa, sb := severity(a), severity(b); sa != sb {
				return sa > sb
			}
			if fa, fb := app.Fold(a.Name), app.Fold(b.Name); fa != fb {
				return fa < fb
			}
			return a.ID < b.ID
		})
	}
	return groups
}

func recencyRank(r Recency) int {
	switch r {
	case RecencyRecent:
		return 0
	case RecencyOlder:
		return 1
	}
	return 2
}

func severity(e *Entry) terms.Severity {
	if len(e.Flags) == 0 {
		return 0
	}
	return e.Flags[0].Class.Severity
}

// Document types that may hold medication information when they come as an
// unstructured document (N1, PDF), with the reason shown to the user.
var mayHoldMedication = map[string]string{
	"11490-0":  catLetter, // lettre de liaison à la sortie
	"18761-7":  catLetter, // note de transfert, lettre de liaison à l'entrée
	"34112-3":  catLetter, // CR hospitalier (séjour)
	"34133-9":  catLetter, // synthèse d'épisode de soins
	"60591-5":  catSynthesis,
	"SYNTH":    catSynthesis,
	"57833-6":  catPrescription,
	"57832-8":  catPrescription,
	"57828-6":  catPrescription,
	"60593-1":  catDispensing,
	"DISP_AUT": catDispensing,
	"56445-0":  catReconciliation, // bilan médicamenteux
	"80820-4":  catReconciliation, // conciliation médicamenteuse
	"77436-4":  catAnesthesia,     // CR d'anesthésie
	"34749-2":  catAnesthesia,     // CR de consultation pré-anesthésique
	"34874-8":  catAnesthesia,     // CR opératoire
	"11488-4":  catConsultation,
	"15507-7":  catConsultation, // CR de passage aux urgences
	"74207-2":  catConsultation, // document de liaison d'urgence
	"REMB":     catReimbursement,
}

// The categories of unstructured documents worth reading for medications.
const (
	catLetter         = "Lettre de liaison ou compte rendu d'hospitalisation"
	catSynthesis      = "Synthèse médicale"
	catPrescription   = "Prescription"
	catDispensing     = "Dispensation"
	catReconciliation = "Bilan ou conciliation médicamenteuse"
	catAnesthesia     = "Anesthésie ou chirurgie"
	catConsultation   = "Consultation ou urgences"
	catReimbursement  = "Données de remboursement"
)

// MayHoldMedication reports whether a document of this type, when it has no
// structured entries, may hold medication information, and why.
func MayHoldMedication(typeCode string) (category string, ok bool) {
	category, ok = mayHoldMedication[typeCode]
	return category, ok
}

// pending lists the unstructured documents that may hold medication
// information, most recent first; superseded versions are left out.
func pending(docs []app.DocumentMeta) []Document {
	out := make([]Document, 0, len(docs)/2)
	for _, d := range docs {
		if d.Superseded {
			continue
		}
		cat, ok := mayHoldMedication[d.TypeCode]
		if !ok {
			continue
		}
		out = append(out, Document{Meta: d, TypeLabel: typeLabel(d.TypeCode, d.Title), Category: cat})
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].Meta, out[j].Meta
		if !a.Date.Equal(b.Date) {
			return a.Date.After(b.Date)
		}
		return a.ID < b.ID
	})
	return out
}
