// Command carnet is the Carnet desktop application and its command line.
//
//	carnet                       the desktop app
//	carnet --demo                the desktop app on a fresh demo vault with synthetic patients
//	carnet vault init|check|passwd|compact|recover
//
// main.go only wires: it reads flags, opens the vault, builds the use cases
// and hands them to the UI (Main: Open, Run, Close) or to a subcommand
// (cli_*.go). It is the only file that imports Fyne's app package. What
// the wiring uses lives in packages named for what they do:
// internal/config (config.toml), internal/signin (the credential and the
// session with the central service), internal/secret (secrets from 0600
// files or the terminal), internal/watchguard (the --watch modes' locks),
// internal/demoworld (--demo).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"time"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/cda"
	"github.com/carnetdesk/carnet/app/terms"
	"github.com/carnetdesk/carnet/app/vault"
	"github.com/carnetdesk/carnet/internal/buildinfo"
	"github.com/carnetdesk/carnet/internal/config"
	"github.com/carnetdesk/carnet/internal/demoworld"
	"github.com/carnetdesk/carnet/internal/mailsched"
	"github.com/carnetdesk/carnet/internal/osprint"
	"github.com/carnetdesk/carnet/internal/signin"
	"github.com/carnetdesk/carnet/pdfrender"
	"github.com/carnetdesk/carnet/sessionlock"
	"github.com/carnetdesk/carnet/sync/dmp/dmptest"
	"github.com/carnetdesk/carnet/sync/mailbox"
	"github.com/carnetdesk/carnet/ui"
)

// Version is Carnet's version (FyneApp.toml says the same).
const Version = buildinfo.Version

// AppID is the application id (FyneApp.toml).
const AppID = buildinfo.AppID

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	slog.SetDefault(log)
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, log))
}

// run dispatches to the desktop app or a subcommand and returns the exit
// status.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer, log *slog.Logger) int {
	if len(args) > 0 {
		switch args[0] {
		case "vault":
			return runVault(args[1:], stdin, stdout, stderr, log)
		case "import":
			return runImport(args[1:], stdout, stderr, log)
		case "sandbox":
			return dmptest.Main(args[1:], stdout, stderr)
		case "sync":
			return runSync(args[1:], stderr, log)
		case "print":
			return runPrint(args[1:], stdout, stderr, log)
		case "version", "--version", "-version":
			fmt.Fprintln(stdout, "carnet", Version)
			return 0
		case "help", "-h", "--help":
			usage(stdout)
			return 0
		}
	}
	return runDesktop(args, stderr, log)
}

func usage(w io.Writer) {
	fmt.Fprint(w, `Carnet — consultation hors ligne du Dossier Médical Partagé

Usage:
  carnet [--data DIR]                the desktop application
  carnet --demo [--data DIR] [--protocol xds|fhir]
                                     demo mode: a fresh vault with synthetic patients
  carnet vault init [flags]          create the vault
  carnet vault check [flags]         open every record and verify the vault
  carnet vault passwd [flags]        change the passphrase (rewrites one key slot)
  carnet vault compact [flags]       give free space back to the disk
  carnet vault recover --key FILE    reset a lost passphrase with the clinic's recovery key
  carnet import [--once | --watch D] import MSSanté reports from the [[mailbox]] accounts of config.toml
                                     (--password-file F: the mailbox password; --passphrase-file F: the vault's)
  carnet sandbox [flags]             the sandbox central record service alone, on loopback
  carnet sync [--once | --watch D]   headless sync: outbox, watch list, purge, retention
  carnet print --operating-list DATE --out FILE
                                     one PDF of the pre-operative sheets of the day's operating list
                                     (DATE: AAAA-MM-JJ; FILE: where the PDF goes, "-" for stdout)
  carnet version

Secrets are read from the terminal, or from files of mode 0600 given with
--passphrase-file and the like; never from the command line or the environment.
`)
}

// runDesktop runs the desktop application: flags, then Main's Open, Run
// and Close. Every failure ends here, with one message and one status.
func runDesktop(args []string, stderr io.Writer, log *slog.Logger) int {
	m := &Main{Log: log}
	if code, ok := m.parseFlags(args, stderr); !ok {
		return code
	}
	err := m.Open()
	if err == nil {
		err = m.Run()
	}
	if cerr := m.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		fmt.Fprintln(stderr, "carnet:", err)
		return 1
	}
	return 0
}

// Main is the desktop application's wiring: the flags, then what Open
// builds from them (the vault, the use cases, the card session, the sync
// loop, the demo world), Run (the window, until it closes or a signal
// comes) and Close (lock, keys wiped, vault closed, sandbox stopped).
type Main struct {
	DataDir    string // --data: the data directory ("" the user data directory)
	ConfigPath string // --config: config.toml
	Demo       bool   // --demo
	Protocol   string // --protocol (demo mode): config.ProtocolFHIR or config.ProtocolXDS
	Log        *slog.Logger

	store  *vault.Vault
	cfg    config.Config
	svc    *app.Service
	signer *signin.Signer
	demo   *demoworld.Env
	opt    ui.Options
	pdfr   *pdfrender.Renderer // PDF pages without poppler (Windows)
	cancel context.CancelFunc  // stops the service's and the sync loop's goroutines
}

// parseFlags reads the desktop's flags into m; ok is false when the
// command must stop with code (-h, a bad flag).
func (m *Main) parseFlags(args []string, stderr io.Writer) (code int, ok bool) {
	fs := flag.NewFlagSet("carnet", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&m.DataDir, "data", "", "data directory (default: the user data directory)")
	fs.StringVar(&m.ConfigPath, "config", config.DefaultPath(), "configuration file (central service and credential)")
	fs.BoolVar(&m.Demo, "demo", false, "demo mode: a fresh vault with synthetic patients and the sandbox central service")
	fs.StringVar(&m.Protocol, "protocol", config.ProtocolXDS, "demo mode: the central service's protocol, \"fhir\" or \"xds\" (SOAP, XDS.b, VIHF)")
	if err := fs.Parse(args); err != nil {
		return flagsExit(err), false
	}
	if m.Protocol != config.ProtocolFHIR && m.Protocol != config.ProtocolXDS {
		fmt.Fprintf(stderr, "carnet: --protocol %q: want %q or %q\n", m.Protocol, config.ProtocolFHIR, config.ProtocolXDS)
		return 2, false
	}
	return 0, true
}

// Open builds the application: the configuration and the vault (or the
// demo world), the service and its adapters, the card session and the
// background sync. What it opened is released by Close, even on failure.
func (m *Main) Open() error {
	log := m.Log
	m.opt = ui.Options{Version: Version}
	var conns app.ConnectionStore
	if m.Demo {
		env, err := demoworld.Open(m.DataDir, m.Protocol, log)
		if err != nil {
			return err
		}
		m.demo, m.store, m.cfg = env, env.Vault, env.Config
		m.opt.Demo, m.opt.DemoPassphrase, m.opt.DemoPIN = true, env.Passphrase, env.PIN
		m.opt.DemoOutage = env.Outage
		// The sandbox's address changes at every start: nothing is written.
		conns = config.NewMemory(m.cfg.Connection())
	} else {
		cfg, err := config.Load(m.ConfigPath)
		if err != nil {
			return err
		}
		if m.store, err = openVault(m.DataDir, vault.Options{Logger: log}); err != nil {
			return err
		}
		m.cfg = cfg
		// config.toml, edited by the settings screen.
		conns = &config.File{Path: m.ConfigPath}
	}

	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	// The connection: central service, credential, structure, mailboxes
	// (read first, so that a bad file is reported before anything starts).
	conn, err := conns.Connection(ctx)
	if err != nil {
		return fmt.Errorf("read connection: %w", err)
	}
	// Every port of the use cases, in one place (the sync engine, built on
	// the service, is attached below).
	svc := app.NewService(app.Deps{
		Store:       m.store,
		Log:         log,
		Connections: conns,
		Connection:  conn,
		// Demo patients carry test INS; outside demo mode a test or demo
		// INS in a document is flagged.
		Reader: cda.Reader{Options: cda.Options{Production: !m.Demo}},
		WriterFor: func(c app.Connection) app.DocumentWriter {
			return cda.Writer{FacilityType: config.FacilityCode(c.FacilityType), AllowTestINS: m.Demo}
		},
		Messages:    mailbox.MessageViewer{}, // the manual queue shows the message itself
		Terminology: terms.Labels{},
		Sheets:      cda.SheetRenderer{},
		Printer:     osprint.Printer{}, // the system's printing: CUPS lp, Windows' print verb
	})
	m.svc = svc
	osprint.Sweep()
	go svc.Run(ctx, time.Second)
	// Windows locks the session: Carnet locks the vault (sessionlock).
	if err := sessionlock.Watch(ctx, func() { go svc.Lock(app.LockSession) }); err != nil && !errors.Is(err, sessionlock.ErrUnsupported) {
		log.Warn("session lock hook not installed", "err", err)
	}

	// The sync engine: push the outbox, pull the watched patients, purge,
	// then import the secure mailboxes, in the background while the vault
	// is unlocked (Ctrl+R: now).
	interval, err := m.cfg.SyncInterval()
	if err != nil {
		return err
	}
	eng, err := newEngine(m.store, svc, log)
	if err != nil {
		return err
	}
	wake := make(chan struct{}, 1)
	wakeUp := func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	// The connection as edited in the settings, over the [dmp] protocol
	// settings the connection does not hold (protocol, OIDs, auth mode).
	m.signer = &signin.Signer{Config: func() config.Config { c := m.cfg; c.SetConnection(svc.Connection()); return c }, Log: log, Svc: svc, SignedIn: wakeUp}
	m.opt.SignIn = m.signer.SignIn
	mail := &mailsched.Mail{Svc: svc, Opener: mailbox.Opener{Demo: m.Demo, Log: log}, Cert: m.signer.Certificate, Demo: m.Demo, Log: log}
	sy := &mailsched.Syncer{Engine: eng, Mail: mail}
	svc.SetSyncer(sy)
	svc.OnLock(func(app.LockReason) { m.signer.Close() }) // a lock ends the card session
	svc.OnUnlock(func(app.UnlockReport) { wakeUp() })     // the mailboxes at once
	svc.OnConnection(func(app.Connection) { wakeUp() })   // a new mailbox at once
	if m.demo != nil {
		demoworld.SealPassword(svc, m.demo.Mail, wakeUp, log) // at the first unlock
	}
	// PDFs: poppler's pdftoppm where installed, else (Windows) PDFium in
	// WebAssembly, compiled in the background at the first unlock.
	m.pdfr = pdfrender.New()
	m.opt.PDFRenderer = m.pdfr
	if runtime.GOOS == "windows" {
		var warm sync.Once
		pdfr := m.pdfr
		svc.OnUnlock(func(app.UnlockReport) {
			warm.Do(func() {
				go func() {
					if err := pdfr.Warm(ctx); err != nil {
						log.Warn("pdf renderer", "err", err)
					}
				}()
			})
		})
	}
	go runEngine(ctx, sy, svc, interval, wake, log)
	return nil
}

// Run shows the window until it is closed; SIGTERM and SIGINT close it
// cleanly.
func (m *Main) Run() error {
	a := fyneapp.NewWithID(AppID)
	u := ui.New(a, m.svc, m.opt)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	go func() {
		if _, ok := <-sigs; ok {
			m.Log.Info("signal received, quitting")
			fyne.Do(a.Quit)
		}
	}()
	u.ShowAndRun()
	return nil
}

// Close locks the vault (keys wiped), ends the card session, stops the
// background work and the demo world, and closes the vault. It releases
// whatever Open built, also after a failed Open.
func (m *Main) Close() error {
	if m.svc != nil {
		m.svc.Lock(app.LockShutdown)
	}
	if m.cancel != nil {
		m.cancel()
	}
	if m.signer != nil {
		m.signer.Close()
	}
	if m.pdfr != nil {
		m.pdfr.Close()
	}
	var err error
	if m.store != nil {
		if err = m.store.Close(); err != nil {
			err = fmt.Errorf("close vault: %w", err)
		}
	}
	if m.demo != nil {
		m.demo.Close()
	}
	return err
}

// openVault opens the vault file of dataDir (created on demand; the vault
// itself is created by the first-run screen or `carnet vault init`).
func openVault(dataDir string, opt vault.Options) (*vault.Vault, error) {
	dir, err := resolveDataDir(dataDir)
	if err != nil {
		return nil, err
	}
	v, err := vault.Open(filepath.Join(dir, "vault.db"), opt)
	if err != nil {
		if errors.Is(err, app.ErrInUse) {
			return nil, fmt.Errorf("another Carnet already uses this vault (%s): %w", dir, err)
		}
		return nil, err
	}
	return v, nil
}

// resolveDataDir returns dataDir, or the user data directory
// ($XDG_DATA_HOME/carnet, ~/.local/share/carnet; %LOCALAPPDATA%\carnet on
// Windows), created with mode 0700.
func resolveDataDir(dataDir string) (string, error) {
	if dataDir == "" {
		base, err := userDataBase()
		if err != nil {
			return "", fmt.Errorf("data directory: %w", err)
		}
		dataDir = filepath.Join(base, "carnet")
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return "", fmt.Errorf("data directory: %w", err)
	}
	return dataDir, nil
}
