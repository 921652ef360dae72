package xds

import (
	"encoding/base64"
	"fmt"
	"strings"
	"unicode/utf8"
)

// This file writes the subset of XML that the VIHF uses directly in its
// exclusive canonical form (W3C exc-c14n 1.0): elements with explicit end
// tags, namespace declarations before attributes, attributes in canonical
// order, the canonical escapes. The assertion is therefore byte-identical to
// its canonicalisation, which is what is digested and signed; xmlsec1 and
// goxmldsig check it independently in the tests.

// The replacers of canonText and canonAttr, built once.
var (
	canonTextReplacer = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "\r", "&#xD;")
	canonAttrReplacer = strings.NewReplacer("&", "&amp;", "<", "&lt;", "\"", "&quot;", "\t", "&#x9;", "\n", "&#xA;", "\r", "&#xD;")
)

// canonText escapes character data as exc-c14n does.
func canonText(s string) string { return canonTextReplacer.Replace(s) }

// canonAttr escapes an attribute value as exc-c14n does.
func canonAttr(s string) string { return canonAttrReplacer.Replace(s) }

// checkChars refuses text that XML cannot carry (invalid UTF-8, control
// characters), so that what is signed is what is sent.
func checkChars(what, s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("xds: vihf: %s is not UTF-8", what)
	}
	for _, r := range s {
		if r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0xFFFE || r == 0xFFFF {
			return fmt.Errorf("xds: vihf: %s holds a control character", what)
		}
	}
	return nil
}

// decodeB64 decodes base64 text that may be wrapped on several lines.
func decodeB64(s string) ([]byte, error) {
	clean := strings.Map(func(r rune) rune {
		if r == ' ' || r == '\n' || r == '\r' || r == '\t' {
			return -1
		}
		return r
	}, s)
	return base64.StdEncoding.DecodeString(clean)
}
