package mailtest

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"html"
	"mime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/sync/mailbox/xdm"
)

// CDA describes a test CDA: a header the ANS way (recordTarget with the
// INS and the five traits) and a nonXMLBody.
type CDA struct {
	ID, SetID string
	Version   int         // 1 when 0
	Patient   app.Patient // traits and INS written in recordTarget
	NoINS     bool        // leave the INS out (903)
	Replaces  string      // the id of the document this version replaces (RPLC); none when empty
	Payload   []byte      // the body's content (a PDF in real life); a short text when nil
	MediaType string      // of the payload; "text/plain" when empty
}

// XML returns the CDA document.
func (d CDA) XML() []byte {
	p := d.Patient
	if d.SetID == "" {
		d.SetID = d.ID + ".0"
	}
	if d.Version == 0 {
		d.Version = 1
	}
	if d.Payload == nil {
		d.Payload = []byte("Résultats normaux.")
	}
	if d.MediaType == "" {
		d.MediaType = "text/plain"
	}
	id := ""
	if !d.NoINS {
		id = fmt.Sprintf(`<id root="%s" extension="%s"/>`, p.INS.OID, p.INS.Matricule)
	}
	rel := ""
	if d.Replaces != "" {
		rel = fmt.Sprintf(`<relatedDocument typeCode="RPLC"><parentDocument><id root="%s"/></parentDocument></relatedDocument>`, html.EscapeString(d.Replaces))
	}
	first, _, _ := strings.Cut(p.BirthGivenNames, " ")
	e := html.EscapeString
	return []byte(fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3">
  <typeId root="2.16.840.1.113883.1.3" extension="POCD_HD000040"/>
  <id root="%s"/>
  <code code="11502-2" codeSystem="2.16.840.1.113883.6.1" displayName="CR d'examens biologiques"/>
  <title>Compte rendu de biologie</title>
  <effectiveTime value="20261120093000+0100"/>
  <confidentialityCode code="N" codeSystem="2.16.840.1.113883.5.25"/>
  <setId root="%s"/>
  <versionNumber value="%d"/>
  <recordTarget><patientRole>%s<patient>
    <name><family qualifier="BR">%s</family><given>%s</given><given qualifier="BR">%s</given></name>
    <administrativeGenderCode code="%s" codeSystem="2.16.840.1.113883.5.1"/>
    <birthTime value="%s"/>
    <birthplace><place><addr><county>%s</county></addr></place></birthplace>
  </patient></patientRole></recordTarget>
  <author><time value="20261120093000+0100"/><assignedAuthor><id root="1.2.250.1.71.4.2.1" extension="810000000001"/>
    <assignedPerson><name><given>Anne</given><family>BIOLO</family></name></assignedPerson>
    <representedOrganization><name>Laboratoire X</name></representedOrganization></assignedAuthor></author>
  <custodian><assignedCustodian><representedCustodianOrganization><id root="1.2.250.1.71.4.2.2" extension="1234"/><name>Laboratoire X</name></representedCustodianOrganization></assignedCustodian></custodian>
  %s
  <component><nonXMLBody><text mediaType="%s" representation="B64">%s</text></nonXMLBody></component>
</ClinicalDocument>
`, d.ID, d.SetID, d.Version, id, e(p.BirthName), e(p.BirthGivenNames), e(first), p.Sex,
		strings.ReplaceAll(p.BirthDate, "-", ""), p.BirthPlace, rel, e(d.MediaType), base64.StdEncoding.EncodeToString(d.Payload)))
}

// RandomPDF returns n bytes that look like a PDF to a sniffer and do not
// compress (a scanned report's weight).
func RandomPDF(n int) []byte {
	b := make([]byte, max(n, 16))
	_, _ = rand.Read(b)
	copy(b, "%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	return b[:max(n, 16)]
}

// XDM returns an IHE_XDM.ZIP holding the CDA.
func XDM(d CDA) ([]byte, error) {
	return xdm.Build([]xdm.BuildDoc{{Content: d.XML(), UniqueID: d.ID, Patient: d.Patient.INS, Title: "Compte rendu de biologie"}},
		xdm.BuildOptions{Submitted: time.Date(2026, 11, 20, 8, 30, 0, 0, time.UTC), Sender: "Laboratoire X"})
}

// Part is one MIME entity: its header lines and its already encoded body.
type Part struct {
	Header string // header lines, CRLF-separated, without the blank line
	Body   string
}

// Text is a UTF-8 text/plain part.
func Text(s string) Part {
	return Part{"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit", strings.ReplaceAll(s, "\n", "\r\n")}
}

// Attachment is a base64 attachment named filename.
func Attachment(mediaType, filename string, b []byte) Part {
	return Part{fmt.Sprintf("Content-Type: %s; name=%q\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=%q",
		mediaType, filename, filename), B64Lines(b)}
}

// Forwarded is a message/rfc822 part holding a whole message.
func Forwarded(raw []byte) Part {
	return Part{"Content-Type: message/rfc822\r\nContent-Disposition: attachment; filename=\"message.eml\"", string(raw)}
}

// B64Lines encodes b in base64 lines of 76 characters.
func B64Lines(b []byte) string {
	s := base64.StdEncoding.EncodeToString(b)
	var out strings.Builder
	out.Grow(len(s) + len(s)/76*2)
	for len(s) > 76 {
		out.WriteString(s[:76] + "\r\n")
		s = s[76:]
	}
	out.WriteString(s)
	return out.String()
}

var boundaries atomic.Int64

// Multipart is a multipart/subtype entity of parts.
func Multipart(subtype string, parts ...Part) Part {
	boundary := fmt.Sprintf("=_carnet_%d_%d", time.Now().UnixNano(), boundaries.Add(1))
	var b strings.Builder
	b.WriteString("This is a multi-part message.\r\n")
	for _, p := range parts {
		b.WriteString("--" + boundary + "\r\n" + p.Header + "\r\n\r\n" + p.Body + "\r\n")
	}
	b.WriteString("--" + boundary + "--\r\n")
	return Part{fmt.Sprintf("Content-Type: multipart/%s; boundary=\"%s\"", subtype, boundary), b.String()}
}

// Header is the top-level header of a message.
type Header struct {
	From, To, Subject, MessageID string
	Date                         time.Time // 2026-11-20 09:30 +01:00 when zero
	Extra                        []string  // more header lines ("X-MSS-INS: O")
}

// Message builds a whole message around a root part. The subject is
// RFC 2047-encoded when it is not ASCII.
func Message(h Header, root Part) []byte {
	if h.Date.IsZero() {
		h.Date = time.Date(2026, 11, 20, 9, 30, 0, 0, time.FixedZone("CET", 3600))
	}
	if h.From == "" {
		h.From = "Laboratoire X <labo@labo-x.mssante.fr>"
	}
	if h.To == "" {
		h.To = "dr.test@clinique.mssante.fr"
	}
	var b strings.Builder
	b.WriteString("From: " + h.From + "\r\nTo: " + h.To + "\r\n")
	b.WriteString("Subject: " + mime.QEncoding.Encode("utf-8", h.Subject) + "\r\n")
	b.WriteString("Date: " + h.Date.Format(time.RFC1123Z) + "\r\n")
	if h.MessageID != "" {
		b.WriteString("Message-ID: <" + h.MessageID + ">\r\n")
	}
	b.WriteString("MIME-Version: 1.0\r\n")
	for _, x := range h.Extra {
		b.WriteString(x + "\r\n")
	}
	b.WriteString(root.Header + "\r\n\r\n" + root.Body)
	return []byte(b.String())
}

// XDMMail is the standard MSSanté mail: a text, the report as a PDF (when
// pdf is not nil) and the IHE_XDM.ZIP.
func XDMMail(h Header, zip, pdf []byte) []byte {
	if h.Subject == "" {
		h.Subject = "XDM/1.0/DDM+CR d'examens biologiques"
	}
	h.Extra = append(h.Extra, "X-MSS-INS: O", "X-MSS-CODECDA: 11502-2")
	parts := []Part{Text("Bonjour,\nci-joint le compte rendu.")}
	if pdf != nil {
		parts = append(parts, Attachment("application/pdf", "CR.pdf", pdf))
	}
	parts = append(parts, Attachment("application/zip", "IHE_XDM.ZIP", zip))
	return Message(h, Multipart("mixed", parts...))
}
