//go:build linux

package mailbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/apptest"
)

// flagsOf returns the flags of every message of a user's folder, by UID,
// read with doveadm (outside the client under test).
func flagsOf(t *testing.T, d *dovecot, user, folder string) map[string]string {
	t.Helper()
	out := d.doveadm(t, "fetch", "-u", user, "uid flags", "mailbox", folder)
	res := map[string]string{}
	uid := ""
	for _, line := range strings.Split(out, "\n") {
		k, v, _ := strings.Cut(line, ":")
		switch strings.TrimSpace(k) {
		case "uid":
			uid = strings.TrimSpace(v)
			res[uid] = ""
		case "flags":
			res[uid] = strings.TrimSpace(v)
		}
	}
	return res
}

func runImport(t *testing.T, store *apptest.MailStore, acct Account) app.ImportSummary {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	sum, err := Import(ctx, store, Config{Accounts: []Account{acct}, Demo: true})
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	return sum
}

func TestDovecotImportFilesAndKeepsUnseen(t *testing.T) {
	d := startDovecot(t, "")
	u := d.newUser()
	p := testPatient(t, "p1", "2800175123456")
	d.deliver(t, u, "INBOX", xdmMail(t, "one@labo", cdaDoc{ID: "1.2.250.1.999.10", Patient: p}, xdmOpts{}))
	store := apptest.NewMailStore(p)
	sum := runImport(t, store, d.account(u, ImplicitTLS))
	if sum.Filed != 1 || sum.Manual != 0 {
		t.Fatalf("summary %+v", sum)
	}
	if b, ok := store.Document(p.ID, "1.2.250.1.999.10"); !ok || !strings.Contains(string(b), "ClinicalDocument") {
		t.Fatal("document not filed")
	}
	fl := flagsOf(t, d, u, "INBOX")
	if strings.Contains(fl["1"], `\Seen`) || !strings.Contains(fl["1"], app.ImportedKeyword) {
		t.Fatalf("flags %q: want $CarnetImported and no \\Seen", fl["1"])
	}
	if _, ok := store.Raw("mid:one@labo"); !ok {
		t.Fatal("raw message not sealed")
	}
	// Nothing new: nothing fetched.
	if sum := runImport(t, store, d.account(u, ImplicitTLS)); sum.Messages != 0 {
		t.Fatalf("second run %+v", sum)
	}
}

func TestDovecotDeliveredTwiceImportedOnce(t *testing.T) {
	d := startDovecot(t, "")
	u := d.newUser()
	p := testPatient(t, "p1", "2800175123456")
	raw := xdmMail(t, "twice@labo", cdaDoc{ID: "1.2.250.1.999.11", Patient: p}, xdmOpts{})
	d.deliver(t, u, "INBOX", raw)
	d.deliver(t, u, "INBOX", raw)
	store := apptest.NewMailStore(p)
	sum := runImport(t, store, d.account(u, ImplicitTLS))
	if sum.Filed != 1 || sum.Duplicates != 1 {
		t.Fatalf("summary %+v", sum)
	}
	man, _ := store.Manifest(context.Background(), p.ID)
	if len(man.Documents) != 1 {
		t.Fatalf("documents %d", len(man.Documents))
	}
}

func TestDovecotUIDValidityResetNoDuplicate(t *testing.T) {
	d := startDovecot(t, "")
	u := d.newUser()
	p := testPatient(t, "p1", "2800175123456")
	d.deliver(t, u, "INBOX", xdmMail(t, "reset@labo", cdaDoc{ID: "1.2.250.1.999.12", Patient: p}, xdmOpts{}))
	store := apptest.NewMailStore(p)
	acct := d.account(u, ImplicitTLS)
	if sum := runImport(t, store, acct); sum.Filed != 1 {
		t.Fatalf("first %+v", sum)
	}
	d.doveadm(t, "mailbox", "update", "-u", u, "--uid-validity", "12345", "INBOX")
	sum := runImport(t, store, acct)
	if sum.Filed != 0 || sum.Duplicates != 1 {
		t.Fatalf("after reset %+v", sum)
	}
	st, _ := store.MailState(context.Background(), u, "INBOX")
	if st.UIDValidity != 12345 {
		t.Fatalf("state %+v", st)
	}
}

func TestDovecotUIDStarQuirk(t *testing.T) {
	d := startDovecot(t, "")
	u := d.newUser()
	p := testPatient(t, "p1", "2800175123456")
	d.deliver(t, u, "INBOX", xdmMail(t, "quirk@labo", cdaDoc{ID: "1.2.250.1.999.13", Patient: p}, xdmOpts{}))
	cl, err := New(d.account(u, ImplicitTLS), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	st, err := cl.Fetch(ctx, app.MailboxState{}, func(app.Message) error { return nil })
	if err != nil || st.LastUID != 1 {
		t.Fatalf("%+v %v", st, err)
	}
	st.LastUID = 100 // "UID 101:*" matches UID 1 on the server
	n := 0
	if _, err := cl.Fetch(ctx, st, func(app.Message) error { n++; return nil }); err != nil || n != 0 {
		t.Fatalf("delivered %d messages above the sync point, err %v", n, err)
	}
	if st.HighestModSeq == 0 && !d.Memory() { // the in-memory server has no CONDSTORE
		t.Error("no HIGHESTMODSEQ with CONDSTORE")
	}
}

func TestDovecotPlaintextRefused(t *testing.T) {
	d := startDovecot(t, "")
	acct := d.account(d.newUser(), "")
	if _, err := New(acct, nil); !errors.Is(err, ErrPlaintext) {
		t.Fatalf("err %v", err)
	}
	acct.Security = "plain"
	if _, err := acct.dial(context.Background(), nil); !errors.Is(err, ErrPlaintext) {
		t.Fatalf("dial err %v", err)
	}
}

func TestDovecotStartTLS(t *testing.T) {
	d := startDovecot(t, "")
	u := d.newUser()
	p := testPatient(t, "p1", "2800175123456")
	d.deliver(t, u, "INBOX", xdmMail(t, "stls@labo", cdaDoc{ID: "1.2.250.1.999.14", Patient: p}, xdmOpts{}))
	if sum := runImport(t, apptest.NewMailStore(p), d.account(u, StartTLS)); sum.Filed != 1 {
		t.Fatalf("%+v", sum)
	}
}

// TestStartTLSStrippingRefused: a server (or a man in the middle) that
// does not advertise STARTTLS gets no command but CAPABILITY, and never a
// credential.
func TestStartTLSStrippingRefused(t *testing.T) {
	for _, greeting := range []string{
		"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN LOGIN] ready\r\n",
		"* OK ready\r\n",
		"* PREAUTH [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n",
	} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		got := make(chan string, 1)
		go func() {
			c, err := ln.Accept()
			if err != nil {
				got <- ""
				return
			}
			defer c.Close()
			io.WriteString(c, greeting)
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			buf := make([]byte, 4096)
			n, _ := c.Read(buf)
			if strings.HasPrefix(string(buf[:n]), "C0 CAPABILITY") {
				io.WriteString(c, "* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\nC0 OK done\r\n")
				m, _ := c.Read(buf[n:])
				n += m
			}
			got <- string(buf[:n])
		}()
		acct := Account{Name: "x", Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port, Security: StartTLS,
			Username: "x", Password: []byte("secret-pass"), DialTimeout: 2 * time.Second}
		_, err = acct.dial(context.Background(), nil)
		ln.Close()
		if !errors.Is(err, ErrNoStartTLS) {
			t.Fatalf("%q: err %v, want ErrNoStartTLS", greeting, err)
		}
		if sent := <-got; strings.Contains(sent, "secret-pass") || strings.Contains(sent, "LOGIN") || strings.Contains(sent, "AUTHENTICATE") {
			t.Fatalf("credentials sent: %q", sent)
		}
	}
}

func TestDovecotAuthAndTrust(t *testing.T) {
	d := startDovecot(t, "")
	acct := d.account(d.newUser(), ImplicitTLS)
	ctx := context.Background()
	wrong := acct
	wrong.Password = []byte("wrong")
	if _, err := wrong.dial(ctx, nil); !errors.Is(err, ErrAuthFailed) || !errors.Is(err, app.ErrCredential) {
		t.Fatalf("wrong password: %v", err)
	}
	untrusted := acct
	untrusted.RootCAs = d.OtherRoots
	if _, err := untrusted.dial(ctx, nil); err == nil || !errors.Is(err, app.ErrAccessDenied) {
		t.Fatalf("untrusted CA: %v", err)
	}
	noCreds := acct
	noCreds.Password = nil
	if _, err := noCreds.dial(ctx, nil); !errors.Is(err, ErrNoAuth) {
		t.Fatalf("no credentials: %v", err)
	}
	for _, m := range []AuthMethod{AuthPlain, AuthLogin} {
		a := acct
		a.Auth = m
		c, err := a.dial(ctx, nil)
		if err != nil {
			t.Fatalf("%s: %v", m, err)
		}
		c.Close()
	}
}

func TestDovecotMarkByMove(t *testing.T) {
	d := startDovecot(t, "")
	u := d.newUser()
	p := testPatient(t, "p1", "2800175123456")
	d.deliver(t, u, "INBOX", xdmMail(t, "move@labo", cdaDoc{ID: "1.2.250.1.999.15", Patient: p}, xdmOpts{}))
	acct := d.account(u, ImplicitTLS)
	acct.Mark, acct.ImportedFolder = MarkMove, "Carnet/Imported"
	if sum := runImport(t, apptest.NewMailStore(p), acct); sum.Filed != 1 {
		t.Fatalf("%+v", sum)
	}
	if fl := flagsOf(t, d, u, "INBOX"); len(fl) != 0 {
		t.Fatalf("INBOX still holds %v", fl)
	}
	if fl := flagsOf(t, d, u, "Carnet/Imported"); len(fl) != 1 {
		t.Fatalf("Imported holds %v", fl)
	}
}

// TestDovecotPoorServer: no MOVE, UIDPLUS, CONDSTORE, IDLE, BINARY nor
// ESEARCH: parts come by BODY.PEEK decoded here, the mark falls back to
// nothing rather than to an EXPUNGE of the mailbox, and Watch polls.
func TestDovecotPoorServer(t *testing.T) {
	d := startDovecot(t, "IMAP4rev1 LITERAL+ SASL-IR AUTH=PLAIN")
	u := d.newUser()
	p := testPatient(t, "p1", "2800175123456")
	d.deliver(t, u, "INBOX", xdmMail(t, "poor@labo", cdaDoc{ID: "1.2.250.1.999.16", Patient: p}, xdmOpts{}))
	acct := d.account(u, ImplicitTLS)
	acct.Mark, acct.ImportedFolder = MarkMove, "Imported"
	store := apptest.NewMailStore(p)
	if sum := runImport(t, store, acct); sum.Filed != 1 || sum.MarkFailures != 0 {
		t.Fatalf("%+v", sum)
	}
	if fl := flagsOf(t, d, u, "INBOX"); len(fl) != 1 || strings.Contains(fl["1"], `\Deleted`) {
		t.Fatalf("message moved or deleted without MOVE/UIDPLUS: %v", fl)
	}
	st, _ := store.MailState(context.Background(), u, "INBOX")
	if st.HighestModSeq != 0 || st.LastUID != 1 {
		t.Fatalf("state %+v", st)
	}
}

func TestDovecotManualCases(t *testing.T) {
	d := startDovecot(t, "")
	u := d.newUser()
	p := testPatient(t, "p1", "2800175123456")
	twin := p
	twin.ID = "p-twin"
	namesake := app.Patient{ID: "p-namesake", BirthName: "DUPONT", BirthGivenNames: "ÉLODIE", BirthDate: "1980-01-01", Sex: app.SexFemale}
	enc := mail("enc@labo", "s", "", multipart("encrypted", "e", mimePart{"Content-Type: application/pgp-encrypted", "Version: 1"},
		mimePart{"Content-Type: application/octet-stream", "-----BEGIN PGP MESSAGE-----"}))
	pdf := mail("pdf@labo", "s", "", multipart("mixed", "b", textPart("x"), attach("application/pdf", `filename="CR.pdf"`, []byte("%PDF-1.4"))))
	noINS := xdmMail(t, "noins@labo", cdaDoc{ID: "1.2.250.1.999.17", Patient: p, NoINS: true}, xdmOpts{PatientCX: "12345^^^&1.2.3.4&ISO^PI"})
	fwd := mail("fwd@secretariat", "Fwd: CR", "", multipart("mixed", "o",
		textPart("transféré"),
		mimePart{"Content-Type: message/rfc822", string(xdmMail(t, "orig@labo", cdaDoc{ID: "1.2.250.1.999.18", Patient: p}, xdmOpts{}))}))
	for _, raw := range [][]byte{enc, pdf, noINS, fwd} {
		d.deliver(t, u, "INBOX", raw)
	}
	store := apptest.NewMailStore(p, namesake)
	sum := runImport(t, store, d.account(u, ImplicitTLS))
	if sum.Filed != 1 || sum.Manual != 3 || sum.Quarantined != 0 {
		t.Fatalf("summary %+v", sum)
	}
	items, _ := store.Inbox(context.Background())
	var sawEnc, sawPDF, sawNoINS bool
	for _, it := range items {
		switch {
		case hasProblem(it.Problems, app.ProblemEncrypted):
			sawEnc = true
		case it.Report != nil && it.Report.MediaType == "application/pdf":
			sawPDF = true
		case it.Reason == app.ReasonNoINS:
			sawNoINS = len(it.Candidates) == 2 // p (same traits) and the namesake
		}
	}
	if !sawEnc || !sawPDF || !sawNoINS {
		t.Fatalf("encrypted %v pdf %v no-INS with candidates %v: %+v", sawEnc, sawPDF, sawNoINS, items)
	}
	if _, ok := store.Document(p.ID, "1.2.250.1.999.18"); !ok {
		t.Fatal("forwarded report not filed")
	}
	// Ambiguous patient: two local identities with the same INS.
	u2 := d.newUser()
	d.deliver(t, u2, "INBOX", xdmMail(t, "amb@labo", cdaDoc{ID: "1.2.250.1.999.19", Patient: p}, xdmOpts{}))
	store2 := apptest.NewMailStore(p, twin)
	if sum := runImport(t, store2, d.account(u2, ImplicitTLS)); sum.Manual != 1 || sum.Filed != 0 {
		t.Fatalf("ambiguous %+v", sum)
	}
	items, _ = store2.Inbox(context.Background())
	if len(items) != 1 || items[0].Reason != app.ReasonDuplicateLocal || len(items[0].Candidates) != 2 {
		t.Fatalf("ambiguous item %+v", items)
	}
}

// TestDovecotHostileArchiveQuarantined: each refused archive quarantines
// the message with the reader's reason and leaves it untouched.
func TestDovecotHostileArchiveQuarantined(t *testing.T) {
	d := startDovecot(t, "")
	u := d.newUser()
	p := testPatient(t, "p1", "2800175123456")
	doc := cdaDoc{ID: "1.2.250.1.999.20", Patient: p}
	hostile := []xdmOpts{
		{Extra: map[string][]byte{"../../evil.sh": []byte("x")}},
		{Extra: map[string][]byte{"ihe_xdm/subset01/doc0001.xml": []byte("x")}},
		{BadHash: true},
		{URI: "../../README.TXT"},
		{URI: "MISSING.XML"},
	}
	for i, o := range hostile {
		d.deliver(t, u, "INBOX", xdmMail(t, "hostile"+string(rune('a'+i))+"@labo", doc, o))
	}
	store := apptest.NewMailStore(p)
	sum := runImport(t, store, d.account(u, ImplicitTLS))
	if sum.Quarantined != len(hostile) || sum.Filed != 0 {
		t.Fatalf("summary %+v", sum)
	}
	for uid, fl := range flagsOf(t, d, u, "INBOX") {
		if fl != "" {
			t.Fatalf("message %s changed on the server: %q", uid, fl)
		}
	}
	items, _ := store.Inbox(context.Background())
	for _, it := range items {
		if it.State != app.InboxQuarantined || !hasProblem(it.Problems, app.ProblemArchive) || !strings.HasPrefix(it.Problems[0].Detail, "xdm: ") {
			t.Fatalf("item %+v", it)
		}
	}
	// Not re-imported on the next run.
	if sum := runImport(t, store, d.account(u, ImplicitTLS)); sum.Messages != 0 {
		t.Fatalf("second run %+v", sum)
	}
}

func TestDovecotWatchIdle(t *testing.T) {
	d := startDovecot(t, "")
	if d.Memory() {
		// go-imap's memory server does not announce, to an idling
		// session, a message appended through its backend.
		t.Skip("needs Dovecot's IDLE announcements (in-memory server)")
	}
	u := d.newUser()
	p := testPatient(t, "p1", "2800175123456")
	store := apptest.NewMailStore(p)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var filed atomic.Int64
	rounds := make(chan struct{}, 10)
	go func() {
		_ = Watch(ctx, store, Config{Demo: true, Interval: time.Minute}, d.account(u, ImplicitTLS), func(s app.ImportSummary) {
			filed.Add(int64(s.Filed))
			rounds <- struct{}{}
		})
	}()
	<-rounds // the initial round
	start := time.Now()
	d.deliver(t, u, "INBOX", xdmMail(t, "idle@labo", cdaDoc{ID: "1.2.250.1.999.21", Patient: p}, xdmOpts{}))
	for filed.Load() == 0 {
		select {
		case <-rounds:
		case <-ctx.Done():
			t.Fatal("no import after delivery while idling")
		}
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Fatalf("IDLE took %s", el)
	}
}

// TestDovecotManyMessagesPipelined: more messages than a FETCH of
// structures (fetchBatch) and than a commit unit: the pipelined fetch
// delivers every message once in UID order, and the units are marked with
// one UID STORE or one UID MOVE each.
func TestDovecotManyMessagesPipelined(t *testing.T) {
	d := startDovecot(t, "")
	p := testPatient(t, "p1", "2800175123456")
	const n = 2*fetchBatch + 21
	raws := make([][]byte, 0, n)
	for i := 0; i < n; i++ {
		raws = append(raws, xdmMail(t, fmt.Sprintf("many-%d@labo", i), cdaDoc{ID: fmt.Sprintf("1.2.250.1.999.40.%d", i), Patient: p}, xdmOpts{}))
	}
	for _, move := range []bool{false, true} {
		u := d.newUser()
		if err := d.DeliverMaildir(u, raws); err != nil {
			t.Fatal(err)
		}
		acct := d.account(u, ImplicitTLS)
		if move {
			acct.Mark, acct.ImportedFolder = MarkMove, "Carnet/Imported"
		}
		store := apptest.NewMailStore(p)
		if sum := runImport(t, store, acct); sum.Filed != n || sum.Messages != n || sum.MarkFailures != 0 {
			t.Fatalf("move %v: summary %+v", move, sum)
		}
		if man, _ := store.Manifest(context.Background(), p.ID); len(man.Documents) != n {
			t.Fatalf("move %v: %d documents", move, len(man.Documents))
		}
		inbox, moved := flagsOf(t, d, u, "INBOX"), map[string]string{}
		if move {
			moved = flagsOf(t, d, u, "Carnet/Imported")
			if len(inbox) != 0 || len(moved) != n {
				t.Fatalf("INBOX holds %d, Imported %d", len(inbox), len(moved))
			}
			inbox = moved
		}
		if len(inbox) != n {
			t.Fatalf("%d messages on the server, want %d", len(inbox), n)
		}
		for uid, f := range inbox {
			if strings.Contains(f, `\Seen`) || (!move && !strings.Contains(f, app.ImportedKeyword)) {
				t.Fatalf("uid %s flags %q", uid, f)
			}
		}
		if st, _ := store.MailState(context.Background(), u, "INBOX"); st.LastUID != n {
			t.Fatalf("state %+v", st)
		}
		if sum := runImport(t, store, acct); sum.Messages != 0 {
			t.Fatalf("second run %+v", sum)
		}
	}
}
