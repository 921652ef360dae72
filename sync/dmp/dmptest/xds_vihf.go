package dmptest

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"time"

	"github.com/beevik/etree"

	"github.com/carnetdesk/carnet/crypto/credential"
	dsig "github.com/russellhaering/goxmldsig"
)

// vihf is what the sandbox takes from a verified VIHF.
type vihf struct {
	nameID, subject, structure, profession, mode, justification, patient string
	notAfter                                                             time.Time // zero: no Conditions
	// signerStructure is the structure the signing certificate names
	// (indirect mode: the organisation's seal; direct: the card's).
	signerStructure string
}

// vihfCache remembers verified assertions (by their exact bytes) until
// they expire, as a server keeps a session: the signature is checked once
// per assertion, not once per request. One cache per sandbox.
type vihfCache struct {
	mu   sync.Mutex
	byID map[[32]byte]*vihf
}

var vihfCaches sync.Map // *Server → *vihfCache

// validAt says whether a verified VIHF is still inside its window.
func (v *vihf) validAt(now time.Time) bool {
	return v.notAfter.IsZero() || now.Add(-clockSkew).Before(v.notAfter)
}

// knownVIHF is the VIHF verified earlier for the raw wsse:Security bytes
// whose SHA-256 is key, or nil.
func (s *Server) knownVIHF(key [32]byte) *vihf {
	ci, ok := vihfCaches.Load(s)
	if !ok {
		return nil
	}
	c := ci.(*vihfCache)
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.byID[key]
}

// cachedVIHF verifies a and remembers it under key (the SHA-256 of the raw
// wsse:Security element that carried it; zero: not remembered).
func (s *Server) cachedVIHF(a *etree.Element, key [32]byte, roots *x509.CertPool, now time.Time) (*vihf, error) {
	ci, _ := vihfCaches.LoadOrStore(s, &vihfCache{byID: map[[32]byte]*vihf{}})
	c := ci.(*vihfCache)
	v, err := verifyVIHF(a, roots, now)
	if err != nil {
		return nil, err
	}
	if key == ([32]byte{}) {
		return v, nil
	}
	c.mu.Lock()
	if len(c.byID) > 10000 {
		clear(c.byID)
	}
	c.byID[key] = v
	c.mu.Unlock()
	return v, nil
}

// VIHF attribute names, as the sandbox requires them (reference §10.2).
var vihfMandatory = []string{"VIHF_Version", "Secteur_Activite", "urn:oasis:names:tc:xspa:1.0:subject:subject-id",
	"Ressource_URN", "LPS_Nom", "LPS_ID_HOMOLOGATION_DMP", "Authentification_Mode"}

// verifyVIHF checks the assertion as the DMP would: enveloped XML-DSig
// (goxmldsig) by a certificate that chains to roots, RSA-SHA256 or
// ECDSA-SHA256, after Issuer; Issuer = the certificate's subject; the
// validity window; every mandatory attribute.
func verifyVIHF(a *etree.Element, roots *x509.CertPool, now time.Time) (*vihf, error) {
	bad := func(format string, x ...any) error { return senderFault("wsse:InvalidSecurity", "VIHF: "+format, x...) }
	if a.SelectAttrValue("Version", "") != "2.0" || !strings.HasPrefix(a.SelectAttrValue("ID", ""), "_") {
		return nil, bad("Version 2.0 and an ID \"_\"+UUID are required")
	}
	kids := a.ChildElements()
	if len(kids) < 2 || kids[0].Tag != "Issuer" || kids[1].Tag != "Signature" || kids[1].NamespaceURI() != "http://www.w3.org/2000/09/xmldsig#" {
		return nil, bad("unsigned, or the signature is not right after Issuer")
	}
	sig := kids[1]
	switch alg := sig.FindElement("./SignedInfo/SignatureMethod").SelectAttrValue("Algorithm", ""); alg {
	case "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256", "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256":
	default:
		return nil, bad("signature method %s refused", alg)
	}
	certEl := sig.FindElement("./KeyInfo/X509Data/X509Certificate")
	if certEl == nil {
		return nil, bad("no X509Certificate in KeyInfo")
	}
	der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(certEl.Text()), ""))
	if err != nil {
		return nil, bad("bad certificate")
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, bad("bad certificate")
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return nil, bad("signing certificate not trusted")
	}
	// Validate a standalone copy: the signature covers the assertion only.
	doc := etree.NewDocument()
	doc.SetRoot(a.Copy())
	if strings.HasSuffix(sig.FindElement("./SignedInfo/SignatureMethod").SelectAttrValue("Algorithm", ""), "ecdsa-sha256") {
		// XML-DSig carries ECDSA as r‖s; goxmldsig checks ASN.1.
		if sv := doc.Root().FindElement("./Signature/SignatureValue"); sv != nil {
			raw, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(sv.Text()), ""))
			if err != nil || len(raw)%2 != 0 {
				return nil, bad("bad ECDSA signature value")
			}
			var v struct{ R, S *big.Int }
			v.R, v.S = new(big.Int).SetBytes(raw[:len(raw)/2]), new(big.Int).SetBytes(raw[len(raw)/2:])
			der, _ := asn1.Marshal(v)
			sv.SetText(base64.StdEncoding.EncodeToString(der))
		}
	}
	ctx := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{cert}})
	ctx.IdAttribute = "ID"
	ctx.Clock = dsig.NewFakeClockAt(now)
	if _, err := ctx.Validate(doc.Root()); err != nil {
		return nil, bad("signature does not verify")
	}
	if iss := strings.TrimSpace(kids[0].Text()); iss != cert.Subject.String() {
		return nil, bad("Issuer is not the signing certificate's subject")
	}
	var notAfter time.Time
	if c := a.FindElement("./Conditions"); c != nil {
		nb, e1 := time.Parse(time.RFC3339, c.SelectAttrValue("NotBefore", ""))
		na, e2 := time.Parse(time.RFC3339, c.SelectAttrValue("NotOnOrAfter", ""))
		if e1 != nil || e2 != nil {
			return nil, bad("bad Conditions")
		}
		if now.Add(clockSkew).Before(nb) || !now.Add(-clockSkew).Before(na) {
			return nil, bad("expired assertion")
		}
		notAfter = na
	}
	v := &vihf{nameID: strings.TrimSpace(textAt(a, "./Subject/NameID")), notAfter: notAfter,
		signerStructure: credential.ParseIdentity(cert).Structure.ID}
	attrs := map[string][]*etree.Element{}
	for _, at := range a.FindElements("./AttributeStatement/Attribute") {
		attrs[at.SelectAttrValue("Name", "")] = at.SelectElements("AttributeValue")
	}
	text := func(n string) string {
		if vs := attrs[n]; len(vs) > 0 {
			return strings.TrimSpace(vs[0].Text())
		}
		return ""
	}
	for _, m := range vihfMandatory {
		if text(m) == "" {
			return nil, bad("attribute %s missing", m)
		}
	}
	if text("VIHF_Version") != "3.0" {
		return nil, bad("VIHF_Version %s refused", text("VIHF_Version"))
	}
	if text("Ressource_URN") != "urn:dmp" {
		return nil, bad("Ressource_URN must be urn:dmp")
	}
	roles := attrs["urn:oasis:names:tc:xacml:2.0:subject:role"]
	if len(roles) == 0 || len(roles[0].ChildElements()) == 0 {
		return nil, bad("subject:role missing")
	}
	v.profession = roles[0].ChildElements()[0].SelectAttrValue("code", "")
	pou := attrs["urn:oasis:names:tc:xspa:1.0:subject:purposeofuse"]
	if len(pou) == 0 || len(pou[0].ChildElements()) == 0 || pou[0].ChildElements()[0].SelectAttrValue("codeSystem", "") != "1.2.250.1.213.1.1.4.248" {
		return nil, bad("purposeofuse missing or not in TRE_R248")
	}
	v.mode = pou[0].ChildElements()[0].SelectAttrValue("code", "")
	v.subject = text("urn:oasis:names:tc:xspa:1.0:subject:subject-id")
	v.structure = text("Identifiant_Structure")
	v.patient = text("urn:oasis:names:tc:xacml:2.0:resource:resource-id")
	v.justification = text("Mode_Acces_Raison")
	if v.nameID == "" {
		return nil, bad("Subject/NameID missing")
	}
	return v, nil
}

func textAt(e *etree.Element, path string) string {
	if x := e.FindElement(path); x != nil {
		return x.Text()
	}
	return ""
}

// uuid4 returns a random UUID.
func uuid4() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
