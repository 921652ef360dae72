package apptest

import (
	"bytes"
	"fmt"
	"strings"
	"sync"

	"github.com/carnetdesk/carnet/app"
)

var _ app.DocumentReader = (*Reader)(nil)

// Reader is a fake app.DocumentReader over a tiny line format, so that a
// test writes documents as text:
//
//	content starting with "%PDF-"   → an attachment (application/pdf)
//	content starting with "bad"     → refused (an error wrapping app.ErrInvalid)
//	otherwise, one line per fact:
//	  "title: T"       the document's title
//	  "med: NAME"      a medication line (MedicationTreatment) named NAME
//	  "section: T"     a section titled T (the following "text:" lines are its narrative)
//	  "text: X"        a paragraph of the last section
//	  "flag: F"        a reader flag
//
// Medication lines get a Source with the document id only, like a reader
// that found no header. Reader counts its calls and is safe for concurrent
// use.
type Reader struct {
	// ReadFn, when set, answers instead of the line format.
	ReadFn func(content []byte, meta app.DocumentMeta) (app.ClinicalDocument, error)

	mu    sync.Mutex
	calls int
}

// Read implements app.DocumentReader.
func (r *Reader) Read(content []byte, meta app.DocumentMeta) (app.ClinicalDocument, error) {
	r.mu.Lock()
	r.calls++
	r.mu.Unlock()
	if r.ReadFn != nil {
		return r.ReadFn(content, meta)
	}
	cd := app.ClinicalDocument{Meta: meta, Title: meta.Title}
	switch {
	case bytes.HasPrefix(content, []byte("%PDF-")):
		cd.Attachment = &app.Attachment{MediaType: "application/pdf", DeclaredType: meta.MediaType, Data: content}
		return cd, nil
	case bytes.HasPrefix(content, []byte("bad")):
		return app.ClinicalDocument{}, fmt.Errorf("apptest: reader: refused: %w", app.ErrInvalid)
	}
	for _, line := range strings.Split(string(content), "\n") {
		k, v, _ := strings.Cut(line, ":")
		v = strings.TrimSpace(v)
		switch strings.TrimSpace(k) {
		case "title":
			cd.Title = v
		case "med":
			cd.Medications = append(cd.Medications, app.Medication{Kind: app.MedicationTreatment, Name: v,
				Source: app.MedicationSource{Document: meta.ID}})
		case "section":
			cd.Sections = append(cd.Sections, app.Section{Title: v})
		case "text":
			if n := len(cd.Sections); n > 0 {
				s := &cd.Sections[n-1]
				s.Text.Blocks = append(s.Text.Blocks, app.Block{Kind: app.BlockParagraph,
					Inlines: []app.Inline{{Kind: app.InlineText, Text: v}}})
			}
		case "flag":
			cd.Flags = append(cd.Flags, v)
		}
	}
	return cd, nil
}

// Calls returns how many times Read was called.
func (r *Reader) Calls() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls
}
