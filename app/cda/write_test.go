package cda

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"flag"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
)

var updateGolden = flag.Bool("update-write", false, "rewrite the writer's golden files in testdata/write")

func testOpts(seed byte) WriteOptions {
	return WriteOptions{Created: testCreated, Rand: testRand(seed), AllowTestINS: true}
}

// healthData is what no error text may contain.
var healthData = []string{"279035121518989", "HÔPITAL", "Zoé", "MARTIN", "1979", "19790328", "51215", "millepertuis", "ELIQUIS", "LEGRIS"}

func checkNoHealthData(t *testing.T, err error) {
	t.Helper()
	for _, s := range healthData {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error text %q contains health data %q", err, s)
		}
	}
	if !strings.HasPrefix(err.Error(), "cda: write") {
		t.Errorf("error text %q does not start with \"cda: write\"", err)
	}
}

func TestWriteRefusesUnqualifiedIdentity(t *testing.T) {
	tests := []struct {
		name      string
		edit      func(p *app.Patient, o *WriteOptions)
		qualified bool // false: ErrNotQualified expected
	}{
		{"provisional", func(p *app.Patient, _ *WriteOptions) { p.Status = app.IdentityProvisional }, false},
		{"recovered", func(p *app.Patient, _ *WriteOptions) { p.Status = app.IdentityRecovered }, false},
		{"validated", func(p *app.Patient, _ *WriteOptions) { p.Status = app.IdentityValidated }, false},
		{"no status", func(p *app.Patient, _ *WriteOptions) { p.Status = "" }, false},
		{"qualified without INS", func(p *app.Patient, _ *WriteOptions) { p.INS = app.INS{} }, false},
		{"qualified, wrong key", func(p *app.Patient, _ *WriteOptions) { p.INS.Matricule = "279035121518988" }, false},
		{"qualified, unknown OID", func(p *app.Patient, _ *WriteOptions) { p.INS.OID = "1.2.3.4" }, false},
		{"qualified, test OID in production", func(_ *app.Patient, o *WriteOptions) { o.AllowTestINS = false }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, pa := testNote(LevelN1), testPreAnesthesia(2)
			o := testOpts(1)
			tt.edit(&n.Patient, &o)
			pa.Patient = n.Patient
			for kind, write := range map[string]func() ([]byte, error){
				"note":          func() ([]byte, error) { return WriteNote(n, o) },
				"preanesthesia": func() ([]byte, error) { return WritePreAnesthesia(pa, o) },
			} {
				b, err := write()
				if err == nil {
					t.Fatalf("%s: written (%d bytes), want a refusal", kind, len(b))
				}
				if !errors.Is(err, app.ErrInvalid) {
					t.Errorf("%s: %v does not wrap app.ErrInvalid", kind, err)
				}
				if got := errors.Is(err, ErrNotQualified); got == tt.qualified {
					t.Errorf("%s: errors.Is(%v, ErrNotQualified) = %v", kind, err, got)
				}
				checkNoHealthData(t, err)
			}
		})
	}
}

func TestWriteRefusesBadInput(t *testing.T) {
	tests := []struct {
		name string
		note func(n *Note, o *WriteOptions)
		pa   func(pa *PreAnesthesia, o *WriteOptions)
	}{
		{name: "RPPS too short", note: func(n *Note, _ *WriteOptions) { n.Author.RPPS = "1234" }},
		{name: "RPPS not numeric", note: func(n *Note, _ *WriteOptions) { n.Author.RPPS = "0123456789X" }},
		{name: "no family name", note: func(n *Note, _ *WriteOptions) { n.Author.Family = " " }},
		{name: "no profession", note: func(n *Note, _ *WriteOptions) { n.Author.Profession = app.Code{} }},
		{name: "FINESS and SIRET", note: func(n *Note, _ *WriteOptions) { n.Author.Structure.FINESS = "750803447" }},
		{name: "no structure id", note: func(n *Note, _ *WriteOptions) { n.Author.Structure.SIRET = "" }},
		{name: "bad SIRET", note: func(n *Note, _ *WriteOptions) { n.Author.Structure.SIRET = "1234" }},
		{name: "no facility type", note: func(n *Note, _ *WriteOptions) { n.Author.Structure.FacilityType = app.Code{} }},
		{name: "injected code", note: func(n *Note, _ *WriteOptions) { n.Author.Profession.Code = `SM02"/><x` }},
		{name: "bad legal authenticator", note: func(n *Note, _ *WriteOptions) { l := testGP(); l.RPPS = ""; n.LegalAuthenticator = &l }},
		{name: "bad custodian", note: func(_ *Note, o *WriteOptions) { o.Custodian = &Structure{Name: "x"} }},
		{name: "masked and invisible", note: func(n *Note, _ *WriteOptions) {
			n.Visibility = Visibility{MaskedToProfessionals: true, HiddenFromPatient: true}
		}},
		{name: "unknown confidentiality", note: func(n *Note, _ *WriteOptions) { n.Visibility.Level = "U" }},
		{name: "no act date", note: func(n *Note, _ *WriteOptions) { n.Start = time.Time{} }},
		{name: "end before start", note: func(n *Note, _ *WriteOptions) { n.End = n.Start.Add(-time.Hour) }},
		{name: "no section", note: func(n *Note, _ *WriteOptions) { n.Sections = nil }},
		{name: "untitled section", note: func(n *Note, _ *WriteOptions) { n.Sections[0].Title = "" }},
		{name: "media block", note: func(n *Note, _ *WriteOptions) {
			n.Sections[0].Text.Blocks = append(n.Sections[0].Text.Blocks, app.Block{Kind: app.BlockMedia, Media: &app.Media{Refs: []string{"x"}}})
		}},
		{name: "level 2", note: func(n *Note, _ *WriteOptions) { n.Level = 2 }},
		{name: "no birth name", note: func(n *Note, _ *WriteOptions) { n.Patient.BirthName = "" }},
		{name: "bad birth date", note: func(n *Note, _ *WriteOptions) { n.Patient.BirthDate = "28/03/1979" }},
		{name: "bad sex", note: func(n *Note, _ *WriteOptions) { n.Patient.Sex = "X" }},
		{name: "malformed uniqueId", note: func(_ *Note, o *WriteOptions) { o.ID = "not an oid" }},
		{name: "uniqueId too long", note: func(_ *Note, o *WriteOptions) { o.ID = app.DocumentID("1.2." + strings.Repeat("1", 70)) }},
		{name: "replaces version 0", note: func(_ *Note, o *WriteOptions) { o.Replaces = &Previous{ID: "1.2.3", SetID: "1.2.4"} }},
		{name: "replaces without setId", note: func(_ *Note, o *WriteOptions) { o.Replaces = &Previous{ID: "1.2.3", Version: 1} }},
		{name: "replaces itself", note: func(_ *Note, o *WriteOptions) {
			o.ID = "1.2.3"
			o.Replaces = &Previous{ID: "1.2.3", SetID: "1.2.4", Version: 1}
		}},
		{name: "unnamed line", pa: func(pa *PreAnesthesia, _ *WriteOptions) { pa.Medications[0].Name = "" }},
		{name: "CIS of 7 digits", pa: func(pa *PreAnesthesia, _ *WriteOptions) { pa.Medications[0].Product.Code = "6001992" }},
		{name: "unknown product system", pa: func(pa *PreAnesthesia, _ *WriteOptions) { pa.Medications[0].Product.System = "1.2.3" }},
		{name: "bad CIP13", pa: func(pa *PreAnesthesia, _ *WriteOptions) { pa.Medications[0].CIP13 = "340093351639" }},
		{name: "bad ATC", pa: func(pa *PreAnesthesia, _ *WriteOptions) { pa.Medications[0].ATC.Code = "N05A L05" }},
		{name: "ATC in another system", pa: func(pa *PreAnesthesia, _ *WriteOptions) { pa.Medications[0].ATC.System = app.SystemCIS }},
		{name: "dose without unit", pa: func(pa *PreAnesthesia, _ *WriteOptions) { pa.Medications[0].DoseUnit = "" }},
		{name: "dose not a number", pa: func(pa *PreAnesthesia, _ *WriteOptions) { pa.Medications[0].DoseValue = "un" }},
		{name: "bad period unit", pa: func(pa *PreAnesthesia, _ *WriteOptions) { pa.Medications[0].PeriodUnit = "fortnight" }},
		{name: "treatment ends before it starts", pa: func(pa *PreAnesthesia, _ *WriteOptions) {
			pa.Medications[1].End = pa.Medications[1].Start.AddDate(0, 0, -1)
		}},
		{name: "untitled section", pa: func(pa *PreAnesthesia, _ *WriteOptions) { pa.Sections[0].Title = "" }},
		{name: "anesthesiologist without RPPS", pa: func(pa *PreAnesthesia, _ *WriteOptions) { pa.Anesthesiologist.RPPS = "" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := testOpts(1)
			var err error
			if tt.note != nil {
				n := testNote(LevelN1)
				tt.note(&n, &o)
				_, err = WriteNote(n, o)
			} else {
				pa := testPreAnesthesia(3)
				tt.pa(&pa, &o)
				_, err = WritePreAnesthesia(pa, o)
			}
			if err == nil {
				t.Fatal("written, want a refusal")
			}
			if !errors.Is(err, app.ErrInvalid) {
				t.Errorf("%v does not wrap app.ErrInvalid", err)
			}
			checkNoHealthData(t, err)
		})
	}
}

func TestWriteRandomFailure(t *testing.T) {
	o := testOpts(1)
	o.Rand = strings.NewReader("short")
	_, err := WriteNote(testNote(LevelN3), o)
	if err == nil || !strings.HasPrefix(err.Error(), "cda: write") || app.KindOf(err) != nil {
		t.Errorf("a failing random source gave %v, want an internal cda: write error", err)
	}
}

func TestNewUniqueID(t *testing.T) {
	re := regexp.MustCompile(`^2\.25\.[1-9][0-9]*$`)
	seen := map[app.DocumentID]bool{}
	max := new(big.Int).Lsh(big.NewInt(1), 128)
	for i := 0; i < 1000; i++ {
		id, err := NewUniqueID(nil)
		if err != nil {
			t.Fatal(err)
		}
		if !re.MatchString(string(id)) || len(id) > 44 {
			t.Fatalf("uniqueId %q is not a 2.25 OID of at most 44 characters", id)
		}
		if seen[id] {
			t.Fatalf("uniqueId %q generated twice", id)
		}
		seen[id] = true
		n, _ := new(big.Int).SetString(string(id[5:]), 10)
		if n.Cmp(max) >= 0 {
			t.Fatalf("uniqueId %q is not a 128-bit UUID", id)
		}
		var u [16]byte
		n.FillBytes(u[:])
		if u[6]>>4 != 4 || u[8]>>6 != 2 {
			t.Fatalf("uniqueId %q is not a version 4, RFC 4122 UUID", id)
		}
	}
	a, _ := NewUniqueID(testRand(7))
	b, _ := NewUniqueID(testRand(7))
	if a != b {
		t.Errorf("the same random stream gave %q and %q", a, b)
	}
}

func TestVisibilityCodes(t *testing.T) {
	tests := []struct {
		v    Visibility
		want []string
	}{
		{Visibility{}, []string{"N"}},
		{Visibility{Level: "R"}, []string{"R"}},
		{Visibility{Level: "V", MaskedToProfessionals: true}, []string{"V", "MASQUE_PS"}},
		{Visibility{HiddenFromPatient: true, HiddenFromLegalRepresentatives: true}, []string{"N", "INVISIBLE_PATIENT", "INVISIBLE_REPRESENTANTS_LEGAUX"}},
		{Visibility{MaskedToProfessionals: true, HiddenFromLegalRepresentatives: true}, []string{"N", "MASQUE_PS", "INVISIBLE_REPRESENTANTS_LEGAUX"}},
	}
	for _, tt := range tests {
		var got []string
		for i, c := range tt.v.Codes() {
			got = append(got, c.Code)
			wantSys := OIDVisibility
			if i == 0 {
				wantSys = OIDConfidentiality
			}
			if c.System != wantSys || c.Display == "" {
				t.Errorf("%+v: code %+v has the wrong system or no label", tt.v, c)
			}
		}
		if strings.Join(got, ",") != strings.Join(tt.want, ",") {
			t.Errorf("%+v: codes %v, want %v", tt.v, got, tt.want)
		}
	}
}

// wellFormed walks the document with encoding/xml and returns its text
// tokens joined, for checks on escaping.
func wellFormed(t *testing.T, b []byte) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(b))
	for {
		_, err := d.Token()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("written document is not well-formed XML: %v", err)
		}
	}
}

func TestWriteEscapesText(t *testing.T) {
	for name, b := range writeAll(t) {
		wellFormed(t, b)
		for _, raw := range []string{`<&"'>`, "<millepertuis>", "<Georges>", "<HTA>", "<surveiller>", "& FILS", "<élevé>"} {
			if bytes.Contains(b, []byte(raw)) {
				t.Errorf("%s: unescaped %q in the output", name, raw)
			}
		}
	}
}

// writeAll writes the golden documents.
func writeAll(t testing.TB) map[string][]byte {
	out := map[string][]byte{}
	var err error
	if out["note_n1.xml"], err = WriteNote(testNote(LevelN1), testOpts(1)); err != nil {
		t.Fatal(err)
	}
	if out["note_n3.xml"], err = WriteNote(testNote(LevelN3), testOpts(2)); err != nil {
		t.Fatal(err)
	}
	if out["preanesthesia.xml"], err = WritePreAnesthesia(testPreAnesthesia(3), testOpts(3)); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestWriteGolden checks that the output depends only on the input, the
// creation date and the random stream, and matches testdata/write (rewrite
// with -update-write after a deliberate change).
func TestWriteGolden(t *testing.T) {
	first := writeAll(t)
	for i := 0; i < 3; i++ {
		for name, b := range writeAll(t) {
			if !bytes.Equal(b, first[name]) {
				t.Fatalf("%s: two writes with the same input differ", name)
			}
		}
	}
	for name, b := range first {
		path := filepath.Join("testdata", "write", name)
		if *updateGolden {
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test -run TestWriteGolden -update-write)", err)
		}
		if !bytes.Equal(b, want) {
			t.Errorf("%s differs from %s", name, path)
		}
	}
	other, err := WriteNote(testNote(LevelN1), testOpts(9))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(other, first["note_n1.xml"]) {
		t.Error("another random stream gave the same document (same ids)")
	}
}

var reB64 = regexp.MustCompile(`representation="B64">([A-Za-z0-9+/=]+)</text>`)

// embeddedPDF returns the PDF of an N1 document, decoded by the test itself.
func embeddedPDF(t testing.TB, doc []byte) []byte {
	m := reB64.FindSubmatch(doc)
	if m == nil {
		t.Fatal("no base64 nonXMLBody in the document")
	}
	pdf, err := base64.StdEncoding.DecodeString(string(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	return pdf
}

var reStream = regexp.MustCompile(`(?s)/Filter /FlateDecode /Length \d+>>\nstream\n(.*?)\nendstream`)

func TestNotePDF(t *testing.T) {
	doc, err := WriteNote(testNote(LevelN1), testOpts(1))
	if err != nil {
		t.Fatal(err)
	}
	pdf := embeddedPDF(t, doc)
	if !bytes.HasPrefix(pdf, []byte("%PDF-")) || !bytes.HasSuffix(bytes.TrimSpace(pdf), []byte("%%EOF")) {
		t.Fatal("the note is not a complete PDF")
	}
	if !bytes.Contains(pdf, []byte("D:20261126103000")) {
		t.Error("the PDF creation date is not the document's creation date")
	}
	var text bytes.Buffer
	for _, m := range reStream.FindAllSubmatch(pdf, -1) {
		r, err := zlib.NewReader(bytes.NewReader(m[1]))
		if err != nil {
			continue
		}
		_, _ = io.Copy(&text, r)
	}
	shown := strings.NewReplacer(`\(`, "(", `\)`, ")", `\\`, `\`).Replace(text.String())
	text.Reset()
	text.WriteString(shown)
	// Text is shown in cp1252: é is 0xE9, Œ 0x8C, « 0xAB, — 0x97.
	for _, want := range []string{
		"Pr\xe9nom(s) de naissance : Zo\xe9 Ana\xefs Fran\xe7oise",
		"Nom de naissance : L'H\xd4PITAL-DUPR\xc9 <&\"'>",
		"Matricule INS : 279035121518989 (INS-NIR de test)",
		"Date de naissance : 28/03/1979",
		"\x8cd\xe8me des chevilles",
		"\xab tr\xe8s \xbb",
		"pouls >= 80/min",
		"RPPS 01984758437",
		"Cabinet du Dr M\xe9dioni",
		"Date de la consultation : 26/11/2026 09:45",
	} {
		if !bytes.Contains(text.Bytes(), []byte(want)) {
			t.Errorf("the PDF text lacks %q", want)
		}
	}
	if bytes.Contains(text.Bytes(), []byte("Pr.nom")) {
		t.Error("accents were dropped by the cp1252 translation")
	}
}
