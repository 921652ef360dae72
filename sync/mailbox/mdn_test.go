package mailbox

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message"
	gomail "github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/sync/mailbox/mailtest"
)

// parsedMDN is a receipt read back with go-message.
type parsedMDN struct {
	top         gomail.Header
	reportType  string
	parts       []parsedPart
	dn          textproto.Header // the fields of the message/disposition-notification part
	disposition []string
}

type parsedPart struct {
	mediaType string
	filename  string
	body      []byte
}

// parseMDN reads a receipt back as a sender's software would, and checks
// what must hold whatever the input: 7-bit, lines of at most 998
// characters, no NUL, a multipart/report of at least three parts in the
// RFC 8098 order, exactly one Disposition.
func parseMDN(t testing.TB, b []byte) parsedMDN {
	t.Helper()
	for i, c := range b {
		if c >= 0x80 || c == 0 {
			t.Fatalf("byte %#x at %d: a receipt is 7-bit", c, i)
		}
	}
	for _, l := range bytes.Split(b, []byte("\r\n")) {
		if len(l) > 998 {
			t.Fatalf("line of %d characters", len(l))
		}
		if bytes.IndexByte(l, '\n') >= 0 || bytes.IndexByte(l, '\r') >= 0 {
			t.Fatalf("bare CR or LF in %q", l)
		}
	}
	e, err := message.Read(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("read back: %v", err)
	}
	var p parsedMDN
	p.top = gomail.Header{Header: e.Header}
	mt, params, err := e.Header.ContentType()
	if err != nil || mt != "multipart/report" {
		t.Fatalf("content type %q %v", mt, err)
	}
	p.reportType = params["report-type"]
	mr := e.MultipartReader()
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("next part: %v", err)
		}
		body, err := io.ReadAll(part.Body)
		if err != nil {
			t.Fatalf("part body: %v", err)
		}
		pmt, _, _ := part.Header.ContentType()
		_, dp, _ := part.Header.ContentDisposition()
		p.parts = append(p.parts, parsedPart{mediaType: pmt, filename: dp["filename"], body: body})
		if pmt == "message/disposition-notification" {
			h, err := textproto.ReadHeader(bufio.NewReader(io.MultiReader(bytes.NewReader(body), strings.NewReader("\r\n"))))
			if err != nil {
				t.Fatalf("disposition fields: %v\n%s", err, body)
			}
			p.dn = h
			p.disposition = append(p.disposition, h.Values("Disposition")...)
		}
	}
	if len(p.parts) < 3 || p.parts[0].mediaType != "text/plain" || p.parts[1].mediaType != "message/disposition-notification" ||
		p.parts[2].mediaType != "text/rfc822-headers" {
		var mts []string
		for _, pp := range p.parts {
			mts = append(mts, pp.mediaType)
		}
		t.Fatalf("parts %v", mts)
	}
	if len(p.disposition) != 1 {
		t.Fatalf("%d Disposition fields, want 1", len(p.disposition))
	}
	for _, k := range []string{"Bcc", "Cc", "Reply-To", "Sender"} {
		if p.top.Has(k) {
			t.Fatalf("receipt has a %s field", k)
		}
	}
	if n := len(p.top.Values("To")); n != 1 {
		t.Fatalf("%d To fields", n)
	}
	return p
}

var mdnDate = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

func receiptOf(m app.Message, outcome app.MailOutcome, reason app.MatchReason) app.Receipt {
	return app.Receipt{Message: m, Outcome: outcome, Reason: reason}
}

// TestMDNFormat checks the ANS format of a success and of each error.
func TestMDNFormat(t *testing.T) {
	p := testPatient(t, "p1", "2800175123456")
	zip, err := mailtest.XDM(mailtest.CDA{ID: "1.2.250.1.999.1", Patient: p})
	if err != nil {
		t.Fatal(err)
	}
	pdf := mailtest.RandomPDF(3000)
	raw := mailtest.XDMMail(mailtest.Header{MessageID: "orig.1@labo-x.mssante.fr", Subject: "XDM/1.0/DDM+CR DUPONT Élodie 01/01/1980",
		Extra: []string{"Disposition-Notification-To: <labo@labo-x.mssante.fr>", "Return-Path: <labo@labo-x.mssante.fr>",
			"Original-Recipient: rfc822;secretariat@clinique.mssante.fr"}}, zip, pdf)
	m := ParseMessage(raw, app.MessageRef{UID: 7, MessageID: "orig.1@labo-x.mssante.fr"}, Limits{}, true)
	if m.NotifyTo != "labo@labo-x.mssante.fr" {
		t.Fatalf("NotifyTo %q", m.NotifyTo)
	}
	for _, tc := range []struct {
		name        string
		outcome     app.MailOutcome
		reason      app.MatchReason
		manual      bool
		disposition string
		subject     string
		attached    int
	}{
		{"filed", app.OutcomeFiled, app.MatchAuto, false,
			"automatic-action/MDN-sent-automatically; processed", "XDM/1.0/DDM+CR DUPONT Élodie 01/01/1980", 2},
		{"902", app.OutcomeManual, app.ReasonUnknownPatient, false,
			"automatic-action/MDN-sent-automatically; processed/Error: 902^Identifiant patient inconnu",
			"[KO Intégration système !][902] XDM/1.0/DDM+CR DUPONT Élodie 01/01/1980", 2},
		{"903", app.OutcomeManual, app.ReasonNoINS, false,
			"automatic-action/MDN-sent-automatically; processed/Error: 903^INS non present dans le document", "[KO Intégration système !][903] ", 2},
		{"904", app.OutcomeManual, app.ReasonTraitsDiffer, false,
			"automatic-action/MDN-sent-automatically; processed/Error: 904^L'INS transmis ne correspond pas exactement a celui stocke dans la base du consommateur",
			"[KO Intégration système !][904] ", 2},
		{"905", app.OutcomeManual, app.ReasonTestINS, false,
			"automatic-action/MDN-sent-automatically; processed/Error: 905^L'INS transmis n'est pas complet", "[KO Intégration système !][905] ", 2},
		{"no report", app.OutcomeManual, app.ReasonNoReport, false,
			"automatic-action/MDN-sent-automatically; processed/Error: 207^Erreur applicative : aucun document CDA exploitable dans le message",
			"[KO Intégration système !][207] ", 2},
		{"quarantine", app.OutcomeQuarantined, app.ReasonQuarantine, false,
			"automatic-action/MDN-sent-automatically; processed/Error: 207^Erreur applicative : message refuse", "[KO Intégration système !][207] ", 0},
		{"manual", app.OutcomeFiled, app.MatchAuto, true, "manual-action/MDN-sent-manually; processed", "XDM/1.0/DDM+", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := receiptOf(m, tc.outcome, tc.reason)
			r.Manual = tc.manual
			b, err := buildMDN(mdnInput{Receipt: r, From: "dr.test@clinique.mssante.fr", Date: mdnDate, MessageID: "mdn.1@clinique.mssante.fr"})
			if err != nil {
				t.Fatal(err)
			}
			got := parseMDN(t, b)
			if got.reportType != "disposition-notification" {
				t.Errorf("report-type %q", got.reportType)
			}
			if !strings.HasPrefix(got.disposition[0], tc.disposition) {
				t.Errorf("Disposition = %q, want %q…", got.disposition[0], tc.disposition)
			}
			if s, _ := got.top.Subject(); !strings.HasPrefix(s, tc.subject) {
				t.Errorf("Subject = %q, want %q…", s, tc.subject)
			}
			for k, want := range map[string]string{
				"Original-Message-ID": "<orig.1@labo-x.mssante.fr>",
				"Final-Recipient":     "rfc822;dr.test@clinique.mssante.fr",
				"Original-Recipient":  "rfc822;secretariat@clinique.mssante.fr",
				"Reporting-UA":        "carnet; Carnet (import MSSante)",
			} {
				if v := got.dn.Get(k); v != want {
					t.Errorf("%s = %q, want %q", k, v, want)
				}
			}
			if to, _ := got.top.AddressList("To"); len(to) != 1 || to[0].Address != "labo@labo-x.mssante.fr" {
				t.Errorf("To %v", to)
			}
			if got.top.Get("Auto-Submitted") != "auto-replied" || got.top.Get("In-Reply-To") != "<orig.1@labo-x.mssante.fr>" {
				t.Errorf("Auto-Submitted %q In-Reply-To %q", got.top.Get("Auto-Submitted"), got.top.Get("In-Reply-To"))
			}
			text := string(got.parts[0].body)
			if r.Failed() {
				code, label := ansError(tc.outcome, tc.reason)
				if !strings.Contains(text, fmt.Sprintf("%d %s", code, label)) || !strings.Contains(text, "n'a pas pu être intégré automatiquement") {
					t.Errorf("human text without the error: %q", text)
				}
			}
			if strings.Contains(text, "DUPONT") {
				t.Errorf("human text names the patient: %q", text)
			}
			headers := string(got.parts[2].body)
			if tc.outcome != app.OutcomeQuarantined && (!strings.Contains(headers, "Message-ID: <orig.1@labo-x.mssante.fr>") || !strings.Contains(headers, "X-MSS-INS: O")) {
				t.Errorf("original header part: %q", headers)
			}
			attached := got.parts[3:]
			if len(attached) != tc.attached {
				t.Fatalf("%d documents re-attached, want %d", len(attached), tc.attached)
			}
			if tc.attached == 2 {
				if attached[0].mediaType != "application/pdf" || attached[0].filename != "CR.pdf" || !bytes.Equal(attached[0].body, pdf) ||
					attached[1].mediaType != "application/zip" || attached[1].filename != "IHE_XDM.ZIP" || !bytes.Equal(attached[1].body, zip) {
					t.Errorf("re-attached %s %q, %s %q", attached[0].mediaType, attached[0].filename, attached[1].mediaType, attached[1].filename)
				}
			}
		})
	}

	t.Run("too large to re-attach", func(t *testing.T) {
		b, err := buildMDN(mdnInput{Receipt: receiptOf(m, app.OutcomeFiled, app.MatchAuto), From: "dr.test@clinique.mssante.fr",
			Date: mdnDate, MaxAttach: 100})
		if err != nil {
			t.Fatal(err)
		}
		got := parseMDN(t, b)
		if len(got.parts) != 3 || !strings.Contains(string(got.parts[0].body), "ne sont pas jointes") {
			t.Fatalf("%d parts, text %q", len(got.parts), got.parts[0].body)
		}
	})

	t.Run("no raw message", func(t *testing.T) {
		bare := app.Message{Ref: app.MessageRef{MessageID: "x@y"}, From: "labo@x.fr", Subject: "XDM/1.0/DDM+CR", NotifyTo: "labo@x.fr", Date: mdnDate}
		b, err := buildMDN(mdnInput{Receipt: receiptOf(bare, app.OutcomeFiled, app.MatchAuto), From: "dr@c.fr", Date: mdnDate})
		if err != nil {
			t.Fatal(err)
		}
		got := parseMDN(t, b)
		h := string(got.parts[2].body)
		if !strings.Contains(h, "Message-Id: <x@y>") || !strings.Contains(h, "From: <labo@x.fr>") || got.dn.Get("Original-Recipient") != "rfc822;dr@c.fr" {
			t.Fatalf("headers %q, Original-Recipient %q", h, got.dn.Get("Original-Recipient"))
		}
	})
}

// hostileMDN is the table of hostile values a message may carry into a
// receipt. ok says whether a receipt can be built (the recipient is a
// plain address).
var hostileMDN = []struct {
	name                           string
	notifyTo, msgID, subject, raw  string
	ok                             bool
	wantTo, wantMsgID, wantSubject string // "" : not checked
	outcome                        app.MailOutcome
}{
	{name: "plain", notifyTo: "labo@x.fr", msgID: "a@x", subject: "XDM/1.0/DDM+CR", ok: true,
		wantTo: "labo@x.fr", wantMsgID: "<a@x>", wantSubject: "XDM/1.0/DDM+CR"},
	{name: "display name", notifyTo: "Labo Élodie <labo@x.fr>", msgID: "<a@x>", ok: true, wantTo: "labo@x.fr", wantMsgID: "<a@x>"},
	{name: "CRLF in recipient", notifyTo: "labo@x.fr\r\nBcc: evil@y.fr", msgID: "a@x"},
	{name: "LF in recipient", notifyTo: "labo@x.fr\nBcc: evil@y.fr", msgID: "a@x"},
	{name: "two recipients", notifyTo: "labo@x.fr, evil@y.fr", msgID: "a@x"},
	{name: "group", notifyTo: "g: labo@x.fr, evil@y.fr;", msgID: "a@x"},
	{name: "NUL in recipient", notifyTo: "lab\x00o@x.fr", msgID: "a@x"},
	{name: "non-ASCII recipient", notifyTo: "élodie@x.fr", msgID: "a@x"},
	{name: "quoted local part with space", notifyTo: `"a b"@x.fr`, msgID: "a@x"},
	{name: "SMTP injection in recipient", notifyTo: "<labo@x.fr> NOTIFY=NEVER", msgID: "a@x"},
	{name: "long recipient", notifyTo: strings.Repeat("a", 300) + "@x.fr", msgID: "a@x"},
	{name: "empty recipient", notifyTo: "", msgID: "a@x"},
	{name: "CRLF in Message-ID", notifyTo: "labo@x.fr", msgID: "a@x>\r\nBcc: evil@y.fr", ok: true, wantMsgID: "-"},
	{name: "space in Message-ID", notifyTo: "labo@x.fr", msgID: "a b@x", ok: true, wantMsgID: "-"},
	{name: "non-ASCII Message-ID", notifyTo: "labo@x.fr", msgID: "é@x", ok: true, wantMsgID: "-"},
	{name: "NUL in Message-ID", notifyTo: "labo@x.fr", msgID: "a\x00@x", ok: true, wantMsgID: "-"},
	{name: "long Message-ID", notifyTo: "labo@x.fr", msgID: strings.Repeat("i", 2000) + "@x", ok: true, wantMsgID: "-"},
	{name: "CRLF in subject", notifyTo: "labo@x.fr", msgID: "a@x", subject: "XDM/1.0/DDM+CR\r\nBcc: evil@y.fr\r\n\r\nbody", ok: true,
		wantSubject: "XDM/1.0/DDM+CR Bcc: evil@y.fr body"},
	{name: "NUL and controls in subject", notifyTo: "labo@x.fr", msgID: "a@x", subject: "CR\x00\x1b[31m\u0085\u2028fin", ok: true,
		wantSubject: "CR [31m fin"},
	{name: "non-ASCII subject", notifyTo: "labo@x.fr", msgID: "a@x", subject: "XDM/1.0/DDM+CR d'échographie DUPONT Élodie", ok: true,
		wantSubject: "XDM/1.0/DDM+CR d'échographie DUPONT Élodie"},
	{name: "invalid UTF-8 subject", notifyTo: "labo@x.fr", msgID: "a@x", subject: "CR \xff\xfe fin", ok: true, wantSubject: "CR fin"},
	{name: "very long subject", notifyTo: "labo@x.fr", msgID: "a@x", subject: strings.Repeat("é", 5000), ok: true,
		wantSubject: strings.Repeat("é", maxSubjectRunes)},
	{name: "very long word subject", notifyTo: "labo@x.fr", msgID: "a@x", subject: strings.Repeat("x", 5000), ok: true},
	{name: "encoded-word lookalike subject", notifyTo: "labo@x.fr", msgID: "a@x", subject: "=?utf-8?q?=0D=0ABcc:_evil@y.fr?=", ok: true},
	{name: "hostile raw header", notifyTo: "labo@x.fr", msgID: "a@x", ok: true, outcome: app.OutcomeManual,
		raw: "Subject: x\r\nX-A: \x00\rBcc: evil@y.fr\r\nOriginal-Recipient: rfc822;evil@y.fr\r\nBcc: evil@y.fr\r\nX-Long: " + strings.Repeat("z", 5000) + "\r\n--boundary\r\n\r\nbody\r\n"},
	{name: "hostile Original-Recipient", notifyTo: "labo@x.fr", msgID: "a@x", ok: true,
		raw: "Original-Recipient: rfc822;a@x.fr\r\n Bcc: evil@y.fr\r\n\r\n"},
	{name: "huge raw header", notifyTo: "labo@x.fr", msgID: "a@x", ok: true, raw: strings.Repeat("X-H: "+strings.Repeat("h", 70)+"\r\n", 3000)},
	{name: "hostile attachment name", notifyTo: "labo@x.fr", msgID: "a@x", ok: true,
		raw: "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: application/pdf\r\n" +
			"Content-Disposition: attachment; filename*=utf-8''..%2F%C3%A9%0D%0ABcc%3A%20evil%40y.fr%00.pdf\r\n" +
			"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQ=\r\n--b--\r\n"},
	{name: "raw without header end", notifyTo: "labo@x.fr", msgID: "a@x", ok: true, raw: "garbage\x00\xff\xfe"},
}

// TestMDNHostile: hostile values from the incoming message never add a
// header field, a recipient or a part; a recipient that is not a plain
// address is refused.
func TestMDNHostile(t *testing.T) {
	for _, tc := range hostileMDN {
		t.Run(tc.name, func(t *testing.T) {
			outcome := tc.outcome
			if outcome == "" {
				outcome = app.OutcomeFiled
			}
			r := app.Receipt{Message: app.Message{Ref: app.MessageRef{MessageID: tc.msgID}, NotifyTo: tc.notifyTo, ReturnPath: tc.notifyTo,
				Subject: tc.subject, Raw: []byte(tc.raw)}, Outcome: outcome, Reason: app.ReasonUnknownPatient}
			b, err := buildMDN(mdnInput{Receipt: r, From: "dr@clinique.mssante.fr", Date: mdnDate, MessageID: "m@c"})
			if !tc.ok {
				if err == nil || !errorsIs(err, ErrBadRecipient) {
					t.Fatalf("buildMDN(%q) = %v, want ErrBadRecipient", tc.notifyTo, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := parseMDN(t, b)
			for f := got.top.Fields(); f.Next(); {
				if f.Key() != "Subject" && strings.Contains(f.Value(), "evil") {
					t.Fatalf("injected value in %s: %q", f.Key(), f.Value())
				}
			}
			for f := got.dn.Fields(); f.Next(); {
				if strings.Contains(f.Value(), "evil") {
					t.Fatalf("injected value in %s: %q", f.Key(), f.Value())
				}
			}
			if to, err := got.top.AddressList("To"); err != nil || len(to) != 1 {
				t.Fatalf("To %v %v", to, err)
			} else if tc.wantTo != "" && to[0].Address != tc.wantTo {
				t.Errorf("To = %q, want %q", to[0].Address, tc.wantTo)
			}
			switch id := got.dn.Get("Original-Message-ID"); tc.wantMsgID {
			case "":
			case "-":
				if id != "" {
					t.Errorf("Original-Message-ID = %q, want none", id)
				}
			default:
				if id != tc.wantMsgID {
					t.Errorf("Original-Message-ID = %q, want %q", id, tc.wantMsgID)
				}
			}
			if s, err := got.top.Subject(); err != nil {
				t.Errorf("subject: %v", err)
			} else if tc.wantSubject != "" && strings.TrimPrefix(s, "[KO Intégration système !][902] ") != tc.wantSubject {
				t.Errorf("Subject = %q, want %q", s, tc.wantSubject)
			}
			for _, pp := range got.parts[3:] {
				if strings.ContainsAny(pp.filename, "\r\n\x00/\\") {
					t.Errorf("re-attached file name %q", pp.filename)
				}
			}
			if or := got.dn.Get("Original-Recipient"); or != "rfc822;dr@clinique.mssante.fr" {
				t.Errorf("Original-Recipient = %q", or)
			}
		})
	}
}

func errorsIs(err, target error) bool {
	for e := err; e != nil; {
		if e == target {
			return true
		}
		u, ok := e.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		e = u.Unwrap()
	}
	return false
}

// FuzzMDN: building a receipt from any message never panics, and what it
// builds reads back as one multipart/report with exactly one Disposition.
func FuzzMDN(f *testing.F) {
	for _, tc := range hostileMDN {
		f.Add(tc.notifyTo, tc.msgID, tc.subject, tc.raw, uint8(0))
	}
	f.Add("labo@x.fr", "a@x", "XDM/1.0/DDM+CR", "", uint8(1))
	f.Add("labo@x.fr", "a@x", "XDM/1.0/DDM+CR", "", uint8(2))
	f.Fuzz(func(t *testing.T, notifyTo, msgID, subject, raw string, o uint8) {
		outcomes := []app.MailOutcome{app.OutcomeFiled, app.OutcomeManual, app.OutcomeQuarantined}
		reasons := []app.MatchReason{app.MatchAuto, app.ReasonNoINS, app.ReasonQuarantine}
		r := app.Receipt{Message: app.Message{Ref: app.MessageRef{MessageID: msgID}, NotifyTo: notifyTo, Subject: subject, Raw: []byte(raw)},
			Outcome: outcomes[int(o)%3], Reason: reasons[int(o)%3], Manual: o&4 != 0}
		b, err := buildMDN(mdnInput{Receipt: r, From: "dr@clinique.mssante.fr", Date: mdnDate, MessageID: "m@c"})
		if err != nil {
			return
		}
		got := parseMDN(t, b)
		to, err := got.top.AddressList("To")
		if err != nil || len(to) != 1 {
			t.Fatalf("To %v %v", to, err)
		}
		if want, _ := cleanAddress(notifyTo); to[0].Address != want {
			t.Fatalf("To %q, want %q", to[0].Address, want)
		}
	})
}
