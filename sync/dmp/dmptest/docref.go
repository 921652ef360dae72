package dmptest

import (
	"strings"
	"time"

	"github.com/carnetdesk/carnet/sync/dmp/fhir"
)

// newDoc builds the DocumentReference of a generated document.
func newDoc(rec *record, id, binID string, cd cdaDoc, k docKind, content []byte) *doc {
	a := cd.Author
	var author fhir.RawResource
	if a.Device {
		author = *fhir.MustWrap(fhir.Device{ID: "author", Identifier: []fhir.Identifier{{System: fhir.SystemStructure, Value: "ALIM_AM"}},
			DeviceName: []fhir.DeviceName{{Name: a.Name, Type: "manufacturer-name"}}})
	} else {
		author = *fhir.MustWrap(fhir.Practitioner{ID: "author", Identifier: []fhir.Identifier{{System: fhir.SystemRPPS, Value: a.RPPS}},
			Name: []fhir.HumanName{{Family: a.LastName, Given: []string{a.FirstName}, Prefix: []string{"Dr"}}}})
	}
	src := *fhir.MustWrap(fhir.Patient{ID: "source-patient", Identifier: []fhir.Identifier{fhir.INSIdentifier(rec.Patient.INS)}})
	org := *fhir.MustWrap(fhir.Organization{ID: "author-org", Identifier: []fhir.Identifier{{System: fhir.SystemStructure, Value: a.OrgID}}, Name: a.OrgName})
	format := fhir.Coding{System: fhir.SystemFormatCode, Code: "urn:ihe:iti:xds:2017:mimeTypeSufficient", Display: "mimeType Sufficient"}
	if cd.PDF != nil {
		format = fhir.Coding{System: fhir.SystemFormatCode, Code: "urn:ihe:iti:xds-sd:pdf:2008", Display: "PDF embedded in CDA"}
	}
	typeSys := fhir.SystemLOINC
	if k.TypeSystem == oidTREA05 {
		typeSys = fhir.SystemTypeCodeA05
	}
	dc := &doc{BinaryID: binID}
	dc.Ref = fhir.DocumentReference{
		ID:               id,
		Contained:        []fhir.RawResource{author, org, src},
		Extension:        []fhir.Extension{fhir.BoolExtension(fhir.ExtIsArchived, false)},
		MasterIdentifier: &fhir.Identifier{System: fhir.SystemRFC3986, Value: "urn:oid:" + cd.ID},
		Identifier:       []fhir.Identifier{{System: fhir.SystemRFC3986, Value: "urn:uuid:" + pseudoUUID(id)}},
		Status:           "current",
		Type:             &fhir.CodeableConcept{Coding: []fhir.Coding{{System: typeSys, Code: k.Type, Display: k.TypeName}}},
		Category:         []fhir.CodeableConcept{fhir.Concept(fhir.SystemClassCode, k.Class, k.ClassName)},
		Subject:          &fhir.Reference{Reference: "Patient/" + string(rec.Patient.ID), Identifier: ptr(fhir.INSIdentifier(rec.Patient.INS))},
		Date:             fhir.FormatInstant(cd.Created),
		Author:           []fhir.Reference{{Reference: "#author"}},
		Custodian:        &fhir.Reference{Identifier: &fhir.Identifier{System: fhir.SystemStructure, Value: "DMP"}, Display: "Sandbox DMP (Carnet)"},
		SecurityLabel:    fhir.SecurityLabels(visNone),
		Content: []fhir.DocumentContent{{Attachment: fhir.Attachment{Language: "fr-FR", Title: cd.Title, Creation: fhir.FormatInstant(cd.Created)},
			Format: &format}},
		Context: &fhir.DocumentRefContext{
			Period:            &fhir.Period{Start: fhir.FormatInstant(cd.ActStart)},
			FacilityType:      &fhir.CodeableConcept{Coding: []fhir.Coding{{System: "https://mos.esante.gouv.fr/NOS/TRE_R02-SecteurActivite/FHIR/TRE-R02-SecteurActivite", Code: k.Facility, Display: k.FacilityLbl}}},
			PracticeSetting:   &fhir.CodeableConcept{Coding: []fhir.Coding{{System: "https://mos.esante.gouv.fr/NOS/ASS_A11-CorresModeleCDA-XdsPracticeSettingCode/FHIR/ASS-A11-CorresModeleCDA-XdsPracticeSettingCode", Code: "GENERALISTE", Display: "Médecine Générale"}}},
			SourcePatientInfo: &fhir.Reference{Reference: "#source-patient"},
		},
	}
	if !a.Device {
		dc.Ref.Authenticator = &fhir.Reference{Reference: "#author"}
	}
	if !cd.ActEnd.IsZero() {
		dc.Ref.Context.Period.End = fhir.FormatInstant(cd.ActEnd)
	}
	dc.setContent(content, "text/xml")
	return dc
}

func ptr[T any](v T) *T { return &v }

// pseudoUUID derives a stable UUID-shaped string from s (FNV, not random).
func pseudoUUID(s string) string {
	var h1, h2 uint64 = 14695981039346656037, 1099511628211
	for i := 0; i < len(s); i++ {
		h1 = (h1 ^ uint64(s[i])) * 1099511628211
		h2 = (h2 ^ uint64(s[i])) * 14695981039346656037
	}
	const hex = "0123456789abcdef"
	var b strings.Builder
	for i, v := range [2]uint64{h1, h2} {
		for j := 0; j < 16; j++ {
			if n := i*16 + j; n == 8 || n == 12 || n == 16 || n == 20 {
				b.WriteByte('-')
			}
			b.WriteByte(hex[(v>>(60-4*j))&0xf])
		}
	}
	return b.String()
}

// newSubset builds the submission set List of members.
func newSubset(d *data, rec *record, id string, at time.Time, author string, members ...*doc) *subset {
	s := &subset{Seq: d.nextSeq(), Date: at, Author: author, Members: members}
	s.List = fhir.List{
		ID:         id,
		Meta:       &fhir.Meta{VersionID: "1", LastUpdated: fhir.FormatInstant(at)},
		Identifier: []fhir.Identifier{{System: fhir.SystemRFC3986, Value: "urn:uuid:" + pseudoUUID(id)}},
		Status:     "current",
		Mode:       "working",
		Code:       &fhir.CodeableConcept{Coding: []fhir.Coding{{System: fhir.SystemMHDListTypes, Code: "submissionset"}}},
		Subject:    &fhir.Reference{Reference: "Patient/" + string(rec.Patient.ID), Identifier: ptr(fhir.INSIdentifier(rec.Patient.INS))},
		Date:       fhir.FormatInstant(at),
	}
	if author != "" {
		s.List.Source = &fhir.Reference{Identifier: &fhir.Identifier{System: fhir.SystemRPPS, Value: author}}
	}
	return s
}
