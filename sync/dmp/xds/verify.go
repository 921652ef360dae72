package xds

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/carnetdesk/carnet/app"
)

// VIHF is a verified assertion: who signed it and what it says.
type VIHF struct {
	ID           string
	Issuer       string
	NameID       string
	IssueInstant time.Time
	NotOnOrAfter time.Time
	Cert         *x509.Certificate
	Attributes   map[string][]string // plain text values
	Roles        []app.Code          // subject:role codes
	PurposeOfUse string              // normal | bris_de_glace | centre_15
}

// VerifyVIHF checks a VIHF the way the DMP would: the enveloped XML-DSig
// signature (by goxmldsig, an implementation independent of the signer
// above) with a certificate that chains to one of roots, RSA-SHA256, a
// Reference to the whole assertion, Issuer = the certificate's subject,
// the validity window at now, and the mandatory attributes. The error says
// which check failed, without the assertion's content.
func VerifyVIHF(assertion []byte, roots *x509.CertPool, now time.Time) (*VIHF, error) {
	// The project's reader first: no DTD, no entities, bounded.
	if _, err := parseXML(bytes.NewReader(assertion), 1<<20); err != nil {
		return nil, fmt.Errorf("xds: vihf: %w", err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(assertion); err != nil {
		return nil, fmt.Errorf("xds: vihf: %v: %w", err, app.ErrInvalid)
	}
	root := doc.Root()
	if root == nil || root.Tag != "Assertion" || root.NamespaceURI() != NSSAML {
		return nil, fmt.Errorf("xds: vihf: not a SAML 2.0 assertion: %w", app.ErrInvalid)
	}
	sigEl := root.FindElement("./Signature")
	if sigEl == nil || sigEl.NamespaceURI() != NSDSig {
		return nil, fmt.Errorf("xds: vihf: unsigned: %w", &app.AccessError{Reason: app.DeniedOther})
	}
	if sm := sigEl.FindElement("./SignedInfo/SignatureMethod"); sm == nil || (sm.SelectAttrValue("Algorithm", "") != algRSASHA256 && sm.SelectAttrValue("Algorithm", "") != algECDSASHA256) {
		return nil, fmt.Errorf("xds: vihf: signature method is not RSA-SHA256 or ECDSA-SHA256: %w", &app.AccessError{Reason: app.DeniedOther})
	}
	if idx := indexOfChild(root, sigEl); idx != 1 || localOf(root.ChildElements()[0]) != "Issuer" {
		return nil, fmt.Errorf("xds: vihf: the signature is not right after Issuer: %w", app.ErrInvalid)
	}
	var leaf *x509.Certificate
	if cEl := sigEl.FindElement("./KeyInfo/X509Data/X509Certificate"); cEl != nil {
		if c, err := parseB64Cert(cEl.Text()); err == nil {
			leaf = c
		}
	}
	if leaf == nil {
		return nil, fmt.Errorf("xds: vihf: no certificate in KeyInfo: %w", app.ErrInvalid)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return nil, fmt.Errorf("xds: vihf: signing certificate not trusted: %v: %w", err, &app.AccessError{Reason: app.DeniedOther})
	}
	if sm := sigEl.FindElement("./SignedInfo/SignatureMethod"); sm.SelectAttrValue("Algorithm", "") == algECDSASHA256 {
		// XML-DSig carries ECDSA as r‖s; goxmldsig wants ASN.1.
		if sv := sigEl.FindElement("./SignatureValue"); sv != nil {
			if raw, err := decodeB64(sv.Text()); err == nil && len(raw)%2 == 0 {
				var v struct{ R, S *big.Int }
				v.R, v.S = new(big.Int).SetBytes(raw[:len(raw)/2]), new(big.Int).SetBytes(raw[len(raw)/2:])
				if der, err := asn1.Marshal(v); err == nil {
					sv.SetText(base64.StdEncoding.EncodeToString(der))
				}
			}
		}
	}
	ctx := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{leaf}})
	ctx.IdAttribute = "ID"
	ctx.Clock = dsig.NewFakeClockAt(now)
	if _, err := ctx.Validate(root); err != nil {
		return nil, fmt.Errorf("xds: vihf: signature: %v: %w", err, &app.AccessError{Reason: app.DeniedOther})
	}
	v := &VIHF{ID: root.SelectAttrValue("ID", ""), Attributes: map[string][]string{}, Cert: leaf}
	if v.ID == "" || !strings.HasPrefix(v.ID, "_") {
		return nil, fmt.Errorf("xds: vihf: ID is not \"_\"+UUID: %w", app.ErrInvalid)
	}
	if root.SelectAttrValue("Version", "") != "2.0" {
		return nil, fmt.Errorf("xds: vihf: SAML version: %w", app.ErrInvalid)
	}
	v.Issuer = strings.TrimSpace(textOf(root, "./Issuer"))
	if v.Issuer != v.Cert.Subject.String() {
		return nil, fmt.Errorf("xds: vihf: Issuer is not the signing certificate's subject: %w", &app.AccessError{Reason: app.DeniedOther})
	}
	v.NameID = strings.TrimSpace(textOf(root, "./Subject/NameID"))
	if t, err := time.Parse(time.RFC3339, root.SelectAttrValue("IssueInstant", "")); err == nil {
		v.IssueInstant = t
	} else {
		return nil, fmt.Errorf("xds: vihf: IssueInstant: %w", app.ErrInvalid)
	}
	if c := root.FindElement("./Conditions"); c != nil {
		nb, err1 := time.Parse(time.RFC3339, c.SelectAttrValue("NotBefore", ""))
		na, err2 := time.Parse(time.RFC3339, c.SelectAttrValue("NotOnOrAfter", ""))
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("xds: vihf: Conditions: %w", app.ErrInvalid)
		}
		v.NotOnOrAfter = na
		if now.Before(nb) || !now.Before(na) {
			return nil, fmt.Errorf("xds: vihf: expired or not yet valid: %w", ErrVIHFExpired)
		}
	}
	for _, a := range root.FindElements("./AttributeStatement/Attribute") {
		name := a.SelectAttrValue("Name", "")
		for _, av := range a.SelectElements("AttributeValue") {
			if ce := av.ChildElements(); len(ce) > 0 {
				c := app.Code{Code: ce[0].SelectAttrValue("code", ""), System: ce[0].SelectAttrValue("codeSystem", ""), Display: ce[0].SelectAttrValue("displayName", "")}
				switch name {
				case AttrRole:
					v.Roles = append(v.Roles, c)
				case AttrPurposeOfUse:
					if c.System != OIDAccessMode {
						return nil, fmt.Errorf("xds: vihf: purposeofuse code system: %w", app.ErrInvalid)
					}
					v.PurposeOfUse = c.Code
				}
				continue
			}
			v.Attributes[name] = append(v.Attributes[name], strings.TrimSpace(av.Text()))
		}
	}
	for _, m := range []string{AttrVersion, AttrSector, AttrSubjectID, AttrResourceURN, AttrLPSName, AttrLPSHomolog} {
		if len(v.Attributes[m]) == 0 || v.Attributes[m][0] == "" {
			return nil, fmt.Errorf("xds: vihf: attribute %s missing: %w", m, app.ErrInvalid)
		}
	}
	if len(v.Roles) == 0 || v.PurposeOfUse == "" {
		return nil, fmt.Errorf("xds: vihf: role or purposeofuse missing: %w", app.ErrInvalid)
	}
	if v.PurposeOfUse == "bris_de_glace" && len(v.Attributes[AttrJustification]) == 0 {
		return nil, fmt.Errorf("xds: vihf: bris de glace without justification: %w", &app.AccessError{Reason: app.DeniedJustification})
	}
	return v, nil
}

// ErrVIHFExpired: the assertion is outside its validity window.
var ErrVIHFExpired = fmt.Errorf("xds: vihf expired: %w", &app.AccessError{Reason: app.DeniedOther})

func indexOfChild(parent, child *etree.Element) int {
	for i, c := range parent.ChildElements() {
		if c == child {
			return i
		}
	}
	return -1
}

func localOf(e *etree.Element) string { return e.Tag }

func textOf(e *etree.Element, path string) string {
	if x := e.FindElement(path); x != nil {
		return x.Text()
	}
	return ""
}

func parseB64Cert(s string) (*x509.Certificate, error) {
	der, err := decodeB64(s)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}
