package cda

import (
	"bytes"
	"encoding/xml"
	"strconv"
	"strings"
	"time"

	"github.com/carnetdesk/carnet/app"
)

// xw is a small indenting XML writer. Element and attribute names are
// constants of this package; every value and every text goes through
// xml.EscapeText, which also replaces characters XML cannot carry.
type xw struct {
	b         bytes.Buffer
	stack     []string
	footnotes map[string][]app.Inline // footnotes of the narrative being written, not yet written
}

func (w *xw) indent() {
	w.b.WriteByte('\n')
	for range w.stack {
		w.b.WriteString("  ")
	}
}

func (w *xw) escape(s string) { _ = xml.EscapeText(&w.b, []byte(s)) }

// start writes <name a="v" …> without closing it; attributes with an empty
// value are left out.
func (w *xw) start(name string, attrs []string) {
	w.indent()
	w.b.WriteByte('<')
	w.b.WriteString(name)
	for i := 0; i+1 < len(attrs); i += 2 {
		if attrs[i+1] == "" {
			continue
		}
		w.b.WriteByte(' ')
		w.b.WriteString(attrs[i])
		w.b.WriteString(`="`)
		w.escape(attrs[i+1])
		w.b.WriteByte('"')
	}
}

// open writes a start tag; close ends it.
func (w *xw) open(name string, attrs ...string) {
	w.start(name, attrs)
	w.b.WriteByte('>')
	w.stack = append(w.stack, name)
}

func (w *xw) close() {
	name := w.stack[len(w.stack)-1]
	w.stack = w.stack[:len(w.stack)-1]
	w.indent()
	w.b.WriteString("</")
	w.b.WriteString(name)
	w.b.WriteByte('>')
}

// leaf writes an empty element.
func (w *xw) leaf(name string, attrs ...string) {
	w.start(name, attrs)
	w.b.WriteString("/>")
}

// text writes <name …>text</name> on one line.
func (w *xw) text(name, text string, attrs ...string) {
	w.start(name, attrs)
	w.b.WriteByte('>')
	w.escape(text)
	w.b.WriteString("</")
	w.b.WriteString(name)
	w.b.WriteByte('>')
}

// raw writes bytes that need no escaping (base64).
func (w *xw) raw(name string, data []byte, attrs ...string) {
	w.start(name, attrs)
	w.b.WriteByte('>')
	w.b.Write(data)
	w.b.WriteString("</")
	w.b.WriteString(name)
	w.b.WriteByte('>')
}

func (w *xw) id(name string, id ID) { w.leaf(name, "root", id.Root, "extension", id.Extension) }

// code writes a coded element (code, routeCode …).
func (w *xw) code(name string, c app.Code, systemName string) {
	w.leaf(name, "code", c.Code, "displayName", c.Display, "codeSystem", c.System, "codeSystemName", systemName)
}

// hl7Time formats a point in time as the samples do: YYYYMMDDhhmmss+zzzz.
func hl7Time(t time.Time) string { return t.Format("20060102150405-0700") }

// hl7Date formats a date alone: YYYYMMDD.
func hl7Date(t time.Time) string { return t.Format("20060102") }

// header is everything the CI-SIS header needs.
type header struct {
	templates [][2]string // templateId root, extension
	ids       ids
	typ       app.Code
	title     string
	created   time.Time
	vis       Visibility
	patient   app.Patient
	ins       app.INS
	author    Practitioner
	legal     Practitioner
	custodian Structure
	start     time.Time // act (service event) start
	end       time.Time // act end, optional
	encounter app.Code  // encompassingEncounter/code, optional
	pharm     bool      // declare the IHE PHARM namespace
	typName   string    // codeSystemName of typ; empty: "LOINC"
	act       app.Code  // documentationOf/serviceEvent/code, optional
	actName   string    // its codeSystemName
}

// Template ids shared by every document (samples: ANEST-CR-CPA_2022.01.xml
// lines 28-30, DOC_NON_STRUCTURE_CDA-R2-N1.xml lines 29-31).
var (
	tmplHL7France = [2]string{"2.16.840.1.113883.2.8.2.1", ""}
	tmplCISIS     = [2]string{"1.2.250.1.213.1.1.1.1", ""}
)

const xmlDecl = `<?xml version="1.0" encoding="UTF-8"?>`

// writeHeader opens ClinicalDocument and writes the header, up to and
// excluding the body component. The caller writes the body and closes.
func (w *xw) writeHeader(h *header) {
	w.b.WriteString(xmlDecl)
	attrs := []string{"xmlns", "urn:hl7-org:v3", "xmlns:xsi", "http://www.w3.org/2001/XMLSchema-instance"}
	if h.pharm {
		attrs = append(attrs, "xmlns:pharm", "urn:ihe:pharm:medication")
	}
	w.stack = w.stack[:0]
	w.start("ClinicalDocument", attrs)
	w.b.WriteByte('>')
	w.stack = append(w.stack, "ClinicalDocument")

	w.leaf("realmCode", "code", "FR")
	w.leaf("typeId", "root", "2.16.840.1.113883.1.3", "extension", "POCD_HD000040")
	for _, t := range h.templates {
		w.leaf("templateId", "root", t[0], "extension", t[1])
	}
	w.id("id", h.ids.id)
	typName := h.typName
	if typName == "" {
		typName = "LOINC"
	}
	w.code("code", h.typ, typName)
	w.text("title", h.title)
	w.leaf("effectiveTime", "value", hl7Time(h.created))
	w.code("confidentialityCode", h.vis.Confidentiality(), "Confidentiality")
	w.leaf("languageCode", "code", "fr-FR")
	w.id("setId", h.ids.setID)
	w.leaf("versionNumber", "value", strconv.Itoa(h.ids.version))

	w.writeRecordTarget(h.patient, h.ins)

	w.open("author")
	w.leaf("time", "value", hl7Time(h.created))
	w.open("assignedAuthor", "classCode", "ASSIGNED")
	w.writePractitioner(h.author, false)
	w.close()
	w.close()

	w.open("custodian", "typeCode", "CST")
	w.open("assignedCustodian")
	w.open("representedCustodianOrganization")
	cid, _ := h.custodian.id()
	w.id("id", cid)
	w.text("name", h.custodian.Name)
	w.close()
	w.close()
	w.close()

	w.open("legalAuthenticator")
	w.leaf("time", "value", hl7Time(h.created))
	w.leaf("signatureCode", "code", "S")
	w.open("assignedEntity")
	w.writePractitioner(h.legal, false)
	w.close()
	w.close()

	w.open("documentationOf")
	w.open("serviceEvent")
	if !h.act.IsZero() {
		w.code("code", h.act, h.actName)
	}
	w.open("effectiveTime")
	w.leaf("low", "value", hl7Time(h.start))
	if !h.end.IsZero() {
		w.leaf("high", "value", hl7Time(h.end))
	}
	w.close()
	w.open("performer", "typeCode", "PRF")
	w.open("assignedEntity")
	w.writePractitioner(h.author, true)
	w.close()
	w.close()
	w.close()
	w.close()

	if !h.ids.replaces.IsZero() {
		w.open("relatedDocument", "typeCode", "RPLC")
		w.open("parentDocument")
		w.id("id", h.ids.replaces)
		w.close()
		w.close()
	}

	w.open("componentOf")
	w.open("encompassingEncounter")
	if !h.encounter.IsZero() {
		w.code("code", h.encounter, "")
	}
	w.open("effectiveTime")
	w.leaf("low", "value", hl7Time(h.start))
	if !h.end.IsZero() {
		w.leaf("high", "value", hl7Time(h.end))
	}
	w.close()
	w.open("location")
	w.open("healthCareFacility")
	w.code("code", h.author.Structure.FacilityType, "")
	w.close()
	w.close()
	w.close()
	w.close()
}

// writeRecordTarget writes the patient: the INS (qualified identity only)
// and the five strict traits, as ANEST-CR-CPA_2022.01.xml lines 45-118 do.
func (w *xw) writeRecordTarget(p app.Patient, ins app.INS) {
	w.open("recordTarget")
	w.open("patientRole")
	w.leaf("id", "root", ins.OID, "extension", ins.Matricule)
	w.open("patient", "classCode", "PSN")
	w.open("name")
	w.text("family", strings.TrimSpace(p.BirthName), "qualifier", "BR")
	given := strings.Join(strings.Fields(p.BirthGivenNames), " ")
	first, _, _ := strings.Cut(given, " ")
	w.text("given", given)
	w.text("given", first, "qualifier", "BR")
	if p.UsedName != "" {
		w.text("family", strings.TrimSpace(p.UsedName), "qualifier", "CL")
	}
	if p.UsedGivenName != "" {
		w.text("given", strings.TrimSpace(p.UsedGivenName), "qualifier", "CL")
	}
	w.close()
	sexNames := map[app.Sex]string{app.SexFemale: "Féminin", app.SexMale: "Masculin", app.SexUnknown: "Inconnu"}
	w.leaf("administrativeGenderCode", "code", string(p.Sex), "displayName", sexNames[p.Sex], "codeSystem", "2.16.840.1.113883.5.1")
	w.leaf("birthTime", "value", strings.ReplaceAll(p.BirthDate, "-", ""))
	if p.BirthPlace != "" {
		w.open("birthplace")
		w.open("place")
		w.open("addr")
		w.text("county", p.BirthPlace)
		w.close()
		w.close()
		w.close()
	}
	w.close()
	w.close()
	w.close()
}

// writePractitioner writes the content of assignedAuthor / assignedEntity:
// id (8+RPPS), profession code, person name, represented organisation
// (ANEST-CR-CPA_2022.01.xml lines 117-148, 197-237). The practice setting
// (standardIndustryClassCode) goes where the samples put it: in the service
// event performer's organisation.
func (w *xw) writePractitioner(p Practitioner, practiceSetting bool) {
	w.id("id", ID{Root: OIDPractitionerID, Extension: "8" + p.RPPS})
	w.code("code", p.Profession, "")
	w.open("assignedPerson")
	w.open("name")
	if p.Prefix != "" {
		w.text("prefix", p.Prefix)
	}
	if p.Given != "" {
		w.text("given", p.Given)
	}
	w.text("family", p.Family)
	if p.Suffix != "" {
		w.text("suffix", p.Suffix)
	}
	w.close()
	w.close()
	w.open("representedOrganization")
	sid, _ := p.Structure.id()
	w.id("id", sid)
	w.text("name", p.Structure.Name)
	if practiceSetting && !p.Structure.PracticeSetting.IsZero() {
		w.code("standardIndustryClassCode", p.Structure.PracticeSetting, "practiceSettingCode")
	}
	w.close()
}

// newHeader checks what every document shares and fills a header.
func newHeader(p app.Patient, author Practitioner, legal *Practitioner, start, end time.Time, vis Visibility, opt WriteOptions) (*header, error) {
	if err := checkPatient(p); err != nil {
		return nil, err
	}
	ins, err := qualifiedINS(p, opt.AllowTestINS)
	if err != nil {
		return nil, err
	}
	if err := author.check("author"); err != nil {
		return nil, err
	}
	h := &header{patient: p, ins: ins, author: author, legal: author, vis: vis, start: start, end: end}
	if legal != nil {
		if err := legal.check("legal authenticator"); err != nil {
			return nil, err
		}
		h.legal = *legal
	}
	h.custodian = author.Structure
	if opt.Custodian != nil {
		if _, err := opt.Custodian.id(); err != nil {
			return nil, err
		}
		if strings.TrimSpace(opt.Custodian.Name) == "" {
			return nil, invalid("custodian name is required")
		}
		h.custodian = *opt.Custodian
	}
	if err := vis.check(); err != nil {
		return nil, err
	}
	if start.IsZero() {
		return nil, invalid("act date is required")
	}
	if !end.IsZero() && end.Before(start) {
		return nil, invalid("act end is before its start")
	}
	h.created = opt.Created
	if h.created.IsZero() {
		h.created = time.Now()
	}
	h.created = h.created.Truncate(time.Second)
	if h.ids, err = newIDs(opt); err != nil {
		return nil, err
	}
	return h, nil
}
