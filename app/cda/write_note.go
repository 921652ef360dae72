package cda

import (
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"github.com/carnetdesk/carnet/app"
)

// Level is the CDA level of a written note.
type Level int

// The levels a note can be written at.
const (
	// LevelN1 renders the note to a PDF carried in a nonXMLBody (the
	// default): any DMP consumer can show it.
	LevelN1 Level = 1
	// LevelN3 writes the note as narrative sections of a structuredBody.
	LevelN3 Level = 3
)

// TypeConsultation is the type code of a consultation note: LOINC 11488-4
// "CR ou fiche de consultation ou de visite" (JDV_J07, the CI-SIS XDS type
// codes). It is the generic code for any consultation or visit report;
// the specialised codes (34749-2 pre-anesthesia, 11506-3 follow-up by an
// auxiliary, 15507-7 emergency) fit narrower cases.
var TypeConsultation = app.Code{Code: "11488-4", System: app.SystemLOINC, Display: "CR ou fiche de consultation ou de visite"}

// tmplXDSSD declares an N1 document (IHE XDS-SD), as
// DOC_NON_STRUCTURE_CDA-R2-N1.xml line 33 does.
var tmplXDSSD = [2]string{"1.3.6.1.4.1.19376.1.2.20", ""}

// Note is a consultation note written in Carnet.
type Note struct {
	Patient            app.Patient   // must be QUAL with a valid INS
	Author             Practitioner  // author, performer of the act
	LegalAuthenticator *Practitioner // nil: the author signs
	Title              string        // empty: "Compte rendu de consultation"
	Start              time.Time     // date and time of the consultation
	End                time.Time     // end of the consultation, optional
	Encounter          app.Code      // encompassingEncounter/code (e.g. EXTERNE), optional
	Sections           []NoteSection // the body
	Level              Level         // LevelN1 (zero value) or LevelN3
	Visibility         Visibility
}

// NoteSection is a titled part of a note's body.
type NoteSection struct {
	Title string        // required
	Code  app.Code      // LOINC section code, optional
	Text  app.Narrative // content; build simple text with Paragraphs
}

// Paragraphs returns a narrative of one paragraph per non-empty string; a
// new line inside a string becomes a line break.
func Paragraphs(text ...string) app.Narrative {
	var n app.Narrative
	for _, t := range text {
		t = strings.TrimSpace(strings.ReplaceAll(t, "\r\n", "\n"))
		if t == "" {
			continue
		}
		var in []app.Inline
		for i, line := range strings.Split(t, "\n") {
			if i > 0 {
				in = append(in, app.Inline{Kind: app.InlineBreak})
			}
			if line != "" {
				in = append(in, app.Inline{Kind: app.InlineText, Text: line})
			}
		}
		n.Blocks = append(n.Blocks, app.Block{Kind: app.BlockParagraph, Inlines: in})
	}
	return n
}

// WriteNote writes a consultation note as a CDA R2 document (type 11488-4),
// N1 with the note rendered to PDF, or N3. It refuses a patient whose
// identity is not qualified (ErrNotQualified); every other refusal wraps
// app.ErrInvalid too, and no error text contains patient data.
func WriteNote(n Note, opt WriteOptions) ([]byte, error) {
	if n.Level == 0 {
		n.Level = LevelN1
	}
	if n.Level != LevelN1 && n.Level != LevelN3 {
		return nil, invalid("note level must be N1 or N3")
	}
	if strings.TrimSpace(n.Title) == "" {
		n.Title = "Compte rendu de consultation"
	}
	if len(n.Sections) == 0 {
		return nil, invalid("note has no section")
	}
	for i, s := range n.Sections {
		if strings.TrimSpace(s.Title) == "" {
			return nil, invalid("note section " + strconv.Itoa(i+1) + " has no title")
		}
		if err := checkCode(s.Code, "note section", false); err != nil {
			return nil, err
		}
		if err := checkNarrative(s.Text); err != nil {
			return nil, err
		}
	}
	if err := checkCode(n.Encounter, "encounter", false); err != nil {
		return nil, err
	}
	h, err := newHeader(n.Patient, n.Author, n.LegalAuthenticator, n.Start, n.End, n.Visibility, opt)
	if err != nil {
		return nil, err
	}
	h.templates = [][2]string{tmplHL7France, tmplCISIS}
	if n.Level == LevelN1 {
		h.templates = append(h.templates, tmplXDSSD)
	}
	h.typ, h.title, h.encounter = TypeConsultation, n.Title, n.Encounter

	var w xw
	w.writeHeader(h)
	w.open("component")
	if n.Level == LevelN1 {
		pdf, err := renderNotePDF(h, n.Sections)
		if err != nil {
			return nil, err
		}
		data := make([]byte, base64.StdEncoding.EncodedLen(len(pdf)))
		base64.StdEncoding.Encode(data, pdf)
		w.open("nonXMLBody")
		w.raw("text", data, "mediaType", "application/pdf", "representation", "B64")
		w.close()
	} else {
		w.open("structuredBody")
		if err := w.writeSections(&h.ids, n.Sections); err != nil {
			return nil, err
		}
		w.close()
	}
	w.close()
	w.close()
	w.b.WriteByte('\n')
	return w.b.Bytes(), nil
}

// checkNarrative refuses what the writer cannot express: media references
// (the writer embeds no observationMedia) and malformed IDs.
func checkNarrative(n app.Narrative) error {
	var walk func(bs []app.Block) error
	walk = func(bs []app.Block) error {
		for _, b := range bs {
			if b.Kind == app.BlockMedia {
				return invalid("narrative media references are not supported")
			}
			if b.ID != "" && !reCodeToken.MatchString(b.ID) {
				return invalid("narrative ID is malformed")
			}
			for _, it := range b.Items {
				if err := walk(it.Blocks); err != nil {
					return err
				}
			}
			if b.Table != nil {
				for _, rows := range [][]app.Row{b.Table.Header, b.Table.Body, b.Table.Footer} {
					for _, r := range rows {
						for _, c := range r.Cells {
							if err := walk(c.Blocks); err != nil {
								return err
							}
						}
					}
				}
			}
		}
		return nil
	}
	return walk(n.Blocks)
}

// styleCode returns the CDA styleCode of the styles that have one.
func styleCode(s app.Style) string {
	var parts []string
	for _, x := range []struct {
		s    app.Style
		name string
	}{{app.Bold, "Bold"}, {app.Italic, "Italics"}, {app.Underline, "Underline"}, {app.Emphasis, "Emphasis"}} {
		if s&x.s != 0 {
			parts = append(parts, x.name)
		}
	}
	return strings.Join(parts, " ")
}

// writeNarrative writes a section's text element. A footnote is written
// where it is first referenced, as CDA does (footnote inline, footnoteRef
// afterwards); footnotes never referenced close the text.
func (w *xw) writeNarrative(n app.Narrative) {
	w.footnotes = map[string][]app.Inline{}
	for _, f := range n.Footnotes {
		if _, dup := w.footnotes[f.ID]; !dup {
			w.footnotes[f.ID] = f.Inlines
		}
	}
	w.open("text")
	for _, b := range n.Blocks {
		w.writeBlock(b)
	}
	var rest []app.Inline
	for _, f := range n.Footnotes {
		if _, pending := w.footnotes[f.ID]; pending {
			rest = append(rest, app.Inline{Kind: app.InlineFootnoteRef, Ref: f.ID})
		}
	}
	if len(rest) > 0 {
		w.mixed("paragraph", nil, rest)
	}
	w.footnotes = nil
	w.close()
}

// mixed writes an element whose content is inline (mixed) content, on one
// line: indentation inside would change the text.
func (w *xw) mixed(name string, attrs []string, in []app.Inline) {
	w.start(name, attrs)
	w.b.WriteByte('>')
	w.inlines(in)
	w.b.WriteString("</")
	w.b.WriteString(name)
	w.b.WriteByte('>')
}

func (w *xw) writeBlock(b app.Block) {
	switch b.Kind {
	case app.BlockParagraph:
		w.mixed("paragraph", []string{"ID", b.ID, "styleCode", styleCode(b.Style)}, b.Inlines)
	case app.BlockCaption:
		w.start("paragraph", []string{"ID", b.ID})
		w.b.WriteByte('>')
		w.b.WriteString("<caption>")
		w.inlines(b.Inlines)
		w.b.WriteString("</caption></paragraph>")
	case app.BlockList:
		lt := "unordered"
		if b.Ordered {
			lt = "ordered"
		}
		w.open("list", "ID", b.ID, "listType", lt, "styleCode", styleCode(b.Style))
		if len(b.Caption) > 0 {
			w.mixed("caption", nil, b.Caption)
		}
		for _, it := range b.Items {
			if in, ok := onlyInlines(it.Blocks); ok {
				w.mixed("item", nil, in)
				continue
			}
			w.open("item")
			for _, ib := range it.Blocks {
				w.writeBlock(ib)
			}
			w.close()
		}
		w.close()
	case app.BlockTable:
		w.writeTable(b)
	}
}

// onlyInlines returns the inlines of a content made of one plain paragraph.
func onlyInlines(bs []app.Block) ([]app.Inline, bool) {
	if len(bs) == 0 {
		return nil, true
	}
	if len(bs) == 1 && bs[0].Kind == app.BlockParagraph && bs[0].ID == "" && bs[0].Style == 0 {
		return bs[0].Inlines, true
	}
	return nil, false
}

func (w *xw) writeTable(b app.Block) {
	t := b.Table
	if t == nil {
		return
	}
	w.open("table", "ID", b.ID, "border", "1", "width", "100%")
	if len(t.Caption) > 0 {
		w.mixed("caption", nil, t.Caption)
	}
	for _, part := range []struct {
		name string
		rows []app.Row
	}{{"thead", t.Header}, {"tbody", t.Body}, {"tfoot", t.Footer}} {
		if len(part.rows) == 0 {
			continue
		}
		w.open(part.name)
		for _, r := range part.rows {
			w.open("tr")
			for _, c := range r.Cells {
				name := "td"
				if c.Header {
					name = "th"
				}
				attrs := []string{"colspan", span(c.ColSpan), "rowspan", span(c.RowSpan)}
				if in, ok := onlyInlines(c.Blocks); ok {
					w.mixed(name, attrs, in)
					continue
				}
				w.open(name, attrs...)
				for _, cb := range c.Blocks {
					if cb.Kind == app.BlockTable { // a cell cannot hold a table: flatten it
						cb = app.Block{Kind: app.BlockParagraph, Inlines: []app.Inline{{Kind: app.InlineText, Text: app.Narrative{Blocks: []app.Block{cb}}.PlainText()}}}
					}
					w.writeBlock(cb)
				}
				w.close()
			}
			w.close()
		}
		w.close()
	}
	w.close()
}

func span(n int) string {
	if n <= 1 {
		return ""
	}
	return strconv.Itoa(n)
}

// inlines writes inline content without any added white space.
func (w *xw) inlines(in []app.Inline) {
	for _, x := range in {
		switch x.Kind {
		case app.InlineText:
			w.styled(x.Style, func() { w.escape(x.Text) })
		case app.InlineBreak:
			w.b.WriteString("<br/>")
		case app.InlineLink:
			w.styled(x.Style, func() {
				w.b.WriteString(`<linkHtml href="`)
				w.escape(x.Href)
				w.b.WriteString(`">`)
				w.escape(x.Text)
				w.b.WriteString("</linkHtml>")
			})
		case app.InlineFootnoteRef:
			if body, pending := w.footnotes[x.Ref]; pending {
				delete(w.footnotes, x.Ref)
				w.b.WriteString(`<footnote ID="`)
				w.escape(x.Ref)
				w.b.WriteString(`">`)
				w.inlines(body)
				w.b.WriteString("</footnote>")
				continue
			}
			w.b.WriteString(`<footnoteRef IDREF="`)
			w.escape(x.Ref)
			w.b.WriteString(`"/>`)
		}
	}
}

// styled wraps body in content/sup/sub elements for s.
func (w *xw) styled(s app.Style, body func()) {
	var closers []string
	if sc := styleCode(s); sc != "" {
		w.b.WriteString(`<content styleCode="`)
		w.b.WriteString(sc)
		w.b.WriteString(`">`)
		closers = append(closers, "</content>")
	}
	if s&app.Superscript != 0 {
		w.b.WriteString("<sup>")
		closers = append(closers, "</sup>")
	}
	if s&app.Subscript != 0 {
		w.b.WriteString("<sub>")
		closers = append(closers, "</sub>")
	}
	body()
	for i := len(closers) - 1; i >= 0; i-- {
		w.b.WriteString(closers[i])
	}
}

// writeSections writes titled narrative sections (component/section with a
// fresh id, the optional code, the title and the narrative).
func (w *xw) writeSections(ids *ids, sections []NoteSection) error {
	for _, s := range sections {
		sid, err := ids.entryID()
		if err != nil {
			return err
		}
		w.open("component")
		w.open("section")
		w.leaf("id", "root", sid)
		if !s.Code.IsZero() {
			w.code("code", s.Code, "")
		}
		w.text("title", s.Title)
		w.writeNarrative(s.Text)
		w.close()
		w.close()
	}
	return nil
}
