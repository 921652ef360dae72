package xds

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/carnetdesk/carnet/app"
)

// sameTree reports where two trees differ ("" when they do not).
func sameTree(a, b *node, path string) string {
	if (a == nil) != (b == nil) {
		return path + ": one is nil"
	}
	if a == nil {
		return ""
	}
	path += "/" + a.Name.Space + ":" + a.Name.Local
	if a.Name != b.Name {
		return fmt.Sprintf("%s: name %v vs %v", path, a.Name, b.Name)
	}
	if a.Text != b.Text {
		return fmt.Sprintf("%s: text %q vs %q", path, a.Text, b.Text)
	}
	if len(a.Attr) != len(b.Attr) {
		return fmt.Sprintf("%s: %d vs %d attributes", path, len(a.Attr), len(b.Attr))
	}
	for i := range a.Attr {
		if a.Attr[i] != b.Attr[i] {
			return fmt.Sprintf("%s: attribute %v vs %v", path, a.Attr[i], b.Attr[i])
		}
	}
	if len(a.Children) != len(b.Children) {
		return fmt.Sprintf("%s: %d vs %d children", path, len(a.Children), len(b.Children))
	}
	for i := range a.Children {
		if d := sameTree(a.Children[i], b.Children[i], path); d != "" {
			return d
		}
	}
	return ""
}

// checkFastAgainstStd parses b with both readers: the same tree, or the
// same refusal (class and words).
func checkFastAgainstStd(t *testing.T, b []byte) (fast bool) {
	t.Helper()
	got, gerr := parseXML(bytes.NewReader(b), 1<<20)
	want, werr := parseXMLStd(bytes.NewReader(b), 1<<20)
	if (gerr == nil) != (werr == nil) {
		t.Fatalf("fast: %v, standard: %v", gerr, werr)
	}
	if gerr != nil {
		if gerr.Error() != werr.Error() || errors.Is(gerr, ErrHostileXML) != errors.Is(werr, ErrHostileXML) {
			t.Fatalf("fast refuses with %v, standard with %v", gerr, werr)
		}
		return false
	}
	if d := sameTree(got, want, ""); d != "" {
		t.Fatalf("trees differ at %s", d)
	}
	if len(b) <= 1<<20 {
		return fastParse(string(b)) != nil
	}
	return false
}

// The fast reader builds the standard reader's tree on the messages of the
// protocol (the project's samples, the public IHE/ANS ones) and on the
// corners of the XML it reads itself, and hands everything else to the
// standard reader (same tree, same refusal).
func TestParseXMLFastMatchesStd(t *testing.T) {
	envelope := func(body string) string {
		return `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://www.w3.org/2005/08/addressing"><s:Header><a:RelatesTo>urn:uuid:1</a:RelatesTo></s:Header><s:Body>` + body + `</s:Body></s:Envelope>`
	}
	cases := []struct {
		name string
		in   string
		fast bool // read by the fast path itself
	}{
		{"query", okQuery, true},
		{"declaration", `<?xml version="1.0" encoding="UTF-8"?>` + envelope(okQuery), true},
		{"declaration single quotes", `<?xml version='1.0' encoding='utf-8' standalone='yes'?>` + "\n" + envelope(okQuery), true},
		{"declaration latin1", `<?xml version="1.0" encoding="ISO-8859-1"?>` + envelope(okQuery), false},
		{"declaration us-ascii", `<?xml version="1.0" encoding="us-ascii"?>` + envelope(okQuery), false},
		{"declaration 1.1", `<?xml version="1.1"?>` + envelope(okQuery), false},
		{"entities", envelope(`<x a="&lt;&amp;&gt;&quot;&apos;&#233;&#xE9;">&lt;b&gt; &amp; &#x1F600; é</x>`), true},
		{"entity in the middle", envelope(`<x>a&amp;b&amp;c</x>`), true},
		{"mixed content", envelope(`<x>un<y/>deux<!-- c -->trois<![CDATA[<q>&amp;]]>quatre</x>`), true},
		{"white space", "\n<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\">\n\t<s:Body >\n <x  a = 'v' b=\"w\"\t/>\n</s:Body\n></s:Envelope>\n", true},
		{"attribute with newline and tab", envelope("<x a=\"l1\nl2\tl3\"/>"), true},
		{"attribute with ]]>", envelope(`<x a="]]>"/>`), true},
		{"default namespace", `<Envelope xmlns="http://www.w3.org/2003/05/soap-envelope"><Body><x xmlns=""/></Body></Envelope>`, true},
		{"carriage returns", envelope("<x a=\"1\r\n2\r3\">a\r\nb\rc\r\r\nd<![CDATA[e\r\nf]]>\r</x>\r\n"), true},
		{"carriage return at the end", envelope("<x>a&amp;\r</x>\r"), true},
		{"carriage return reference", envelope("<x>a&#xD;b</x>"), false},
		{"surrogate reference", envelope("<x>&#xD800;</x>"), false},
		{"control reference", envelope("<x>&#1;</x>"), false},
		{"non-character reference", envelope("<x>&#xFFFE;</x>"), false},
		{"control character", envelope("<x>a\x01b</x>"), false},
		{"invalid UTF-8", envelope("<x>a\xffb</x>"), false},
		{"non-ASCII name", envelope("<é/>"), false},
		{"two colons", envelope("<a:b:c/>"), false},
		{"empty prefix", envelope("<:x/>"), false},
		{"digit local name", envelope(`<a:1 xmlns:a="u"/>`), false},
		{"mismatched end tag", envelope("<x></y>"), false},
		{"unknown entity", envelope("<x>&xxe;</x>"), false},
		{"no semicolon", envelope("<x>&amp</x>"), false},
		{"empty char ref", envelope("<x>&#x;</x>"), false},
		{"upper X char ref", envelope("<x>&#X41;</x>"), false},
		{"lt in attribute", envelope(`<x a="<"/>`), false},
		{"]]> in text", envelope(`<x>]]></x>`), false},
		{"attribute without value", envelope(`<x a/>`), false},
		{"attribute unquoted", envelope(`<x a=b/>`), false},
		{"attributes not separated", envelope(`<x a="1"b="2"/>`), false},
		{"doctype", `<!DOCTYPE x [<!ENTITY a "aaaa">]>` + envelope(okQuery), false},
		{"comment with --", envelope(`<!-- a -- b -->`), false},
		{"comment ---", envelope(`<x><!---->a<!-- -x- --></x>`), true},
		{"processing instruction", envelope(`<?pi data?><x><?other?></x>`), true},
		{"two roots", envelope(okQuery) + envelope(okQuery), false},
		{"text after root", envelope(okQuery) + "x", false},
		{"BOM", "\ufeff" + envelope(okQuery), false},
		{"truncated", envelope(okQuery)[:120], false},
		{"deep", envelope(strings.Repeat("<a>", 70) + strings.Repeat("</a>", 70)), false},
		{"just deep enough", strings.Repeat("<a>", maxDepth) + strings.Repeat("</a>", maxDepth), true},
		{"empty", "", false},
		{"text only", "hello", false},
		{"lone <", "<", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if fast := checkFastAgainstStd(t, []byte(c.in)); fast != c.fast {
				t.Fatalf("read by the fast path: %v, want %v", fast, c.fast)
			}
		})
	}
	// The real messages: the project's samples (ebRIM, SOAP, VIHF, MTOM roots).
	var n, fast int
	for _, dir := range []string{filepath.Join(refDir, "samples"), "../../../../shared/samples/cda"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.xml"))
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil || len(b) > 1<<20 {
				continue
			}
			n++
			t.Run(filepath.Base(f), func(t *testing.T) {
				if checkFastAgainstStd(t, b) {
					fast++
				}
			})
		}
	}
	t.Logf("%d sample files compared, %d read by the fast path", n, fast)
}

// The limits hold on the fast path: the size is refused before parsing,
// the depth and element count by the standard reader's words.
func TestParseXMLFastLimits(t *testing.T) {
	big := "<a>" + strings.Repeat("x", 2000) + "</a>"
	if _, err := parseXML(strings.NewReader(big), 1000); !errors.Is(err, ErrHostileXML) || !errors.Is(err, app.ErrServer) {
		t.Fatalf("over the size limit: %v", err)
	}
	many := "<a>" + strings.Repeat("<b/>", maxElements+1) + "</a>"
	if _, err := parseXML(strings.NewReader(many), 64<<20); !errors.Is(err, ErrHostileXML) {
		t.Fatalf("too many elements: %v", err)
	}
	deep := strings.Repeat("<a>", maxDepth+1) + strings.Repeat("</a>", maxDepth+1)
	if _, err := parseXML(strings.NewReader(deep), 1<<20); !errors.Is(err, ErrHostileXML) {
		t.Fatalf("too deep: %v", err)
	}
}

// FuzzParseXMLFast: whatever the input, the fast reader and the standard
// one agree: the same tree, or the same refusal.
func FuzzParseXMLFast(f *testing.F) {
	f.Add([]byte(okQuery))
	f.Add([]byte(`<?xml version="1.0" encoding="UTF-8"?><s:E xmlns:s="u"><s:B a="&lt;1&#x41;" b='2'>t&amp;<!--c--><![CDATA[d]]><?p q?><c/></s:B></s:E>`))
	f.Add([]byte(`<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>`))
	f.Add([]byte("<a>\r\n&#xD;&#xD800;</a>"))
	for _, name := range []string{"iti18-response-leafclass.body.xml", "iti18-response-objectref.body.xml", "registryresponse-with-error.body.xml"} {
		if b, err := os.ReadFile(filepath.Join(refDir, "samples", name)); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkFastAgainstStd(t, b)
	})
}

// TestParseXMLEndTagMismatch: an end tag that does not close the element
// it ends is refused by both readers (encoding/xml's RawToken does not
// check it; the tree builder does), so a tree cannot be reshaped by a
// crafted message.
func TestParseXMLEndTagMismatch(t *testing.T) {
	for _, in := range []string{`<a><b></c></a>`, `<a><b></a></b>`, `<p:a xmlns:p="urn:x"><b/></q:a>`} {
		if _, err := parseXML(strings.NewReader(in), 1<<20); err == nil {
			t.Errorf("parseXML(%q) accepted", in)
		}
		if _, err := parseXMLStd(strings.NewReader(in), 1<<20); err == nil {
			t.Errorf("parseXMLStd(%q) accepted", in)
		}
	}
}
