package xds

import (
	"bytes"
	"crypto/rand"
	"encoding/xml"
	"fmt"
	"io"
	"strings"

	"github.com/carnetdesk/carnet/app"
)

// The SOAP actions (wsa:Action) of the transactions Carnet uses.
const (
	ActionRegistryStoredQuery         = "urn:ihe:iti:2007:RegistryStoredQuery"
	ActionRegistryStoredQueryResponse = "urn:ihe:iti:2007:RegistryStoredQueryResponse"
	ActionProvideAndRegister          = "urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-b"
	ActionProvideAndRegisterResponse  = "urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-bResponse"
	ActionRetrieve                    = "urn:ihe:iti:2007:RetrieveDocumentSet"
	ActionRetrieveResponse            = "urn:ihe:iti:2007:RetrieveDocumentSetResponse"
	ActionUpdateDocumentSet           = "urn:ihe:iti:2010:UpdateDocumentSet"
	ActionUpdateDocumentSetResponse   = "urn:ihe:iti:2010:UpdateDocumentSetResponse"
)

// Header is the WS-Addressing header of an outgoing message.
type Header struct {
	MessageID string // urn:uuid:…; NewMessageID when empty
	To        string // the endpoint URL
	Action    string // the wsa:Action, with soap:mustUnderstand="true"
	// Security is the VIHF assertion, already signed, in its exact bytes
	// (written as is inside wsse:Security); none when empty.
	Security []byte
}

// NewMessageID returns a fresh "urn:uuid:…" message id.
func NewMessageID() string { return "urn:uuid:" + newUUID() }

// newUUID returns a random (version 4) UUID in its canonical text form.
func newUUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("xds: no randomness: " + err.Error())
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// writeEnvelope writes a SOAP 1.2 envelope with h's header and the body that
// body writes. The envelope declares only the prefixes soap, wsa and wsse, so
// that the VIHF inside keeps the exclusive canonical form it was signed in.
func writeEnvelope(w io.Writer, h Header, body func(w *bytes.Buffer)) error {
	if bb, ok := w.(*bytes.Buffer); ok { // written in place: no second copy
		bb.Grow(len(h.Security) + 4096)
		envelopeTo(bb, h, body)
		return nil
	}
	var b bytes.Buffer
	b.Grow(len(h.Security) + 4096)
	envelopeTo(&b, h, body)
	_, err := w.Write(b.Bytes())
	return err
}

// envelopeTo writes the envelope into b.
func envelopeTo(b *bytes.Buffer, h Header, body func(w *bytes.Buffer)) {
	b.WriteString(`<soap:Envelope xmlns:soap="` + NSSOAP + `" xmlns:wsa="` + NSWSA + `">`)
	b.WriteString(`<soap:Header>`)
	b.WriteString(`<wsa:MessageID>`)
	escape(b, h.MessageID)
	b.WriteString(`</wsa:MessageID><wsa:To>`)
	escape(b, h.To)
	b.WriteString(`</wsa:To><wsa:Action soap:mustUnderstand="true">`)
	escape(b, h.Action)
	b.WriteString(`</wsa:Action>`)
	if len(h.Security) > 0 {
		b.WriteString(`<wsse:Security xmlns:wsse="` + NSWSSE + `">`)
		b.Write(h.Security)
		b.WriteString(`</wsse:Security>`)
	}
	b.WriteString(`</soap:Header><soap:Body>`)
	body(b)
	b.WriteString(`</soap:Body></soap:Envelope>`)
}

// escape writes s as XML character data (also safe in attribute values).
func escape(b *bytes.Buffer, s string) {
	_ = xml.EscapeText(b, []byte(s))
}

// attrEsc returns s escaped for an attribute value.
func attrEsc(s string) string {
	var b bytes.Buffer
	escape(&b, s)
	return b.String()
}

// Envelope is a parsed SOAP 1.2 message.
type Envelope struct {
	Action    string
	MessageID string
	RelatesTo string
	Header    *node
	Body      *node // the first element child of soap:Body
}

// Fault is a SOAP 1.2 fault, as the service sent it. Its text is the
// service's and is never shown to the user as such.
type Fault struct {
	Code    string // soap:Value of soap:Code (e.g. soap:Sender)
	Subcode string // the first soap:Subcode value, when present
	Reason  string
	Status  int // the HTTP status it came with (500 usually)
}

// Error implements error.
func (f *Fault) Error() string {
	s := "soap fault " + f.Code
	if f.Subcode != "" {
		s += " (" + f.Subcode + ")"
	}
	return s
}

// Unwrap classifies the fault: sender faults about security or the VIHF are
// access refusals, other sender faults invalid requests, the rest server
// faults.
func (f *Fault) Unwrap() error {
	code := localPart(f.Code)
	sub := strings.ToLower(f.Subcode + " " + f.Reason)
	if r, ok := strings.CutPrefix(localPart(f.Subcode), FaultDenialPrefix); ok {
		switch d := app.DenialReason(r); d {
		case app.DeniedBlocked, app.DeniedNoAuthorization, app.DeniedClosed, app.DeniedNoRecord, app.DeniedProfession,
			app.DeniedJustification, app.DeniedNotRegulator, app.DeniedNotAuthor, app.DeniedNotQualified:
			return &app.AccessError{Reason: d}
		}
		return &app.AccessError{Reason: app.DeniedOther}
	}
	switch {
	case code == "Sender" && (strings.Contains(sub, "security") || strings.Contains(sub, "vihf") ||
		strings.Contains(sub, "authentif") || strings.Contains(sub, "assertion")):
		return &app.AccessError{Reason: app.DeniedOther}
	case code == "Sender" || code == "MustUnderstand" || code == "VersionMismatch" || code == "DataEncodingUnknown":
		return app.ErrInvalid
	default:
		return app.ErrServer
	}
}

// FaultDenialPrefix starts the SOAP fault subcode of an access refusal with
// its reason (ACCES_REFUSE.no_authorization …). It is Carnet's convention,
// spoken by the sandbox: the DMP's own refusal codes are not public (open
// question §14.11); map them here once known.
const FaultDenialPrefix = "ACCES_REFUSE."

// Expired reports whether the fault says the VIHF assertion expired (or is
// not yet valid): the client then signs a fresh one and tries once more.
func (f *Fault) Expired() bool {
	s := strings.ToLower(f.Subcode + " " + f.Reason)
	return strings.Contains(s, "expir") || strings.Contains(s, "notonorafter") || strings.Contains(s, "notbefore")
}

// localPart returns the part after the prefix of a QName value.
func localPart(q string) string {
	q = strings.TrimSpace(q)
	if i := strings.LastIndexByte(q, ':'); i >= 0 {
		return q[i+1:]
	}
	return q
}

// ReadEnvelope parses a SOAP 1.2 envelope of at most limit bytes. A SOAP
// fault in the body is returned as a *Fault error (with the envelope).
// wantRelatesTo, when not empty, must equal the response's wsa:RelatesTo.
func ReadEnvelope(r io.Reader, limit int64, wantRelatesTo string) (*Envelope, error) {
	root, err := parseXML(r, limit)
	if err != nil {
		return nil, err
	}
	if !root.is(NSSOAP, "Envelope") {
		return nil, fmt.Errorf("xds: not a SOAP 1.2 envelope (%s): %w", root.Name.Local, app.ErrServer)
	}
	env := &Envelope{Header: root.child(NSSOAP, "Header")}
	env.Action = env.Header.child(NSWSA, "Action").text()
	env.MessageID = env.Header.child(NSWSA, "MessageID").text()
	env.RelatesTo = env.Header.child(NSWSA, "RelatesTo").text()
	body := root.child(NSSOAP, "Body")
	if body == nil {
		return nil, fmt.Errorf("xds: SOAP envelope without a body: %w", app.ErrServer)
	}
	if len(body.Children) > 0 {
		env.Body = body.Children[0]
	}
	if env.Body.is(NSSOAP, "Fault") {
		f := env.Body
		code := f.child(NSSOAP, "Code")
		fault := &Fault{Code: code.child(NSSOAP, "Value").text()}
		if sc := code.child(NSSOAP, "Subcode"); sc != nil {
			fault.Subcode = sc.child(NSSOAP, "Value").text()
		}
		if rs := f.child(NSSOAP, "Reason"); rs != nil {
			fault.Reason = rs.child(NSSOAP, "Text").text()
		}
		return env, fault
	}
	if env.Body == nil {
		return nil, fmt.Errorf("xds: empty SOAP body: %w", app.ErrServer)
	}
	if wantRelatesTo != "" && env.RelatesTo != wantRelatesTo {
		return nil, fmt.Errorf("xds: response relates to another request: %w", app.ErrServer)
	}
	return env, nil
}
