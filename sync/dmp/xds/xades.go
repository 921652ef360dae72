package xds

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/carnetdesk/carnet/app"
)

// The XAdES signature of a submission set (TD2, reference §9.1): a detached
// XML-DSig whose SignedInfo references an IHE Manifest (the digests of the
// submission set's and every document's uniqueId) and the XAdES
// SignedProperties. DRIM signs with C14N-with-comments and RSA-SHA1; Carnet
// uses exclusive c14n and RSA-SHA256 (open question §14.9: which the DMP
// requires).
const (
	NSXAdES                = "http://uri.etsi.org/01903/v1.3.2#"
	xadesSignedPropsType   = "http://uri.etsi.org/01903#SignedProperties"
	manifestType           = "http://www.w3.org/2000/09/xmldsig#Manifest"
	purposeOfSignatureCode = "1.2.840.10065.1.12.1.14" // "Source"

	// The metadata of the signature's DocumentEntry (DRIM, reference §9.1).
	SignatureClassCode  = "urn:oid:1.3.6.1.4.1.19376.1.2.1.1.1"
	SignatureTypeCode   = "E1762"
	SignatureFormatCode = "http://www.w3.org/2000/09/xmldsig#"
	SignatureEventCode  = "1.2.840.10065.1.12.1.14"
)

// SignedDoc is one document the submission set signature covers.
type SignedDoc struct {
	UniqueID string
	Content  []byte
}

// SignSubmission returns the XAdES signature document of a submission set.
// Every element a Reference points to is written in its exclusive
// canonical form (namespace declarations where c14n renders them), so the
// bytes digested are the bytes sent; xmlsec1 checks it in the tests.
func (s *VIHFSigner) SignSubmission(submissionSetUID string, docs []SignedDoc, now time.Time) ([]byte, error) {
	if s == nil || s.Signer == nil || s.Cert == nil {
		return nil, fmt.Errorf("xds: xades: no signing credential: %w", app.ErrCredential)
	}
	sigAlg, err := signatureMethod(s.Signer)
	if err != nil {
		return nil, err
	}
	sigID := "S" + newUUID()
	ds := `xmlns:ds="` + NSDSig + `"`
	b64 := base64.StdEncoding.EncodeToString
	sum := func(b []byte) string { h := sha256.Sum256(b); return b64(h[:]) }

	var manifest bytes.Buffer
	manifest.WriteString(`<ds:Manifest ` + ds + ` Id="IHEManifest">`)
	ref := func(uri, digest string) {
		manifest.WriteString(`<ds:Reference URI="` + canonAttr(uri) + `"><ds:DigestMethod Algorithm="` + algSHA256 +
			`"></ds:DigestMethod><ds:DigestValue>` + digest + `</ds:DigestValue></ds:Reference>`)
	}
	ref("urn:oid:"+submissionSetUID, sum([]byte(submissionSetUID)))
	for _, d := range docs {
		ref("urn:oid:"+d.UniqueID, sum(d.Content))
	}
	manifest.WriteString(`</ds:Manifest>`)

	certDigest := sha256.Sum256(s.Cert.Raw)
	var props bytes.Buffer
	props.WriteString(`<xades:SignedProperties xmlns:xades="` + NSXAdES + `" Id="S0-SignedProperties"><xades:SignedSignatureProperties>`)
	props.WriteString(`<xades:SigningTime>` + now.UTC().Format(time.RFC3339) + `</xades:SigningTime>`)
	props.WriteString(`<xades:SigningCertificate><xades:Cert><xades:CertDigest><ds:DigestMethod ` + ds + ` Algorithm="` + algSHA256 +
		`"></ds:DigestMethod><ds:DigestValue ` + ds + `>` + b64(certDigest[:]) + `</ds:DigestValue></xades:CertDigest>`)
	props.WriteString(`<xades:IssuerSerial><ds:X509IssuerName ` + ds + `>` + canonText(s.Cert.Issuer.String()) + `</ds:X509IssuerName><ds:X509SerialNumber ` +
		ds + `>` + s.Cert.SerialNumber.String() + `</ds:X509SerialNumber></xades:IssuerSerial></xades:Cert></xades:SigningCertificate>`)
	props.WriteString(`<xades:SignaturePolicyIdentifier><xades:SignaturePolicyImplied></xades:SignaturePolicyImplied></xades:SignaturePolicyIdentifier>`)
	props.WriteString(`</xades:SignedSignatureProperties></xades:SignedProperties>`)

	reference := func(uri, typ, digest string) string {
		return `<ds:Reference Type="` + typ + `" URI="` + uri + `"><ds:Transforms><ds:Transform Algorithm="` + algExcC14N +
			`"></ds:Transform></ds:Transforms><ds:DigestMethod Algorithm="` + algSHA256 + `"></ds:DigestMethod><ds:DigestValue>` +
			digest + `</ds:DigestValue></ds:Reference>`
	}
	signedInfo := `<ds:SignedInfo ` + ds + `><ds:CanonicalizationMethod Algorithm="` + algExcC14N + `"></ds:CanonicalizationMethod>` +
		`<ds:SignatureMethod Algorithm="` + sigAlg + `"></ds:SignatureMethod>` +
		reference("#IHEManifest", manifestType, sum(manifest.Bytes())) +
		reference("#S0-SignedProperties", xadesSignedPropsType, sum(props.Bytes())) + `</ds:SignedInfo>`
	h := sha256.Sum256([]byte(signedInfo))
	sig, err := signDigest(s.Signer, h[:])
	if err != nil {
		return nil, err
	}
	s.xades.Add(1)
	var out bytes.Buffer
	out.WriteString(`<ds:Signature ` + ds + ` Id="` + sigID + `">` + signedInfo)
	out.WriteString(`<ds:SignatureValue>` + b64(sig) + `</ds:SignatureValue>`)
	out.WriteString(`<ds:KeyInfo><ds:X509Data><ds:X509Certificate>` + b64(s.Cert.Raw) + `</ds:X509Certificate></ds:X509Data></ds:KeyInfo>`)
	out.WriteString(`<ds:Object><xades:QualifyingProperties xmlns:xades="` + NSXAdES + `" Target="#` + sigID + `">`)
	out.Write(props.Bytes())
	out.WriteString(`</xades:QualifyingProperties></ds:Object>`)
	out.WriteString(`<ds:Object><ds:SignatureProperties><ds:SignatureProperty Id="purposeOfSignature" Target="#` + sigID + `">` +
		purposeOfSignatureCode + `</ds:SignatureProperty></ds:SignatureProperties></ds:Object>`)
	out.WriteString(`<ds:Object>`)
	out.Write(manifest.Bytes())
	out.WriteString(`</ds:Object></ds:Signature>`)
	return out.Bytes(), nil
}
