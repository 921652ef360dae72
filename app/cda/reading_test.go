package cda_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/apptest"
	"github.com/carnetdesk/carnet/app/cda"
	"github.com/carnetdesk/carnet/app/meds"
)

// These tests wire the real reader into app.Service over an in-memory store
// holding ANS samples (shared/samples/cda, skipped when absent) as one
// patient's cached documents: the path the UI takes to show a document and
// the medication list.

const readingPass = "une phrase de passe assez longue"

// ansSample reads an ANS sample, skipping the test when the samples are
// absent.
func ansSample(tb testing.TB, name string) []byte {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		p := filepath.Join(dir, "shared", "samples", "cda", name)
		if b, err := os.ReadFile(p); err == nil {
			return b
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Skipf("ANS sample %s not found above the package: skipped", name)
		}
		dir = parent
	}
}

// The documents of the fixture patient.
const (
	sampleCNAM = "CNAM-HR_2021.01.xml"
	sampleVSM  = "VSM_1.4_2022.01.xml"
	sampleN1   = "DOC_NON_STRUCTURE_CDA-R2-N1.xml"
	sampleBIO  = "BIO-CR-BIO_2024.01_TSH_1.xml"
	// a PDF letter received by mail as such (the N1 sample's PDF)
	bareLetterID = app.DocumentID("1.2.250.1.999.1^lettre-pdf")
)

// cachedPatient returns an unlocked service reading with cda.Reader over a
// store where patient p1 has the samples (and a bare PDF letter) cached,
// and the ids of the samples by file name.
func cachedPatient(tb testing.TB) (*app.Service, map[string]app.DocumentID) {
	tb.Helper()
	ctx := context.Background()
	store := apptest.NewLockedStore(readingPass, app.Patient{ID: "p1", BirthName: "Fixture"})
	svc := app.NewService(app.Deps{Store: store, Clock: apptest.NewClock(time.Date(2020, 3, 20, 9, 0, 0, 0, time.UTC)), Reader: cda.Reader{}})
	if _, err := svc.Unlock(ctx, []byte(readingPass)); err != nil {
		tb.Fatal(err)
	}
	ids := map[string]app.DocumentID{}
	b := &app.Batch{Manifests: []app.Manifest{{Patient: "p1"}}}
	var pdf []byte
	for _, name := range []string{sampleCNAM, sampleVSM, sampleN1, sampleBIO} {
		content := ansSample(tb, name)
		d, err := cda.ParseBytes(content, cda.Options{})
		if err != nil {
			tb.Fatalf("%s: %v", name, err)
		}
		meta := d.Meta()
		meta.Cached, meta.Source, meta.Size = true, "dmp", int64(len(content))
		ids[name] = meta.ID
		b.Manifests[0].Documents = append(b.Manifests[0].Documents, meta)
		b.Documents = append(b.Documents, app.DocumentContent{Patient: "p1", ID: meta.ID, Bytes: content})
		if d.Body.NonXML != nil {
			pdf = d.Body.NonXML.Data
		}
	}
	b.Manifests[0].Documents = append(b.Manifests[0].Documents, app.DocumentMeta{
		ID: bareLetterID, TypeCode: "11490-0", Title: "Lettre de liaison", MediaType: "application/pdf",
		Date: time.Date(2020, 3, 1, 0, 0, 0, 0, time.UTC), Source: "mssante", Cached: true,
	})
	b.Documents = append(b.Documents, app.DocumentContent{Patient: "p1", ID: bareLetterID, Bytes: pdf})
	if err := store.Write(ctx, b); err != nil {
		tb.Fatal(err)
	}
	return svc, ids
}

func TestMedicationLinesFromSamples(t *testing.T) {
	svc, ids := cachedPatient(t)
	r, err := svc.ReadMedications(context.Background(), "p1")
	if err != nil {
		t.Fatal(err)
	}
	perDoc := map[app.DocumentID][]string{}
	for _, l := range r.Lines {
		perDoc[l.Source.Document] = append(perDoc[l.Source.Document], string(l.Kind)+" "+l.Name)
	}
	wantCNAM := []string{
		"dispensed LUDEAL CPR3/21", "dispensed CRESTOR 5MG CPR9/10", "dispensed NUX VOMICA COMP BOIR GRL",
		"dispensed VACCIN TETANIQUE PASTEUR SUSP INJ1/.5", "dispensed HBVAXPRO 10 MICROG/ML SUSP INJ SER1/1",
		"dispensed VACCIN TETANIQUE PASTEUR SUSP INJ1/.5",
	}
	if got := perDoc[ids[sampleCNAM]]; strings.Join(got, "|") != strings.Join(wantCNAM, "|") {
		t.Errorf("CNAM-HR lines = %q, want %q", got, wantCNAM)
	}
	if got := perDoc[ids[sampleVSM]]; strings.Join(got, "|") != "treatment PLAVIX 75 mg|treatment COUMADINE 5mg" {
		t.Errorf("VSM lines = %q", got)
	}
	if len(r.Lines) != 8 {
		t.Errorf("%d lines, want 8 (6 dispensings, 2 treatments)", len(r.Lines))
	}
	for _, l := range r.Lines {
		if l.Source.Title == "" || l.Source.TypeCode == "" || l.Source.Date.IsZero() {
			t.Errorf("line %q: source incomplete: %+v", l.Name, l.Source)
		}
	}

	got := map[app.DocumentID]app.UnstructuredReason{}
	for _, u := range r.Unstructured {
		got[u.Meta.ID] = u.Reason
		if !u.Meta.Cached {
			t.Errorf("%s: listed as not cached", u.Meta.ID)
		}
	}
	want := map[app.DocumentID]app.UnstructuredReason{
		ids[sampleN1]: app.UnstructuredNoEntries, ids[sampleBIO]: app.UnstructuredNoEntries, bareLetterID: app.UnstructuredNoEntries,
	}
	if len(got) != len(want) {
		t.Errorf("unstructured = %v, want %v", got, want)
	}
	for id, reason := range want {
		if got[id] != reason {
			t.Errorf("unstructured %s = %q, want %q", id, got[id], reason)
		}
	}
}

func TestReadDocumentFromSamples(t *testing.T) {
	ctx := context.Background()
	svc, ids := cachedPatient(t)

	vsm, err := svc.ReadDocument(ctx, "p1", ids[sampleVSM], app.Access{})
	if err != nil {
		t.Fatal(err)
	}
	if vsm.Title != "Synthèse Médicale" || vsm.Attachment != nil || !vsm.Structured() || len(vsm.Authors) == 0 || vsm.Authors[0] != "Dr Stéphane MEDIONI" {
		t.Errorf("VSM: title %q, authors %v, attachment %v", vsm.Title, vsm.Authors, vsm.Attachment != nil)
	}
	tables, plavix := 0, false
	var walk func([]app.Section)
	walk = func(ss []app.Section) {
		for _, s := range ss {
			for _, bl := range s.Text.Blocks {
				if bl.Kind == app.BlockTable && bl.Table != nil && len(bl.Table.Body) > 0 {
					tables++
					for _, row := range bl.Table.Body {
						plavix = plavix || strings.Contains(row.Text(), "PLAVIX")
					}
				}
			}
			walk(s.Sections)
		}
	}
	walk(vsm.Sections)
	if tables == 0 || !plavix {
		t.Errorf("VSM: %d tables with rows, PLAVIX in a row: %v", tables, plavix)
	}
	if len(vsm.Medications) != 2 || len(vsm.Allergies) == 0 || len(vsm.Problems) == 0 {
		t.Errorf("VSM entries: %d medications, %d allergies, %d problems", len(vsm.Medications), len(vsm.Allergies), len(vsm.Problems))
	}

	n1, err := svc.ReadDocument(ctx, "p1", ids[sampleN1], app.Access{})
	if err != nil {
		t.Fatal(err)
	}
	if n1.Attachment == nil || n1.Attachment.MediaType != "application/pdf" || !bytes.HasPrefix(n1.Attachment.Data, []byte("%PDF-")) || len(n1.Sections) != 0 {
		t.Fatalf("N1: attachment %+v, %d sections", n1.Attachment != nil, len(n1.Sections))
	}
	bare, err := svc.ReadDocument(ctx, "p1", bareLetterID, app.Access{})
	if err != nil || bare.Attachment == nil || !bytes.Equal(bare.Attachment.Data, n1.Attachment.Data) || bare.Title != "Lettre de liaison" || len(bare.Flags) != 0 {
		t.Fatalf("bare PDF: %+v, %v", bare.Meta, err)
	}
}

func TestConsolidateSamples(t *testing.T) {
	svc, ids := cachedPatient(t)
	lines, unstructured, err := svc.MedicationLines(context.Background(), "p1")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2020, 3, 20, 9, 0, 0, 0, time.UTC)
	list := meds.Consolidate(lines, unstructured, now)
	if list.Lines != 8 || list.Entries != 7 {
		t.Errorf("%d lines, %d entries; want 8 lines, 7 entries (the two tetanus dispensings merged)", list.Lines, list.Entries)
	}
	entries := map[string]meds.Entry{}
	for _, g := range list.Groups {
		for _, e := range g.Entries {
			entries[e.Name] = e
			for _, src := range e.Sources {
				if src.Document != ids[sampleCNAM] && src.Document != ids[sampleVSM] {
					t.Errorf("%s: source %s is neither the CNAM-HR nor the VSM", e.Name, src.Document)
				}
			}
		}
	}
	for _, name := range []string{"LUDEAL CPR3/21", "CRESTOR 5MG CPR9/10", "NUX VOMICA COMP BOIR GRL",
		"VACCIN TETANIQUE PASTEUR SUSP INJ1/.5", "HBVAXPRO 10 MICROG/ML SUSP INJ SER1/1", "PLAVIX 75 mg", "COUMADINE 5mg"} {
		if _, ok := entries[name]; !ok {
			t.Errorf("no entry %q in %v", name, entries)
		}
	}
	tet := entries["VACCIN TETANIQUE PASTEUR SUSP INJ1/.5"]
	if len(tet.Dispensings) != 2 || !tet.LastDispensed.Equal(time.Date(2019, 7, 11, 0, 0, 0, 0, tet.LastDispensed.Location())) || tet.ATC.Code != "J07AM01" {
		t.Errorf("tetanus vaccine: dispensings %v, last %v, ATC %s", tet.Dispensings, tet.LastDispensed, tet.ATC.Code)
	}
	if e := entries["PLAVIX 75 mg"]; len(e.Sources) != 1 || e.Sources[0].Document != ids[sampleVSM] || e.Basis != meds.BasisStart {
		t.Errorf("PLAVIX: sources %+v, basis %q", e.Sources, e.Basis)
	}
	// Of the documents without structured lines, only the letter may hold
	// medication information: biology reports (N1 and N3) are left out.
	if len(list.Unstructured) != 1 || list.Unstructured[0].Meta.ID != bareLetterID {
		t.Errorf("unstructured = %+v, want the PDF letter only", list.Unstructured)
	}
}

func TestReaderMapping(t *testing.T) {
	// The reader's flag kinds are the app's machine codes.
	for k, v := range map[cda.FlagKind]string{
		cda.FlagTestINS: app.ReadFlagTestINS, cda.FlagBadINS: app.ReadFlagBadINS, cda.FlagBadDate: app.ReadFlagBadDate,
		cda.FlagMediaMismatch: app.ReadFlagMediaMismatch, cda.FlagUnknownCharset: app.ReadFlagEncoding,
		cda.FlagMissing: app.ReadFlagMissing, cda.FlagUnsupported: app.ReadFlagUnsupported,
	} {
		if string(k) != v {
			t.Errorf("flag %q != app %q", k, v)
		}
	}

	content := ansSample(t, sampleVSM)
	// The manifest's metadata wins; its empty fields come from the header.
	meta := app.DocumentMeta{ID: "manifest-id", Title: "Titre du manifeste", Source: "dmp", Cached: true}
	cd, err := cda.Reader{Options: cda.Options{Production: true}}.Read(content, meta)
	if err != nil {
		t.Fatal(err)
	}
	if cd.Meta.ID != "manifest-id" || cd.Meta.Title != "Titre du manifeste" || cd.Title != "Synthèse Médicale" ||
		cd.Meta.TypeCode != "SYNTH" || cd.Meta.Author != "Dr Stéphane MEDIONI" || cd.Meta.Date.IsZero() || cd.Meta.MediaType != "text/xml" ||
		!cd.Meta.Cached || cd.Type.Code != "SYNTH" {
		t.Errorf("meta = %+v, type %+v", cd.Meta, cd.Type)
	}
	// A test INS read with Production set is flagged, once.
	if !cd.HasFlag(app.ReadFlagTestINS) || len(cd.Flags) != 1 {
		t.Errorf("flags = %v, want [test-ins]", cd.Flags)
	}
	if len(cd.Sections) != 3 || cd.Sections[0].Title == "" {
		t.Errorf("%d sections", len(cd.Sections))
	}

	// A refused document gives the parser's error, wrapping ErrInvalid.
	_, err = cda.Reader{}.Read([]byte("<!DOCTYPE x><ClinicalDocument/>"), app.DocumentMeta{})
	var pe *cda.ParseError
	if !errors.As(err, &pe) || !errors.Is(err, app.ErrInvalid) {
		t.Errorf("DOCTYPE: err = %v", err)
	}

	// Bare content: an attachment, its type told by its bytes.
	png := []byte("\x89PNG\r\n\x1a\n....")
	cd, err = cda.Reader{}.Read(png, app.DocumentMeta{ID: "img", MediaType: "application/pdf", Title: "Photo"})
	if err != nil || cd.Attachment == nil || cd.Attachment.MediaType != "image/png" || cd.Attachment.DeclaredType != "application/pdf" ||
		!cd.HasFlag(app.ReadFlagMediaMismatch) || cd.Title != "Photo" || cd.Structured() {
		t.Errorf("bare PNG = %+v, %v", cd, err)
	}
	cd, err = cda.Reader{}.Read([]byte("%PDF-1.4"), app.DocumentMeta{ID: "pdf"})
	if err != nil || cd.Attachment == nil || cd.Attachment.MediaType != "application/pdf" || cd.Meta.MediaType != "application/pdf" || len(cd.Flags) != 0 {
		t.Errorf("bare PDF without declared type = %+v, %v", cd, err)
	}
}

// BenchmarkMedicationLines reads the medication lines of a patient with 200
// cached documents (the eight ANS samples in turn, about 2.6 MB of CDA):
// "first" parses them all (the cache is dropped by a lock before each
// call), "cached" answers from the memory of the same unlock.
func BenchmarkMedicationLines(b *testing.B) {
	ctx := context.Background()
	names := []string{"ANEST-CR-CPA_2022.01.xml", sampleBIO, sampleCNAM, sampleN1, "IMG_CR_IMG_2024.01.xml",
		"LDL-SES_2022.01.xml", sampleVSM, "eP-MED-DM_2024.01_PosoStruct.xml"}
	var contents [][]byte
	var metas []app.DocumentMeta
	for _, n := range names {
		c := ansSample(b, n)
		d, err := cda.ParseBytes(c, cda.Options{})
		if err != nil {
			b.Fatal(err)
		}
		contents, metas = append(contents, c), append(metas, d.Meta())
	}
	store := apptest.NewLockedStore(readingPass, app.Patient{ID: "p1", BirthName: "Fixture"})
	svc := app.NewService(app.Deps{Store: store, Clock: apptest.NewClock(time.Date(2020, 3, 20, 9, 0, 0, 0, time.UTC)), Log: slog.New(slog.DiscardHandler), Reader: cda.Reader{}})
	if _, err := svc.Unlock(ctx, []byte(readingPass)); err != nil {
		b.Fatal(err)
	}
	batch := &app.Batch{Manifests: []app.Manifest{{Patient: "p1"}}}
	total := 0
	for i := range 200 {
		k := i % len(names)
		meta := metas[k]
		meta.ID = app.DocumentID(string(meta.ID) + "." + string(rune('a'+i/len(names)%26)) + string(rune('a'+i/len(names)/26)))
		meta.Cached = true
		batch.Manifests[0].Documents = append(batch.Manifests[0].Documents, meta)
		batch.Documents = append(batch.Documents, app.DocumentContent{Patient: "p1", ID: meta.ID, Bytes: contents[k]})
		total += len(contents[k])
	}
	if err := store.Write(ctx, batch); err != nil {
		b.Fatal(err)
	}
	relock := func() {
		svc.Lock(app.LockByUser)
		if _, err := svc.Unlock(ctx, []byte(readingPass)); err != nil {
			b.Fatal(err)
		}
	}
	check := func(lines []app.Medication, unstructured []app.DocumentMeta, err error) {
		if err != nil || len(lines) == 0 || len(unstructured) == 0 {
			b.Fatalf("%d lines, %d unstructured, %v", len(lines), len(unstructured), err)
		}
	}
	b.Run("first", func(b *testing.B) {
		b.SetBytes(int64(total))
		for b.Loop() {
			b.StopTimer()
			relock()
			b.StartTimer()
			check(svc.MedicationLines(ctx, "p1"))
		}
	})
	b.Run("cached", func(b *testing.B) {
		relock()
		check(svc.MedicationLines(ctx, "p1"))
		for b.Loop() {
			check(svc.MedicationLines(ctx, "p1"))
		}
	})
}

// TestClinicalFactsFromSamples: ReadMedications also gives the allergies,
// problems and devices of the cached documents, each with its source.
func TestClinicalFactsFromSamples(t *testing.T) {
	svc, ids := cachedPatient(t)
	r, err := svc.ReadMedications(context.Background(), "p1")
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Allergies) != 1 || r.Allergies[0].Text != "Paracétamol" || r.Allergies[0].Source.Document != ids[sampleVSM] || r.Allergies[0].Source.Title == "" {
		t.Errorf("allergies = %+v", r.Allergies)
	}
	var pbs []string
	for _, p := range app.PresentProblems(r.Problems) {
		if p.Source.Document != ids[sampleVSM] {
			t.Errorf("problem %s from %s", p.Code.Code, p.Source.Document)
		}
		pbs = append(pbs, p.Code.Code)
	}
	if strings.Join(pbs, " ") != "G45.9 I20.0 N10 I21.1" {
		t.Errorf("problems = %v", pbs)
	}
	if len(r.Devices) != 2 || r.Devices[0].Source.Document != ids[sampleCNAM] || r.Devices[0].Type.Code != "3408693" {
		t.Errorf("devices = %+v", r.Devices)
	}
}
