package apptest

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/carnetdesk/carnet/app"
)

var _ app.DocumentWriter = (*Writer)(nil)

// Writer is a fake app.DocumentWriter: it writes a note in the line format
// Reader reads ("title: T", then one "text: X" line per paragraph), with
// ids urn:apptest:note:1, 2… The real writer (CDA) is app/cda's. Safe for
// concurrent use.
type Writer struct {
	// Err, when set, is returned by every WriteNote.
	Err error

	mu sync.Mutex
	n  int
}

// WriteNote implements app.DocumentWriter.
func (w *Writer) WriteNote(p app.Patient, author app.Practitioner, d app.NoteDraft, previous *app.DocumentMeta, at time.Time) (app.WrittenDocument, error) {
	if w.Err != nil {
		return app.WrittenDocument{}, w.Err
	}
	w.mu.Lock()
	w.n++
	n := w.n
	w.mu.Unlock()
	title := d.Title
	if title == "" {
		title = "Compte rendu de consultation"
	}
	meta := app.DocumentMeta{
		ID: app.DocumentID(fmt.Sprintf("urn:apptest:note:%d", n)), SetID: fmt.Sprintf("urn:apptest:set:%d", n), Version: 1,
		TypeCode: "11488-4", Title: title, Date: at, Author: author.Name, Organisation: author.Structure.Name,
		MediaType: "text/xml",
	}
	if previous != nil {
		meta.SetID, meta.Version = previous.SetID, previous.Version+1
	}
	var b strings.Builder
	fmt.Fprintf(&b, "title: %s\n", title)
	for _, para := range strings.Split(d.Text, "\n\n") {
		fmt.Fprintf(&b, "text: %s\n", strings.ReplaceAll(strings.TrimSpace(para), "\n", " "))
	}
	return app.WrittenDocument{Meta: meta, Content: []byte(b.String())}, nil
}
