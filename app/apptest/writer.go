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
	// Err, when set, is returned by every WriteNote and WritePreAnesthesia.
	Err error
	// Reconciled are the reconciliations written, in order (read them
	// with Reconciliations once the writer is shared).
	Reconciled []app.Reconciliation

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
		TypeCode: "11488-4", ClassCode: app.ClassReport, Title: title, Date: at, Author: author.Name, Organisation: author.Structure.Name,
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

// WritePreAnesthesia implements app.DocumentWriter: a pre-anesthesia
// report in the line format Reader reads ("title: …", one "med: NAME" line
// per reconciled line, "declared: NAME" for the declared ones, then the
// conclusion as "text:" lines), with ids urn:apptest:cpa:1, 2…
func (w *Writer) WritePreAnesthesia(p app.Patient, author app.Practitioner, r app.Reconciliation, at time.Time) (app.WrittenDocument, error) {
	if w.Err != nil {
		return app.WrittenDocument{}, w.Err
	}
	w.mu.Lock()
	w.n++
	n := w.n
	w.Reconciled = append(w.Reconciled, r)
	w.mu.Unlock()
	const title = "CR de consultation pré-anesthésique"
	meta := app.DocumentMeta{
		ID: app.DocumentID(fmt.Sprintf("urn:apptest:cpa:%d", n)), SetID: fmt.Sprintf("urn:apptest:set:%d", n), Version: 1,
		TypeCode: "34749-2", ClassCode: app.ClassReport, Title: title, Date: at, Author: author.Name, Organisation: author.Structure.Name,
		MediaType: "text/xml",
	}
	var b strings.Builder
	fmt.Fprintf(&b, "title: %s\n", title)
	for _, l := range r.Lines {
		kind := "med"
		if l.Kind == app.MedicationDeclared {
			kind = "declared"
		}
		fmt.Fprintf(&b, "%s: %s\n", kind, strings.ReplaceAll(l.Name, "\n", " "))
	}
	if r.Conclusion != "" {
		fmt.Fprintf(&b, "section: Conclusion\n")
		for _, para := range strings.Split(r.Conclusion, "\n\n") {
			fmt.Fprintf(&b, "text: %s\n", strings.ReplaceAll(strings.TrimSpace(para), "\n", " "))
		}
	}
	return app.WrittenDocument{Meta: meta, Content: []byte(b.String())}, nil
}

// Reconciliations returns what WritePreAnesthesia was asked to write.
func (w *Writer) Reconciliations() []app.Reconciliation {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]app.Reconciliation(nil), w.Reconciled...)
}
