package dmptest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/cda"
	"github.com/carnetdesk/carnet/sync/dmp/fhir"
)

// generated returns every document of the first n synthetic patients.
func generated(t testing.TB, seed uint64, n int) (*Server, []*doc) {
	s, err := New(Options{Seed: seed, Patients: n, Epoch: testEpoch})
	if err != nil {
		t.Fatal(err)
	}
	var out []*doc
	s.data.mu.Lock()
	defer s.data.mu.Unlock()
	for i := 0; i < n; i++ {
		out = append(out, s.recordAt(i).Docs...)
	}
	return s, out
}

func TestGenerationDeterministic(t *testing.T) {
	_, a := generated(t, 1, 12)
	_, b := generated(t, 1, 12)
	_, c := generated(t, 2, 12)
	if len(a) != len(b) {
		t.Fatal("same seed, different counts")
	}
	for i := range a {
		if a[i].Ref.ID != b[i].Ref.ID || !bytes.Equal(a[i].Content, b[i].Content) || a[i].Ref.Content[0].Attachment.Hash != b[i].Ref.Content[0].Attachment.Hash {
			t.Fatalf("document %d differs with the same seed", i)
		}
	}
	if len(a) == len(c) && bytes.Equal(a[0].Content, c[0].Content) {
		t.Fatal("different seeds, same documents")
	}
}

// TestGeneratedDocumentsParse: every generated document parses with
// app/cda, with the header the metadata announces.
func TestGeneratedDocumentsParse(t *testing.T) {
	s, docs := generated(t, 1, 40)
	perPatient := map[*record]int{}
	kinds := map[string]int{}
	masked, superseded, pdfs := 0, 0, 0
	for _, d := range docs {
		perPatient[d.patient]++
		doc, err := cda.ParseBytes(d.Content, cda.Options{})
		if err != nil {
			t.Fatalf("%s: %v", d.Ref.ID, err)
		}
		if "urn:oid:"+string(doc.ID) != d.Ref.UniqueID() {
			t.Fatalf("%s: CDA id %s, masterIdentifier %s", d.Ref.ID, doc.ID, d.Ref.UniqueID())
		}
		if doc.Type.Code != d.Ref.Type.First().Code {
			t.Fatalf("%s: type %s vs %s", d.Ref.ID, doc.Type.Code, d.Ref.Type.First().Code)
		}
		if d.patient.Patient.Status == app.IdentityQualified && doc.Patient.INS != d.patient.Patient.INS {
			t.Fatalf("%s: INS %+v", d.Ref.ID, doc.Patient.INS)
		}
		kinds[d.Ref.Type.First().Code]++
		if d.Ref.HasSecurityLabel(fhir.LabelMaskedPS) {
			masked++
		}
		if d.Ref.Status == "superseded" {
			superseded++
		}
		if d.Ref.Type.First().Code == kindIMG.Type {
			pdfs++
			if doc.Body.NonXML == nil || doc.Body.NonXML.MediaType != "application/pdf" || !bytes.Contains(doc.Body.NonXML.Data, []byte("%%EOF")) {
				t.Fatalf("%s: N1 body is not a PDF", d.Ref.ID)
			}
			checkPDFXref(t, doc.Body.NonXML.Data)
		}
	}
	for rec, n := range perPatient {
		if n < 10 || n > 82 {
			t.Errorf("patient %s: %d documents", rec.Patient.ID, n)
		}
	}
	if len(kinds) < 7 || masked == 0 || superseded == 0 || pdfs == 0 {
		t.Fatalf("kinds %v masked %d superseded %d pdfs %d", kinds, masked, superseded, pdfs)
	}
	// the reimbursement history carries the perioperative drugs with CIP13 and ATC
	var remb []byte
	for _, d := range docs {
		if d.Ref.Type.First().Code == "REMB" && d.Ref.Status == "current" {
			remb = d.Content
			break
		}
	}
	if !bytes.Contains(remb, []byte(`codeSystem="1.2.250.1.215.200.1.1.1"`)) || !bytes.Contains(remb, []byte(`codeSystem="1.2.250.1.215.200.1.2.1"`)) {
		t.Fatal("reimbursement history without CNAM CIP and ATC codes")
	}
	_ = s
}

// checkPDFXref verifies the xref offsets point at "N 0 obj".
func checkPDFXref(t *testing.T, pdf []byte) {
	t.Helper()
	i := bytes.LastIndex(pdf, []byte("startxref\n"))
	var off int
	fmt.Sscanf(string(pdf[i+len("startxref\n"):]), "%d", &off)
	if !bytes.HasPrefix(pdf[off:], []byte("xref")) {
		t.Fatal("pdf: startxref does not point at xref")
	}
	lines := strings.Split(string(pdf[off:]), "\n")
	for k, l := range lines[3:] {
		if !strings.HasSuffix(l, " n ") {
			break
		}
		var o int
		fmt.Sscanf(l, "%d", &o)
		if !bytes.HasPrefix(pdf[o:], []byte(fmt.Sprintf("%d 0 obj", k+1))) {
			t.Fatalf("pdf: xref entry %d wrong", k+1)
		}
	}
}

func TestLargePopulationStartsFast(t *testing.T) {
	t0 := time.Now()
	s, err := New(Options{Seed: 1, Patients: 1000, Epoch: testEpoch})
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(t0); el > 2*time.Second {
		t.Fatalf("1000 patients in %s", el)
	}
	if len(s.Population()) != 1000 {
		t.Fatal("population")
	}
}

func TestMainWritesCredentialsAndPersists(t *testing.T) {
	dir := t.TempDir()
	sb, got, err := Start(Config{Listen: "127.0.0.1:0", Patients: 20, Seed: 3, DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if got != dir {
		t.Fatalf("dir %s", got)
	}
	for _, f := range []string{"ca.pem", "ca-key.pem", KeyGP + ".p12", KeyRegulator + ".p12"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Fatalf("%s: %v", f, err)
		}
	}
	if c := sb.PKI.Credentials[KeyGP]; c.Practitioner.PIN != PIN(3, KeyGP) || c.Practitioner.P12Path == "" {
		t.Fatalf("pin/path %+v", c.Practitioner)
	}
	// push a document, restart, find it again
	p, ok := sb.FindPatient(openPatient)
	if !ok {
		t.Fatal("no open patient")
	}
	gp := sb.as(t, KeyGP)
	uid := "1.2.250.1.999.9.1"
	if st, _, _ := provide(t, gp, p, provideBundle(p, uid, testCDA(p, uid), "", app.Visibility{})); st != 200 {
		t.Fatalf("provide: %d", st)
	}
	sb.Close()
	sb2, _, err := Start(Config{Listen: "127.0.0.1:0", Patients: 20, Seed: 3, DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer sb2.Close()
	if !bytes.Equal(sb2.PKI.CA.CertPEM, sb.PKI.CA.CertPEM) {
		t.Fatal("CA not reused")
	}
	if n := len(sb2.as(t, KeyGP).searchAll(docsPath(p.INS, "identifier", "urn:oid:"+uid), p.INS)); n != 1 {
		t.Fatalf("after restart: %d", n)
	}
	// Main refuses bad flags
	var out, errb bytes.Buffer
	if code := Main([]string{"--faults", "boom=1"}, &out, &errb); code == 0 {
		t.Fatal("bad faults accepted")
	}
	_ = errors.New
}
