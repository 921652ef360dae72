package app

import "strings"

// Narrative is neutral rich text: the human-readable part of a clinical
// document section (the CDA section text), as a list of blocks and the
// footnotes referenced from them. It holds no HTML and no styling beyond
// Style: the UI chooses how to render it.
type Narrative struct {
	Blocks    []Block
	Footnotes []Footnote
}

// IsZero reports whether n holds nothing.
func (n Narrative) IsZero() bool { return len(n.Blocks) == 0 && len(n.Footnotes) == 0 }

// PlainText returns the narrative as plain text: blocks separated by new
// lines, table cells by tabs. For search and tests, not for display.
func (n Narrative) PlainText() string {
	var b strings.Builder
	for i := range n.Blocks {
		n.Blocks[i].plain(&b)
	}
	return strings.TrimRight(b.String(), "\n")
}

// BlockKind says what a Block is.
type BlockKind int

// The kinds of Block.
const (
	BlockParagraph BlockKind = iota // a paragraph of inlines (also loose text and content)
	BlockList                       // a list: Items, Ordered
	BlockTable                      // a table: Table
	BlockCaption                    // a caption outside a table or list
	BlockMedia                      // a reference to an embedded image: Media
)

// Block is a block of narrative. Which fields are set depends on Kind.
type Block struct {
	Kind    BlockKind
	ID      string   // the block's identifier in its document (target of entry references), when present
	Style   Style    // style of the whole block
	Inlines []Inline // BlockParagraph, BlockCaption
	Ordered bool     // BlockList: numbered rather than bulleted
	Caption []Inline // BlockList, BlockMedia: the caption
	Items   []Item   // BlockList
	Table   *Table   // BlockTable
	Media   *Media   // BlockMedia
}

// PlainText returns the block as plain text, like Narrative.PlainText.
func (b Block) PlainText() string { return Narrative{Blocks: []Block{b}}.PlainText() }

// Item is a list item; it holds blocks (text, nested lists, tables).
type Item struct {
	Blocks []Block
}

// Table is a narrative table.
type Table struct {
	Caption []Inline
	Header  []Row // header rows
	Body    []Row // body rows
	Footer  []Row // footer rows
}

// Row is a table row.
type Row struct {
	Cells []Cell
}

// Cell is a table cell.
type Cell struct {
	Header  bool    // a header cell
	ColSpan int     // 1 unless spanning
	RowSpan int     // 1 unless spanning
	Blocks  []Block // the content: usually one paragraph
}

// Media is a reference to multimedia objects embedded in the document (the
// CDA renderMultiMedia and its observationMedia).
type Media struct {
	Refs []string // identifiers of the referenced objects
}

// Style is a set of text styles.
type Style uint16

// The styles.
const (
	Bold Style = 1 << iota
	Italic
	Underline
	Emphasis
	Superscript
	Subscript
)

// InlineKind says what an Inline is.
type InlineKind int

// The kinds of Inline.
const (
	InlineText        InlineKind = iota // a run of text with Style
	InlineBreak                         // a line break
	InlineLink                          // a link: Text shown, Href kept as text (never followed)
	InlineFootnoteRef                   // a footnote call: Ref is the footnote's ID
)

// Inline is a piece of inline narrative.
type Inline struct {
	Kind  InlineKind
	Text  string // InlineText, InlineLink
	Style Style  // InlineText, InlineLink
	Href  string // InlineLink: the target, as text
	Ref   string // InlineFootnoteRef: the footnote ID
}

// Footnote is a footnote of a narrative, referenced by InlineFootnoteRef.
type Footnote struct {
	ID      string
	Inlines []Inline
}

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
