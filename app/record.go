package app

import (
	"context"
	"sort"
	"strings"
	"time"
)

// DocumentID is the uniqueId of a clinical document (the CDA ClinicalDocument
// id, the DocumentReference masterIdentifier): the same in the central record
// service, in mail and in the vault.
type DocumentID string

// DocumentMeta describes one document of a patient's record: what the
// document list shows without opening the document.
type DocumentMeta struct {
	ID              DocumentID
	SetID           string    // the setId shared by the versions of a document
	Version         int       // its versionNumber within the set
	TypeCode        string    // LOINC type code (JDV_J07)
	ClassCode       string    // class code (TRE_A03, JDV_J06): "10" Compte rendu …; empty when unknown
	Title           string    // document title
	Date            time.Time // act date (service start, or creation)
	Author          string    // author's display name
	Organisation    string    // author's organisation
	Confidentiality string    // confidentiality / visibility code (JDV_J08)
	MediaType       string    // text/xml for CDA, application/pdf …
	Size            int64     // bytes, when known
	Hash            string    // SHA-1 hex from the service's metadata, when known
	Source          string    // where Carnet got it: "dmp", "mssante", "carnet"
	Cached          bool      // content is in the vault, readable offline
	Superseded      bool      // replaced by a newer version

	// Where the central service keeps it (empty for documents that never
	// came from it).
	RemoteID    string     // the service's resource id
	VersionID   string     // metadata version, for If-Match
	URL         string     // attachment URL
	Visibility  Visibility // masking and visibility flags
	LastUpdated time.Time  // server time of the metadata version
}

// OIDClassCode is the code system of document class codes: TRE_A03
// ClasseDocument (XDS classCode, value set JDV_J06; the DMP's subset is
// JDV_J57).
const OIDClassCode = "1.2.250.1.213.1.1.4.1"

// The document classes Carnet itself assigns (TRE_A03).
const (
	// ClassReport is TRE_A03 "10" Compte rendu: the class of the notes and
	// the pre-anesthesia reports written in Carnet.
	ClassReport = "10"
)

// CleanClassCode returns a class code as received from outside (the
// central service, an XDM archive), trimmed, or "" when it cannot be one: a
// code of more than 64 bytes or with characters other than printable ASCII
// is dropped rather than shown or stored.
func CleanClassCode(code string) string {
	code = strings.TrimSpace(code)
	if len(code) > 64 {
		return ""
	}
	for i := 0; i < len(code); i++ {
		if c := code[i]; c <= ' ' || c > '~' {
			return ""
		}
	}
	return code
}

// Manifest is a patient's document list as cached in the vault, with the time
// it was last confirmed by the central record service.
type Manifest struct {
	Patient   PatientID
	Documents []DocumentMeta
	CheckedAt time.Time // last successful check with the central service; zero if never
}

// Document returns the metadata of a document of the manifest.
func (m Manifest) Document(id DocumentID) (DocumentMeta, bool) {
	for _, d := range m.Documents {
		if d.ID == id {
			return d, true
		}
	}
	return DocumentMeta{}, false
}

// DocumentContent is the content of one document, as stored in the vault.
type DocumentContent struct {
	Patient PatientID
	ID      DocumentID
	Bytes   []byte
}

// Cursor is a sync position: how far a stream of a patient's record has been
// read from the central service, in the server's own clock.
type Cursor struct {
	Patient PatientID
	Stream  string    // "documents", "submissions", …
	Time    time.Time // server time of the last resource read
	Token   string    // server-side tie breaker (resource id), opaque
}

// OutboxID identifies an outbox item; it is the uniqueId of the document it
// carries, generated when the item was written.
type OutboxID string

// OutboxState is where an outbox item stands.
type OutboxState string

// The outbox states. Only acked items leave the outbox.
const (
	OutboxPending  OutboxState = "pending"
	OutboxSending  OutboxState = "sending"
	OutboxAcked    OutboxState = "acked"
	OutboxConflict OutboxState = "conflict"
	OutboxRejected OutboxState = "rejected"
	OutboxRetry    OutboxState = "retry"
	// OutboxUnconfirmed: sent, not confirmed. The service answered but
	// reading back did not show the write; the next cycle looks it up
	// again before anything is sent again.
	OutboxUnconfirmed OutboxState = "unconfirmed"
)

// OutboxItem is a document or a metadata change written in Carnet and waiting
// to be sent to the central record service.
type OutboxItem struct {
	ID          OutboxID
	Patient     PatientID
	Kind        string // "provide", "replace", "metadata"
	State       OutboxState
	Payload     []byte // the document (CDA) or the change, sealed in the vault
	BaseVersion string // version the change was written against, for If-Match
	Attempts    int
	NextAttempt time.Time
	LastError   string // a reason, without health data
	CreatedAt   time.Time

	// What the sync engine needs to send the item (see app/sync.go).
	Meta       DocumentMeta    // provide, replace: the document's metadata (Meta.ID is the item's ID)
	Visibility Visibility      // provide, replace: visibility at feeding
	Replaces   DocumentID      // replace: the uniqueId of the document it replaces
	Target     DocumentID      // metadata: the uniqueId of the document changed
	Change     *MetadataChange // metadata: the change
	// SentAs is the service id of what an attempt wrote, when the service
	// gave one without confirming it ("sent, not confirmed"): the duplicate
	// check reads it first, after a restart too.
	SentAs string
	// Conflict: the server's version of the document, kept next to the
	// draft until the user decides (Resolve); ServerContent is its content
	// when it could be fetched.
	Server        *RemoteDocument
	ServerContent []byte
	ConflictAt    time.Time // when the conflict was detected
}

// Batch is a set of changes written to the vault in one transaction: all of
// them or none. The sync engine puts the data and the cursor of a commit unit
// in the same batch, so a crash resumes from a consistent point.
type Batch struct {
	Patients   []Patient         // added or replaced in the directory
	Manifests  []Manifest        // replaced
	Documents  []DocumentContent // added or replaced
	Cursors    []Cursor          // replaced
	Outbox     []OutboxItem      // added or replaced
	OutboxDone []OutboxID        // removed (acked, or discarded by the user)
	// DocumentsGone are cached documents removed (masked, deleted): their
	// content leaves the vault in the same transaction.
	DocumentsGone []DocumentRef

	// Secure messaging (mail.go): the manual queue and quarantine items
	// (added or replaced), the sealed raw messages (added; an entry with
	// nil Bytes removes the message: retention), the deduplication records
	// (added or replaced) and the mailbox sync points (replaced).
	Inbox       []InboxItem
	MailRaw     []RawMessage
	MailRecords []MailRecord
	MailStates  []MailboxState

	// Declarations change the medications patients declared (declaration.go).
	Declarations []DeclarationSet
	// Preop changes the saved pre-operative decisions (preopsaved.go).
	Preop []PreopSet
	Audit []AuditEvent // appended to the audit log in the same transaction
}

// DocumentRef names one document of one patient.
type DocumentRef struct {
	Patient PatientID
	ID      DocumentID
}

// Empty reports whether the batch holds nothing.
func (b *Batch) Empty() bool {
	return len(b.Patients)+len(b.Manifests)+len(b.Documents)+len(b.Cursors)+len(b.Outbox)+len(b.OutboxDone)+len(b.DocumentsGone)+
		len(b.Inbox)+len(b.MailRaw)+len(b.MailRecords)+len(b.MailStates)+len(b.Declarations)+len(b.Preop)+len(b.Audit) == 0
}

// sortDocuments orders a document list newest act date first, then by id.
func sortDocuments(ds []DocumentMeta) {
	sort.SliceStable(ds, func(i, j int) bool {
		if !ds[i].Date.Equal(ds[j].Date) {
			return ds[i].Date.After(ds[j].Date)
		}
		return ds[i].ID < ds[j].ID
	})
}

// PatientRecord is a patient's record as the UI shows it.
type PatientRecord struct {
	Patient   Patient
	Manifest  Manifest
	Status    RecordStatus
	Access    Access
	Offline   bool      // the central service could not be reached: this is the cached copy
	CheckedAt time.Time // last successful check with the central service
	// NotQualified: the identity is not qualified (PROV, RECUP, VALI) and
	// the access is normal: the central service was not asked, this is the
	// local copy. What to do: qualify the identity in the clinic's identity
	// system, then re-import it; or open in bris de glace, justified.
	NotQualified bool
	// Refreshing: this is the vault copy, shown at once while the central
	// service is asked in the background (CachedRecord); the answer
	// replaces it.
	Refreshing bool
}

// MergeManifest applies documents listed by the central service to a cached
// manifest: new ones are added, known ones updated (a newer metadata version
// wins; the Cached flag is kept), superseded ones marked. It returns the
// merged manifest, newest first, and the latest server time seen (the next
// cursor).
func MergeManifest(m Manifest, docs []RemoteDocument) (Manifest, time.Time) {
	index := make(map[DocumentID]int, len(m.Documents))
	out := Manifest{Patient: m.Patient, CheckedAt: m.CheckedAt, Documents: append([]DocumentMeta(nil), m.Documents...)}
	for i, d := range out.Documents {
		index[d.ID] = i
	}
	var newest time.Time
	for _, rd := range docs {
		meta := rd.Meta
		meta.RemoteID, meta.VersionID, meta.URL = rd.RemoteID, rd.VersionID, rd.URL
		meta.Visibility, meta.LastUpdated = rd.Visibility, rd.LastUpdated
		meta.Superseded = rd.Status == "superseded"
		if rd.LastUpdated.After(newest) {
			newest = rd.LastUpdated
		}
		if i, ok := index[meta.ID]; ok {
			old := out.Documents[i]
			if !old.LastUpdated.IsZero() && rd.LastUpdated.Before(old.LastUpdated) {
				continue // an older version than the one we have
			}
			meta.Cached = old.Cached
			if meta.Source == "" || old.Source == "carnet" {
				meta.Source = old.Source // a note written in Carnet stays one once sent
			}
			if meta.Source == "" {
				meta.Source = "dmp"
			}
			out.Documents[i] = meta
			continue
		}
		if meta.Source == "" {
			meta.Source = "dmp"
		}
		index[meta.ID] = len(out.Documents)
		out.Documents = append(out.Documents, meta)
	}
	sortDocuments(out.Documents)
	return out, newest
}

// RecordStore is the vault's copy of the records: the part of Store that
// reads manifests, cached documents, sync cursors and the outbox (all
// written through Batch). Every method fails with ErrLocked while the vault
// is locked.
type RecordStore interface { // Manifest returns a patient's cached document list.
	Manifest(ctx context.Context, id PatientID) (Manifest, error)
	// Document returns the content of a cached document.
	Document(ctx context.Context, id PatientID, doc DocumentID) ([]byte, error)
	// Cursor returns a sync cursor; the zero Cursor when none was stored.
	Cursor(ctx context.Context, id PatientID, stream string) (Cursor, error)
	// Outbox returns every outbox item, oldest first.
	Outbox(ctx context.Context) ([]OutboxItem, error)
}
