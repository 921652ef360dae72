package cda

import (
	"encoding/xml"
	"time"

	"github.com/carnetdesk/carnet/app"
)

// concern reads an act entry: an allergy or problem concern whose
// observations (entryRelationship SUBJ) become Allergies or Problems.
func (p *parser) concern() {
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
			p.children(func(se *xml.StartElement) {
				if is(se, "observation") {
					p.observation(kind)
				}
			})
		}
	})
}

// clinicalObs is an observation being read.
type clinicalObs struct {
	templates []string
	code      app.Code
	value     app.Code
	valueText string
	text      string
	status    string
	agent     app.Code
	agentName string
	reaction  string
	start     time.Time
	end       time.Time
}

// observation reads an observation entry; kind ("allergy", "problem" or "")
// comes from the enclosing concern, else from the observation's templates.
// Observations of neither kind are skipped.
func (p *parser) observation(kind string) {
	var o clinicalObs
	p.children(func(se *xml.StartElement) {
		switch hl7(se) {
		case "templateId":
			o.templates = append(o.templates, attr(se, "root"))
		case "code":
			o.code = code(se)
			p.children(func(se *xml.StartElement) {
				if is(se, "originalText") && o.text == "" {
					o.text = p.refText()
				}
			})
		case "text":
			if t := p.refText(); t != "" {
				o.text = t
			}
		case "statusCode":
			o.status = attr(se, "code")
		case "effectiveTime":
			o.start, o.end = p.ivl(se, "observation/effectiveTime")
		case "value":
			o.value = code(se)
			p.children(func(se *xml.StartElement) {
				if is(se, "originalText") {
					o.valueText = p.refText()
				}
			})
		case "participant":
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
									o.agentName = p.refText()
								}
							})
						case "name":
							if n := p.text(); n != "" {
								o.agentName = n
							}
						}
					})
				})
			})
		case "entryRelationship":
			if attr(se, "typeCode") == "MFST" {
				p.children(func(se *xml.StartElement) {
					if is(se, "observation") {
						var r clinicalObs
						p.children(func(se *xml.StartElement) {
							switch hl7(se) {
							case "value":
								r.value = code(se)
							case "text":
								r.text = p.refText()
							}
						})
						if o.reaction == "" {
							o.reaction = r.value.Display
							if o.reaction == "" {
								o.reaction = r.text
							}
						}
					}
				})
			}
		}
	})
	for _, t := range o.templates {
		switch t {
		case tplAllergyEntry, tplFRAllergy:
			kind = "allergy"
		case tplProblemEntry, tplFRProblem:
			if kind == "" {
				kind = "problem"
			}
		}
	}
	switch kind {
	case "allergy":
		a := Allergy{Code: o.code, Agent: o.agent, Reaction: o.reaction, Start: o.start, End: o.end, Text: o.agentName}
		if a.Agent.Display != "" && a.Text == "" {
			a.Text = a.Agent.Display
		}
		if a.Text == "" {
			a.Text = o.text
		}
		p.doc.Allergies = append(p.doc.Allergies, a)
	case "problem":
		pr := Problem{Code: o.value, Kind: o.code, Start: o.start, End: o.end, Status: o.status, Text: o.valueText}
		if pr.Text == "" {
			pr.Text = o.text
		}
		if pr.Text == "" {
			pr.Text = pr.Code.Display
		}
		p.doc.Problems = append(p.doc.Problems, pr)
	}
}
