package dmptest

import (
	"bytes"
	"crypto/x509"
	"mime"
	"regexp"
	"sync"

	"github.com/carnetdesk/carnet/crypto/credential"
)

// What the XDS side remembers or scans instead of recomputing per
// request, each equal to what it replaces: the identity of a client
// certificate, the parsed Content-Type of plain SOAP requests, the
// position of the wsse:Security start tag (TestFindSecurityMatchesRegexp,
// FuzzFindSecurity, TestParseContentTypeRemembered).

// peerIdentity is credential.ParseIdentity of a client certificate,
// remembered per certificate (the same one serves every request of a
// connection; the identity is a function of the certificate alone).
func (s *Server) peerIdentity(cert *x509.Certificate) credential.Identity {
	if id, ok := s.identities.Load(cert); ok {
		return id.(credential.Identity)
	}
	id := credential.ParseIdentity(cert)
	s.identities.Store(cert, id)
	return id
}

// contentTypes remembers the parsed Content-Type values of plain SOAP
// requests (a handful of strings: one per action); multipart ones, whose
// boundary changes with every request, are parsed each time.
var contentTypes sync.Map // string → parsedType

type parsedType struct {
	mt     string
	params map[string]string
}

// parseContentType is mime.ParseMediaType, remembered for plain SOAP.
// The params map of a remembered value is shared: read it only.
func parseContentType(v string) (string, map[string]string, error) {
	if p, ok := contentTypes.Load(v); ok {
		pt := p.(parsedType)
		return pt.mt, pt.params, nil
	}
	mt, params, err := mime.ParseMediaType(v)
	if err == nil && mt == "application/soap+xml" && len(v) < 512 {
		contentTypes.Store(v, parsedType{mt, params})
	}
	return mt, params, err
}

// securityStart is the regular expression rawSecurity's scan implements.
var securityStart = regexp.MustCompile(`<(?:([A-Za-z_][-.\w]*):)?Security[\s/>]`)

// findSecurity finds the first start tag securityStart matches: its start
// and the prefix's bounds (-1 without a prefix), as FindSubmatchIndex
// would give them, by a scan for "Security" instead of the regexp engine.
func findSecurity(doc []byte) (start, pStart, pEnd int, ok bool) {
	isFirst := func(c byte) bool { return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '_' }
	isName := func(c byte) bool { return isFirst(c) || c >= '0' && c <= '9' || c == '-' || c == '.' }
	var best, bs, be int
	for off := 0; ; {
		i := bytes.Index(doc[off:], []byte("Security"))
		if i < 0 {
			break
		}
		i += off
		off = i + 1
		after := i + len("Security")
		if after >= len(doc) {
			break
		}
		if c := doc[after]; c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != '/' && c != '>' {
			continue
		}
		if i > 0 && doc[i-1] == '<' {
			best, bs, be = i-1, -1, -1
		} else if i > 1 && doc[i-1] == ':' {
			// <prefix:Security: the prefix is the whole run of name
			// characters before the colon, after a '<', starting with a
			// letter or '_'.
			j := i - 2
			for j >= 0 && isName(doc[j]) {
				j--
			}
			if j < 0 || j == i-2 || doc[j] != '<' || !isFirst(doc[j+1]) {
				continue
			}
			best, bs, be = j, j+1, i-1
		} else {
			continue
		}
		return best, bs, be, true
	}
	return 0, 0, 0, false
}
