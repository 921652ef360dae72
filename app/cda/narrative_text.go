package cda

import "strings"

// plain appends the block's plain text to b, ending with a new line.
func (bl *Block) plain(b *strings.Builder) {
	switch bl.Kind {
	case BlockParagraph, BlockCaption:
		inlinesPlain(b, bl.Inlines)
		b.WriteByte('\n')
	case BlockList:
		if len(bl.Caption) > 0 {
			inlinesPlain(b, bl.Caption)
			b.WriteByte('\n')
		}
		for _, it := range bl.Items {
			b.WriteString("- ")
			for i := range it.Blocks {
				it.Blocks[i].plain(b)
			}
		}
	case BlockTable:
		t := bl.Table
		if t == nil {
			return
		}
		if len(t.Caption) > 0 {
			inlinesPlain(b, t.Caption)
			b.WriteByte('\n')
		}
		for _, rows := range [][]Row{t.Header, t.Body, t.Footer} {
			for _, r := range rows {
				b.WriteString(r.Text())
				b.WriteByte('\n')
			}
		}
	case BlockMedia:
		if len(bl.Caption) > 0 {
			inlinesPlain(b, bl.Caption)
			b.WriteByte('\n')
		}
	}
}

// Text returns the row's cells as plain text separated by tabs.
func (r Row) Text() string {
	var b strings.Builder
	for i, c := range r.Cells {
		if i > 0 {
			b.WriteByte('\t')
		}
		b.WriteString(c.Text())
	}
	return b.String()
}

// Text returns the cell's content as plain text on one line.
func (c Cell) Text() string {
	var b strings.Builder
	for i := range c.Blocks {
		c.Blocks[i].plain(&b)
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

// PlainInlines returns the inlines as plain text.
func PlainInlines(in []Inline) string {
	var b strings.Builder
	inlinesPlain(&b, in)
	return b.String()
}

func inlinesPlain(b *strings.Builder, in []Inline) {
	for _, x := range in {
		switch x.Kind {
		case InlineText, InlineLink:
			b.WriteString(x.Text)
		case InlineBreak:
			b.WriteByte('\n')
		case InlineFootnoteRef:
			b.WriteString("[" + x.Ref + "]")
		}
	}
}
