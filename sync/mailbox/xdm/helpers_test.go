package xdm

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"io/fs"
	"strings"
	"testing"
	"time"
)

// Patient data of the test archives: none of it may appear in an error.
const (
	testMatricule = "279035121518989"
	testOID       = "1.2.250.1.213.1.4.10" // INS-NIR test
	testPatient   = testMatricule + "^^^&" + testOID + "&ISO^NH"
	otherPatient  = "180012B01234588^^^&" + testOID + "&ISO^NH"
	testFamily    = "DUPONTEL"
	testGiven     = "Elodiane"
	testBirth     = "19800101"
	cdaSecret     = "Lithiase vesiculaire confidentielle"
)

// secrets are the strings an error text must never contain.
var secrets = []string{testMatricule, "180012B01234588", testFamily, testGiven, testBirth, cdaSecret, "1.2.250.1.213.1.4.10"}

// tinyCDA is a minimal CDA document carrying patient data.
var tinyCDA = []byte(`<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3">
 <id root="1.2.250.1.999.1" extension="DOC-1"/>
 <code code="11490-0" codeSystem="2.16.840.1.113883.6.1"/>
 <recordTarget><patientRole><id root="` + testOID + `" extension="` + testMatricule + `"/>
  <patient><name><family qualifier="BR">` + testFamily + `</family><given>` + testGiven + `</given></name>
  <birthTime value="` + testBirth + `"/></patient></patientRole></recordTarget>
 <component><nonXMLBody><text>` + cdaSecret + `</text></nonXMLBody></component>
</ClinicalDocument>
`)

// entry is one ZIP entry to write.
type entry struct {
	name     string
	data     []byte
	method   uint16      // zip.Deflate unless set; zip.Store = 0 needs store: true
	store    bool        // write with zip.Store
	mode     fs.FileMode // SetMode when non-zero
	flags    uint16      // raw flags (written with CreateRaw)
	declared int64       // when > 0: write raw, declaring this uncompressed size
}

// buildZip writes entries with archive/zip, raw where an entry must lie.
func buildZip(t testing.TB, entries []entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		method := zip.Deflate
		if e.store {
			method = zip.Store
		}
		if e.method != 0 {
			method = e.method
		}
		fh := &zip.FileHeader{Name: e.name, Method: method, Modified: time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)}
		if e.mode != 0 {
			fh.SetMode(e.mode)
		}
		if e.flags != 0 || e.declared > 0 || e.method != 0 {
			comp := e.data
			if method == zip.Deflate {
				comp = deflate(t, e.data)
			}
			fh.Flags = e.flags
			fh.CRC32 = crc32.ChecksumIEEE(e.data)
			fh.CompressedSize64 = uint64(len(comp))
			fh.UncompressedSize64 = uint64(len(e.data))
			if e.declared > 0 {
				fh.UncompressedSize64 = uint64(e.declared)
			}
			w, err := zw.CreateRaw(fh)
			if err != nil {
				t.Fatal(err)
			}
			w.Write(comp)
			continue
		}
		w, err := zw.CreateHeader(fh)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(e.data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func deflate(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	fw, _ := flate.NewWriter(&buf, flate.BestSpeed)
	fw.Write(b)
	fw.Close()
	return buf.Bytes()
}

func sha1hex(b []byte) string {
	s := sha1.Sum(b)
	return hex.EncodeToString(s[:])
}

// docSpec describes one DocumentEntry of a generated METADATA.XML.
type docSpec struct {
	uri     string
	content []byte // the entry written at uri (unless noFile)
	noFile  bool
	hash    string // "" → the real SHA-1; "-" → no hash slot
	size    string // "" → the real size; "-" → no size slot
	patient string // "" → testPatient
	unique  string // "" → generated
}

// subsetSpec describes one IHE_XDM/<dir>/.
type subsetSpec struct {
	dir      string // "" → SUBSET01
	patient  string // "" → testPatient
	docs     []docSpec
	metadata []byte // when set, replaces the generated METADATA.XML
	prolog   string // inserted after the XML declaration
	rplc     string // when set, an RPLC association from the first document to this entryUUID
}

func (s subsetSpec) dirName() string {
	if s.dir == "" {
		return "SUBSET01"
	}
	return s.dir
}

// metadataXML writes an ebRIM 3.0 SubmitObjectsRequest for s.
func metadataXML(s subsetSpec) []byte {
	pat := s.patient
	if pat == "" {
		pat = testPatient
	}
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" + s.prolog)
	b.WriteString(`<lcm:SubmitObjectsRequest xmlns:lcm="urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0" xmlns:rim="urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0"><rim:RegistryObjectList>` + "\n")
	slot := func(name string, vals ...string) string {
		var v strings.Builder
		for _, x := range vals {
			v.WriteString("<rim:Value>" + x + "</rim:Value>")
		}
		return `<rim:Slot name="` + name + `"><rim:ValueList>` + v.String() + `</rim:ValueList></rim:Slot>`
	}
	class := func(scheme, obj, code, system, display string) string {
		return `<rim:Classification classificationScheme="` + scheme + `" classifiedObject="` + obj + `" nodeRepresentation="` + code + `">` +
			slot("codingScheme", system) + `<rim:Name><rim:LocalizedString value="` + display + `"/></rim:Name></rim:Classification>`
	}
	for i, d := range s.docs {
		id := fmt.Sprintf("urn:uuid:00000000-0000-4000-8000-%012d", i+1)
		hash, size := d.hash, d.size
		if hash == "" {
			hash = sha1hex(d.content)
		}
		if size == "" {
			size = fmt.Sprint(len(d.content))
		}
		p := d.patient
		if p == "" {
			p = pat
		}
		uid := d.unique
		if uid == "" {
			uid = fmt.Sprintf("1.2.250.1.999.1.%s.%d", s.dirName(), i+1)
		}
		b.WriteString(`<rim:ExtrinsicObject id="` + id + `" mimeType="text/xml" objectType="urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1">`)
		b.WriteString(slot("creationTime", "20250301093000"))
		b.WriteString(slot("serviceStartTime", "202502281400"))
		b.WriteString(slot("serviceStopTime", "20250228"))
		b.WriteString(slot("languageCode", "fr-FR"))
		if hash != "-" {
			b.WriteString(slot("hash", hash))
		}
		if size != "-" {
			b.WriteString(slot("size", size))
		}
		b.WriteString(slot("URI", d.uri))
		b.WriteString(slot("sourcePatientId", "IPP123^^^&amp;1.2.250.1.999.2&amp;ISO^PI"))
		b.WriteString(slot("sourcePatientInfo", "PID-3|IPP123^^^&amp;1.2.250.1.999.2&amp;ISO^PI", "PID-5|"+testFamily+"^"+testGiven+"^^^^^L", "PID-7|"+testBirth, "PID-8|F"))
		b.WriteString(`<rim:Name><rim:LocalizedString xml:lang="fr-FR" value="CR de cholecystectomie"/></rim:Name>`)
		b.WriteString(class(schemeClass, id, "10", "1.2.250.1.213.1.1.4.1", "Compte rendu"))
		b.WriteString(class(schemeType, id, "11490-0", "2.16.840.1.113883.6.1", "CR de sortie"))
		b.WriteString(class(schemeFormat, id, "urn:ihe:iti:xds-sd:text:2008", "1.3.6.1.4.1.19376.1.2.3", "Document N1"))
		b.WriteString(class(schemeConfid, id, "N", "2.16.840.1.113883.5.25", "Normal"))
		b.WriteString(class(schemeFacility, id, "SA01", "1.2.250.1.71.4.2.4", "Etablissement public"))
		b.WriteString(class(schemePractice, id, "ETABLISSEMENT", "1.2.250.1.213.1.1.4.9", "Etablissement de sante"))
		b.WriteString(`<rim:Classification classificationScheme="` + schemeDocAuthor + `" classifiedObject="` + id + `" nodeRepresentation="">` +
			slot("authorPerson", "801234567897^MARTIN^Paul^^^DR^^^&amp;1.2.250.1.71.4.2.1&amp;ISO^D^^^IDNPS") +
			slot("authorInstitution", "Clinique du Parc^^^^^&amp;1.2.250.1.71.4.2.2&amp;ISO^IDNST^^^3750000000") +
			slot("authorRole", "Chirurgien") + slot("authorSpecialty", "G15_10/SM26^Chirurgie viscerale^1.2.250.1.213.1.1.4.5") + `</rim:Classification>`)
		b.WriteString(`<rim:ExternalIdentifier identificationScheme="` + schemeDocPatientID + `" value="` + strings.ReplaceAll(p, "&", "&amp;") + `" registryObject="` + id + `"/>`)
		b.WriteString(`<rim:ExternalIdentifier identificationScheme="` + schemeDocUniqueID + `" value="` + uid + `" registryObject="` + id + `"/>`)
		b.WriteString("</rim:ExtrinsicObject>\n")
	}
	set := "urn:uuid:11111111-0000-4000-8000-000000000001"
	b.WriteString(`<rim:RegistryPackage id="` + set + `">` + slot("submissionTime", "20250301093100") + slot("intendedRecipient", "^MOREAU^Anne^^^^^^&amp;1.2.250.1.71.4.2.1&amp;ISO|^^Internet^anne.moreau@clinique.mssante.fr") +
		`<rim:Name><rim:LocalizedString value="Envoi CR"/></rim:Name>` +
		`<rim:ExternalIdentifier identificationScheme="` + schemeSetUniqueID + `" value="1.2.250.1.999.3.` + s.dirName() + `" registryObject="` + set + `"/>` +
		`<rim:ExternalIdentifier identificationScheme="` + schemeSetSourceID + `" value="1.2.250.1.999" registryObject="` + set + `"/>` +
		`<rim:ExternalIdentifier identificationScheme="` + schemeSetPatient + `" value="` + strings.ReplaceAll(pat, "&", "&amp;") + `" registryObject="` + set + `"/>` +
		"</rim:RegistryPackage>\n")
	b.WriteString(`<rim:Classification classifiedObject="` + set + `" classificationNode="` + nodeSubmissionSet + `" id="cl01"/>` + "\n")
	for i := range s.docs {
		b.WriteString(fmt.Sprintf(`<rim:Association associationType="urn:oasis:names:tc:ebxml-regrep:AssociationType:HasMember" sourceObject="%s" targetObject="urn:uuid:00000000-0000-4000-8000-%012d"/>`+"\n", set, i+1))
	}
	if s.rplc != "" {
		b.WriteString(`<rim:Association associationType="urn:ihe:iti:2007:AssociationType:RPLC" sourceObject="urn:uuid:00000000-0000-4000-8000-000000000001" targetObject="` + s.rplc + `"/>` + "\n")
	}
	b.WriteString("</rim:RegistryObjectList></lcm:SubmitObjectsRequest>\n")
	return []byte(b.String())
}

// xdmEntries returns the entries of an archive with the given subsets,
// README.TXT and INDEX.HTM included.
func xdmEntries(subsets ...subsetSpec) []entry {
	es := []entry{
		{name: "README.TXT", data: []byte("Clinique du Parc - Carnet test\r\n")},
		{name: "INDEX.HTM", data: []byte("<html><body>index</body></html>")},
	}
	for _, s := range subsets {
		dir := "IHE_XDM/" + s.dirName() + "/"
		md := s.metadata
		if md == nil {
			md = metadataXML(s)
		}
		es = append(es, entry{name: dir + "METADATA.XML", data: md})
		for _, d := range s.docs {
			if !d.noFile {
				es = append(es, entry{name: dir + d.uri, data: d.content})
			}
		}
	}
	return es
}

// oneDoc is the usual single-subset, single-document spec.
func oneDoc() subsetSpec {
	return subsetSpec{docs: []docSpec{{uri: "DOC0001.XML", content: tinyCDA}}}
}

// validArchive is a well-formed single-subset archive.
func validArchive(t testing.TB) []byte { return buildZip(t, xdmEntries(oneDoc())) }
