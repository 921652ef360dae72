package fhir

import (
	"encoding/json"
	"strings"

	"github.com/carnetdesk/carnet/app"
)

// OperationOutcome reports errors and warnings.
type OperationOutcome struct {
	ResourceType string  `json:"resourceType"`
	ID           string  `json:"id,omitempty"`
	Issue        []Issue `json:"issue"`
}

// Issue is one problem.
type Issue struct {
	Severity    string           `json:"severity"` // fatal | error | warning | information
	Code        string           `json:"code"`     // invalid | security | forbidden | not-found | conflict | throttled …
	Details     *CodeableConcept `json:"details,omitempty"`
	Diagnostics string           `json:"diagnostics,omitempty"`
	Expression  []string         `json:"expression,omitempty"`
}

func (*OperationOutcome) resourceType() string { return "OperationOutcome" }

// MarshalJSON sets resourceType.
func (o OperationOutcome) MarshalJSON() ([]byte, error) {
	type alias OperationOutcome
	o.ResourceType = "OperationOutcome"
	if o.Issue == nil {
		o.Issue = []Issue{}
	}
	return json.Marshal(alias(o))
}

// NewOutcome returns an OperationOutcome with one error issue.
func NewOutcome(code, diagnostics string) *OperationOutcome {
	return &OperationOutcome{Issue: []Issue{{Severity: "error", Code: code, Diagnostics: diagnostics}}}
}

// DenialOutcome returns the OperationOutcome of an access denial: issue code
// "forbidden" (or "not-found" for no_record), details coded in
// DenialCodeSystem with the reason.
func DenialOutcome(reason app.DenialReason, diagnostics string) *OperationOutcome {
	code := "forbidden"
	if reason == app.DeniedNoRecord {
		code = "not-found"
	}
	return &OperationOutcome{Issue: []Issue{{
		Severity:    "error",
		Code:        code,
		Details:     &CodeableConcept{Coding: []Coding{{System: DenialCodeSystem, Code: string(reason), Display: denialDisplay[reason]}}},
		Diagnostics: diagnostics,
	}}}
}

var denialDisplay = map[app.DenialReason]string{
	app.DeniedBlocked:         "Professionnel bloqué par le patient",
	app.DeniedNoAuthorization: "Pas d'autorisation d'accès du patient",
	app.DeniedClosed:          "DMP fermé",
	app.DeniedNoRecord:        "Pas de DMP pour ce patient",
	app.DeniedProfession:      "Profession non autorisée",
	app.DeniedJustification:   "Bris de glace sans justification",
	app.DeniedNotRegulator:    "Mode centre de régulation réservé aux régulateurs",
	app.DeniedNotAuthor:       "Action réservée à l'auteur du document",
	app.DeniedNotQualified:    "Identité INS non qualifiée",
	app.DeniedOther:           "Accès refusé",
}

// Denial returns the denial reason coded in the outcome, "" when there is
// none. An unknown code of the denial code system gives app.DeniedOther.
func (o *OperationOutcome) Denial() app.DenialReason {
	if o == nil {
		return ""
	}
	for _, is := range o.Issue {
		if is.Details == nil {
			continue
		}
		for _, c := range is.Details.Coding {
			if c.System != DenialCodeSystem {
				continue
			}
			r := app.DenialReason(c.Code)
			if _, ok := denialDisplay[r]; ok {
				return r
			}
			return app.DeniedOther
		}
	}
	return ""
}

// Text returns the diagnostics (or details text) of the issues, joined, for
// error messages. It is the server's text: callers should bound its length.
func (o *OperationOutcome) Text() string {
	if o == nil {
		return ""
	}
	var parts []string
	for _, is := range o.Issue {
		switch {
		case is.Diagnostics != "":
			parts = append(parts, is.Diagnostics)
		case is.Details != nil && is.Details.Text != "":
			parts = append(parts, is.Details.Text)
		case is.Details != nil && len(is.Details.Coding) > 0:
			parts = append(parts, is.Details.Coding[0].Code)
		default:
			parts = append(parts, is.Code)
		}
	}
	return strings.Join(parts, "; ")
}
