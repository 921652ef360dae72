package cda

import (
	"fmt"

	"github.com/carnetdesk/carnet/app"
)

// golden writes what the reader extracted from a document, one line per
// fact, in the compact form the sample goldens (golden_test.go) are
// written in: medications with their status and dates at the precision the
// document gave, allergies, problems (negated ones marked "NOT"), devices
// and embedded media.
func golden(d *Document) []string {
	var out []string
	neg := func(b bool) string {
		if b {
			return "NOT "
		}
		return ""
	}
	for _, m := range d.Medications {
		s := fmt.Sprintf("med %s %q", m.LineStatus(), m.Name)
		if m.Substance != "" {
			s += fmt.Sprintf(" subst=%q", m.Substance)
		}
		if m.ATC.Code != "" {
			s += " atc=" + m.ATC.Code
		}
		if m.Product.Code != "" {
			s += " product=" + m.Product.Code
		}
		if t := app.FormatDate(m.Start, m.StartPrecision); t != "" {
			s += " start=" + t
		}
		if t := app.FormatDate(m.End, m.EndPrecision); t != "" {
			s += " end=" + t
		}
		if t := app.FormatDate(m.Dispensed, m.DispensedPrecision); t != "" {
			s += " dispensed=" + t
		}
		if m.Quantity != "" {
			s += " qty=" + m.Quantity
		}
		if m.Dispenser != "" {
			s += fmt.Sprintf(" by=%q", m.Dispenser)
		}
		if m.Conflict != "" {
			s += fmt.Sprintf(" conflict=%q", m.Conflict)
		}
		out = append(out, s)
	}
	for _, a := range d.Allergies {
		s := fmt.Sprintf("allergy %s%q", neg(a.Negated), a.Text)
		if a.Agent.Code != "" {
			s += " agent=" + a.Agent.Code
		}
		if a.Unspecified {
			s += " unspecified"
		}
		if a.Reaction != "" {
			s += fmt.Sprintf(" reaction=%s%q", neg(a.ReactionNegated), a.Reaction)
		}
		if t := app.FormatDate(a.Start, a.StartPrecision); t != "" {
			s += " start=" + t
		}
		out = append(out, s)
	}
	for _, p := range d.Problems {
		s := fmt.Sprintf("problem %s%s %q", neg(p.Negated), p.Code.Code, p.Text)
		if t := app.FormatDate(p.Start, p.StartPrecision); t != "" {
			s += " start=" + t
		}
		out = append(out, s)
	}
	for _, v := range d.Devices {
		st := neg(v.Negated)
		if s := v.State(); s != app.DeviceImplanted && s != app.DeviceNegated {
			st = string(s) + " "
		}
		s := fmt.Sprintf("device %s%q", st, v.Name)
		if v.Type.Code != "" {
			s += " type=" + v.Type.Code
		}
		if v.Procedure.Code != "" {
			s += " procedure=" + v.Procedure.Code
		}
		if v.Model != "" {
			s += fmt.Sprintf(" model=%q", v.Model)
		}
		if t := app.FormatDate(v.Date, v.Precision); t != "" {
			s += " date=" + t
		}
		if v.Conflict != "" {
			s += fmt.Sprintf(" conflict=%q", v.Conflict)
		}
		out = append(out, s)
	}
	for _, m := range d.Media {
		out = append(out, fmt.Sprintf("media %s %s %d bytes", m.ID, m.MediaType, len(m.Data)))
	}
	return out
}
