package cda

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/carnetdesk/carnet/app"
)

func TestZZDump(t *testing.T) {
	if os.Getenv("CDA_DUMP") == "" {
		t.Skip()
	}
	files, _ := filepath.Glob(filepath.Join(samplesDir(t), "*.xml"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		d, err := ParseBytes(b, Options{})
		fmt.Printf("=== %s err=%v\n", filepath.Base(f), err)
		if err != nil {
			continue
		}
		for _, m := range d.Medications {
			fmt.Printf("MED %s|%s|neg=%v|st=%s|name=%q|subst=%q|prod=%s|atc=%s|start=%s|end=%s|disp=%s|qty=%q|by=%q|presc=%q|conf=%q\n", m.Kind, m.LineStatus(), m.Negated, m.Status, m.Name, m.Substance, m.Product.Code, m.ATC.Code,
				app.FormatDate(m.Start, m.StartPrecision), app.FormatDate(m.End, m.EndPrecision), app.FormatDate(m.Dispensed, m.DispensedPrecision), m.Quantity, m.Dispenser, m.Prescriber, m.Conflict)
		}
		for _, a := range d.Allergies {
			fmt.Printf("ALL neg=%v|%q|agent=%s|code=%s|react=%q neg=%v|start=%s\n", a.Negated, a.Text, a.Agent.Code, a.Code.Code, a.Reaction, a.ReactionNegated, app.FormatDate(a.Start, a.StartPrecision))
		}
		for _, p := range d.Problems {
			fmt.Printf("PB neg=%v|%q|code=%s|start=%s|st=%s\n", p.Negated, p.Text, p.Code.Code, app.FormatDate(p.Start, p.StartPrecision), p.Status)
		}
		for _, v := range d.Devices {
			fmt.Printf("DEV neg=%v|%q|type=%s|model=%q|id=%q|proc=%s|date=%s\n", v.Negated, v.Name, v.Type.Code, v.Model, v.ID, v.Procedure.Code, app.FormatDate(v.Date, v.Precision))
		}
		for _, m := range d.Media {
			fmt.Printf("MEDIA id=%s %s/%s %d title=%q\n", m.ID, m.MediaType, m.DeclaredType, len(m.Data), m.Title)
		}
		fmt.Printf("FLAGS %v\n", d.Flags)
	}
}
