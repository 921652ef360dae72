package cda

import (
	"encoding/xml"
	"strings"
)

// DefaultMaxMediaBytes bounds the decoded size of all the observationMedia
// of a document together (Options.MaxMediaBytes).
const DefaultMaxMediaBytes = 50 << 20

// observationMedia reads an observationMedia (a PDF or an image embedded in
// a structured body, with the ID the narrative's renderMultiMedia refers
// to) into Document.Media. An object over what is left of
// Options.MaxMediaBytes, or that does not decode, is left out and flagged:
// the rest of the document is read. Bytes that are not what the declared
// media type says are flagged, and an object whose bytes tell no known
// type is typed application/octet-stream, so that it is never opened as
// what it claims to be. It returns the object's ID.
func (p *parser) observationMedia(se *xml.StartElement, title string) string {
	id := strings.TrimSpace(attr(se, "ID"))
	if p.opt.SkipMedia {
		return id // the caller's children() skips the element, undecoded
	}
	p.children(func(se *xml.StartElement) {
		if !is(se, "value") {
			return
		}
		left := p.opt.MaxMediaBytes - p.mediaBytes
		if left < 0 {
			left = 0
		}
		att, over := p.encapsulated(se, left, "observationMedia/value")
		if over {
			p.flag(FlagUnsupported, "observationMedia larger than the size limit")
			return
		}
		if att == nil {
			return
		}
		p.mediaBytes += int64(len(att.Data))
		att.ID, att.Title = id, title
		if att.Mismatch {
			p.flag(FlagMediaMismatch, "observationMedia/value/@mediaType")
			if sniff(att.Data) == "" {
				att.MediaType = "application/octet-stream"
			}
		}
		p.doc.Media = append(p.doc.Media, *att)
	})
	return id
}
