package app_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/apptest"
	"github.com/carnetdesk/carnet/app/cda"
	"github.com/carnetdesk/carnet/app/cda/cdacheck"
)

const vsmSchematron = "CI-SIS_VSM_2023.01.sch"

// vsmSamples returns the ANS sample documents (../shared/samples/cda),
// skipping the test when they are absent.
func vsmSamples(tb testing.TB) map[string][]byte {
	tb.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "..", "shared", "samples", "cda"))
	if err != nil {
		tb.Fatal(err)
	}
	names, _ := filepath.Glob(filepath.Join(dir, "*.xml"))
	if len(names) == 0 {
		tb.Skipf("ANS CDA samples not found in %s: skipped", dir)
	}
	out := map[string][]byte{}
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			tb.Fatal(err)
		}
		out[filepath.Base(n)] = b
	}
	return out
}

var vsmAuthor = app.Practitioner{RPPS: "810000000001", Name: "Dr Anne Durand", Structure: app.Structure{ID: "1750000001", Name: "Cabinet du Parc"}}

// vsmService is a signed-in service whose vault holds declPatient's
// record built from docs (each document's metadata read from the document
// itself, as an import does; n copies under distinct ids when n > 1).
func vsmService(tb testing.TB, docs map[string][]byte, copies int) (*app.Service, *apptest.Store) {
	tb.Helper()
	store := apptest.NewLockedStore(pass, declPatient)
	svc := app.NewService(app.Deps{Store: store, Clock: apptest.NewClock(serverNow), Reader: cda.Reader{},
		Writer: cda.Writer{FacilityType: app.Code{Code: "SA07", System: "1.2.250.1.71.4.2.4", Display: "Cabinet individuel"}, AllowTestINS: true}})
	ctx := context.Background()
	if _, err := svc.Unlock(ctx, []byte(pass)); err != nil {
		tb.Fatal(err)
	}
	svc.SignIn(app.Session{Practitioner: vsmAuthor, Records: &apptest.Records{}})
	m := app.Manifest{Patient: "p1"}
	var contents []app.DocumentContent
	for name, b := range docs {
		doc, err := cda.ParseBytes(b, cda.Options{})
		if err != nil {
			tb.Fatalf("%s: %v", name, err)
		}
		for i := range max(copies, 1) {
			meta := doc.Meta()
			meta.Source, meta.Cached = "dmp", true
			if copies > 1 {
				meta.ID = app.DocumentID(fmt.Sprintf("1.2.250.1.999.%d.%d", len(m.Documents), i))
				meta.SetID = string(meta.ID)
			}
			m.Documents = append(m.Documents, meta)
			contents = append(contents, app.DocumentContent{Patient: "p1", ID: meta.ID, Bytes: b})
		}
	}
	if err := store.Write(ctx, &app.Batch{Manifests: []app.Manifest{m}, Documents: contents}); err != nil {
		tb.Fatal(err)
	}
	return svc, store
}

var reExternal = regexp.MustCompile(`<externalDocument classCode="DOC" moodCode="EVN">\s*<id root="([^"]*)"(?: extension="([^"]*)")?/>`)

// TestSynthesisFromSamples drafts a VSM from a record built from the ANS
// samples: every list the record holds is pre-filled, each line from a
// document of the record; the written VSM has every section of the volet,
// each entry of a line from the record references its document, it passes
// the ANS rules (VSM 2023.01 and the common profiles) and Carnet reads it
// back to the same facts. The sample VSM of the record is replaced.
func TestSynthesisFromSamples(t *testing.T) {
	ctx := context.Background()
	svc, store := vsmService(t, vsmSamples(t), 1)
	m, err := store.Manifest(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	inRecord := map[app.DocumentID]bool{}
	for _, d := range m.Documents {
		inRecord[d.ID] = true
	}
	sampleVSM, ok := app.CurrentSynthesis(m)
	if !ok {
		t.Fatal("the sample VSM is not a synthesis of the record")
	}
	d, err := svc.DraftSynthesis(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	if d.Replaces != sampleVSM.ID {
		t.Errorf("draft replaces %q, want the record's VSM %q", d.Replaces, sampleVSM.ID)
	}
	lists := map[string][]app.SynthesisLine{"problems": d.Problems, "history": d.History, "allergies": d.Allergies, "devices": d.Devices}
	for name, ls := range lists {
		if len(ls) == 0 {
			t.Errorf("no %s drafted from the samples", name)
		}
		for _, l := range ls {
			if !inRecord[l.Source.Document] || strings.TrimSpace(l.Text) == "" {
				t.Errorf("%s line %+v: no text or not from a document of the record", name, l)
			}
		}
	}
	if len(d.Treatments) == 0 || len(d.Vaccinations) == 0 {
		t.Errorf("%d treatments, %d vaccinations drafted", len(d.Treatments), len(d.Vaccinations))
	}
	for _, ms := range [][]app.Medication{d.Treatments, d.Vaccinations} {
		for _, l := range ms {
			if !inRecord[l.Source.Document] {
				t.Errorf("medication %q not from a document of the record", l.Name)
			}
		}
	}
	d.Vigilance = "Patient sous anticoagulant."
	item, err := svc.WriteSynthesis(ctx, "p1", d)
	if err != nil {
		t.Fatal(err)
	}
	if item.Kind != app.OutboxReplace || item.Replaces != sampleVSM.ID || item.Meta.TypeCode != app.TypeCodeSynthesis || item.Meta.ClassCode != app.ClassSynthesis {
		t.Errorf("outbox item %+v", item)
	}
	content := item.Payload
	text := string(content)
	for _, tpl := range []string{"1.2.250.1.213.1.1.1.13", "1.2.250.1.213.1.1.2.29", "1.2.250.1.213.1.1.2.30", "1.2.250.1.213.1.1.2.132",
		"1.2.250.1.213.1.1.2.134", "1.2.250.1.213.1.1.2.137", "1.2.250.1.213.1.1.2.31", "1.3.6.1.4.1.19376.1.5.3.1.3.27",
		"1.2.250.1.213.1.1.2.32", "1.2.250.1.213.1.1.2.143", "1.2.250.1.213.1.1.2.147", "1.2.250.1.213.1.1.2.1"} {
		if !strings.Contains(text, `<templateId root="`+tpl+`"`) {
			t.Errorf("section or header template %s missing", tpl)
		}
	}
	refs := reExternal.FindAllStringSubmatch(text, -1)
	if want := len(d.Problems) + len(d.History) + len(d.Allergies) + len(d.Devices); len(refs) != want {
		t.Errorf("%d entries reference their source document, want %d", len(refs), want)
	}
	for _, r := range refs {
		id := r[1]
		if r[2] != "" {
			id += "^" + r[2]
		}
		if !inRecord[app.DocumentID(id)] {
			t.Errorf("an entry references %q, not a document of the record", id)
		}
	}
	for _, med := range append(append([]app.Medication{}, d.Treatments...), d.Vaccinations...) {
		if src := med.Source.Title; src != "" && !strings.Contains(text, src) {
			t.Errorf("the source of %q is not in the narrative", med.Name)
		}
	}
	cdacheck.Check(t, content, vsmSchematron)
	cdacheck.Check(t, content)

	// Round trip: Carnet reads back the same facts.
	cd, err := cda.Reader{}.Read(content, item.Meta)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(app.PresentProblems(cd.Problems)), len(d.Problems)+len(d.History); got != want {
		t.Errorf("%d problems read back, want %d", got, want)
	}
	if got := len(app.PresentAllergies(cd.Allergies)); got != len(d.Allergies) {
		t.Errorf("%d allergies read back, want %d", got, len(d.Allergies))
	}
	if len(cd.Devices) != len(d.Devices) {
		t.Errorf("%d devices read back, want %d", len(cd.Devices), len(d.Devices))
	}
	var treatments, vaccines int
	for _, l := range cd.Medications {
		if l.Kind == app.MedicationAdminister {
			vaccines++
		} else {
			treatments++
		}
	}
	if treatments != len(d.Treatments) || vaccines != len(d.Vaccinations) {
		t.Errorf("%d treatments and %d vaccinations read back, want %d and %d", treatments, vaccines, len(d.Treatments), len(d.Vaccinations))
	}
	for i, p := range app.PresentProblems(cd.Problems)[:len(d.Problems)] {
		if want := d.Problems[i]; p.Text != strings.TrimSpace(want.Text) || (p.Code.Code != "" && p.Code.Code != want.Code.Code) {
			t.Errorf("problem %d read back as %q %+v, want %q %+v", i, p.Text, p.Code, want.Text, want.Code)
		}
	}
	// The record shows one current synthesis: the new one.
	m, _ = store.Manifest(ctx, "p1")
	if cur, ok := app.CurrentSynthesis(m); !ok || cur.ID != item.Meta.ID || countCurrentSyntheses(m) != 1 {
		t.Errorf("current synthesis %+v, %d current", cur, countCurrentSyntheses(m))
	}
	doc, err := cda.ParseBytes(content, cda.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if doc.SetID != sampleVSM.SetID || doc.Version != sampleVSM.Version+1 {
		t.Errorf("setId %q version %d, want %q %d", doc.SetID, doc.Version, sampleVSM.SetID, sampleVSM.Version+1)
	}
}

func countCurrentSyntheses(m app.Manifest) int {
	n := 0
	for _, d := range m.Documents {
		if d.IsSynthesis() && !d.Superseded {
			n++
		}
	}
	return n
}

// TestSynthesisReplaces: a second VSM written here replaces the first
// (relatedDocument RPLC, same setId, next version, outbox replacement);
// the record shows one current synthesis.
func TestSynthesisReplaces(t *testing.T) {
	ctx := context.Background()
	svc, store := vsmService(t, nil, 0)
	d, err := svc.DraftSynthesis(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	if d.Replaces != "" || len(d.Problems)+len(d.Treatments) != 0 {
		t.Fatalf("draft of an empty record: %+v", d)
	}
	d.Problems = []app.SynthesisLine{{Text: "Hypertension artérielle", Code: app.Code{Code: "I10", System: "2.16.840.1.113883.6.3", Display: "Hypertension essentielle"}}}
	first, err := svc.WriteSynthesis(ctx, "p1", d)
	if err != nil {
		t.Fatal(err)
	}
	if first.Kind != app.OutboxProvide || first.Replaces != "" {
		t.Errorf("first synthesis %+v", first)
	}
	cdacheck.Check(t, first.Payload, vsmSchematron)

	d2, err := svc.DraftSynthesis(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	if d2.Replaces != first.Meta.ID {
		t.Fatalf("second draft replaces %q, want %q", d2.Replaces, first.Meta.ID)
	}
	if len(d2.Problems) != 1 || d2.Problems[0].Text != "Hypertension artérielle" || d2.Problems[0].Source.Document != first.Meta.ID {
		t.Errorf("the second draft does not start from the first synthesis: %+v", d2.Problems)
	}
	d2.Comment = "Mise à jour."
	second, err := svc.WriteSynthesis(ctx, "p1", d2)
	if err != nil {
		t.Fatal(err)
	}
	if second.Kind != app.OutboxReplace || second.Replaces != first.Meta.ID || second.Meta.SetID != first.Meta.SetID || second.Meta.Version != 2 {
		t.Errorf("second synthesis %+v", second.Meta)
	}
	if !strings.Contains(string(second.Payload), `<relatedDocument typeCode="RPLC">`) || !strings.Contains(string(second.Payload), string(first.Meta.ID)) {
		t.Error("the second synthesis does not point to the first")
	}
	if p := os.Getenv("VSM_OUT"); p != "" {
		_ = os.WriteFile(p, second.Payload, 0o600)
	}
	cdacheck.Check(t, second.Payload, vsmSchematron)
	cdacheck.Check(t, second.Payload)
	m, err := store.Manifest(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	if cur, ok := app.CurrentSynthesis(m); !ok || cur.ID != second.Meta.ID || countCurrentSyntheses(m) != 1 {
		t.Errorf("current synthesis %q, %d current", cur.ID, countCurrentSyntheses(m))
	}
	out, err := svc.Outbox(ctx)
	if err != nil || len(out) != 2 {
		t.Fatalf("outbox: %d items, %v", len(out), err)
	}
	// Replacing a document that is not a synthesis of the record is refused.
	d2.Replaces = "1.2.3.4"
	if _, err := svc.WriteSynthesis(ctx, "p1", d2); !errors.Is(err, app.ErrNotFound) {
		t.Errorf("replacing an unknown document: %v", err)
	}
}

// TestSynthesisHostile: hostile drafting input gives a conformant
// document or a clear error, and a refusal writes nothing.
func TestSynthesisHostile(t *testing.T) {
	ctx := context.Background()
	svc, store := vsmService(t, nil, 0)
	long := strings.Repeat("Texte \x01\x02\x1b[31m <b>&amp; \u202e\n", 400)[:10000]
	d := app.SynthesisDraft{
		Vigilance:  long,
		Comment:    long,
		Problems:   []app.SynthesisLine{{Text: "Diabète \x00 de type 2\x7f", Code: app.Code{Code: "E11 <script>", System: "CIM-10"}}},
		Allergies:  []app.SynthesisLine{{Text: strings.Repeat("Allergie ", 1000)}},
		Treatments: []app.Medication{{Name: "Préparation magistrale sans code"}, {Name: "PRODUIT X", Product: app.Code{Code: "12", System: app.SystemCNAMCIP}}},
	}
	item, err := svc.WriteSynthesis(ctx, "p1", d)
	if err != nil {
		t.Fatal(err)
	}
	cdacheck.Check(t, item.Payload, vsmSchematron)
	cdacheck.Check(t, item.Payload)
	cd, err := cda.Reader{}.Read(item.Payload, item.Meta)
	if err != nil {
		t.Fatal(err)
	}
	if ps := app.PresentProblems(cd.Problems); len(ps) != 1 || !ps[0].Code.IsZero() {
		t.Errorf("a malformed code must leave the line as text: %+v", ps)
	}

	before, _ := svc.Outbox(ctx)
	refused := map[string]func(*app.SynthesisDraft){
		"free text over the bound": func(d *app.SynthesisDraft) { d.Comment = strings.Repeat("x", app.MaxSynthesisText+1) },
		"free text not UTF-8":      func(d *app.SynthesisDraft) { d.Vigilance = "\xff\xfe" },
		"line without text":        func(d *app.SynthesisDraft) { d.Allergies = []app.SynthesisLine{{Text: "  "}} },
		"medication without name":  func(d *app.SynthesisDraft) { d.Treatments = []app.Medication{{Dose: "1 cp"}} },
		"too many lines":           func(d *app.SynthesisDraft) { d.Devices = make([]app.SynthesisLine, app.MaxSynthesisLines+1) },
		"masked and hidden": func(d *app.SynthesisDraft) {
			d.Visibility = app.Visibility{MaskedToProfessionals: true, HiddenFromPatient: true}
		},
		"line text not UTF-8": func(d *app.SynthesisDraft) { d.Problems = []app.SynthesisLine{{Text: "\xc3("}} },
	}
	for name, mutate := range refused {
		dd := app.SynthesisDraft{Problems: []app.SynthesisLine{{Text: "HTA"}}}
		mutate(&dd)
		if _, err := svc.WriteSynthesis(ctx, "p1", dd); !errors.Is(err, app.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	p2 := declPatient
	p2.ID, p2.Status = "p2", app.IdentityValidated
	store.Seed(p2)
	var ae *app.AccessError
	if _, err := svc.WriteSynthesis(ctx, "p2", app.SynthesisDraft{}); !errors.As(err, &ae) || ae.Reason != app.DeniedNotQualified {
		t.Errorf("unqualified identity: %v", err)
	}
	svc.SignOut()
	if _, err := svc.WriteSynthesis(ctx, "p1", app.SynthesisDraft{}); !errors.Is(err, app.ErrCredential) {
		t.Errorf("no practitioner: %v", err)
	}
	after, _ := svc.Outbox(ctx)
	if len(after) != len(before) {
		t.Errorf("a refused synthesis changed the outbox: %d → %d items", len(before), len(after))
	}
}

// BenchmarkDraftSynthesis drafts a VSM from a patient with 200 documents
// (the ANS samples, repeated under distinct ids): "cold" reads every
// document (the reading cache dropped), "warm" reuses the summaries kept
// until the vault locks.
func BenchmarkDraftSynthesis(b *testing.B) {
	samples := vsmSamples(b)
	copies := (200 + len(samples) - 1) / len(samples)
	ctx := context.Background()
	svc, store := vsmService(b, samples, copies)
	m, _ := store.Manifest(ctx, "p1")
	m.Documents = m.Documents[:200]
	if err := store.Write(ctx, &app.Batch{Manifests: []app.Manifest{m}}); err != nil {
		b.Fatal(err)
	}
	b.Run("cold-200docs", func(b *testing.B) {
		for b.Loop() {
			svc.SetDocumentReader(cda.Reader{}) // drops the cache
			if _, err := svc.DraftSynthesis(ctx, "p1"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("warm-200docs", func(b *testing.B) {
		if _, err := svc.DraftSynthesis(ctx, "p1"); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if _, err := svc.DraftSynthesis(ctx, "p1"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
