package xds

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/carnetdesk/carnet/app"
)

// VIHF constants (reference §10).
const (
	VIHFVersion = "3.0" // open question §14.4: V2IG's table says 4.0, every example sends 3.0
	// VIHFPrefixList is the InclusiveNamespaces PrefixList of the ANS example.
	VIHFPrefixList = "ds saml #default xsi"
	// VIHFLifetime is how long one assertion is used (Conditions NotOnOrAfter
	// and the reuse window). Open question §14.3: no public source gives one.
	VIHFLifetime = 30 * time.Minute
	// vihfReuseMargin: an assertion this close to its end is not reused.
	vihfReuseMargin = 2 * time.Minute
	// OIDAccessMode is TRE_R248 ModeAcces (purposeofuse code system).
	OIDAccessMode = "1.2.250.1.213.1.1.4.248"
	// AccessModeSystemName is the codeSystemName the V2IG example gives.
	AccessModeSystemName = "mode acces VIHF 1.0"
	// AttrJustification carries the bris-de-glace justification. Open
	// question §14.5: the attribute name is not public; this is the name the
	// ProSanteConnect test data suggests (Mode_Acces_Raison).
	AttrJustification = "Mode_Acces_Raison"

	AuthnSmartcard = "urn:oasis:names:tc:SAML:2.0:ac:classes:SmartcardPKI"
	AuthnTLSClient = "urn:oasis:names:tc:SAML:2.0:ac:classes:TLSClient"
	nameIDFormatDN = "urn:oasis:names:tc:SAML:1.1:nameid-format:X509SubjectName"
	algExcC14N     = "http://www.w3.org/2001/10/xml-exc-c14n#"
	algRSASHA256   = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
	algSHA256      = "http://www.w3.org/2001/04/xmlenc#sha256"
	algEnveloped   = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
)

// The VIHF attribute names.
const (
	AttrVersion      = "VIHF_Version"
	AttrAuthMode     = "Authentification_Mode"
	AttrRole         = "urn:oasis:names:tc:xacml:2.0:subject:role"
	AttrSector       = "Secteur_Activite"
	AttrSubjectID    = "urn:oasis:names:tc:xspa:1.0:subject:subject-id"
	AttrStructure    = "Identifiant_Structure"
	AttrResourceID   = "urn:oasis:names:tc:xacml:2.0:resource:resource-id"
	AttrResourceURN  = "Ressource_URN"
	AttrPurposeOfUse = "urn:oasis:names:tc:xspa:1.0:subject:purposeofuse"
	AttrLPSName      = "LPS_Nom"
	AttrLPSVersion   = "LPS_Version"
	AttrLPSHomolog   = "LPS_ID_HOMOLOGATION_DMP"
	AttrLPSID        = "LPS_ID"
)

// AuthMode is the authentication mode of the VIHF.
type AuthMode string

// The authentication modes.
const (
	AuthDirect   AuthMode = "DIRECTE"   // the CPS card signs and holds the TLS session
	AuthIndirect AuthMode = "INDIRECTE" // an organisation certificate
)

// Software identifies the LPS in the VIHF.
type Software struct {
	Name         string
	Version      string
	Homologation string // LPS_ID_HOMOLOGATION_DMP
	InstallID    string // LPS_ID, optional
}

// VIHFRequest is everything one assertion says.
type VIHFRequest struct {
	Access   app.Access
	INS      *app.INS // the patient (resource-id); nil for calls without a patient
	Mode     AuthMode
	Sector   string // Secteur_Activite code (TRE_R02 SAxx)
	Software Software
	Now      time.Time
}

// VIHFSigner signs VIHF assertions with a certificate's key: the CPS card's
// (through PKCS#11) or the organisation's seal. It counts its signatures.
type VIHFSigner struct {
	Signer crypto.Signer
	Cert   *x509.Certificate
	count  atomic.Int64
	xades  atomic.Int64
}

// Signatures returns how many VIHF signatures s made.
func (s *VIHFSigner) Signatures() int64 { return s.count.Load() }

// SubmissionSignatures returns how many submission sets s signed (XAdES).
func (s *VIHFSigner) SubmissionSignatures() int64 { return s.xades.Load() }

// accessModeCode returns the TRE_R248 code and display of a mode.
func accessModeCode(m app.AccessMode) (string, string) {
	switch m {
	case app.AccessEmergency:
		return "bris_de_glace", "Accès en bris de glace"
	case app.AccessRegulation:
		return "centre_15", "Accès par un centre de régulation médicale"
	default:
		return "normal", "Accès normal"
	}
}

// Sign builds and signs one VIHF. The result is the saml:Assertion element,
// exactly as it goes inside wsse:Security.
func (s *VIHFSigner) Sign(r VIHFRequest) ([]byte, string, error) {
	if s == nil || s.Signer == nil || s.Cert == nil {
		return nil, "", fmt.Errorf("xds: vihf: no signing credential: %w", app.ErrCredential)
	}
	sigAlg, err := signatureMethod(s.Signer)
	if err != nil {
		return nil, "", err
	}
	if err := r.Access.Validate(); err != nil {
		return nil, "", err
	}
	p := r.Access.Practitioner
	if p.RPPS == "" || p.Profession.Code == "" || r.Software.Name == "" || r.Software.Homologation == "" {
		return nil, "", fmt.Errorf("xds: vihf: practitioner id, profession, software name and homologation id are mandatory: %w", app.ErrNotConfigured)
	}
	for what, v := range map[string]string{"name": p.Name, "structure": p.Structure.ID, "justification": r.Access.Justification,
		"software": r.Software.Name + r.Software.Version + r.Software.Homologation + r.Software.InstallID, "sector": r.Sector} {
		if err := checkChars(what, v); err != nil {
			return nil, "", fmt.Errorf("%w: %w", err, app.ErrInvalid)
		}
	}
	if r.Now.IsZero() {
		r.Now = time.Now()
	}
	if r.Mode == "" {
		r.Mode = AuthIndirect
	}
	if r.Sector == "" {
		r.Sector = DefaultSector
	}
	now := r.Now.UTC()
	id := "_" + newUUID()
	issuer := s.Cert.Subject.String()

	var head, rest bytes.Buffer
	head.WriteString(`<saml:Assertion xmlns:saml="` + NSSAML + `" xmlns:xsi="` + NSXSI + `" ID="` + id + `" IssueInstant="` +
		now.Format("2006-01-02T15:04:05.000Z") + `" Version="2.0">`)
	head.WriteString(`<saml:Issuer Format="` + nameIDFormatDN + `">` + canonText(issuer) + `</saml:Issuer>`)
	rest.WriteString(`<saml:Subject><saml:NameID>` + canonText(p.RPPS) + `</saml:NameID></saml:Subject>`)
	rest.WriteString(`<saml:Conditions NotBefore="` + now.Add(-time.Minute).Format(time.RFC3339) + `" NotOnOrAfter="` +
		now.Add(VIHFLifetime).Format(time.RFC3339) + `"></saml:Conditions>`)
	authn := AuthnTLSClient
	if r.Mode == AuthDirect {
		authn = AuthnSmartcard
	}
	rest.WriteString(`<saml:AuthnStatement AuthnInstant="` + now.Format(time.RFC3339) + `"><saml:AuthnContext><saml:AuthnContextClassRef>` +
		authn + `</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>`)
	rest.WriteString(`<saml:AttributeStatement>`)
	attr := func(name string, values ...string) {
		rest.WriteString(`<saml:Attribute Name="` + canonAttr(name) + `">`)
		for _, v := range values {
			rest.WriteString(`<saml:AttributeValue>` + v + `</saml:AttributeValue>`)
		}
		rest.WriteString(`</saml:Attribute>`)
	}
	text := canonText
	ce := func(elem string, c app.Code, systemName string) string {
		s := `<` + elem + ` xmlns="` + NSHL7 + `" code="` + canonAttr(c.Code) + `" codeSystem="` + canonAttr(c.System) + `"`
		if systemName != "" {
			s += ` codeSystemName="` + canonAttr(systemName) + `"`
		}
		return s + ` displayName="` + canonAttr(c.Display) + `" xsi:type="CE"></` + elem + `>`
	}
	attr(AttrVersion, VIHFVersion)
	attr(AttrAuthMode, string(r.Mode))
	roles := []string{ce("Role", p.Profession, "")}
	if p.Specialty.Code != "" {
		roles = append(roles, ce("Role", p.Specialty, ""))
	}
	attr(AttrRole, roles...)
	attr(AttrSector, text(r.Sector+"^"+OIDSecteurActivite))
	subject := strings.TrimSpace(p.GivenName + " " + p.FamilyName)
	if subject == "" {
		subject = p.Name
	}
	attr(AttrSubjectID, text(subject))
	if p.Structure.ID != "" {
		attr(AttrStructure, text(p.Structure.ID))
	}
	if r.INS != nil {
		attr(AttrResourceID, text(PatientID(*r.INS)))
	}
	attr(AttrResourceURN, "urn:dmp")
	code, display := accessModeCode(r.Access.Mode)
	attr(AttrPurposeOfUse, ce("PurposeOfUse", app.Code{Code: code, System: OIDAccessMode, Display: display}, AccessModeSystemName))
	if r.Access.Mode == app.AccessEmergency {
		attr(AttrJustification, text(r.Access.Justification))
	}
	attr(AttrLPSName, text(r.Software.Name))
	if r.Software.Version != "" {
		attr(AttrLPSVersion, text(r.Software.Version))
	}
	attr(AttrLPSHomolog, text(r.Software.Homologation))
	if r.Software.InstallID != "" {
		attr(AttrLPSID, text(r.Software.InstallID))
	}
	rest.WriteString(`</saml:AttributeStatement></saml:Assertion>`)

	// Digest of the canonical assertion without its signature (enveloped).
	h := sha256.New()
	h.Write(head.Bytes())
	h.Write(rest.Bytes())
	digest := base64.StdEncoding.EncodeToString(h.Sum(nil))
	signedInfo := `<ds:SignedInfo><ds:CanonicalizationMethod Algorithm="` + algExcC14N + `"></ds:CanonicalizationMethod>` +
		`<ds:SignatureMethod Algorithm="` + sigAlg + `"></ds:SignatureMethod><ds:Reference URI="#` + id + `"><ds:Transforms>` +
		`<ds:Transform Algorithm="` + algEnveloped + `"></ds:Transform><ds:Transform Algorithm="` + algExcC14N + `">` +
		`<ec:InclusiveNamespaces xmlns:ec="` + algExcC14N + `" PrefixList="` + VIHFPrefixList + `"></ec:InclusiveNamespaces></ds:Transform>` +
		`</ds:Transforms><ds:DigestMethod Algorithm="` + algSHA256 + `"></ds:DigestMethod><ds:DigestValue>` + digest +
		`</ds:DigestValue></ds:Reference></ds:SignedInfo>`
	// Canonical SignedInfo: the apex renders the ds namespace it uses.
	canonSI := `<ds:SignedInfo xmlns:ds="` + NSDSig + `">` + strings.TrimPrefix(signedInfo, `<ds:SignedInfo>`)
	siHash := sha256.Sum256([]byte(canonSI))
	sig, err := signDigest(s.Signer, siHash[:])
	if err != nil {
		return nil, "", err
	}
	s.count.Add(1)
	var out bytes.Buffer
	out.Grow(head.Len() + rest.Len() + 4096)
	out.Write(head.Bytes())
	out.WriteString(`<ds:Signature xmlns:ds="` + NSDSig + `">` + signedInfo + `<ds:SignatureValue>` + base64.StdEncoding.EncodeToString(sig) +
		`</ds:SignatureValue><ds:KeyInfo><ds:X509Data><ds:X509Certificate>` + base64.StdEncoding.EncodeToString(s.Cert.Raw) +
		`</ds:X509Certificate></ds:X509Data></ds:KeyInfo></ds:Signature>`)
	out.Write(rest.Bytes())
	return out.Bytes(), id, nil
}

// algECDSASHA256 is the XML-DSig ECDSA-SHA256 signature method.
const algECDSASHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"

// signatureMethod returns the XML-DSig signature method of the key: RSA-SHA256
// (the ANS example; CPS cards and IGC-Santé seals are RSA), or ECDSA-SHA256
// for EC keys (test credentials; open question whether the DMP accepts it).
func signatureMethod(s crypto.Signer) (string, error) {
	switch s.Public().(type) {
	case *rsa.PublicKey:
		return algRSASHA256, nil
	case *ecdsa.PublicKey:
		return algECDSASHA256, nil
	default:
		return "", fmt.Errorf("xds: the signing key is neither RSA nor ECDSA: %w", app.ErrCredential)
	}
}

// signDigest signs a SHA-256 digest: PKCS#1 v1.5 for RSA, and for ECDSA the
// raw r‖s form XML-DSig wants (crypto.Signer gives ASN.1).
func signDigest(s crypto.Signer, digest []byte) ([]byte, error) {
	sig, err := s.Sign(rand.Reader, digest, crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("xds: signing: %v: %w", err, app.ErrCredential)
	}
	pub, ok := s.Public().(*ecdsa.PublicKey)
	if !ok {
		return sig, nil
	}
	var v struct{ R, S *big.Int }
	if _, err := asn1.Unmarshal(sig, &v); err != nil {
		return nil, fmt.Errorf("xds: ECDSA signature: %v: %w", err, app.ErrCredential)
	}
	n := (pub.Curve.Params().BitSize + 7) / 8
	out := make([]byte, 2*n)
	v.R.FillBytes(out[:n])
	v.S.FillBytes(out[n:])
	return out, nil
}

// VIHFCache keeps one signed assertion per session and patient context and
// reuses it within its lifetime: a card takes ~100 ms per signature.
type VIHFCache struct {
	Signer *VIHFSigner
	mu     sync.Mutex
	byKey  map[string]cachedVIHF
}

type cachedVIHF struct {
	xml     []byte
	expires time.Time
}

// vihfKey is the context an assertion is valid for.
func vihfKey(r VIHFRequest) string {
	p := r.Access.Practitioner
	ins := ""
	if r.INS != nil {
		ins = r.INS.OID + "|" + r.INS.Matricule
	}
	j := sha256.Sum256([]byte(r.Access.Justification))
	return strings.Join([]string{p.RPPS, p.Structure.ID, string(r.Access.Mode), string(r.Mode), r.Sector, ins, base64.StdEncoding.EncodeToString(j[:8])}, "\x00")
}

// Get returns the assertion for r's context, signing a new one only when
// there is none still valid.
func (c *VIHFCache) Get(r VIHFRequest) ([]byte, error) {
	if r.Now.IsZero() {
		r.Now = time.Now()
	}
	k := vihfKey(r)
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.byKey[k]; ok && r.Now.Add(vihfReuseMargin).Before(v.expires) {
		return v.xml, nil
	}
	x, _, err := c.Signer.Sign(r)
	if err != nil {
		return nil, err
	}
	if c.byKey == nil {
		c.byKey = map[string]cachedVIHF{}
	}
	c.byKey[k] = cachedVIHF{xml: x, expires: r.Now.Add(VIHFLifetime)}
	return x, nil
}

// Forget drops r's assertion (the service refused it as expired): the next
// Get signs a fresh one.
func (c *VIHFCache) Forget(r VIHFRequest) {
	c.mu.Lock()
	delete(c.byKey, vihfKey(r))
	c.mu.Unlock()
}
