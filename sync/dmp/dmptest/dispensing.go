package dmptest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/sync/dmp/fhir"
)

// The reimbursement history ("Historique des remboursements") is a living
// document: the Assurance Maladie keeps it current over the last 24
// months. When a pharmacy dispensing is reimbursed, the sandbox replaces
// the record's current history with a new version (same logical document:
// same setId, version + 1; the old version superseded — FHIR relatesTo
// "replaces", XDS RPLC association and Deprecated status), dated now and
// covering the 24 months before now, the new dispensing included.

// rembMonths is the period the reimbursement history covers.
const rembMonths = 24

// Dispensing is a pharmacy dispensing reimbursed by the Assurance Maladie,
// as AddDispensing records it.
type Dispensing struct {
	CIP13    string    // the presentation (from the sandbox's catalogue)
	At       time.Time // the day of the dispensing
	Quantity int       // boxes
}

// ErrNoRecord is returned by AddDispensing for an INS the sandbox holds no
// record for.
var ErrNoRecord = errors.New("dmptest: no record for this INS")

// Drug is a presentation of the sandbox's medication catalogue.
type Drug struct {
	DCI   string // active substance, as AddDispensing accepts it
	Name  string // the label the reimbursement history shows
	CIP13 string // its (synthetic) CIP13 code
}

// Catalogue returns the sandbox's medication catalogue.
func Catalogue() []Drug {
	out := make([]Drug, len(catalogue))
	for i, m := range catalogue {
		out[i] = Drug{DCI: m.DCI, Name: m.Name, CIP13: m.CIP13}
	}
	return out
}

// AddDispensing records that the patient was dispensed one box of drug (a
// DCI of Catalogue, or a CIP13) at at, and replaces the patient's
// reimbursement history by a new version dated now. It returns the
// uniqueId of the new version (the replaced one, when there was one, reads
// superseded from now on).
func (s *Server) AddDispensing(ins app.INS, drug string, at time.Time) (app.DocumentID, error) {
	m, ok := medOf(drug)
	if !ok {
		return "", fmt.Errorf("dmptest: add dispensing: %q is not in the catalogue", drug)
	}
	s.data.mu.Lock()
	defer s.data.mu.Unlock()
	rec := s.recordOf(fhir.INSToken(ins))
	if rec == nil || !rec.Exists || rec.Closed {
		return "", fmt.Errorf("dmptest: add dispensing: %w", ErrNoRecord)
	}
	rec.Dispensings = append(rec.Dispensings, Dispensing{CIP13: m.CIP13, At: at.UTC(), Quantity: 1})
	id := s.replaceHistory(rec)
	s.persistLater(rec)
	return app.DocumentID(id), nil
}

// medOf finds a medication of the catalogue by DCI (case aside) or CIP13.
func medOf(drug string) (med, bool) {
	for _, m := range catalogue {
		if strings.EqualFold(m.DCI, drug) || m.CIP13 == drug {
			return m, true
		}
	}
	return med{}, false
}

// currentHistory returns the record's current reimbursement history and
// the version number and setId of its logical document; nil when it has
// none. Callers hold s.data.mu.
func currentHistory(rec *record) (cur *doc, version int, setID string) {
	for _, d := range rec.Docs {
		if d.Deleted || d.Ref.Status != "current" || d.Ref.Type == nil || len(d.Ref.Type.Coding) == 0 || d.Ref.Type.Coding[0].Code != kindREMB.Type {
			continue
		}
		if cur == nil || d.LastUpdated.After(cur.LastUpdated) {
			cur = d
		}
	}
	if cur == nil {
		return nil, 0, ""
	}
	byID := map[string]*doc{}
	for _, d := range rec.Docs {
		byID[d.Ref.ID] = d
	}
	root := cur
	version = 1
	for hop := 0; hop < 1000 && len(root.Ref.RelatesTo) > 0; hop++ {
		prev := byID[strings.TrimPrefix(root.Ref.RelatesTo[0].Target.Reference, "DocumentReference/")]
		if prev == nil {
			break
		}
		root, version = prev, version+1
	}
	return cur, version, stripURN(root.Ref.UniqueID())
}

// replaceHistory writes a new version of rec's reimbursement history,
// dated now, and supersedes the current one. It returns the new version's
// uniqueId. Callers hold s.data.mu.
func (s *Server) replaceHistory(rec *record) string {
	now := s.now()
	old, version, setID := currentHistory(rec)
	seq := s.data.nextSeq()
	id := fmt.Sprintf("%s.%d.%d.%d", uidRoot, s.opt.Seed, rec.Index+1, 100000+seq)
	if setID == "" {
		setID = id
	}
	cd := cdaDoc{ID: id, SetID: setID, Version: version + 1, TypeCode: kindREMB.Type, TypeSystem: kindREMB.TypeSystem, TypeName: kindREMB.TypeName,
		Title: kindREMB.Title, Templates: []string{kindREMB.Template}, Created: now, ActStart: now, Patient: rec.Patient, Author: amDevice,
		Facility: kindREMB.Facility, FacilityLbl: kindREMB.FacilityLbl}
	if old != nil {
		cd.Replaces = stripURN(old.Ref.UniqueID())
	}
	r := rand.New(rand.NewPCG(s.opt.Seed^uint64(seq), uint64(rec.Index)*0x9e3779b97f4a7c15+11))
	rembBody(r, &cd, s.treatmentOf(rec), rec.Dispensings)
	dc := newDoc(rec, fmt.Sprintf("%s-h%d", rec.Patient.ID, seq), fmt.Sprintf("%s-hb%d", rec.Patient.ID, seq), cd, kindREMB, writeCDA(cd))
	dc.Seq = seq
	dc.stamp(1, now)
	if old != nil {
		dc.Ref.RelatesTo = []fhir.RelatesTo{{Code: "replaces", Target: fhir.Reference{Reference: "DocumentReference/" + old.Ref.ID}}}
		dc.changed()
		old.Ref.Status = "superseded"
		old.stamp(old.Version+1, now)
	}
	s.data.register(rec, dc)
	rec.Lists = append(rec.Lists, newSubset(&s.data, rec, fmt.Sprintf("%s-s%d", rec.Patient.ID, s.data.nextSeq()), now, "", dc))
	return id
}

// treatmentOf returns the medications the synthetic patient's history
// was generated with (none for a patient added by AddPatient).
func (s *Server) treatmentOf(rec *record) []med {
	if rec.Index < 0 {
		return nil
	}
	r := rand.New(rand.NewPCG(s.opt.Seed, uint64(rec.Index)*0x9e3779b97f4a7c15+7)) // as generate
	return treatment(r, s.opt.Epoch.Year()-atoiPrefix(rec.Patient.BirthDate, 4))
}

// rembBody fills a reimbursement history ending at cd.ActStart: the
// monthly dispensings of meds over rembMonths, then the recorded
// dispensings extra within the period; each medication's last dispensing
// as a supply entry.
func rembBody(r *rand.Rand, cd *cdaDoc, meds []med, extra []Dispensing) {
	end := cd.ActStart
	from := end.AddDate(0, -rembMonths, 0)
	rows := [][]string{{"Date de délivrance", "Libellé du médicament", "Groupe thérapeutique", "Composant actif", "Quantité"}}
	for mo := rembMonths - 1; mo >= 0; mo-- {
		for _, m := range meds {
			t := end.AddDate(0, -mo, -r.IntN(20))
			rows = append(rows, []string{t.Format("02/01/2006"), m.Name, m.ATC3L, strings.ToUpper(m.DCI), strconv.Itoa(1 + r.IntN(3))})
		}
	}
	var dispensed []time.Time
	for range meds {
		dispensed = append(dispensed, end.AddDate(0, 0, -r.IntN(28)))
	}
	sort.SliceStable(extra, func(i, j int) bool { return extra[i].At.Before(extra[j].At) })
	for _, x := range extra {
		m, ok := medOf(x.CIP13)
		if !ok || x.At.Before(from) || x.At.After(end) {
			continue
		}
		rows = append(rows, []string{x.At.Format("02/01/2006"), m.Name, m.ATC3L, strings.ToUpper(m.DCI), strconv.Itoa(max(x.Quantity, 1))})
		k := -1
		for i, have := range meds {
			if have.CIP13 == m.CIP13 {
				k = i
			}
		}
		if k < 0 {
			meds = append(meds, m)
			dispensed = append(dispensed, x.At)
		} else if x.At.After(dispensed[k]) {
			dispensed[k] = x.At
		}
	}
	cd.ActEnd = end
	cd.ActStart = from
	cd.Sections = []cdaSection{{Code: "10160-0", Title: "Médicaments", Table: rows, Entries: medEntries(meds, true, dispensed)}}
}
