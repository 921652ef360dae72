package cda

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
)

// Patient data planted in the hostile inputs: no error may repeat it.
const (
	secretName = "SECRETNOM"
	secretINS  = "279035121518989"
	secretText = "TEXTECONFIDENTIEL"
)

const insTest = `<id root="1.2.250.1.213.1.4.10" extension="` + secretINS + `"/>`

// doc builds a small CDA document around a patientRole and a body.
func doc(patientRole, body string) string {
	return `<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<id root="1.2.3.4" extension="42"/>
<code code="11488-4" codeSystem="2.16.840.1.113883.6.1"/>
<title>Consultation</title>
<effectiveTime value="20240102103000+0100"/>
<recordTarget><patientRole>` + patientRole + `<patient><name><family qualifier="BR">` + secretName + `</family><given>JEAN</given></name>
<administrativeGenderCode code="M"/><birthTime value="19800101"/></patient></patientRole></recordTarget>
<author><time value="20240102"/><assignedAuthor><id root="1.2.250.1.71.4.2.1" extension="810001234567"/>
<assignedPerson><name><given>Ana</given><family>PRAT</family></name></assignedPerson></assignedAuthor></author>
<component>` + body + `</component>
</ClinicalDocument>`
}

func n3(text string) string {
	return `<structuredBody><component><section><title>S</title><text>` + text + `</text></section></component></structuredBody>`
}

func n1(mediaType string, data []byte) string {
	return `<nonXMLBody><text mediaType="` + mediaType + `" representation="B64">` + b64(data) + `</text></nonXMLBody>`
}

func b64(b []byte) string {
	const enc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	var sb strings.Builder
	for i := 0; i < len(b); i += 3 {
		var v uint32
		n := min(3, len(b)-i)
		for k := 0; k < 3; k++ {
			v <<= 8
			if k < n {
				v |= uint32(b[i+k])
			}
		}
		for k := 0; k < 4; k++ {
			if k <= n {
				sb.WriteByte(enc[v>>(18-6*k)&63])
			} else {
				sb.WriteByte('=')
			}
		}
	}
	return sb.String()
}

var billionLaughs = `<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<ClinicalDocument xmlns="urn:hl7-org:v3"><title>&lol9;</title></ClinicalDocument>`

// hostile lists the bad inputs of issue 3 and what each must give: an error
// of a kind, or a document with a flag.
var hostile = []struct {
	name  string
	in    string
	opt   Options
	kind  ErrorKind // expected error kind; "" when the document parses
	flag  FlagKind  // expected flag when it parses
	check func(t *testing.T, d *Document)
}{
	{name: "billion laughs", in: billionLaughs, kind: KindForbidden},
	{name: "doctype", in: `<?xml version="1.0"?><!DOCTYPE ClinicalDocument SYSTEM "cda.dtd">` + doc(insTest, n3("x"))[len(`<?xml version="1.0" encoding="UTF-8"?>`):], kind: KindForbidden},
	{name: "external entity", in: `<?xml version="1.0"?><!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><ClinicalDocument xmlns="urn:hl7-org:v3"><title>&xxe;</title></ClinicalDocument>`, kind: KindForbidden},
	{name: "undeclared entity", in: doc(insTest, n3("&xxe;")), kind: KindSyntax},
	{name: "deep nesting", in: doc(insTest, n3(strings.Repeat("<content>", 10000)+secretText+strings.Repeat("</content>", 10000))), kind: KindTooDeep},
	{name: "wrong namespace", in: strings.Replace(doc(insTest, n3("x")), `xmlns="urn:hl7-org:v3"`, `xmlns="urn:hl7-org:v2"`, 1), kind: KindStructure},
	{name: "no namespace", in: strings.Replace(doc(insTest, n3("x")), `xmlns="urn:hl7-org:v3"`, ``, 1), kind: KindStructure},
	{name: "wrong root", in: `<Document xmlns="urn:hl7-org:v3"><title>` + secretText + `</title></Document>`, kind: KindStructure},
	{name: "missing recordTarget", in: strings.Replace(doc(insTest, n3("x")), "recordTarget>", "informant>", 2), kind: KindStructure},
	{name: "two INS", in: doc(insTest+`<id root="1.2.250.1.213.1.4.8" extension="180017512345632"/>`, n3("x")), kind: KindIdentity},
	{name: "two recordTargets", in: strings.Replace(doc(insTest, n3("x")), "<author>", `<recordTarget><patientRole>`+insTest+`</patientRole></recordTarget><author>`, 1), kind: KindIdentity},
	{name: "truncated", in: doc(insTest, n3(secretText))[:600], kind: KindSyntax},
	{name: "mismatched tags", in: doc(insTest, n3("<paragraph>"+secretText+"</content>")), kind: KindSyntax},
	{name: "trailing root", in: doc(insTest, n3("x")) + "<ClinicalDocument/>", kind: KindSyntax},
	{name: "too many elements", in: doc(insTest, n3(strings.Repeat("<br/>", 200))), opt: Options{MaxElements: 100}, kind: KindTooMany},
	{name: "too large", in: doc(insTest, n3(strings.Repeat(secretText+" ", 1000))), opt: Options{MaxBytes: 4096}, kind: KindTooLarge},
	{name: "N1 over its limit", in: doc(insTest, n1("application/pdf", append([]byte("%PDF-1.4 "), make([]byte, 3000)...))), opt: Options{MaxBodyBytes: 1000}, kind: KindTooLarge},
	{name: "invalid base64", in: doc(insTest, `<nonXMLBody><text mediaType="application/pdf" representation="B64">JVBER*i0x</text></nonXMLBody>`), kind: KindBody},
	{name: "non-UTF-8 without declaration", in: strings.Replace(doc(insTest, n3("x")), "JEAN", "J\xc9R\xd4ME", 1), kind: KindEncoding},
	{name: "unknown encoding", in: strings.Replace(doc(insTest, n3("x")), "UTF-8", "EBCDIC-FR", 1), kind: KindEncoding},
	{name: "test INS in production", in: doc(insTest, n3("x")), opt: Options{Production: true}, flag: FlagTestINS},
	{name: "demo INS in production", in: doc(`<id root="1.2.250.1.213.1.4.11" extension="`+secretINS+`"/>`, n3("x")), opt: Options{Production: true}, flag: FlagTestINS,
		check: func(t *testing.T, d *Document) {
			if d.Patient.INSStatus != INSDemo {
				t.Errorf("status %s", d.Patient.INSStatus)
			}
		}},
	{name: "bad INS key", in: doc(`<id root="1.2.250.1.213.1.4.8" extension="279035121518900"/>`, n3("x")), flag: FlagBadINS},
	{name: "malformed dates", in: strings.NewReplacer(`value="20240102103000+0100"`, `value="2024-01-02"`, `value="19800101"`, `value="19801399"`).Replace(doc(insTest, n3("x"))), flag: FlagBadDate,
		check: func(t *testing.T, d *Document) {
			if !d.Effective.IsZero() || d.Patient.BirthDate != "" {
				t.Errorf("malformed dates kept: %v %q", d.Effective, d.Patient.BirthDate)
			}
			if len(d.Flags) != 2 {
				t.Errorf("flags %+v", d.Flags)
			}
		}},
	{name: "ISO-8859-1 declared", in: strings.Replace(strings.Replace(doc(insTest, n3("Pr\xe9nom \xab caf\xe9 \xbb")), "UTF-8", "ISO-8859-1", 1), "JEAN", "J\xc9R\xd4ME", 1),
		check: func(t *testing.T, d *Document) {
			if d.Patient.GivenNames != "JÉRÔME" || d.Body.Sections[0].Text.PlainText() != "Prénom « café »" {
				t.Errorf("latin-1 text = %q %q", d.Patient.GivenNames, d.Body.Sections[0].Text.PlainText())
			}
		}},
	{name: "windows-1252 declared", in: strings.Replace(doc(insTest, n3("\x80 \x9c")), "UTF-8", "windows-1252", 1),
		check: func(t *testing.T, d *Document) {
			if got := d.Body.Sections[0].Text.PlainText(); got != "€ œ" {
				t.Errorf("cp1252 text = %q", got)
			}
		}},
	{name: "BOM", in: "\xef\xbb\xbf" + doc(insTest, n3("x")),
		check: func(t *testing.T, d *Document) {
			if d.Patient.BirthName != secretName {
				t.Errorf("patient %+v", d.Patient)
			}
		}},
	{name: "PDF declared, JPEG bytes", in: doc(insTest, n1("application/pdf", []byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00"))), flag: FlagMediaMismatch,
		check: func(t *testing.T, d *Document) {
			if a := d.Body.NonXML; a == nil || a.MediaType != "image/jpeg" || a.DeclaredType != "application/pdf" {
				t.Errorf("attachment %+v", a)
			}
		}},
	{name: "TIFF declared and found", in: doc(insTest, n1("image/tiff", []byte("II*\x00\x08\x00\x00\x00"))),
		check: func(t *testing.T, d *Document) {
			if a := d.Body.NonXML; a == nil || a.MediaType != "image/tiff" || len(d.Flags) != 0 {
				t.Errorf("attachment %+v flags %v", a, d.Flags)
			}
		}},
	{name: "RTF and text", in: doc(insTest, n1("text/rtf", []byte(`{\rtf1 bonjour}`))),
		check: func(t *testing.T, d *Document) {
			if a := d.Body.NonXML; a == nil || a.MediaType != "text/rtf" || len(d.Flags) != 0 {
				t.Errorf("attachment %+v flags %v", a, d.Flags)
			}
		}},
	{name: "binary declared text", in: doc(insTest, n1("text/plain", []byte{0, 1, 2, 3, 0xfe})), flag: FlagMediaMismatch},
}

func TestHostileInputs(t *testing.T) {
	for _, tc := range hostile {
		t.Run(tc.name, func(t *testing.T) {
			d, err := ParseBytes([]byte(tc.in), tc.opt)
			if tc.kind != "" {
				var pe *ParseError
				if !errors.As(err, &pe) || pe.Kind != tc.kind {
					t.Fatalf("err = %v, want a %s ParseError", err, tc.kind)
				}
				if !errors.Is(err, app.ErrInvalid) || !strings.HasPrefix(err.Error(), "cda: ") {
					t.Errorf("err %q does not wrap app.ErrInvalid or lacks the cda: prefix", err)
				}
				assertNoPatientData(t, err.Error())
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if tc.flag != "" && !hasFlag(d, tc.flag) {
				t.Errorf("flags = %+v, want %s", d.Flags, tc.flag)
			}
			for _, f := range d.Flags {
				assertNoPatientData(t, f.Detail)
			}
			if tc.check != nil {
				tc.check(t, d)
			}
		})
	}
}

func hasFlag(d *Document, k FlagKind) bool {
	for _, f := range d.Flags {
		if f.Kind == k {
			return true
		}
	}
	return false
}

func assertNoPatientData(t *testing.T, s string) {
	t.Helper()
	for _, secret := range []string{secretName, secretINS, secretText, "JEAN", "JÉRÔME", "PRAT", "passwd", "xxe", "lol"} {
		if strings.Contains(s, secret) {
			t.Errorf("%q repeats input data %q", s, secret)
		}
	}
}

// hugeBody streams a document whose N1 body is size bytes of base64,
// without ever holding it.
type hugeBody struct {
	head, tail []byte
	size, sent int64
	read       int64
}

func newHugeBody(size int64) *hugeBody {
	full := doc(insTest, `<nonXMLBody><text mediaType="application/pdf" representation="B64">@</text></nonXMLBody>`)
	i := strings.IndexByte(full, '@')
	return &hugeBody{head: []byte(full[:i]), tail: []byte(full[i+1:]), size: size}
}

func (h *hugeBody) Read(p []byte) (int, error) {
	n := 0
	switch {
	case len(h.head) > 0:
		n = copy(p, h.head)
		h.head = h.head[n:]
	case h.sent < h.size:
		m := min(int64(len(p)), h.size-h.sent)
		for i := range p[:m] {
			if (h.sent+int64(i))%77 == 76 {
				p[i] = '\n'
			} else {
				p[i] = 'Q'
			}
		}
		h.sent += m
		n = int(m)
	case len(h.tail) > 0:
		n = copy(p, h.tail)
		h.tail = h.tail[n:]
	default:
		return 0, io.EOF
	}
	h.read += int64(n)
	return n, nil
}

func TestHugeBase64Body(t *testing.T) {
	const size = 100 << 20
	for _, tc := range []struct {
		name    string
		opt     Options
		maxRead int64
		maxPeak uint64
	}{
		// Defaults: the 64 MiB document limit stops the read. encoding/xml
		// buffers a text node whole and grows its buffer by doubling; the
		// sampled heap also counts the buffers it dropped and the GC has
		// not yet reclaimed: the peak is 3 to 5 times the limit, whatever
		// the input size.
		// The peak is not asserted here: with a 64 MiB limit it is of the
		// order of the 100 MiB input itself, and garbage left by earlier
		// tests of the package blurs it. The two cases below bound it.
		{"defaults", Options{}, DefaultMaxBytes + 64<<10, 0},
		// A larger document limit: the N1 body limit stops the text node.
		// A parser holding the 100 MB input (or its 75 MB decoding) would exceed
		// 128 MiB; a streaming one stays far below even under -race.
		{"body limit", Options{MaxBytes: 1 << 30, MaxBodyBytes: 8 << 20}, 13 << 20, 128 << 20},
		// Small limits: memory stays small.
		{"small", Options{MaxBytes: 1 << 20}, 1<<20 + 64<<10, 8 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHugeBody(size)
			runtime.GC()
			var base runtime.MemStats
			runtime.ReadMemStats(&base)
			peak, done := uint64(0), make(chan struct{})
			sampled := make(chan struct{})
			go func() { // sample the live heap while parsing
				defer close(sampled)
				var ms runtime.MemStats
				for {
					runtime.ReadMemStats(&ms)
					peak = max(peak, ms.HeapAlloc)
					select {
					case <-done:
						return
					case <-time.After(2 * time.Millisecond):
					}
				}
			}()
			_, err := Parse(h, tc.opt)
			close(done)
			<-sampled
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Kind != KindTooLarge {
				t.Fatalf("err = %v, want the size limit", err)
			}
			assertNoPatientData(t, err.Error())
			if h.read > tc.maxRead {
				t.Errorf("read %d MiB of the 100 MiB input, want ≤ %d MiB", h.read>>20, tc.maxRead>>20)
			}
			live := peak - min(peak, base.HeapAlloc)
			t.Logf("read %d MiB of 100 MiB, peak heap %d MiB", h.read>>20, live>>20)
			if tc.maxPeak > 0 && live > tc.maxPeak {
				t.Errorf("peak heap %d MiB, want ≤ %d MiB", live>>20, tc.maxPeak>>20)
			}
		})
	}
}

func TestParseErrorText(t *testing.T) {
	e := &ParseError{Kind: KindSyntax, Reason: "malformed XML", Line: 3}
	if e.Error() != "cda: malformed XML (line 3)" {
		t.Errorf("%q", e.Error())
	}
	rerr := errors.New("disk gone")
	_, err := Parse(io.MultiReader(strings.NewReader("<Clin"), errReader{rerr}), Options{})
	var pe *ParseError
	if !errors.As(err, &pe) || pe.Kind != KindRead || !errors.Is(err, rerr) || !errors.Is(err, app.ErrInvalid) {
		t.Errorf("read error = %v", err)
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func TestNarrativeModel(t *testing.T) {
	in := `<text xmlns="urn:hl7-org:v3">Intro <content styleCode="Bold">gras</content> et <sup>2</sup><br/>suite<footnote ID="fn1">note</footnote>
<paragraph ID="p1">Para <linkHtml href="https://exemple.fr/a">lien</linkHtml></paragraph>
<list listType="ordered"><caption>Liste</caption><item>un</item><item><paragraph>deux</paragraph><list><item>a</item></list></item></list>
<table><caption>T</caption><thead><tr><th colspan="2">H</th></tr></thead><tbody><tr><td rowspan="3">a</td><td><content styleCode="Italics Underline">b</content></td></tr></tbody><tfoot><tr><td>f</td></tr></tfoot></table>
<renderMultiMedia referencedObject="IMG1 IMG2"><caption>Fig</caption></renderMultiMedia><footnoteRef IDREF="fn1"/></text>`
	n, err := ParseNarrative([]byte(in), Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprintf("%d blocks, %d footnotes", len(n.Blocks), len(n.Footnotes))
	if got != "6 blocks, 1 footnotes" {
		t.Fatalf("%s: %+v", got, n)
	}
	p0 := n.Blocks[0]
	if p0.Kind != app.BlockParagraph || app.PlainInlines(p0.Inlines) != "Intro gras et 2\nsuite[fn1]" {
		t.Errorf("first paragraph %q", app.PlainInlines(p0.Inlines))
	}
	if p0.Inlines[1].Style != app.Bold || p0.Inlines[3].Style != app.Superscript || p0.Inlines[4].Kind != app.InlineBreak || p0.Inlines[6].Kind != app.InlineFootnoteRef {
		t.Errorf("inlines %+v", p0.Inlines)
	}
	if n.Footnotes[0].ID != "fn1" || app.PlainInlines(n.Footnotes[0].Inlines) != "note" {
		t.Errorf("footnote %+v", n.Footnotes)
	}
	if p := n.Blocks[1]; p.ID != "p1" || p.Inlines[1].Kind != app.InlineLink || p.Inlines[1].Href != "https://exemple.fr/a" || p.Inlines[1].Text != "lien" {
		t.Errorf("paragraph with link %+v", p)
	}
	if l := n.Blocks[2]; l.Kind != app.BlockList || !l.Ordered || app.PlainInlines(l.Caption) != "Liste" || len(l.Items) != 2 || l.Items[1].Blocks[1].Kind != app.BlockList {
		t.Errorf("list %+v", l)
	}
	tb := n.Blocks[3].Table
	if tb == nil || app.PlainInlines(tb.Caption) != "T" || tb.Header[0].Cells[0].ColSpan != 2 || !tb.Header[0].Cells[0].Header ||
		tb.Body[0].Cells[0].RowSpan != 3 || tb.Body[0].Cells[1].Blocks[0].Inlines[0].Style != app.Italic|app.Underline || tb.Footer[0].Text() != "f" {
		t.Errorf("table %+v", tb)
	}
	if m := n.Blocks[4]; m.Kind != app.BlockMedia || strings.Join(m.Media.Refs, ",") != "IMG1,IMG2" || app.PlainInlines(m.Caption) != "Fig" {
		t.Errorf("media %+v", m)
	}
	if r := n.Blocks[5]; r.Kind != app.BlockParagraph || r.Inlines[0].Kind != app.InlineFootnoteRef || r.Inlines[0].Ref != "fn1" {
		t.Errorf("footnoteRef %+v", r)
	}
	if _, err := ParseNarrative([]byte(`<text>x</text>`), Options{}); err == nil {
		t.Error("narrative outside the HL7 namespace accepted")
	}
	if _, err := ParseNarrative(bytes.Repeat([]byte("<"), 3), Options{}); err == nil {
		t.Error("garbage accepted")
	}
}

func TestHeaderOnly(t *testing.T) {
	b := readSample(t, "DOC_NON_STRUCTURE_CDA-R2-N1.xml")
	full, err := ParseBytes(b, Options{})
	if err != nil {
		t.Fatal(err)
	}
	head, err := ParseBytes(b, Options{HeaderOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if head.ID != full.ID || head.Patient.INS != full.Patient.INS || head.Type != full.Type || head.SetID != full.SetID || !head.Effective.Equal(full.Effective) {
		t.Fatalf("header-only parse differs: %+v", head.Meta())
	}
	if head.Body.NonXML != nil || len(head.Body.Sections) != 0 {
		t.Fatal("header-only parse read the body")
	}
	// A document broken after its header is refused by a full parse only.
	broken := append(append([]byte{}, b[:len(b)-200]...), []byte("<oops>")...)
	if _, err := ParseBytes(broken, Options{}); err == nil {
		t.Fatal("full parse accepted a truncated body")
	}
	if _, err := ParseBytes(broken, Options{HeaderOnly: true}); err != nil {
		t.Fatalf("header-only parse of a document whose body is broken: %v", err)
	}
}
