package dmptest

import (
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"strings"
	"time"

	"github.com/carnetdesk/carnet/app"
)

// cdaAuthor is the author of a synthetic document: a person with an RPPS,
// or a device (the Assurance Maladie feed).
type cdaAuthor struct {
	RPPS      string
	Name      string // "Prénom NOM" for people, device name for devices
	Role      string // TRE_G15 code for display: G15_10/SM26 …
	RoleName  string
	OrgID     string
	OrgName   string
	Device    bool
	FirstName string
	LastName  string
}

// cdaDoc is what the templates need to write one CDA R2 document.
type cdaDoc struct {
	ID          string // uniqueId (an OID)
	SetID       string
	Version     int
	TypeCode    string
	TypeSystem  string // LOINC or TRE_A05 OID
	TypeName    string
	Title       string
	Templates   []string // model templateIds after the two generic ones
	Created     time.Time
	ActStart    time.Time
	ActEnd      time.Time
	Patient     app.Patient
	Author      cdaAuthor
	Replaces    string // uniqueId of the replaced version (RPLC)
	Sections    []cdaSection
	PDF         []byte // N1 body when set
	Facility    string // SAxx healthcare facility type code
	FacilityLbl string
}

// cdaSection is one titled section with narrative and optional entries.
type cdaSection struct {
	Code    string // LOINC
	Title   string
	Paras   []string
	Table   [][]string // first row is the header
	Entries string     // raw XML entries, already escaped
}

const (
	oidLOINC    = "2.16.840.1.113883.6.1"
	oidTREA05   = "1.2.250.1.213.1.1.4.12"
	oidRPPS     = "1.2.250.1.71.4.2.1"
	oidStruct   = "1.2.250.1.71.4.2.2"
	oidG15      = "1.2.250.1.213.1.1.4.5"
	cdaTimeForm = "20060102150405-0700"
)

func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

func cdaTime(t time.Time) string { return t.In(paris).Format(cdaTimeForm) }

var paris = func() *time.Location {
	if l, err := time.LoadLocation("Europe/Paris"); err == nil {
		return l
	}
	return time.FixedZone("CET", 3600)
}()

// writeCDA renders a synthetic CDA R2 document: the CI-SIS header
// (structuration minimale) and either an N1 PDF body or N3 sections.
func writeCDA(d cdaDoc) []byte {
	var b strings.Builder
	b.Grow(4096 + len(d.PDF)*4/3)
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	w(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	w(`<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:pharm="urn:ihe:pharm:medication">` + "\n")
	w(`<realmCode code="FR"/><typeId root="2.16.840.1.113883.1.3" extension="POCD_HD000040"/>` + "\n")
	w(`<templateId root="2.16.840.1.113883.2.8.2.1"/><templateId root="1.2.250.1.213.1.1.1.1"/>` + "\n")
	for _, t := range d.Templates {
		w(`<templateId root="%s"/>`+"\n", t)
	}
	if d.PDF != nil {
		w(`<templateId root="1.3.6.1.4.1.19376.1.2.20"/>` + "\n")
	}
	w(`<id root="%s"/>`+"\n", d.ID)
	w(`<code code="%s" codeSystem="%s" displayName="%s"/>`+"\n", d.TypeCode, d.TypeSystem, esc(d.TypeName))
	w(`<title>%s</title>`+"\n", esc(d.Title))
	w(`<effectiveTime value="%s"/>`+"\n", cdaTime(d.Created))
	w(`<confidentialityCode code="N" codeSystem="2.16.840.1.113883.5.25" displayName="Normal"/>` + "\n")
	w(`<languageCode code="fr-FR"/><setId root="%s"/><versionNumber value="%d"/>`+"\n", d.SetID, d.Version)
	p := d.Patient
	w("<recordTarget><patientRole>\n")
	if p.Status == app.IdentityQualified {
		w(`<id root="%s" extension="%s"/>`+"\n", p.INS.OID, p.INS.Matricule)
	}
	w(`<id root="1.2.250.1.999.3.1" extension="IPP%s"/>`+"\n", strings.TrimPrefix(string(p.ID), "p"))
	w(`<patient classCode="PSN"><name><family qualifier="BR">%s</family>`, esc(p.BirthName))
	for i, g := range strings.Fields(p.BirthGivenNames) {
		if i == 0 {
			w(`<given qualifier="BR">%s</given>`, esc(g))
		}
	}
	w(`<given>%s</given>`, esc(p.BirthGivenNames))
	if p.UsedName != "" {
		w(`<family qualifier="CL">%s</family>`, esc(p.UsedName))
	}
	w("</name>\n")
	w(`<administrativeGenderCode code="%s" codeSystem="2.16.840.1.113883.5.1"/>`, string(p.Sex))
	w(`<birthTime value="%s"/>`, strings.ReplaceAll(p.BirthDate, "-", ""))
	w(`<birthplace><place><addr><county>%s</county></addr></place></birthplace>`, esc(p.BirthPlace))
	w("</patient></patientRole></recordTarget>\n")
	w(`<author><time value="%s"/><assignedAuthor>`, cdaTime(d.Created))
	a := d.Author
	if a.Device {
		w(`<id root="%s" extension="ALIM_AM"/>`, oidStruct)
		w(`<assignedAuthoringDevice><manufacturerModelName>%s</manufacturerModelName><softwareName>%s</softwareName></assignedAuthoringDevice>`, esc(a.Name), esc(a.Name))
	} else {
		w(`<id root="%s" extension="%s"/>`, oidRPPS, a.RPPS)
		w(`<code code="%s" codeSystem="%s" displayName="%s"/>`, a.Role, oidG15, esc(a.RoleName))
		w(`<assignedPerson><name><given>%s</given><family>%s</family><suffix>DR</suffix></name></assignedPerson>`, esc(a.FirstName), esc(a.LastName))
	}
	w(`<representedOrganization><id root="%s" extension="%s"/><name>%s</name></representedOrganization>`, oidStruct, a.OrgID, esc(a.OrgName))
	w("</assignedAuthor></author>\n")
	w(`<custodian><assignedCustodian><representedCustodianOrganization><id root="1.2.250.1.213.4.1" extension="DMP"/><name>Sandbox DMP (Carnet)</name></representedCustodianOrganization></assignedCustodian></custodian>` + "\n")
	if !a.Device {
		w(`<legalAuthenticator><time value="%s"/><signatureCode code="S"/><assignedEntity><id root="%s" extension="%s"/><assignedPerson><name><given>%s</given><family>%s</family></name></assignedPerson></assignedEntity></legalAuthenticator>`+"\n",
			cdaTime(d.Created), oidRPPS, a.RPPS, esc(a.FirstName), esc(a.LastName))
	}
	if d.Replaces != "" {
		w(`<relatedDocument typeCode="RPLC"><parentDocument><id root="%s"/></parentDocument></relatedDocument>`+"\n", d.Replaces)
	}
	end := d.ActEnd
	if end.IsZero() {
		end = d.ActStart
	}
	w(`<documentationOf><serviceEvent><effectiveTime><low value="%s"/><high value="%s"/></effectiveTime></serviceEvent></documentationOf>`+"\n", cdaTime(d.ActStart), cdaTime(end))
	w(`<componentOf><encompassingEncounter><effectiveTime><low value="%s"/></effectiveTime><location><healthCareFacility><code code="%s" codeSystem="1.2.250.1.71.4.2.4" displayName="%s"/></healthCareFacility></location></encompassingEncounter></componentOf>`+"\n",
		cdaTime(d.ActStart), d.Facility, esc(d.FacilityLbl))
	w("<component>")
	if d.PDF != nil {
		w(`<nonXMLBody><text mediaType="application/pdf" representation="B64">%s</text></nonXMLBody>`, base64.StdEncoding.EncodeToString(d.PDF))
	} else {
		w("<structuredBody>\n")
		for _, s := range d.Sections {
			w(`<component><section><code code="%s" codeSystem="%s"/><title>%s</title><text>`, s.Code, oidLOINC, esc(s.Title))
			for _, para := range s.Paras {
				w(`<paragraph>%s</paragraph>`, esc(para))
			}
			if len(s.Table) > 0 {
				w(`<table border="1"><thead><tr>`)
				for _, h := range s.Table[0] {
					w(`<th>%s</th>`, esc(h))
				}
				w(`</tr></thead><tbody>`)
				for _, row := range s.Table[1:] {
					w(`<tr>`)
					for _, c := range row {
						w(`<td>%s</td>`, esc(c))
					}
					w(`</tr>`)
				}
				w(`</tbody></table>`)
			}
			w("</text>%s</section></component>\n", s.Entries)
		}
		w("</structuredBody>")
	}
	w("</component>\n</ClinicalDocument>\n")
	return []byte(b.String())
}

// minimalPDF returns a small valid PDF (one page, Helvetica text lines),
// with a correct cross-reference table.
func minimalPDF(lines []string) []byte {
	var content strings.Builder
	content.WriteString("BT /F1 11 Tf 56 780 Td 14 TL\n")
	for _, l := range lines {
		content.WriteString("(" + pdfString(l) + ") Tj T*\n")
	}
	content.WriteString("ET\n")
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
		fmt.Sprintf("<< /Length %d >>\nstream\n%sendstream", content.Len(), content.String()),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
	}
	var b strings.Builder
	b.WriteString("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	offs := make([]int, len(objs))
	for i, o := range objs {
		offs[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
	return []byte(b.String())
}

// pdfString escapes a PDF literal string and maps text to WinAnsi (Latin-1
// for the French accents; other runes become '?').
func pdfString(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '(' || r == ')' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x80:
			b.WriteRune(r)
		case r <= 0xff:
			fmt.Fprintf(&b, "\\%03o", r)
		case r == 'œ':
			b.WriteString("\\234")
		case r == 'Œ':
			b.WriteString("\\214")
		default:
			b.WriteByte('?')
		}
	}
	return b.String()
}
