package dmptest

import (
	"bytes"
	"testing"
)

// rawSecurity finds the raw wsse:Security element of an envelope (the key
// of the sandbox's VIHF session) and nothing else: hostile and odd input.
func TestRawSecurity(t *testing.T) {
	const hdr = `<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"><soap:Header>`
	for _, tc := range []struct {
		name, doc string
		want      string // the element found; "" when none
	}{
		{"prefixed", hdr + `<wsse:Security xmlns:wsse="x"><a/></wsse:Security></soap:Header><soap:Body/></soap:Envelope>`,
			`<wsse:Security xmlns:wsse="x"><a/></wsse:Security>`},
		{"default namespace", hdr + `<Security xmlns="x"><a/></Security></soap:Header><soap:Body/></soap:Envelope>`,
			`<Security xmlns="x"><a/></Security>`},
		{"odd prefix", hdr + `<a.b-c:Security xmlns:a.b-c="x">v</a.b-c:Security></soap:Header><soap:Body/></soap:Envelope>`,
			`<a.b-c:Security xmlns:a.b-c="x">v</a.b-c:Security>`},
		{"none", hdr + `</soap:Header><soap:Body/></soap:Envelope>`, ""},
		{"self-closing", hdr + `<wsse:Security/></soap:Header><soap:Body/></soap:Envelope>`, ""},
		{"unclosed", hdr + `<wsse:Security><a/></soap:Header><soap:Body/></soap:Envelope>`, ""},
		{"closed with another prefix", hdr + `<wsse:Security>v</x:Security></soap:Header><soap:Body/></soap:Envelope>`, ""},
		{"in the body", hdr + `</soap:Header><soap:Body><wsse:Security>v</wsse:Security></soap:Body></soap:Envelope>`, ""},
		{"SecurityToken is not Security", hdr + `<wsse:SecurityToken>v</wsse:SecurityToken></soap:Header><soap:Body/></soap:Envelope>`, ""},
		{"empty", "", ""},
		{"just a tag", "<Security>", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start, end, ok := rawSecurity([]byte(tc.doc))
			got := ""
			if ok {
				got = tc.doc[start:end]
			}
			if got != tc.want {
				t.Fatalf("rawSecurity = %q, want %q", got, tc.want)
			}
		})
	}
}

// FuzzRawSecurity: never a panic; what is found is a Security element
// inside the document, ending before any Body.
func FuzzRawSecurity(f *testing.F) {
	f.Add([]byte(`<s:Envelope><s:Header><w:Security>x</w:Security></s:Header><s:Body/></s:Envelope>`))
	f.Add([]byte(`<Security></Security>`))
	f.Add([]byte(`<w:Security><w:Security></w:Security>`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		start, end, ok := rawSecurity(doc)
		if !ok {
			return
		}
		if start < 0 || end > len(doc) || start >= end || doc[start] != '<' || !bytes.HasSuffix(doc[:end], []byte("Security>")) {
			t.Fatalf("rawSecurity(%q) = %d, %d", doc, start, end)
		}
		if b := bytes.Index(doc, []byte(":Body")); b >= 0 && b < end {
			t.Fatalf("found a Security element ending after a Body: %q", doc)
		}
	})
}
