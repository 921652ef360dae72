package dmptest

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/sync/dmp/fhir"
)

// record is one patient's DMP in the sandbox: its status, the access rules
// that concern it, its documents, submission sets and access traces.
type record struct {
	Index     int // in the synthetic population; -1 for patients added by AddPatient
	Patient   app.Patient
	Exists    bool
	Closed    bool
	ClosedAt  time.Time
	AttachMES bool
	Treating  string               // RPPS of the médecin traitant DMP
	Authz     map[string]time.Time // RPPS → authorisation valid until
	Blocked   map[string]bool      // RPPS → blocked by the patient
	Docs      []*doc
	Lists     []*subset `json:"-"`
	Audit     []*trace
	// Dispensings are the pharmacy dispensings added by AddDispensing
	// (the generated history's own are derived from the seed).
	Dispensings []Dispensing
	generated   bool
}

// doc is one DocumentReference and its content.
type doc struct {
	Seq         uint64 // insertion order, the tie breaker of paging
	Ref         fhir.DocumentReference
	Version     int
	LastUpdated time.Time
	Content     []byte
	ContentType string
	BinaryID    string
	Author      string // RPPS of the submitter ("" for the Assurance Maladie feed)
	Deleted     bool
	patient     *record
	refJSON     []byte     // Ref rendered (refBytes), nil when to be rendered again
	xdsEntry    entryCache // its XDS DocumentEntry as last written (xds_ops.go)
}

// subset is a submission set (List).
type subset struct {
	Seq     uint64
	List    fhir.List
	Date    time.Time
	Author  string
	Members []*doc `json:"-"`
}

// trace is one access to the record, as AuditEvent?patient= returns it.
type trace struct {
	Seq           uint64
	ID            string
	Time          time.Time
	RPPS          string
	Name          string
	Structure     string
	Action        string // FHIR interaction: search-type, read, create, update, delete
	What          string // the resource touched, e.g. "DocumentReference/x"
	Mode          string
	Justification string
	Outcome       string // "0" success, "4" refused
	Notified      bool   // the patient was notified (bris de glace, first access)
}

// data is the sandbox's state, guarded by mu.
type data struct {
	mu       sync.Mutex
	seq      uint64
	records  map[string]*record // INS token string → record
	byIndex  []*record          // synthetic population, created lazily
	docs     map[string]*doc    // DocumentReference id → doc
	binaries map[string]*doc    // Binary id → doc
	unique   map[string]*doc    // masterIdentifier value → doc
}

func (d *data) nextSeq() uint64 { d.seq++; return d.seq }

// register indexes a new document of rec.
func (d *data) register(rec *record, dc *doc) {
	dc.patient = rec
	if dc.Seq == 0 {
		dc.Seq = d.nextSeq()
	}
	rec.Docs = append(rec.Docs, dc)
	d.docs[dc.Ref.ID] = dc
	d.binaries[dc.BinaryID] = dc
	d.unique[dc.Ref.UniqueID()] = dc
	dc.refBytes() // rendered with the record, not by its first listing
}

// stamp sets the document's version metadata.
func (dc *doc) stamp(version int, at time.Time) {
	dc.Version, dc.LastUpdated = version, at
	dc.Ref.Meta = &fhir.Meta{VersionID: itoa(version), LastUpdated: fhir.FormatInstant(at)}
	dc.changed()
}

// refBytes returns the document's DocumentReference as JSON (json.Marshal
// of Ref), rendered once and kept until the document changes: a listing
// page is then mostly the concatenation of these. Every change of Ref must
// call changed (stamp, setContent and withDoc do); callers hold s.data.mu.
func (dc *doc) refBytes() []byte {
	if dc.refJSON != nil && !verifyRefCache {
		return dc.refJSON
	}
	b, err := json.Marshal(dc.Ref)
	if err != nil {
		panic(fmt.Sprintf("dmptest: DocumentReference %s: %v", dc.Ref.ID, err))
	}
	if verifyRefCache && dc.refJSON != nil && !bytes.Equal(b, dc.refJSON) {
		panic(fmt.Sprintf("dmptest: DocumentReference %s changed without doc.changed", dc.Ref.ID))
	}
	dc.refJSON = b
	return b
}

// changed drops the rendered DocumentReference: Ref changed.
func (dc *doc) changed() { dc.refJSON = nil }

// verifyRefCache makes refBytes check its cache against a fresh rendering
// and panic when they differ (a change of Ref without changed): on in the
// package's tests, and with DMPTEST_VERIFY_REF_CACHE=1 in the environment.
var verifyRefCache = os.Getenv("DMPTEST_VERIFY_REF_CACHE") != ""

// setContent sets the content with its size and SHA-1 in the attachment.
func (dc *doc) setContent(b []byte, contentType string) {
	dc.Content, dc.ContentType = b, contentType
	sum := sha1.Sum(b)
	n := int64(len(b))
	if len(dc.Ref.Content) == 0 {
		dc.Ref.Content = []fhir.DocumentContent{{}}
	}
	a := &dc.Ref.Content[0].Attachment
	a.ContentType, a.Size, a.Hash = contentType, &n, base64.StdEncoding.EncodeToString(sum[:])
	a.URL = "Binary/" + dc.BinaryID
	dc.changed()
}

// visibleTo reports whether a professional sees the document: masked
// documents are seen only by their author.
func (dc *doc) visibleTo(rpps string) bool {
	if dc.Deleted {
		return false
	}
	if dc.Ref.HasSecurityLabel(fhir.LabelMaskedPS) && dc.Author != rpps {
		return false
	}
	return true
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b [20]byte
	n := len(b)
	neg := i < 0
	if neg {
		i = -i
	}
	for i > 0 {
		n--
		b[n] = byte('0' + i%10)
		i /= 10
	}
	if neg {
		n--
		b[n] = '-'
	}
	return string(b[n:])
}

var visNone = app.Visibility{}
