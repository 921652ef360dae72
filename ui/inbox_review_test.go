package ui

import (
	"context"
	"testing"

	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/apptest"
)

// TestInboxReview: a report naming no patient is read in Carnet, its
// patient is searched and chosen, and after confirmation it is filed in
// that patient's record.
func TestInboxReview(t *testing.T) {
	f, s, _ := newSyncFixture(t)
	f.svc.SetDocumentReader(&apptest.Reader{ReadFn: func(_ []byte, meta app.DocumentMeta) (app.ClinicalDocument, error) {
		return app.ClinicalDocument{Meta: meta, Title: "Courrier de sortie", Sections: []app.Section{
			{Title: "Identité", Text: app.Narrative{Blocks: []app.Block{npara(ntext("Patient : DUPONT Jean, né le 02/11/1950", 0))}}},
		}}, nil
	}})
	f.seedInbox(app.InboxItem{ID: "l1", State: app.InboxPending, From: "cabinet@test.mssante.fr", Subject: "Courrier", Received: testNow,
		Reason: app.ReasonPDFOnly, Report: &app.IncomingReport{Content: []byte("courrier"), MediaType: "text/xml", FileName: "courrier.xml",
			Meta: app.DocumentMeta{ID: "1.2.3.4", Title: "Courrier de sortie", MediaType: "text/xml"}}})
	s.openInboxPage()
	f.wait()
	v := s.inbox
	b := v.reviewBtn["l1"]
	if b == nil {
		t.Fatal("no review button on a pending report")
	}
	test.Tap(b)
	f.wait()
	r := v.reviewing
	if r == nil {
		t.Fatal("no review dialog")
	}
	if !f.shows("Patient : DUPONT Jean, né le 02/11/1950") {
		t.Fatal("the report is not shown in the review")
	}
	test.Type(r.search, "zzzz")
	f.wait()
	assertText(t, "nobody", r.msg.Text, "Aucun patient du coffre ne correspond.")
	// A validated (VALI) identity is found but cannot be chosen.
	r.search.SetText("dupont")
	f.wait()
	if len(r.results.Objects) != 1 || !r.results.Objects[0].(*widget.Button).Disabled() {
		t.Fatal("a VALI identity is offered for an attach")
	}
	r.search.SetText("martin")
	f.wait()
	if len(r.results.Objects) == 0 {
		t.Fatal("no patient found")
	}
	pick := r.results.Objects[0].(*widget.Button)
	assertText(t, "pick", pick.Text, "Rattacher à MARTIN Hélène (12/03/1979)")
	test.Tap(pick)
	if v.reviewing != nil || !r.disposed {
		t.Fatal("the review stays open under the confirmation")
	}
	f.wait()
	f.confirmTraits()
	f.wait()
	items, err := f.svc.Inbox(context.Background())
	if err != nil || len(items) != 1 || items[0].State != app.InboxAttached || items[0].Patient != "p1" {
		t.Fatalf("after attach: %v %+v", err, items)
	}
	man, err := f.store.Manifest(context.Background(), "p1")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := man.Document("1.2.3.4"); !ok {
		t.Fatal("the report is not in the chosen patient's record")
	}
	if ev, _ := f.svc.Audit(context.Background(), app.AuditFilter{Action: "mail.read"}); len(ev) != 1 {
		t.Fatalf("%d reading events audited", len(ev))
	}
}

// TestInboxReviewPlainText: a report whose body is plain text (N1
// text/plain) is shown to be read, not "cannot show text/plain"; its
// patients may be chosen only once it is shown.
func TestInboxReviewPlainText(t *testing.T) {
	f, s, _ := newSyncFixture(t)
	f.svc.SetDocumentReader(&apptest.Reader{ReadFn: func(content []byte, meta app.DocumentMeta) (app.ClinicalDocument, error) {
		return app.ClinicalDocument{Meta: meta, Attachment: &app.Attachment{MediaType: "text/plain; charset=utf-8", Data: content}}, nil
	}})
	f.seedInbox(app.InboxItem{ID: "t1", State: app.InboxPending, From: "labo@test.mssante.fr", Subject: "CR", Received: testNow,
		Reason: app.ReasonNoINS, Report: &app.IncomingReport{Content: []byte("Patient : MARTIN Hélène, née le 12/03/1979"), MediaType: "text/xml",
			Meta: app.DocumentMeta{ID: "1.2.3.9", Title: "CR", MediaType: "text/xml"}}})
	s.openInboxPage()
	f.wait()
	test.Tap(s.inbox.reviewBtn["t1"])
	r := s.inbox.reviewing
	if r == nil {
		t.Fatal("no review dialog")
	}
	f.wait()
	if !f.shows("Patient : MARTIN Hélène, née le 12/03/1979") {
		t.Fatalf("the plain-text report is not shown: %q", f.texts())
	}
	if !r.loaded {
		t.Fatal("the review does not know the report was shown")
	}
}

// fakeMessages is a MessageReader answering one view.
type fakeMessages struct{ view app.MailView }

func (f fakeMessages) ReadMessage([]byte) (app.MailView, error) { return f.view, nil }

// TestInboxReviewShowsMessage: the review shows the message the report
// came with — sender, subject, date, the text written — and each part,
// shown in place of the report on a tap.
func TestInboxReviewShowsMessage(t *testing.T) {
	f, s, _ := newSyncFixture(t)
	f.svc.SetDocumentReader(&apptest.Reader{ReadFn: func(content []byte, meta app.DocumentMeta) (app.ClinicalDocument, error) {
		return app.ClinicalDocument{Meta: meta, Attachment: &app.Attachment{MediaType: "text/plain", Data: content}}, nil
	}})
	f.svc.SetMessageReader(fakeMessages{app.MailView{From: "cabinet@test.mssante.fr", Subject: "Courrier pour Mme MARTIN Hélène", Date: testNow,
		Text:  "Bonjour, voici le courrier de Mme MARTIN, née le 12/03/1979.",
		Parts: []app.MailPart{{Section: "2", MediaType: "text/plain", Name: "lettre.txt", Content: []byte("Contenu de la pièce jointe")}}}})
	if err := f.store.Write(context.Background(), &app.Batch{MailRaw: []app.RawMessage{{Key: "mid:m@x", Bytes: []byte("raw")}}}); err != nil {
		t.Fatal(err)
	}
	f.seedInbox(app.InboxItem{ID: "m1", State: app.InboxPending, MessageKey: "mid:m@x", From: "cabinet@test.mssante.fr", Subject: "Courrier",
		Received: testNow, Reason: app.ReasonPDFOnly, Report: &app.IncomingReport{Content: []byte("Le compte rendu"), MediaType: "text/xml",
			Meta: app.DocumentMeta{ID: "1.2.3.8", MediaType: "text/xml"}}})
	s.openInboxPage()
	f.wait()
	test.Tap(s.inbox.reviewBtn["m1"])
	f.wait()
	for _, want := range []string{"Objet : Courrier pour Mme MARTIN Hélène", "Bonjour, voici le courrier de Mme MARTIN, née le 12/03/1979.",
		"De cabinet@test.mssante.fr — reçu le 02/03/2026 09:00", "Le compte rendu"} {
		if !f.shows(want) {
			t.Errorf("the review does not show %q", want)
		}
	}
	part := findButton(f.u.Window().Canvas().Overlays().Top(), "Pièce 1 · text/plain · 27 o")
	if part == nil {
		t.Fatalf("no button for the part: %q", f.texts())
	}
	test.Tap(part)
	f.wait()
	if !f.shows("Contenu de la pièce jointe") {
		t.Fatal("the part is not shown")
	}
	if ev, _ := f.svc.Audit(context.Background(), app.AuditFilter{Action: "mail.read.message"}); len(ev) != 1 {
		t.Fatalf("%d message readings audited", len(ev))
	}
}
