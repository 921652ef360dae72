package mailbox

import (
	"archive/zip"
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"html"
	"strings"
	"testing"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/sync/mailbox/mailtest"
)

// testPatient is a synthetic qualified identity with a valid test-domain
// key, filed with Demo on (the CDA carries the test OID).
func testPatient(t testing.TB, id string, body string) app.Patient {
	t.Helper()
	k, err := app.INSKey(body)
	if err != nil {
		t.Fatal(err)
	}
	return app.Patient{
		ID: app.PatientID(id), INS: app.INS{Matricule: body + k, OID: app.OIDINSNIRTest},
		Status: app.IdentityQualified, BirthName: "DUPONT", BirthGivenNames: "ÉLODIE MARIE",
		BirthDate: "1980-01-01", Sex: app.SexFemale, BirthPlace: "75112",
	}
}

// cdaDoc describes a test CDA.
type cdaDoc struct {
	ID, SetID string
	Version   int
	Replaces  string
	Patient   app.Patient // traits and INS written in recordTarget
	NoINS     bool
}

// xml returns the CDA (mailtest.CDA's document).
func (d cdaDoc) xml() []byte {
	return mailtest.CDA{ID: d.ID, SetID: d.SetID, Version: d.Version, Replaces: d.Replaces, Patient: d.Patient, NoINS: d.NoINS}.XML()
}

// xdmOpts shape a test archive.
type xdmOpts struct {
	PatientCX string              // patientId CX; from the CDA's INS when empty
	BadHash   bool                // metadata hash of other bytes
	Extra     map[string][]byte   // more entries, name → content
	EntryName string              // document entry name; IHE_XDM/SUBSET01/DOC0001.XML when empty
	URI       string              // metadata URI; DOC0001.XML when empty
	Mangle    func([]byte) []byte // rewrites the CDA before it is archived (and hashed)
}

// xdmZip builds an IHE_XDM.ZIP holding one CDA.
func xdmZip(t testing.TB, doc cdaDoc, o xdmOpts) []byte {
	t.Helper()
	content := doc.xml()
	if o.Mangle != nil {
		content = o.Mangle(content)
	}
	sum := sha1.Sum(content)
	hash := hex.EncodeToString(sum[:])
	if o.BadHash {
		s2 := sha1.Sum([]byte("other"))
		hash = hex.EncodeToString(s2[:])
	}
	cx := o.PatientCX
	if cx == "" {
		cx = doc.Patient.INS.Matricule + "^^^&" + doc.Patient.INS.OID + "&ISO^NH"
	}
	if o.URI == "" {
		o.URI = "DOC0001.XML"
	}
	if o.EntryName == "" {
		o.EntryName = "IHE_XDM/SUBSET01/DOC0001.XML"
	}
	meta := fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?>
<lcm:SubmitObjectsRequest xmlns:lcm="urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0" xmlns:rim="urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0">
 <rim:RegistryObjectList>
  <rim:ExtrinsicObject id="urn:uuid:doc1" mimeType="text/xml" objectType="urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1">
   <rim:Slot name="URI"><rim:ValueList><rim:Value>%s</rim:Value></rim:ValueList></rim:Slot>
   <rim:Slot name="hash"><rim:ValueList><rim:Value>%s</rim:Value></rim:ValueList></rim:Slot>
   <rim:Slot name="size"><rim:ValueList><rim:Value>%d</rim:Value></rim:ValueList></rim:Slot>
   <rim:Slot name="creationTime"><rim:ValueList><rim:Value>20261120083000</rim:Value></rim:ValueList></rim:Slot>
   <rim:ExternalIdentifier id="urn:uuid:e1" registryObject="urn:uuid:doc1" identificationScheme="urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427" value="%s"/>
   <rim:ExternalIdentifier id="urn:uuid:e2" registryObject="urn:uuid:doc1" identificationScheme="urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab" value="%s"/>
  </rim:ExtrinsicObject>
  <rim:RegistryPackage id="urn:uuid:set1">
   <rim:Slot name="submissionTime"><rim:ValueList><rim:Value>20261120083000</rim:Value></rim:ValueList></rim:Slot>
   <rim:Classification id="urn:uuid:c1" classifiedObject="urn:uuid:set1" classificationNode="urn:uuid:a54d6aa5-d40d-43f9-88c5-b4633d873bdd"/>
   <rim:ExternalIdentifier id="urn:uuid:e3" registryObject="urn:uuid:set1" identificationScheme="urn:uuid:96fdda7c-d067-4183-912e-bf5ee74998a8" value="1.2.3.4.%s"/>
   <rim:ExternalIdentifier id="urn:uuid:e4" registryObject="urn:uuid:set1" identificationScheme="urn:uuid:6b5aea1a-874d-4603-a4bc-96a0a7b38446" value="%s"/>
  </rim:RegistryPackage>
 </rim:RegistryObjectList>
</lcm:SubmitObjectsRequest>
`, html.EscapeString(o.URI), hash, len(content), html.EscapeString(cx), doc.ID, doc.ID, html.EscapeString(cx))
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	add := func(name string, b []byte) {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(b)
	}
	add("README.TXT", []byte("Carnet test\r\n"))
	add("IHE_XDM/SUBSET01/METADATA.XML", []byte(meta))
	add(o.EntryName, content)
	for n, b := range o.Extra {
		add(n, b)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// mimePart is one part of a test mail.
type mimePart struct {
	header string // full header lines (without the trailing blank line)
	body   string // already encoded
}

func textPart(s string) mimePart {
	return mimePart{"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit", s}
}

// attach returns a base64 attachment; disp is the Content-Disposition
// parameter text (e.g. `filename="IHE_XDM.ZIP"`).
func attach(mediaType, disp string, b []byte) mimePart {
	return mimePart{fmt.Sprintf("Content-Type: %s\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; %s", mediaType, disp), b64lines(b)}
}

func b64lines(b []byte) string {
	s := base64.StdEncoding.EncodeToString(b)
	var out strings.Builder
	for len(s) > 76 {
		out.WriteString(s[:76] + "\r\n")
		s = s[76:]
	}
	out.WriteString(s)
	return out.String()
}

// multipart builds a multipart body with its Content-Type header.
func multipart(subtype, boundary string, parts ...mimePart) mimePart {
	var b strings.Builder
	b.WriteString("This is a multi-part message.\r\n")
	for _, p := range parts {
		b.WriteString("--" + boundary + "\r\n" + p.header + "\r\n\r\n" + p.body + "\r\n")
	}
	b.WriteString("--" + boundary + "--\r\n")
	return mimePart{fmt.Sprintf("Content-Type: multipart/%s; boundary=\"%s\"", subtype, boundary), b.String()}
}

// mail builds a whole message around a root part.
func mail(msgID, subject, extra string, root mimePart) []byte {
	h := "From: Labo X <labo@labo-x.mssante.fr>\r\nTo: dr.test@clinique.mssante.fr\r\n" +
		"Subject: " + subject + "\r\nDate: Fri, 20 Nov 2026 09:30:00 +0100\r\nMessage-ID: <" + msgID + ">\r\nMIME-Version: 1.0\r\n"
	if extra != "" {
		h += extra + "\r\n"
	}
	return []byte(h + root.header + "\r\n\r\n" + root.body)
}

// xdmMail is the standard MSSanté mail: text, PDF and IHE_XDM.ZIP.
func xdmMail(t testing.TB, msgID string, doc cdaDoc, o xdmOpts) []byte {
	return mail(msgID, "XDM/1.0/DDM+CR d'examens biologiques", "X-MSS-INS: O\r\nX-MSS-CODECDA: 11502-2",
		multipart("mixed", "b1",
			textPart("Bonjour,\r\nci-joint le compte rendu."),
			attach("application/pdf", `filename="CR.pdf"`, []byte("%PDF-1.4 test")),
			attach("application/zip", `filename="IHE_XDM.ZIP"`, xdmZip(t, doc, o))))
}
