package dmptest

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/beevik/etree"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/sync/dmp/fhir"
)

const (
	xSSPatientID = "urn:uuid:6b5aea1a-874d-4603-a4bc-96a0a7b38446"
	xSchSSAuthor = "urn:uuid:a7058bb9-b4e4-4307-ba5b-e3f0ab85e12d"
)

// regResponse is the RegistryResponse body of ITI-41/ITI-57 answers.
func regResponse(code, context string) string {
	if code == "" {
		return `<rs:RegistryResponse xmlns:rs="` + xNSRs + `" status="` + xSuccess + `"/>`
	}
	return registryFailure(`rs:RegistryResponse xmlns:rs="`+xNSRs+`"`, code, context)
}

// extID returns the value of the ExternalIdentifier of scheme in e.
func extID(e *etree.Element, scheme string) string {
	for _, x := range e.SelectElements("ExternalIdentifier") {
		if x.SelectAttrValue("identificationScheme", "") == scheme {
			return x.SelectAttrValue("value", "")
		}
	}
	return ""
}

// codes returns the nodeRepresentations of the classifications of scheme.
func codes(e *etree.Element, scheme string) []string {
	var out []string
	for _, c := range e.SelectElements("Classification") {
		if c.SelectAttrValue("classificationScheme", "") == scheme {
			out = append(out, c.SelectAttrValue("nodeRepresentation", ""))
		}
	}
	return out
}

// visibilityOf reads the DMP confidentiality codes.
func visibilityOf(cs []string) app.Visibility {
	var v app.Visibility
	for _, c := range cs {
		switch c {
		case "MASQUE_PS":
			v.MaskedToProfessionals = true
		case "INVISIBLE_PATIENT":
			v.HiddenFromPatient = true
		case "INVISIBLE_REP_LEGAUX":
			v.HiddenFromLegalReps = true
		}
	}
	return v
}

// checkInstitution applies the DMP rule that some authorInstitution of the
// submission is the VIHF's structure (DEVBOX FAQ).
func checkInstitution(list *etree.Element, c *caller) bool {
	for _, cl := range list.FindElements(".//Classification") {
		s := cl.SelectAttrValue("classificationScheme", "")
		if s != xSchAuthor && s != xSchSSAuthor {
			continue
		}
		for _, inst := range slotVals(cl, "authorInstitution") {
			f := strings.Split(inst, "^")
			if len(f) >= 10 && f[9] == c.Structure {
				return true
			}
		}
	}
	return false
}

// xdsProvide answers ITI-41 (TD2, TD2.1 with RPLC).
func (s *Server) xdsProvide(r *soapReq, c *caller) (string, string, []xPart, error) {
	const resp = "urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-bResponse"
	fail := func(code, ctx string) (string, string, []xPart, error) { return resp, regResponse(code, ctx), nil, nil }
	list := r.body.FindElement("./SubmitObjectsRequest/RegistryObjectList")
	if list == nil {
		return fail("XDSRepositoryMetadataError", "no RegistryObjectList")
	}
	docs := map[string][]byte{}
	for _, d := range r.body.SelectElements("Document") {
		inc := d.SelectElement("Include")
		if inc == nil {
			return fail("XDSRepositoryMetadataError", "documents must be sent as MTOM parts")
		}
		docs[d.SelectAttrValue("id", "")] = r.parts[strings.TrimPrefix(inc.SelectAttrValue("href", ""), "cid:")]
	}
	s.data.mu.Lock()
	defer s.data.mu.Unlock()
	rec, err := s.patientRecord(c)
	if err != nil {
		return "", "", nil, err
	}
	pid := cx(rec.Patient.INS)
	if pkg := list.SelectElement("RegistryPackage"); pkg == nil || strings.TrimSuffix(extID(pkg, xSSPatientID), "^NH") != strings.TrimSuffix(pid, "^NH") {
		return fail("XDSPatientIdDoesNotMatch", "submission set patient")
	}
	if den := s.access(rec, c, opFeed); den != "" {
		s.trace(rec, c, "create", "ITI-41", den)
		return "", "", nil, denialFault(den)
	}
	if !checkInstitution(list, c) {
		return fail("XDSRegistryMetadataError", "Aucun AuthorInstitution ne correspond à l'utilisateur du VIHF")
	}
	replaces := map[string]string{}
	signs := map[string]string{}
	for _, a := range list.SelectElements("Association") {
		switch a.SelectAttrValue("associationType", "") {
		case xAssocRPLC:
			replaces[a.SelectAttrValue("sourceObject", "")] = a.SelectAttrValue("targetObject", "")
		case "urn:ihe:iti:2007:AssociationType:signs":
			signs[a.SelectAttrValue("sourceObject", "")] = a.SelectAttrValue("targetObject", "")
		}
	}
	var signature []byte
	type pending struct {
		d   *doc
		old *doc
	}
	var todo []pending
	seen := map[string]bool{}
	now := s.now()
	for _, eo := range list.SelectElements("ExtrinsicObject") {
		id := eo.SelectAttrValue("id", "")
		content, ok := docs[id]
		if !ok || content == nil {
			return fail("XDSMissingDocument", "no document for an entry")
		}
		if cc := codes(eo, xSchClass); len(cc) == 1 && cc[0] == xSignatureClass {
			// The submission set signature (XAdES): kept apart, checked below.
			if pkg := list.SelectElement("RegistryPackage"); signature != nil || pkg == nil || signs[id] != pkg.SelectAttrValue("id", "") {
				return fail("XDSRegistryMetadataError", "the signature must sign the submission set, once")
			}
			signature = content
			continue
		}
		uid := extID(eo, xIDUnique)
		if uid == "" || seen[uid] {
			return fail("XDSRepositoryDuplicateUniqueIdInMessage", "uniqueId")
		}
		seen[uid] = true
		if s.data.unique["urn:oid:"+uid] != nil {
			return fail("XDSDuplicateUniqueIdInRegistry", "uniqueId already registered")
		}
		if strings.TrimSuffix(extID(eo, xIDPatient), "^NH") != strings.TrimSuffix(pid, "^NH") {
			return fail("XDSPatientIdDoesNotMatch", "document entry patient")
		}
		if h := slotVals(eo, "hash"); len(h) == 1 && !strings.EqualFold(h[0], hexSHA1(content)) {
			return fail("XDSNonIdenticalHash", "hash")
		}
		if sz := slotVals(eo, "size"); len(sz) == 1 && sz[0] != strconv.Itoa(len(content)) {
			return fail("XDSRepositoryMetadataError", "size")
		}
		vis := visibilityOf(codes(eo, xSchConf))
		if vis.MaskedToProfessionals && vis.HiddenFromPatient {
			return fail("XDSRegistryMetadataError", "masked to professionals and invisible to the patient")
		}
		title := ""
		if ls := eo.FindElement("./Name/LocalizedString"); ls != nil {
			title = ls.SelectAttrValue("value", "")
		}
		ref := fhir.DocumentReference{ResourceType: "DocumentReference", Status: "current",
			MasterIdentifier: &fhir.Identifier{System: fhir.SystemRFC3986, Value: "urn:oid:" + uid},
			SecurityLabel:    fhir.SecurityLabels(vis), Description: title,
			Author: []fhir.Reference{{Display: c.Name}}, Date: fhir.FormatInstant(now)}
		if tc := codes(eo, xSchType); len(tc) > 0 {
			ref.Type = &fhir.CodeableConcept{Coding: []fhir.Coding{{System: fhir.SystemLOINC, Code: tc[0], Display: title}}}
		}
		if cc := codes(eo, xSchClass); len(cc) > 0 {
			ref.Category = []fhir.CodeableConcept{{Coding: []fhir.Coding{{System: fhir.SystemClassCode, Code: cc[0]}}}}
		}
		if st := slotVals(eo, "serviceStartTime"); len(st) == 1 {
			if t, err := time.Parse("20060102150405", st[0]); err == nil {
				ref.Context = &fhir.DocumentRefContext{Period: &fhir.Period{Start: fhir.FormatInstant(t)}}
			}
		}
		ref.Content = []fhir.DocumentContent{{Attachment: fhir.Attachment{Title: title}}}
		p := pending{d: &doc{Ref: ref, Author: c.RPPS, Content: content, ContentType: eo.SelectAttrValue("mimeType", "text/xml")}}
		if target := replaces[id]; target != "" {
			for _, od := range rec.Docs {
				if entryUUID(od) == target && !od.Deleted {
					p.old = od
				}
			}
			if p.old == nil {
				return fail("XDSRegistryMetadataError", "replaced document not found")
			}
			if p.old.Ref.Status != "current" {
				return fail("XDSRegistryError", "replaced document already deprecated")
			}
			if p.old.Author != c.RPPS {
				s.trace(rec, c, "create", "ITI-41", app.DeniedNotAuthor)
				return "", "", nil, denialFault(app.DeniedNotAuthor)
			}
		}
		todo = append(todo, p)
	}
	if len(todo) == 0 {
		return fail("XDSRepositoryMetadataError", "no document entry")
	}
	if msg := checkManifest(signature, todo[0].d, func(yield func(*doc) bool) {
		for _, p := range todo {
			if !yield(p.d) {
				return
			}
		}
	}); msg != "" {
		return fail("XDSRegistryMetadataError", msg)
	}
	var members []*doc
	for _, p := range todo {
		d := p.d
		seq := s.data.nextSeq()
		d.Seq, d.BinaryID = seq, fmt.Sprintf("%s-m%d", rec.Patient.ID, seq)
		d.Ref.ID = fmt.Sprintf("%s-n%d", rec.Patient.ID, seq)
		d.Ref.Subject = &fhir.Reference{Reference: "Patient/" + string(rec.Patient.ID), Identifier: ptr(fhir.INSIdentifier(rec.Patient.INS))}
		d.setContent(d.Content, d.ContentType)
		d.stamp(1, now)
		if p.old != nil {
			d.Ref.RelatesTo = []fhir.RelatesTo{{Code: "replaces", Target: fhir.Reference{Reference: "DocumentReference/" + p.old.Ref.ID}}}
			d.changed()
			p.old.Ref.Status = "superseded"
			p.old.stamp(p.old.Version+1, now)
		}
		s.data.register(rec, d)
		members = append(members, d)
	}
	ss := newSubset(&s.data, rec, fmt.Sprintf("%s-s%d", rec.Patient.ID, s.data.nextSeq()), now, c.RPPS, members...)
	rec.Lists = append(rec.Lists, ss)
	s.trace(rec, c, "create", "ITI-41", "")
	s.persistLater(rec)
	return fail("", "")
}

// xdsUpdate answers ITI-57: availability status changes (delete, archive,
// unarchive) and DocumentEntry metadata updates (visibility).
func (s *Server) xdsUpdate(r *soapReq, c *caller) (string, string, []xPart, error) {
	const resp = "urn:ihe:iti:2010:UpdateDocumentSetResponse"
	fail := func(code, ctx string) (string, string, []xPart, error) { return resp, regResponse(code, ctx), nil, nil }
	list := r.body.FindElement("./RegistryObjectList")
	if r.body.Tag != "SubmitObjectsRequest" || list == nil {
		return fail("XDSInvalidRequestException", "SubmitObjectsRequest expected")
	}
	s.data.mu.Lock()
	defer s.data.mu.Unlock()
	rec, err := s.patientRecord(c)
	if err != nil {
		return "", "", nil, err
	}
	if pkg := list.SelectElement("RegistryPackage"); pkg == nil || strings.TrimSuffix(extID(pkg, xSSPatientID), "^NH") != strings.TrimSuffix(cx(rec.Patient.INS), "^NH") {
		return fail("XDSPatientIdDoesNotMatch", "submission set patient")
	}
	find := func(pred func(d *doc) bool) *doc {
		for _, d := range rec.Docs {
			if !d.Deleted && pred(d) {
				return d
			}
		}
		return nil
	}
	authorCheck := func(d *doc, action string) error {
		den := s.access(rec, c, opUpdate)
		if den == "" && d.Author != c.RPPS {
			den = app.DeniedNotAuthor
		}
		s.trace(rec, c, action, "ITI-57", den)
		if den != "" {
			return denialFault(den)
		}
		return nil
	}
	now := s.now()
	for _, a := range list.SelectElements("Association") {
		switch a.SelectAttrValue("associationType", "") {
		case xAssocStatus:
			target := a.SelectAttrValue("targetObject", "")
			d := find(func(d *doc) bool { return entryUUID(d) == target })
			if d == nil {
				if find(func(d *doc) bool { return entryUUIDAny(d, target) }) != nil {
					return fail("XDSMetadataVersionError", "not the current version")
				}
				return fail("XDSUnreferencedObjectException", "no such entry")
			}
			from, to := slotVals(a, "OriginalStatus"), slotVals(a, "NewStatus")
			if len(from) != 1 || len(to) != 1 || from[0] != xdsStatus(d) {
				return fail("XDSMetadataUpdateOperationError", "OriginalStatus does not match")
			}
			if err := authorCheck(d, "update"); err != nil {
				return "", "", nil, err
			}
			switch to[0] {
			case xStatusDeleted:
				d.Deleted = true
			case xStatusArchived, xStatusApproved:
				d.Ref.Extension = setArchived(d.Ref.Extension, to[0] == xStatusArchived)
			default:
				return fail("XDSMetadataUpdateOperationError", "NewStatus not supported")
			}
			d.stamp(d.Version+1, now)
		case xAssocHasMember:
			prev := slotVals(a, "PreviousVersion")
			eo := findByID(list, a.SelectAttrValue("targetObject", ""))
			if eo == nil || len(prev) != 1 {
				return fail("XDSMetadataUpdateError", "HasMember without a DocumentEntry and PreviousVersion")
			}
			lid := eo.SelectAttrValue("lid", "")
			d := find(func(d *doc) bool { return logicalID(d) == lid && d.Ref.Status == "current" })
			if d == nil {
				return fail("XDSMetadataUpdateError", "no current entry with this lid")
			}
			if prev[0] != itoa(d.Version) {
				return fail("XDSMetadataVersionError", "PreviousVersion is not the current version")
			}
			if err := authorCheck(d, "update"); err != nil {
				return "", "", nil, err
			}
			vis := visibilityOf(codes(eo, xSchConf))
			if vis.MaskedToProfessionals && vis.HiddenFromPatient {
				return fail("XDSMetadataUpdateError", "masked to professionals and invisible to the patient")
			}
			d.Ref.SecurityLabel = fhir.SecurityLabels(vis)
			d.stamp(d.Version+1, now)
		}
	}
	s.persistLater(rec)
	return fail("", "")
}

// entryUUIDAny reports whether target was an entryUUID of any version of d.
func entryUUIDAny(d *doc, target string) bool {
	for v := 1; v <= d.Version; v++ {
		if nameUUID(d.Ref.ID+"#"+itoa(v)) == target {
			return true
		}
	}
	return false
}

func findByID(list *etree.Element, id string) *etree.Element {
	for _, e := range list.SelectElements("ExtrinsicObject") {
		if e.SelectAttrValue("id", "") == id {
			return e
		}
	}
	return nil
}

// setArchived sets the isArchived extension.
func setArchived(exts []fhir.Extension, archived bool) []fhir.Extension {
	out := make([]fhir.Extension, 0, len(exts)+1)
	for _, e := range exts {
		if e.URL != fhir.ExtIsArchived {
			out = append(out, e)
		}
	}
	return append(out, fhir.BoolExtension(fhir.ExtIsArchived, archived))
}

// xSignatureClass is the classCode of the submission set signature entry.
const xSignatureClass = "urn:oid:1.3.6.1.4.1.19376.1.2.1.1.1"

// checkManifest checks that the XAdES signature's IHE Manifest holds the
// SHA-256 of every document of the submission (the cryptographic check of
// the signature itself is xmlsec1's, in the client's tests). "" when good.
func checkManifest(sig []byte, _ *doc, docs func(func(*doc) bool)) string {
	if sig == nil {
		return "the submission set is not signed (XAdES)"
	}
	if bytes.Contains(sig, []byte("<!DOCTYPE")) {
		return "DTD in the signature"
	}
	d := etree.NewDocument()
	if err := d.ReadFromBytes(sig); err != nil || d.Root() == nil || d.Root().Tag != "Signature" {
		return "the signature is not an XML-DSig Signature"
	}
	digests := map[string]string{}
	for _, r := range d.Root().FindElements(".//Manifest/Reference") {
		digests[r.SelectAttrValue("URI", "")] = strings.TrimSpace(textAt(r, "./DigestValue"))
	}
	ok := ""
	docs(func(dc *doc) bool {
		sum := sha256.Sum256(dc.Content)
		if digests["urn:oid:"+uniqueOf(dc)] != base64.StdEncoding.EncodeToString(sum[:]) {
			ok = "the signature's manifest does not match a document"
			return false
		}
		return true
	})
	return ok
}
