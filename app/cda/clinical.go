package cda

import (
	"encoding/xml"
	"strings"

	"github.com/carnetdesk/carnet/app"
)

// Template ids of allergy-like entries beyond the IHE ones.
const (
	tplFRAdverseEffect = "1.2.250.1.213.1.1.3.210" // FR-Effet-indesirable: an intolerance to a drug
)

// concern reads an act entry: an allergy or problem concern whose
// observations (entryRelationship SUBJ) become Allergies or Problems; the
// statements nested in any other act are read as entries of their own.
func (p *parser) concern(c stmtCtx) {
	kind := ""
	p.children(func(se *xml.StartElement) {
		switch hl7(se) {
		case "templateId":
			switch attr(se, "root") {
			case tplAllergyConcern, tplFRAllergyList:
				kind = "allergy"
			case tplProblemConcern, tplFRProblemList:
				if kind == "" {
					kind = "problem"
				}
			}
		case "entryRelationship":
			// only the concern's subjects (SUBJ, not inverted) are its
			// allergies or problems; a reaction (MFST), a severity, status
			// or comment (SUBJ inverted) is none of them
			cc := c
			cc.kind, cc.aux = "", false
			switch typ := attr(se, "typeCode"); {
			case typ == "MFST" || typ == "SUBJ" && attr(se, "inversionInd") == "true":
				cc.aux = true
			case typ == "SUBJ":
				cc.kind = kind
			}
			p.related(se, cc)
		}
	})
}

// auxTemplates are the templates of observations that qualify an allergy
// or a problem (severity, clinical or health status, comment) and are
// never one themselves. A reaction is known by its relationship (MFST):
// the same templates name a reaction recorded as a problem of its own
// (a vaccine's CAUS reaction).
var auxTemplates = map[string]bool{
	"1.3.6.1.4.1.19376.1.5.3.1.4.1":   true, // IHE Severity
	"1.3.6.1.4.1.19376.1.5.3.1.4.1.1": true, // IHE Problem Status Observation
	"1.3.6.1.4.1.19376.1.5.3.1.4.1.2": true, // IHE Health Status Observation
	"1.3.6.1.4.1.19376.1.5.3.1.4.2":   true, // IHE Comment
	"2.16.840.1.113883.10.20.1.55":    true, // CCD Severity observation
	"2.16.840.1.113883.10.20.1.50":    true, // CCD Problem status
	"2.16.840.1.113883.10.20.1.51":    true, // CCD Problem healthstatus
	"2.16.840.1.113883.10.20.1.57":    true, // CCD Status observation
	"2.16.840.1.113883.10.20.1.39":    true, // CCD Alert status
	"2.16.840.1.113883.10.20.1.40":    true, // CCD Comment
	"1.2.250.1.213.1.1.3.29":          true, // FR-Severite
	"1.2.250.1.213.1.1.3.30":          true, // FR-Statut-du-probleme
	"1.2.250.1.213.1.1.3.31":          true, // FR-Statut-clinique-du-patient
	"1.2.250.1.213.1.1.3.32":          true, // FR-Commentaire-ER
}

// auxCodes are the codes of such qualifying observations: HL7 ActCode SEV
// (severity) and CRIT (criticality), LOINC 33999-4 (status), 11323-3
// (health status), 48767-8 (comment), SNOMED 246112005 (severity).
var auxCodes = map[string]bool{
	"SEV": true, "CRIT": true, "33999-4": true, "11323-3": true, "48767-8": true, "246112005": true,
}

// auxiliary reports whether o qualifies an allergy or problem (by its
// templates or its code) rather than being one.
func (o *clinicalObs) auxiliary() bool {
	for _, t := range o.templates {
		if auxTemplates[t] {
			return true
		}
	}
	return auxCodes[strings.TrimSpace(o.code.Code)]
}

// clinicalObs is an observation being read.
type clinicalObs struct {
	templates []string
	code      app.Code
	value     app.Code
	valueText string
	boolValue string // "true" or "false" for a BL value; "" otherwise
	text      string
	status    string
	agent     app.Code
	agentName string
	reaction  string
	reactNeg  bool
	start     pdate
	end       pdate
	devices   []app.Device
	meds      int     // index in doc.Medications where the nested medications start
	pq        float64 // a PQ value (observation.go)
	pqOK      bool
	unit      string
}

// observation reads an observation; kind ("allergy", "problem" or "") comes
// from the enclosing concern, else from the observation's templates.
// Observations of neither kind give no entry, but the statements nested in
// them are read, and their device participants are Devices. A BL value is
// a presence (true) or an absence (false), never a name. It returns the
// observation's narrative text.
func (p *parser) observation(c stmtCtx, mood string) string {
	var o clinicalObs
	o.meds = len(p.doc.Medications)
	inner := c
	inner.kind, inner.aux = "", false
	p.children(func(se *xml.StartElement) {
		switch hl7(se) {
		case "templateId":
			o.templates = append(o.templates, attr(se, "root"))
		case "code":
			o.code = code(se)
			p.children(func(se *xml.StartElement) {
				if is(se, "originalText") && o.text == "" {
					o.text = usable(p.refText())
				}
			})
		case "text":
			if t := usable(p.refText()); t != "" {
				o.text = t
			}
		case "statusCode":
			o.status = attr(se, "code")
		case "effectiveTime":
			o.start, o.end = p.ivlp(se, "observation/effectiveTime")
		case "value":
			if xsiType(se) == "BL" {
				o.boolValue = strings.TrimSpace(attr(se, "value"))
				return
			}
			if xsiType(se) == "PQ" {
				o.pq, o.pqOK = quantity(attr(se, "value"))
				o.unit = unit(attr(se, "unit"))
				return
			}
			o.value = code(se)
			p.children(func(se *xml.StartElement) {
				if is(se, "originalText") {
					o.valueText = usable(p.refText())
				}
			})
		case "participant":
			if attr(se, "typeCode") == "DEV" {
				if d, ok := p.deviceParticipant(); ok {
					o.devices = append(o.devices, d)
				}
				return
			}
			p.agent(&o)
		case "entryRelationship":
			switch typ := attr(se, "typeCode"); {
			case typ == "MFST":
				p.reaction(&o, negationOf(se))
			case typ == "SUBJ" && attr(se, "inversionInd") == "true":
				// severity, comments, status: not entries of their own
			default:
				p.related(se, inner)
			}
		}
	})
	kind := c.kind // the concern's kind, for its subjects only
	if o.auxiliary() {
		kind = ""
	}
	for _, t := range o.templates {
		switch t {
		case tplAllergyEntry, tplFRAllergy, tplFRAdverseEffect:
			kind = "allergy"
		case tplProblemEntry, tplFRProblem:
			if kind == "" {
				kind = "problem"
			}
		}
	}
	if c.aux || o.auxiliary() {
		kind = "" // a reaction, severity or status of a concern: not an entry of its own
	}
	negated := c.negated || o.boolValue == "false" || absence(o.value) || absence(o.code)
	for _, d := range o.devices {
		d.Negated = d.Negated || negated
		d.Status = deviceStatus(mood, false, d.Type)
		if d.Date.IsZero() {
			d.Date, d.Precision = o.start.t, o.start.p
		}
		if d.Name == "" {
			d.Name = firstUsable(o.text, o.code.Display)
		}
		p.addDevice(d)
	}
	if kind == "" && o.pqOK && !negated && (mood == "" || mood == "EVN") {
		p.addObservation(app.Observation{Code: o.code, Text: o.text, Value: o.pq, Unit: o.unit, Date: o.start.t, Precision: o.start.p})
	}
	switch kind {
	case "allergy":
		a := app.Allergy{Code: o.code, Agent: o.agent, Reaction: o.reaction, ReactionNegated: o.reactNeg,
			Start: o.start.t, End: o.end.t, StartPrecision: o.start.p, EndPrecision: o.end.p, Negated: negated}
		a.Text = firstUsable(o.agentName, a.Agent.Display)
		if a.Text == "" && a.Agent.IsZero() {
			// an intolerance to a drug named by its nested medication
			for _, m := range p.doc.Medications[o.meds:] {
				a.Text = m.Name
				if !m.ATC.IsZero() {
					a.Agent = m.ATC
				} else {
					a.Agent = m.Product
				}
				break
			}
		}
		if a.Text == "" {
			// only the kind of allergy is left: the entry says no substance
			a.Unspecified = !negated && a.Agent.IsZero() && o.valueText == "" && o.text == "" && o.value.Code == "" && o.value.Display == ""
			a.Text = firstUsable(o.valueText, o.text, o.value.Display, o.code.Display)
		}
		if a.Text == "" {
			a.Text = "?"
		}
		// "no known allergy": an absence code, or a negated allergy to no
		// named agent (IHE: negationInd with a nullFlavor agent)
		a.NoneKnown = absence(o.value) || absence(o.code) || absence(o.agent) ||
			negated && a.Agent.IsZero() && o.agentName == "" && o.value.Code == "" && o.valueText == "" && len(p.doc.Medications) == o.meds
		a.Negated = a.Negated || a.NoneKnown
		p.doc.Allergies = append(p.doc.Allergies, a)
	case "problem":
		pr := app.Problem{Code: o.value, Kind: o.code, Start: o.start.t, End: o.end.t, StartPrecision: o.start.p, EndPrecision: o.end.p,
			Status: o.status, Negated: negated}
		if o.boolValue != "" {
			// "hypertension: yes/no": the code names the problem, the value says whether
			pr.Code, pr.Kind = o.code, app.Code{}
		}
		pr.Text = firstUsable(o.valueText, o.text, pr.Code.Display, o.code.Display)
		if pr.Text == "" {
			pr.Text = firstUsable(pr.Code.Code)
		}
		if pr.Text == "" {
			pr.Text = "?"
		}
		p.doc.Problems = append(p.doc.Problems, pr)
	}
	return firstUsable(o.text, o.valueText)
}

// firstUsable returns the first usable name of ss, or "".
func firstUsable(ss ...string) string {
	for _, s := range ss {
		if s = usable(s); s != "" {
			return s
		}
	}
	return ""
}

// agent reads an allergy's participant/participantRole/playingEntity.
func (p *parser) agent(o *clinicalObs) {
	p.children(func(se *xml.StartElement) {
		if !is(se, "participantRole") {
			return
		}
		p.children(func(se *xml.StartElement) {
			if !is(se, "playingEntity") {
				return
			}
			p.children(func(se *xml.StartElement) {
				switch hl7(se) {
				case "code":
					o.agent = code(se)
					p.children(func(se *xml.StartElement) {
						if is(se, "originalText") && o.agentName == "" {
							o.agentName = usable(p.refText())
						}
					})
				case "name":
					if n := usable(p.text()); n != "" {
						o.agentName = n
					}
				}
			})
		})
	})
}

// reaction reads an allergy's MFST observation: the reaction, and whether
// it is recorded as not observed.
func (p *parser) reaction(o *clinicalObs, relNeg bool) {
	p.children(func(se *xml.StartElement) {
		if !is(se, "observation") {
			return
		}
		neg := relNeg || negationOf(se)
		var value app.Code
		var text, bl string
		p.children(func(se *xml.StartElement) {
			switch hl7(se) {
			case "value":
				if xsiType(se) == "BL" {
					bl = attr(se, "value")
					return
				}
				value = code(se)
			case "text":
				text = usable(p.refText())
			}
		})
		if o.reaction == "" {
			o.reaction = firstUsable(value.Display, text)
			o.reactNeg = neg || bl == "false"
		}
	})
}

// procedure reads a procedure entry: its device participants are Devices
// (an implantation), its nested statements entries of their own.
func (p *parser) procedure(se *xml.StartElement, c stmtCtx) {
	var proc app.Code
	var text string
	var when pdate
	var devs []app.Device
	inner := c
	inner.kind, inner.aux = "", false
	p.children(func(se *xml.StartElement) {
		switch hl7(se) {
		case "code":
			proc = code(se)
			p.children(func(se *xml.StartElement) {
				if is(se, "originalText") && text == "" {
					text = usable(p.refText())
				}
			})
		case "text":
			if t := usable(p.refText()); t != "" {
				text = t
			}
		case "effectiveTime":
			lo, hi := p.ivlp(se, "procedure/effectiveTime")
			when = lo
			if when.t.IsZero() {
				when = hi
			}
		case "participant":
			if attr(se, "typeCode") == "DEV" {
				if d, ok := p.deviceParticipant(); ok {
					devs = append(devs, d)
				}
			}
		case "entryRelationship":
			p.related(se, inner)
		}
	})
	mood := attr(se, "moodCode")
	for _, d := range devs {
		d.Procedure = proc
		d.Negated = d.Negated || c.negated
		d.Status = deviceStatus(mood, false, d.Type)
		if d.Date.IsZero() {
			d.Date, d.Precision = when.t, when.p
		}
		d.Text = text
		if d.Name == "" {
			d.Name = firstUsable(text, proc.Display, proc.Code)
		}
		p.addDevice(d)
	}
}

// deviceParticipant reads a participant's participantRole: its id and its
// playingDevice (code, originalText, brand and model translations,
// manufacturerModelName). ok is false for a participant that is no
// device.
func (p *parser) deviceParticipant() (d app.Device, ok bool) {
	p.children(func(se *xml.StartElement) {
		if !is(se, "participantRole") {
			return
		}
		if cc := attr(se, "classCode"); cc != "" && cc != "MANU" {
			return
		}
		ok = true
		p.children(func(se *xml.StartElement) {
			switch hl7(se) {
			case "id":
				if d.ID == "" && attr(se, "nullFlavor") == "" {
					d.ID = ii(se).String()
				}
			case "playingDevice":
				p.children(func(se *xml.StartElement) {
					switch hl7(se) {
					case "code":
						d.Type = code(se)
						var brand, model, orig string
						p.children(func(se *xml.StartElement) {
							switch hl7(se) {
							case "originalText":
								orig = usable(p.refText())
							case "translation":
								c := code(se)
								var t string
								p.children(func(se *xml.StartElement) {
									if is(se, "originalText") {
										t = usable(p.refText())
									}
								})
								switch c.Code {
								case "C101668": // NCIT brand
									brand = t
								case "C43383": // NCIT model
									model = t
								default:
									if d.Type.Code == "" && c.Code != "" {
										d.Type = c // a device coded only in a translation (LPP in CNAM-HR)
									}
								}
							}
						})
						d.Name = firstUsable(d.Type.Display, orig)
						d.Text = orig
						if usable(d.Type.Display) != "" && orig != "" && !agree(d.Type.Display, orig) {
							d.Conflict = orig // the narrative names another device: the code wins, flagged
						}
						if m := strings.TrimSpace(brand + " " + model); m != "" && d.Model == "" {
							d.Model = m
						}
					case "manufacturerModelName":
						if m := usable(p.text()); m != "" {
							d.Model = m
						}
					}
				})
			}
		})
	})
	return d, ok
}

// addDevice appends a device, named at least by its type code.
func (p *parser) addDevice(d app.Device) {
	if d.Name == "" {
		d.Name = firstUsable(d.Model, d.Type.Code)
	}
	if d.Name == "" {
		d.Name = "?"
	}
	p.doc.Devices = append(p.doc.Devices, d)
}

// systemEMDN is the European Medical Device Nomenclature (CI-SIS OID).
const systemEMDN = "1.2.250.1.213.2.68"

// emdnNotImplant are the EMDN categories of devices that are never left in
// the patient: D disinfectants, L reusable surgical instruments, M
// dressings, S sterilisation, T protective equipment, V various (beds …), W
// in vitro diagnostics, Y aids for persons with disabilities, Z medical
// equipment (imaging, contrast injectors …).
const emdnNotImplant = "DLMSTVWYZ"

// deviceStatus returns the status of a device read from a statement of
// moodCode mood: planned or prescribed for an intent (INT, RQO, PRP …),
// dispensed when a dispenser performed the supply, used when its EMDN
// category is never implanted, else implanted (or present). A device of an
// unknown category is taken as implanted: an implant is never hidden.
func deviceStatus(mood string, dispensed bool, typ app.Code) app.DeviceStatus {
	switch strings.TrimSpace(mood) {
	case "INT", "RQO", "PRP", "ARQ", "APT", "PRMS":
		return app.DevicePlanned
	}
	if dispensed {
		return app.DeviceDispensed
	}
	if typ.System == systemEMDN && typ.Code != "" && strings.ContainsRune(emdnNotImplant, rune(strings.ToUpper(typ.Code)[0])) {
		return app.DeviceUsed
	}
	return app.DeviceImplanted
}
