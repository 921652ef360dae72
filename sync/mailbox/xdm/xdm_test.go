package xdm

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
)

func TestReadValid(t *testing.T) {
	ar, err := Read(validArchive(t), DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	if len(ar.Subsets) != 1 || len(ar.Subsets[0].Documents) != 1 {
		t.Fatalf("got %d subsets", len(ar.Subsets))
	}
	s := ar.Subsets[0]
	if s.Dir != "IHE_XDM/SUBSET01" {
		t.Errorf("Dir = %q", s.Dir)
	}
	ss := s.SubmissionSet
	if ss.UniqueID != "1.2.250.1.999.3.SUBSET01" || ss.SourceID != "1.2.250.1.999" || ss.Title != "Envoi CR" {
		t.Errorf("submission set = %+v", ss)
	}
	if ss.PatientID.Extension != testMatricule || ss.PatientID.Root != testOID || ss.PatientID.CX != testPatient {
		t.Errorf("set patient = %+v", ss.PatientID)
	}
	if !ss.SubmissionTime.Equal(time.Date(2025, 3, 1, 9, 31, 0, 0, time.UTC)) {
		t.Errorf("submissionTime = %v", ss.SubmissionTime)
	}
	if len(ss.IntendedRecipients) != 1 || !strings.Contains(ss.IntendedRecipients[0], "mssante.fr") {
		t.Errorf("recipients = %q", ss.IntendedRecipients)
	}
	d := s.Documents[0]
	if d.UniqueID != "1.2.250.1.999.1.SUBSET01.1" || d.EntryUUID != "urn:uuid:00000000-0000-4000-8000-000000000001" {
		t.Errorf("ids = %q %q", d.UniqueID, d.EntryUUID)
	}
	if d.PatientID.Extension != testMatricule || d.PatientID.Root != testOID {
		t.Errorf("patient = %+v", d.PatientID)
	}
	ins, err := d.PatientID.INS()
	if err != nil || ins.Matricule != testMatricule || ins.OID != app.OIDINSNIRTest {
		t.Errorf("INS() = %+v, %v", ins, err)
	}
	if d.Type != (app.Code{Code: "11490-0", System: app.SystemLOINC, Display: "CR de sortie"}) {
		t.Errorf("type = %+v", d.Type)
	}
	if d.Class.Code != "10" || d.Format.Code != "urn:ihe:iti:xds-sd:text:2008" || d.FacilityType.Code != "SA01" || d.PracticeSetting.Code != "ETABLISSEMENT" {
		t.Errorf("codes = %+v %+v %+v %+v", d.Class, d.Format, d.FacilityType, d.PracticeSetting)
	}
	if len(d.Confidentiality) != 1 || d.Confidentiality[0].Code != "N" {
		t.Errorf("confidentiality = %+v", d.Confidentiality)
	}
	if !bytes.Equal(d.Content, tinyCDA) || d.Size != int64(len(tinyCDA)) || d.Hash != sha1hex(tinyCDA) {
		t.Errorf("content/size/hash wrong")
	}
	if d.MimeType != "text/xml" || d.URI != "DOC0001.XML" || d.Path != "IHE_XDM/SUBSET01/DOC0001.XML" || d.Language != "fr-FR" {
		t.Errorf("mime/uri/path/lang = %q %q %q %q", d.MimeType, d.URI, d.Path, d.Language)
	}
	if !d.CreationTime.Equal(time.Date(2025, 3, 1, 9, 30, 0, 0, time.UTC)) || !d.ServiceStart.Equal(time.Date(2025, 2, 28, 14, 0, 0, 0, time.UTC)) || !d.ServiceStop.Equal(time.Date(2025, 2, 28, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("times = %v %v %v", d.CreationTime, d.ServiceStart, d.ServiceStop)
	}
	spi := d.SourcePatientInfo
	if len(spi.IDs) != 1 || len(spi.Names) != 1 || spi.Names[0] != testFamily+"^"+testGiven+"^^^^^L" || spi.BirthDate != testBirth || spi.Sex != "F" {
		t.Errorf("sourcePatientInfo = %+v", spi)
	}
	if d.SourcePatientID != "IPP123^^^&1.2.250.1.999.2&ISO^PI" {
		t.Errorf("sourcePatientId = %q", d.SourcePatientID)
	}
	if len(d.Authors) != 1 || d.Authors[0].Name() != "Paul MARTIN" || d.Authors[0].Organisation() != "Clinique du Parc" || d.Authors[0].Role[0] != "Chirurgien" || len(d.Authors[0].Specialty) != 1 {
		t.Errorf("authors = %+v", d.Authors)
	}
	m := d.Meta()
	want := app.DocumentMeta{ID: "1.2.250.1.999.1.SUBSET01.1", TypeCode: "11490-0", ClassCode: "10", Title: "CR de cholecystectomie",
		Date: d.ServiceStart, Author: "Paul MARTIN", Organisation: "Clinique du Parc", Confidentiality: "N",
		MediaType: "text/xml", Size: int64(len(tinyCDA)), Hash: sha1hex(tinyCDA), Source: "mssante"}
	if m != want {
		t.Errorf("Meta() = %+v\nwant %+v", m, want)
	}
	if len(ar.Documents()) != 1 {
		t.Error("Documents()")
	}
}

func TestReadVariantsAccepted(t *testing.T) {
	lower := xdmEntries(oneDoc())
	for i := range lower {
		lower[i].name = strings.ToLower(lower[i].name)
	}
	upperHash := oneDoc()
	upperHash.docs[0].hash = strings.ToUpper(sha1hex(tinyCDA))
	multi := subsetSpec{docs: []docSpec{{uri: "DOC0001.XML", content: tinyCDA}, {uri: "DOC0002/DOC0002.XML", content: []byte("<x>second</x>")}}}
	// a URI may start with ../ as long as it stays inside IHE_XDM/
	dotdot := oneDoc()
	dotdot.docs[0].uri = "../SUBSET01/DOC0001.XML"
	dotdotEntries := xdmEntries(dotdot)
	dotdotEntries[len(dotdotEntries)-1].name = "IHE_XDM/SUBSET01/DOC0001.XML"
	latin := oneDoc()
	latin.metadata = bytes.Replace(metadataXML(latin), []byte(`encoding="UTF-8"`), []byte(`encoding="ISO-8859-1"`), 1)
	latin.metadata = bytes.Replace(latin.metadata, []byte("Envoi CR"), []byte("Envoi \xe9t\xe9"), 1)
	bom := oneDoc()
	bom.metadata = append([]byte("\xef\xbb\xbf"), metadataXML(bom)...)
	stored := xdmEntries(oneDoc())
	for i := range stored {
		stored[i].store = true
	}
	rplc := oneDoc()
	rplc.rplc = "urn:uuid:99999999-0000-4000-8000-000000000009"
	withDirs := append([]entry{{name: "IHE_XDM/"}, {name: "IHE_XDM/SUBSET01/"}}, xdmEntries(oneDoc())...)

	tests := []struct {
		name    string
		entries []entry
		check   func(t *testing.T, a *Archive)
	}{
		{"lower-case names", lower, func(t *testing.T, a *Archive) {
			if a.Subsets[0].Dir != "ihe_xdm/subset01" {
				t.Errorf("Dir = %q", a.Subsets[0].Dir)
			}
		}},
		{"upper-case hash", xdmEntries(upperHash), nil},
		{"multipart document directory", xdmEntries(multi), func(t *testing.T, a *Archive) {
			if len(a.Subsets[0].Documents) != 2 || string(a.Subsets[0].Documents[1].Content) != "<x>second</x>" {
				t.Error("second document wrong")
			}
		}},
		{"URI with ../ staying inside", dotdotEntries, nil},
		{"ISO-8859-1 metadata", xdmEntries(latin), func(t *testing.T, a *Archive) {
			if a.Subsets[0].SubmissionSet.Title != "Envoi été" {
				t.Errorf("title = %q", a.Subsets[0].SubmissionSet.Title)
			}
		}},
		{"UTF-8 BOM", xdmEntries(bom), nil},
		{"stored entries", stored, nil},
		{"directory entries", withDirs, nil},
		{"RPLC association", xdmEntries(rplc), func(t *testing.T, a *Archive) {
			as := a.Subsets[0].Associations
			if len(as) != 1 || as[0].Type != "RPLC" || as[0].SourceUniqueID != "1.2.250.1.999.1.SUBSET01.1" || as[0].Target != rplc.rplc {
				t.Errorf("associations = %+v", as)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := Read(buildZip(t, tc.entries), DefaultLimits())
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(a.Subsets[0].Documents[0].Content, tinyCDA) {
				t.Error("content differs")
			}
			if tc.check != nil {
				tc.check(t, a)
			}
		})
	}
}

// TestReadSampleCDA wraps each shared sample CDA in an archive. The samples
// are read at test time and never copied into the repository.
func TestReadSampleCDA(t *testing.T) {
	files, _ := filepath.Glob("/work/shared/samples/cda/*.xml")
	if len(files) == 0 {
		t.Skip("no shared CDA samples")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		s := subsetSpec{docs: []docSpec{{uri: "DOC0001.XML", content: b}}}
		a, err := Read(buildZip(t, xdmEntries(s)), DefaultLimits())
		if err != nil {
			t.Fatalf("%s: %v", filepath.Base(f), err)
		}
		if d := a.Subsets[0].Documents[0]; !bytes.Equal(d.Content, b) || d.Hash != sha1hex(b) {
			t.Fatalf("%s: content or hash differs", filepath.Base(f))
		}
	}
}

func TestErrorKinds(t *testing.T) {
	e := fail(ReasonHashMismatch, "x")
	if !errors.Is(e, app.ErrIntegrity) || errors.Is(e, app.ErrInvalid) || ReasonOf(e) != ReasonHashMismatch {
		t.Error("hash mismatch kind")
	}
	e = fail(ReasonZipSlip, "x")
	if !errors.Is(e, app.ErrInvalid) || e.Manual() || !fail(ReasonSeveralPatients, "").Manual() {
		t.Error("zip-slip kind")
	}
	if ReasonOf(errors.New("other")) != "" {
		t.Error("ReasonOf of a foreign error")
	}
	name := "IHE_XDM/SUBSET01/CR_DUPONT_Elodie_\x00\xc3\xa9" + strings.Repeat("x", 200)
	if got := safeName(name); strings.Contains(got, "DUPONT") || strings.ContainsAny(got, "\x00é") || len(got) != len("entry#")+2*safeNameTokenBytes || got == safeName(name+"2") {
		t.Errorf("safeName = %q", got)
	}
}

func TestParseDTM(t *testing.T) {
	for in, want := range map[string]time.Time{
		"2025":                time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
		"20250301093000":      time.Date(2025, 3, 1, 9, 30, 0, 0, time.UTC),
		"20250301093000+0100": time.Date(2025, 3, 1, 8, 30, 0, 0, time.UTC),
		"20250301093000.123":  time.Date(2025, 3, 1, 9, 30, 0, 0, time.UTC),
		"202503010930001":     {},
		"garbage":             {},
		"20251301":            {},
	} {
		if got := parseDTM(in); !got.Equal(want) {
			t.Errorf("parseDTM(%q) = %v, want %v", in, got, want)
		}
	}
}

// TestUnlistedDocuments: an XML entry of IHE_XDM/ that no METADATA.XML
// lists is counted (not read, not silently ignored); stylesheets, the
// metadata and the root files are not.
func TestUnlistedDocuments(t *testing.T) {
	for _, tc := range []struct {
		name  string
		extra []entry
		want  int
	}{
		{"none", nil, 0},
		{"one CDA", []entry{{name: "IHE_XDM/SUBSET01/DUPONT_ELODIE.XML", data: tinyCDA}}, 1},
		{"lower case, other dir", []entry{{name: "IHE_XDM/OTHER/cr.xml", data: tinyCDA}, {name: "IHE_XDM/SUBSET01/x.xml", data: tinyCDA}}, 2},
		{"stylesheet and root files", []entry{{name: "IHE_XDM/SUBSET01/CDA.XSL", data: []byte("<x/>")}, {name: "ROOT.XML", data: tinyCDA}}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := Read(buildZip(t, append(xdmEntries(oneDoc()), tc.extra...)), Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if a.Unlisted != tc.want || len(a.Documents()) != 1 {
				t.Fatalf("Unlisted = %d (want %d), %d documents", a.Unlisted, tc.want, len(a.Documents()))
			}
		})
	}
}

// TestSafeNameKeyed: an entry name in an error is an HMAC under a key of
// the process, not a bare hash: the same name gives the same token within
// the run, another key another token, the unsalted SHA-256 of the name
// (what a dictionary attack on logs computes) is nowhere in it, and it
// keeps 128 bits.
func TestSafeNameKeyed(t *testing.T) {
	name := "IHE_XDM/SUBSET01/CR_DUPONT_Elodie_1980-01-01.xml"
	got := safeName(name)
	if got != safeName(name) {
		t.Fatal("the same name gives two tokens within a run")
	}
	if len(got) != len("entry#")+32 || !strings.HasPrefix(got, "entry#") {
		t.Fatalf("token %q: want entry# and 128 bits in hex", got)
	}
	sum := sha256.Sum256([]byte(name))
	bare := hex.EncodeToString(sum[:])
	if strings.Contains(bare, strings.TrimPrefix(got, "entry#")[:8]) {
		t.Fatalf("token %q is a prefix of the name's unsalted SHA-256", got)
	}
	k1 := bytes.Repeat([]byte{1}, 32)
	k2 := bytes.Repeat([]byte{2}, 32)
	if safeNameWith(k1, name) == safeNameWith(k2, name) {
		t.Fatal("two keys give the same token")
	}
	if safeNameWith(k1, name) != safeNameWith(k1, name) || safeNameWith(k1, name) == safeNameWith(k1, name+" ") {
		t.Fatal("the token does not follow the name under one key")
	}
	if len(nameKey()) != 32 || bytes.Equal(nameKey(), make([]byte, 32)) {
		t.Fatal("the process key is not 32 random bytes")
	}
}
