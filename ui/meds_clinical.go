package ui

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/meds"
)

// showClinical fills the clinical panel of the anesthesiologist's view,
// above the medication list (see clinicalObjects).
func (v *medsView) showClinical(reading app.MedicationReading, list meds.List) {
	v.clinical.Objects = clinicalObjects(reading, list.NotGiven, v.open)
	v.clinical.Refresh()
}

// clinicalObjects shows the allergies, the problems and the implanted
// devices the cached documents record, and the medications they record as
// NOT given (notGiven). What a document negates is never listed as
// present: a negated problem is left out, a drug not given is listed as
// such, and a negated allergy is a documented absence ("Aucune allergie
// connue (document du …)"), told apart from documents that say nothing of
// allergies. Only implanted (or present) devices are listed as implants;
// devices planned, prescribed, dispensed, used during care or negated come
// on their own, labelled line. Each line says its date at the precision
// the document gave and opens its document (open).
func clinicalObjects(reading app.MedicationReading, notGiven []app.Medication, open func(app.DocumentID)) []fyne.CanvasObject {
	var objs []fyne.CanvasObject
	section := func(title string, lines []fyne.CanvasObject) {
		if len(lines) == 0 {
			return
		}
		t := widget.NewLabelWithStyle(title, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
		t.SizeName = theme.SizeNameSubHeadingText
		objs = append(objs, t)
		objs = append(objs, lines...)
		objs = append(objs, widget.NewSeparator())
	}
	var lines []fyne.CanvasObject
	for _, a := range app.PresentAllergies(reading.Allergies) {
		text := a.Text
		if a.Unspecified {
			// a kind of allergy with no substance: to check in the document
			text = tr("clinical.allergy.unspecified", map[string]any{"Kind": a.Text})
		}
		if a.Reaction != "" {
			key := "clinical.allergy.reaction"
			if a.ReactionNegated {
				key = "clinical.allergy.reaction.not"
			}
			text += " — " + tr(key, map[string]any{"Reaction": a.Reaction})
		}
		imp := widget.DangerImportance
		if a.Unspecified {
			imp = widget.WarningImportance
		}
		lines = append(lines, clinicalLine(text, app.FormatDate(a.Start, a.StartPrecision), a.Source, imp, open))
	}
	for _, a := range app.AbsentAllergies(reading.Allergies) {
		date := formatDate(a.Source.Date)
		if date == "" {
			date = "?"
		}
		text := tr("clinical.allergy.none", map[string]any{"Date": date})
		if !a.NoneKnown {
			text = tr("clinical.allergy.absent", map[string]any{"Name": a.Text, "Date": date})
		}
		lines = append(lines, clinicalLine(text, "", a.Source, widget.LowImportance, open))
	}
	if len(lines) == 0 && len(reading.Lines)+len(reading.Problems)+len(reading.Devices) > 0 {
		// documents were read, and none says anything of allergies
		l := widget.NewLabel(tr("clinical.allergy.noinfo"))
		l.Importance = widget.LowImportance
		lines = append(lines, l)
	}
	section(tr("clinical.allergies"), lines)

	lines = nil
	for _, p := range app.PresentProblems(reading.Problems) {
		lines = append(lines, clinicalLine(p.Text, app.FormatDate(p.Start, p.StartPrecision), p.Source, widget.MediumImportance, open))
	}
	section(tr("clinical.problems"), lines)

	device := func(d *app.Device) string {
		text := d.Name
		if d.Model != "" {
			text += " (" + d.Model + ")"
		}
		switch d.State() {
		case app.DeviceNegated:
			text = tr("clinical.device.not", map[string]any{"Name": text})
		case app.DevicePlanned:
			text += " — " + tr("clinical.device.status.planned")
		case app.DeviceDispensed:
			text += " — " + tr("clinical.device.status.dispensed")
		case app.DeviceUsed:
			text += " — " + tr("clinical.device.status.used")
		}
		if d.Conflict != "" {
			text += " — " + tr("clinical.conflict", map[string]any{"Text": d.Conflict})
		}
		return text
	}
	lines = nil
	for _, d := range app.ImplantedDevices(reading.Devices) {
		lines = append(lines, clinicalLine(device(&d), app.FormatDate(d.Date, d.Precision), d.Source, widget.WarningImportance, open))
	}
	section(tr("clinical.devices"), lines)
	lines = nil
	for _, d := range app.OtherDevices(reading.Devices) {
		lines = append(lines, clinicalLine(device(&d), app.FormatDate(d.Date, d.Precision), d.Source, widget.LowImportance, open))
	}
	section(tr("clinical.devices.other"), lines)

	lines = nil
	for _, m := range notGiven {
		key := "clinical.notgiven.line"
		if m.LineStatus() == app.StatusNotDispensed {
			key = "clinical.notdispensed.line"
		}
		text := tr(key, map[string]any{"Name": m.Name})
		lines = append(lines, clinicalLine(text, medDate(&m), m.Source, widget.LowImportance, open))
	}
	section(tr("clinical.notgiven"), lines)
	return objs
}

// clinicalLine is one fact: its text, its date as the document gave it,
// and a button to its document.
func clinicalLine(text, date string, src app.MedicationSource, imp widget.Importance, open func(app.DocumentID)) fyne.CanvasObject {
	if date != "" {
		text += " · " + date
	}
	l := widget.NewLabel(text)
	l.Wrapping = fyne.TextWrapWord
	l.Importance = imp
	if src.Document == "" || open == nil {
		return l
	}
	title := src.Title
	if title == "" {
		title = tr("viewer.untitled")
	}
	id := src.Document
	b := widget.NewButtonWithIcon(title, theme.DocumentIcon(), func() { open(id) })
	b.Importance = widget.LowImportance
	return container.NewBorder(nil, nil, nil, b, l)
}

// medDate is the date of a medication line at the precision its document
// gave: the dispensing, else the start.
func medDate(m *app.Medication) string {
	if !m.Dispensed.IsZero() {
		return app.FormatDate(m.Dispensed, m.DispensedPrecision)
	}
	return app.FormatDate(m.Start, m.StartPrecision)
}

// lineStatuses says what the lines of an entry record, one part per
// status in the order of the most recent line, with the latest date at the
// document's precision and the count: "délivré 05/02/2026 (×12) · prescrit
// 12/2023"; a free text that contradicts the code is shown.
func lineStatuses(e *meds.Entry) string {
	type part struct {
		date string
		n    int
	}
	var order []app.MedicationStatus
	parts := map[app.MedicationStatus]*part{}
	var conflicts []string
	for i := range e.Lines {
		m := &e.Lines[i]
		st := m.LineStatus()
		p := parts[st]
		if p == nil {
			p = &part{date: medDate(m)}
			parts[st] = p
			order = append(order, st)
		}
		p.n++
		if m.Conflict != "" && !slices.Contains(conflicts, m.Conflict) {
			conflicts = append(conflicts, m.Conflict)
		}
	}
	var out []string
	for _, st := range order {
		p := parts[st]
		s := statusLabel(st)
		if p.date != "" {
			s += " " + p.date
		}
		if p.n > 1 {
			s += fmt.Sprintf(" (×%d)", p.n)
		}
		out = append(out, s)
	}
	for _, c := range conflicts {
		out = append(out, tr("clinical.conflict", map[string]any{"Text": c}))
	}
	return strings.Join(out, " · ")
}

// statusLabel is the French word of a line status.
func statusLabel(st app.MedicationStatus) string {
	switch st {
	case app.StatusPrescribed:
		return tr("clinical.status.prescribed")
	case app.StatusDispensed:
		return tr("clinical.status.dispensed")
	case app.StatusPlanned:
		return tr("clinical.status.planned")
	case app.StatusNotGiven:
		return tr("clinical.status.not-given")
	case app.StatusNotDispensed:
		return tr("clinical.status.not-dispensed")
	case app.StatusStopped:
		return tr("clinical.status.stopped")
	case app.StatusDeclared:
		return tr("clinical.status.declared")
	}
	return tr("clinical.status.given")
}

// formatPrecDate writes a date of the consolidated list at the precision
// its document gave: a year or a month as such ("1976", "03/1976"), else
// the day (formatDate).
func formatPrecDate(t time.Time, p app.DatePrecision) string {
	switch p {
	case app.PrecisionYear, app.PrecisionMonth:
		return app.FormatDate(t, p)
	}
	return formatDate(t)
}
