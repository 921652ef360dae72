package xdm

import (
	"archive/zip"
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"testing"

	"github.com/carnetdesk/carnet/app"
)

// threatCase is one hostile or broken archive and the Reason it must get.
type threatCase struct {
	name   string
	data   []byte
	lim    Limits
	reason string
	manual bool // the archive is returned along with the error
}

// withEntry returns the valid archive's entries plus e.
func withEntry(e ...entry) []entry { return append(xdmEntries(oneDoc()), e...) }

// docOpts returns the single-document archive after changing its spec.
func docOpts(t testing.TB, f func(*subsetSpec)) []byte {
	s := oneDoc()
	f(&s)
	return buildZip(t, xdmEntries(s))
}

// withMetadata returns the single-document archive with METADATA.XML replaced.
func withMetadata(t testing.TB, f func([]byte) []byte) []byte {
	s := oneDoc()
	s.metadata = f(metadataXML(s))
	return buildZip(t, xdmEntries(s))
}

func threatCases(t testing.TB) []threatCase {
	small := Limits{MaxEntrySize: 1 << 20, MaxTotalSize: 1 << 20, MaxMetadataSize: 4 << 10}
	random := make([]byte, 400<<10)
	rand.Read(random)
	zeros := make([]byte, 10<<20)
	var many []entry
	for i := 0; i < 1001; i++ {
		many = append(many, entry{name: fmt.Sprintf("X/F%04d.TXT", i), data: []byte("x")})
	}
	valid := validArchive(t)
	inner := buildZip(t, []entry{{name: "A.TXT", data: []byte("a")}})
	corrupt := buildZip(t, xdmEntries(subsetSpec{docs: []docSpec{{uri: "DOC0001.XML", content: bytes.Repeat(tinyCDA, 50)}}}))
	if i := bytes.Index(corrupt, []byte("DOC0001.XML")); i > 0 { // flip bytes inside the document's deflate stream
		for j := i + 40; j < i+60; j++ {
			corrupt[j] ^= 0x55
		}
	}
	billion := `<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>`
	return []threatCase{
		{name: "zip-slip ../", data: buildZip(t, withEntry(entry{name: "../../EVIL.TXT", data: []byte("x")})), reason: ReasonZipSlip},
		{name: "zip-slip inner ..", data: buildZip(t, withEntry(entry{name: "IHE_XDM/../../EVIL.TXT", data: []byte("x")})), reason: ReasonZipSlip},
		{name: "zip-slip absolute", data: buildZip(t, withEntry(entry{name: "/etc/EVIL.TXT", data: []byte("x")})), reason: ReasonZipSlip},
		{name: "zip-slip drive letter", data: buildZip(t, withEntry(entry{name: "C:EVIL.TXT", data: []byte("x")})), reason: ReasonZipSlip},
		{name: "zip-slip backslash", data: buildZip(t, withEntry(entry{name: `IHE_XDM\..\..\EVIL.TXT`, data: []byte("x")})), reason: ReasonZipSlip},
		{name: "zip-slip NUL", data: buildZip(t, withEntry(entry{name: "IHE_XDM/SUBSET01/DOC\x00.XML", data: []byte("x")})), reason: ReasonZipSlip},
		{name: "zip-slip not clean", data: buildZip(t, withEntry(entry{name: "IHE_XDM//SUBSET01/X.XML", data: []byte("x")})), reason: ReasonZipSlip},
		{name: "zip-slip dot element", data: buildZip(t, withEntry(entry{name: "IHE_XDM/./X.XML", data: []byte("x")})), reason: ReasonZipSlip},
		{name: "uri escape", data: docOpts(t, func(s *subsetSpec) {
			s.docs = append(s.docs, docSpec{uri: "../../README.TXT", content: []byte("x"), noFile: true})
		}), reason: ReasonURIEscape},
		{name: "uri escape to IHE_XDM itself", data: docOpts(t, func(s *subsetSpec) { s.docs[0].uri = "../../IHE_XDM"; s.docs[0].noFile = true }), reason: ReasonURIEscape},
		{name: "uri absolute", data: docOpts(t, func(s *subsetSpec) { s.docs[0].uri = "/IHE_XDM/SUBSET01/DOC0001.XML"; s.docs[0].noFile = true }), reason: ReasonURIEscape},
		{name: "uri with scheme", data: docOpts(t, func(s *subsetSpec) { s.docs[0].uri = "file:///etc/passwd"; s.docs[0].noFile = true }), reason: ReasonURIEscape},
		{name: "symlink", data: buildZip(t, withEntry(entry{name: "IHE_XDM/SUBSET01/LINK", data: []byte("/etc/passwd"), mode: os.ModeSymlink | 0o777})), reason: ReasonSymlink},
		{name: "device", data: buildZip(t, withEntry(entry{name: "IHE_XDM/SUBSET01/DEV", mode: os.ModeDevice | 0o600})), reason: ReasonNotRegular},
		{name: "encrypted", data: buildZip(t, withEntry(entry{name: "IHE_XDM/SUBSET01/SECRET.XML", data: []byte("x"), flags: 0x1})), reason: ReasonEncrypted},
		{name: "duplicate", data: buildZip(t, withEntry(entry{name: "IHE_XDM/SUBSET01/DOC0001.XML", data: []byte("other")})), reason: ReasonDuplicateName},
		{name: "case duplicate", data: buildZip(t, withEntry(entry{name: "ihe_xdm/subset01/doc0001.xml", data: []byte("other")})), reason: ReasonDuplicateName},
		{name: "case duplicate metadata", data: buildZip(t, withEntry(entry{name: "IHE_XDM/SUBSET01/Metadata.xml", data: metadataXML(oneDoc())})), reason: ReasonDuplicateName},
		{name: "file and directory", data: buildZip(t, withEntry(entry{name: "IHE_XDM/SUBSET01/DOC0001.XML/"})), reason: ReasonDuplicateName},
		{name: "too large declared", data: buildZip(t, withEntry(entry{name: "BIG.TXT", data: random[:1], declared: 60 << 20})), reason: ReasonTooLarge},
		{name: "too large honest size", data: buildZip(t, withEntry(entry{name: "BIG.BIN", data: make([]byte, 2<<20)})), lim: Limits{MaxEntrySize: 1 << 20}, reason: ReasonTooLarge},
		{name: "bomb ratio", data: buildZip(t, withEntry(entry{name: "ZEROS.BIN", data: zeros})), reason: ReasonBomb},
		{name: "bomb lying about its size", reason: ReasonBomb},      // data: fixLying
		{name: "entry shorter than declared", reason: ReasonCorrupt}, // data: fixLying
		{name: "too many entries", data: buildZip(t, append(xdmEntries(oneDoc()), many...)), reason: ReasonTooManyEntries},
		{name: "total size", data: buildZip(t, withEntry(entry{name: "R1.BIN", data: random}, entry{name: "R2.BIN", data: random}, entry{name: "R3.BIN", data: random})), lim: small, reason: ReasonTooLarge},
		{name: "metadata too large", data: withMetadata(t, func(m []byte) []byte {
			return bytes.Replace(m, []byte("<rim:RegistryObjectList>"), []byte("<rim:RegistryObjectList><!--"+strings.Repeat("x", 8<<10)+"-->"), 1)
		}), lim: small, reason: ReasonTooLarge},
		{name: "entity bomb", data: docOpts(t, func(s *subsetSpec) { s.prolog = billion }), reason: ReasonDoctype},
		{name: "doctype external", data: docOpts(t, func(s *subsetSpec) { s.prolog = `<!DOCTYPE r SYSTEM "http://evil.example/x.dtd">` }), reason: ReasonDoctype},
		{name: "undeclared entity", data: withMetadata(t, func(m []byte) []byte { return bytes.Replace(m, []byte("Envoi CR"), []byte("&xxe;"), 1) }), reason: ReasonBadMetadata},
		{name: "xml depth", data: withMetadata(t, func(m []byte) []byte {
			return bytes.Replace(m, []byte("<rim:RegistryObjectList>"), []byte("<rim:RegistryObjectList>"+strings.Repeat("<a>", 100)+strings.Repeat("</a>", 100)), 1)
		}), reason: ReasonXMLDepth},
		{name: "not well-formed", data: withMetadata(t, func(m []byte) []byte { return m[:len(m)/2] }), reason: ReasonBadMetadata},
		{name: "wrong root", data: withMetadata(t, func(m []byte) []byte { return []byte("<html/>") }), reason: ReasonBadMetadata},
		{name: "no submission set", data: withMetadata(t, func(m []byte) []byte {
			return bytes.ReplaceAll(bytes.ReplaceAll(m, []byte(schemeSetUniqueID), []byte("x")), []byte(nodeSubmissionSet), []byte("y"))
		}), reason: ReasonBadMetadata},
		{name: "missing hash", data: docOpts(t, func(s *subsetSpec) { s.docs[0].hash = "-" }), reason: ReasonBadMetadata},
		{name: "missing size", data: docOpts(t, func(s *subsetSpec) { s.docs[0].size = "-" }), reason: ReasonBadMetadata},
		{name: "hash not hex", data: docOpts(t, func(s *subsetSpec) { s.docs[0].hash = strings.Repeat("z", 40) }), reason: ReasonBadMetadata},
		{name: "hash mismatch", data: docOpts(t, func(s *subsetSpec) { s.docs[0].hash = sha1hex([]byte("other")) }), reason: ReasonHashMismatch},
		{name: "size mismatch", data: docOpts(t, func(s *subsetSpec) { s.docs[0].size = "12" }), reason: ReasonSizeMismatch},
		{name: "missing document", data: docOpts(t, func(s *subsetSpec) { s.docs[0].noFile = true }), reason: ReasonMissingDocument},
		{name: "document described twice", data: docOpts(t, func(s *subsetSpec) {
			s.docs = append(s.docs, docSpec{uri: "DOC0001.XML", content: tinyCDA, noFile: true})
		}), reason: ReasonBadMetadata},
		{name: "missing metadata", data: buildZip(t, []entry{{name: "README.TXT", data: []byte("x")}, {name: "IHE_XDM/SUBSET01/DOC0001.XML", data: tinyCDA}}), reason: ReasonMissingMetadata},
		{name: "several subsets", data: buildZip(t, xdmEntries(oneDoc(), subsetSpec{dir: "SUBSET02", docs: []docSpec{{uri: "DOC0001.XML", content: tinyCDA}}})), reason: ReasonSeveralSubsets, manual: true},
		{name: "two submission sets in one metadata", data: withMetadata(t, func(m []byte) []byte {
			i, j := bytes.Index(m, []byte("<rim:RegistryPackage")), bytes.Index(m, []byte("</rim:RegistryPackage>"))+len("</rim:RegistryPackage>")
			second := bytes.ReplaceAll(m[i:j], []byte("11111111-0000"), []byte("22222222-0000"))
			return append(append(append([]byte{}, m[:j]...), second...), m[j:]...)
		}), reason: ReasonSeveralSubsets, manual: true},
		{name: "several patients", data: docOpts(t, func(s *subsetSpec) {
			s.docs = append(s.docs, docSpec{uri: "DOC0002.XML", content: []byte("<x/>"), patient: otherPatient})
		}), reason: ReasonSeveralPatients, manual: true},
		{name: "not a zip", data: []byte("Bonjour, " + testFamily + " " + testGiven + " " + testMatricule), reason: ReasonNotZip},
		{name: "empty", data: nil, reason: ReasonNotZip},
		{name: "truncated zip", data: valid[:len(valid)*2/3], reason: ReasonNotZip},
		{name: "nested zip by name", data: buildZip(t, withEntry(entry{name: "IHE_XDM/SUBSET01/IHE_XDM.ZIP", data: inner})), reason: ReasonNestedZip},
		{name: "nested zip by content", data: docOpts(t, func(s *subsetSpec) { s.docs[0].content = inner }), reason: ReasonNestedZip},
		{name: "corrupt data", data: corrupt, reason: ReasonCorrupt},
		{name: "unsupported method", data: buildZip(t, append(xdmEntries(subsetSpec{docs: []docSpec{{uri: "DOC0001.XML", content: tinyCDA, noFile: true}}}),
			entry{name: "IHE_XDM/SUBSET01/DOC0001.XML", data: tinyCDA, method: 12})), reason: ReasonMethod},
	}
}

// fixLying builds the two cases whose document entry lies about its size
// (they need the raw entry in place of the generated one).
func fixLying(t testing.TB, cases []threatCase) {
	for i := range cases {
		switch cases[i].name {
		case "bomb lying about its size":
			// declares 100 bytes (as does the metadata), inflates to 5 MiB
			s := subsetSpec{docs: []docSpec{{uri: "DOC0001.XML", content: make([]byte, 100), noFile: true}}}
			cases[i].data = buildZip(t, append(xdmEntries(s), entry{name: "IHE_XDM/SUBSET01/DOC0001.XML", data: make([]byte, 5<<20), declared: 100}))
		case "entry shorter than declared":
			s := subsetSpec{docs: []docSpec{{uri: "DOC0001.XML", content: append(tinyCDA, tinyCDA...), noFile: true}}}
			cases[i].data = buildZip(t, append(xdmEntries(s), entry{name: "IHE_XDM/SUBSET01/DOC0001.XML", data: tinyCDA, declared: int64(2 * len(tinyCDA))}))
		}
	}
}

func allThreats(t testing.TB) []threatCase {
	c := threatCases(t)
	fixLying(t, c)
	return c
}

func TestReadThreats(t *testing.T) {
	for _, tc := range allThreats(t) {
		t.Run(tc.name, func(t *testing.T) {
			a, err := Read(tc.data, tc.lim)
			var xe *Error
			if !errors.As(err, &xe) {
				t.Fatalf("Read = %v, want an *Error %q", err, tc.reason)
			}
			if xe.Reason != tc.reason {
				t.Fatalf("Reason = %q (%v), want %q", xe.Reason, err, tc.reason)
			}
			wantKind := app.ErrInvalid
			if tc.reason == ReasonHashMismatch || tc.reason == ReasonSizeMismatch {
				wantKind = app.ErrIntegrity
			}
			if app.KindOf(err) != wantKind {
				t.Errorf("kind = %v, want %v", app.KindOf(err), wantKind)
			}
			if xe.Manual() != tc.manual || (a != nil) != tc.manual {
				t.Errorf("manual = %v, archive = %v; want %v", xe.Manual(), a != nil, tc.manual)
			}
			if tc.manual && len(a.Documents()) == 0 {
				t.Errorf("manual archive has %d documents", len(a.Documents()))
			}
			checkErrorText(t, err)
		})
	}
}

// checkErrorText fails when an error text carries patient data, document
// content or anything but printable ASCII.
func checkErrorText(t testing.TB, err error) {
	t.Helper()
	msg := err.Error()
	for _, s := range secrets {
		if strings.Contains(msg, s) {
			t.Errorf("error text %q contains patient data %q", msg, s)
		}
	}
	for i := 0; i < len(msg); i++ {
		if msg[i] < 0x20 || msg[i] > 0x7e {
			t.Fatalf("error text has a non-printable byte: %q", msg)
		}
	}
}

// TestModeDirMismatch: a directory name with a regular-file mode (or the
// reverse) is refused.
func TestModeDirMismatch(t *testing.T) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	fh := &zip.FileHeader{Name: "IHE_XDM/SUBSET01/D", Method: zip.Store}
	fh.SetMode(fs.ModeDir | 0o755)
	zw.CreateHeader(fh)
	zw.Close()
	if _, err := Read(buf.Bytes(), Limits{}); ReasonOf(err) != ReasonNotRegular {
		t.Fatalf("Read = %v", err)
	}
}
