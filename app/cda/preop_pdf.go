package cda

import (
	"bytes"
	"strconv"
	"strings"
	"time"

	"github.com/go-pdf/fpdf"

	"github.com/carnetdesk/carnet/app"
)

// WritePreopPDF renders the pre-operative sheets, one A4 page per patient
// (a long table continues on the next page): identity, surgery date and
// inputs, allergies, devices, problems, the decision table (flagged rows
// in bold), the documents consulted, "état au …", who prepared it and the
// rule table's status. The bytes depend only on the sheets and created
// (no font file, no clock): they are returned, never written to disk.
func WritePreopPDF(sheets []app.PreopSheet, created time.Time) ([]byte, error) {
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetCreationDate(created)
	pdf.SetModificationDate(created)
	pdf.SetCatalogSort(true)
	pdf.SetCompression(true)
	pdf.SetMargins(12, 12, 12)
	pdf.SetAutoPageBreak(true, 14)
	tr := pdf.UnicodeTranslatorFromDescriptor("cp1252")
	t := func(s string) string { return pdfText(tr, s) }
	pdf.SetTitle("Décisions médicamenteuses préopératoires", true)
	pdf.SetCreator("Carnet", true)
	pdf.SetLang("fr-FR")
	var current *app.PreopSheet
	pdf.SetFooterFunc(func() {
		if current == nil {
			return
		}
		pdf.SetY(-11)
		pdf.SetFont("Helvetica", "", 7)
		pdf.SetTextColor(90, 90, 90)
		pdf.CellFormat(0, 4, t(patientLine(current.Patient)+" - état au "+current.AsOf.Format("02/01/2006 15:04")+" - page ")+strconv.Itoa(pdf.PageNo()), "", 0, "C", false, 0, "")
		pdf.SetTextColor(0, 0, 0)
	})
	width, _ := pdf.GetPageSize()
	textW := width - 24
	cols := []float64{0.28, 0.17, 0.31, 0.14, 0.10}
	for i := range sheets {
		s := &sheets[i]
		current = s
		pdf.AddPage()
		pdf.SetFont("Helvetica", "B", 13)
		title := "Décisions médicamenteuses préopératoires"
		if !s.Surgery.IsZero() {
			title += " - intervention le " + s.Surgery.Format("02/01/2006")
		}
		pdf.MultiCell(textW, 6, t(title), "", "L", false)
		pdf.SetFont("Helvetica", "B", 10)
		pdf.SetFillColor(240, 240, 240)
		pdf.CellFormat(textW, 5.5, t(patientLine(s.Patient)), "1", 1, "L", true, 0, "")
		pdf.SetFont("Helvetica", "", 8.5)
		pdf.MultiCell(textW, 4.2, t("Paramètres : "+s.Inputs), "", "L", false)
		for _, l := range [][2]string{{"Allergies", listOr(s.Allergies, "aucune connue dans les documents")},
			{"Dispositifs implantés", listOr(s.Devices, "aucun connu dans les documents")},
			{"Problèmes", listOr(s.Problems, "aucun structuré dans les documents")}} {
			pdf.SetFont("Helvetica", "B", 8.5)
			pdf.CellFormat(36, 4.2, t(l[0]+" :"), "", 0, "L", false, 0, "")
			pdf.SetFont("Helvetica", "", 8.5)
			pdf.MultiCell(textW-36, 4.2, t(l[1]), "", "L", false)
		}
		pdf.Ln(1.5)
		// The decision table.
		pdf.SetFont("Helvetica", "B", 8)
		for j, h := range []string{"Médicament", "Classe", "Décision", "Dernière prise", "Sources"} {
			pdf.CellFormat(textW*cols[j], 5, t(h), "1", 0, "L", true, 0, "")
		}
		pdf.Ln(-1)
		undecided := 0
		for _, r := range s.Rows {
			style := ""
			if r.Flagged {
				style = "B"
			}
			pdf.SetFont("Helvetica", style, 7.5)
			cells := []string{r.Name, r.Class, r.Decision, r.Last, strconv.Itoa(r.Sources)}
			for j, c := range cells {
				if j == 2 && r.Undecided {
					pdf.SetTextColor(180, 0, 0) // not decided: the proposal, in red
				}
				pdf.CellFormat(textW*cols[j], 4.6, t(fit(pdf, t, c, textW*cols[j]-1.5)), "1", 0, "L", false, 0, "")
				pdf.SetTextColor(0, 0, 0)
			}
			if r.Undecided {
				undecided++
			}
			pdf.Ln(-1)
			if r.Reason != "" && r.Flagged {
				pdf.SetFont("Helvetica", "I", 6.5)
				pdf.CellFormat(textW, 3.6, t(fit(pdf, t, "   motif : "+r.Reason, textW-1.5)), "LRB", 1, "L", false, 0, "")
			}
		}
		if undecided > 0 {
			pdf.SetFont("Helvetica", "B", 8)
			pdf.SetTextColor(180, 0, 0)
			pdf.MultiCell(textW, 4.2, t(strconv.Itoa(undecided)+" ligne(s) NON DÉCIDÉE(S) : la décision affichée n'est qu'une proposition."), "", "L", false)
			pdf.SetTextColor(0, 0, 0)
		}
		pdf.Ln(1.5)
		pdf.SetFont("Helvetica", "", 7)
		pdf.MultiCell(textW, 3.5, t("Documents consultés : "+listOr(s.Sources, "aucun")), "", "L", false)
		pdf.Ln(1)
		pdf.SetFont("Helvetica", "", 8)
		pdf.MultiCell(textW, 4, t("État au "+s.AsOf.Format("02/01/2006 à 15:04")+" - préparé par "+s.PreparedBy+" - règles : "+s.Status), "", "L", false)
	}
	if len(sheets) == 0 {
		pdf.AddPage()
		pdf.SetFont("Helvetica", "", 11)
		pdf.MultiCell(textW, 6, t("Aucun patient au programme opératoire de cette date."), "", "L", false)
	}
	var out bytes.Buffer
	if err := pdf.Output(&out); err != nil {
		return nil, invalid("the pre-operative sheets could not be rendered to PDF")
	}
	return out.Bytes(), nil
}

// patientLine is the identity line: birth name, given names, birth date,
// sex, INS matricule.
func patientLine(p app.Patient) string {
	s := strings.ToUpper(strings.TrimSpace(p.BirthName)) + " " + strings.Join(strings.Fields(p.BirthGivenNames), " ")
	if p.BirthDate != "" {
		s += " - né(e) le " + birthDateFR(p.BirthDate)
	}
	if l := sexLabels[p.Sex]; l != "" {
		s += " - " + l
	}
	if p.INS.Matricule != "" {
		s += " - INS " + p.INS.Matricule
	}
	return s
}

func listOr(s []string, none string) string {
	if len(s) == 0 {
		return none
	}
	return strings.Join(s, " ; ")
}

// fit shortens s with "…" until it fits w millimetres in the current font.
func fit(pdf *fpdf.Fpdf, t func(string) string, s string, w float64) string {
	if pdf.GetStringWidth(t(s)) <= w {
		return s
	}
	r := []rune(s)
	for len(r) > 1 && pdf.GetStringWidth(t(string(r)+"…")) > w {
		r = r[:len(r)-1]
	}
	return string(r) + "…"
}

// SheetRenderer is app.SheetRenderer over WritePreopPDF.
type SheetRenderer struct{}

// RenderPreop implements app.SheetRenderer.
func (SheetRenderer) RenderPreop(sheets []app.PreopSheet, at time.Time) ([]byte, error) {
	return WritePreopPDF(sheets, at)
}
