package dmptest

import (
	"mime"
	"reflect"
	"testing"
)

// checkFindSecurity compares the scan with the regular expression it
// implements.
func checkFindSecurity(t *testing.T, doc []byte) {
	t.Helper()
	m := securityStart.FindSubmatchIndex(doc)
	start, ps, pe, ok := findSecurity(doc)
	if ok != (m != nil) {
		t.Fatalf("%q: scan found %v, regexp %v", doc, ok, m)
	}
	if ok && (start != m[0] || ps != m[2] || pe != m[3]) {
		t.Fatalf("%q: scan %d %d:%d, regexp %v", doc, start, ps, pe, m)
	}
}

// The scan for the wsse:Security start tag finds what the regexp finds.
func TestFindSecurityMatchesRegexp(t *testing.T) {
	for _, s := range []string{
		`<s:Envelope><s:Header><wsse:Security xmlns:wsse="x"><a/></wsse:Security></s:Header></s:Envelope>`,
		`<Security>`, `<Security/>`, `<Security `, `<Security`, `Security>`, `<:Security>`, `<1a:Security>`,
		`<a<b:Security>`, `<a-b.c_9:Security>`, `<a:xSecurity>`, `<a:Securityx>`, `<a:Security.b:Security>`,
		"<a:Security\t", "<a:Security\f", `x<wsse:Security>y<Security>`, `<SecuritySecurity>`, `<a:b:Security>`,
		`<é:Security>`, `<_:Security/>`, ``,
	} {
		checkFindSecurity(t, []byte(s))
	}
}

// FuzzFindSecurity: the scan and the regexp agree on any input.
func FuzzFindSecurity(f *testing.F) {
	f.Add([]byte(`<s:Header><wsse:Security xmlns:wsse="x"/></s:Header>`))
	f.Add([]byte(`<a<b:Security>`))
	f.Fuzz(func(t *testing.T, doc []byte) { checkFindSecurity(t, doc) })
}

// The remembered Content-Type values are mime.ParseMediaType's; multipart
// ones are not remembered.
func TestParseContentTypeRemembered(t *testing.T) {
	for _, v := range []string{`application/soap+xml; charset=UTF-8; action="urn:ihe:iti:2007:RetrieveDocumentSet"`,
		`multipart/related; boundary="b1"; type="application/xop+xml"`, `bad;;`} {
		for i := 0; i < 2; i++ {
			mt, params, err := parseContentType(v)
			wmt, wparams, werr := mime.ParseMediaType(v)
			if mt != wmt || !reflect.DeepEqual(params, wparams) || (err == nil) != (werr == nil) {
				t.Fatalf("%q: %q %v %v, want %q %v %v", v, mt, params, err, wmt, wparams, werr)
			}
		}
	}
	if _, ok := contentTypes.Load(`multipart/related; boundary="b1"; type="application/xop+xml"`); ok {
		t.Fatal("a multipart Content-Type was remembered")
	}
}
