package vault

import (
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/carnetdesk/carnet/app"
)

// mailBatch is one handled message: an inbox item, its raw copy, its
// record and the sync point.
func mailBatch(key string, uid uint32, raw []byte, outcome app.MailOutcome, at time.Time) *app.Batch {
	ref := app.MessageRef{Account: "dr@clinique.mssante.fr", Mailbox: "INBOX", UIDValidity: 9, UID: uid, MessageID: strings.TrimPrefix(key, "mid:")}
	b := &app.Batch{
		MailRaw:     []app.RawMessage{{Key: key, Ref: ref, Bytes: raw}},
		MailRecords: []app.MailRecord{{Key: key, Ref: ref, Outcome: outcome, At: at}},
		MailStates:  []app.MailboxState{{Account: ref.Account, Mailbox: ref.Mailbox, UIDValidity: 9, LastUID: uid, UpdatedAt: at}},
	}
	switch outcome {
	case app.OutcomeManual, app.OutcomeQuarantined:
		st := app.InboxPending
		if outcome == app.OutcomeQuarantined {
			st = app.InboxQuarantined
		}
		b.Inbox = []app.InboxItem{{ID: app.InboxID("item-" + key), State: st, Message: ref, MessageKey: key,
			Subject: "CR", CreatedAt: at, Reason: app.ReasonNoINS,
			Report: &app.IncomingReport{Content: raw, MediaType: "text/xml", Meta: app.DocumentMeta{ID: "doc-" + app.DocumentID(key)}}}}
	}
	return b
}

func TestMailRoundTripAndCheck(t *testing.T) {
	opt := testOptions()
	v, path := newTestVault(t, opt)
	// A vault without mail buckets yet reads as empty.
	st, err := v.MailState(ctx, "dr@clinique.mssante.fr", "INBOX")
	mustOK(t, err)
	if st.Account != "dr@clinique.mssante.fr" || st.Mailbox != "INBOX" || st.LastUID != 0 {
		t.Fatalf("zero state %+v", st)
	}
	items, err := v.Inbox(ctx)
	mustOK(t, err)
	if len(items) != 0 {
		t.Fatal("inbox not empty")
	}
	_, err = v.RawMessage(ctx, "mid:none")
	mustKind(t, err, app.ErrNotFound)
	if _, ok, err := v.MailRecord(ctx, "mid:none"); ok || err != nil {
		t.Fatalf("record of nothing: %v %v", ok, err)
	}
	before := checkOK(t, v)

	at := time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC)
	mustOK(t, v.Write(ctx, mailBatch("mid:a@labo", 3, []byte("raw message a"), app.OutcomeManual, at)))
	mustOK(t, v.Write(ctx, mailBatch("mid:b@labo", 4, []byte("raw message b"), app.OutcomeQuarantined, at.Add(time.Minute))))
	mustOK(t, v.Write(ctx, mailBatch("mid:c@labo", 5, []byte("raw message c"), app.OutcomeFiled, at.Add(2*time.Minute))))

	v = reopen(t, v, path, opt, testPass)
	st, err = v.MailState(ctx, "dr@clinique.mssante.fr", "INBOX")
	mustOK(t, err)
	if st.UIDValidity != 9 || st.LastUID != 5 {
		t.Fatalf("state %+v", st)
	}
	rec, ok, err := v.MailRecord(ctx, "mid:b@labo")
	mustOK(t, err)
	if !ok || rec.Outcome != app.OutcomeQuarantined || rec.Ref.UID != 4 {
		t.Fatalf("record %+v %v", rec, ok)
	}
	raw, err := v.RawMessage(ctx, "mid:a@labo")
	mustOK(t, err)
	if string(raw.Bytes) != "raw message a" || raw.Ref.UID != 3 || raw.Key != "mid:a@labo" {
		t.Fatalf("raw %+v", raw)
	}
	items, err = v.Inbox(ctx)
	mustOK(t, err)
	if len(items) != 2 || items[0].MessageKey != "mid:a@labo" || items[1].State != app.InboxQuarantined {
		t.Fatalf("inbox %+v", items)
	}
	rep := checkOK(t, v)
	// 3 records, 3 raw messages, 2 inbox items, 1 state.
	if got := rep.Records - before.Records; got != 9 {
		t.Fatalf("check opened %d mail records, want 9", got)
	}
	// A nil Bytes entry removes a raw message.
	mustOK(t, v.Write(ctx, &app.Batch{MailRaw: []app.RawMessage{{Key: "mid:c@labo"}}}))
	_, err = v.RawMessage(ctx, "mid:c@labo")
	mustKind(t, err, app.ErrNotFound)
	// Invalid batches are refused whole.
	err = v.Write(ctx, &app.Batch{MailRecords: []app.MailRecord{{Key: "mid:d"}}, Inbox: []app.InboxItem{{MessageKey: "mid:d"}}})
	mustKind(t, err, app.ErrInvalid)
	if _, ok, _ := v.MailRecord(ctx, "mid:d"); ok {
		t.Fatal("half of a refused batch was written")
	}
	mustKind(t, v.Write(ctx, &app.Batch{MailStates: []app.MailboxState{{Account: "x"}}}), app.ErrInvalid)
	checkOK(t, v)
	v.Lock()
	_, err = v.Inbox(ctx)
	mustKind(t, err, app.ErrLocked)
	_, err = v.MailState(ctx, "a", "b")
	mustKind(t, err, app.ErrLocked)
}

// TestMailTamper moves sealed mail values under other keys and kinds:
// nothing opens, Check names the bucket without content.
func TestMailTamper(t *testing.T) {
	opt := testOptions()
	v, path := newTestVault(t, opt)
	at := time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC)
	mustOK(t, v.Write(ctx, mailBatch("mid:a@labo", 3, []byte("raw a"), app.OutcomeManual, at)))
	mustOK(t, v.Write(ctx, mailBatch("mid:b@labo", 4, []byte("raw b"), app.OutcomeManual, at)))
	mustOK(t, v.Close())
	// Swap the two raw messages, and put an inbox value into mrec.
	rawUpdate(t, path, func(tx *bbolt.Tx) error {
		var keys [][]byte
		var vals [][]byte
		b := tx.Bucket([]byte(bMailRaw))
		_ = b.ForEach(func(k, v []byte) error {
			keys = append(keys, append([]byte(nil), k...))
			vals = append(vals, append([]byte(nil), v...))
			return nil
		})
		if len(keys) != 2 {
			return fmt.Errorf("%d raw messages", len(keys))
		}
		mustOK(t, b.Put(keys[0], vals[1]))
		mustOK(t, b.Put(keys[1], vals[0]))
		var item []byte
		_ = tx.Bucket([]byte(bInbox)).ForEach(func(k, v []byte) error { item = append([]byte(nil), v...); return nil })
		return tx.Bucket([]byte(bMailRec)).Put([]byte("0123456789abcdef"), item)
	})
	v = reopen(t, nil, path, opt, testPass)
	_, err := v.RawMessage(ctx, "mid:a@labo")
	mustKind(t, err, app.ErrDamaged)
	rep, err := v.Check(ctx)
	mustOK(t, err)
	joined := strings.Join(rep.Problems, "\n")
	if !strings.Contains(joined, "bucket mraw") || !strings.Contains(joined, "bucket mrec") {
		t.Fatalf("problems %q", joined)
	}
	if strings.Contains(joined, "raw a") || strings.Contains(joined, "labo") {
		t.Fatalf("problems leak content: %q", joined)
	}
}

// canaryMailbox serves fixed messages to app.ImportMail.
type canaryMailbox struct{ msgs []app.Message }

func (m *canaryMailbox) Fetch(ctx context.Context, st app.MailboxState, each func(app.Message) error) (app.MailboxState, error) {
	st.UIDValidity = 1
	for _, msg := range m.msgs {
		if msg.Ref.UID <= st.LastUID {
			continue
		}
		msg.Ref.UIDValidity = 1
		if err := each(msg); err != nil {
			return st, err
		}
		st.LastUID = msg.Ref.UID
	}
	return st, nil
}
func (m *canaryMailbox) MarkImported(context.Context, app.MessageRef) error { return nil }
func (m *canaryMailbox) Close() error                                       { return nil }

// TestMailCanary imports messages whose subject, body and reports carry a
// canary patient's names, INS and birth date (one filed automatically, one
// left for a person), closes the vault and searches the raw file: no hit.
// The account name and the Message-IDs do not appear either.
func TestMailCanary(t *testing.T) {
	opt := testOptions()
	v, path := newTestVault(t, opt)
	p := synthPatient(4242)
	mustOK(t, v.Write(ctx, &app.Batch{Patients: []app.Patient{p}}))
	ident := app.ReportIdentity{INS: p.INS, BirthName: p.BirthName, GivenNames: p.BirthGivenNames,
		BirthDate: p.BirthDate, Sex: p.Sex, BirthPlace: p.BirthPlace}
	body := func(tag string) []byte {
		return []byte(fmt.Sprintf("Subject: XDM/1.0/DDM+CR %s %s %s\r\n\r\nINS %s né(e) le %s (%s)\r\n<ClinicalDocument>%s %s</ClinicalDocument>\r\n",
			p.BirthName, p.BirthGivenNames, p.BirthDate, p.INS.Matricule, p.BirthDate, tag, p.BirthName, p.INS.Matricule))
	}
	noINS := ident
	noINS.INS = app.INS{}
	mb := &canaryMailbox{msgs: []app.Message{
		{Ref: app.MessageRef{UID: 1, MessageID: "canary-one@labo.example"}, Subject: "CR " + p.BirthName, Raw: body("one"),
			Reports: []app.IncomingReport{{Meta: app.DocumentMeta{ID: "1.2.3.4.1", Title: "CR " + p.BirthName}, Content: body("doc1"), MediaType: "text/xml", Identity: ident}}},
		{Ref: app.MessageRef{UID: 2, MessageID: "canary-two@labo.example"}, Subject: "CR " + p.BirthName, Raw: body("two"),
			Reports: []app.IncomingReport{{Meta: app.DocumentMeta{ID: "1.2.3.4.2", Title: "CR " + p.BirthName}, Content: body("doc2"), MediaType: "text/xml", Identity: noINS}}},
	}}
	sum, err := app.ImportMailbox(ctx, v, mb, app.ImportOptions{Account: "canary.account@clinique.mssante.fr", Demo: true, Log: quietLogger()})
	mustOK(t, err)
	if sum.Filed != 1 || sum.Manual != 1 {
		t.Fatalf("summary %+v", sum)
	}
	checkOK(t, v)
	mustOK(t, v.Close())
	raw, err := os.ReadFile(path)
	mustOK(t, err)
	var needles []string
	for _, s := range []string{p.BirthName, p.INS.Matricule, p.BirthDate, strings.ReplaceAll(p.BirthDate, "-", ""),
		"canary-one@labo.example", "canary-two@labo.example", "canary.account", "XDM/1.0/DDM", "ClinicalDocument"} {
		needles = append(needles, s, strings.ToLower(s), strings.ToUpper(s), strings.TrimSpace(app.Fold(s)), hex.EncodeToString([]byte(s)))
	}
	for _, g := range strings.Fields(p.BirthGivenNames) {
		needles = append(needles, g, strings.ToUpper(g))
	}
	if n := countIn(raw, needles...); n != 0 {
		t.Fatalf("%d canary hits in the vault file", n)
	}
	// And they are there, behind the keys.
	v = reopen(t, nil, path, opt, testPass)
	m, err := v.RawMessage(ctx, "mid:canary-two@labo.example")
	mustOK(t, err)
	if !strings.Contains(string(m.Bytes), p.INS.Matricule) {
		t.Fatal("raw message not readable through the vault")
	}
}

func TestPruneMail(t *testing.T) {
	v, _ := newTestVault(t, testOptions())
	old := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	recent := old.AddDate(0, 2, 0)
	mustOK(t, v.Write(ctx, mailBatch("mid:filed-old", 1, []byte("a"), app.OutcomeFiled, old)))
	mustOK(t, v.Write(ctx, mailBatch("mid:filed-new", 2, []byte("b"), app.OutcomeFiled, recent)))
	mustOK(t, v.Write(ctx, mailBatch("mid:pending-old", 3, []byte("c"), app.OutcomeManual, old)))
	mustOK(t, v.Write(ctx, mailBatch("mid:quarantine-old", 4, []byte("d"), app.OutcomeQuarantined, old)))
	settled := mailBatch("mid:settled-old", 5, []byte("e"), app.OutcomeManual, old)
	settled.Inbox[0].State, settled.Inbox[0].DecidedAt = app.InboxRejected, old.AddDate(0, 0, 1)
	mustOK(t, v.Write(ctx, settled))
	decidedLate := mailBatch("mid:settled-late", 6, []byte("f"), app.OutcomeManual, old)
	decidedLate.Inbox[0].State, decidedLate.Inbox[0].DecidedAt = app.InboxAttached, recent
	mustOK(t, v.Write(ctx, decidedLate))

	n, err := v.PruneMail(ctx, old.AddDate(0, 1, 0))
	mustOK(t, err)
	if n != 2 {
		t.Fatalf("pruned %d, want 2", n)
	}
	for key, kept := range map[string]bool{"mid:filed-old": false, "mid:filed-new": true, "mid:pending-old": true,
		"mid:quarantine-old": true, "mid:settled-old": false, "mid:settled-late": true} {
		_, err := v.RawMessage(ctx, key)
		if (err == nil) != kept {
			t.Errorf("%s: kept=%v err=%v", key, kept, err)
		}
		if _, ok, _ := v.MailRecord(ctx, key); !ok {
			t.Errorf("%s: dedup record dropped", key)
		}
	}
	checkOK(t, v)
	var _ app.MailPruner = v
}
