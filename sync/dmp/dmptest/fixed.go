package dmptest

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/sync/dmp/fhir"
)

// AddPatient adds a patient with fp.Docs consultation notes, all submitted
// at the same instant (Epoch − 1h), authored by fp.Author (default
// generaliste). Every practitioner of the sandbox but the blocked one and
// the optician is authorised; the author is médecin traitant. The identity
// is QUAL on the test OID. For benchmarks and paging tests.
func (s *Server) AddPatient(fp FixedPatient) (app.Patient, error) {
	s.data.mu.Lock()
	defer s.data.mu.Unlock()
	n := 0
	for _, rec := range s.data.records {
		if rec.Index < 0 {
			n++
		}
	}
	r := rand.New(rand.NewPCG(s.opt.Seed^0xf12ed, uint64(n)))
	var p app.Patient
	for {
		p = randomIdentity(r)
		p.INS = syntheticINS(r, p)
		if _, taken := s.byINS[fhir.INSToken(p.INS).String()]; !taken && s.data.records[fhir.INSToken(p.INS).String()] == nil {
			break
		}
	}
	p.ID = app.PatientID(fmt.Sprintf("f%03d", n+1))
	p.Status = app.IdentityQualified
	if fp.Author == "" {
		fp.Author = KeyGP
	}
	author := practitionerByKey(fp.Author)
	rec := &record{Index: -1, Patient: p, Exists: true, AttachMES: true, Treating: author.RPPS,
		Authz: map[string]time.Time{}, Blocked: map[string]bool{}, generated: true}
	for _, pr := range Practitioners() {
		if pr.Key != KeyBlocked && pr.Key != KeyOptician {
			rec.Authz[pr.RPPS] = s.opt.Epoch.AddDate(1, 0, 0)
		}
	}
	s.data.records[fhir.INSToken(p.INS).String()] = rec
	at := s.opt.Epoch.Add(-time.Hour)
	pad := ""
	if fp.Size > 3000 {
		pad = strings.Repeat("Texte de remplissage pour le banc d'essai. ", (fp.Size-3000)/43)
	}
	var members []*doc
	for k := 0; k < fp.Docs; k++ {
		uid := fmt.Sprintf("%s.%d.9%03d.%d", uidRoot, s.opt.Seed, n+1, k+1)
		cd := cdaDoc{ID: uid, SetID: uid, Version: 1, TypeCode: kindCONS.Type, TypeSystem: kindCONS.TypeSystem, TypeName: kindCONS.TypeName,
			Title: fmt.Sprintf("Consultation n° %d", k+1), Created: at.Add(-time.Duration(k) * time.Hour), ActStart: at.Add(-time.Duration(k) * time.Hour),
			Patient: p, Author: authorOf(author), Facility: kindCONS.Facility, FacilityLbl: kindCONS.FacilityLbl,
			Sections: []cdaSection{{Code: "29545-1", Title: "Examen clinique", Paras: []string{fmt.Sprintf("Consultation %d.", k+1), pad}}}}
		d := newDoc(rec, fmt.Sprintf("%s-d%03d", p.ID, k+1), fmt.Sprintf("%s-b%03d", p.ID, k+1), cd, kindCONS, writeCDA(cd))
		d.Author = author.RPPS
		d.Seq = s.data.nextSeq()
		d.stamp(1, at)
		s.data.register(rec, d)
		members = append(members, d)
	}
	rec.Lists = append(rec.Lists, newSubset(&s.data, rec, string(p.ID)+"-s1", at, author.RPPS, members...))
	return p, nil
}
