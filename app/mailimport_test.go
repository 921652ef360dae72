package app_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/apptest"
)

// fakeMailbox serves a fixed list of messages and records the marks.
type fakeMailbox struct {
	validity uint32
	msgs     []app.Message
	marked   []uint32
	markErr  error
	modseq   uint64
}

func (f *fakeMailbox) Fetch(ctx context.Context, st app.MailboxState, each func(app.Message) error) (app.MailboxState, error) {
	if st.UIDValidity != f.validity {
		st.UIDValidity, st.LastUID = f.validity, 0
	}
	for _, m := range f.msgs {
		if m.Ref.UID <= st.LastUID {
			continue
		}
		m.Ref.UIDValidity = f.validity
		if err := each(m); err != nil {
			return st, err
		}
		st.LastUID = m.Ref.UID
	}
	st.HighestModSeq = f.modseq
	return st, nil
}

func (f *fakeMailbox) MarkImported(_ context.Context, ref app.MessageRef) error {
	if f.markErr != nil {
		return f.markErr
	}
	f.marked = append(f.marked, ref.UID)
	return nil
}

func (f *fakeMailbox) Close() error { return nil }

// countingReceipts records the receipts ImportMail sends; err, when set,
// is the failure of every sending.
type countingReceipts struct {
	n   int
	got []app.Receipt
	err error
}

func (c *countingReceipts) SendReceipt(_ context.Context, r app.Receipt) error {
	if c.err != nil {
		return c.err
	}
	c.n++
	c.got = append(c.got, r)
	return nil
}

var _ app.ReceiptSender = (*countingReceipts)(nil)

func report(p app.Patient, id app.DocumentID, setID string, version int, content string) app.IncomingReport {
	return app.IncomingReport{
		Meta:      app.DocumentMeta{ID: id, SetID: setID, Version: version, Title: "CR"},
		Content:   []byte(content),
		MediaType: "text/xml",
		Identity:  identityOf(p),
		SetID:     setID, Version: version,
	}
}

func msg(uid uint32, mid string, reps ...app.IncomingReport) app.Message {
	return app.Message{Ref: app.MessageRef{UID: uid, MessageID: mid}, Raw: []byte("raw " + mid), Reports: reps}
}

func TestImportMailFilesDedupsAndMarks(t *testing.T) {
	ctx := context.Background()
	p := qualified(t)
	store := apptest.NewMailStore(p)
	// The same document already came from the central service.
	store.PutManifest(app.Manifest{Patient: p.ID, Documents: []app.DocumentMeta{{ID: "dmp-doc", Hash: "", Source: "dmp"}}}, nil)
	rec := &countingReceipts{}
	mb := &fakeMailbox{validity: 7, modseq: 42, msgs: []app.Message{
		msg(1, "a@x", report(p, "doc-1", "set-1", 1, "<v1/>")),
		msg(2, "a@x", report(p, "doc-1", "set-1", 1, "<v1/>")), // delivered twice
		msg(3, "b@x", report(p, "dmp-doc", "set-9", 1, "<dmp/>")),
		msg(5, "c@x", report(p, "doc-3", "set-2", 3, "<v3/>")), // replacement first
		msg(6, "d@x", report(p, "doc-2", "set-2", 2, "<v2/>")), // original late
	}}
	mb.msgs[0].NotifyTo, mb.msgs[0].ReturnPath = "s@x", "s@x"
	sum, err := app.ImportMailbox(ctx, store, mb, app.ImportOptions{Account: "bal", Receipts: rec})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Filed != 3 || sum.Duplicates != 1 || sum.Known != 1 || sum.Manual != 0 || sum.Messages != 5 {
		t.Fatalf("summary %+v", sum)
	}
	if rec.n != 0 {
		t.Fatalf("%d read receipts sent while disabled", rec.n)
	}
	if len(mb.marked) != 5 {
		t.Fatalf("marked %v, want all 5 (duplicates too)", mb.marked)
	}
	man, _ := store.Manifest(ctx, p.ID)
	super := map[app.DocumentID]bool{}
	for _, d := range man.Documents {
		super[d.ID] = d.Superseded
	}
	if len(man.Documents) != 4 || super["doc-3"] || !super["doc-2"] || super["doc-1"] {
		t.Fatalf("manifest %+v", man.Documents)
	}
	st, _ := store.MailState(ctx, "bal", "INBOX")
	if st.UIDValidity != 7 || st.LastUID != 6 || st.HighestModSeq != 42 {
		t.Fatalf("state %+v", st)
	}
	if _, ok := store.Raw("mid:a@x"); !ok {
		t.Fatal("raw message not sealed")
	}
	// Run again: nothing new. Then the server resets UIDVALIDITY: every
	// message comes again and is recognised.
	if sum, err := app.ImportMailbox(ctx, store, mb, app.ImportOptions{Account: "bal"}); err != nil || sum.Messages != 0 {
		t.Fatalf("second run %+v %v", sum, err)
	}
	mb.validity = 8
	sum, err = app.ImportMailbox(ctx, store, mb, app.ImportOptions{Account: "bal"})
	if err != nil || sum.Filed != 0 || sum.Duplicates != 5 {
		t.Fatalf("after UIDVALIDITY reset %+v %v", sum, err)
	}
	if man2, _ := store.Manifest(ctx, p.ID); len(man2.Documents) != 4 {
		t.Fatalf("documents after reset: %d", len(man2.Documents))
	}
}

func TestImportMailManualQuarantineAndReceipts(t *testing.T) {
	ctx := context.Background()
	p := qualified(t)
	store := apptest.NewMailStore(p)
	odd := report(p, "doc-odd", "", 0, "<odd/>")
	odd.Identity.BirthName = "DURAND"
	pdf := app.IncomingReport{Content: []byte("%PDF"), MediaType: "application/pdf"}
	mb := &fakeMailbox{validity: 1, msgs: []app.Message{
		msg(1, "m1", odd),
		{Ref: app.MessageRef{UID: 2, MessageID: "m2"}, Raw: []byte("x"), Reports: []app.IncomingReport{pdf},
			Problems: []app.ImportProblem{{Kind: app.ProblemPDFOnly}}},
		{Ref: app.MessageRef{UID: 3, MessageID: "m3"}, Raw: []byte("y"),
			Problems: []app.ImportProblem{{Kind: app.ProblemArchive, Detail: "xdm: zip-slip"}}},
		{Ref: app.MessageRef{UID: 4, MessageID: "m4"}, Raw: []byte("z"),
			Problems: []app.ImportProblem{{Kind: app.ProblemEncrypted}}, NotifyTo: "s@x", ReturnPath: "s@x"},
	}}
	rec := &countingReceipts{}
	sum, err := app.ImportMailbox(ctx, store, mb, app.ImportOptions{Account: "bal", ReadReceipts: true, Receipts: rec})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Manual != 3 || sum.Quarantined != 1 || sum.Filed != 0 {
		t.Fatalf("summary %+v", sum)
	}
	if rec.n != 1 {
		t.Fatalf("receipts %d, want 1 (only the message asking for one)", rec.n)
	}
	for _, uid := range mb.marked {
		if uid == 3 {
			t.Fatal("quarantined message was marked on the server")
		}
	}
	items, _ := store.Inbox(ctx)
	reasons := map[app.MatchReason]int{}
	for _, it := range items {
		reasons[it.Reason]++
		if it.Reason == app.ReasonTraitsDiffer && (len(it.Candidates) == 0 || it.Candidates[0].Patient != p.ID) {
			t.Fatalf("candidates %+v", it.Candidates)
		}
		if it.Reason == app.ReasonQuarantine && it.State != app.InboxQuarantined {
			t.Fatalf("quarantine state %s", it.State)
		}
	}
	if reasons[app.ReasonTraitsDiffer] != 1 || reasons[app.ReasonQuarantine] != 1 || reasons[app.ReasonNoReport] != 1 || reasons[app.ReasonPDFOnly] != 1 {
		t.Fatalf("reasons %v", reasons)
	}
	for _, e := range store.AuditLog() {
		if e.Action != "mail.import" {
			t.Fatalf("audit action %q", e.Action)
		}
	}
	if len(store.AuditLog()) < 4 {
		t.Fatalf("audit events %d", len(store.AuditLog()))
	}
}

func TestImportMailCrashBeforeMark(t *testing.T) {
	ctx := context.Background()
	p := qualified(t)
	store := apptest.NewMailStore(p)
	mb := &fakeMailbox{validity: 1, msgs: []app.Message{msg(1, "m1", report(p, "d1", "", 0, "<a/>")), msg(2, "m2", report(p, "d2", "", 0, "<b/>"))}}
	mb.markErr = errors.New("connection lost")
	sum, err := app.ImportMailbox(ctx, store, mb, app.ImportOptions{Account: "bal"})
	if err != nil || sum.Filed != 2 || sum.MarkFailures != 2 {
		t.Fatalf("%+v %v", sum, err)
	}
	if st, _ := store.MailState(ctx, "bal", "INBOX"); st.LastUID != 0 {
		t.Fatalf("sync point advanced past unmarked messages: %+v", st)
	}
	mb.markErr = nil
	sum, err = app.ImportMailbox(ctx, store, mb, app.ImportOptions{Account: "bal"})
	if err != nil || sum.Filed != 0 || sum.Duplicates != 2 || len(mb.marked) != 2 {
		t.Fatalf("retry %+v %v marked %v", sum, err, mb.marked)
	}
	if st, _ := store.MailState(ctx, "bal", "INBOX"); st.LastUID != 2 {
		t.Fatalf("state %+v", st)
	}
	// A failing vault write: the message is neither filed nor marked.
	store2 := apptest.NewMailStore(p)
	store2.FailWrites = 1
	mb2 := &fakeMailbox{validity: 1, msgs: []app.Message{msg(1, "m1", report(p, "d1", "", 0, "<a/>"))}}
	if _, err := app.ImportMailbox(ctx, store2, mb2, app.ImportOptions{Account: "bal"}); !errors.Is(err, app.ErrNoSpace) {
		t.Fatalf("err %v", err)
	}
	if len(mb2.marked) != 0 {
		t.Fatal("marked before the commit")
	}
}

func TestImportMailConflictAndSeveralPatients(t *testing.T) {
	ctx := context.Background()
	p := qualified(t)
	store := apptest.NewMailStore(p)
	store.PutManifest(app.Manifest{Patient: p.ID, Documents: []app.DocumentMeta{{ID: "d1", Hash: "0000000000000000000000000000000000000000"}}}, nil)
	several := report(p, "d2", "", 0, "<c/>")
	several.NoAuto = true
	mb := &fakeMailbox{validity: 1, msgs: []app.Message{msg(1, "m1", report(p, "d1", "", 0, "<other/>"), several)}}
	sum, err := app.ImportMailbox(ctx, store, mb, app.ImportOptions{Account: "bal"})
	if err != nil || sum.Manual != 2 || sum.Filed != 0 {
		t.Fatalf("%+v %v", sum, err)
	}
	items, _ := store.Inbox(ctx)
	got := map[app.MatchReason]bool{}
	for _, it := range items {
		got[it.Reason] = true
	}
	if !got[app.ReasonConflict] || !got[app.ReasonSeveralPatients] {
		t.Fatalf("reasons %v", got)
	}
}

// setMailbox is a fakeMailbox that marks a commit unit in one call and
// records the units it was asked to mark; failSets makes that many of
// those calls fail.
type setMailbox struct {
	fakeMailbox
	sets     [][]uint32
	failSets int
	store    *apptest.MailStore
	writes   []int // store.Writes seen at each mark: the unit was committed first
}

func (f *setMailbox) MarkImportedSet(_ context.Context, refs []app.MessageRef) error {
	f.writes = append(f.writes, f.store.Writes)
	if f.failSets > 0 {
		f.failSets--
		return errors.New("connection lost")
	}
	var uids []uint32
	for _, r := range refs {
		uids = append(uids, r.UID)
		f.marked = append(f.marked, r.UID)
	}
	f.sets = append(f.sets, uids)
	return nil
}

func TestImportMailGroupCommit(t *testing.T) {
	ctx := context.Background()
	p := qualified(t)
	store := apptest.NewMailStore(p)
	mb := &setMailbox{fakeMailbox: fakeMailbox{validity: 3, modseq: 9}, store: store}
	const n = 250
	for uid := uint32(1); uid <= n; uid++ {
		mid := fmt.Sprintf("m%d", uid)
		if uid == 7 {
			mid = "m6" // delivered twice, in the same unit
		}
		mb.msgs = append(mb.msgs, msg(uid, mid, report(p, app.DocumentID("d-"+mid), "", 0, "<"+mid+"/>")))
	}
	// A quarantined message in the middle is neither marked nor blocking.
	mb.msgs[149] = app.Message{Ref: app.MessageRef{UID: 150, MessageID: "q"}, Raw: []byte("q"),
		Problems: []app.ImportProblem{{Kind: app.ProblemArchive}}}
	sum, err := app.ImportMailbox(ctx, store, mb, app.ImportOptions{Account: "bal"})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Filed != n-2 || sum.Duplicates != 1 || sum.Quarantined != 1 || sum.MarkFailures != 0 {
		t.Fatalf("summary %+v", sum)
	}
	// 100 messages a unit: three commits, three marks, each after its commit.
	if len(mb.sets) != 3 || len(mb.sets[0]) != 100 || len(mb.sets[1]) != 99 || len(mb.sets[2]) != 50 {
		t.Fatalf("%d mark commands: %v", len(mb.sets), mb.sets)
	}
	if store.Writes != 4 || mb.writes[0] != 1 || mb.writes[1] != 2 || mb.writes[2] != 3 { // + the final sync point
		t.Fatalf("%d writes, marks after writes %v", store.Writes, mb.writes)
	}
	if len(mb.marked) != n-1 {
		t.Fatalf("%d marked, want %d (all but the quarantined one)", len(mb.marked), n-1)
	}
	man, _ := store.Manifest(ctx, p.ID)
	if len(man.Documents) != n-2 {
		t.Fatalf("%d documents, want %d", len(man.Documents), n-2)
	}
	if len(store.AuditLog()) != n-1 {
		t.Fatalf("%d audit events, want %d", len(store.AuditLog()), n-1)
	}
	if st, _ := store.MailState(ctx, "bal", "INBOX"); st.LastUID != n || st.HighestModSeq != 9 {
		t.Fatalf("state %+v", st)
	}
}

func TestImportMailGroupCommitCrashBeforeMark(t *testing.T) {
	ctx := context.Background()
	p := qualified(t)
	store := apptest.NewMailStore(p)
	mb := &setMailbox{fakeMailbox: fakeMailbox{validity: 1}, store: store}
	for uid := uint32(1); uid <= 150; uid++ {
		mid := fmt.Sprintf("m%d", uid)
		mb.msgs = append(mb.msgs, msg(uid, mid, report(p, app.DocumentID("d-"+mid), "", 0, "<"+mid+"/>")))
	}
	// The first unit is committed but its mark fails (as a crash between
	// the commit and the mark would leave it); the second one is marked.
	mb.failSets = 1
	sum, err := app.ImportMailbox(ctx, store, mb, app.ImportOptions{Account: "bal"})
	if err != nil || sum.Filed != 150 || sum.MarkFailures != 100 {
		t.Fatalf("%+v %v", sum, err)
	}
	if st, _ := store.MailState(ctx, "bal", "INBOX"); st.LastUID != 0 {
		t.Fatalf("sync point advanced past unmarked messages: %+v", st)
	}
	// Next run: everything comes again, nothing is filed twice, all marked.
	mb.marked, mb.sets = nil, nil
	sum, err = app.ImportMailbox(ctx, store, mb, app.ImportOptions{Account: "bal"})
	if err != nil || sum.Filed != 0 || sum.Duplicates != 150 || len(mb.marked) != 150 {
		t.Fatalf("retry %+v %v marked %d", sum, err, len(mb.marked))
	}
	if st, _ := store.MailState(ctx, "bal", "INBOX"); st.LastUID != 150 {
		t.Fatalf("state %+v", st)
	}
	if man, _ := store.Manifest(ctx, p.ID); len(man.Documents) != 150 {
		t.Fatalf("%d documents", len(man.Documents))
	}
	// A failing commit: the unit's messages are neither filed nor marked.
	store2 := apptest.NewMailStore(p)
	store2.FailWrites = 1
	mb2 := &setMailbox{fakeMailbox: fakeMailbox{validity: 1, msgs: mb.msgs[:5]}, store: store2}
	if _, err := app.ImportMailbox(ctx, store2, mb2, app.ImportOptions{Account: "bal"}); !errors.Is(err, app.ErrNoSpace) {
		t.Fatalf("err %v", err)
	}
	if len(mb2.marked) != 0 || len(store2.Records()) != 0 {
		t.Fatal("marked or recorded without the commit")
	}
}

// TestImportMailReceipts: a read receipt goes once per message that asks
// for one, only when enabled and when Disposition-Notification-To equals
// Return-Path; it reports the outcome (filed, manual with its reason,
// quarantined), carries the raw message for a filed one, and is not sent
// again when the message comes back; what keeps it from going is noted.
func TestImportMailReceipts(t *testing.T) {
	ctx := context.Background()
	p := qualified(t)
	odd := report(p, "doc-odd", "", 0, "<odd/>")
	odd.Identity.BirthName = "DURAND"
	asking := func(m app.Message, to, rp string) app.Message { m.NotifyTo, m.ReturnPath = to, rp; return m }
	msgs := func() []app.Message {
		return []app.Message{
			asking(msg(1, "filed", report(p, "d1", "", 0, "<a/>")), "labo@x", "<Labo@X>"),
			msg(2, "silent", report(p, "d2", "", 0, "<b/>")),
			asking(msg(3, "manual", odd), "labo@x", "labo@x"),
			asking(msg(4, "loop", report(p, "d4", "", 0, "<d/>")), "other@y", "labo@x"),
			asking(app.Message{Ref: app.MessageRef{UID: 5, MessageID: "bad"}, Raw: []byte("zip bomb"),
				Problems: []app.ImportProblem{{Kind: app.ProblemArchive, Detail: "xdm: ratio"}}}, "labo@x", "labo@x"),
		}
	}
	notes := func(sum app.ImportSummary, uid uint32) []string {
		var r []string
		for _, n := range sum.Notes {
			if n.UID == uid && n.Item == "" {
				r = append(r, n.Reason)
			}
		}
		return r
	}

	t.Run("off", func(t *testing.T) {
		rec := &countingReceipts{}
		sum, err := app.ImportMailbox(ctx, apptest.NewMailStore(p), &fakeMailbox{validity: 1, msgs: msgs()}, app.ImportOptions{Account: "bal", Receipts: rec})
		if err != nil || rec.n != 0 || sum.Receipts != 0 || len(notes(sum, 4)) != 0 {
			t.Fatalf("receipts %d, summary %+v, err %v", rec.n, sum, err)
		}
	})

	t.Run("on", func(t *testing.T) {
		rec := &countingReceipts{}
		store := apptest.NewMailStore(p)
		mb := &fakeMailbox{validity: 1, msgs: msgs()}
		opt := app.ImportOptions{Account: "bal", ReadReceipts: true, Receipts: rec}
		sum, err := app.ImportMailbox(ctx, store, mb, opt)
		if err != nil {
			t.Fatal(err)
		}
		if rec.n != 3 || sum.Receipts != 3 {
			t.Fatalf("receipts %d (summary %d), want 3: filed, manual, quarantined", rec.n, sum.Receipts)
		}
		want := []struct {
			id      string
			outcome app.MailOutcome
			reason  app.MatchReason
			failed  bool
			raw     bool
		}{
			{"filed", app.OutcomeFiled, app.MatchAuto, false, true},
			{"manual", app.OutcomeManual, app.ReasonTraitsDiffer, true, true},
			{"bad", app.OutcomeQuarantined, app.ReasonQuarantine, true, false},
		}
		for i, w := range want {
			r := rec.got[i]
			if r.Message.Ref.MessageID != w.id || r.Outcome != w.outcome || r.Reason != w.reason || r.Failed() != w.failed ||
				(len(r.Message.Raw) > 0) != w.raw || r.Manual || r.Message.Reports != nil {
				t.Errorf("receipt %d = {%s %s %s failed=%v raw=%d}, want %+v", i, r.Message.Ref.MessageID, r.Outcome, r.Reason, r.Failed(), len(r.Message.Raw), w)
			}
		}
		if n := notes(sum, 4); len(n) != 1 || !strings.Contains(n[0], "differs from Return-Path") {
			t.Fatalf("notes of the loop-rule message %q", n)
		}
		for _, n := range sum.Notes {
			if strings.Contains(n.Reason, "other@y") || strings.Contains(n.Reason, "DURAND") {
				t.Fatalf("note carries an address or identity: %q", n.Reason)
			}
		}
		// The same messages again (another delivery, UIDVALIDITY reset):
		// duplicates, no second receipt.
		mb.validity = 2
		sum, err = app.ImportMailbox(ctx, store, mb, opt)
		if err != nil || sum.Duplicates != 5 || rec.n != 3 || sum.Receipts != 0 {
			t.Fatalf("re-import sent receipts: %d, summary %+v, err %v", rec.n, sum, err)
		}
	})

	t.Run("failure and no sender are noted", func(t *testing.T) {
		rec := &countingReceipts{err: fmt.Errorf("mailbox: submit: connect: %w", app.ErrOffline)}
		sum, err := app.ImportMailbox(ctx, apptest.NewMailStore(p), &fakeMailbox{validity: 1, msgs: msgs()[:1]},
			app.ImportOptions{Account: "bal", ReadReceipts: true, Receipts: rec})
		if err != nil || sum.Receipts != 0 || sum.Filed != 1 {
			t.Fatalf("summary %+v, err %v", sum, err)
		}
		if n := notes(sum, 1); len(n) != 1 || !strings.Contains(n[0], "read receipt not sent") {
			t.Fatalf("notes %q", n)
		}
		sum, err = app.ImportMailbox(ctx, apptest.NewMailStore(p), &fakeMailbox{validity: 1, msgs: msgs()[:1]},
			app.ImportOptions{Account: "bal", ReadReceipts: true})
		if n := notes(sum, 1); err != nil || len(n) != 1 || !strings.Contains(n[0], "no submission server") {
			t.Fatalf("notes %q, err %v", n, err)
		}
	})
}

func TestReceiptWanted(t *testing.T) {
	for _, tc := range []struct {
		to, rp      string
		asked, auto bool
	}{
		{"", "", false, false},
		{"", "a@x", false, false},
		{"a@x", "", true, false},
		{"a@x", "<a@x>", true, true},
		{"<A@X>", "a@x", true, true},
		{"a@x", "b@x", true, false},
	} {
		asked, auto := app.ReceiptWanted(app.Message{NotifyTo: tc.to, ReturnPath: tc.rp})
		if asked != tc.asked || auto != tc.auto {
			t.Errorf("ReceiptWanted(%q, %q) = %v, %v, want %v, %v", tc.to, tc.rp, asked, auto, tc.asked, tc.auto)
		}
	}
}
