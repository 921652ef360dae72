package cda

import (
	"bytes"
	"encoding/xml"
	"strconv"
	"strings"

	"github.com/carnetdesk/carnet/app"
)

// ParseNarrative reads one standalone element in the urn:hl7-org:v3
// namespace (normally a section's text) as a Narrative, with the same
// security rules and limits as Parse.
func ParseNarrative(b []byte, opt Options) (app.Narrative, error) {
	opt = opt.withDefaults()
	p := newParser(bytes.NewReader(b), opt)
	p.doc = &Document{}
	var n app.Narrative
	for {
		t := p.next()
		if t == nil {
			if p.err == nil {
				p.fail(KindStructure, "no root element")
			}
			return app.Narrative{}, p.err
		}
		if se, ok := t.(xml.StartElement); ok {
			if se.Name.Space != nsHL7 {
				p.fail(KindStructure, "narrative is not in the urn:hl7-org:v3 namespace")
				return app.Narrative{}, p.err
			}
			n = p.narrative()
			break
		}
	}
	if p.err != nil {
		return app.Narrative{}, p.err
	}
	return n, nil
}

// flow accumulates the blocks of a container (text, item, cell, footnote),
// with the inlines of the paragraph being built.
type flow struct {
	blocks []app.Block
	inl    []app.Inline
	space  bool // white space is pending before the next text
}

// add appends text with a style, collapsing white space.
func (f *flow) add(b []byte, st app.Style) {
	if len(b) == 0 {
		return
	}
	lead := isSpace(b[0])
	trail := isSpace(b[len(b)-1])
	s := collapse(b)
	if s == "" {
		f.space = f.space || lead
		return
	}
	if (lead || f.space) && len(f.inl) > 0 && f.inl[len(f.inl)-1].Kind != app.InlineBreak {
		s = " " + s
	}
	f.space = trail
	if n := len(f.inl); n > 0 && f.inl[n-1].Kind == app.InlineText && f.inl[n-1].Style == st {
		f.inl[n-1].Text += s
		return
	}
	f.inl = append(f.inl, app.Inline{Kind: app.InlineText, Text: s, Style: st})
}

// inline appends a non-text inline.
func (f *flow) inline(in app.Inline) {
	if in.Kind == app.InlineBreak {
		f.space = false
	} else if n := len(f.inl); f.space && n > 0 && f.inl[n-1].Kind != app.InlineBreak {
		if f.inl[n-1].Kind == app.InlineText {
			f.inl[n-1].Text += " "
		} else {
			f.inl = append(f.inl, app.Inline{Kind: app.InlineText, Text: " "})
		}
		f.space = false
	}
	f.inl = append(f.inl, in)
}

// flush ends the paragraph being built, if it holds anything.
func (f *flow) flush(id string, st app.Style) {
	in := f.inl
	f.inl, f.space = nil, false
	for len(in) > 0 && in[len(in)-1].Kind == app.InlineBreak {
		in = in[:len(in)-1]
	}
	for len(in) > 0 && in[0].Kind == app.InlineBreak {
		in = in[1:]
	}
	if len(in) == 0 {
		return
	}
	f.blocks = append(f.blocks, app.Block{Kind: app.BlockParagraph, ID: id, Style: st, Inlines: in})
}

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\t' || c == '\r' }

// styleOf reads a styleCode attribute.
func styleOf(se *xml.StartElement) app.Style {
	v := attr(se, "styleCode")
	if v == "" {
		return 0
	}
	var s app.Style
	l := strings.ToLower(v)
	if strings.Contains(l, "bold") {
		s |= app.Bold
	}
	if strings.Contains(l, "italic") {
		s |= app.Italic
	}
	if strings.Contains(l, "underline") {
		s |= app.Underline
	}
	if strings.Contains(l, "emphasis") {
		s |= app.Emphasis
	}
	return s
}

// narrative reads the element just started (a section's text) as a
// Narrative.
func (p *parser) narrative() app.Narrative {
	var n app.Narrative
	n.Blocks = p.blocks(&n, 0)
	return n
}

// blocks reads the content of the element just started as blocks.
func (p *parser) blocks(n *app.Narrative, st app.Style) []app.Block {
	var f flow
	p.mixed(n, &f, st)
	f.flush("", 0)
	return f.blocks
}

// ref records the plain text of a narrative element with an ID, for the
// references of entries (originalText/reference, text/reference).
func (p *parser) ref(id string, text string) {
	if id == "" {
		return
	}
	if p.refs == nil {
		p.refs = make(map[string]string)
	}
	p.refs[id] = strings.Join(strings.Fields(text), " ")
}

// mixed reads mixed content up to the end of the element just started.
func (p *parser) mixed(n *app.Narrative, f *flow, st app.Style) {
	base := p.depth - 1
	for p.depth > base {
		t := p.next()
		switch t := t.(type) {
		case nil:
			return
		case xml.CharData:
			f.add(t, st)
		case xml.StartElement:
			p.narrativeElement(n, f, &t, st)
		}
	}
}

// narrativeElement reads one element of mixed content.
func (p *parser) narrativeElement(n *app.Narrative, f *flow, se *xml.StartElement, st app.Style) {
	switch hl7(se) {
	case "content":
		id := attr(se, "ID")
		start, prefix := len(f.inl), 0
		if start > 0 {
			prefix = len(f.inl[start-1].Text)
		}
		p.mixed(n, f, st|styleOf(se))
		if id != "" && start <= len(f.inl) {
			text := app.PlainInlines(f.inl[start:])
			if start > 0 && len(f.inl[start-1].Text) > prefix {
				text = f.inl[start-1].Text[prefix:] + text
			}
			p.ref(id, text)
		}
	case "sup":
		p.mixed(n, f, st|app.Superscript)
	case "sub":
		p.mixed(n, f, st|app.Subscript)
	case "br":
		f.inline(app.Inline{Kind: app.InlineBreak})
		p.skip()
	case "linkHtml":
		href := attr(se, "href")
		text := p.text()
		if text == "" {
			text = href
		}
		f.inline(app.Inline{Kind: app.InlineLink, Text: text, Href: href, Style: st})
	case "footnote":
		id := attr(se, "ID")
		if id == "" {
			id = strconv.Itoa(len(n.Footnotes) + 1)
		}
		var ff flow
		p.mixed(n, &ff, 0)
		fn := app.Footnote{ID: id, Inlines: ff.inl}
		for _, b := range ff.blocks { // blocks inside a footnote: keep their text
			fn.Inlines = append(fn.Inlines, b.Inlines...)
		}
		n.Footnotes = append(n.Footnotes, fn)
		f.inline(app.Inline{Kind: app.InlineFootnoteRef, Ref: id})
	case "footnoteRef":
		f.inline(app.Inline{Kind: app.InlineFootnoteRef, Ref: attr(se, "IDREF")})
		p.skip()
	case "renderMultiMedia":
		f.flush("", 0)
		m := &app.Media{Refs: strings.Fields(attr(se, "referencedObject"))}
		b := app.Block{Kind: app.BlockMedia, ID: attr(se, "ID"), Media: m}
		p.children(func(se *xml.StartElement) {
			if is(se, "caption") {
				b.Caption = p.captionInlines(n)
			}
		})
		f.blocks = append(f.blocks, b)
	case "paragraph":
		f.flush("", 0)
		id, pst := attr(se, "ID"), styleOf(se)
		var pf flow
		var caption []app.Inline
		base := p.depth - 1
		for p.depth > base {
			switch t := p.next().(type) {
			case nil:
				return
			case xml.CharData:
				pf.add(t, st|pst)
			case xml.StartElement:
				if is(&t, "caption") {
					caption = p.captionInlines(n)
					continue
				}
				p.narrativeElement(n, &pf, &t, st|pst)
			}
		}
		if len(caption) > 0 {
			f.blocks = append(f.blocks, app.Block{Kind: app.BlockCaption, Inlines: caption})
		}
		first := len(f.blocks)
		pf.flush(id, pst)
		f.blocks = append(f.blocks, pf.blocks...)
		if id != "" && first < len(f.blocks) {
			f.blocks[first].ID = id
			p.ref(id, app.PlainInlines(f.blocks[first].Inlines))
		}
	case "list":
		f.flush("", 0)
		f.blocks = append(f.blocks, p.list(n, se, st))
	case "table":
		f.flush("", 0)
		f.blocks = append(f.blocks, p.table(n, se, st))
	case "caption":
		f.flush("", 0)
		f.blocks = append(f.blocks, app.Block{Kind: app.BlockCaption, Inlines: p.captionInlines(n)})
	case "col", "colgroup":
		p.skip()
	default:
		// Unknown or foreign element: keep its text.
		p.mixed(n, f, st)
	}
}

// captionInlines reads a caption's inline content.
func (p *parser) captionInlines(n *app.Narrative) []app.Inline {
	var cf flow
	p.mixed(n, &cf, 0)
	in := cf.inl
	for _, b := range cf.blocks {
		in = append(in, b.Inlines...)
	}
	return in
}

// list reads a list element.
func (p *parser) list(n *app.Narrative, se *xml.StartElement, st app.Style) app.Block {
	b := app.Block{Kind: app.BlockList, ID: attr(se, "ID"), Style: styleOf(se), Ordered: attr(se, "listType") == "ordered"}
	p.children(func(se *xml.StartElement) {
		switch hl7(se) {
		case "caption":
			b.Caption = p.captionInlines(n)
		case "item":
			id := attr(se, "ID")
			it := app.Item{Blocks: p.blocks(n, st|styleOf(se))}
			if id != "" {
				p.ref(id, app.Narrative{Blocks: it.Blocks}.PlainText())
			}
			b.Items = append(b.Items, it)
		}
	})
	return b
}

// table reads a table element.
func (p *parser) table(n *app.Narrative, se *xml.StartElement, st app.Style) app.Block {
	t := &app.Table{}
	b := app.Block{Kind: app.BlockTable, ID: attr(se, "ID"), Style: styleOf(se), Table: t}
	p.children(func(se *xml.StartElement) {
		switch hl7(se) {
		case "caption":
			t.Caption = p.captionInlines(n)
		case "thead":
			t.Header = p.rows(n, t.Header, st)
		case "tbody":
			t.Body = p.rows(n, t.Body, st)
		case "tfoot":
			t.Footer = p.rows(n, t.Footer, st)
		case "tr":
			t.Body = append(t.Body, p.row(n, st))
		}
	})
	return b
}

// rows reads the tr children of a thead, tbody or tfoot.
func (p *parser) rows(n *app.Narrative, rows []app.Row, st app.Style) []app.Row {
	p.children(func(se *xml.StartElement) {
		if is(se, "tr") {
			rows = append(rows, p.row(n, st|styleOf(se)))
		}
	})
	return rows
}

// row reads a tr.
func (p *parser) row(n *app.Narrative, st app.Style) app.Row {
	var r app.Row
	p.children(func(se *xml.StartElement) {
		name := hl7(se)
		if name != "td" && name != "th" {
			return
		}
		c := app.Cell{Header: name == "th", ColSpan: cellSpan(attr(se, "colspan")), RowSpan: cellSpan(attr(se, "rowspan"))}
		id := attr(se, "ID")
		c.Blocks = p.blocks(n, st|styleOf(se))
		if id != "" {
			p.ref(id, c.Text())
		}
		r.Cells = append(r.Cells, c)
	})
	return r
}

// cellSpan reads a colspan or rowspan: 1 unless a sane positive number.
func cellSpan(v string) int {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 1 {
		return 1
	}
	if n > 1000 {
		return 1000
	}
	return n
}
