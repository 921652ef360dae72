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
	terms        Terminology
	reading      documentReading // the document reader and its cache of read documents (reading.go)
	conns        ConnectionStore // where the connection is kept (connection.go)
	conn         Connection      // the connection as loaded or last saved
	onConn       []func(Connection)
	connSave     sync.Mutex       // one SaveConnection at a time: the store and conn change together
	opened       map[InboxID]bool // manual-queue reports a person opened (mailservice.go): attachable
	msgReader    MessageReader    // reads the sealed raw messages of the manual queue (mailview.go)
	link         *connTracker     // the session's connectivity (connectivity.go)
	stopLink     func()           // stops its probe
}

// NewService returns the use cases over store. clock and log may be nil (the
// system clock, slog.Default()).
func NewService(store Store, clock Clock, log *slog.Logger) *Service {
	if clock == nil {
		clock = SystemClock{}
	}
	if log == nil {
		log = slog.Default()
	}
	return &Service{store: store, clock: clock, log: log, settings: DefaultSettings()}
}

// Store returns the vault the service works on (for the CLI's maintenance
// commands).
func (s *Service) Store() Store { return s.store }
