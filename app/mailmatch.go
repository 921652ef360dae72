package app

import (
	"sort"
	"strings"
)

// MatchReason says why a report was, or was not, filed automatically. Each
// reason maps to one of the ANS error codes of the "Transmission au LPS d'un
// document CDA provenant d'un courriel MSSanté" volet (902 patient unknown,
// 903 INS absent, 904 INS or traits differ, 905 INS incomplete); the UI
// translates the reason, Code gives the number to show beside it.
type MatchReason string

// The matching reasons.
const (
	// MatchAuto: exact, complete INS match with a qualified local identity
	// and identical traits: filed automatically.
	MatchAuto MatchReason = "auto"

	// ReasonUnknownPatient (902): no local identity carries this INS.
	ReasonUnknownPatient MatchReason = "unknown-patient"
	// ReasonNotQualified (902): the local identity with this INS is not
	// qualified (PROV, RECUP or VALI): it cannot receive an INS-based report
	// automatically.
	ReasonNotQualified MatchReason = "not-qualified"

	// ReasonNoINS (903): the report carries no INS.
	ReasonNoINS MatchReason = "no-ins"

	// ReasonTraitsDiffer (904): the INS matches a qualified identity but a
	// trait differs (even by an accent, a hyphen or the case).
	ReasonTraitsDiffer MatchReason = "traits-differ"
	// ReasonXDMDisagrees (904): the XDM metadata patientId is not the CDA INS.
	ReasonXDMDisagrees MatchReason = "xdm-disagrees"
	// ReasonDuplicateLocal (904): several local identities carry the INS.
	ReasonDuplicateLocal MatchReason = "duplicate-local"
	// ReasonSeveralPatients (904): the archive holds several patients or
	// submission sets; none of its reports is filed automatically.
	ReasonSeveralPatients MatchReason = "several-patients"
	// ReasonRepeatedIdentity (904): the document gives an identity element
	// twice under its one recordTarget (two patient, name, birth name,
	// birth date or sex elements): it designates no single patient.
	ReasonRepeatedIdentity MatchReason = "repeated-identity"
	// ReasonPartsDisagree (904): the parts or archives of one message are
	// about different patients; none of its reports is filed automatically.
	ReasonPartsDisagree MatchReason = "parts-disagree"

	// ReasonInvalidINS (905): the INS has a wrong length, key or domain OID.
	ReasonInvalidINS MatchReason = "invalid-ins"
	// ReasonTestINS (905): a test or demo INS outside demo mode.
	ReasonTestINS MatchReason = "test-ins"
	// ReasonIncomplete (905): a required trait is missing from the report.
	ReasonIncomplete MatchReason = "incomplete-traits"

	// ReasonNoReport: the message holds no report that can be matched
	// (encrypted, no attachment, a document that is neither a CDA nor a
	// PDF): see the message's problems.
	ReasonNoReport MatchReason = "no-report"
	// ReasonPDFOnly: the report is a PDF without structured document (a
	// legacy sender): it carries no identity to match, and a person
	// attaches it to the right patient.
	ReasonPDFOnly MatchReason = "pdf-only"
	// ReasonQuarantine: the message was refused (broken or hostile archive,
	// unreadable MIME, too large): see its problems.
	ReasonQuarantine MatchReason = "quarantine"
	// ReasonConflict: a document with the same uniqueId but different
	// content is already in the record.
	ReasonConflict MatchReason = "conflict"
	// ReasonMessageIDReused: the message reuses the Message-ID of a message
	// handled before, with other content: neither a duplicate to drop nor
	// a message to trust, a person looks at it.
	ReasonMessageIDReused MatchReason = "message-id-reused"
)

// Code returns the ANS code of the reason (902 to 905), 0 for MatchAuto and
// the reasons the ANS table does not cover.
func (r MatchReason) Code() int {
	switch r {
	case ReasonUnknownPatient, ReasonNotQualified:
		return 902
	case ReasonNoINS:
		return 903
	case ReasonTraitsDiffer, ReasonXDMDisagrees, ReasonDuplicateLocal, ReasonSeveralPatients,
		ReasonRepeatedIdentity, ReasonPartsDisagree:
		return 904
	case ReasonInvalidINS, ReasonTestINS, ReasonIncomplete:
		return 905
	}
	return 0
}

// Text returns a short English description of the reason.
func (r MatchReason) Text() string {
	switch r {
	case MatchAuto:
		return "filed: INS and traits match a qualified identity"
	case ReasonUnknownPatient:
		return "patient unknown: no local identity has this INS"
	case ReasonNotQualified:
		return "patient identity not qualified"
	case ReasonNoINS:
		return "INS absent"
	case ReasonTraitsDiffer:
		return "INS or traits differ from the local identity"
	case ReasonXDMDisagrees:
		return "archive patient id differs from the document INS"
	case ReasonDuplicateLocal:
		return "several local identities have this INS"
	case ReasonSeveralPatients:
		return "archive holds several patients or submission sets"
	case ReasonInvalidINS:
		return "INS incomplete or invalid"
	case ReasonTestINS:
		return "test or demo INS refused"
	case ReasonIncomplete:
		return "INS incomplete: identity traits missing"
	case ReasonNoReport:
		return "no structured report"
	case ReasonPDFOnly:
		return "PDF without structured document: to attach by hand"
	case ReasonQuarantine:
		return "message refused"
	case ReasonConflict:
		return "same document id with different content"
	case ReasonRepeatedIdentity:
		return "identity elements repeated in the document"
	case ReasonPartsDisagree:
		return "parts of the message are about different patients"
	case ReasonMessageIDReused:
		return "Message-ID already used by another message"
	}
	return string(r)
}

// unstructuredReason is why a report that is not a structured document
// (no uniqueId, or not a CDA) cannot be filed: ReasonPDFOnly for a PDF,
// which a person attaches by hand, ReasonNoReport otherwise.
func unstructuredReason(rep IncomingReport) MatchReason {
	if strings.EqualFold(strings.TrimSpace(rep.MediaType), "application/pdf") {
		return ReasonPDFOnly
	}
	return ReasonNoReport
}

// CandidateKind says why a patient is proposed for a report.
type CandidateKind string

// The candidate kinds, most relevant first.
const (
	CandidateSameINS    CandidateKind = "same-ins"    // same INS, not qualified or traits differ
	CandidateSameTraits CandidateKind = "same-traits" // same birth name, first given name, birth date and sex
	CandidateNamesake   CandidateKind = "namesake"    // same name and birth date, or same name and given name
)

// Candidate is a patient a person may attach a report to.
type Candidate struct {
	Patient PatientID
	Kind    CandidateKind
}

// MatchResult is the outcome of MatchPatient.
type MatchResult struct {
	Patient    PatientID   // the patient to file to; set only when Reason is MatchAuto
	Reason     MatchReason // MatchAuto, or why a person must decide
	Differs    []string    // for ReasonTraitsDiffer/ReasonIncomplete: which traits ("birth-name", …)
	OnlyFolded bool        // the differing traits are equal once folded (accents, case, punctuation)
	Candidates []Candidate // patients to propose, most relevant first
}

// Auto reports whether the report may be filed without a person.
func (r MatchResult) Auto() bool { return r.Reason == MatchAuto && r.Patient != "" }

// MatchPatient applies the ANS rule for automatic integration: a report is
// filed automatically only when its INS is present, valid (key, allowed
// domain OID: test and demo OIDs only in demo mode), agrees with the XDM
// patientId, designates exactly one local identity, that identity is
// qualified, and the traits (birth name, first birth given name, birth
// date, sex, and the birth place when the report gives one) are identical.
// Traits are compared as written, after trimming spaces only: a difference
// of accent, hyphen or case is a difference (no silent normalisation). In
// every other case the result carries the reason and candidate patients.
func MatchPatient(id ReportIdentity, patients []Patient, demo bool) MatchResult {
	res := MatchResult{}
	if len(id.Repeated) > 0 {
		res.Reason = ReasonRepeatedIdentity
		res.Differs = append([]string(nil), id.Repeated...)
		res.Candidates = candidates(id, patients, strings.TrimSpace(id.INS.Matricule))
		return res
	}
	if strings.TrimSpace(id.INS.Matricule) == "" {
		res.Reason = ReasonNoINS
		res.Candidates = candidates(id, patients, "")
		return res
	}
	ins, err := ParseINS(id.INS.Matricule, id.INS.OID)
	if err != nil {
		res.Reason = ReasonInvalidINS
		res.Candidates = candidates(id, patients, "")
		return res
	}
	if !demo && !ins.Production() {
		res.Reason = ReasonTestINS
		res.Candidates = candidates(id, patients, "")
		return res
	}
	if id.HasXDM || !id.XDMPatient.IsZero() {
		x := id.XDMPatient
		if !strings.EqualFold(strings.TrimSpace(x.Matricule), ins.Matricule) || strings.TrimSpace(x.OID) != ins.OID {
			res.Reason = ReasonXDMDisagrees
			res.Candidates = candidates(id, patients, ins.Matricule)
			return res
		}
	}
	if missing := missingTraits(id); len(missing) > 0 {
		res.Reason = ReasonIncomplete
		res.Differs = missing
		res.Candidates = candidates(id, patients, ins.Matricule)
		return res
	}
	var same []Patient
	for _, p := range patients {
		if p.INS.Matricule == ins.Matricule && p.INS.OID == ins.OID {
			same = append(same, p)
		}
	}
	switch {
	case len(same) == 0:
		res.Reason = ReasonUnknownPatient
		res.Candidates = candidates(id, patients, ins.Matricule)
		return res
	case len(same) > 1:
		res.Reason = ReasonDuplicateLocal
		res.Candidates = candidates(id, patients, ins.Matricule)
		return res
	}
	p := same[0]
	if p.Status != IdentityQualified {
		res.Reason = ReasonNotQualified
		res.Candidates = candidates(id, patients, ins.Matricule)
		return res
	}
	if diff, folded := traitDiffs(id, p); len(diff) > 0 {
		res.Reason = ReasonTraitsDiffer
		res.Differs, res.OnlyFolded = diff, folded
		res.Candidates = candidates(id, patients, ins.Matricule)
		return res
	}
	res.Reason, res.Patient = MatchAuto, p.ID
	return res
}

// missingTraits lists the traits the INS rule requires and the report
// lacks: birth name, first birth given name, full birth date, sex (F or M).
func missingTraits(id ReportIdentity) []string {
	var m []string
	if strings.TrimSpace(id.BirthName) == "" {
		m = append(m, "birth-name")
	}
	if id.FirstGivenName() == "" {
		m = append(m, "given-name")
	}
	if len(id.BirthDate) != len("2006-01-02") {
		m = append(m, "birth-date")
	}
	if id.Sex != SexFemale && id.Sex != SexMale {
		m = append(m, "sex")
	}
	return m
}

// traitDiffs compares the report's traits with a local identity. It
// returns the differing traits, and whether all of them are equal once
// folded (so that the UI can say "differs only by accents or case").
func traitDiffs(id ReportIdentity, p Patient) (diff []string, onlyFolded bool) {
	onlyFolded = true
	cmp := func(name, a, b string) {
		a, b = squash(a), squash(b)
		if a == b {
			return
		}
		diff = append(diff, name)
		if Fold(a) != Fold(b) {
			onlyFolded = false
		}
	}
	cmp("birth-name", id.BirthName, p.BirthName)
	localFirst := ""
	if f := strings.Fields(p.BirthGivenNames); len(f) > 0 {
		localFirst = f[0]
	}
	cmp("given-name", id.FirstGivenName(), localFirst)
	cmp("birth-date", id.BirthDate, p.BirthDate)
	cmp("sex", string(id.Sex), string(p.Sex))
	if strings.TrimSpace(id.BirthPlace) != "" {
		cmp("birth-place", id.BirthPlace, p.BirthPlace)
	}
	if len(diff) == 0 {
		onlyFolded = false
	}
	return diff, onlyFolded
}

// squash trims s and collapses runs of white space: the only normalisation
// applied before comparing traits.
func squash(s string) string { return strings.Join(strings.Fields(s), " ") }

// candidates proposes patients for a report a person must place: those with
// the same INS matricule (any status or domain), those with the same traits
// (folded birth name, first given name, birth date, sex), then namesakes
// (folded birth or used name with the same birth date, or with the same
// first given name). Each patient appears once, under its best kind.
func candidates(id ReportIdentity, patients []Patient, matricule string) []Candidate {
	rank := map[CandidateKind]int{CandidateSameINS: 0, CandidateSameTraits: 1, CandidateNamesake: 2}
	best := map[PatientID]CandidateKind{}
	put := func(p Patient, k CandidateKind) {
		if old, ok := best[p.ID]; !ok || rank[k] < rank[old] {
			best[p.ID] = k
		}
	}
	name := Fold(squash(id.BirthName))
	used := Fold(squash(id.UsedName))
	given := Fold(id.FirstGivenName())
	for _, p := range patients {
		if matricule != "" && strings.EqualFold(p.INS.Matricule, matricule) {
			put(p, CandidateSameINS)
			continue
		}
		pName := Fold(squash(p.BirthName))
		pUsed := Fold(squash(p.UsedName))
		pGiven := ""
		if f := strings.Fields(p.BirthGivenNames); len(f) > 0 {
			pGiven = Fold(f[0])
		}
		nameHit := name != "" && (name == pName || name == pUsed) || used != "" && (used == pName || used == pUsed)
		switch {
		case name != "" && name == pName && given != "" && given == pGiven &&
			id.BirthDate != "" && id.BirthDate == p.BirthDate && id.Sex != "" && id.Sex == p.Sex:
			put(p, CandidateSameTraits)
		case nameHit && (id.BirthDate != "" && id.BirthDate == p.BirthDate || given != "" && given == pGiven):
			put(p, CandidateNamesake)
		}
	}
	out := make([]Candidate, 0, len(best))
	for pid, k := range best {
		out = append(out, Candidate{Patient: pid, Kind: k})
	}
	sort.Slice(out, func(i, j int) bool {
		if rank[out[i].Kind] != rank[out[j].Kind] {
			return rank[out[i].Kind] < rank[out[j].Kind]
		}
		return out[i].Patient < out[j].Patient
	})
	return out
}
