package app

import (
	"log/slog"
	"sync"
	"time"
)

// Service holds Carnet's use cases. The desktop UI and the command line call
// it; it calls the ports. Its methods are safe for concurrent use.
type Service struct {
	store Store
	clock Clock
	log   *slog.Logger

	attemptMu    sync.Mutex // serialises passphrase checks (see attempt)
	mu           sync.Mutex
	settings     Settings
	lastActivity time.Time
	unlockedAt   time.Time
	failures     int
	nextTry      time.Time
	onLock       []func(LockReason)
	onUnlock     []func(UnlockReport)
	session      *Session
	syncer       Syncer
	writer       DocumentWriter
	sheets       SheetRenderer // pre-operative sheets as PDF (preop.go)
	printer      Printer       // the system's printing (preop.go)
	terms        Terminology
	reading      documentReading // the document reader and its cache of read documents (document_service.go)
	conns        ConnectionStore // where the connection is kept (connection.go)
	conn         Connection      // the connection as loaded or last saved
	onConn       []func(Connection)
	connSave     sync.Mutex       // one SaveConnection at a time: the store and conn change together
	opened       map[InboxID]bool // manual-queue reports a person opened (mailservice.go): attachable
	msgReader    MessageReader    // reads the sealed raw messages of the manual queue (mailview.go)
	link         *connTracker     // the session's connectivity (connectivity.go)
	stopLink     func()           // stops its probe
	mailLive     mailLive         // open mailbox sessions, closed at every lock (mail_import_service.go)
}

// Deps are the ports a Service works with. main fills them once, in one
// place, for the desktop; each CLI command and each test fills the ones it
// needs. Only Store is required; a nil port makes the use cases that need it
// fail with a clear error (or, for Terminology, show raw codes).
type Deps struct {
	Store Store        // the vault (app/vault); required
	Clock Clock        // nil: the system clock
	Log   *slog.Logger // nil: slog.Default()

	// Connections keeps the connection (config.toml, or memory in demo
	// mode); nil: the connection is Connection and cannot be edited.
	// Connection is the connection as read from it (main reads it first,
	// so that a bad file is reported before anything starts).
	Connections ConnectionStore
	Connection  Connection

	// Reader reads documents (cda.Reader): ReadDocument, MedicationLines,
	// the inbox's reports. Its reads are cached until the vault locks.
	Reader DocumentReader
	// Writer writes the documents authored in Carnet (cda.Writer). When
	// WriterFor is set instead, the writer is built from the connection
	// (its facility type) now and after each saved change of it.
	Writer    DocumentWriter
	WriterFor func(Connection) DocumentWriter

	Messages    MessageReader // shows a manual-queue report's message (mailview.go)
	Terminology Terminology   // document type and class labels
	Sheets      SheetRenderer // pre-operative sheets as PDF (preop.go)
	Printer     Printer       // the system's printing (preop.go)

	// Syncer is the sync engine behind Sync, SyncStatus, Resolve and
	// ImportOperatingList. An engine built on the service itself (the
	// desktop's and the CLI's ask it for the session) is attached once
	// built, with SetSyncer: the one late binding.
	Syncer Syncer
}

// NewService returns the use cases over d's ports.
//
// The Set* methods (SetDocumentReader, SetDocumentWriter, SetTerminology,
// SetSheetRenderer, SetPrinter, SetMessageReader, SetConnectionStore)
// replace a port of
// a running service: tests swap one mid-run; wiring goes through Deps.
func NewService(d Deps) *Service {
	clock, log := d.Clock, d.Log
	if clock == nil {
		clock = SystemClock{}
	}
	if log == nil {
		log = slog.Default()
	}
	s := &Service{store: d.Store, clock: clock, log: log, settings: DefaultSettings(),
		conns: d.Connections, conn: d.Connection, writer: d.Writer,
		msgReader: d.Messages, terms: d.Terminology, sheets: d.Sheets, printer: d.Printer, syncer: d.Syncer}
	if d.Reader != nil {
		s.SetDocumentReader(d.Reader)
	}
	if d.WriterFor != nil {
		s.writer = d.WriterFor(d.Connection)
		s.OnConnection(func(c Connection) { s.SetDocumentWriter(d.WriterFor(c)) })
	}
	return s
}

// Store returns the vault the service works on (for the CLI's maintenance
// commands).
func (s *Service) Store() Store { return s.store }
