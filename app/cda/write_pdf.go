package cda

import (
	"bytes"
	"strconv"
	"strings"

	"github.com/go-pdf/fpdf"

	"github.com/carnetdesk/carnet/app"
)

// The PDF of an N1 note uses the PDF core fonts (Helvetica) with the
// Windows-1252 encoding, which covers French (accents, œ, «», €, typographic
// quotes). fpdf's cp1252 translator maps UTF-8 text to it; the few runes
// outside cp1252 that clinical text uses are spelled out first, and anything
// else becomes "?" rather than disappearing silently. No font file is
// embedded, so the output depends only on the input and the creation date.

var pdfReplacer = strings.NewReplacer(
	"\t", "    ", "\u202f", " ", "\u2009", " ", "\u2007", " ",
	"≥", ">=", "≤", "<=", "≠", "!=", "→", "->", "←", "<-", "↑", "^", "↓", "v",
	"\u2011", "-", "\u2010", "-", "\u2212", "-", "½", "1/2",
)

// pdfText prepares text for the cp1252 core fonts.
func pdfText(tr func(string) string, s string) string {
	s = pdfReplacer.Replace(s)
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n':
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f || r == 0xfffd:
			b.WriteByte(' ')
		case r < 0x80 || cp1252Has(tr, r):
			b.WriteRune(r)
		default:
			b.WriteByte('?')
		}
	}
	return tr(b.String())
}

// cp1252Has reports whether tr maps r (tr turns unmapped runes into '.').
func cp1252Has(tr func(string) string, r rune) bool {
	return tr(string(r)) != "."
}

var insDomainNames = map[string]string{
	app.OIDINSNIR:     "INS-NIR",
	app.OIDINSNIA:     "INS-NIA",
	app.OIDINSNIRTest: "INS-NIR de test",
	app.OIDINSNIRDemo: "INS-NIR de démonstration",
}

var sexLabels = map[app.Sex]string{app.SexFemale: "Féminin", app.SexMale: "Masculin", app.SexUnknown: "Indéterminé"}

// renderNotePDF renders a consultation note: title, patient identity block
// (INS and strict traits), author, date, sections. The PDF creation date is
// the document's creation time, so the bytes are reproducible.
func renderNotePDF(h *header, sections []NoteSection) ([]byte, error) {
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetCreationDate(h.created)
	pdf.SetModificationDate(h.created)
	pdf.SetCatalogSort(true)
	pdf.SetCompression(true)
	pdf.SetMargins(20, 18, 20)
	pdf.SetAutoPageBreak(true, 18)
	tr := pdf.UnicodeTranslatorFromDescriptor("cp1252")
	t := func(s string) string { return pdfText(tr, s) }
	pdf.SetTitle(h.title, true)
	pdf.SetCreator("Carnet", true)
	pdf.SetLang("fr-FR")
	pdf.AliasNbPages("{nb}")
	pdf.SetFooterFunc(func() {
		pdf.SetY(-13)
		pdf.SetFont("Helvetica", "", 8)
		pdf.SetTextColor(90, 90, 90)
		pdf.CellFormat(0, 5, t(h.title+" - "+datetimeFR(h)+" - page ")+strconv.Itoa(pdf.PageNo())+"/{nb}", "", 0, "C", false, 0, "")
	})
	pdf.AddPage()
	width, _ := pdf.GetPageSize()
	left, _, right, _ := pdf.GetMargins()
	textW := width - left - right

	pdf.SetFont("Helvetica", "B", 16)
	pdf.MultiCell(textW, 8, t(h.title), "", "L", false)
	pdf.Ln(2)

	// Patient identity block, framed.
	p := h.patient
	lines := []string{
		"Nom de naissance : " + strings.ToUpper(strings.TrimSpace(p.BirthName)),
		"Prénom(s) de naissance : " + strings.Join(strings.Fields(p.BirthGivenNames), " "),
	}
	if p.UsedName != "" || p.UsedGivenName != "" {
		lines = append(lines, "Nom et prénom utilisés : "+strings.TrimSpace(strings.ToUpper(p.UsedName)+" "+p.UsedGivenName))
	}
	lines = append(lines,
		"Date de naissance : "+birthDateFR(p.BirthDate)+"    Sexe : "+sexLabels[p.Sex],
	)
	if p.BirthPlace != "" {
		lines = append(lines, "Lieu de naissance (code INSEE) : "+p.BirthPlace)
	}
	lines = append(lines, "Matricule INS : "+h.ins.Matricule+" ("+insDomainNames[h.ins.OID]+")")
	pdf.SetFont("Helvetica", "B", 10)
	pdf.SetFillColor(240, 240, 240)
	pdf.CellFormat(textW, 6, t("Patient"), "LTR", 1, "L", true, 0, "")
	pdf.SetFont("Helvetica", "", 10)
	for i, l := range lines {
		border := "LR"
		if i == len(lines)-1 {
			border = "LRB"
		}
		pdf.CellFormat(textW, 5.5, t(l), border, 1, "L", false, 0, "")
	}
	pdf.Ln(3)

	a := h.author
	pdf.SetFont("Helvetica", "", 10)
	author := strings.Join(strings.Fields(a.Given+" "+a.Family), " ")
	pdf.MultiCell(textW, 5.5, t("Auteur : "+author+" - "+a.Profession.Display+" (RPPS "+a.RPPS+")"), "", "L", false)
	pdf.MultiCell(textW, 5.5, t("Structure : "+a.Structure.Name), "", "L", false)
	pdf.MultiCell(textW, 5.5, t("Date de la consultation : "+datetimeFR(h)), "", "L", false)
	pdf.Ln(2)
	pdf.SetDrawColor(160, 160, 160)
	y := pdf.GetY()
	pdf.Line(left, y, width-right, y)
	pdf.Ln(4)

	for _, s := range sections {
		pdf.SetFont("Helvetica", "B", 12)
		pdf.MultiCell(textW, 6.5, t(s.Title), "", "L", false)
		pdf.Ln(1)
		pdf.SetFont("Helvetica", "", 10.5)
		for _, b := range s.Text.Blocks {
			writePDFBlock(pdf, t, textW, b)
		}
		for _, f := range s.Text.Footnotes {
			pdf.SetFont("Helvetica", "", 8.5)
			pdf.MultiCell(textW, 4.5, t("["+f.ID+"] "+inlineText(f.Inlines)), "", "L", false)
			pdf.SetFont("Helvetica", "", 10.5)
		}
		pdf.Ln(3)
	}

	var out bytes.Buffer
	if err := pdf.Output(&out); err != nil {
		return nil, invalid("the note could not be rendered to PDF")
	}
	return out.Bytes(), nil
}

// writePDFBlock renders one narrative block as text: paragraphs, bulleted
// or numbered lists, tables as " | "-separated rows.
func writePDFBlock(pdf *fpdf.Fpdf, t func(string) string, w float64, b app.Block) {
	switch b.Kind {
	case app.BlockParagraph, app.BlockCaption:
		pdf.MultiCell(w, 5.2, t(inlineText(b.Inlines)), "", "L", false)
		pdf.Ln(1.5)
	case app.BlockList:
		if len(b.Caption) > 0 {
			pdf.MultiCell(w, 5.2, t(inlineText(b.Caption)), "", "L", false)
		}
		for i, it := range b.Items {
			mark := "•"
			if b.Ordered {
				mark = strconv.Itoa(i+1) + "."
			}
			text := strings.ReplaceAll(app.Narrative{Blocks: it.Blocks}.PlainText(), "\t", " | ")
			pdf.MultiCell(w, 5.2, t(mark+" "+text), "", "L", false)
		}
		pdf.Ln(1.5)
	case app.BlockTable:
		if b.Table == nil {
			return
		}
		if len(b.Table.Caption) > 0 {
			pdf.MultiCell(w, 5.2, t(inlineText(b.Table.Caption)), "", "L", false)
		}
		for _, rows := range [][]app.Row{b.Table.Header, b.Table.Body, b.Table.Footer} {
			for _, r := range rows {
				cells := make([]string, len(r.Cells))
				for i, c := range r.Cells {
					cells[i] = strings.ReplaceAll(app.Narrative{Blocks: c.Blocks}.PlainText(), "\n", " ")
				}
				pdf.MultiCell(w, 5.2, t(strings.Join(cells, " | ")), "", "L", false)
			}
		}
		pdf.Ln(1.5)
	}
}

// inlineText flattens inline content: breaks become new lines, links show
// their text.
func inlineText(in []app.Inline) string {
	var b strings.Builder
	for _, x := range in {
		switch x.Kind {
		case app.InlineText, app.InlineLink:
			b.WriteString(x.Text)
		case app.InlineBreak:
			b.WriteByte('\n')
		case app.InlineFootnoteRef:
			b.WriteString("[" + x.Ref + "]")
		}
	}
	return b.String()
}

func datetimeFR(h *header) string { return h.start.Format("02/01/2006 15:04") }

// birthDateFR turns YYYY-MM-DD into DD/MM/YYYY.
func birthDateFR(d string) string {
	if len(d) != 10 {
		return d
	}
	return d[8:10] + "/" + d[5:7] + "/" + d[0:4]
}
