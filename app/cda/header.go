package cda

import (
	"encoding/xml"
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/carnetdesk/carnet/app"
)

// document reads the root element and everything in it.
func (p *parser) document() {
	var root *xml.StartElement
	for root == nil {
		switch t := p.next().(type) {
		case nil:
			if p.err == nil {
				p.fail(KindStructure, "no root element")
			}
			return
		case xml.StartElement:
			root = &t
		case xml.CharData:
			if len(strings.TrimSpace(string(t))) > 0 {
				p.fail(KindSyntax, "text outside the root element")
				return
			}
		}
	}
	switch {
	case root.Name.Local == "ClinicalDocument" && root.Name.Space == nsHL7:
		p.clinicalDocument()
	case (root.Name.Local == "stylesheet" || root.Name.Local == "transform") && root.Name.Space == nsXSL:
		p.xslWrapper()
	default:
		p.fail(KindStructure, "root element is not an urn:hl7-org:v3 ClinicalDocument")
		return
	}
	if p.err != nil {
		return
	}
	p.trailer()
}

// xslWrapper finds the ClinicalDocument of a self-presenting document: an
// XSL stylesheet root holding the document, as a child or a grandchild
// (inside one container element), beside the templates that present it.
// The stylesheet is never run: its own elements are skipped unread. No
// ClinicalDocument, or more than one, is refused.
func (p *parser) xslWrapper() {
	found := 0
	var visit func(level int)
	visit = func(level int) {
		p.children(func(se *xml.StartElement) {
			switch {
			case se.Name.Local == "ClinicalDocument" && se.Name.Space == nsHL7:
				found++
				if found > 1 {
					p.fail(KindStructure, "the XSL wrapper holds more than one ClinicalDocument")
					return
				}
				p.clinicalDocument()
			case se.Name.Space == nsXSL:
				// templates, variables, parameters: never read
			case level < 2:
				visit(level + 1)
			}
		})
	}
	visit(1)
	if p.err == nil && found == 0 {
		p.fail(KindStructure, "the XSL wrapper holds no ClinicalDocument")
	}
}

// clinicalDocument reads the children of the ClinicalDocument element just
// started.
func (p *parser) clinicalDocument() {
	d := p.doc
	p.children(func(se *xml.StartElement) {
		switch hl7(se) {
		case "templateId":
			d.TemplateIDs = append(d.TemplateIDs, attr(se, "root"))
		case "id":
			d.ID = app.DocumentID(ii(se).String())
		case "code":
			d.Type = code(se)
		case "title":
			d.Title = p.text()
		case "effectiveTime":
			d.Effective = p.ts(se, "effectiveTime")
		case "confidentialityCode":
			d.Confidentiality = code(se)
		case "languageCode":
			d.Language = attr(se, "code")
		case "setId":
			d.SetID = ii(se).String()
		case "versionNumber":
			if v := attr(se, "value"); v != "" {
				n, err := strconv.Atoi(v)
				if err != nil || n < 0 {
					p.flag(FlagMissing, "versionNumber")
				}
				d.Version = n
			}
		case "recordTarget":
			if p.sawRT {
				p.fail(KindIdentity, "more than one recordTarget")
				return
			}
			p.sawRT = true
			p.recordTarget()
		case "author":
			d.Authors = append(d.Authors, p.author("author"))
		case "custodian":
			p.custodian()
		case "legalAuthenticator":
			a := p.author("legalAuthenticator")
			d.LegalAuthenticator = &a
		case "documentationOf":
			p.documentationOf()
		case "relatedDocument":
			if attr(se, "typeCode") == "RPLC" {
				p.children(func(se *xml.StartElement) {
					if is(se, "parentDocument") {
						p.children(func(se *xml.StartElement) {
							if is(se, "id") && d.Replaces == "" {
								d.Replaces = app.DocumentID(ii(se).String())
							}
						})
					}
				})
			}
		case "componentOf":
			p.componentOf()
		case "component":
			if p.opt.HeaderOnly {
				p.err = errHeaderDone
				return
			}
			p.children(func(se *xml.StartElement) {
				switch hl7(se) {
				case "nonXMLBody":
					p.nonXMLBody()
				case "structuredBody":
					p.structuredBody()
				}
			})
		}
	})
}

// trailer reads what follows the root element.
func (p *parser) trailer() {
	// Whatever follows the root (comments, processing instructions) is
	// read to the end so that trailing garbage is refused.
	for {
		t, err := p.d.Token()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				p.readError(err)
			}
			break
		}
		switch tt := t.(type) {
		case xml.StartElement:
			p.fail(KindSyntax, "more than one root element")
			return
		case xml.Directive:
			p.fail(KindForbidden, "document type declarations are not allowed")
			return
		case xml.CharData:
			if len(strings.TrimSpace(string(tt))) > 0 {
				p.fail(KindSyntax, "text outside the root element")
				return
			}
		}
	}
	if p.err != nil {
		return
	}
	if !p.sawRT {
		p.fail(KindStructure, "no recordTarget: the patient is not identified")
		return
	}
	if p.doc.ID == "" {
		p.flag(FlagMissing, "id")
	}
}

// insStatus returns the INS status of an OID, and whether the OID is one of
// an INS domain.
func insStatus(oid string) (INSStatus, bool) {
	switch oid {
	case app.OIDINSNIR, app.OIDINSNIA:
		return INSProduction, true
	case app.OIDINSNIRTest:
		return INSTest, true
	case app.OIDINSNIRDemo:
		return INSDemo, true
	}
	return INSNone, false
}

// recordTarget reads recordTarget/patientRole.
func (p *parser) recordTarget() {
	pt := &p.doc.Patient
	roles, patients := 0, 0
	p.children(func(se *xml.StartElement) {
		if !is(se, "patientRole") {
			return
		}
		if roles++; roles == 2 {
			pt.Repeated = append(pt.Repeated, "patientRole")
		}
		p.children(func(se *xml.StartElement) {
			switch hl7(se) {
			case "id":
				id := ii(se)
				st, ok := insStatus(id.Root)
				if !ok {
					if !id.IsZero() {
						pt.LocalIDs = append(pt.LocalIDs, id)
					}
					return
				}
				if !pt.INS.IsZero() {
					p.fail(KindIdentity, "recordTarget carries more than one INS")
					return
				}
				ins, err := app.ParseINS(id.Extension, id.Root)
				if err != nil {
					p.flag(FlagBadINS, "recordTarget/patientRole/id")
					ins = app.INS{Matricule: strings.TrimSpace(id.Extension), OID: id.Root}
				}
				pt.INS, pt.INSStatus = ins, st
				if p.opt.Production && st != INSProduction {
					p.flag(FlagTestINS, "recordTarget/patientRole/id")
				}
			case "patient":
				if patients++; patients == 2 {
					pt.Repeated = append(pt.Repeated, "patient")
				}
				p.patient(pt)
			}
		})
	})
}

// patient reads patientRole/patient: names, sex, birth.
//
// An identity element that appears twice (two names, two birth dates, two
// sexes, two birth names, two birth places) is noted in pt.Repeated, once
// per element: the document does not say who the patient is, and nobody
// may choose for it (ANS 904). The values read last are kept for display.
func (p *parser) patient(pt *Patient) {
	seen := map[string]int{}
	repeat := func(el string) {
		if seen[el]++; seen[el] == 2 && !slices.Contains(pt.Repeated, el) {
			pt.Repeated = append(pt.Repeated, el)
		}
	}
	p.children(func(se *xml.StartElement) {
		switch el := hl7(se); el {
		case "name", "administrativeGenderCode", "birthTime", "birthplace":
			repeat(el)
		}
		switch hl7(se) {
		case "name":
			var unqualified, brGiven string
			p.children(func(se *xml.StartElement) {
				q := attr(se, "qualifier")
				switch hl7(se) {
				case "family":
					v := p.text()
					switch {
					case strings.Contains(q, "BR"):
						repeat("family-BR")
						pt.BirthName = v
					case strings.Contains(q, "CL"), strings.Contains(q, "SP"):
						pt.UsedName = v
					case pt.BirthName == "":
						pt.BirthName = v
					}
				case "given":
					v := p.text()
					switch {
					case strings.Contains(q, "BR"):
						brGiven = v
					case strings.Contains(q, "CL"):
						pt.UsedGiven = v
					default:
						unqualified = strings.TrimSpace(unqualified + " " + v)
					}
				}
			})
			// CI-SIS: the unqualified given holds the birth given names,
			// given[@qualifier=BR] the first of them.
			switch {
			case unqualified != "":
				pt.GivenNames = unqualified
			default:
				pt.GivenNames = brGiven
			}
		case "administrativeGenderCode":
			switch attr(se, "code") {
			case "F":
				pt.Sex = app.SexFemale
			case "M":
				pt.Sex = app.SexMale
			case "U", "UN":
				pt.Sex = app.SexUnknown
			}
		case "birthTime":
			bd, ok := birthDate(attr(se, "value"))
			if !ok {
				p.flag(FlagBadDate, "birthTime")
			}
			pt.BirthDate = bd
		case "birthplace":
			var county, city string
			p.children(func(se *xml.StartElement) {
				if is(se, "place") {
					p.children(func(se *xml.StartElement) {
						if is(se, "addr") {
							p.children(func(se *xml.StartElement) {
								switch hl7(se) {
								case "county":
									county = p.text()
								case "city":
									city = p.text()
								}
							})
						}
					})
				}
			})
			pt.BirthPlace = county
			if county == "" {
				pt.BirthPlace = city
			}
		}
	})
}

// author reads an author or legalAuthenticator (the element just started):
// time, and assignedAuthor or assignedEntity.
func (p *parser) author(detail string) Author {
	var a Author
	p.children(func(se *xml.StartElement) {
		switch hl7(se) {
		case "time":
			a.Time = p.ts(se, detail+"/time")
		case "assignedAuthor", "assignedEntity":
			p.assigned(&a)
		}
	})
	return a
}

// assigned reads an assignedAuthor or assignedEntity into a.
func (p *parser) assigned(a *Author) {
	var id ID
	p.children(func(se *xml.StartElement) {
		switch hl7(se) {
		case "id":
			if id.IsZero() {
				id = ii(se)
			}
		case "code":
			a.Role = code(se)
		case "assignedPerson":
			per := &Person{}
			p.children(func(se *xml.StartElement) {
				if is(se, "name") {
					p.personName(per)
				}
			})
			a.Person = per
		case "assignedAuthoringDevice":
			var model, soft string
			p.children(func(se *xml.StartElement) {
				switch hl7(se) {
				case "softwareName":
					soft = p.text()
				case "manufacturerModelName":
					model = p.text()
				}
			})
			a.Device = soft
			if a.Device == "" || a.Device == "." {
				a.Device = model
			}
		case "representedOrganization":
			a.Organisation = p.organisation()
		}
	})
	if a.Person != nil {
		a.Person.ID = id
	} else {
		a.DeviceID = id
	}
}

// personName reads a PN into per.
func (p *parser) personName(per *Person) {
	p.children(func(se *xml.StartElement) {
		switch hl7(se) {
		case "prefix":
			per.Prefix = join(per.Prefix, p.text())
		case "suffix":
			per.Suffix = join(per.Suffix, p.text())
		case "given":
			per.Given = join(per.Given, p.text())
		case "family":
			per.Family = join(per.Family, p.text())
		}
	})
}

func join(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + " " + b
}

// organisation reads an organisation's id and name.
func (p *parser) organisation() Organisation {
	var o Organisation
	p.children(func(se *xml.StartElement) {
		switch hl7(se) {
		case "id":
			if o.ID.IsZero() {
				o.ID = ii(se)
			}
		case "name":
			o.Name = p.text()
		}
	})
	return o
}

// custodian reads custodian/assignedCustodian/representedCustodianOrganization.
func (p *parser) custodian() {
	p.children(func(se *xml.StartElement) {
		if is(se, "assignedCustodian") {
			p.children(func(se *xml.StartElement) {
				if is(se, "representedCustodianOrganization") {
					p.doc.Custodian = p.organisation()
				}
			})
		}
	})
}

// ivl reads an IVL_TS (low, high, or a single value) into lo and hi.
func (p *parser) ivl(se *xml.StartElement, detail string) (lo, hi time.Time) {
	if attr(se, "value") != "" {
		lo = p.ts(se, detail)
	}
	p.children(func(se *xml.StartElement) {
		switch hl7(se) {
		case "low":
			lo = p.ts(se, detail+"/low")
		case "high":
			hi = p.ts(se, detail+"/high")
		case "center":
			if lo.IsZero() {
				lo = p.ts(se, detail+"/center")
			}
		}
	})
	return lo, hi
}

// documentationOf reads documentationOf/serviceEvent: the act dates.
func (p *parser) documentationOf() {
	d := p.doc
	p.children(func(se *xml.StartElement) {
		if !is(se, "serviceEvent") {
			return
		}
		p.children(func(se *xml.StartElement) {
			switch hl7(se) {
			case "code":
				if d.ServiceEvent.IsZero() {
					d.ServiceEvent = code(se)
				}
			case "effectiveTime":
				lo, hi := p.ivl(se, "serviceEvent/effectiveTime")
				if !lo.IsZero() && (d.ServiceStart.IsZero() || lo.Before(d.ServiceStart)) {
					d.ServiceStart = lo
				}
				if !hi.IsZero() && hi.After(d.ServiceEnd) {
					d.ServiceEnd = hi
				}
			}
		})
	})
}

// componentOf reads componentOf/encompassingEncounter.
func (p *parser) componentOf() {
	d := p.doc
	p.children(func(se *xml.StartElement) {
		if !is(se, "encompassingEncounter") {
			return
		}
		p.children(func(se *xml.StartElement) {
			switch hl7(se) {
			case "effectiveTime":
				d.EncounterStart, d.EncounterEnd = p.ivl(se, "encompassingEncounter/effectiveTime")
			case "location":
				p.children(func(se *xml.StartElement) {
					if !is(se, "healthCareFacility") {
						return
					}
					p.children(func(se *xml.StartElement) {
						switch hl7(se) {
						case "code":
							d.Facility = code(se)
						case "serviceProviderOrganization":
							d.FacilityName = p.organisation().Name
						}
					})
				})
			}
		})
	})
}

// finish fills what depends on the whole document: the source of every
// medication line.
func (p *parser) finish() {
	d := p.doc
	src := app.MedicationSource{Document: d.ID, TypeCode: d.Type.Code, Title: d.Title, Date: d.Effective}
	if len(d.Authors) > 0 {
		src.Author = d.Authors[0].Name()
	}
	for i := range d.Medications {
		d.Medications[i].Source = src
	}
}
