package cda

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"strings"
	"unicode/utf8"

	"github.com/carnetdesk/carnet/app"
)

// nonXMLBody reads component/nonXMLBody: the text element's media type and
// its base64 (or plain) content, bounded by Options.MaxBodyBytes.
func (p *parser) nonXMLBody() {
	p.children(func(se *xml.StartElement) {
		if !is(se, "text") {
			return
		}
		att, over := p.encapsulated(se, p.opt.MaxBodyBytes, "nonXMLBody/text")
		if over {
			p.fail(KindTooLarge, "N1 body larger than the size limit")
			return
		}
		if att == nil {
			return
		}
		if det := sniff(att.Data); det != "" {
			if !sameMedia(det, att.DeclaredType) {
				p.flag(FlagMediaMismatch, "nonXMLBody/text/@mediaType")
			}
		} else if len(att.Data) > 0 {
			p.flag(FlagMediaMismatch, "nonXMLBody/text/@mediaType")
		}
		p.doc.Body.NonXML = att
	})
}

// encapsulated reads an ED element just started (nonXMLBody/text,
// observationMedia/value): its declared media type and its base64 (or
// plain) content, decoded. Content over limit bytes is not kept: over is
// true and the element is consumed. A nil attachment with over false means
// the content could not be decoded (a KindBody error is recorded for the
// N1 body; detail names the element).
func (p *parser) encapsulated(se *xml.StartElement, limit int64, detail string) (att *app.Attachment, over bool) {
	att = &app.Attachment{DeclaredType: strings.ToLower(strings.TrimSpace(attr(se, "mediaType")))}
	b64 := strings.EqualFold(attr(se, "representation"), "B64")
	var raw []byte // compacted base64 (or plain text)
	if b64 {
		limit = int64(base64.StdEncoding.EncodedLen(int(limit)))
	}
	base := p.depth - 1
	for p.depth > base {
		switch t := p.next().(type) {
		case nil:
			return nil, false
		case xml.CharData:
			if over {
				continue
			}
			if b64 {
				raw = appendBase64(raw, t)
			} else {
				raw = append(raw, t...)
			}
			if int64(len(raw)) > limit {
				over, raw = true, nil
			}
		case xml.StartElement:
			if is(&t, "reference") {
				p.flag(FlagUnsupported, detail+"/reference")
			}
		}
	}
	if over {
		return nil, true
	}
	if b64 {
		out := make([]byte, max(base64.StdEncoding.DecodedLen(len(raw)), base64.RawStdEncoding.DecodedLen(len(raw))))
		n, err := base64.StdEncoding.Decode(out, raw)
		if err != nil {
			// Accept a body whose padding was dropped.
			n, err = base64.RawStdEncoding.Decode(out, bytes.TrimRight(raw, "="))
		}
		if err != nil {
			if detail == "nonXMLBody/text" {
				p.fail(KindBody, "N1 body is not valid base64")
			} else {
				p.flag(FlagUnsupported, detail+" (not valid base64)")
			}
			return nil, false
		}
		att.Data = out[:n]
	} else {
		att.Data = raw
	}
	att.MediaType = att.DeclaredType
	if det := sniff(att.Data); det != "" {
		att.MediaType = det
		att.Mismatch = !sameMedia(det, att.DeclaredType)
	} else if len(att.Data) > 0 {
		att.Mismatch = true
	}
	return att, false
}

// appendBase64 appends the base64 characters of t to dst, dropping white
// space.
func appendBase64(dst, t []byte) []byte {
	for len(t) > 0 {
		i := bytes.IndexAny(t, " \t\r\n")
		if i < 0 {
			return append(dst, t...)
		}
		dst = append(dst, t[:i]...)
		t = t[i+1:]
	}
	return dst
}

// sniff returns the media type told by the first bytes of b, or "".
func sniff(b []byte) string {
	switch {
	case bytes.HasPrefix(b, []byte("%PDF-")):
		return "application/pdf"
	case bytes.HasPrefix(b, []byte{0xFF, 0xD8, 0xFF}):
		return "image/jpeg"
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return "image/png"
	case bytes.HasPrefix(b, []byte("II*\x00")), bytes.HasPrefix(b, []byte("MM\x00*")):
		return "image/tiff"
	case bytes.HasPrefix(b, []byte("{\\rtf")):
		return "text/rtf"
	}
	head := b
	if len(head) > 1024 {
		head = head[:1024]
		// do not cut a UTF-8 sequence in two
		for i := 0; i < 3 && len(head) > 0 && !utf8.Valid(head); i++ {
			head = head[:len(head)-1]
		}
	}
	if len(b) > 0 && utf8.Valid(head) && bytes.IndexByte(head, 0) < 0 {
		return "text/plain"
	}
	return ""
}

// sameMedia reports whether the detected type agrees with the declared one.
func sameMedia(detected, declared string) bool {
	declared, _, _ = strings.Cut(declared, ";")
	declared = strings.TrimSpace(declared)
	if detected == declared {
		return true
	}
	switch detected {
	case "text/rtf":
		return declared == "application/rtf"
	case "image/jpeg":
		return declared == "image/jpg"
	case "text/plain":
		// an RTF or XML declared body may well be text
		return strings.HasPrefix(declared, "text/")
	}
	return false
}

// structuredBody reads component/structuredBody/component/section.
func (p *parser) structuredBody() {
	p.children(func(se *xml.StartElement) {
		if !is(se, "component") {
			return
		}
		p.children(func(se *xml.StartElement) {
			if is(se, "section") {
				p.doc.Body.Sections = append(p.doc.Body.Sections, p.section())
			}
		})
	})
}

// section reads a section, its narrative, entries and nested sections.
func (p *parser) section() Section {
	var s Section
	ctx := entryCtx{}
	p.children(func(se *xml.StartElement) {
		switch hl7(se) {
		case "templateId":
			s.Template = append(s.Template, attr(se, "root"))
		case "id":
			s.ID = ii(se)
		case "code":
			s.Code = code(se)
		case "title":
			s.Title = p.text()
		case "text":
			s.Text = p.narrative()
		case "author":
			// the section's author: the dispenser of a dispensation section
			a, at := p.authorp("section/author")
			ctx.author, ctx.authorTime = &a, at
		case "entry":
			ctx.section = &s
			p.entry(&ctx)
		case "component":
			p.children(func(se *xml.StartElement) {
				if is(se, "section") {
					s.Sections = append(s.Sections, p.section())
				}
			})
		}
	})
	return s
}
