//go:build linux

package mailbox

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/apptest"
)

// canaryPatient is a qualified identity whose name and INS are canaries:
// none of them may appear in the logs, stderr, notes or audit details of
// an import.
func canaryPatient(t testing.TB, id, body, name, given string) app.Patient {
	p := testPatient(t, id, body)
	p.BirthName, p.BirthGivenNames = name, given
	return p
}

// duplicate returns a mangler that repeats the first element named el of
// the patient (inserting a copy right after it, with other content when
// other is set).
func duplicate(el, other string) func([]byte) []byte {
	return func(b []byte) []byte {
		start := bytes.Index(b, []byte("<"+el))
		end := bytes.Index(b[start:], []byte("</"+el+">"))
		var frag []byte
		if end < 0 { // an empty element <el …/>
			end = bytes.Index(b[start:], []byte("/>")) + 2
			frag = b[start : start+end]
		} else {
			end += len("</" + el + ">")
			frag = b[start : start+end]
		}
		if other != "" {
			frag = []byte(other)
		}
		out := append([]byte(nil), b[:start+end]...)
		out = append(out, frag...)
		return append(out, b[start+end:]...)
	}
}

// captureStderr redirects the process's stderr (and the default slog
// logger) into a buffer until the returned function is called.
func captureStderr(t *testing.T) (stop func() string) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old, oldLog := os.Stderr, slog.Default()
	os.Stderr = w
	slog.SetDefault(slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug})))
	var buf bytes.Buffer
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _, _ = io.Copy(&buf, r) }()
	return func() string {
		os.Stderr = old
		slog.SetDefault(oldLog)
		w.Close()
		wg.Wait()
		r.Close()
		return buf.String()
	}
}

// TestDovecotIdentityRules: a hostile corpus in a real Dovecot. Each
// message that does not designate one patient with certainty goes to the
// manual queue with its reason; nothing is marked imported on the server
// that was not filed or queued; and the names and INS of the test
// patients never appear in stderr, the logs, the notes or the audit.
func TestDovecotIdentityRules(t *testing.T) {
	d := startDovecot(t, "")
	u := d.newUser()
	p := canaryPatient(t, "p-canary", "2800175123456", "CANARYNOM", "CANARYPRENOM MARIE")
	q := canaryPatient(t, "q-canary", "1790275123457", "SERINNOM", "SERINPRENOM")
	q.Sex, q.BirthDate = app.SexMale, "1979-02-02"
	subject := "XDM/1.0/DDM+CR " + p.BirthName + " " + p.INS.Matricule
	nameFile := p.BirthName + "_" + p.INS.Matricule + ".XML"

	// uid → the reason its report(s) must wait with ("" when filed).
	type want struct {
		id     string
		reason app.MatchReason
		filed  int
	}
	var wants []want
	deliver := func(w want, raw []byte) {
		d.deliver(t, u, "INBOX", raw)
		wants = append(wants, w)
	}
	doc := func(id string, pt app.Patient) cdaDoc { return cdaDoc{ID: id, Patient: pt} }
	// 1-3: one identity element given twice under the one recordTarget.
	deliver(want{"rep-patient", app.ReasonRepeatedIdentity, 0}, xdmMail(t, "rep-patient@labo", doc("1.2.250.1.999.301", p),
		xdmOpts{Mangle: duplicate("patient", "<patient><name><family qualifier=\"BR\">"+q.BirthName+"</family><given>"+q.BirthGivenNames+"</given></name></patient>")}))
	deliver(want{"rep-name", app.ReasonRepeatedIdentity, 0}, xdmMail(t, "rep-name@labo", doc("1.2.250.1.999.302", p),
		xdmOpts{Mangle: duplicate("name", "<name><family qualifier=\"BR\">"+q.BirthName+"</family><given>"+q.BirthGivenNames+"</given></name>")}))
	deliver(want{"rep-birth", app.ReasonRepeatedIdentity, 0}, xdmMail(t, "rep-birth@labo", doc("1.2.250.1.999.303", p),
		xdmOpts{Mangle: duplicate("birthTime", `<birthTime value="19790202"/>`)}))
	// 4: two archives of one message, for two patients (each archive
	// alone would be filed).
	deliver(want{"two-archives", app.ReasonPartsDisagree, 0}, mail("two-archives@labo", subject, "X-MSS-INS: O",
		multipart("mixed", "b2", textPart("Deux comptes rendus."),
			attach("application/zip", `filename="IHE_XDM.ZIP"`, xdmZip(t, doc("1.2.250.1.999.304", p), xdmOpts{})),
			attach("application/zip", `filename="IHE_XDM2.ZIP"`, xdmZip(t, doc("1.2.250.1.999.305", q), xdmOpts{})))))
	// 5-6: a report, then a new report reusing its Message-ID.
	deliver(want{"reuse-first", "", 1}, xdmMail(t, "reuse@labo", doc("1.2.250.1.999.306", p), xdmOpts{}))
	deliver(want{"reuse-second", app.ReasonMessageIDReused, 0}, xdmMail(t, "reuse@labo", doc("1.2.250.1.999.307", p), xdmOpts{}))
	// 7: a CDA in the archive that METADATA.XML does not list, named
	// after the patient.
	deliver(want{"unlisted", app.ReasonNoReport, 1}, xdmMail(t, "unlisted@labo", doc("1.2.250.1.999.308", p),
		xdmOpts{Extra: map[string][]byte{"IHE_XDM/SUBSET01/" + nameFile: doc("1.2.250.1.999.309", q).xml()}}))
	// 8-9: hostile archives whose entry name and URI carry the patient's
	// name and INS: quarantined, the names never repeated.
	deliver(want{"bad-hash", app.ReasonQuarantine, 0}, xdmMail(t, "bad-hash@labo", doc("1.2.250.1.999.310", p),
		xdmOpts{BadHash: true, EntryName: "IHE_XDM/SUBSET01/" + nameFile, URI: nameFile}))
	deliver(want{"escape", app.ReasonQuarantine, 0}, xdmMail(t, "escape@labo", doc("1.2.250.1.999.311", p),
		xdmOpts{URI: "../../" + nameFile}))
	// 10: a PDF-only mail named after the patient, subject with the INS.
	deliver(want{"pdf", app.ReasonPDFOnly, 0}, mail("pdf@labo", subject, "", multipart("mixed", "b3", textPart("CR"),
		attach("application/pdf", `filename="`+p.BirthName+`_`+p.INS.Matricule+`.pdf"`, []byte("%PDF-1.4 canary")))))

	store := apptest.NewMailStore(p, q)
	var logBuf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	stop := captureStderr(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sum, err := Import(ctx, store, Config{Accounts: []Account{d.account(u, ImplicitTLS)}, Demo: true, Log: log})
	stderr := stop()
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	if sum.Messages != len(wants) || sum.Quarantined != 2 {
		t.Fatalf("summary %+v", sum)
	}

	// Each message: its items, its filed documents.
	items, _ := store.Inbox(ctx)
	byUID := map[uint32][]app.InboxItem{}
	for _, it := range items {
		byUID[it.Message.UID] = append(byUID[it.Message.UID], it)
	}
	filed := map[string]bool{}
	for _, pt := range []app.Patient{p, q} {
		man, _ := store.Manifest(ctx, pt.ID)
		for _, dm := range man.Documents {
			filed[string(dm.ID)] = true
		}
	}
	if !filed["1.2.250.1.999.306"] || !filed["1.2.250.1.999.308"] || len(filed) != 2 {
		t.Fatalf("filed %v, want the first report of reuse@labo and the listed one of unlisted@labo", filed)
	}
	for i, w := range wants {
		uid := uint32(i + 1)
		its := byUID[uid]
		if w.reason == "" {
			if len(its) != 0 {
				t.Errorf("%s: items %+v, want none", w.id, its)
			}
			continue
		}
		found := false
		for _, it := range its {
			found = found || it.Reason == w.reason
			if it.Reason.Code() == 0 && w.reason.Code() == 904 {
				t.Errorf("%s: item without ANS code: %s", w.id, it.Reason)
			}
		}
		if !found {
			t.Errorf("%s: items %+v, want reason %s", w.id, its, w.reason)
		}
		if w.id == "two-archives" && len(its) != 2 {
			t.Errorf("two archives: %d items, want one per report", len(its))
		}
		if w.id == "unlisted" && (len(its) != 1 || !hasProblem(its[0].Problems, app.ProblemUnlisted)) {
			t.Errorf("unlisted: items %+v", its)
		}
	}

	// Nothing marked imported that is not filed or queued; quarantined
	// messages untouched.
	for uidS, fl := range flagsOf(t, d, u, "INBOX") {
		var uid uint32
		for _, c := range uidS {
			uid = uid*10 + uint32(c-'0')
		}
		marked := strings.Contains(fl, app.ImportedKeyword)
		w := wants[uid-1]
		queued := false
		for _, it := range byUID[uid] {
			queued = queued || it.State == app.InboxPending
		}
		switch {
		case w.reason == app.ReasonQuarantine && marked:
			t.Errorf("%s: quarantined message marked on the server", w.id)
		case w.reason != app.ReasonQuarantine && !marked:
			t.Errorf("%s: not marked imported (flags %q)", w.id, fl)
		case marked && !queued && w.filed == 0:
			t.Errorf("%s: marked imported, neither filed nor queued", w.id)
		}
	}

	// The canary.
	var notes strings.Builder
	for _, n := range sum.Notes {
		notes.WriteString(n.Reason + "\n")
	}
	for _, it := range items {
		for _, pr := range it.Problems {
			notes.WriteString(pr.Part + " " + pr.Detail + "\n")
		}
	}
	var audit strings.Builder
	for _, e := range store.AuditLog() {
		audit.WriteString(e.Action + " " + e.Result + " " + e.Detail + "\n")
	}
	canaries := []string{p.BirthName, "CANARYPRENOM", p.INS.Matricule, q.BirthName, "SERINPRENOM", q.INS.Matricule,
		p.INS.Matricule[:13], q.INS.Matricule[:13]}
	for where, text := range map[string]string{"stderr": stderr, "log": logBuf.String(), "notes": notes.String(), "audit": audit.String()} {
		for _, c := range canaries {
			if strings.Contains(strings.ToUpper(text), strings.ToUpper(c)) {
				t.Errorf("%s holds the canary %q:\n%s", where, c, text)
			}
		}
	}
	if !strings.Contains(notes.String(), "904 ") || !strings.Contains(notes.String(), string(app.ProblemUnlisted)) ||
		!strings.Contains(notes.String(), string(app.ProblemReusedID)) {
		t.Errorf("notes lack the reasons:\n%s", notes.String())
	}
}
