package app_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/apptest"
)

const svcPass = "a long enough passphrase 42"

// unlockedService returns a service over an unlocked in-memory store
// holding patients.
func unlockedService(t *testing.T, patients ...app.Patient) (*app.Service, *apptest.Store) {
	t.Helper()
	store := apptest.NewLockedStore(svcPass, patients...)
	svc := app.NewService(app.Deps{Store: store})
	if _, err := svc.Unlock(context.Background(), []byte(svcPass)); err != nil {
		t.Fatal(err)
	}
	return svc, store
}

func itemBy(t *testing.T, svc *app.Service, r app.MatchReason) app.InboxItem {
	t.Helper()
	items, err := svc.Inbox(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		if it.Reason == r {
			return it
		}
	}
	t.Fatalf("no inbox item with reason %s in %d items", r, len(items))
	return app.InboxItem{}
}

func TestServiceImportAttachReject(t *testing.T) {
	ctx := context.Background()
	p := qualified(t)
	q := app.Patient{ID: "p-paul", INS: app.INS{Matricule: matricule(t, "1790275123457"), OID: app.OIDINSNIR},
		Status: app.IdentityQualified, BirthName: "MARTIN", BirthGivenNames: "PAUL", BirthDate: "1979-02-02", Sex: app.SexMale, BirthPlace: "75056"}
	svc, store := unlockedService(t, p, q)
	odd := report(p, "doc-odd", "", 0, "<odd/>")
	odd.Identity.BirthName = "DURAND"
	pdf := app.IncomingReport{Content: []byte("%PDF-1.4 ordonnance"), MediaType: "application/pdf", FileName: "ordonnance.pdf"}
	mb := &fakeMailbox{validity: 1, msgs: []app.Message{
		msg(1, "m1", report(p, "doc-auto", "", 0, "<auto/>")),
		msg(2, "m2", odd),
		{Ref: app.MessageRef{UID: 3, MessageID: "m3"}, Raw: []byte("pdf"), Reports: []app.IncomingReport{pdf},
			Problems: []app.ImportProblem{{Kind: app.ProblemPDFOnly}}},
		{Ref: app.MessageRef{UID: 4, MessageID: "m4"}, Raw: []byte("zip"),
			Problems: []app.ImportProblem{{Kind: app.ProblemArchive, Detail: "xdm: zip-slip"}}},
	}}
	sum, err := importOne(ctx, svc, mb)
	if err != nil || sum.Filed != 1 || sum.Manual != 2 || sum.Quarantined != 1 {
		t.Fatalf("import %+v %v", sum, err)
	}

	// Traits differ: the wrong patient is refused, the right one accepted.
	it := itemBy(t, svc, app.ReasonTraitsDiffer)
	openItems(t, svc)
	if err := svc.AttachInboxItem(ctx, it.ID, q.ID); !errors.Is(err, app.ErrConflict) {
		t.Fatalf("attach to a patient with another INS: %v", err)
	}
	if err := svc.AttachInboxItem(ctx, it.ID, "nobody"); !errors.Is(err, app.ErrNotFound) {
		t.Fatalf("attach to an unknown patient: %v", err)
	}
	if err := svc.AttachInboxItem(ctx, it.ID, p.ID); err != nil {
		t.Fatal(err)
	}
	if err := svc.AttachInboxItem(ctx, it.ID, p.ID); !errors.Is(err, app.ErrConflict) {
		t.Fatalf("attach twice: %v", err)
	}
	man, _ := store.Manifest(ctx, p.ID)
	if _, ok := man.Document("doc-odd"); !ok {
		t.Fatalf("attached document not in the manifest: %+v", man.Documents)
	}
	if b, err := store.Document(ctx, p.ID, "doc-odd"); err != nil || string(b) != "<odd/>" {
		t.Fatalf("attached content %q %v", b, err)
	}
	settled := itemBy(t, svc, app.ReasonTraitsDiffer)
	if settled.State != app.InboxAttached || settled.Patient != p.ID || settled.Report.Content != nil || settled.Report.Meta.Hash == "" {
		t.Fatalf("settled item %+v", settled)
	}
	if rec, ok, _ := store.MailRecord(ctx, "mid:m2"); !ok || len(rec.Documents) != 1 {
		t.Fatalf("mail record %+v", rec)
	}

	// PDF-only: a report to attach by hand (not "no report"), filed under
	// a stable id derived from its hash.
	pit := itemBy(t, svc, app.ReasonPDFOnly)
	if pit.Report == nil || pit.Report.MediaType != "application/pdf" || pit.State != app.InboxPending {
		t.Fatalf("pdf item %+v", pit)
	}
	if err := svc.AttachInboxItem(ctx, pit.ID, q.ID); err != nil {
		t.Fatal(err)
	}
	manQ, _ := store.Manifest(ctx, q.ID)
	if len(manQ.Documents) != 1 || !strings.HasPrefix(string(manQ.Documents[0].ID), "urn:carnet:mssante:sha1:") ||
		manQ.Documents[0].MediaType != "application/pdf" || manQ.Documents[0].Title != "ordonnance.pdf" {
		t.Fatalf("pdf manifest %+v", manQ.Documents)
	}

	// Quarantine: cannot be attached, can be rejected.
	qit := itemBy(t, svc, app.ReasonQuarantine)
	if err := svc.AttachInboxItem(ctx, qit.ID, p.ID); !errors.Is(err, app.ErrConflict) {
		t.Fatalf("attach a quarantined item: %v", err)
	}
	if err := svc.RejectInboxItem(ctx, qit.ID); err != nil {
		t.Fatal(err)
	}
	if got := itemBy(t, svc, app.ReasonQuarantine); got.State != app.InboxRejected || got.DecidedAt.IsZero() {
		t.Fatalf("rejected item %+v", got)
	}
	if err := svc.RejectInboxItem(ctx, qit.ID); !errors.Is(err, app.ErrConflict) {
		t.Fatalf("reject twice: %v", err)
	}

	// The attached report arrives again in another message: not queued again.
	mb.msgs = append(mb.msgs, msg(5, "m5", odd))
	if sum, err := importOne(ctx, svc, mb); err != nil || sum.Manual != 0 || sum.Known != 1 {
		t.Fatalf("re-delivery %+v %v", sum, err)
	}

	actions := map[string]int{}
	for _, e := range store.Events() {
		actions[e.Action+"/"+e.Result]++
		if strings.Contains(e.Detail, "DURAND") || strings.Contains(e.Detail, p.INS.Matricule) {
			t.Fatalf("health data in the audit log: %+v", e)
		}
	}
	if actions["mail.attach/ok"] != 2 || actions["mail.reject/ok"] != 1 || actions["mail.attach/conflict"] < 2 {
		t.Fatalf("audit %v", actions)
	}

	svc.Lock(app.LockSession)
	if _, err := svc.Inbox(ctx); !errors.Is(err, app.ErrLocked) {
		t.Fatalf("inbox while locked: %v", err)
	}
}

func TestServiceAttachKnownAndMessageLevel(t *testing.T) {
	ctx := context.Background()
	p := qualified(t)
	svc, store := unlockedService(t, p)
	rep := report(p, "doc-1", "", 0, "<same/>")
	rep.Identity.INS = app.INS{} // no INS: manual (903)
	mb := &fakeMailbox{validity: 1, msgs: []app.Message{
		msg(1, "m1", rep),
		{Ref: app.MessageRef{UID: 2, MessageID: "m2"}, Raw: []byte("enc"), Problems: []app.ImportProblem{{Kind: app.ProblemEncrypted}}},
	}}
	if _, err := importOne(ctx, svc, mb); err != nil {
		t.Fatal(err)
	}
	// The same document reached the record meanwhile (central service).
	if err := store.Write(ctx, &app.Batch{Manifests: []app.Manifest{{Patient: p.ID, Documents: []app.DocumentMeta{{ID: "doc-1", Source: "dmp"}}}}}); err != nil {
		t.Fatal(err)
	}
	it := itemBy(t, svc, app.ReasonNoINS)
	openItems(t, svc)
	if err := svc.AttachInboxItem(ctx, it.ID, p.ID); err != nil {
		t.Fatal(err)
	}
	if man, _ := store.Manifest(ctx, p.ID); len(man.Documents) != 1 {
		t.Fatalf("known document filed again: %+v", man.Documents)
	}
	// An encrypted mail has nothing to file: attach is refused.
	enc := itemBy(t, svc, app.ReasonNoReport)
	if err := svc.AttachInboxItem(ctx, enc.ID, p.ID); !errors.Is(err, app.ErrInvalid) {
		t.Fatalf("attach without report: %v", err)
	}
	if err := svc.AttachInboxItem(ctx, "missing", p.ID); !errors.Is(err, app.ErrNotFound) {
		t.Fatalf("attach a missing item: %v", err)
	}
}

// TestInboxPDFReason checks that the PDF items stored before ReasonPDFOnly
// existed read as PDF-only, and that the message-level items keep
// ReasonNoReport.
func TestInboxPDFReason(t *testing.T) {
	ctx := context.Background()
	svc, store := unlockedService(t, qualified(t))
	pdf := &app.IncomingReport{Content: []byte("%PDF"), MediaType: "application/pdf", FileName: "courrier.pdf"}
	if err := store.Write(ctx, &app.Batch{Inbox: []app.InboxItem{
		{ID: "old-pdf", State: app.InboxPending, Reason: app.ReasonNoReport, Report: pdf},
		{ID: "encrypted", State: app.InboxPending, Reason: app.ReasonNoReport, Problems: []app.ImportProblem{{Kind: app.ProblemEncrypted}}},
	}}); err != nil {
		t.Fatal(err)
	}
	items, err := svc.Inbox(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[app.InboxID]app.MatchReason{}
	for _, it := range items {
		got[it.ID] = it.Reason
	}
	if got["old-pdf"] != app.ReasonPDFOnly || got["encrypted"] != app.ReasonNoReport {
		t.Errorf("reasons = %v, want the PDF as %q and the encrypted mail as %q", got, app.ReasonPDFOnly, app.ReasonNoReport)
	}
}

// TestReadInboxItem: a person reads a pending report before choosing its
// patient; the reading is audited, the item is unchanged; an item without
// report cannot be read.
func TestReadInboxItem(t *testing.T) {
	ctx := context.Background()
	svc, store := unlockedService(t, qualified(t))
	pdf := &app.IncomingReport{Content: []byte("%PDF-1.4 courrier"), MediaType: "application/pdf", FileName: "courrier.pdf"}
	if err := store.Write(ctx, &app.Batch{Inbox: []app.InboxItem{
		{ID: "pdf", State: app.InboxPending, Reason: app.ReasonPDFOnly, Report: pdf},
		{ID: "quarantined", State: app.InboxQuarantined, Reason: app.ReasonQuarantine},
	}}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.ReadInboxItem(ctx, "pdf"); err == nil {
		t.Fatal("read without a document reader")
	}
	svc.SetDocumentReader(rawReader{})
	cd, err := svc.ReadInboxItem(ctx, "pdf")
	if err != nil {
		t.Fatal(err)
	}
	if cd.Attachment == nil || cd.Attachment.MediaType != "application/pdf" || string(cd.Attachment.Data) != "%PDF-1.4 courrier" {
		t.Fatalf("read %+v", cd.Attachment)
	}
	for _, tc := range []struct {
		id   app.InboxID
		kind error
	}{{"quarantined", app.ErrInvalid}, {"gone", app.ErrNotFound}} {
		if _, err := svc.ReadInboxItem(ctx, tc.id); !errors.Is(err, tc.kind) {
			t.Errorf("%s: %v, want %v", tc.id, err, tc.kind)
		}
	}
	events, err := svc.Audit(ctx, app.AuditFilter{Action: "mail.read"})
	if err != nil || len(events) != 1 || events[0].Result != "ok" {
		t.Fatalf("audit %v %+v", err, events)
	}
	items, _ := svc.Inbox(ctx)
	for _, it := range items {
		if it.ID == "pdf" && (it.State != app.InboxPending || it.Report == nil) {
			t.Fatal("reading changed the item")
		}
	}
}

// rawReader reads any content as an attachment of its declared type.
type rawReader struct{}

func (rawReader) Read(content []byte, meta app.DocumentMeta) (app.ClinicalDocument, error) {
	return app.ClinicalDocument{Meta: meta, Attachment: &app.Attachment{MediaType: meta.MediaType, Data: content}}, nil
}

// TestAttachRefusesAnotherPatientsINS: a report whose valid INS belongs to
// a local patient cannot be attached to another patient, even one without
// INS; it can to the holder.
func TestAttachRefusesAnotherPatientsINS(t *testing.T) {
	ctx := context.Background()
	holder := qualified(t)
	other := app.Patient{ID: "p-sans-ins", Status: app.IdentityProvisional, BirthName: "DUPONT", BirthGivenNames: "ÉLODIE",
		BirthDate: "1980-01-01", Sex: app.SexFemale}
	svc, _ := unlockedService(t, holder, other)
	rep := report(holder, "doc-9", "", 0, "<cr/>")
	rep.Identity.BirthName = "DUPOND" // traits differ: manual (904)
	mb := &fakeMailbox{validity: 1, msgs: []app.Message{msg(1, "m9", rep)}}
	if _, err := importOne(ctx, svc, mb); err != nil {
		t.Fatal(err)
	}
	items, err := svc.Inbox(ctx)
	if err != nil || len(items) != 1 || items[0].State != app.InboxPending {
		t.Fatalf("inbox %v %+v", err, items)
	}
	openItems(t, svc)
	// A patient without INS is not qualified: refused before the INS
	// check (which refuses it too).
	if err := svc.AttachInboxItem(ctx, items[0].ID, other.ID); app.Denial(err) != app.DeniedNotQualified {
		t.Fatalf("attach to a patient without INS while another holds it: %v", err)
	}
	if err := svc.AttachInboxItem(ctx, items[0].ID, holder.ID); err != nil {
		t.Fatalf("attach to the holder: %v", err)
	}
}

// TestInboxCandidatesQualifiedOnly: the manual queue proposes only
// qualified identities, and attaching to a provisional one is refused,
// even when it carries the report's INS.
func TestInboxCandidatesQualifiedOnly(t *testing.T) {
	ctx := context.Background()
	p := qualified(t)
	prov := p
	prov.ID, prov.Status = "p-prov", app.IdentityProvisional
	namesake := app.Patient{ID: "p-namesake", Status: app.IdentityQualified, BirthName: p.BirthName, BirthGivenNames: p.BirthGivenNames,
		BirthDate: p.BirthDate, Sex: p.Sex, INS: app.INS{Matricule: matricule(t, "2800175999999"), OID: app.OIDINSNIR}}
	svc, _ := unlockedService(t, prov, namesake)
	mb := &fakeMailbox{validity: 1, msgs: []app.Message{msg(1, "m-prov", report(p, "doc-prov", "", 0, "<cr/>"))}}
	if _, err := importOne(ctx, svc, mb); err != nil {
		t.Fatal(err)
	}
	items, err := svc.Inbox(ctx)
	if err != nil || len(items) != 1 || items[0].Reason != app.ReasonNotQualified {
		t.Fatalf("inbox %v %+v", err, items)
	}
	for _, c := range items[0].Candidates {
		if c.Patient == prov.ID {
			t.Fatalf("provisional identity proposed: %+v", items[0].Candidates)
		}
	}
	if len(items[0].Candidates) != 1 || items[0].Candidates[0].Patient != namesake.ID {
		t.Fatalf("candidates %+v, want the qualified namesake only", items[0].Candidates)
	}
	openItems(t, svc)
	if err := svc.AttachInboxItem(ctx, items[0].ID, prov.ID); app.Denial(err) != app.DeniedNotQualified {
		t.Fatalf("attach to the provisional identity: %v", err)
	}
}

// openItems opens (reads) every pending report of the inbox, as a person
// does before attaching it.
func openItems(t *testing.T, svc *app.Service) {
	t.Helper()
	svc.SetDocumentReader(rawReader{})
	items, err := svc.Inbox(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		if it.State == app.InboxPending && it.Report != nil && len(it.Report.Content) > 0 {
			if _, err := svc.ReadInboxItem(context.Background(), it.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestAttachOnlyAfterOpening: a report cannot be attached before a person
// opened it.
func TestAttachOnlyAfterOpening(t *testing.T) {
	ctx := context.Background()
	p := qualified(t)
	svc, _ := unlockedService(t, p)
	rep := report(p, "doc-u", "", 0, "<u/>")
	rep.Identity.INS = app.INS{}
	if _, err := importOne(ctx, svc, &fakeMailbox{validity: 1, msgs: []app.Message{msg(1, "u", rep)}}); err != nil {
		t.Fatal(err)
	}
	it := itemBy(t, svc, app.ReasonNoINS)
	if svc.InboxItemOpened(it.ID) {
		t.Fatal("opened before reading")
	}
	if err := svc.AttachInboxItem(ctx, it.ID, p.ID); !errors.Is(err, app.ErrInvalid) {
		t.Fatalf("attach before opening: %v", err)
	}
	openItems(t, svc)
	if !svc.InboxItemOpened(it.ID) {
		t.Fatal("not opened after reading")
	}
	if err := svc.AttachInboxItem(ctx, it.ID, p.ID); err != nil {
		t.Fatal(err)
	}
}

// TestUndoAttach: an attach is undone within 7 days, with a reason: the
// document leaves the record and the vault, the item waits again with its
// report, the audit says who and why; after 7 days, refused. An attach of
// a document the record already held leaves the record as it is.
func TestUndoAttach(t *testing.T) {
	ctx := context.Background()
	p := qualified(t)
	store := apptest.NewLockedStore(svcPass, p)
	clock := apptest.NewClock(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	svc := app.NewService(app.Deps{Store: store, Clock: clock})
	if _, err := svc.Unlock(ctx, []byte(svcPass)); err != nil {
		t.Fatal(err)
	}
	svc.SignIn(app.Session{Practitioner: app.Practitioner{RPPS: "810001234567"}, Records: &apptest.Records{}})
	v1 := report(p, "doc-v1", "set-u", 1, "<v1/>")
	v2 := report(p, "doc-v2", "set-u", 2, "<v2/>")
	v2.Identity.INS = app.INS{} // manual (903)
	if _, err := importOne(ctx, svc, &fakeMailbox{validity: 1, msgs: []app.Message{msg(1, "a", v1), msg(2, "b", v2)}}); err != nil {
		t.Fatal(err)
	}
	it := itemBy(t, svc, app.ReasonNoINS)
	openItems(t, svc)
	if err := svc.AttachInboxItem(ctx, it.ID, p.ID); err != nil {
		t.Fatal(err)
	}
	man, _ := svc.CachedManifest(ctx, p.ID)
	if d, ok := man.Document("doc-v1"); !ok || !d.Superseded {
		t.Fatalf("v1 not superseded by the attached v2: %+v", man.Documents)
	}
	if err := svc.UndoAttach(ctx, it.ID, "court"); !errors.Is(err, app.ErrInvalid) {
		t.Fatalf("undo without a real reason: %v", err)
	}
	clock.Advance(6 * 24 * time.Hour)
	if err := svc.UndoAttach(ctx, it.ID, "mauvais patient, homonyme"); err != nil {
		t.Fatal(err)
	}
	man, _ = svc.CachedManifest(ctx, p.ID)
	if _, ok := man.Document("doc-v2"); ok {
		t.Fatalf("undone document still in the record: %+v", man.Documents)
	}
	if d, ok := man.Document("doc-v1"); !ok || d.Superseded {
		t.Fatalf("v1 not current again: %+v", man.Documents)
	}
	if _, err := store.Document(ctx, p.ID, "doc-v2"); !errors.Is(err, app.ErrNotFound) {
		t.Fatalf("undone document content still in the vault: %v", err)
	}
	back := itemBy(t, svc, app.ReasonNoINS)
	if back.State != app.InboxPending || back.Patient != "" || back.Report == nil || string(back.Report.Content) != "<v2/>" || back.UndoReason == "" {
		t.Fatalf("item after undo %+v", back)
	}
	ev, _ := svc.Audit(ctx, app.AuditFilter{Action: "mail.attach.undo"})
	// The refused attempt is audited too, then the undo.
	if len(ev) != 2 || ev[0].Result == "ok" || ev[1].Practitioner != "810001234567" || !strings.Contains(ev[1].Detail, "homonyme") || ev[1].Result != "ok" {
		t.Fatalf("undo audit %+v", ev)
	}
	// Attached again, then 8 days later: too late.
	openItems(t, svc)
	if err := svc.AttachInboxItem(ctx, it.ID, p.ID); err != nil {
		t.Fatal(err)
	}
	clock.Advance(8 * 24 * time.Hour)
	if err := svc.UndoAttach(ctx, it.ID, "mauvais patient, homonyme"); !errors.Is(err, app.ErrInvalid) {
		t.Fatalf("undo after 8 days: %v", err)
	}
}
