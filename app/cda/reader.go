package cda

import (
	"bytes"
	"strings"

	"github.com/carnetdesk/carnet/app"
)

var (
	_ app.DocumentReader   = Reader{}
	_ app.StructuredReader = Reader{}
)

// Reader is the app.DocumentReader of Carnet: it reads CDA R2 documents with
// ParseBytes and maps them to app.ClinicalDocument. Content that is not XML
// (a bare PDF or image received by mail, for example) is returned as an
// attachment without parsing. The zero Reader is ready to use; main sets
// Options.Production for the production central service.
type Reader struct {
	Options Options
}

// Read implements app.DocumentReader. A CDA document the parser refuses
// gives its *ParseError (wrapping app.ErrInvalid, never quoting the
// document). The attachment of a bare document shares content's bytes:
// the caller must not modify content afterwards.
func (r Reader) Read(content []byte, meta app.DocumentMeta) (app.ClinicalDocument, error) {
	if !looksXML(content) {
		return bare(content, meta), nil
	}
	d, err := ParseBytes(content, r.Options)
	if err != nil {
		return app.ClinicalDocument{}, err
	}
	return clinical(d, meta), nil
}

// ReadStructured implements app.StructuredReader: Read without decoding
// the embedded media (Options.SkipMedia), for the medication list, which
// needs the header and the entries only.
func (r Reader) ReadStructured(content []byte, meta app.DocumentMeta) (app.ClinicalDocument, error) {
	r.Options.SkipMedia = true
	return r.Read(content, meta)
}

// looksXML reports whether content starts (after a byte order mark and
// white space) with '<'.
func looksXML(content []byte) bool {
	content = bytes.TrimPrefix(content, []byte("\xef\xbb\xbf"))
	content = bytes.TrimLeft(content, " \t\r\n")
	return len(content) > 0 && content[0] == '<'
}

// bare returns a non-XML document as an attachment, its media type told by
// its bytes when they tell one.
func bare(content []byte, meta app.DocumentMeta) app.ClinicalDocument {
	declared := strings.ToLower(strings.TrimSpace(meta.MediaType))
	att := &app.Attachment{MediaType: declared, DeclaredType: declared, Data: content}
	cd := app.ClinicalDocument{Meta: meta, Title: meta.Title, Attachment: att}
	if det := sniff(content); det != "" {
		att.MediaType = det
		if declared != "" && !sameMedia(det, declared) {
			cd.Flags = append(cd.Flags, string(FlagMediaMismatch))
		}
	}
	if cd.Meta.MediaType == "" {
		cd.Meta.MediaType = att.MediaType
	}
	return cd
}

// clinical maps a parsed document to the app's model; meta is completed
// from the header where it is empty.
func clinical(d *Document, meta app.DocumentMeta) app.ClinicalDocument {
	cd := app.ClinicalDocument{
		Meta:         completeMeta(meta, d.Meta()),
		Title:        d.Title,
		Type:         d.Type,
		Sections:     sections(d.Body.Sections),
		Attachment:   d.Body.NonXML,
		Medications:  d.Medications,
		Allergies:    d.Allergies,
		Problems:     d.Problems,
		Devices:      d.Devices,
		Observations: d.Observations,
		Media:        d.Media,
	}
	if cd.Title == "" {
		cd.Title = meta.Title
	}
	for _, a := range d.Authors {
		if n := a.Name(); n != "" {
			cd.Authors = append(cd.Authors, n)
		}
	}
	for _, f := range d.Flags {
		if k := string(f.Kind); !cd.HasFlag(k) {
			cd.Flags = append(cd.Flags, k)
		}
	}
	return cd
}

// completeMeta fills the empty fields of m with those read from the
// document's header.
func completeMeta(m, h app.DocumentMeta) app.DocumentMeta {
	fill := func(dst *string, src string) {
		if *dst == "" {
			*dst = src
		}
	}
	fill((*string)(&m.ID), string(h.ID))
	fill(&m.SetID, h.SetID)
	fill(&m.TypeCode, h.TypeCode)
	fill(&m.Title, h.Title)
	fill(&m.Author, h.Author)
	fill(&m.Organisation, h.Organisation)
	fill(&m.Confidentiality, h.Confidentiality)
	fill(&m.MediaType, h.MediaType)
	if m.Version == 0 {
		m.Version = h.Version
	}
	if m.Date.IsZero() {
		m.Date = h.Date
	}
	return m
}

// sections maps the sections of a structured body, recursively.
func sections(in []Section) []app.Section {
	if len(in) == 0 {
		return nil
	}
	out := make([]app.Section, len(in))
	for i, s := range in {
		out[i] = app.Section{Code: s.Code, Title: s.Title, Text: s.Text, Sections: sections(s.Sections)}
	}
	return out
}
