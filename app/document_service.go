package app

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
)

// errNoReader is a wiring fault: main did not call SetDocumentReader.
var errNoReader = errors.New("app: no document reader set")

// Bounds of the in-memory cache of read documents (ReadDocument). The
// medication summaries MedicationLines keeps are small and unbounded; both
// are dropped when the vault locks.
const (
	readCacheBytes   = 32 << 20 // total size of the cached documents' contents
	readCacheEntries = 32
)

// SetDocumentReader sets the reader of ReadDocument and MedicationLines
// (main wires cda.Reader). The documents read are kept in memory until the
// vault locks.
func (s *Service) SetDocumentReader(r DocumentReader) {
	rd := &s.reading
	rd.mu.Lock()
	rd.reader = r
	rd.dropLocked()
	hook := !rd.hooked
	rd.hooked = true
	rd.mu.Unlock()
	if hook {
		s.OnLock(func(LockReason) { rd.drop() })
	}
}

// ReadDocument returns a document of the patient's record, read: its
// sections of rich text, or its attachment (PDF, image), and its entries.
// The content comes from the vault, or from the central service when not
// cached (as Document, with acc). Documents read are kept in memory until
// the vault locks; the result shares its slices with that cache and must
// not be modified. A document the reader refuses gives its error (wrapping
// ErrInvalid).
func (s *Service) ReadDocument(ctx context.Context, id PatientID, doc DocumentID, acc Access) (ClinicalDocument, error) {
	s.Touch()
	r, gen := s.reading.current()
	if r == nil {
		return ClinicalDocument{}, errNoReader
	}
	m, err := s.store.Manifest(ctx, id)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return ClinicalDocument{}, fmt.Errorf("read document: %w", err)
	}
	meta, listed := m.Document(doc)
	if !listed {
		meta = DocumentMeta{ID: doc}
	}
	key := keyOf(id, meta)
	if listed {
		if cd, ok := s.reading.document(key); ok {
			cd.Meta = completeMeta(meta, cd.Meta)
			return cd, nil
		}
	}
	content, err := s.Document(ctx, id, doc, acc)
	if err != nil {
		return ClinicalDocument{}, fmt.Errorf("read document: %w", err)
	}
	cd, err := r.Read(content, meta)
	if listed {
		s.reading.putSummary(gen, key, summarise(cd, err))
	}
	if err != nil {
		return ClinicalDocument{}, fmt.Errorf("read document: %w", err)
	}
	if listed {
		s.reading.putDocument(gen, key, cd, len(content))
	}
	return cd, nil
}

// MedicationLines returns the structured medication lines of the patient's
// documents and the documents that gave none, for meds.Consolidate. See
// ReadMedications, which also says why each document is unstructured.
func (s *Service) MedicationLines(ctx context.Context, id PatientID) (lines []Medication, unstructured []DocumentMeta, err error) {
	r, err := s.ReadMedications(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	return r.Lines, r.Metas(), nil
}

// ReadMedications reads every current (not superseded) document of the
// patient's record that is in the vault and collects its medication lines,
// each with its Source (the document's id always, the other fields from
// the manifest when the document left them empty); the medications the
// patient declared (DeclareMedication) follow, as lines of their own source
// (Kind MedicationDeclared, no document). A document with no
// structured line, one not in the vault (Meta.Cached false: the UI offers
// to fetch it) and one that cannot be read are listed in Unstructured with
// the reason; package meds decides which of them may hold medication
// information. Only a locked vault, a cancelled ctx or an unreadable
// manifest or declaration record fail the whole reading. The documents'
// results are kept in memory until the vault locks; the declarations are
// read from the vault each time.
func (s *Service) ReadMedications(ctx context.Context, id PatientID) (MedicationReading, error) {
	s.Touch()
	r, gen := s.reading.current()
	if r == nil {
		return MedicationReading{}, errNoReader
	}
	m, err := s.store.Manifest(ctx, id)
	if errors.Is(err, ErrNotFound) {
		// Nothing cached for this patient: the declarations only.
		declared, err := s.declaredLines(ctx, id)
		if err != nil {
			return MedicationReading{}, fmt.Errorf("read medications: %w", err)
		}
		return MedicationReading{Lines: declared}, nil
	}
	if err != nil {
		return MedicationReading{}, fmt.Errorf("read medications: %w", err)
	}
	declared, err := s.declaredLines(ctx, id)
	if err != nil {
		return MedicationReading{}, fmt.Errorf("read medications: %w", err)
	}
	docs := make([]DocumentMeta, 0, len(m.Documents))
	for _, meta := range m.Documents {
		if !meta.Superseded {
			docs = append(docs, meta)
		}
	}
	results := make([]docReading, len(docs))
	var todo []int
	for i, meta := range docs {
		if sum, ok := s.reading.summary(keyOf(id, meta)); ok {
			results[i] = docReading{sum: sum}
		} else {
			todo = append(todo, i)
		}
	}
	if err := s.readAll(ctx, r, gen, id, docs, todo, results); err != nil {
		return MedicationReading{}, fmt.Errorf("read medications: %w", err)
	}
	n := 0
	for _, res := range results {
		n += len(res.sum.meds)
	}
	out := MedicationReading{Lines: make([]Medication, 0, n+len(declared))}
	for i, meta := range docs {
		res := results[i]
		if res.reason == UnstructuredNotCached {
			meta.Cached = false
			out.Unstructured = append(out.Unstructured, UnstructuredDocument{Meta: meta, Reason: res.reason})
			continue
		}
		meta.Cached = true
		meta = completeMeta(meta, res.sum.meta)
		switch {
		case res.reason == UnstructuredUnreadable || res.sum.unreadable:
			out.Unstructured = append(out.Unstructured, UnstructuredDocument{Meta: meta, Reason: UnstructuredUnreadable})
		case len(res.sum.meds) == 0:
			out.Unstructured = append(out.Unstructured, UnstructuredDocument{Meta: meta, Reason: UnstructuredNoEntries})
		default:
			for _, l := range res.sum.meds {
				out.Lines = append(out.Lines, withSource(l, meta))
			}
		}
		if res.reason == "" && !res.sum.unreadable {
			src := withSource(Medication{}, meta).Source
			for _, a := range res.sum.allergies {
				a.Source = src
				out.Allergies = append(out.Allergies, a)
			}
			for _, p := range res.sum.problems {
				p.Source = src
				out.Problems = append(out.Problems, p)
			}
			for _, d := range res.sum.devices {
				d.Source = src
				out.Devices = append(out.Devices, d)
			}
			for _, o := range res.sum.observations {
				o.Source = src
				out.Observations = append(out.Observations, o)
			}
		}
	}
	out.Lines = append(out.Lines, declared...) // their own source: no document
	return out, nil
}

// maxReaders bounds the documents read at once by ReadMedications (each
// read holds a document and its parse in memory).
const maxReaders = 4

// docReading is the outcome of reading one document for ReadMedications:
// its summary, or why there is none (UnstructuredNotCached,
// UnstructuredUnreadable for a vault record that cannot be opened).
type docReading struct {
	sum    medSummary
	reason UnstructuredReason
}

// readAll reads the documents docs[i] for i in todo into results, a few at
// a time, and keeps their summaries. It fails only when the vault locks or
// ctx ends.
func (s *Service) readAll(ctx context.Context, r DocumentReader, gen uint64, id PatientID, docs []DocumentMeta, todo []int, results []docReading) error {
	if len(todo) == 0 {
		return nil
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(len(todo), runtime.GOMAXPROCS(0), maxReaders) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				res, err := s.readOne(ctx, r, gen, id, docs[i])
				if err != nil {
					cancel(err)
					continue
				}
				results[i] = res
			}
		}()
	}
feed:
	for _, i := range todo {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	return context.Cause(ctx)
}

// readOne reads one document for ReadMedications. Its error is fatal to the
// whole reading (a locked vault, ctx ended); every other failure is an
// outcome.
func (s *Service) readOne(ctx context.Context, r DocumentReader, gen uint64, id PatientID, meta DocumentMeta) (docReading, error) {
	if err := ctx.Err(); err != nil {
		return docReading{}, err
	}
	content, err := s.store.Document(ctx, id, meta.ID)
	switch {
	case errors.Is(err, ErrNotFound):
		return docReading{reason: UnstructuredNotCached}, nil
	case errors.Is(err, ErrLocked), ctx.Err() != nil:
		return docReading{}, err
	case err != nil:
		s.log.Warn("medication list: document not readable from the vault", "err", err)
		return docReading{reason: UnstructuredUnreadable}, nil
	}
	var cd ClinicalDocument
	if sr, ok := r.(StructuredReader); ok {
		cd, err = sr.ReadStructured(content, meta) // entries only: the embedded media are not decoded
	} else {
		cd, err = r.Read(content, meta)
	}
	if err != nil {
		s.log.Warn("medication list: document refused by the reader", "err", err)
	}
	sum := summarise(cd, err)
	s.reading.putSummary(gen, keyOf(id, meta), sum)
	return docReading{sum: sum}, nil
}

// withSource fills the source of a line read from the document of meta: the
// document id always (the source must open this document of the
// manifest), the other fields when the reader left them empty.
func withSource(l Medication, meta DocumentMeta) Medication {
	src := &l.Source
	src.Document = meta.ID
	if src.TypeCode == "" {
		src.TypeCode = meta.TypeCode
	}
	if src.Title == "" {
		src.Title = meta.Title
	}
	if src.Date.IsZero() {
		src.Date = meta.Date
	}
	if src.Author == "" {
		src.Author = meta.Author
	}
	src.Own = meta.Source == "carnet"
	return l
}

// completeMeta fills the empty descriptive fields of m from read (the
// metadata a reader completed from the document itself).
func completeMeta(m, read DocumentMeta) DocumentMeta {
	for _, f := range []struct{ dst, src *string }{
		{&m.SetID, &read.SetID}, {&m.TypeCode, &read.TypeCode}, {&m.ClassCode, &read.ClassCode}, {&m.Title, &read.Title},
		{&m.Author, &read.Author}, {&m.Organisation, &read.Organisation},
		{&m.Confidentiality, &read.Confidentiality}, {&m.MediaType, &read.MediaType},
	} {
		if *f.dst == "" {
			*f.dst = *f.src
		}
	}
	if m.Version == 0 {
		m.Version = read.Version
	}
	if m.Date.IsZero() {
		m.Date = read.Date
	}
	return m
}

// readKey identifies one content of one document of one patient.
type readKey struct {
	patient PatientID
	doc     DocumentID
	version int
	hash    string
	size    int64
}

func keyOf(id PatientID, m DocumentMeta) readKey {
	return readKey{patient: id, doc: m.ID, version: m.Version, hash: m.Hash, size: m.Size}
}

// medSummary is what MedicationLines needs of a read document.
type medSummary struct {
	meta       DocumentMeta // as completed by the reader
	meds       []Medication // as read (Source not yet completed)
	allergies  []Allergy
	problems   []Problem
	devices    []Device
	unreadable bool // the reader refused the document

	observations []Observation
}

func summarise(cd ClinicalDocument, err error) medSummary {
	if err != nil {
		return medSummary{unreadable: true}
	}
	return medSummary{meta: cd.Meta, meds: cd.Medications, allergies: cd.Allergies, problems: cd.Problems, devices: cd.Devices,
		observations: cd.Observations}
}

// documentReading is the Service's document reader and the memory of what
// it read during this unlock: medication summaries of every document read,
// and the last documents ReadDocument returned (bounded by readCacheBytes
// and readCacheEntries). Everything is dropped when the vault locks; the
// generation, bumped at each drop, keeps a read that started before a lock
// from being cached after it.
type documentReading struct {
	mu        sync.Mutex
	reader    DocumentReader
	hooked    bool   // the OnLock hook is registered
	gen       uint64 // bumped at each drop
	summaries map[readKey]medSummary
	docs      map[readKey]*cachedDocument
	order     []readKey // docs, least recently used first
	bytes     int       // total size of docs
}

// cachedDocument is a document kept by ReadDocument.
type cachedDocument struct {
	doc  ClinicalDocument
	size int
}

// current returns the reader and the generation of the cache.
func (rd *documentReading) current() (DocumentReader, uint64) {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	return rd.reader, rd.gen
}

// drop forgets everything read.
func (rd *documentReading) drop() {
	rd.mu.Lock()
	rd.dropLocked()
	rd.mu.Unlock()
}

func (rd *documentReading) dropLocked() {
	rd.gen++
	rd.summaries, rd.docs, rd.order, rd.bytes = nil, nil, nil, 0
}

func (rd *documentReading) summary(k readKey) (medSummary, bool) {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	s, ok := rd.summaries[k]
	return s, ok
}

func (rd *documentReading) putSummary(gen uint64, k readKey, s medSummary) {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	if gen != rd.gen {
		return
	}
	if rd.summaries == nil {
		rd.summaries = make(map[readKey]medSummary)
	}
	rd.summaries[k] = s
}

func (rd *documentReading) document(k readKey) (ClinicalDocument, bool) {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	c, ok := rd.docs[k]
	if !ok {
		return ClinicalDocument{}, false
	}
	rd.touch(k)
	return c.doc, true
}

func (rd *documentReading) putDocument(gen uint64, k readKey, cd ClinicalDocument, size int) {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	if gen != rd.gen || size > readCacheBytes {
		return
	}
	if rd.docs == nil {
		rd.docs = make(map[readKey]*cachedDocument)
	}
	if old, ok := rd.docs[k]; ok {
		rd.bytes -= old.size
		rd.touch(k)
	} else {
		rd.order = append(rd.order, k)
	}
	rd.docs[k] = &cachedDocument{doc: cd, size: size}
	rd.bytes += size
	for len(rd.order) > 0 && (rd.bytes > readCacheBytes || len(rd.order) > readCacheEntries) {
		old := rd.order[0]
		rd.order = rd.order[1:]
		rd.bytes -= rd.docs[old].size
		delete(rd.docs, old)
	}
}

// touch moves k to the most recently used end of order.
func (rd *documentReading) touch(k readKey) {
	for i, o := range rd.order {
		if o == k {
			copy(rd.order[i:], rd.order[i+1:])
			rd.order[len(rd.order)-1] = k
			return
		}
	}
}
