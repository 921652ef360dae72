package fhir

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/carnetdesk/carnet/app"
)

// samplesDir is where the ANS FHIR examples live (never copied into the
// repository).
const samplesDir = "../../../../shared/samples/fhir"

func sampleFiles(t *testing.T) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(samplesDir, "*.json"))
	if len(files) == 0 {
		t.Skipf("ANS FHIR samples not found in %s: skipping", samplesDir)
	}
	return files
}

// TestDecodeSamples decodes every ANS FHIR sample with the package's types
// and checks the fields the client relies on.
func TestDecodeSamples(t *testing.T) {
	for _, f := range sampleFiles(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			fh, err := os.Open(f)
			if err != nil {
				t.Fatal(err)
			}
			defer fh.Close()
			var r RawResource
			if err := DecodeBounded(fh, 1<<20, &r); err != nil {
				t.Fatal(err)
			}
			switch r.ResourceType {
			case "Bundle":
				var b Bundle
				if err := r.Decode(&b); err != nil {
					t.Fatal(err)
				}
				if len(b.Entry) == 0 {
					t.Fatal("bundle without entries")
				}
				for i, e := range b.Entry {
					if e.Resource == nil || e.Resource.ResourceType == "" {
						t.Fatalf("entry %d: no resource", i)
					}
					checkResource(t, e.Resource)
				}
			case "DocumentReference":
				checkResource(t, &r)
			default:
				t.Fatalf("unexpected resource type %s", r.ResourceType)
			}
		})
	}
}

func checkResource(t *testing.T, r *RawResource) {
	t.Helper()
	switch r.ResourceType {
	case "DocumentReference":
		var d DocumentReference
		if err := r.Decode(&d); err != nil {
			t.Fatal(err)
		}
		if d.UniqueID() == "" || d.Status == "" || d.Type == nil || len(d.Content) == 0 {
			t.Fatalf("document reference %s: missing uniqueId, status, type or content", d.ID)
		}
		// the samples' INS are fictitious, with wrong keys: read, not checked
		if tk, err := PatientRefToken(d.Subject); err != nil || tk.System != SystemINSNIR || len(tk.Value) != 15 {
			t.Fatalf("document reference %s: subject %+v: %v", d.ID, tk, err)
		}
		for _, a := range d.Author {
			if c := FindContained(d.Contained, a.Reference); a.Reference != "" && a.Reference[0] == '#' && c == nil {
				t.Fatalf("author %s not contained", a.Reference)
			}
		}
		if att := d.Content[0].Attachment; att.Hash != "" && att.Size == nil {
			t.Fatal("hash without size")
		}
		if _, err := ParseTime(d.Date); err != nil {
			t.Fatal(err)
		}
	case "List":
		var l List
		if err := r.Decode(&l); err != nil {
			t.Fatal(err)
		}
		if !l.Code.Has(SystemMHDListTypes, "submissionset") || len(l.Entry) == 0 {
			t.Fatalf("list %s: not a submission set with entries", l.ID)
		}
	case "Binary":
		var b Binary
		if err := r.Decode(&b); err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(b.Data, []byte("<?xml")) {
			t.Fatalf("binary %s: data is not the xml document", b.ID)
		}
	case "Parameters":
		var p Parameters
		if err := r.Decode(&p); err != nil {
			t.Fatal(err)
		}
		op := p.Get("operation")
		if op == nil || op.PartNamed("type").Value() != "replace" || op.PartNamed("value").Value() != "superseded" {
			t.Fatalf("parameters %s: not the superseding patch", p.ID)
		}
	}
	// every resource marshals back to an equivalent JSON value
	var a, b any
	if err := json.Unmarshal(r.Raw, &a); err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(r)
	if err := json.Unmarshal(out, &b); err != nil {
		t.Fatal(err)
	}
}

// TestRoundTrip checks that typed resources survive encode/decode and that
// resourceType is always written.
func TestRoundTrip(t *testing.T) {
	size := int64(12)
	ins := app.INS{Matricule: "279035121518989", OID: app.OIDINSNIRTest}
	d := DocumentReference{
		ID:               "d1",
		Meta:             &Meta{VersionID: "2", LastUpdated: "2026-01-02T03:04:05.000Z"},
		MasterIdentifier: &Identifier{System: SystemRFC3986, Value: UniqueIDURN("1.2.3.4")},
		Status:           "current",
		Type:             &CodeableConcept{Coding: []Coding{{System: SystemLOINC, Code: "11488-4"}}},
		Subject:          &Reference{Reference: PatientRefByINS(ins)},
		SecurityLabel:    SecurityLabels(app.Visibility{MaskedToProfessionals: true}),
		Extension:        []Extension{BoolExtension(ExtIsArchived, true)},
		Content:          []DocumentContent{{Attachment: Attachment{ContentType: "text/xml", URL: "Binary/b1", Size: &size, Hash: "abc="}}},
	}
	d.Contained = []RawResource{*MustWrap(Practitioner{ID: "a1", Identifier: []Identifier{{System: SystemRPPS, Value: "810000000001"}}})}
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"resourceType":"DocumentReference"`) {
		t.Fatalf("no resourceType: %s", b)
	}
	var back DocumentReference
	if err := Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !back.Archived() || !VisibilityOf(back.SecurityLabel).MaskedToProfessionals || back.Meta.VersionID != "2" {
		t.Fatalf("lost fields: %+v", back)
	}
	if got, err := INSFromPatientRef(back.Subject); err != nil || got != ins {
		t.Fatalf("subject ins %v %v", got, err)
	}
	if c := FindContained(back.Contained, "#a1"); c == nil || c.ResourceType != "Practitioner" || c.Identifier[0].Value != "810000000001" {
		t.Fatalf("contained: %+v", c)
	}
	var p Patient
	if err := back.Contained[0].Decode(&p); err == nil {
		t.Fatal("decoded a Practitioner into a Patient")
	}
}

func TestDenialOutcome(t *testing.T) {
	for _, r := range []app.DenialReason{app.DeniedBlocked, app.DeniedNoAuthorization, app.DeniedClosed, app.DeniedNoRecord,
		app.DeniedProfession, app.DeniedJustification, app.DeniedNotRegulator, app.DeniedNotAuthor, app.DeniedNotQualified, app.DeniedOther} {
		b, _ := json.Marshal(DenialOutcome(r, "x"))
		var o OperationOutcome
		if err := Unmarshal(b, &o); err != nil {
			t.Fatal(err)
		}
		if o.Denial() != r {
			t.Errorf("%s: got %s", r, o.Denial())
		}
	}
	o := OperationOutcome{Issue: []Issue{{Severity: "error", Code: "forbidden", Details: &CodeableConcept{Coding: []Coding{{System: DenialCodeSystem, Code: "martian"}}}}}}
	if o.Denial() != app.DeniedOther {
		t.Error("unknown code must map to other")
	}
	if NewOutcome("invalid", "bad").Denial() != "" {
		t.Error("plain outcome has no denial")
	}
}

func TestHelpers(t *testing.T) {
	if tk := ParseToken("urn:oid:1.2|x|y"); tk.System != "urn:oid:1.2" || tk.Value != "x|y" {
		t.Fatalf("token %+v", tk)
	}
	if _, err := INSFromToken(Token{System: "1.2.250.1.213.1.4.10", Value: "279035121518989"}); err == nil {
		t.Fatal("ins without urn:oid accepted")
	}
	if VersionFromETag(`W/"3"`) != "3" || VersionFromETag(`"3"`) != "3" || WeakETag("4") != `W/"4"` {
		t.Fatal("etag helpers")
	}
	for _, s := range []string{"2024", "2024-05", "2024-05-06", "2024-05-06T10:00:00+02:00", "2024-05-06T10:00:00.123Z"} {
		if _, err := ParseTime(s); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	if _, err := ParseTime("yesterday"); !errors.Is(err, app.ErrInvalid) {
		t.Error("bad date accepted")
	}
	ops := ArchivedPatch(nil, true)
	if len(ops) != 1 || ops[0].Op != "add" || ops[0].Path != "/extension" {
		t.Fatalf("%+v", ops)
	}
	ops = ArchivedPatch([]Extension{{URL: "x"}, BoolExtension(ExtIsArchived, false)}, true)
	if ops[0].Path != "/extension/1/valueBoolean" || string(ops[0].Value) != "true" {
		t.Fatalf("%+v", ops)
	}
}

// TestHostileInput: malformed JSON, deep nesting, oversize bodies.
func TestHostileInput(t *testing.T) {
	deep := strings.Repeat("[", 100000) + strings.Repeat("]", 100000)
	deepObj := `{"resourceType":"Bundle","entry":` + strings.Repeat(`[{"a":`, 200) + "1" + strings.Repeat("}]", 200) + "}"
	huge := `{"resourceType":"Bundle","type":"searchset","entry":[` + strings.Repeat(`{"fullUrl":"x"},`, 100000) + `{}]}`
	cases := []struct {
		name string
		body string
		max  int64
		want error
	}{
		{"empty", "", 1 << 10, app.ErrInvalid},
		{"truncated", `{"resourceType":"Bundle","entry":[`, 1 << 10, app.ErrInvalid},
		{"not json", "<html>502 Bad Gateway</html>", 1 << 10, app.ErrInvalid},
		{"wrong type", `{"resourceType":"Bundle","entry":{"a":1}}`, 1 << 10, app.ErrInvalid},
		{"trailing", `{"resourceType":"Bundle"} {"x":1}`, 1 << 10, app.ErrInvalid},
		{"deep arrays", deep, 1 << 20, ErrTooDeep},
		{"deep objects", deepObj, 1 << 20, ErrTooDeep},
		{"bracket in string ok", `{"resourceType":"Bundle","id":"` + strings.Repeat("[", 1000) + `"}`, 1 << 20, nil},
		{"huge entry array", huge, 1 << 20, ErrTooLarge},
		{"resource without type", `{"resourceType":"Bundle","entry":[{"resource":{"id":"x"}}]}`, 1 << 10, app.ErrInvalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var b Bundle
			err := DecodeBounded(strings.NewReader(c.body), c.max, &b)
			if c.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
}

// TestBoundedReadStops checks DecodeBounded does not read past the bound
// of an endless body.
func TestBoundedReadStops(t *testing.T) {
	r := &countingReader{}
	var b Bundle
	if err := DecodeBounded(r, 1<<16, &b); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("got %v", err)
	}
	if r.n > 1<<16+1<<15 {
		t.Fatalf("read %d bytes", r.n)
	}
}

type countingReader struct{ n int }

func (c *countingReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	c.n += len(p)
	return len(p), nil
}

func FuzzDecodeBundle(f *testing.F) {
	f.Add([]byte(`{"resourceType":"Bundle","type":"searchset","total":1,"link":[{"relation":"next","url":"x"}],"entry":[{"resource":{"resourceType":"DocumentReference","id":"a"}}]}`))
	f.Add([]byte(`{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"forbidden"}]}`))
	f.Add([]byte(`[[[[`))
	if files, _ := filepath.Glob(filepath.Join(samplesDir, "*.json")); len(files) > 0 {
		for _, fn := range files {
			if b, err := os.ReadFile(fn); err == nil {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var b Bundle
		if err := DecodeBounded(bytes.NewReader(data), 1<<20, &b); err != nil {
			return
		}
		for _, e := range b.Entry {
			if e.Resource == nil {
				continue
			}
			var d DocumentReference
			_ = e.Resource.Decode(&d)
			_ = d.Archived()
			_ = d.UniqueID()
			_ = VisibilityOf(d.SecurityLabel)
		}
		_ = b.LinkURL("next")
		if _, err := json.Marshal(b); err != nil {
			t.Fatalf("decoded bundle does not marshal: %v", err)
		}
	})
}

// TestReadBoundedAllocations: an endless body costs about twice the bound.
func TestReadBoundedAllocations(t *testing.T) {
	const max = 4 << 20
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := ReadBounded(&countingReader{}, max)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatal(err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 2*max+(1<<20) {
		t.Fatalf("allocated %d bytes for a %d bound", got, max)
	}
	b, err := ReadBounded(strings.NewReader("abc"), 3)
	if err != nil || string(b) != "abc" {
		t.Fatalf("exact bound: %q %v", b, err)
	}
	if _, err := ReadBounded(strings.NewReader("abcd"), 3); !errors.Is(err, ErrTooLarge) {
		t.Fatal("over the bound accepted")
	}
}
