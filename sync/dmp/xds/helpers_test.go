package xds

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
)

// refDir is the shared reference folder, relative to this package.
const refDir = "../../../../shared/reference/xds"

// needRef skips when the shared reference files are absent.
func needRef(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(refDir, "xsd", "dmp-all.xsd")); err != nil {
		t.Skipf("reference XSDs absent (%v): ../shared/reference/xds is needed", err)
	}
}

// needTool fails when a Debian tool the tests need is missing.
func needTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found: install it (Makefile DEBS_TEST)", name)
	}
	return p
}

// validate runs xmllint with the official schemas on msg; it fails the test
// with xmllint's output when the message is not valid.
func validate(t testing.TB, name string, msg []byte) {
	t.Helper()
	if err := validateErr(t, msg); err != nil {
		t.Fatalf("%s: %v\n--- message ---\n%.3000s", name, err, msg)
	}
}

// validateErr is validate returning xmllint's refusal as an error.
func validateErr(t testing.TB, msg []byte) error {
	t.Helper()
	needRef(t)
	xmllint := needTool(t, "xmllint")
	f := filepath.Join(t.TempDir(), "msg.xml")
	if err := os.WriteFile(f, msg, 0o600); err != nil {
		t.Fatal(err)
	}
	xsd, _ := filepath.Abs(filepath.Join(refDir, "xsd", "dmp-all.xsd"))
	cat, _ := filepath.Abs(filepath.Join(refDir, "xsd", "catalog.xml"))
	cmd := exec.Command(xmllint, "--nonet", "--noout", "--schema", xsd, f)
	cmd.Env = append(os.Environ(), "XML_CATALOG_FILES="+cat)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("not valid against dmp-all.xsd: %v\n%s", err, out)
	}
	return nil
}

var includeRE = regexp.MustCompile(`<xop:Include href="cid:([^"]+)"/>`)

// inline puts the attachments back inline as base64, the infoset XOP
// stands for, so that the schema sees xs:base64Binary.
func inline(t testing.TB, msg []byte, atts []Attachment) []byte {
	t.Helper()
	byID := map[string][]byte{}
	for _, a := range atts {
		byID[a.ContentID] = a.Data
	}
	n := 0
	out := includeRE.ReplaceAllFunc(msg, func(m []byte) []byte {
		id := string(includeRE.FindSubmatch(m)[1])
		data, ok := byID[id]
		if !ok {
			t.Fatalf("xop:Include of an unknown part %q", id)
		}
		n++
		return []byte(base64.StdEncoding.EncodeToString(data))
	})
	if n != len(atts) {
		t.Fatalf("%d includes for %d attachments", n, len(atts))
	}
	return out
}

// testINS is a test INS (test NIR OID).
var testINS = app.INS{Matricule: "279035121518989", OID: app.OIDINSNIRTest}

// testPractitioner is a test professional.
var testPractitioner = app.Practitioner{RPPS: "810100012345", Name: "Marie Durand", GivenName: "Marie", FamilyName: "DURAND",
	Profession: app.Code{Code: "10", System: "1.2.250.1.71.1.2.7", Display: "Médecin"},
	Specialty:  app.Code{Code: "SM26", System: "1.2.250.1.71.4.2.5", Display: "Qualifié en médecine générale"},
	Structure:  app.Structure{ID: "10B0167011", Name: "CLINIQUE DU TEST"}}

// envelope builds a whole request.
func envelope(t testing.TB, h Header, body func(*bytes.Buffer)) []byte {
	t.Helper()
	if h.MessageID == "" {
		h.MessageID = NewMessageID()
	}
	var b bytes.Buffer
	if err := writeEnvelope(&b, h, body); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

var testTime = time.Date(2026, 12, 7, 10, 30, 0, 0, time.UTC)
