package mailbox

import (
	"bytes"
	"io"
	"mime"
	"net/url"
	"path"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-message/charset"
)

// Part is one leaf of a message's MIME tree, as seen in an IMAP
// BODYSTRUCTURE or by WalkMIME.
type Part struct {
	Path        []int             // IMAP part path: [2 3] is BODY[2.3]; forwarded mails nest
	MediaType   string            // lower-case type/subtype
	Params      map[string]string // Content-Type parameters, keys lower-case
	Disposition string            // lower-case Content-Disposition value, "" when absent
	FileName    string            // decoded file name (RFC 2231, RFC 2047), "" when none
	Encoding    string            // Content-Transfer-Encoding, lower-case
	Size        int64             // encoded size (BODYSTRUCTURE) or decoded size (WalkMIME)
	Depth       int               // nesting depth (multipart and message/rfc822 levels)
	Body        []byte            // decoded content; WalkMIME only, for the parts Carnet reads
}

// Section returns the IMAP section of the part: "2.3".
func (p Part) Section() string {
	s := make([]string, len(p.Path))
	for i, n := range p.Path {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ".")
}

// partKind is what Carnet makes of a part.
type partKind int

const (
	kindOther partKind = iota
	kindXDM            // an IHE_XDM.ZIP (or another ZIP)
	kindCDA            // a bare CDA document
	kindPDF            // a PDF
)

// classify says what a leaf part is, from its decoded name and its media
// type: IHE_XDM.ZIP whatever the case of its name and whether it was sent as
// application/zip, application/x-zip-compressed or application/octet-stream.
func classify(p Part) partKind {
	name := strings.ToLower(p.FileName)
	ext := path.Ext(name)
	switch p.MediaType {
	case "application/zip", "application/x-zip-compressed", "application/x-zip", "multipart/x-zip":
		return kindXDM
	case "application/pdf", "application/x-pdf":
		return kindPDF
	case "application/hl7-v3", "application/hl7-cda+xml", "application/cda+xml":
		return kindCDA
	}
	switch {
	case strings.EqualFold(name, "ihe_xdm.zip") || ext == ".zip":
		return kindXDM
	case ext == ".pdf":
		return kindPDF
	case ext == ".xml" && (p.MediaType == "text/xml" || p.MediaType == "application/xml" ||
		p.MediaType == "application/octet-stream" || p.MediaType == "text/plain"):
		return kindCDA
	}
	return kindOther
}

// secureKind reports whether a media type is a signed or encrypted
// container (PGP/MIME, S/MIME): "encrypted", "signed" or "".
func secureKind(mediaType string, params map[string]string) string {
	switch mediaType {
	case "multipart/encrypted":
		return "encrypted"
	case "multipart/signed", "application/pkcs7-signature", "application/x-pkcs7-signature":
		return "signed"
	case "application/pkcs7-mime", "application/x-pkcs7-mime":
		if strings.Contains(strings.ToLower(params["smime-type"]), "signed") {
			return "signed"
		}
		return "encrypted"
	}
	return ""
}

// wordDecoder decodes RFC 2047 encoded words in any charset go-message
// knows.
var wordDecoder = &mime.WordDecoder{CharsetReader: charset.Reader}

// decode2047 decodes RFC 2047 encoded words; s is returned as is when it
// cannot be decoded.
func decode2047(s string) string {
	if !strings.Contains(s, "=?") {
		return s
	}
	d, err := wordDecoder.DecodeHeader(s)
	if err != nil {
		return s
	}
	return d
}

// paramValue returns the decoded value of parameter key in params, whose
// keys are as sent (lower-cased): a plain value (RFC 2047 words decoded,
// as many senders put them there), an RFC 2231 extended value
// "key*=charset'lang'percent-encoded" in any charset go-message knows, or
// RFC 2231 continuations "key*0*", "key*1", … in order.
func paramValue(params map[string]string, key string) string {
	if v, ok := params[key+"*"]; ok {
		if d, ok := decode2231(v, true); ok {
			return d
		}
	}
	type seg struct {
		n   int
		enc bool
		v   string
	}
	var segs []seg
	for k, v := range params {
		rest, ok := strings.CutPrefix(k, key+"*")
		if !ok || rest == "" {
			continue
		}
		enc := strings.HasSuffix(rest, "*")
		n, err := strconv.Atoi(strings.TrimSuffix(rest, "*"))
		if err != nil || n < 0 || n > 999 {
			continue
		}
		segs = append(segs, seg{n, enc, v})
	}
	if len(segs) > 0 {
		sort.Slice(segs, func(i, j int) bool { return segs[i].n < segs[j].n })
		cs := ""
		var raw bytes.Buffer
		for i, s := range segs {
			if s.n != i {
				break // a gap: keep what is contiguous
			}
			v := s.v
			if s.enc {
				if i == 0 {
					parts := strings.SplitN(v, "'", 3)
					if len(parts) == 3 {
						cs, v = parts[0], parts[2]
					}
				}
				b, err := url.PathUnescape(v)
				if err != nil {
					b = v
				}
				raw.WriteString(b)
				continue
			}
			raw.WriteString(v)
		}
		if d, ok := toUTF8(cs, raw.Bytes()); ok {
			return d
		}
	}
	if v, ok := params[key]; ok {
		return decode2047(v)
	}
	return ""
}

// decode2231 decodes an RFC 2231 extended value charset'lang'value.
func decode2231(v string, withCharset bool) (string, bool) {
	cs := ""
	if withCharset {
		parts := strings.SplitN(v, "'", 3)
		if len(parts) != 3 {
			return "", false
		}
		cs, v = parts[0], parts[2]
	}
	b, err := url.PathUnescape(v)
	if err != nil {
		return "", false
	}
	return toUTF8(cs, []byte(b))
}

// toUTF8 converts b from charset cs (UTF-8 or ASCII when empty).
func toUTF8(cs string, b []byte) (string, bool) {
	switch strings.ToLower(cs) {
	case "", "utf-8", "utf8", "us-ascii":
		if !utf8.Valid(b) {
			return "", false
		}
		return string(b), true
	}
	r, err := charset.Reader(cs, bytes.NewReader(b))
	if err != nil {
		return "", false
	}
	out, err := io.ReadAll(io.LimitReader(r, 4096))
	if err != nil || !utf8.Valid(out) {
		return "", false
	}
	return string(out), true
}

// parseParams splits a header value "type; a=b; c*=…" into its lower-case
// value and its parameters (keys lower-case, values unquoted, not decoded).
// Unlike mime.ParseMediaType it keeps RFC 2231 parameters in every charset
// for paramValue, and tolerates sloppy senders (missing quotes, stray
// semicolons, duplicate keys: the first wins).
func parseParams(v string) (string, map[string]string) {
	params := map[string]string{}
	value, rest, _ := strings.Cut(v, ";")
	for len(rest) > 0 && len(params) < 64 {
		rest = strings.TrimLeft(rest, " \t\r\n;")
		k, after, ok := strings.Cut(rest, "=")
		if !ok {
			break
		}
		k = strings.ToLower(strings.TrimSpace(k))
		after = strings.TrimLeft(after, " \t\r\n")
		var val string
		if strings.HasPrefix(after, `"`) {
			var b strings.Builder
			i := 1
			for ; i < len(after); i++ {
				c := after[i]
				if c == '\\' && i+1 < len(after) {
					i++
					b.WriteByte(after[i])
					continue
				}
				if c == '"' {
					i++
					break
				}
				b.WriteByte(c)
			}
			val = b.String()
			rest = after[min(i, len(after)):]
			if j := strings.IndexByte(rest, ';'); j >= 0 {
				rest = rest[j:]
			} else {
				rest = ""
			}
		} else {
			val, rest, _ = strings.Cut(after, ";")
			val = strings.TrimSpace(val)
			if rest != "" {
				rest = ";" + rest
			}
		}
		if _, dup := params[k]; !dup && k != "" {
			params[k] = val
		}
	}
	return strings.ToLower(strings.TrimSpace(value)), params
}

// fileName returns the decoded file name of a part from its disposition
// and Content-Type parameters (filename first, then name).
func fileName(dispParams, typeParams map[string]string) string {
	if n := paramValue(dispParams, "filename"); n != "" {
		return cleanName(n)
	}
	return cleanName(paramValue(typeParams, "name"))
}

// cleanName keeps the last path element of a file name and drops control
// characters: a name is shown and matched, never used as a path.
func cleanName(n string) string {
	n = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, n)
	if i := strings.LastIndexAny(n, `/\`); i >= 0 {
		n = n[i+1:]
	}
	if len(n) > 255 {
		n = n[:255]
	}
	return strings.TrimSpace(n)
}
