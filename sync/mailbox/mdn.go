package mailbox

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	netmail "net/mail"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/emersion/go-message"
	gomail "github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"

	"github.com/carnetdesk/carnet/app"
)

// This file builds read receipts: RFC 8098 message disposition
// notifications in the format of the ANS volet "Transmission au LPS d'un
// document CDA provenant d'un courriel MSSanté" (struct-msg-mdn):
//
//	multipart/report; report-type=disposition-notification
//	  1. text/plain, in French, with the ANS code and label on failure
//	  2. message/disposition-notification: Reporting-UA, Original-Recipient,
//	     Final-Recipient, Original-Message-ID and
//	     "Disposition: automatic-action/MDN-sent-automatically; processed"
//	     or "…; processed/Error: <code>^<libellé>"
//	  3. text/rfc822-headers: the header of the original message
//	  4… the original IHE_XDM.zip and PDF, re-attached as the volet asks
//	     (beyond the three parts of RFC 6522, which readers ignore)
//
// Every value that comes from the incoming message (addresses,
// Message-ID, subject, its header block, file names) is hostile input:
// addresses and identifiers are checked against their grammar and dropped
// or refused when they do not fit, text is stripped of control characters,
// bounded and RFC 2047-encoded, so that nothing can add a header field, a
// recipient or a MIME part.

// ErrBadRecipient: the Disposition-Notification-To of a message is not a
// plain mail address (several addresses, a group, control characters, non
// ASCII, too long): no receipt is sent.
var ErrBadRecipient = fmt.Errorf("mailbox: read receipt: recipient is not a plain address: %w", app.ErrInvalid)

// Bounds of what a receipt takes from the original message.
const (
	maxSubjectRunes    = 200      // of the original subject
	maxHeaderCopy      = 64 << 10 // of the original header block (part 3)
	maxMsgIDLen        = 250      // of a Message-ID (RFC 5322 line length leaves room)
	maxAddrLen         = 254      // of a mail address (RFC 5321 path)
	maxFileNameRunes   = 100      // of a re-attached file name
	defaultMaxAttach   = 20 << 20 // re-attached documents, all together
	reportingUAName    = "carnet"
	reportingUAProduct = "Carnet (import MSSante)"
)

// ansError is the ANS code and label (accented, for the human part) of
// what kept a message from being filed: the error table of the volet
// (902 to 905) for the identity reasons, and 207 "Application error" of
// the HL7 table, with Carnet's own label, for the others.
func ansError(outcome app.MailOutcome, reason app.MatchReason) (int, string) {
	switch reason.Code() {
	case 902:
		return 902, "Identifiant patient inconnu"
	case 903:
		return 903, "INS non présent dans le document"
	case 904:
		return 904, "L'INS transmis ne correspond pas exactement à celui stocké dans la base du consommateur"
	case 905:
		return 905, "L'INS transmis n'est pas complet"
	}
	switch {
	case outcome == app.OutcomeQuarantined || reason == app.ReasonQuarantine:
		return 207, "Erreur applicative : message refusé (pièce jointe ou structure illisible, ou trop volumineuse)"
	case reason == app.ReasonConflict:
		return 207, "Erreur applicative : un document de même identifiant et de contenu différent existe déjà"
	case reason == app.ReasonNoReport:
		return 207, "Erreur applicative : aucun document CDA exploitable dans le message"
	}
	return 207, "Erreur applicative : intégration manuelle nécessaire"
}

// mdnInput is what buildMDN needs besides the receipt.
type mdnInput struct {
	Receipt   app.Receipt
	From      string    // the BAL address (checked by the caller)
	Date      time.Time // of the receipt
	MessageID string    // of the receipt, without angle brackets
	// MaxAttach bounds the re-attached documents; negative: none.
	MaxAttach int64
}

// mdnSubject is the subject of a receipt: the original subject (the ANS
// convention, "XDM/1.0/DDM+…"), prefixed "[KO Intégration système !][code]"
// on failure. Patient identity in it goes back to the sender, who wrote
// it; it is never logged.
func mdnSubject(r app.Receipt) string {
	s := cleanText(r.Message.Subject, maxSubjectRunes)
	if s == "" {
		s = "Accusé de lecture"
	}
	if r.Failed() {
		code, _ := ansError(r.Outcome, r.Reason)
		s = "[KO Intégration système !][" + strconv.Itoa(code) + "] " + s
	}
	return s
}

// disposition is the value of the Disposition field.
func disposition(r app.Receipt) string {
	mode := "automatic-action/MDN-sent-automatically"
	if r.Manual {
		mode = "manual-action/MDN-sent-manually"
	}
	d := mode + "; processed"
	if r.Failed() {
		code, label := ansError(r.Outcome, r.Reason)
		d += "/Error: " + strconv.Itoa(code) + "^" + asciiText(label)
	}
	return d
}

// buildMDN writes the receipt. It fails only when the recipient is not a
// plain address (ErrBadRecipient) or the sender's is not valid; every other
// hostile value is cleaned or left out.
func buildMDN(in mdnInput) ([]byte, error) {
	r := in.Receipt
	to, ok := cleanAddress(r.Message.NotifyTo)
	if !ok {
		return nil, ErrBadRecipient
	}
	from, ok := cleanAddress(in.From)
	if !ok {
		return nil, fmt.Errorf("mailbox: read receipt: account address is not a plain address: %w", app.ErrInvalid)
	}
	origID := cleanMsgID(r.Message.Ref.MessageID)
	origHeader := headerBlock(r.Message.Raw)
	raw := r.Message.Raw
	if r.Outcome == app.OutcomeQuarantined {
		raw = nil // refused content: its body is never re-read nor re-sent
	}

	var h gomail.Header
	h.SetDate(in.Date)
	h.SetAddressList("From", []*gomail.Address{{Address: from}})
	h.SetAddressList("To", []*gomail.Address{{Address: to}})
	h.SetSubject(mdnSubject(r))
	if id := cleanMsgID(in.MessageID); id != "" {
		h.SetMessageID(id)
	}
	if origID != "" {
		h.SetMsgIDList("In-Reply-To", []string{origID})
		h.SetMsgIDList("References", []string{origID})
	}
	h.Set("Auto-Submitted", "auto-replied") // RFC 3834: no automatic answer to it
	h.SetContentType("multipart/report", map[string]string{"report-type": "disposition-notification"})

	var buf bytes.Buffer
	w, err := message.CreateWriter(&buf, h.Header)
	if err != nil {
		return nil, fmt.Errorf("mailbox: read receipt: header: %w", err)
	}
	atts := attachmentsOf(raw, in.MaxAttach)
	omitted := len(raw) > 0 && atts == nil && in.MaxAttach >= 0 && hasDocuments(raw)

	// 1. The human-readable part.
	var ph message.Header
	ph.SetContentType("text/plain", map[string]string{"charset": "utf-8"})
	ph.Set("Content-Transfer-Encoding", "quoted-printable")
	if err := writePart(w, ph, []byte(humanText(r, from, origID, omitted))); err != nil {
		return nil, err
	}

	// 2. The machine-readable part.
	origRcpt := "rfc822;" + from
	if a, ok := originalRecipient(origHeader); ok {
		origRcpt = "rfc822;" + a
	}
	var dn bytes.Buffer
	dn.WriteString("Reporting-UA: " + reportingUAName + "; " + reportingUAProduct + "\r\n")
	dn.WriteString("Original-Recipient: " + origRcpt + "\r\n")
	dn.WriteString("Final-Recipient: rfc822;" + from + "\r\n")
	if origID != "" {
		dn.WriteString("Original-Message-ID: <" + origID + ">\r\n")
	}
	dn.WriteString("Disposition: " + disposition(r) + "\r\n")
	var dh message.Header
	dh.SetContentType("message/disposition-notification", nil)
	dh.Set("Content-Transfer-Encoding", "7bit")
	if err := writePart(w, dh, dn.Bytes()); err != nil {
		return nil, err
	}

	// 3. The original header.
	if origHeader == nil {
		origHeader = minimalHeader(r.Message, origID)
	}
	var oh message.Header
	oh.SetContentType("text/rfc822-headers", map[string]string{"charset": "utf-8"})
	oh.Set("Content-Transfer-Encoding", "quoted-printable")
	if err := writePart(w, oh, origHeader); err != nil {
		return nil, err
	}

	// 4… The original documents.
	for _, a := range atts {
		var ah gomail.AttachmentHeader
		ah.SetContentType(a.mediaType, nil)
		ah.SetFilename(a.name)
		ah.Set("Content-Transfer-Encoding", "base64")
		if err := writePart(w, ah.Header, a.body); err != nil {
			return nil, err
		}
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("mailbox: read receipt: close: %w", err)
	}
	return buf.Bytes(), nil
}

// writePart writes one part of the report.
func writePart(w *message.Writer, h message.Header, body []byte) error {
	pw, err := w.CreatePart(h)
	if err != nil {
		return fmt.Errorf("mailbox: read receipt: part: %w", err)
	}
	if _, err := pw.Write(body); err != nil {
		return fmt.Errorf("mailbox: read receipt: part: %w", err)
	}
	if err := pw.Close(); err != nil {
		return fmt.Errorf("mailbox: read receipt: part: %w", err)
	}
	return nil
}

// humanText is the French text of the first part. It names the message by
// its Message-ID only (no subject, no patient).
func humanText(r app.Receipt, bal, origID string, omitted bool) string {
	var b strings.Builder
	b.WriteString("Bonjour,\r\n\r\n")
	ref := "Le message ci-dessous"
	if origID != "" {
		ref += " (Message-ID <" + origID + ">)"
	}
	if !r.Failed() {
		b.WriteString(ref + ", reçu dans la boîte " + bal + ", a été intégré automatiquement dans le dossier du patient.\r\n")
	} else {
		code, label := ansError(r.Outcome, r.Reason)
		b.WriteString(ref + ", reçu dans la boîte " + bal + ", n'a pas pu être intégré automatiquement dans le DPI pour la raison suivante : " +
			strconv.Itoa(code) + " " + label + ".\r\n")
		if r.Outcome == app.OutcomeQuarantined {
			b.WriteString("Il a été refusé et conservé pour examen ; aucun document n'en a été intégré.\r\n")
		} else {
			b.WriteString("Il a été placé en file de traitement manuel : un professionnel le rattachera au bon dossier ou le rejettera.\r\n")
		}
	}
	if omitted {
		b.WriteString("\r\nLes pièces jointes d'origine ne sont pas jointes à cet accusé (taille).\r\n")
	}
	if r.Manual {
		b.WriteString("\r\nCet accusé de lecture a été envoyé à la demande de l'utilisateur.\r\n")
	} else {
		b.WriteString("\r\nCet accusé de lecture a été envoyé automatiquement par le logiciel Carnet ; merci de ne pas y répondre.\r\n")
	}
	return b.String()
}

// cleanAddress returns the bare address of v when v is exactly one plain
// ASCII mail address (with or without angle brackets or a display name)
// of at most maxAddrLen characters, without control characters.
func cleanAddress(v string) (string, bool) {
	if len(v) > 4*maxAddrLen || strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return "", false
	}
	a, err := netmail.ParseAddress(strings.TrimSpace(v))
	if err != nil {
		return "", false
	}
	s := a.Address
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 || len(s) > maxAddrLen {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		// Printable ASCII without space, quotes, brackets or commas: the
		// address goes into RCPT TO and into header fields as is.
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"<>(),;:\[]`, c) >= 0 {
			return "", false
		}
	}
	return s, true
}

// cleanMsgID returns a Message-ID (without angle brackets) when it is made
// of printable ASCII without space nor angle brackets and is not too long,
// else "" (the field is then left out).
func cleanMsgID(id string) string {
	id = strings.TrimSpace(id)
	id = strings.TrimSuffix(strings.TrimPrefix(id, "<"), ">")
	if id == "" || len(id) > maxMsgIDLen {
		return ""
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c >= 0x7f || c == '<' || c == '>' {
			return ""
		}
	}
	return id
}

// cleanText makes s one line of at most max runes: control characters
// (C0, DEL, C1, line and paragraph separators) and invalid UTF-8 become
// spaces, runs of spaces one space.
func cleanText(s string, max int) string {
	var b strings.Builder
	n, space := 0, false
	for len(s) > 0 && n < max {
		r, size := utf8.DecodeRuneInString(s)
		s = s[size:]
		if r == utf8.RuneError || r < 0x20 || (r >= 0x7f && r < 0xa0) || r == '\u2028' || r == '\u2029' || unicode.IsSpace(r) {
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			n++
			space = false
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

// asciiText folds s to printable ASCII (French accents dropped, anything
// else "?"): for the machine-readable Disposition field.
func asciiText(s string) string {
	var b strings.Builder
	for _, r := range cleanText(s, 1<<10) {
		switch {
		case r < 0x7f:
			b.WriteRune(r)
		case strings.ContainsRune("àâä", r):
			b.WriteByte('a')
		case strings.ContainsRune("éèêë", r):
			b.WriteByte('e')
		case strings.ContainsRune("îï", r):
			b.WriteByte('i')
		case strings.ContainsRune("ôö", r):
			b.WriteByte('o')
		case strings.ContainsRune("ùûü", r):
			b.WriteByte('u')
		case r == 'ç':
			b.WriteByte('c')
		case r == 'É' || r == 'È':
			b.WriteByte('E')
		case r == '’':
			b.WriteByte('\'')
		default:
			b.WriteByte('?')
		}
	}
	return b.String()
}

// headerBlock returns the header of a raw message for the third part: at
// most maxHeaderCopy bytes cut at a line end, NUL and bare CR removed, line
// ends CRLF. nil when raw has no header.
func headerBlock(raw []byte) []byte {
	if len(raw) == 0 {
		return nil
	}
	end := len(raw)
	if i := bytes.Index(raw, []byte("\r\n\r\n")); i >= 0 {
		end = i + 2
	}
	if i := bytes.Index(raw[:end], []byte("\n\n")); i >= 0 {
		end = i + 1
	}
	if end > maxHeaderCopy {
		end = maxHeaderCopy
		if i := bytes.LastIndexByte(raw[:end], '\n'); i > 0 {
			end = i + 1
		}
	}
	var b bytes.Buffer
	for _, line := range bytes.Split(raw[:end], []byte("\n")) {
		line = bytes.TrimSuffix(line, []byte("\r"))
		line = bytes.Map(func(r rune) rune {
			if r == 0 || r == '\r' {
				return -1
			}
			return r
		}, line)
		if len(line) == 0 {
			continue
		}
		b.Write(line)
		b.WriteString("\r\n")
	}
	if b.Len() == 0 {
		return nil
	}
	return b.Bytes()
}

// minimalHeader stands for the original header when the raw message was
// not kept: its Message-ID, sender, date and subject, cleaned.
func minimalHeader(m app.Message, origID string) []byte {
	var h gomail.Header
	if origID != "" {
		h.SetMessageID(origID)
	}
	if a, ok := cleanAddress(m.From); ok {
		h.SetAddressList("From", []*gomail.Address{{Address: a}})
	}
	if !m.Date.IsZero() {
		h.SetDate(m.Date)
	}
	if s := cleanText(m.Subject, maxSubjectRunes); s != "" {
		h.SetSubject(s)
	}
	var b bytes.Buffer
	if err := writeFields(&b, h.Header); err != nil || b.Len() == 0 {
		return []byte("X-Carnet-Note: original header not kept\r\n")
	}
	return b.Bytes()
}

// writeFields writes the fields of h without the blank line that ends a
// header.
func writeFields(b *bytes.Buffer, h message.Header) error {
	var tmp bytes.Buffer
	if err := textproto.WriteHeader(&tmp, h.Header); err != nil {
		return err
	}
	b.Write(bytes.TrimSuffix(tmp.Bytes(), []byte("\r\n")))
	return nil
}

// originalRecipient returns the address of the Original-Recipient field
// of an original header ("rfc822;addr"), when it has a valid one.
func originalRecipient(header []byte) (string, bool) {
	if header == nil {
		return "", false
	}
	h, err := textproto.ReadHeader(bufio.NewReader(io.MultiReader(bytes.NewReader(header), strings.NewReader("\r\n"))))
	if err != nil {
		return "", false
	}
	typ, a, ok := strings.Cut(h.Get("Original-Recipient"), ";")
	if !ok || !strings.EqualFold(strings.TrimSpace(typ), "rfc822") {
		return "", false
	}
	return cleanAddress(a)
}

// attachment is an original document re-attached to a receipt.
type attachment struct {
	mediaType, name string
	body            []byte
}

// attachmentsOf returns the IHE_XDM archives and PDFs of raw, decoded, nil
// when there are none or they exceed max together (default
// defaultMaxAttach when 0; none when negative).
func attachmentsOf(raw []byte, max int64) []attachment {
	if len(raw) == 0 || max < 0 {
		return nil
	}
	if max == 0 {
		max = defaultMaxAttach
	}
	parts, _, err := WalkMIME(raw, Limits{})
	if err != nil {
		return nil
	}
	var atts []attachment
	var total int64
	for _, p := range parts {
		if p.Body == nil {
			continue
		}
		a := attachment{body: p.Body, name: cleanFileName(p.FileName)}
		switch classify(p) {
		case kindXDM:
			a.mediaType = "application/zip"
			if a.name == "" {
				a.name = "IHE_XDM.ZIP"
			}
		case kindPDF:
			a.mediaType = "application/pdf"
			if a.name == "" {
				a.name = "document.pdf"
			}
		default:
			continue
		}
		if total += int64(len(p.Body)); total > max {
			return nil
		}
		atts = append(atts, a)
	}
	return atts
}

// hasDocuments reports whether raw holds an XDM archive or a PDF.
func hasDocuments(raw []byte) bool {
	parts, _, err := WalkMIME(raw, Limits{})
	if err != nil {
		return false
	}
	for _, p := range parts {
		if k := classify(p); k == kindXDM || k == kindPDF {
			return true
		}
	}
	return false
}

// cleanFileName keeps the last element of a file name, without control
// characters nor path separators, bounded.
func cleanFileName(n string) string {
	if i := strings.LastIndexAny(n, `/\`); i >= 0 {
		n = n[i+1:]
	}
	n = cleanText(n, maxFileNameRunes)
	n = strings.Map(func(r rune) rune {
		if r == '"' || r == ':' || r == '*' || r == '?' || r == '<' || r == '>' || r == '|' {
			return '_'
		}
		return r
	}, n)
	return strings.Trim(n, ". ")
}

// newMessageID returns a fresh Message-ID at the domain of addr.
func newMessageID(addr string) string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	domain := "carnet.invalid"
	if i := strings.LastIndexByte(addr, '@'); i >= 0 && i < len(addr)-1 {
		domain = addr[i+1:]
	}
	return "mdn." + strconv.FormatInt(time.Now().UnixNano(), 36) + "." + hex.EncodeToString(b) + "@" + domain
}
