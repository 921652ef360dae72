package app_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/apptest"
)

// readingDoc is a document of the reading fixture: its metadata and, when
// content is not nil, its cached content (apptest.Reader's line format).
type readingDoc struct {
	meta    app.DocumentMeta
	content string
	stored  bool // content is written to the store
}

var readingDate = time.Date(2026, 3, 12, 10, 0, 0, 0, time.UTC)

func rdoc(id, typeCode string, cached, stored bool, content string) readingDoc {
	return readingDoc{
		meta: app.DocumentMeta{ID: app.DocumentID(id), TypeCode: typeCode, Title: "Titre " + id,
			Date: readingDate, Author: "Dr Auteur " + id, Cached: cached, Version: 1, Hash: "h-" + id},
		content: content, stored: stored,
	}
}

// readingService returns an unlocked service over a store holding patient
// p1 with docs, reading with reader (signed in as doctor with records when
// records is not nil).
func readingService(t testing.TB, reader app.DocumentReader, log *slog.Logger, records *apptest.Records, docs ...readingDoc) (*app.Service, *apptest.Store) {
	t.Helper()
	store := apptest.NewLockedStore(pass, patientP1)
	svc := app.NewService(app.Deps{Store: store, Clock: apptest.NewClock(serverNow), Log: log})
	ctx := context.Background()
	if _, err := svc.Unlock(ctx, []byte(pass)); err != nil {
		t.Fatal(err)
	}
	if reader != nil {
		svc.SetDocumentReader(reader)
	}
	if records != nil {
		svc.SignIn(app.Session{Practitioner: doctor, Records: records})
	}
	b := &app.Batch{Manifests: []app.Manifest{{Patient: "p1"}}}
	for _, d := range docs {
		b.Manifests[0].Documents = append(b.Manifests[0].Documents, d.meta)
		if d.stored {
			b.Documents = append(b.Documents, app.DocumentContent{Patient: "p1", ID: d.meta.ID, Bytes: []byte(d.content)})
		}
	}
	if err := store.Write(ctx, b); err != nil {
		t.Fatal(err)
	}
	return svc, store
}

func TestReadMedications(t *testing.T) {
	superseded := rdoc("old-vsm", "60591-5", true, true, "med: ANCIEN")
	superseded.meta.Superseded = true
	docs := []readingDoc{
		rdoc("vsm", "60591-5", true, true, "title: VSM\nmed: KARDEGIC\nmed: BISOPROLOL"),
		rdoc("pdf", "11490-0", true, true, "%PDF-1.7 lettre"),
		rdoc("remote", "57833-6", false, false, ""),
		rdoc("hostile", "34749-2", true, true, "bad document"),
		superseded,
		rdoc("fetched", "57833-6", false, true, "med: AMOXICILLINE"), // content in the vault, manifest not updated
		rdoc("lost", "11490-0", true, false, ""),                     // manifest says cached, content gone
		rdoc("bio", "11502-2", true, true, "section: Résultats\ntext: TSH normale"),
	}
	svc, _ := readingService(t, &apptest.Reader{}, nil, nil, docs...)
	got, err := svc.ReadMedications(context.Background(), "p1")
	if err != nil {
		t.Fatal(err)
	}

	var names []string
	for _, l := range got.Lines {
		names = append(names, l.Name)
	}
	if want := "KARDEGIC,BISOPROLOL,AMOXICILLINE"; strings.Join(names, ",") != want {
		t.Fatalf("lines = %v, want %s", names, want)
	}
	src := got.Lines[0].Source
	if src.Document != "vsm" || src.TypeCode != "60591-5" || src.Title != "Titre vsm" || !src.Date.Equal(readingDate) || src.Author != "Dr Auteur vsm" {
		t.Errorf("source not filled from the manifest: %+v", src)
	}

	tests := []struct {
		id     app.DocumentID
		reason app.UnstructuredReason
		cached bool
	}{
		{"pdf", app.UnstructuredNoEntries, true},
		{"remote", app.UnstructuredNotCached, false},
		{"hostile", app.UnstructuredUnreadable, true},
		{"lost", app.UnstructuredNotCached, false},
		{"bio", app.UnstructuredNoEntries, true},
	}
	if len(got.Unstructured) != len(tests) {
		t.Fatalf("unstructured = %+v, want %d documents", got.Unstructured, len(tests))
	}
	for i, tc := range tests {
		u := got.Unstructured[i]
		if u.Meta.ID != tc.id || u.Reason != tc.reason || u.Meta.Cached != tc.cached {
			t.Errorf("unstructured[%d] = %s %s cached=%v, want %s %s cached=%v", i, u.Meta.ID, u.Reason, u.Meta.Cached, tc.id, tc.reason, tc.cached)
		}
	}

	lines, metas, err := svc.MedicationLines(context.Background(), "p1")
	if err != nil || len(lines) != 3 || len(metas) != len(tests) || metas[1].ID != "remote" {
		t.Errorf("MedicationLines = %d lines, %d unstructured, %v", len(lines), len(metas), err)
	}
}

func TestReadMedicationsCachesUntilLock(t *testing.T) {
	ctx := context.Background()
	reader := &apptest.Reader{}
	svc, store := readingService(t, reader, nil, nil,
		rdoc("a", "60591-5", true, true, "med: A"),
		rdoc("b", "11490-0", true, true, "%PDF-1.4"),
		rdoc("c", "34749-2", true, true, "bad"))
	if _, err := svc.ReadMedications(ctx, "p1"); err != nil {
		t.Fatal(err)
	}
	if n := reader.Calls(); n != 3 {
		t.Fatalf("first reading: %d reads, want 3", n)
	}
	if _, err := svc.ReadMedications(ctx, "p1"); err != nil || reader.Calls() != 3 {
		t.Fatalf("second reading: %d reads (want 3, from memory), %v", reader.Calls(), err)
	}

	// A new version of a document is read again.
	m, _ := store.Manifest(ctx, "p1")
	m.Documents[0].Version, m.Documents[0].Hash = 2, "h-a2"
	if err := store.Write(ctx, &app.Batch{Manifests: []app.Manifest{m},
		Documents: []app.DocumentContent{{Patient: "p1", ID: "a", Bytes: []byte("med: A2")}}}); err != nil {
		t.Fatal(err)
	}
	r, err := svc.ReadMedications(ctx, "p1")
	if err != nil || reader.Calls() != 4 || len(r.Lines) != 1 || r.Lines[0].Name != "A2" {
		t.Fatalf("after a new version: %d reads, %+v, %v", reader.Calls(), r.Lines, err)
	}

	// Locking forgets everything read.
	svc.Lock(app.LockByUser)
	if _, err := svc.ReadMedications(ctx, "p1"); !errors.Is(err, app.ErrLocked) {
		t.Fatalf("locked: err = %v, want ErrLocked", err)
	}
	if _, err := svc.Unlock(ctx, []byte(pass)); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.ReadMedications(ctx, "p1"); err != nil || reader.Calls() != 7 {
		t.Fatalf("after unlock: %d reads, want 7 (all read again), %v", reader.Calls(), err)
	}
}

func TestReadMedicationsNotCachedAcrossALock(t *testing.T) {
	// A read that was under way when the vault locked must not be cached:
	// its result belongs to the previous unlock.
	ctx := context.Background()
	var svc *app.Service
	var once sync.Once
	reader := &apptest.Reader{}
	reader.ReadFn = func(content []byte, meta app.DocumentMeta) (app.ClinicalDocument, error) {
		once.Do(func() { svc.Lock(app.LockIdle) })
		return app.ClinicalDocument{Meta: meta, Medications: []app.Medication{{Name: string(content)}}}, nil
	}
	svc, _ = readingService(t, reader, nil, nil, rdoc("a", "60591-5", true, true, "A"), rdoc("b", "60591-5", true, true, "B"))
	if _, err := svc.ReadMedications(ctx, "p1"); err != nil && !errors.Is(err, app.ErrLocked) {
		t.Fatalf("err = %v, want nil or ErrLocked (the vault locked during the reading)", err)
	}
	if _, err := svc.Unlock(ctx, []byte(pass)); err != nil {
		t.Fatal(err)
	}
	before := reader.Calls()
	r, err := svc.ReadMedications(ctx, "p1")
	if err != nil || len(r.Lines) != 2 || reader.Calls()-before != 2 {
		t.Fatalf("after unlock: %d reads (want 2: nothing read before the lock is reused), %+v, %v", reader.Calls()-before, r.Lines, err)
	}
}

func TestReadMedicationsConcurrent(t *testing.T) {
	// Many documents, read by several goroutines, by several callers at
	// once: the same answer in manifest order.
	var docs []readingDoc
	for i := range 40 {
		docs = append(docs, rdoc(fmt.Sprintf("d%02d", i), "60591-5", true, true, fmt.Sprintf("med: M%02d", i)))
	}
	svc, _ := readingService(t, &apptest.Reader{}, nil, nil, docs...)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := svc.ReadMedications(context.Background(), "p1")
			if err != nil || len(r.Lines) != 40 {
				t.Errorf("%d lines, %v", len(r.Lines), err)
				return
			}
			for i, l := range r.Lines {
				if want := fmt.Sprintf("M%02d", i); l.Name != want || string(l.Source.Document) != fmt.Sprintf("d%02d", i) {
					t.Errorf("line %d = %s from %s", i, l.Name, l.Source.Document)
				}
			}
		}()
	}
	wg.Wait()
}

func TestReadMedicationsLogsNoHealthData(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	reader := &apptest.Reader{ReadFn: func([]byte, app.DocumentMeta) (app.ClinicalDocument, error) {
		return app.ClinicalDocument{}, fmt.Errorf("reader: malformed: %w", app.ErrInvalid)
	}}
	svc, _ := readingService(t, reader, log, nil, rdoc("secret-id", "60591-5", true, true, "med: WARFARINE"))
	r, err := svc.ReadMedications(context.Background(), "p1")
	if err != nil || len(r.Unstructured) != 1 || r.Unstructured[0].Reason != app.UnstructuredUnreadable {
		t.Fatalf("reading = %+v, %v", r, err)
	}
	out := buf.String()
	if !strings.Contains(out, "refused") {
		t.Errorf("no log of the refusal: %q", out)
	}
	for _, leak := range []string{"WARFARINE", "secret-id", "Titre", "Auteur", "Hébert", "p1"} {
		if strings.Contains(out, leak) {
			t.Errorf("log holds %q: %s", leak, out)
		}
	}
}

func TestReadMedicationsEdges(t *testing.T) {
	ctx := context.Background()
	t.Run("no reader", func(t *testing.T) {
		svc, _ := readingService(t, nil, nil, nil)
		if _, err := svc.ReadMedications(ctx, "p1"); err == nil {
			t.Fatal("no error without a reader")
		}
		if _, err := svc.ReadDocument(ctx, "p1", "x", app.Access{}); err == nil {
			t.Fatal("no error without a reader")
		}
	})
	t.Run("no manifest", func(t *testing.T) {
		svc, _ := readingService(t, &apptest.Reader{}, nil, nil)
		r, err := svc.ReadMedications(ctx, "nobody")
		if err != nil || len(r.Lines)+len(r.Unstructured) != 0 {
			t.Fatalf("= %+v, %v", r, err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		svc, _ := readingService(t, &apptest.Reader{}, nil, nil, rdoc("a", "60591-5", true, true, "med: A"))
		c, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := svc.ReadMedications(c, "p1"); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	})
}

func TestReadDocument(t *testing.T) {
	ctx := context.Background()
	reader := &apptest.Reader{}
	svc, store := readingService(t, reader, nil, nil,
		rdoc("vsm", "60591-5", true, true, "title: Synthèse\nsection: Traitements\ntext: KARDEGIC 75 mg\nmed: KARDEGIC\nflag: test-ins"),
		rdoc("pdf", "11490-0", true, true, "%PDF-1.7"),
		rdoc("bad", "11490-0", true, true, "bad"),
		rdoc("remote", "11490-0", false, false, ""))

	cd, err := svc.ReadDocument(ctx, "p1", "vsm", app.Access{})
	if err != nil {
		t.Fatal(err)
	}
	if cd.Title != "Synthèse" || len(cd.Sections) != 1 || cd.Sections[0].Text.PlainText() != "KARDEGIC 75 mg" ||
		len(cd.Medications) != 1 || !cd.HasFlag(app.ReadFlagTestINS) || !cd.Structured() || cd.Meta.ID != "vsm" {
		t.Fatalf("ReadDocument = %+v", cd)
	}
	// From memory the second time, with the manifest's current metadata.
	m, _ := store.Manifest(ctx, "p1")
	m.Documents[0].Visibility.MaskedToProfessionals = true
	if err := store.Write(ctx, &app.Batch{Manifests: []app.Manifest{m}}); err != nil {
		t.Fatal(err)
	}
	cd, err = svc.ReadDocument(ctx, "p1", "vsm", app.Access{})
	if err != nil || reader.Calls() != 1 || !cd.Meta.Visibility.MaskedToProfessionals {
		t.Fatalf("second read: %d reads (want 1), visibility %+v, %v", reader.Calls(), cd.Meta.Visibility, err)
	}
	// ReadDocument fed the medication cache too.
	if _, err := svc.ReadMedications(ctx, "p1"); err != nil || reader.Calls() != 3 {
		t.Fatalf("medications after ReadDocument: %d reads, want 3 (vsm from memory, pdf and bad read), %v", reader.Calls(), err)
	}

	cd, err = svc.ReadDocument(ctx, "p1", "pdf", app.Access{})
	if err != nil || cd.Attachment == nil || cd.Attachment.MediaType != "application/pdf" || cd.Structured() {
		t.Fatalf("pdf = %+v, %v", cd, err)
	}
	if _, err := svc.ReadDocument(ctx, "p1", "bad", app.Access{}); !errors.Is(err, app.ErrInvalid) {
		t.Fatalf("refused document: err = %v, want ErrInvalid", err)
	}
	if _, err := svc.ReadDocument(ctx, "p1", "remote", app.Access{}); !errors.Is(err, app.ErrOffline) {
		t.Fatalf("not cached, no session: err = %v, want ErrOffline", err)
	}
	svc.Lock(app.LockByUser)
	if _, err := svc.ReadDocument(ctx, "p1", "vsm", app.Access{}); !errors.Is(err, app.ErrLocked) {
		t.Fatalf("locked: err = %v, want ErrLocked", err)
	}
}

func TestReadDocumentRetrieves(t *testing.T) {
	ctx := context.Background()
	rec := &apptest.Records{
		RetrieveFn: func(app.Access, app.INS, app.RemoteDocument) ([]byte, error) { return []byte("med: RETRIEVED"), nil },
	}
	svc, _ := readingService(t, &apptest.Reader{}, nil, rec, rdoc("remote", "57833-6", false, false, ""))
	cd, err := svc.ReadDocument(ctx, "p1", "remote", app.Access{Mode: app.AccessNormal})
	if err != nil || len(cd.Medications) != 1 || cd.Medications[0].Name != "RETRIEVED" {
		t.Fatalf("= %+v, %v", cd, err)
	}
	r, err := svc.ReadMedications(ctx, "p1")
	if err != nil || len(r.Lines) != 1 {
		t.Fatalf("medications after retrieval = %+v, %v", r, err)
	}
}
