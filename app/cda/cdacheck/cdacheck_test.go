package cdacheck

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The kit itself: the ANS's own sample conforms, and a damaged copy of it
// is refused with the assertion named.
func TestKitOnANSSample(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "..", "..", "shared", "samples", "cda", "ANEST-CR-CPA_2022.01.xml"))
	if err != nil {
		t.Skipf("skipped: ANS sample absent: %v", err)
	}
	Check(t, doc)
	// The volet's own rules: the sample conforms to ANEST-CR-CPA, and not
	// once its CI-SIS templateId is gone.
	Check(t, doc, "CI-SIS_ANEST-CR-CPA_2022.01.sch")
	bad := strings.Replace(string(doc), `<templateId root="1.2.250.1.213.1.1.1.41" extension="2022.01" />`, ``, 1)
	if bad == string(doc) {
		t.Fatal("the sample lost its volet templateId: the negative case tests nothing")
	}
	rep, err := Run(t.Context(), []byte(bad), "CI-SIS_ANEST-CR-CPA_2022.01.sch")
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() {
		t.Errorf("a document without the volet's templateId conforms to it:\n%s", rep.Output)
	}
	rep, err = Run(t.Context(), []byte("<ClinicalDocument xmlns=\"urn:hl7-org:v3\"/>"))
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() {
		t.Errorf("an empty ClinicalDocument conforms:\n%s", rep.Output)
	}
}
