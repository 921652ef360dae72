package app_test

import (
	"context"
	"strings"
	"testing"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/apptest"
)

// otherPatient is a second qualified identity.
func otherPatient(t testing.TB) app.Patient {
	return app.Patient{ID: "p-paul", INS: app.INS{Matricule: matricule(t, "1790275123457"), OID: app.OIDINSNIR},
		Status: app.IdentityQualified, BirthName: "MARTIN", BirthGivenNames: "PAUL", BirthDate: "1979-02-02", Sex: app.SexMale}
}

// filedOrQueued checks the rule of the import: every message marked
// imported on the server was filed (a document of its in a record), is
// waiting in the manual queue, or is a duplicate of one that was.
func filedOrQueued(t *testing.T, store *apptest.MailStore, mb *fakeMailbox, patients ...app.Patient) {
	t.Helper()
	ctx := context.Background()
	items, _ := store.Inbox(ctx)
	queued := map[uint32]bool{}
	for _, it := range items {
		if it.State == app.InboxPending {
			queued[it.Message.UID] = true
		}
	}
	filed := map[string]bool{}
	for _, p := range patients {
		man, _ := store.Manifest(ctx, p.ID)
		for _, d := range man.Documents {
			filed[string(d.ID)] = true
		}
	}
	for _, uid := range mb.marked {
		var m app.Message
		for _, x := range mb.msgs {
			if x.Ref.UID == uid {
				m = x
			}
		}
		ok := queued[uid]
		for _, r := range m.Reports {
			ok = ok || filed[string(r.Meta.ID)]
		}
		if !ok {
			t.Errorf("message %d marked imported but neither filed nor queued", uid)
		}
	}
}

// itemsOf returns the pending items of a message, by UID.
func itemsOf(t *testing.T, store *apptest.MailStore, uid uint32) []app.InboxItem {
	t.Helper()
	items, err := store.Inbox(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []app.InboxItem
	for _, it := range items {
		if it.Message.UID == uid {
			out = append(out, it)
		}
	}
	return out
}

// TestImportMessageIDReused: a new report that reuses an earlier
// Message-ID is neither filed as the first nor dropped as its duplicate:
// it waits in the manual queue with the reason and a note, in the same
// run or a later one; the same message again is a duplicate.
func TestImportMessageIDReused(t *testing.T) {
	ctx := context.Background()
	p := qualified(t)
	store := apptest.NewMailStore(p)
	first := msg(1, "same@x", report(p, "doc-1", "set-1", 1, "<one/>"))
	second := msg(2, "same@x", report(p, "doc-2", "set-2", 1, "<two/>"))
	second.Raw = []byte("raw same@x, other content")
	mb := &fakeMailbox{validity: 1, msgs: []app.Message{first, second}}
	sum, err := app.ImportMailbox(ctx, store, mb, app.ImportOptions{Account: "bal"})
	if err != nil || sum.Filed != 1 || sum.Manual != 1 || sum.Duplicates != 0 {
		t.Fatalf("summary %+v, %v", sum, err)
	}
	its := itemsOf(t, store, 2)
	if len(its) != 1 || its[0].Reason != app.ReasonMessageIDReused || its[0].Report == nil || its[0].Report.Meta.ID != "doc-2" {
		t.Fatalf("items of the reused Message-ID: %+v", its)
	}
	noted := false
	for _, n := range sum.Notes {
		if n.UID == 2 && strings.Contains(n.Reason, string(app.ProblemReusedID)) {
			noted = true
		}
	}
	if !noted {
		t.Fatalf("no note of the reuse: %+v", sum.Notes)
	}
	if _, ok := store.Raw(second.ReuseKey()); !ok {
		t.Fatal("raw of the second message not kept apart")
	}
	if _, ok := store.Raw(first.Key()); !ok {
		t.Fatal("raw of the first message overwritten")
	}
	filedOrQueued(t, store, mb, p)

	// A later run: a third message with the Message-ID again, and the
	// first message delivered again (UIDVALIDITY reset): the third is
	// queued, the first is a duplicate.
	third := msg(3, "same@x", report(p, "doc-3", "set-3", 1, "<three/>"))
	third.Raw = []byte("raw same@x, third content")
	mb2 := &fakeMailbox{validity: 2, msgs: []app.Message{first, third}}
	sum, err = app.ImportMailbox(ctx, store, mb2, app.ImportOptions{Account: "bal"})
	if err != nil || sum.Duplicates != 1 || sum.Manual != 1 || sum.Filed != 0 {
		t.Fatalf("second run %+v, %v", sum, err)
	}
	if its := itemsOf(t, store, 3); len(its) != 1 || its[0].Reason != app.ReasonMessageIDReused {
		t.Fatalf("items of the third message: %+v", its)
	}
	if len(mb2.marked) != 2 {
		t.Fatalf("marked %v", mb2.marked)
	}
	filedOrQueued(t, store, mb2, p)
}

// TestImportMessageIDReusedWithoutReport: a reused Message-ID on a message
// without report still gets a message-level item with the reason.
func TestImportMessageIDReusedWithoutReport(t *testing.T) {
	ctx := context.Background()
	p := qualified(t)
	store := apptest.NewMailStore(p)
	first := msg(1, "id@x", report(p, "doc-1", "set-1", 1, "<one/>"))
	empty := app.Message{Ref: app.MessageRef{UID: 2, MessageID: "id@x"}, Raw: []byte("no attachment"),
		Problems: []app.ImportProblem{{Kind: app.ProblemNoAttachment}}}
	mb := &fakeMailbox{validity: 1, msgs: []app.Message{first, empty}}
	if _, err := app.ImportMailbox(ctx, store, mb, app.ImportOptions{Account: "bal"}); err != nil {
		t.Fatal(err)
	}
	its := itemsOf(t, store, 2)
	if len(its) != 1 || its[0].Reason != app.ReasonMessageIDReused {
		t.Fatalf("items %+v", its)
	}
	filedOrQueued(t, store, mb, p)
}

// TestImportLegacyRecordIsDuplicate: a message recorded before the content
// hash joined the key (Message-ID alone) is still recognised at its place
// in the mailbox; another message with that Message-ID elsewhere cannot be
// told apart from it by content: it is queued with the note, never dropped
// as a duplicate.
func TestImportLegacyRecordIsDuplicate(t *testing.T) {
	ctx := context.Background()
	p := qualified(t)
	store := apptest.NewMailStore(p)
	legacy := app.MailRecord{Key: "mid:old@x", Outcome: app.OutcomeFiled,
		Ref: app.MessageRef{Account: "bal", UIDValidity: 1, UID: 1, MessageID: "old@x"}}
	if err := store.Write(ctx, &app.Batch{MailRecords: []app.MailRecord{legacy}}); err != nil {
		t.Fatal(err)
	}
	same := msg(1, "old@x", report(p, "doc-1", "set-1", 1, "<one/>"))
	same.Ref.Account = "bal"
	other := msg(2, "old@x", report(p, "doc-2", "set-2", 1, "<two/>"))
	other.Ref.Account = "bal"
	other.Raw = []byte("raw old@x, a new report")
	mb := &fakeMailbox{validity: 1, msgs: []app.Message{same, other}}
	sum, err := app.ImportMailbox(ctx, store, mb, app.ImportOptions{Account: "bal"})
	if err != nil || sum.Duplicates != 1 || sum.Filed != 0 || sum.Manual != 1 {
		t.Fatalf("summary %+v, %v", sum, err)
	}
	if its := itemsOf(t, store, 2); len(its) != 1 || its[0].Reason != app.ReasonMessageIDReused {
		t.Fatalf("items of the new message: %+v", its)
	}
	if len(mb.marked) != 2 {
		t.Fatalf("marked %v", mb.marked)
	}
}

// TestImportMessageIDReusedOverSizeCap: a message whose raw bytes were not
// kept (over the size cap: no content hash) and that reuses an earlier
// Message-ID is queued, not dropped as a duplicate; delivered again at the
// same place it is a duplicate.
func TestImportMessageIDReusedOverSizeCap(t *testing.T) {
	ctx := context.Background()
	p := qualified(t)
	store := apptest.NewMailStore(p)
	first := msg(1, "big@x", report(p, "doc-1", "set-1", 1, "<one/>"))
	// over the cap on the wire (its parts fetched one by one): no raw bytes
	big := msg(2, "big@x", report(p, "doc-2", "set-2", 1, "<two/>"))
	big.Raw = nil
	// over the cap by its announced size: quarantined, never marked
	huge := app.Message{Ref: app.MessageRef{UID: 3, MessageID: "big@x"},
		Problems: []app.ImportProblem{{Kind: app.ProblemTooLarge, Detail: "message over 1 bytes"}}}
	mb := &fakeMailbox{validity: 1, msgs: []app.Message{first, big, huge}}
	sum, err := app.ImportMailbox(ctx, store, mb, app.ImportOptions{Account: "bal"})
	if err != nil || sum.Filed != 1 || sum.Duplicates != 0 || sum.Manual != 1 || sum.Quarantined != 1 {
		t.Fatalf("summary %+v, %v", sum, err)
	}
	if its := itemsOf(t, store, 2); len(its) != 1 || its[0].Reason != app.ReasonMessageIDReused {
		t.Fatalf("items of the message without raw bytes: %+v", its)
	}
	if its, _ := store.Inbox(ctx); len(its) != 2 {
		t.Fatalf("inbox %+v", its)
	}
	filedOrQueued(t, store, mb, p)
	for _, uid := range mb.marked {
		if uid == 3 {
			t.Fatal("the quarantined message was marked imported")
		}
	}
	// the same again (UIDVALIDITY unchanged, sync point reset): duplicates
	mb2 := &fakeMailbox{validity: 1, msgs: []app.Message{first, big}}
	if err := store.Write(ctx, &app.Batch{MailStates: []app.MailboxState{{Account: "bal", Mailbox: "INBOX", UIDValidity: 1}}}); err != nil {
		t.Fatal(err)
	}
	sum, err = app.ImportMailbox(ctx, store, mb2, app.ImportOptions{Account: "bal"})
	if err != nil || sum.Duplicates != 2 || sum.Manual != 0 {
		t.Fatalf("second run %+v, %v", sum, err)
	}
}

// TestImportPartsDisagree: one message whose reports (parts or archives)
// are about two patients files none of them, each waits with ANS 904.
func TestImportPartsDisagree(t *testing.T) {
	ctx := context.Background()
	p, q := qualified(t), otherPatient(t)
	cases := []struct {
		name string
		a, b app.IncomingReport
	}{
		{"two INS", report(p, "doc-p", "s-p", 1, "<p/>"), report(q, "doc-q", "s-q", 1, "<q/>")},
		{"same INS, other birth date", report(p, "doc-p", "s-p", 1, "<p/>"), func() app.IncomingReport {
			r := report(p, "doc-x", "s-x", 1, "<x/>")
			r.Identity.BirthDate = "1981-01-01"
			return r
		}()},
		{"archive patient ids differ", report(p, "doc-p", "s-p", 1, "<p/>"), func() app.IncomingReport {
			r := report(p, "doc-x", "s-x", 1, "<x/>")
			r.Identity.XDMPatient = q.INS
			return r
		}()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			store := apptest.NewMailStore(p, q)
			mb := &fakeMailbox{validity: 1, msgs: []app.Message{msg(1, "two@x", tc.a, tc.b)}}
			sum, err := app.ImportMailbox(ctx, store, mb, app.ImportOptions{Account: "bal"})
			if err != nil || sum.Filed != 0 || sum.Manual != 2 {
				t.Fatalf("summary %+v, %v", sum, err)
			}
			for _, it := range itemsOf(t, store, 1) {
				if it.Reason.Code() != 904 {
					t.Errorf("item %s: reason %s (code %d), want a 904", it.Report.Meta.ID, it.Reason, it.Reason.Code())
				}
			}
			filedOrQueued(t, store, mb, p, q)
		})
	}
	// Two reports of the same patient in one message are filed.
	store := apptest.NewMailStore(p, q)
	pdf := app.IncomingReport{Meta: app.DocumentMeta{Title: "scan"}, Content: []byte("%PDF"), MediaType: "application/pdf"}
	mb := &fakeMailbox{validity: 1, msgs: []app.Message{msg(1, "same@x", report(p, "doc-1", "s1", 1, "<1/>"), report(p, "doc-2", "s2", 1, "<2/>"), pdf)}}
	if sum, err := app.ImportMailbox(ctx, store, mb, app.ImportOptions{Account: "bal"}); err != nil || sum.Filed != 2 {
		t.Fatalf("same patient: %+v, %v", sum, err)
	}
}

// TestImportRepeatedIdentity: a report whose recordTarget repeats an
// identity element waits with ANS 904, even when the values read match a
// qualified identity.
func TestImportRepeatedIdentity(t *testing.T) {
	ctx := context.Background()
	p := qualified(t)
	for _, el := range []string{"patient", "name", "birthTime"} {
		store := apptest.NewMailStore(p)
		r := report(p, "doc-r", "s-r", 1, "<r/>")
		r.Identity.Repeated = []string{el}
		mb := &fakeMailbox{validity: 1, msgs: []app.Message{msg(1, "r@x", r)}}
		sum, err := app.ImportMailbox(ctx, store, mb, app.ImportOptions{Account: "bal"})
		if err != nil || sum.Filed != 0 || sum.Manual != 1 {
			t.Fatalf("%s: summary %+v, %v", el, sum, err)
		}
		its := itemsOf(t, store, 1)
		if len(its) != 1 || its[0].Reason != app.ReasonRepeatedIdentity || its[0].Reason.Code() != 904 {
			t.Fatalf("%s: items %+v", el, its)
		}
		if len(its[0].Candidates) == 0 || its[0].Candidates[0].Patient != p.ID {
			t.Fatalf("%s: candidates %+v", el, its[0].Candidates)
		}
		if n := sum.Notes; len(n) != 1 || !strings.HasPrefix(n[0].Reason, "904 ") {
			t.Fatalf("%s: notes %+v", el, n)
		}
		filedOrQueued(t, store, mb, p)
	}
}
