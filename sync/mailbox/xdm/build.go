package xdm

import (
	"archive/zip"
	"bytes"
	"crypto/sha1" // #nosec G505 -- the XDS document hash, not a security measure
	"encoding/hex"
	"fmt"
	"html"
	"strings"
	"time"

	"github.com/carnetdesk/carnet/app"
)

// BuildDoc is one document of an archive made by Build.
type BuildDoc struct {
	Content  []byte
	MimeType string  // "text/xml" when empty
	UniqueID string  // the document's uniqueId (the CDA id root)
	Patient  app.INS // written as the patientId CX (matricule^^^&OID&ISO^NH)
	Title    string  // optional
	Class    string  // optional: the classCode (TRE_A03), e.g. app.ClassReport
}

// BuildOptions shape an archive made by Build.
type BuildOptions struct {
	SetUniqueID string    // the submission set's uniqueId; derived from the first document when empty
	Submitted   time.Time // submissionTime and creationTime; time.Now() when zero
	Sender      string    // README.TXT's institution line; "Carnet" when empty
}

// Build writes a minimal, valid IHE XDM archive (ITI-32) holding docs in one
// submission set: README.TXT, IHE_XDM/SUBSET01/METADATA.XML (one
// DocumentEntry per document with URI, SHA-1 hash, size, creationTime,
// patientId and uniqueId, and its classCode when given) and IHE_XDM/SUBSET01/DOCnnnnn.XML. It is what the
// demo mailbox and the tests send; Read accepts it.
func Build(docs []BuildDoc, opt BuildOptions) ([]byte, error) {
	if len(docs) == 0 {
		return nil, fmt.Errorf("xdm: build: no document: %w", app.ErrInvalid)
	}
	if opt.Submitted.IsZero() {
		opt.Submitted = time.Now()
	}
	if opt.Sender == "" {
		opt.Sender = "Carnet"
	}
	if opt.SetUniqueID == "" {
		opt.SetUniqueID = docs[0].UniqueID + ".1"
	}
	when := opt.Submitted.UTC().Format("20060102150405")
	e := html.EscapeString
	var md strings.Builder
	md.WriteString(`<?xml version="1.0" encoding="UTF-8"?>
<lcm:SubmitObjectsRequest xmlns:lcm="urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0" xmlns:rim="urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0">
 <rim:RegistryObjectList>
`)
	slot := func(name, value string) string {
		return `   <rim:Slot name="` + name + `"><rim:ValueList><rim:Value>` + e(value) + `</rim:Value></rim:ValueList></rim:Slot>` + "\n"
	}
	cx := func(ins app.INS) string { return ins.Matricule + "^^^&" + ins.OID + "&ISO^NH" }
	names := make([]string, len(docs))
	for i, d := range docs {
		if d.UniqueID == "" {
			return nil, fmt.Errorf("xdm: build: document %d without uniqueId: %w", i+1, app.ErrInvalid)
		}
		if d.MimeType == "" {
			d.MimeType = "text/xml"
		}
		names[i] = fmt.Sprintf("DOC%05d.XML", i+1)
		sum := sha1.Sum(d.Content) // #nosec G401 -- the XDS document hash
		id := fmt.Sprintf("urn:uuid:doc%d", i+1)
		fmt.Fprintf(&md, `  <rim:ExtrinsicObject id="%s" mimeType="%s" objectType="%s">`+"\n", id, e(d.MimeType), objectTypeStable)
		md.WriteString(slot("URI", names[i]))
		md.WriteString(slot("hash", hex.EncodeToString(sum[:])))
		md.WriteString(slot("size", fmt.Sprint(len(d.Content))))
		md.WriteString(slot("creationTime", when))
		if d.Title != "" {
			md.WriteString(`   <rim:Name><rim:LocalizedString value="` + e(d.Title) + `"/></rim:Name>` + "\n")
		}
		if d.Class != "" {
			fmt.Fprintf(&md, `   <rim:Classification id="%s.c" classifiedObject="%s" classificationScheme="%s" nodeRepresentation="%s">`+"\n", id, id, schemeClass, e(d.Class))
			md.WriteString(slot("codingScheme", app.OIDClassCode))
			md.WriteString("   </rim:Classification>\n")
		}
		fmt.Fprintf(&md, `   <rim:ExternalIdentifier id="%s.p" registryObject="%s" identificationScheme="%s" value="%s"/>`+"\n", id, id, schemeDocPatientID, e(cx(d.Patient)))
		fmt.Fprintf(&md, `   <rim:ExternalIdentifier id="%s.u" registryObject="%s" identificationScheme="%s" value="%s"/>`+"\n", id, id, schemeDocUniqueID, e(d.UniqueID))
		md.WriteString("  </rim:ExtrinsicObject>\n")
	}
	fmt.Fprintf(&md, `  <rim:RegistryPackage id="urn:uuid:set1">
%s   <rim:Classification id="urn:uuid:c1" classifiedObject="urn:uuid:set1" classificationNode="%s"/>
   <rim:ExternalIdentifier id="urn:uuid:e3" registryObject="urn:uuid:set1" identificationScheme="%s" value="%s"/>
   <rim:ExternalIdentifier id="urn:uuid:e4" registryObject="urn:uuid:set1" identificationScheme="%s" value="%s"/>
  </rim:RegistryPackage>
 </rim:RegistryObjectList>
</lcm:SubmitObjectsRequest>
`, slot("submissionTime", when), nodeSubmissionSet, schemeSetUniqueID, e(opt.SetUniqueID), schemeSetPatient, e(cx(docs[0].Patient)))

	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	add := func(name string, b []byte) error {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: opt.Submitted})
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}
	if err := add("README.TXT", []byte(opt.Sender+"\r\nCarnet IHE XDM\r\n")); err != nil {
		return nil, err
	}
	if err := add("IHE_XDM/SUBSET01/METADATA.XML", []byte(md.String())); err != nil {
		return nil, err
	}
	for i, d := range docs {
		if err := add("IHE_XDM/SUBSET01/"+names[i], d.Content); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
