package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"sync"
	"syscall"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/vault"
	"github.com/carnetdesk/carnet/crypto"
	"github.com/carnetdesk/carnet/crypto/credential"
	"github.com/carnetdesk/carnet/internal/config"
	"github.com/carnetdesk/carnet/internal/secret"
	"github.com/carnetdesk/carnet/internal/signin"
	"github.com/carnetdesk/carnet/internal/watchguard"
	"github.com/carnetdesk/carnet/sync/mailbox"
)

// Exit statuses of `carnet import` (those of `carnet sync`).
const (
	importOK         = 0 // everything was done (items waiting for a person are done: they are kept)
	importIncomplete = 1 // something could not be done: see the reasons
	importFailed     = 2 // the import could not run (configuration, vault)
)

// importMemoryLimit is the Go runtime's soft memory limit in `carnet
// import` (debug.SetMemoryLimit; GOMEMLIMIT overrides it). It complements
// the import's own bound, at most one commit unit of message bodies in
// memory (app.ImportBodyBytes): the parsing and the sealing leave garbage
// of the size of the bodies they read, which the collector would otherwise
// let the heap grow to twice the live data before reclaiming (GOGC). A
// soft limit: a message larger than it is still imported, with more
// collections.
const importMemoryLimit = 20 << 20

// importFlags are the flags of `carnet import`.
type importFlags struct {
	once       bool
	watch      time.Duration
	configPath string
	dataDir    string
	passFile   string
	pwFile     string
	pinFile    string
	noKeyring  bool
	testKDF    bool
}

// runImport runs `carnet import [--once | --watch DURATION]`: the
// [[mailbox]] accounts of the configuration are imported into the vault,
// unlocked with the passphrase. Progress goes to stderr, then a summary
// with the reason of every message left for a person or not done. The
// exit status is importOK, importIncomplete (an account failed, a message
// was quarantined or could not be marked) or importFailed.
func runImport(args []string, stdout, stderr io.Writer, log *slog.Logger) int {
	var f importFlags
	fs := flag.NewFlagSet("carnet import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&f.once, "once", false, "import once and exit (the default)")
	fs.DurationVar(&f.watch, "watch", 0, "keep importing: on new mail (IDLE) or at least every DURATION")
	fs.StringVar(&f.configPath, "config", config.DefaultPath(), "configuration file ([[mailbox]] tables)")
	fs.StringVar(&f.dataDir, "data", "", "data directory (default: the user data directory)")
	fs.StringVar(&f.passFile, "passphrase-file", "", "read the vault passphrase from this file (mode 0600) instead of the terminal")
	fs.StringVar(&f.pwFile, "password-file", "", "read the mailbox password (or OAuth access token) from this file (mode 0600) instead of the terminal")
	fs.StringVar(&f.pinFile, "pin-file", "", "read the credential PIN (auth = \"external\") from this file (mode 0600)")
	fs.BoolVar(&f.noKeyring, "no-keyring", false, "the device secret is in a 0600 file beside the vault")
	fs.BoolVar(&f.testKDF, "insecure-test-kdf", false, "TESTS ONLY: keep weak key derivation parameters at unlock")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return importFailed
	}
	if fs.NArg() > 0 {
		fmt.Fprintln(stderr, "carnet import: unexpected argument (secrets are never given on the command line)")
		return importFailed
	}
	if f.once && f.watch > 0 {
		fmt.Fprintln(stderr, "carnet import: give --once or --watch, not both")
		return importFailed
	}
	if f.watch < 0 {
		fmt.Fprintln(stderr, "carnet import: --watch needs a positive duration")
		return importFailed
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		// Restored at the end: the tests run the command in process.
		defer debug.SetMemoryLimit(debug.SetMemoryLimit(importMemoryLimit))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	cfg, err := config.Load(f.configPath)
	if err != nil {
		fmt.Fprintln(stderr, "carnet import:", err)
		return importFailed
	}
	if len(cfg.Mailboxes) == 0 {
		fmt.Fprintf(stderr, "carnet import: no [[mailbox]] in %s\n", f.configPath)
		return importFailed
	}
	secrets := secret.Source{Stderr: stderr}
	// A password file is read first: a bad one fails before the vault.
	var fileSecret []byte
	if f.pwFile != "" {
		if fileSecret, err = secret.ReadFile(f.pwFile); err != nil {
			fmt.Fprintln(stderr, "carnet import:", err)
			return importFailed
		}
	}
	opt := vault.Options{Logger: log}
	if f.noKeyring {
		opt.Keyring = crypto.NoKeyring{}
	}
	if f.testKDF {
		p := crypto.LightParams()
		opt.KDF = &p
	}
	store, err := openVault(f.dataDir, opt)
	if err != nil {
		fmt.Fprintln(stderr, "carnet import:", err)
		return importFailed
	}
	defer store.Close()
	svc := app.NewService(app.Deps{Store: store, Log: log})
	defer svc.Lock(app.LockShutdown)
	if err := unlock(ctx, svc, &vaultFlags{passFile: f.passFile}, secrets, stderr); err != nil {
		fmt.Fprintln(stderr, "carnet import:", err)
		return importFailed
	}
	for _, m := range cfg.Connection().Mailboxes { // the trusted authorities: read before any session
		if _, err := mailbox.AccountOf(m, app.MailCredentials{}); err != nil {
			fmt.Fprintln(stderr, "carnet import:", err)
			return importFailed
		}
	}
	creds := &importCredentials{svc: svc, cfg: cfg, f: f, fileSecret: fileSecret, secrets: secrets}
	defer creds.release()
	run := app.MailImport{
		Opener: mailbox.Opener{Log: log}, Credentials: creds.get, Accounts: cfg.Connection().Mailboxes,
		Connecting: func(_ int, m app.MailAccount) { fmt.Fprintf(stderr, "import: %s: connecting\n", m.Address) },
		Progress:   progressPrinter(stderr),
	}
	if f.watch > 0 {
		// At the idle lock the guard locks the vault; the use case closes
		// the IMAP sessions and wipes their passwords, and the guard's
		// release closes the credential of EXTERNAL and forgets the
		// password typed on the terminal. The next round re-opens the
		// vault and asks for everything again.
		g := watchguard.New(svc, nil, func(ctx context.Context) error {
			return unlock(ctx, svc, &vaultFlags{passFile: f.passFile}, secrets, stderr)
		}, creds.release, stderr)
		go g.Run(ctx, time.Second)
		return watchImport(ctx, svc, g, run, f.watch, stderr)
	}
	var errs []accountError
	run.Round = func(_ int, st app.MailboxStatus) {
		if st.Err != nil {
			errs = append(errs, accountError{st.Account, st.Err})
		}
	}
	sum, _ := svc.ImportMail(ctx, run)
	return importReport(stderr, sum, errs)
}

// importCredentials are the mailboxes' credentials of `carnet import`. The
// password of an account is the one of --password-file when given (read
// again for every session), else the one sealed in the vault by the
// settings screen, else asked once on the terminal for all the accounts
// that have none (kept until the lock). The credential of EXTERNAL is
// opened with the PIN (--pin-file or the terminal) at first use and kept
// until the lock. Every secret handed out is a fresh copy, which the use
// case wipes when its session ends.
type importCredentials struct {
	svc        *app.Service
	cfg        config.Config
	f          importFlags
	fileSecret []byte // --password-file as read at start (checked before the vault)
	secrets    secret.Source

	mu    sync.Mutex
	asked []byte                 // the password typed on the terminal
	cred  *credential.Credential // open for EXTERNAL
	cert  *tls.Certificate
}

// errImportSetup marks what stops `carnet import` as a whole (importFailed):
// a credential that cannot be read or opened.
var errImportSetup = errors.New("credentials")

// get implements app.MailImport.Credentials.
func (c *importCredentials) get(ctx context.Context, m app.MailAccount) (app.MailCredentials, error) {
	cr, err := c.read(ctx, m)
	if err != nil {
		err = fmt.Errorf("%w: %w", errImportSetup, err)
	}
	return cr, err
}

func (c *importCredentials) read(ctx context.Context, m app.MailAccount) (app.MailCredentials, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case !m.NeedsPassword():
		if c.cred == nil {
			pin, err := c.secrets.Get(c.f.pinFile, "Credential PIN", false)
			if err != nil {
				return app.MailCredentials{}, err
			}
			cred, err := signin.OpenCredential(c.cfg, pin)
			app.Wipe(pin)
			if err != nil {
				return app.MailCredentials{}, err
			}
			cert := cred.Certificate()
			c.cred, c.cert = cred, &cert
		}
		return app.MailCredentials{Certificate: c.cert}, nil
	case c.f.pwFile != "":
		if c.fileSecret != nil { // the first session: the copy read at start
			s := c.fileSecret
			c.fileSecret = nil
			return app.MailCredentials{Secret: s}, nil
		}
		s, err := secret.ReadFile(c.f.pwFile)
		return app.MailCredentials{Secret: s}, err
	}
	sealed, err := c.svc.MailPassword(ctx, m.Address)
	switch {
	case err == nil:
		return app.MailCredentials{Secret: sealed}, nil
	case !errors.Is(err, app.ErrNotFound):
		return app.MailCredentials{}, err
	case c.asked == nil:
		if c.asked, err = c.secrets.Get("", "Mailbox password for "+m.Address, false); err != nil {
			return app.MailCredentials{}, err
		}
	}
	return app.MailCredentials{Secret: bytes.Clone(c.asked)}, nil
}

// release closes the credential of EXTERNAL (its key wiped) and wipes the
// password typed on the terminal and the unused copy of the password file
// (the watch guard calls it at every lock).
func (c *importCredentials) release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cred != nil {
		c.cred.Close()
		c.cred, c.cert = nil, nil
	}
	app.Wipe(c.asked)
	app.Wipe(c.fileSecret)
	c.asked, c.fileSecret = nil, nil
}

// accountError is an account that could not be imported.
type accountError struct {
	account string
	err     error
}

// progressPrinter prints each account's running summary at most once a
// second.
func progressPrinter(w io.Writer) func(int, app.MailAccount, app.ImportSummary) {
	var (
		mu   sync.Mutex
		last = map[int]time.Time{}
	)
	return func(i int, m app.MailAccount, s app.ImportSummary) {
		mu.Lock()
		defer mu.Unlock()
		if now := time.Now(); now.Sub(last[i]) >= time.Second {
			last[i] = now
			fmt.Fprintf(w, "import: %s: %d messages, %d filed, %d manual, %d quarantined, %d duplicates\n",
				m.Address, s.Messages, s.Filed, s.Manual, s.Quarantined, s.Duplicates)
		}
	}
}

// watchImport imports every account continuously until ctx ends (the use
// case's watch mode, each round entered through the guard); each round's
// summary is printed. The status is the last round's, or worse when an
// account stopped.
func watchImport(ctx context.Context, svc *app.Service, g *watchguard.Guard, run app.MailImport, every time.Duration, stderr io.Writer) int {
	var (
		mu   sync.Mutex
		code = importOK
	)
	run.Watch = every
	run.Enter = func(ctx context.Context) (func(), error) {
		if err := g.Enter(ctx); err != nil { // re-opens a vault locked while idle
			return nil, err
		}
		return g.Leave, nil
	}
	run.Round = func(_ int, st app.MailboxStatus) {
		var errs []accountError
		if st.Err != nil && ctx.Err() == nil {
			errs = []accountError{{st.Account, st.Err}}
		}
		c := importReport(stderr, st.Summary, errs)
		mu.Lock()
		code = c
		mu.Unlock()
	}
	if _, err := svc.ImportMail(ctx, run); err != nil && ctx.Err() == nil {
		mu.Lock()
		code = max(code, importReport(stderr, app.ImportSummary{}, []accountError{{"watch", err}}))
		mu.Unlock()
	}
	return code
}

// importReport prints a summary and the reason of every item left for a
// person or not done, and returns the exit status.
func importReport(w io.Writer, sum app.ImportSummary, errs []accountError) int {
	fmt.Fprintf(w, "import: %d messages: imported %d documents, manual %d, quarantined %d, duplicates %d (already in the record %d), not marked %d\n",
		sum.Messages, sum.Filed, sum.Manual, sum.Quarantined, sum.Duplicates, sum.Known, sum.MarkFailures)
	for _, n := range sum.Notes {
		switch n.State {
		case app.InboxPending:
			fmt.Fprintf(w, "  manual: %s uid %d item %s: %s\n", n.Account, n.UID, n.Item, n.Reason)
		case app.InboxQuarantined:
			fmt.Fprintf(w, "  not done: %s uid %d quarantined (left on the server) item %s: %s\n", n.Account, n.UID, n.Item, n.Reason)
		default:
			fmt.Fprintf(w, "  not done: %s uid %d: %s\n", n.Account, n.UID, n.Reason)
		}
	}
	code := importOK
	for _, e := range errs {
		fmt.Fprintf(w, "  not done: %s: %v\n", e.account, e.err)
		if errors.Is(e.err, app.ErrLocked) || errors.Is(e.err, app.ErrDamaged) || errors.Is(e.err, app.ErrNoSpace) || errors.Is(e.err, errImportSetup) {
			code = importFailed
		} else {
			code = max(code, importIncomplete)
		}
	}
	if sum.Incomplete() {
		code = max(code, importIncomplete)
	}
	return code
}
