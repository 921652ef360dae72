package mailbox

import (
	"bytes"
	"strings"
	"testing"

	"github.com/carnetdesk/carnet/app"
)

func hasProblem(ps []app.ImportProblem, k app.ProblemKind) bool {
	for _, p := range ps {
		if p.Kind == k {
			return true
		}
	}
	return false
}

func TestParseMessageXDM(t *testing.T) {
	p := testPatient(t, "p1", "2800175123456")
	doc := cdaDoc{ID: "1.2.250.1.999.1", Patient: p}
	m := ParseMessage(xdmMail(t, "m1@labo", doc, xdmOpts{}), app.MessageRef{UID: 1}, Limits{}, true)
	if len(m.Problems) != 0 || len(m.Reports) != 1 {
		t.Fatalf("problems %+v reports %d", m.Problems, len(m.Reports))
	}
	r := m.Reports[0]
	if r.Meta.ID != "1.2.250.1.999.1" || !r.Identity.HasXDM || r.Identity.XDMPatient != p.INS || r.Identity.HeaderINS != "O" {
		t.Fatalf("report %+v", r.Identity)
	}
	if res := app.MatchPatient(r.Identity, []app.Patient{p}, true); !res.Auto() {
		t.Fatalf("match %+v", res)
	}
	if res := app.MatchPatient(r.Identity, []app.Patient{p}, false); res.Reason != app.ReasonTestINS {
		t.Fatalf("outside demo: %+v", res)
	}
	if m.Ref.MessageID != "m1@labo" || m.From != "labo@labo-x.mssante.fr" || !strings.HasPrefix(m.Subject, "XDM/1.0/DDM") {
		t.Fatalf("header %+v", m.Ref)
	}
}

// TestPitfallsMIME has one case per MIME item of the reference's
// "Pitfalls and bad inputs to test" list.
func TestPitfallsMIME(t *testing.T) {
	p := testPatient(t, "p1", "2800175123456")
	doc := cdaDoc{ID: "1.2.250.1.999.2", Patient: p}
	zipb := xdmZip(t, doc, xdmOpts{})
	inner := xdmMail(t, "inner@labo", doc, xdmOpts{})
	cases := []struct {
		name    string
		raw     []byte
		reports int
		problem app.ProblemKind // expected problem, "" for none
		file    string          // expected decoded file name of the archive, when checked
	}{
		{"forwarded message/rfc822", mail("fw@x", "Fwd: CR", "", multipart("mixed", "o1",
			textPart("voir ci-dessous"),
			mimePart{"Content-Type: message/rfc822\r\nContent-Disposition: attachment", string(inner)})), 1, "", "IHE_XDM.ZIP"},
		{"RFC 2231 utf-8", mail("a@x", "s", "", multipart("mixed", "b", attach("application/zip", `filename*=utf-8''IHE%5FXDM.ZIP`, zipb))), 1, "", "IHE_XDM.ZIP"},
		{"RFC 2231 iso-8859-1", mail("b@x", "s", "", multipart("mixed", "b", attach("application/pdf", `filename*=iso-8859-1''CR_h%F4pital.pdf`, []byte("%PDF")))), 1, app.ProblemPDFOnly, "CR_hôpital.pdf"},
		{"RFC 2231 continuations", mail("c@x", "s", "", multipart("mixed", "b", attach("application/octet-stream", `filename*0*=utf-8''IHE%5F; filename*1="XDM.zip"`, zipb))), 1, "", "IHE_XDM.zip"},
		{"RFC 2047 name", mail("d@x", "s", "", multipart("mixed", "b", attach("application/pdf", `filename="=?iso-8859-1?Q?CR=5Fh=F4pital.pdf?="`, []byte("%PDF")))), 1, app.ProblemPDFOnly, "CR_hôpital.pdf"},
		{"IHE_XDM.zip lower case", mail("e@x", "s", "", multipart("mixed", "b", attach("application/octet-stream", `filename="ihe_xdm.zip"`, zipb))), 1, "", ""},
		{"zip as x-zip-compressed", mail("f@x", "s", "", multipart("mixed", "b", attach("application/x-zip-compressed", `filename="archive"`, zipb))), 1, "", ""},
		{"two ZIPs in one mail", mail("g@x", "s", "", multipart("mixed", "b",
			attach("application/zip", `filename="IHE_XDM.ZIP"`, zipb),
			attach("application/zip", `filename="IHE_XDM2.ZIP"`, xdmZip(t, cdaDoc{ID: "1.2.250.1.999.3", Patient: p}, xdmOpts{})))), 2, "", ""},
		{"PDF-only mail", mail("h@x", "s", "", multipart("mixed", "b", textPart("x"), attach("application/pdf", `filename="CR.pdf"`, []byte("%PDF")))), 1, app.ProblemPDFOnly, ""},
		{"no attachment", mail("i@x", "s", "", textPart("bonjour")), 0, app.ProblemNoAttachment, ""},
		{"non-UTF-8 charset", mail("j@x", "=?iso-8859-1?Q?R=E9sultat?=", "", multipart("mixed", "b",
			mimePart{"Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit", "r\xe9sultat"},
			attach("application/zip", `filename="IHE_XDM.ZIP"`, zipb))), 1, "", ""},
		{"unknown charset", mail("k@x", "s", "", multipart("mixed", "b",
			mimePart{"Content-Type: text/plain; charset=x-klingon", "qapla"},
			attach("application/zip", `filename="IHE_XDM.ZIP"`, zipb))), 1, "", ""},
		{"multipart without boundary", mail("l@x", "s", "", mimePart{"Content-Type: multipart/mixed", "--x\r\n\r\nhello\r\n--x--\r\n"}), 0, app.ProblemMIME, ""},
		{"bare CR line ends", bytes.ReplaceAll(xdmMail(t, "m@x", doc, xdmOpts{}), []byte("\r\n"), []byte("\r\r\n")), 0, "", ""},
		{"bad base64 in the archive", mail("n@x", "s", "", multipart("mixed", "b",
			mimePart{"Content-Type: application/zip; name=\"IHE_XDM.ZIP\"\r\nContent-Transfer-Encoding: base64", "!!!!not base64@@@@"})), 0, app.ProblemMIME, ""},
		{"enormous header", append([]byte("X-Big: "+strings.Repeat("a", 300<<10)+"\r\n"), xdmMail(t, "o@x", doc, xdmOpts{})...), 0, app.ProblemMIME, ""},
		{"multipart/encrypted", mail("p@x", "s", "", multipart("encrypted", "e", mimePart{"Content-Type: application/pgp-encrypted", "Version: 1"},
			mimePart{"Content-Type: application/octet-stream", "-----BEGIN PGP MESSAGE-----"})), 0, app.ProblemEncrypted, ""},
		{"multipart/signed", mail("q@x", "s", "", multipart("signed", "s", multipart("mixed", "b", attach("application/zip", `filename="IHE_XDM.ZIP"`, zipb)),
			mimePart{"Content-Type: application/pkcs7-signature", "MIIB"})), 0, app.ProblemSigned, ""},
		{"application/pkcs7-mime", mail("r@x", "s", "", mimePart{"Content-Type: application/pkcs7-mime; smime-type=enveloped-data\r\nContent-Transfer-Encoding: base64", "MIIB"}), 0, app.ProblemEncrypted, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := ParseMessage(tc.raw, app.MessageRef{UID: 1}, Limits{}, true)
			if tc.name == "bare CR line ends" {
				// Whatever go-message makes of it: no panic, and either a
				// report or a problem, never silence.
				if len(m.Reports) == 0 && len(m.Problems) == 0 {
					t.Fatal("neither report nor problem")
				}
				return
			}
			if len(m.Reports) != tc.reports {
				t.Fatalf("reports %d, want %d (problems %+v)", len(m.Reports), tc.reports, m.Problems)
			}
			if tc.problem == "" && len(m.Problems) > 0 {
				t.Fatalf("unexpected problems %+v", m.Problems)
			}
			if tc.problem != "" && !hasProblem(m.Problems, tc.problem) {
				t.Fatalf("problems %+v, want %s", m.Problems, tc.problem)
			}
			if tc.file != "" {
				parts, _, _ := WalkMIME(tc.raw, Limits{})
				found := false
				for _, p := range parts {
					found = found || p.FileName == tc.file
				}
				if !found {
					t.Fatalf("file name %q not decoded: %+v", tc.file, names(parts))
				}
			}
		})
	}
}

func names(ps []Part) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Section()+":"+p.MediaType+":"+p.FileName)
	}
	return out
}

func TestWalkMIMEHostile(t *testing.T) {
	// Deep nesting.
	root := textPart("x")
	for i := 0; i < 40; i++ {
		root = multipart("mixed", "d"+strings.Repeat("x", i), root)
	}
	if _, probs, err := WalkMIME(mail("deep@x", "s", "", root), Limits{}); err != nil || !hasProblem(probs, app.ProblemMIME) {
		t.Fatalf("deep: %v %+v", err, probs)
	}
	// 10,000 parts.
	var many []mimePart
	for i := 0; i < 10000; i++ {
		many = append(many, textPart("x"))
	}
	if parts, probs, err := WalkMIME(mail("many@x", "s", "", multipart("mixed", "m", many...)), Limits{}); err != nil || !hasProblem(probs, app.ProblemMIME) || len(parts) > 1000 {
		t.Fatalf("many: %v %d %+v", err, len(parts), probs)
	}
	// Over the message cap.
	if _, probs, _ := WalkMIME(make([]byte, 2048), Limits{MaxMessageBytes: 1024}); !hasProblem(probs, app.ProblemTooLarge) {
		t.Fatalf("too large: %+v", probs)
	}
	// Attachment over the part cap.
	big := mail("big@x", "s", "", multipart("mixed", "b", attach("application/pdf", `filename="a.pdf"`, make([]byte, 4096))))
	if _, probs, _ := WalkMIME(big, Limits{MaxPartBytes: 1024}); !hasProblem(probs, app.ProblemTooLarge) {
		t.Fatalf("part too large: %+v", probs)
	}
	// Not a message at all.
	if _, _, err := WalkMIME([]byte("\x00\x01garbage without header end"), Limits{}); err == nil {
		t.Log("garbage accepted as a header-only message") // go-message is lenient; no panic is what matters
	}
}

func TestParamValue(t *testing.T) {
	cases := []struct {
		header string
		want   string
	}{
		{`attachment; filename="IHE_XDM.ZIP"`, "IHE_XDM.ZIP"},
		{`attachment; filename*=utf-8''IHE%5FXDM.ZIP`, "IHE_XDM.ZIP"},
		{`attachment; filename*=iso-8859-1'fr'CR_h%F4pital.pdf`, "CR_hôpital.pdf"},
		{`attachment; filename*0*=iso-8859-1''CR_h%F4; filename*1=pital.pdf`, "CR_hôpital.pdf"},
		{`attachment; filename*1="b.pdf"; filename*0="a"`, "ab.pdf"},
		{`attachment; filename="=?utf-8?B?w6kucGRm?="`, "é.pdf"},
		{`attachment; filename="../../etc/passwd"`, "passwd"},
		{`attachment; filename=naked.pdf; size=3`, "naked.pdf"},
		{`attachment; filename="a\"b.pdf"`, `a"b.pdf`},
	}
	for _, tc := range cases {
		_, params := parseParams(tc.header)
		if got := fileName(params, nil); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.header, got, tc.want)
		}
	}
}

func FuzzMIMEWalk(f *testing.F) {
	p := testPatient(f, "p1", "2800175123456")
	f.Add(xdmMail(f, "f@x", cdaDoc{ID: "1.2.3", Patient: p}, xdmOpts{}))
	f.Add(mail("g@x", "s", "", multipart("mixed", "b", textPart("x"), mimePart{"Content-Type: message/rfc822", "Content-Type: multipart/mixed; boundary=z\r\n\r\n--z\r\n\r\nx\r\n--z--"})))
	f.Add([]byte("Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\nContent-Type: application/zip; name*0*=utf-8''a; name*1=.zip\r\nContent-Transfer-Encoding: base64\r\n\r\nUEsFBg==\r\n--a--"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		lim := Limits{MaxMessageBytes: 1 << 20, MaxPartBytes: 1 << 20, MaxParts: 200, MaxDepth: 8}
		parts, _, _ := WalkMIME(raw, lim)
		if len(parts) > 200+8 {
			t.Fatalf("%d parts over the limit", len(parts))
		}
		for _, p := range parts {
			if p.Depth > 8+1 || len(p.Body) > 1<<20 || strings.ContainsAny(p.FileName, "/\\\x00") {
				t.Fatalf("limit broken: %+v", p.Path)
			}
		}
		_ = ParseMessage(raw, app.MessageRef{}, lim, false)
	})
}

// TestPitfallsCDA has one case per CDA item of the reference's pitfalls
// list that concerns the reading side (the matching rule's items are in
// app's MatchPatient tables): each message is read and matched in
// production mode with a production-domain identity.
func TestPitfallsCDA(t *testing.T) {
	p := testPatient(t, "p1", "2800175123456")
	p.INS.OID = app.OIDINSNIR
	base := cdaDoc{ID: "1.2.250.1.999.30", Patient: p}
	latin1 := func(b []byte) []byte {
		s := strings.Replace(string(b), `encoding="UTF-8"`, `encoding="ISO-8859-1"`, 1)
		var out []byte
		for _, r := range s {
			out = append(out, byte(r)) // the fixture's characters are all in Latin-1
		}
		return out
	}
	cdaMail := func(name string, b []byte) []byte {
		return mail(name+"@x", "s", "X-MSS-INS: O", multipart("mixed", "b", attach("text/xml", `filename="CDA.XML"`, b)))
	}
	big := base
	big.ID = "1.2.250.1.999.31"
	bigXML := strings.Replace(string(big.xml()), "Résultats normaux.", strings.Repeat("A", 5<<20), 1)
	noINS := base
	noINS.NoINS = true
	nia := base
	nia.Patient.INS.OID = app.OIDINSNIA
	cases := []struct {
		name   string
		raw    []byte
		reason app.MatchReason
	}{
		{"ISO-8859-1 CDA", cdaMail("l1", latin1(base.xml())), app.MatchAuto},
		{"BOM", cdaMail("bom", append([]byte("\xef\xbb\xbf"), base.xml()...)), app.MatchAuto},
		{"very large CDA", cdaMail("big", []byte(bigXML)), app.MatchAuto},
		{"INS-NIA", cdaMail("nia", nia.xml()), app.MatchAuto},
		{"X-MSS-INS O but no INS", cdaMail("noins", noINS.xml()), app.ReasonNoINS},
		{"CDA INS differs from XDM patientId", xdmMail(t, "xdm@x", base, xdmOpts{PatientCX: "1800175123456" + "68^^^&1.2.250.1.213.1.4.8&ISO^NH"}), app.ReasonXDMDisagrees},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := ParseMessage(tc.raw, app.MessageRef{UID: 1}, Limits{}, false)
			if len(m.Reports) != 1 {
				t.Fatalf("reports %d problems %+v", len(m.Reports), m.Problems)
			}
			local := p
			local.INS = m.Reports[0].Identity.INS
			if tc.reason != app.MatchAuto || tc.name == "INS-NIA" {
				local = p
				if tc.name == "INS-NIA" {
					local.INS.OID = app.OIDINSNIA
				}
			}
			res := app.MatchPatient(m.Reports[0].Identity, []app.Patient{local}, false)
			if res.Reason != tc.reason {
				t.Fatalf("reason %s, want %s (%+v)", res.Reason, tc.reason, m.Reports[0].Identity)
			}
		})
	}
}
