// Command carnet is the Carnet desktop application and its command line.
//
//	carnet                       the desktop app
//	carnet --demo                the desktop app on a fresh demo vault with synthetic patients
//	carnet vault init|check|passwd|compact|recover
//
// main.go only wires: it reads flags, opens the vault, builds the use cases
// and hands them to the UI or to a subcommand. It is the only file that
// imports Fyne's app package.
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
	"github.com/carnetdesk/carnet/pdfrender"
	"github.com/carnetdesk/carnet/sessionlock"
	"github.com/carnetdesk/carnet/sync/dmp/dmptest"
	"github.com/carnetdesk/carnet/sync/mailbox"
	"github.com/carnetdesk/carnet/ui"
)

// Version is Carnet's version (FyneApp.toml says the same).
const Version = "0.1.0"

// AppID is the application id (FyneApp.toml).
const AppID = "io.github.carnetdesk.carnet"

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
  carnet --demo [--data DIR] [--protocol fhir|xds]
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

// runDesktop starts the Fyne application.
func runDesktop(args []string, stderr io.Writer, log *slog.Logger) int {
	fs := flag.NewFlagSet("carnet", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data", "", "data directory (default: the user data directory)")
	configPath := fs.String("config", defaultConfigPath(), "configuration file (central service and credential)")
	demo := fs.Bool("demo", false, "demo mode: a fresh vault with synthetic patients and the sandbox central service")
	protocol := fs.String("protocol", ProtocolFHIR, "demo mode: the central service's protocol, \"fhir\" or \"xds\" (SOAP, XDS.b, VIHF)")
	if err := fs.Parse(args); err != nil {
		return flagsExit(err)
	}
	if *protocol != ProtocolFHIR && *protocol != ProtocolXDS {
		fmt.Fprintf(stderr, "carnet: --protocol %q: want %q or %q\n", *protocol, ProtocolFHIR, ProtocolXDS)
		return 2
	}

	var (
		store    *vault.Vault
		cfg      Config
		opt      = ui.Options{Version: Version}
		err      error
		demoMail *demoMailbox
	)
	if *demo {
		env, derr := openDemo(*dataDir, *protocol, log)
		if derr != nil {
			fmt.Fprintln(stderr, "carnet:", derr)
			return 1
		}
		defer env.close()
		store, cfg, demoMail = env.vault, env.cfg, &env.mail
		opt.Demo, opt.DemoPassphrase, opt.DemoPIN = true, env.passphrase, env.pin
		opt.DemoOutage = env.outage
	} else {
		if cfg, err = loadConfig(*configPath); err == nil {
			store, err = openVault(*dataDir, vault.Options{Logger: log})
		}
		if err != nil {
			fmt.Fprintln(stderr, "carnet:", err)
			return 1
		}
	}

	svc := app.NewService(store, nil, log)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The connection (central service, credential, structure, mailboxes):
	// config.toml, edited by the settings screen; in memory in demo mode.
	var conns app.ConnectionStore = &configFile{path: *configPath}
	if *demo {
		conns = &memConnection{conn: cfg.connection()}
	}
	if err := svc.SetConnectionStore(ctx, conns); err != nil {
		fmt.Fprintln(stderr, "carnet:", err)
		return 1
	}
	// Demo patients carry test INS; outside demo mode a test or demo INS in a
	// document is flagged.
	svc.SetDocumentReader(cda.Reader{Options: cda.Options{Production: !*demo}})
	svc.SetMessageReader(mailbox.MessageViewer{}) // the manual queue shows the message itself
	setWriter := func(c app.Connection) {
		svc.SetDocumentWriter(cda.Writer{FacilityType: facilityCode(c.FacilityType), AllowTestINS: *demo})
	}
	setWriter(svc.Connection())
	svc.OnConnection(setWriter)
	svc.SetTerminology(terms.Labels{})
	svc.SetSheetRenderer(cda.SheetRenderer{})
	go svc.Run(ctx, time.Second)
	// Windows locks the session: Carnet locks the vault (sessionlock).
	if err := sessionlock.Watch(ctx, func() { go svc.Lock(app.LockSession) }); err != nil && !errors.Is(err, sessionlock.ErrUnsupported) {
		log.Warn("session lock hook not installed", "err", err)
	}

	// The sync engine: push the outbox, pull the watched patients, purge,
	// then import the secure mailboxes, in the background while the vault
	// is unlocked (Ctrl+R: now).
	interval, err := cfg.syncInterval()
	if err != nil {
		fmt.Fprintln(stderr, "carnet:", err)
		return 1
	}
	eng, err := newEngine(store, svc, log)
	if err != nil {
		fmt.Fprintln(stderr, "carnet:", err)
		return 1
	}
	wake := make(chan struct{}, 1)
	wakeUp := func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	sg := &signer{config: func() Config { return configOf(svc.Connection()) }, log: log, svc: svc, signedIn: wakeUp}
	defer sg.Close()
	opt.SignIn = sg.SignIn
	mail := &deskMail{svc: svc, cert: sg.Certificate, demo: *demo, log: log}
	sy := &deskSyncer{Engine: eng, mail: mail}
	svc.SetSyncer(sy)
	svc.OnLock(func(app.LockReason) { sg.Close() })     // a lock ends the card session
	svc.OnUnlock(func(app.UnlockReport) { wakeUp() })   // the mailboxes at once
	svc.OnConnection(func(app.Connection) { wakeUp() }) // a new mailbox at once
	if demoMail != nil {
		sealDemoPassword(svc, *demoMail, wakeUp, log) // at the first unlock
	}
	go runEngine(ctx, sy, svc, interval, wake, log)

	// PDFs: poppler's pdftoppm where installed, else (Windows) PDFium in
	// WebAssembly, compiled in the background at the first unlock.
	pdfr := pdfrender.New()
	defer pdfr.Close()
	opt.PDFRenderer = pdfr
	if runtime.GOOS == "windows" {
		var warm sync.Once
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
	a := fyneapp.NewWithID(AppID)
	u := ui.New(a, svc, opt)

	// SIGTERM and SIGINT quit cleanly: lock (keys wiped), close the vault.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-sigs
		log.Info("signal received, quitting")
		fyne.Do(a.Quit)
	}()

	u.ShowAndRun()

	svc.Lock(app.LockShutdown)
	if err := store.Close(); err != nil {
		log.Error("close vault", "err", err)
		return 1
	}
	return 0 // deferred: the card session closed, the demo's sandbox stopped
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
