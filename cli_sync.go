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
	"syscall"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/vault"
	"github.com/carnetdesk/carnet/internal/config"
	"github.com/carnetdesk/carnet/internal/mailsched"
	"github.com/carnetdesk/carnet/internal/secret"
	"github.com/carnetdesk/carnet/internal/signin"
	"github.com/carnetdesk/carnet/internal/watchguard"
	"github.com/carnetdesk/carnet/sync/engine"
)

// newEngine builds the sync engine over the vault, reaching the central
// service through the service's session. Every cycle lists each watched
// record in full (ReconcileEvery < 0): a document masked or deleted on the
// central service vanishes from a delta listing without a trace, and must
// leave the vault within one sync cycle.
func newEngine(store app.Store, svc *app.Service, log *slog.Logger) (*engine.Engine, error) {
	return engine.New(engine.Config{Store: store, Records: svc.Records, Logger: log, ReconcileEvery: -1})
}

// runEngine runs the desktop sync cycle every interval while the vault is
// unlocked, and at once when woken (after an unlock, a sign-in, a change of
// the connection): the engine's cycle when a practitioner is signed in,
// the mail import in any case. It waits otherwise.
func runEngine(ctx context.Context, sy *mailsched.Syncer, svc *app.Service, interval time.Duration, wake <-chan struct{}, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if !svc.Locked() {
			var err error
			if _, ok := svc.Practitioner(); ok {
				_, err = sy.Once(ctx)
			} else if _, merr := sy.ImportMailboxes(ctx); merr != nil && !mailsched.OnlyNotConfigured(merr) {
				err = merr
			}
			if err != nil && !errors.Is(err, app.ErrLocked) && ctx.Err() == nil {
				log.Warn("background sync", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-wake:
		}
	}
}

// runSync is `carnet sync [--once | --watch DURATION]`: the headless sync a
// clinic's IT schedules at night to prefetch the next day's list. The vault
// passphrase and the card or certificate PIN come from the terminal or from
// 0600 files; progress goes to stderr; the exit status is non-zero when
// something could not be done (the reason is printed per item).
func runSync(args []string, stderr io.Writer, log *slog.Logger) int {
	fs := flag.NewFlagSet("carnet sync", flag.ContinueOnError)
	fs.SetOutput(stderr)
	once := fs.Bool("once", false, "one cycle, then exit (the default)")
	watch := fs.Duration("watch", 0, "a cycle every DURATION until interrupted (e.g. 15m)")
	dataDir := fs.String("data", "", "data directory (default: the user data directory)")
	configPath := fs.String("config", config.DefaultPath(), "configuration file (central service and credential)")
	passFile := fs.String("passphrase-file", "", "read the vault passphrase from this file (mode 0600)")
	pinFile := fs.String("pin-file", "", "read the card or certificate PIN from this file (mode 0600)")
	noKR := fs.Bool("no-keyring", false, "the device secret is in a 0600 file beside the vault, not in the OS keyring")
	opList := fs.String("operating-list", "", "import this operating list (CSV or iCalendar, as in Settings) before the sync, which prefetches it")
	if err := fs.Parse(args); err != nil {
		return flagsExit(err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintln(stderr, "carnet sync: unexpected argument (secrets are never given on the command line)")
		return 2
	}
	if *once && *watch > 0 {
		fmt.Fprintln(stderr, "carnet sync: --once and --watch exclude each other")
		return 2
	}
	cfg, err := config.Load(*configPath)
	if err != nil {
		fmt.Fprintln(stderr, "carnet sync:", err)
		return 1
	}
	if !cfg.Configured() {
		fmt.Fprintf(stderr, "carnet sync: no central service or credential in %s\n", *configPath)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	opt := vault.Options{Logger: log}
	if *noKR {
		opt.Keyring = noKeyring()
	}
	store, err := openVault(*dataDir, opt)
	if err != nil {
		fmt.Fprintln(stderr, "carnet sync:", err)
		return 1
	}
	defer store.Close()
	svc := app.NewService(app.Deps{Store: store, Log: log})
	secrets := secret.Source{Stderr: stderr}
	pass, err := secrets.Get(*passFile, "Vault passphrase", false)
	if err != nil {
		fmt.Fprintln(stderr, "carnet sync:", err)
		return 1
	}
	if _, err := svc.Unlock(ctx, pass); err != nil {
		fmt.Fprintln(stderr, "carnet sync:", err)
		return 1
	}
	defer svc.Lock(app.LockShutdown)
	pin, err := secrets.Get(*pinFile, "PIN", false)
	if err != nil {
		fmt.Fprintln(stderr, "carnet sync:", err)
		return 1
	}
	sg := &signin.Signer{Config: signin.FixedConfig(cfg), Log: log, Svc: svc}
	defer sg.Close()
	if err := sg.SignIn(ctx, pin); err != nil {
		fmt.Fprintln(stderr, "carnet sync:", err)
		return 1
	}
	eng, err := newEngine(store, svc, log)
	if err != nil {
		fmt.Fprintln(stderr, "carnet sync:", err)
		return 1
	}
	if *opList != "" {
		svc.SetSyncer(eng)
		if err := importOperatingListFile(ctx, svc, *opList, stderr); err != nil {
			fmt.Fprintln(stderr, "carnet sync:", err)
			return 1
		}
	}
	if *once || *watch <= 0 {
		return engine.RunCLI(ctx, eng, true, 0, stderr)
	}
	g := watchguard.New(svc, nil, func(ctx context.Context) error {
		pass, err := secrets.Get(*passFile, "Vault passphrase", false)
		if err != nil {
			return err
		}
		if _, err := svc.Unlock(ctx, pass); err != nil {
			return err
		}
		pin, err := secrets.Get(*pinFile, "PIN", false)
		if err != nil {
			return err
		}
		return sg.SignIn(ctx, pin)
	}, func() { svc.SignOut(); sg.Close() }, stderr)
	go g.Run(ctx, time.Second)
	return watchSync(ctx, g, eng, *watch, stderr)
}

// watchSync is `carnet sync --watch`: a cycle every interval (a minute at
// most after a failed one), the vault locked and the credential closed
// between cycles once idle (watchGuard).
func watchSync(ctx context.Context, g *watchguard.Guard, eng *engine.Engine, interval time.Duration, stderr io.Writer) int {
	for {
		if err := g.Enter(ctx); err != nil {
			fmt.Fprintln(stderr, "carnet sync:", err)
			return engine.ExitIncomplete
		}
		code := engine.RunCLI(ctx, eng, true, 0, stderr)
		g.Leave()
		if ctx.Err() != nil {
			return max(code, engine.ExitIncomplete)
		}
		wait := interval
		if code != engine.ExitOK {
			wait = min(wait, time.Minute)
		}
		fmt.Fprintf(stderr, "next sync in %s\n", wait.Round(time.Second))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return code
		case <-t.C:
		}
	}
}

// maxOperatingList bounds the operating list file read by the command line.
const maxOperatingList = 4 << 20

// importOperatingListFile imports the operating list in path (CSV or
// iCalendar, told by its name as in the Settings screen) through svc, whose
// syncer is set, and prints the counts, then each entry not scheduled by its
// line number and reason code (never a name or an INS), to stderr.
func importOperatingListFile(ctx context.Context, svc *app.Service, path string, stderr io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("operating list: %w", err)
	}
	defer f.Close()
	res, err := svc.ImportOperatingList(ctx, io.LimitReader(f, maxOperatingList), filepath.Base(path))
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "operating list: %d patient(s) scheduled (%d new), %d to identify\n", len(res.Scheduled), res.Added, len(res.ToIdentify))
	for _, s := range res.ToIdentify {
		fmt.Fprintf(stderr, "operating list: line %d: to identify: %s\n", s.Line, s.Reason)
	}
	return nil
}
