package dmptest

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/beevik/etree"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/sync/dmp/fhir"
)

// The sandbox's XDS.b / SOAP 1.2 side: the same store, patients, access
// rules and audit as the FHIR side, behind the DMP's four SOAP services.
// It is written apart from the client (sync/dmp/xds): requests are read
// with etree, the VIHF is verified with goxmldsig (xds_vihf.go), answers
// are written by hand here.

// XDSBasePath is where the SOAP services are served.
const XDSBasePath = "/si-dmp-server/v2/services"

// Namespaces the sandbox reads and writes.
const (
	xNSSOAP  = "http://www.w3.org/2003/05/soap-envelope"
	xNSWSA   = "http://www.w3.org/2005/08/addressing"
	xNSWSSE  = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
	xNSSAML  = "urn:oasis:names:tc:SAML:2.0:assertion"
	xNSRim   = "urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0"
	xNSRs    = "urn:oasis:names:tc:ebxml-regrep:xsd:rs:3.0"
	xNSQuery = "urn:oasis:names:tc:ebxml-regrep:xsd:query:3.0"
	xNSLcm   = "urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0"
	xNSXDSb  = "urn:ihe:iti:xds-b:2007"
	xNSXOP   = "http://www.w3.org/2004/08/xop/include"
	xNSHL7   = "urn:hl7-org:v3"
	xNSHabil = "urn:si-dmp-habilitations"

	xStatusApproved   = "urn:oasis:names:tc:ebxml-regrep:StatusType:Approved"
	xStatusDeprecated = "urn:oasis:names:tc:ebxml-regrep:StatusType:Deprecated"
	xStatusArchived   = "urn:asip:ci-sis:2010:StatusType:Archived"
	xStatusDeleted    = "urn:asip:ci-sis:2010:StatusType:Deleted"
	xSuccess          = "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Success"
	xFailure          = "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Failure"
	xSevError         = "urn:oasis:names:tc:ebxml-regrep:ErrorSeverityType:Error"
	xRepositoryID     = "1.2.250.1.213.1.1.9.99" // the sandbox repository's uniqueId

	xMaxRequest = 96 << 20
)

// soapReq is a parsed SOAP request.
type soapReq struct {
	action    string
	messageID string
	body      *etree.Element // first child of soap:Body
	assertion *etree.Element
	secKey    [32]byte          // SHA-256 of the raw wsse:Security element (the session key)
	known     *vihf             // the VIHF already verified for these exact bytes, if any
	parts     map[string][]byte // MTOM parts by Content-ID
}

// xdsFault is an answer refused at the SOAP level.
type xdsFault struct {
	status  int
	code    string // soap:Sender | soap:Receiver
	subcode string
	reason  string
}

func (f *xdsFault) Error() string { return f.subcode + ": " + f.reason }

func senderFault(subcode, format string, a ...any) *xdsFault {
	return &xdsFault{status: http.StatusInternalServerError, code: "soap:Sender", subcode: subcode, reason: fmt.Sprintf(format, a...)}
}

// denialFault is an access refusal, with its reason as the subcode.
func denialFault(d app.DenialReason) *xdsFault {
	return senderFault("dmp:ACCES_REFUSE."+string(d), "accès refusé")
}

// XDSHandler returns the handler of the SOAP services (under XDSBasePath).
// It must be served over TLS with verified client certificates.
func (s *Server) XDSHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST "+XDSBasePath+"/registry", s.soap(map[string]xdsOp{
		"urn:ihe:iti:2007:RegistryStoredQuery": s.xdsQuery,
		"urn:ihe:iti:2010:UpdateDocumentSet":   s.xdsUpdate,
	}))
	mux.Handle("POST "+XDSBasePath+"/repository", s.soap(map[string]xdsOp{
		"urn:ihe:iti:2007:RetrieveDocumentSet":             s.xdsRetrieve,
		"urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-b": s.xdsProvide,
	}))
	mux.Handle("POST "+XDSBasePath+"/patients", s.soap(map[string]xdsOp{"urn:hl7-org:v3:PRPA_IN201307UV02": s.xdsTD02}))
	mux.Handle("POST "+XDSBasePath+"/habilitations", s.soap(map[string]xdsOp{
		"urn:si-dmp-habilitations:HabilitationsEndPoint:setAuthorization": s.xdsSetAuthorization}))
	return s.withFaults(mux)
}

// xdsOp answers one action: the response action, its body, and attachments.
type xdsOp func(r *soapReq, c *caller) (action string, body string, parts []xPart, err error)

// xPart is an MTOM part of an answer.
type xPart struct {
	cid  string
	data []byte
}

// soap wraps the operations of one service: it reads the request, checks
// WS-Addressing and the VIHF, and writes the answer or the fault.
func (s *Server) soap(ops map[string]xdsOp) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := s.readSOAP(r)
		if err == nil && ops[req.action] == nil {
			err = senderFault("wsa:ActionNotSupported", "action not supported by this service")
		}
		var c *caller
		if err == nil {
			c, err = s.xdsAuthenticate(r, req)
		}
		var action, body string
		var parts []xPart
		if err == nil {
			action, body, parts, err = ops[req.action](req, c)
		}
		if err != nil {
			var f *xdsFault
			if !errors.As(err, &f) {
				f = &xdsFault{status: http.StatusInternalServerError, code: "soap:Receiver", subcode: "dmp:ERREUR_INTERNE", reason: "internal error"}
			}
			writeSOAP(w, r, f.status, "http://www.w3.org/2005/08/addressing/soap/fault", msgID(req), faultBody(f), nil)
			return
		}
		writeSOAP(w, r, http.StatusOK, action, req.messageID, body, parts)
	})
}

func msgID(r *soapReq) string {
	if r == nil {
		return ""
	}
	return r.messageID
}

func faultBody(f *xdsFault) string {
	var b strings.Builder
	b.WriteString(`<soap:Fault><soap:Code><soap:Value>` + f.code + `</soap:Value>`)
	if f.subcode != "" {
		b.WriteString(`<soap:Subcode><soap:Value xmlns:dmp="urn:carnet:sandbox:dmp" xmlns:wsse="` + xNSWSSE + `">` + xesc(f.subcode) + `</soap:Value></soap:Subcode>`)
	}
	b.WriteString(`</soap:Code><soap:Reason><soap:Text xml:lang="fr">` + xesc(f.reason) + `</soap:Text></soap:Reason></soap:Fault>`)
	return b.String()
}

// writeSOAP writes an envelope, as MTOM when there are parts.
//
// A plain SOAP answer is gzipped when the request accepts it (registry
// listings are large and compress well; whether the DMP compresses is not
// public: the client accepts either). MTOM answers are sent as they are.
//
// Both go out through one 16 kB buffer (gzipBufPool, the throttle's
// chunk): gzip and the multipart writer hand over a few bytes at a time,
// and the throttle queues every write behind all those already reserved, so
// that a dozen small writes would cost an answer a dozen trips through the
// queue where a link charges about one (see gzipChunk).
func writeSOAP(w http.ResponseWriter, r *http.Request, status int, action, relatesTo, body string, parts []xPart) {
	var env bytes.Buffer
	env.Grow(len(body) + 512)
	env.WriteString(`<soap:Envelope xmlns:soap="` + xNSSOAP + `" xmlns:wsa="` + xNSWSA + `"><soap:Header>`)
	env.WriteString(`<wsa:Action soap:mustUnderstand="true">` + xesc(action) + `</wsa:Action>`)
	env.WriteString(`<wsa:MessageID>urn:uuid:` + uuid4() + `</wsa:MessageID>`)
	if relatesTo != "" {
		env.WriteString(`<wsa:RelatesTo>` + xesc(relatesTo) + `</wsa:RelatesTo>`)
	}
	env.WriteString(`</soap:Header><soap:Body>`)
	env.WriteString(body)
	env.WriteString(`</soap:Body></soap:Envelope>`)
	if len(parts) == 0 {
		w.Header().Set("Content-Type", `application/soap+xml; charset=UTF-8`)
		if env.Len() >= 1024 && strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			w.Header().Set("Content-Encoding", "gzip")
			w.Header().Add("Vary", "Accept-Encoding")
			w.WriteHeader(status)
			bw := gzipBufPool.Get().(*bufio.Writer)
			bw.Reset(w)
			zw := xdsGzipPool.Get().(*gzip.Writer)
			zw.Reset(bw)
			_, _ = zw.Write(env.Bytes())
			_ = zw.Close()
			_ = bw.Flush()
			xdsGzipPool.Put(zw)
			bw.Reset(nil)
			gzipBufPool.Put(bw)
			return
		}
		w.WriteHeader(status)
		_, _ = w.Write(env.Bytes())
		return
	}
	boundary := "sandbox_" + strings.ReplaceAll(uuid4(), "-", "")
	w.Header().Set("Content-Type", `multipart/related; boundary="`+boundary+`"; type="application/xop+xml"; start="<root@sandbox>"; start-info="application/soap+xml"`)
	w.WriteHeader(status)
	bw := gzipBufPool.Get().(*bufio.Writer)
	bw.Reset(w)
	defer func() { bw.Reset(nil); gzipBufPool.Put(bw) }()
	mw := multipart.NewWriter(bw)
	_ = mw.SetBoundary(boundary)
	h := map[string][]string{"Content-Type": {`application/xop+xml; charset=UTF-8; type="application/soap+xml"`},
		"Content-Transfer-Encoding": {"binary"}, "Content-Id": {"<root@sandbox>"}}
	pw, _ := mw.CreatePart(h)
	_, _ = pw.Write(env.Bytes())
	for _, p := range parts {
		pw, _ := mw.CreatePart(map[string][]string{"Content-Type": {"application/octet-stream"}, "Content-Transfer-Encoding": {"binary"}, "Content-Id": {"<" + p.cid + ">"}})
		_, _ = pw.Write(p.data)
	}
	_ = mw.Close()
	_ = bw.Flush()
}

// xdsGzipPool holds gzip writers (each costs ~1 MB to allocate).
var xdsGzipPool = sync.Pool{New: func() any { zw, _ := gzip.NewWriterLevel(io.Discard, gzip.BestSpeed); return zw }}

// readSOAP reads a SOAP 1.2 request, plain or MTOM, with its parts.
//
// A server keeps a session: when the request's wsse:Security element is,
// byte for byte, one whose VIHF this sandbox has already verified (and not
// expired), that element is not parsed again — the rest of the envelope
// is. So the per-request cost is the small envelope, as on a real server,
// and the benchmarks measure the client.
func (s *Server) readSOAP(r *http.Request) (*soapReq, error) {
	body := io.LimitReader(r.Body, xMaxRequest+1)
	mt, params, err := parseContentType(r.Header.Get("Content-Type"))
	if err != nil {
		return nil, senderFault("dmp:REQUETE_INVALIDE", "bad content type")
	}
	var root []byte
	parts := map[string][]byte{}
	switch mt {
	case "application/soap+xml":
		var buf bytes.Buffer
		if r.ContentLength > 0 && r.ContentLength <= xMaxRequest {
			buf.Grow(int(r.ContentLength) + 1) // one allocation
		}
		_, err = buf.ReadFrom(body)
		root = buf.Bytes()
	case "multipart/related":
		if params["type"] != "application/xop+xml" {
			return nil, senderFault("dmp:REQUETE_INVALIDE", "multipart/related without type application/xop+xml")
		}
		mr := multipart.NewReader(body, params["boundary"])
		first := true
		for {
			p, perr := mr.NextPart()
			if perr == io.EOF {
				break
			}
			if perr != nil {
				return nil, senderFault("dmp:REQUETE_INVALIDE", "bad MTOM body: %v", perr)
			}
			data, rerr := io.ReadAll(p)
			if rerr != nil {
				return nil, senderFault("dmp:REQUETE_INVALIDE", "bad MTOM part")
			}
			if first {
				if ct := p.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/xop+xml") {
					return nil, senderFault("dmp:REQUETE_INVALIDE", "the root part is not application/xop+xml")
				}
				root, first = data, false
				continue
			}
			parts[strings.Trim(p.Header.Get("Content-Id"), "<> ")] = data
		}
	default:
		return nil, senderFault("dmp:REQUETE_INVALIDE", "unsupported content type %s", mt)
	}
	if err != nil {
		return nil, senderFault("dmp:REQUETE_INVALIDE", "reading the request")
	}
	if len(root) > xMaxRequest {
		return nil, senderFault("dmp:REQUETE_INVALIDE", "request too large")
	}
	if bytes.Contains(root, []byte("<!DOCTYPE")) || bytes.Contains(root, []byte("<!ENTITY")) {
		return nil, senderFault("dmp:REQUETE_INVALIDE", "DTDs are refused")
	}
	var secKey [32]byte
	var known *vihf
	if start, end, ok := rawSecurity(root); ok {
		secKey = sha256.Sum256(root[start:end])
		if known = s.knownVIHF(secKey); known != nil {
			root = append(append(make([]byte, 0, len(root)-(end-start)), root[:start]...), root[end:]...)
		}
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(root); err != nil {
		return nil, senderFault("dmp:REQUETE_INVALIDE", "malformed XML")
	}
	env := doc.Root()
	if env == nil || env.Tag != "Envelope" || env.NamespaceURI() != xNSSOAP {
		return nil, &xdsFault{status: http.StatusInternalServerError, code: "soap:VersionMismatch", reason: "SOAP 1.2 envelope expected"}
	}
	hdr := child(env, xNSSOAP, "Header")
	bodyEl := child(env, xNSSOAP, "Body")
	if hdr == nil || bodyEl == nil || len(bodyEl.ChildElements()) != 1 {
		return nil, senderFault("dmp:REQUETE_INVALIDE", "header and one body element required")
	}
	req := &soapReq{body: bodyEl.ChildElements()[0], parts: parts, secKey: secKey, known: known}
	act := child(hdr, xNSWSA, "Action")
	mid := child(hdr, xNSWSA, "MessageID")
	to := child(hdr, xNSWSA, "To")
	if act == nil || mid == nil || to == nil {
		return nil, senderFault("wsa:MessageAddressingHeaderRequired", "wsa:Action, wsa:MessageID and wsa:To are required")
	}
	if mu := attrNS(act, xNSSOAP, "mustUnderstand"); mu != "true" && mu != "1" {
		return nil, senderFault("wsa:InvalidAddressingHeader", "wsa:Action must carry soap:mustUnderstand")
	}
	req.action, req.messageID = strings.TrimSpace(act.Text()), strings.TrimSpace(mid.Text())
	if !strings.HasSuffix(strings.TrimSpace(to.Text()), r.URL.Path) {
		return nil, senderFault("wsa:InvalidAddressingHeader", "wsa:To is not this endpoint")
	}
	if sec := child(hdr, xNSWSSE, "Security"); sec != nil {
		req.assertion = child(sec, xNSSAML, "Assertion")
	}
	// Every xop:Include has its part and every part is referenced.
	refs := map[string]bool{}
	for _, inc := range req.body.FindElements(".//Include") {
		if inc.NamespaceURI() != xNSXOP {
			continue
		}
		cid := strings.TrimPrefix(inc.SelectAttrValue("href", ""), "cid:")
		if _, ok := parts[cid]; !ok {
			return nil, senderFault("dmp:REQUETE_INVALIDE", "xop:Include without its part")
		}
		refs[cid] = true
	}
	if len(refs) != len(parts) {
		return nil, senderFault("dmp:REQUETE_INVALIDE", "MTOM part not referenced")
	}
	return req, nil
}

// xdsAuthenticate identifies the caller: the TLS client certificate, and
// the VIHF verified and checked against it (xds_vihf.go).
func (s *Server) xdsAuthenticate(r *http.Request, req *soapReq) (*caller, error) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return nil, senderFault("wsse:FailedAuthentication", "a client certificate is required")
	}
	if req.assertion == nil && req.known == nil {
		return nil, senderFault("wsse:InvalidSecurity", "no VIHF in wsse:Security")
	}
	tlsID := s.peerIdentity(r.TLS.PeerCertificates[0])
	v := req.known
	if v == nil || !v.validAt(s.now()) {
		if req.assertion == nil {
			return nil, senderFault("wsse:InvalidSecurity", "VIHF: expired assertion")
		}
		var err error
		if v, err = s.cachedVIHF(req.assertion, req.secKey, s.xdsRoots(r), s.now()); err != nil {
			return nil, err
		}
	}
	// Indirect mode: the structure of the VIHF must be the certificate's
	// (DEVBOX FAQ: "Erreur d'authentification de la personne morale").
	if tlsID.Structure.ID != "" && v.structure != tlsID.Structure.ID {
		return nil, senderFault("wsse:FailedAuthentication", "[Indirecte] Erreur d'authentification de la personne morale")
	}
	// The VIHF may be signed by another certificate than the TLS one (the
	// organisation's seal, indirect mode), never by another structure's.
	if tlsID.Structure.ID != "" && v.signerStructure != "" && v.signerStructure != tlsID.Structure.ID {
		return nil, senderFault("wsse:FailedAuthentication", "the VIHF is signed by another structure's certificate")
	}
	if tlsID.RPPS != "" && v.nameID != tlsID.RPPS {
		return nil, senderFault("wsse:FailedAuthentication", "the VIHF professional is not the card holder")
	}
	c := &caller{RPPS: v.nameID, Name: v.subject, Profession: v.profession, Structure: v.structure, StructureName: tlsID.Structure.Name,
		Roles: tlsID.Roles, Justification: v.justification}
	switch v.mode {
	case "normal":
		c.Mode = fhir.ModeNormal
	case "bris_de_glace":
		c.Mode = fhir.ModeEmergency
	case "centre_15":
		c.Mode = fhir.ModeRegulation
	default:
		return nil, senderFault("wsse:InvalidSecurity", "unknown purposeofuse")
	}
	if v.patient != "" {
		ins, ok := parseCX(v.patient)
		if !ok {
			return nil, senderFault("wsse:InvalidSecurity", "resource-id is not an INS in CX form")
		}
		c.Patient = fhir.INSToken(ins)
	}
	return c, nil
}

// rawSecurity locates the raw bytes of the envelope's first Security
// element (from its start tag to its end tag), before any parsing. ok is
// false when there is none, or it is not inside the header.
func rawSecurity(doc []byte) (start, end int, ok bool) {
	start, ps, pe, found := findSecurity(doc)
	if !found {
		return 0, 0, false
	}
	prefix := ""
	if ps >= 0 {
		prefix = string(doc[ps:pe]) + ":"
	}
	closing := []byte("</" + prefix + "Security>")
	i := bytes.Index(doc[start:], closing)
	if i < 0 {
		return 0, 0, false
	}
	end = start + i + len(closing)
	// The element must lie in the header: no Body start before it ends.
	if b := bytes.Index(doc, []byte(":Body")); b >= 0 && b < end {
		return 0, 0, false
	}
	return start, end, true
}

// xdsRoots is the trust anchor of VIHF signatures: the CA that issued the
// client certificate (the sandbox's PKI).
func (s *Server) xdsRoots(r *http.Request) *x509.CertPool {
	pool := x509.NewCertPool()
	chains := r.TLS.VerifiedChains
	if len(chains) > 0 {
		ch := chains[0]
		pool.AddCert(ch[len(ch)-1])
	}
	return pool
}

// parseCX reads "matricule^^^&OID&ISO[^NH]".
func parseCX(s string) (app.INS, bool) {
	f := strings.Split(s, "^")
	if len(f) < 4 {
		return app.INS{}, false
	}
	a := strings.Split(f[3], "&")
	if len(a) != 3 || a[2] != "ISO" || f[0] == "" {
		return app.INS{}, false
	}
	return app.INS{Matricule: f[0], OID: a[1]}, true
}

// cx is the XDS patient id of ins.
func cx(ins app.INS) string { return ins.Matricule + "^^^&" + ins.OID + "&ISO^NH" }

// child returns the first child element ns:tag.
func child(e *etree.Element, ns, tag string) *etree.Element {
	if e == nil {
		return nil
	}
	for _, c := range e.ChildElements() {
		if c.Tag == tag && c.NamespaceURI() == ns {
			return c
		}
	}
	return nil
}

// attrNS returns the value of the attribute ns:key.
func attrNS(e *etree.Element, ns, key string) string {
	for _, a := range e.Attr {
		if a.Key == key && a.NamespaceURI() == ns {
			return a.Value
		}
	}
	return ""
}

// xesc escapes text and attribute values.
func xesc(s string) string {
	if !strings.ContainsAny(s, `&<>"`) {
		return s
	}
	var b bytes.Buffer
	for _, r := range s {
		switch r {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '"':
			b.WriteString("&quot;")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// registryFailure is an ebRS failure answer body of element el.
func registryFailure(el, code, context string) string {
	tag, _, _ := strings.Cut(el, " ")
	return `<` + el + ` status="` + xFailure + `"><rs:RegistryErrorList><rs:RegistryError errorCode="` + code + `" codeContext="` + xesc(context) +
		`" severity="` + xSevError + `"/></rs:RegistryErrorList></` + tag + `>`
}

func hexSHA1(b []byte) string { s := sha1.Sum(b); return hex.EncodeToString(s[:]) }

func hl7(t time.Time) string { return t.UTC().Format("20060102150405") }

// parseHL7 reads an HL7 v2 DTM in UTC at any precision from the year to
// the second (YYYY[MM[DD[hh[mm[ss]]]]]), as query time parameters carry it.
func parseHL7(v string) (time.Time, error) {
	const full = "20060102150405"
	switch len(v) {
	case 4, 6, 8, 10, 12, 14:
		return time.Parse(full[:len(v)], v)
	}
	return time.Time{}, fmt.Errorf("dmptest: HL7 time of %d characters", len(v))
}

var _ = base64.StdEncoding
