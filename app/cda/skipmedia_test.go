package cda_test

import (
	"context"
	"reflect"
	"sync/atomic"
	"testing"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/cda"
)

// fullOnly is cda.Reader seen as a plain app.DocumentReader (no
// ReadStructured), counting its reads.
type fullOnly struct{ n *atomic.Int32 }

func (r fullOnly) Read(content []byte, meta app.DocumentMeta) (app.ClinicalDocument, error) {
	r.n.Add(1)
	return cda.Reader{}.Read(content, meta)
}

// structured is cda.Reader counting its full and its structured reads.
type structured struct{ full, entries *atomic.Int32 }

func (r structured) Read(content []byte, meta app.DocumentMeta) (app.ClinicalDocument, error) {
	r.full.Add(1)
	return cda.Reader{}.Read(content, meta)
}

func (r structured) ReadStructured(content []byte, meta app.DocumentMeta) (app.ClinicalDocument, error) {
	r.entries.Add(1)
	cd, err := cda.Reader{}.ReadStructured(content, meta)
	if len(cd.Media) != 0 {
		panic("ReadStructured decoded the embedded media")
	}
	return cd, err
}

// TestReadMedicationsSkipsMedia: the medication list reads every document
// through ReadStructured (no embedded media decoded) when the reader
// offers it, and finds exactly what a full read finds.
func TestReadMedicationsSkipsMedia(t *testing.T) {
	ctx := context.Background()
	svc, _ := cachedPatient(t)
	var n atomic.Int32
	svc.SetDocumentReader(fullOnly{&n})
	want, err := svc.ReadMedications(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	if n.Load() == 0 {
		t.Fatal("the plain reader was not used")
	}

	svc2, _ := cachedPatient(t)
	var full, entries atomic.Int32
	svc2.SetDocumentReader(structured{&full, &entries})
	got, err := svc2.ReadMedications(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	if full.Load() != 0 || entries.Load() != n.Load() {
		t.Errorf("%d full reads, %d structured reads; want 0 and %d", full.Load(), entries.Load(), n.Load())
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("the structured reading differs from the full one:\n got %+v\nwant %+v", got, want)
	}
}
