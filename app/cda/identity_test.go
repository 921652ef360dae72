package cda

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// patientDoc builds a CDA whose recordTarget holds the given patientRole
// content (ids and patient elements).
func patientDoc(role string) []byte {
	return []byte(`<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3">
<id root="1.2.3.4" extension="42"/>
<code code="11488-4" codeSystem="2.16.840.1.113883.6.1"/>
<title>Consultation</title>
<effectiveTime value="20240102103000+0100"/>
<recordTarget>` + role + `</recordTarget>
<author><time value="20240102"/><assignedAuthor><id root="1.2.250.1.71.4.2.1" extension="810001234567"/></assignedAuthor></author>
<component><structuredBody><component><section><title>S</title><text>x</text></section></component></structuredBody></component>
</ClinicalDocument>`)
}

const (
	oneName  = `<name><family qualifier="BR">` + secretName + `</family><given>JEAN</given></name>`
	sexM     = `<administrativeGenderCode code="M"/>`
	sexF     = `<administrativeGenderCode code="F"/>`
	born80   = `<birthTime value="19800101"/>`
	born81   = `<birthTime value="19810101"/>`
	guardian = `<guardian><guardianPerson><name><family>AUTRE</family></name></guardianPerson></guardian>`
	place    = `<birthplace><place><name>Maternité</name><addr><county>75056</county></addr></place></birthplace>`
)

// TestRepeatedIdentityElements: an identity element given twice under the
// one recordTarget is reported (the reader used to keep the last one
// silently); nested names (guardian, birthplace) are not repeats.
func TestRepeatedIdentityElements(t *testing.T) {
	pat := func(inner string) string { return `<patient>` + inner + `</patient>` }
	role := func(inner string) string { return `<patientRole>` + insTest + inner + `</patientRole>` }
	cases := []struct {
		name string
		role string
		want []string
	}{
		{"single", role(pat(oneName + sexM + born80 + guardian + place)), nil},
		{"two patients", role(pat(oneName+sexM+born80) + pat(`<name><family qualifier="BR">AUTRE</family><given>PAUL</given></name>`+sexM+born80)), []string{"patient"}},
		{"two names", role(pat(oneName + `<name><family qualifier="BR">AUTRE</family><given>PAUL</given></name>` + sexM + born80)), []string{"name", "family-BR"}},
		{"two birth names in one name", role(pat(`<name><family qualifier="BR">A</family><family qualifier="BR">B</family><given>J</given></name>` + sexM + born80)), []string{"family-BR"}},
		{"two birth dates", role(pat(oneName + sexM + born80 + born81)), []string{"birthTime"}},
		{"two sexes", role(pat(oneName + sexM + sexF + born80)), []string{"administrativeGenderCode"}},
		{"two birth places", role(pat(oneName + sexM + born80 + place + place)), []string{"birthplace"}},
		{"three names noted once", role(pat(oneName + oneName + oneName + sexM + born80)), []string{"name", "family-BR"}},
		{"two patientRoles", role(pat(oneName+sexM+born80)) + `<patientRole>` + pat(oneName+sexM+born80) + `</patientRole>`, []string{"patientRole", "patient"}},
		{"empty patient elements", role(pat(`<name/><name/>`)), []string{"name"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := ParseBytes(patientDoc(tc.role), Options{HeaderOnly: true})
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			got := slices.Clone(d.Patient.Repeated)
			want := slices.Clone(tc.want)
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("Repeated = %v, want %v", d.Patient.Repeated, tc.want)
			}
		})
	}
}

// TestSamplesHaveNoRepeatedIdentity: none of the ANS sample documents is
// flagged (the check must not send every real report to a person).
func TestSamplesHaveNoRepeatedIdentity(t *testing.T) {
	dir, err := findSamples()
	if err != nil {
		t.Skip("../shared/samples not found: skipped")
	}
	names, _ := filepath.Glob(filepath.Join(dir, "*.xml"))
	if len(names) == 0 {
		t.Skip("no sample CDA: skipped")
	}
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), "recordTarget") {
			continue
		}
		d, err := ParseBytes(b, Options{HeaderOnly: true})
		if err != nil {
			continue // refused samples are covered by the sample tests
		}
		if len(d.Patient.Repeated) > 0 {
			t.Errorf("%s: Repeated = %v", filepath.Base(n), d.Patient.Repeated)
		}
	}
}

// FuzzRepeatedIdentity: arbitrary patient content never panics, and each
// repeated element is reported once.
func FuzzRepeatedIdentity(f *testing.F) {
	f.Add(oneName + sexM + born80)
	f.Add(oneName + oneName + born80 + born81)
	f.Add(`<name><family qualifier="BR">A</family><family qualifier="BR">B</family></name>`)
	f.Fuzz(func(t *testing.T, inner string) {
		d, err := ParseBytes(patientDoc(`<patientRole>`+insTest+`<patient>`+inner+`</patient></patientRole>`), Options{HeaderOnly: true, MaxElements: 5000})
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, r := range d.Patient.Repeated {
			if seen[r] {
				t.Fatalf("%q reported twice: %v", r, d.Patient.Repeated)
			}
			seen[r] = true
		}
	})
}
