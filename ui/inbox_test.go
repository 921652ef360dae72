package ui

import (
	"context"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/apptest"
)

// testInbox is a manual-queue item with two candidates, a quarantined
// message and an item already rejected.
func testInbox() []app.InboxItem {
	return []app.InboxItem{
		{ID: "q1", State: app.InboxPending, From: "labo@test.mssante.fr", Subject: "Résultats", Received: testNow,
			Reason: app.ReasonTraitsDiffer, Candidates: []app.Candidate{{Patient: "p1", Kind: app.CandidateSameINS}, {Patient: "p3", Kind: app.CandidateNamesake}},
			Report: &app.IncomingReport{Meta: app.DocumentMeta{ID: "1.2.250.1.999.77", Title: "Compte rendu de biologie", Date: testNow},
				Content: []byte("title: Compte rendu de biologie\n"), MediaType: "text/xml"}},
		{ID: "z1", State: app.InboxQuarantined, From: "x@test.mssante.fr", Subject: "Archive", Received: testNow,
			Reason: app.ReasonQuarantine, Problems: []app.ImportProblem{{Kind: app.ProblemArchive}}},
		{ID: "r1", State: app.InboxRejected, From: "y@test.mssante.fr", Subject: "Spam", Received: testNow, DecidedAt: testNow,
			Reason: app.ReasonNoReport},
	}
}

// openReports reads the reports of items as a person does in the review
// (which enables their attach buttons), then shows the inbox again.
func (f *fixture) openReports(v *inboxView, ids ...app.InboxID) {
	f.t.Helper()
	f.svc.SetDocumentReader(&apptest.Reader{ReadFn: func(content []byte, meta app.DocumentMeta) (app.ClinicalDocument, error) {
		return app.ClinicalDocument{Meta: meta, Title: "Compte rendu"}, nil
	}})
	for _, id := range ids {
		if _, err := f.svc.ReadInboxItem(context.Background(), id); err != nil {
			f.t.Fatal(err)
		}
	}
	v.load()
	f.wait()
}

// confirmTraits ticks "I compared the traits" in the attach dialog and
// confirms.
func (f *fixture) confirmTraits() {
	f.t.Helper()
	top := f.u.Window().Canvas().Overlays().Top()
	if top == nil {
		f.t.Fatal("no dialog shown")
	}
	var check *widget.Check
	var walk func(o fyne.CanvasObject)
	walk = func(o fyne.CanvasObject) {
		switch o := o.(type) {
		case *widget.Check:
			check = o
		case *fyne.Container:
			for _, c := range o.Objects {
				walk(c)
			}
		case fyne.Widget:
			for _, c := range test.WidgetRenderer(o).Objects() {
				walk(c)
			}
		}
	}
	walk(top)
	if check == nil {
		f.t.Fatal("no traits confirmation in the attach dialog")
	}
	f.tapDialogButton("Rattacher") // disabled: nothing happens
	f.wait()
	check.SetChecked(true)
	f.tapDialogButton("Rattacher")
}

func TestInboxPage(t *testing.T) {
	f, s, _ := newSyncFixture(t)
	f.seedInbox(testInbox()...)
	s.openInboxPage()
	f.wait()
	v := s.inbox
	if len(v.items) != 3 {
		t.Fatalf("inbox lists %d items, want 3", len(v.items))
	}
	for _, want := range []string{"À classer (1)", "En quarantaine (1)", "Traités (1)", "Compte rendu de biologie",
		"Code ANS 904 — L'INS ou les traits d'identité diffèrent de l'identité locale",
		"Archive IHE XDM refusée (structure dangereuse ou illisible)", "De labo@test.mssante.fr — reçu le 02/03/2026 09:00"} {
		if !f.shows(want) {
			t.Errorf("inbox does not show %q", want)
		}
	}
	// p3's identity is recovered (RECUP), not qualified: not proposed.
	if got := len(v.attach["q1"]); got != 1 {
		t.Fatalf("attach buttons = %d, want one per qualified candidate", got)
	}
	assertText(t, "attach", v.attach["q1"][0].Text, "Rattacher à MARTIN Hélène (12/03/1979)")
	if !v.attach["q1"][0].Disabled() || !f.shows("Ouvrez le compte rendu (« Lire et choisir le patient ») avant de le rattacher.") {
		t.Fatal("a report not yet read can be attached")
	}
	f.openReports(v, "q1")
	if v.attach["q1"][0].Disabled() {
		t.Fatal("a report read cannot be attached")
	}
	if v.reject["z1"] == nil || v.attach["z1"] != nil {
		t.Error("a quarantined message must be rejectable, never attachable")
	}

	// Attach after the confirmation.
	test.Tap(v.attach["q1"][0])
	f.wait() // the patient's traits are read
	if v.confirm == nil {
		t.Fatal("no confirmation before attaching")
	}
	for _, want := range []string{"Nom de naissance", "MARTIN", "≠", "Sur le document", "Dans le coffre"} {
		if !f.shows(want) {
			t.Errorf("the attach dialog does not show %q", want)
		}
	}
	f.tapDialogButton("Annuler")
	f.wait()
	if items, _ := f.svc.Inbox(context.Background()); items[0].State != app.InboxPending {
		t.Fatal("attached without confirmation")
	}
	test.Tap(v.attach["q1"][0])
	f.wait()
	f.confirmTraits()
	f.wait()
	items, _ := f.svc.Inbox(context.Background())
	if items[0].State != app.InboxAttached || items[0].Patient != "p1" {
		t.Fatalf("item = %+v, want attached to p1", items[0])
	}
	if !f.shows("Rattaché au dossier de MARTIN Hélène (12/03/1979)") {
		t.Error("the attached item is not shown as such")
	}
	if man, _ := f.store.Manifest(context.Background(), "p1"); len(man.Documents) != 1 {
		t.Fatalf("attached document not in the record: %+v", man.Documents)
	}

	// Undo the attach, with a reason: the document leaves the record.
	undo := findButton(v.list, "Annuler le rattachement")
	if undo == nil {
		t.Fatal("no undo on an item attached today")
	}
	test.Tap(undo)
	f.wait()
	var reason *entry
	var walk func(o fyne.CanvasObject)
	walk = func(o fyne.CanvasObject) {
		switch o := o.(type) {
		case *fyne.Container:
			for _, c := range o.Objects {
				walk(c)
			}
		case fyne.Widget:
			if e, ok := o.(*entry); ok {
				reason = e
				return
			}
			for _, c := range test.WidgetRenderer(o).Objects() {
				walk(c)
			}
		}
	}
	walk(f.u.Window().Canvas().Overlays().Top())
	if reason == nil {
		t.Fatal("no reason asked")
	}
	test.Type(reason, "homonyme")
	f.tapDialogButton("Annuler le rattachement") // too short: nothing
	f.wait()
	test.Type(reason, ", mauvais dossier")
	f.tapDialogButton("Annuler le rattachement")
	f.wait()
	items, _ = f.svc.Inbox(context.Background())
	if items[0].State != app.InboxPending || items[0].Patient != "" {
		t.Fatalf("item after undo %+v", items[0])
	}
	if man, _ := f.store.Manifest(context.Background(), "p1"); len(man.Documents) != 0 {
		t.Fatalf("undone document still in the record: %+v", man.Documents)
	}

	// Reject the quarantined message.
	test.Tap(v.reject["z1"])
	f.tapDialogButton("Rejeter")
	f.wait()
	items, _ = f.svc.Inbox(context.Background())
	if items[1].State != app.InboxRejected {
		t.Fatalf("quarantined item = %q, want rejected", items[1].State)
	}
	if v.reject["z1"] != nil || !f.shows("Traités (2)") { // q1 waits again after the undo
		t.Error("the rejected item is still offered for a decision")
	}
}

func TestInboxReasonsTranslated(t *testing.T) {
	for r, key := range matchReasonKeys {
		if tr(key) == key {
			t.Errorf("reason %q: no translation for %q", r, key)
		}
	}
	for k, key := range problemKeys {
		if tr(key) == key {
			t.Errorf("problem %q: no translation for %q", k, key)
		}
	}
	assertText(t, "902", matchReasonText(app.ReasonUnknownPatient), "Code ANS 902 — Patient inconnu : aucune identité locale ne porte cet INS")
	assertText(t, "no code", matchReasonText(app.ReasonNoReport), "Le message ne contient aucun compte rendu à classer")
	assertText(t, "pdf", matchReasonText(app.ReasonPDFOnly), "Courrier PDF sans document structuré : à rattacher manuellement au bon patient")
}

// TestInboxPDFOnly checks that a PDF without structured document is shown
// as a report to attach by hand, with its candidates, never as "no report":
// one from an archive that names its patient, one from a legacy sender
// that names none (stored before ReasonPDFOnly, as ReasonNoReport).
func TestInboxPDFOnly(t *testing.T) {
	f, s, _ := newSyncFixture(t)
	pdf := func(name string) *app.IncomingReport {
		return &app.IncomingReport{Content: []byte("%PDF-1.4"), MediaType: "application/pdf", FileName: name,
			Meta: app.DocumentMeta{Title: name, MediaType: "application/pdf"}}
	}
	f.seedInbox(
		app.InboxItem{ID: "a1", State: app.InboxPending, From: "ch@test.mssante.fr", Subject: "Courrier", Received: testNow,
			Reason: app.ReasonPDFOnly, Candidates: []app.Candidate{{Patient: "p1", Kind: app.CandidateSameINS}}, Report: pdf("sortie.pdf")},
		app.InboxItem{ID: "l1", State: app.InboxPending, From: "cabinet@test.mssante.fr", Subject: "Courrier", Received: testNow,
			Reason: app.ReasonNoReport, Report: pdf("courrier.pdf")},
	)
	s.openInboxPage()
	f.wait()
	v := s.inbox
	if len(v.items) != 2 {
		t.Fatalf("inbox lists %d items, want 2", len(v.items))
	}
	const reason = "Courrier PDF sans document structuré : à rattacher manuellement au bon patient"
	n := 0
	for _, o := range v.list.Objects {
		for _, text := range textsOf(o) {
			if strings.Contains(text, "aucun compte rendu") || strings.Contains(text, "Aucun patient du coffre ne correspond") {
				t.Errorf("a PDF item shows %q", text)
			}
		}
		if box, ok := o.(*fyne.Container); ok {
			for _, c := range box.Objects {
				if l, ok := c.(*widget.Label); ok && l.Text == reason {
					n++
				}
			}
		}
	}
	if n != 2 {
		t.Errorf("the PDF reason is shown by %d items, want 2", n)
	}
	if got := len(v.attach["a1"]); got != 1 {
		t.Fatalf("attach buttons of the PDF with a candidate = %d, want 1", got)
	}
	assertText(t, "attach", v.attach["a1"][0].Text, "Rattacher à MARTIN Hélène (12/03/1979)")
	if v.attach["l1"] != nil || !f.shows("Aucun patient proposé : le PDF ne porte pas d'identité que Carnet sache lire.") {
		t.Error("the PDF naming no patient does not say that none is proposed")
	}
	f.openReports(v, "a1")
	test.Tap(v.attach["a1"][0])
	f.wait()
	f.confirmTraits()
	f.wait()
	items, _ := f.svc.Inbox(context.Background())
	for _, it := range items {
		if it.ID == "a1" && (it.State != app.InboxAttached || it.Patient != "p1") {
			t.Fatalf("PDF item = %+v, want attached to p1", it)
		}
	}
}

// findButton returns the visible button labelled text under o.
func findButton(o fyne.CanvasObject, text string) *widget.Button {
	var found *widget.Button
	var walk func(o fyne.CanvasObject)
	walk = func(o fyne.CanvasObject) {
		if found != nil || o == nil || !o.Visible() {
			return
		}
		switch x := o.(type) {
		case *widget.Button:
			if x.Text == text {
				found = x
			}
		case *fyne.Container:
			for _, c := range x.Objects {
				walk(c)
			}
		case fyne.Widget:
			for _, c := range test.WidgetRenderer(x).Objects() {
				walk(c)
			}
		}
	}
	walk(o)
	return found
}
