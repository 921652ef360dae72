package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/vault"
	"github.com/carnetdesk/carnet/crypto"
	"github.com/carnetdesk/carnet/internal/config"
	"github.com/carnetdesk/carnet/internal/secret"
	"github.com/carnetdesk/carnet/internal/signin"
	"github.com/carnetdesk/carnet/internal/watchguard"
	"github.com/carnetdesk/carnet/sync/mailbox"
)

// mailboxAccount builds the adapter's account of m. secret is the password
// (plain, login, automatic) or the access token (oauthbearer); cert the
// client certificate for external.
func mailboxAccount(m app.MailAccount, secret []byte, cert *tls.Certificate) (mailbox.Account, error) {
	a := mailbox.Account{
		Name: m.Address, Host: m.Host, Port: m.Port, Username: m.Address,
		Mailbox: m.ImportedFolder(), Mark: mailbox.MarkMode(m.Mark), ImportedFolder: m.MoveTo,
	}
	switch m.Security {
	case app.MailImplicitTLS:
		a.Security = mailbox.ImplicitTLS
	case app.MailStartTLS:
		a.Security = mailbox.StartTLS
	}
	if m.CAFile != "" {
		pem, err := os.ReadFile(m.CAFile)
		if err != nil {
			return a, fmt.Errorf("mailbox %s: trusted authorities: %w", m.Address, err)
		}
		a.RootCAs = x509.NewCertPool()
		if !a.RootCAs.AppendCertsFromPEM(pem) {
			return a, fmt.Errorf("mailbox %s: %s holds no PEM certificate: %w", m.Address, m.CAFile, app.ErrInvalid)
		}
	}
	switch m.Auth {
	case app.MailAuthPlain:
		a.Auth, a.Password = mailbox.AuthPlain, secret
	case app.MailAuthLogin:
		a.Auth, a.Password = mailbox.AuthLogin, secret
	case app.MailAuthOAuthBearer:
		tok := string(secret)
		a.Auth, a.Token = mailbox.AuthOAuthBearer, func(context.Context) (string, error) { return tok, nil }
	case app.MailAuthExternal:
		a.Auth = mailbox.AuthExternal
	default:
		a.Password = secret
	}
	if cert != nil {
		a.ClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil }
	}
	if m.ReadReceipts && m.SMTPHost != "" {
		sec := mailbox.StartTLS
		if m.SMTPSecurity == app.MailImplicitTLS {
			sec = mailbox.ImplicitTLS
		}
		a.Submission = &mailbox.Submission{Host: m.SMTPHost, Port: m.SMTPPort, Security: sec}
		a.ReadReceipts = true
	}
	return a, nil
}

// Exit statuses of `carnet import` (those of `carnet sync`).
const (
	importOK         = 0 // everything was done (items waiting for a person are done: they are kept)
	importIncomplete = 1 // something could not be done: see the reasons
	importFailed     = 2 // the import could not run (configuration, vault)
)

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
	svc := app.NewService(store, nil, log)
	defer svc.Lock(app.LockShutdown)
	if err := unlock(ctx, svc, &vaultFlags{passFile: f.passFile}, secrets, stderr); err != nil {
		fmt.Fprintln(stderr, "carnet import:", err)
		return importFailed
	}
	accts, closeCred, err := importAccounts(ctx, svc, cfg, f, fileSecret, secrets)
	defer closeCred()
	if err != nil {
		fmt.Fprintln(stderr, "carnet import:", err)
		return importFailed
	}
	mcfg := mailbox.Config{Accounts: accts, Interval: f.watch, Log: log}
	if f.watch > 0 {
		// The credential of an EXTERNAL account and the mailbox passwords
		// stay with the IMAP connections; the vault keys are what locks.
		g := watchguard.New(svc, nil, func(ctx context.Context) error {
			return unlock(ctx, svc, &vaultFlags{passFile: f.passFile}, secrets, stderr)
		}, nil, stderr)
		go g.Run(ctx, time.Second)
		return watchImport(ctx, svc, g, mcfg, stderr)
	}
	sum, errs := importOnce(ctx, svc, mcfg, stderr)
	return importReport(stderr, sum, errs)
}

// importAccounts builds the accounts. The password of an account is the
// one of --password-file when given, else the one sealed in the vault by
// the settings screen, else asked once on the terminal for all the accounts
// that have none. close closes the credential opened for EXTERNAL, if any.
func importAccounts(ctx context.Context, svc *app.Service, cfg config.Config, f importFlags, fileSecret []byte, secrets secret.Source) (accts []mailbox.Account, close func(), err error) {
	var (
		asked []byte
		cert  *tls.Certificate
	)
	close = func() {}
	for _, m := range cfg.Connection().Mailboxes {
		var secret []byte
		switch {
		case !m.NeedsPassword():
			if cert == nil {
				pin, err := secrets.Get(f.pinFile, "Credential PIN", false)
				if err != nil {
					return nil, close, err
				}
				cred, err := signin.OpenCredential(cfg, pin)
				app.Wipe(pin)
				if err != nil {
					return nil, close, err
				}
				close = func() { cred.Close() }
				c := cred.Certificate()
				cert = &c
			}
		case fileSecret != nil:
			secret = fileSecret
		default:
			sealed, err := svc.MailPassword(ctx, m.Address)
			switch {
			case err == nil:
				secret = sealed
			case !errors.Is(err, app.ErrNotFound):
				return nil, close, err
			case asked == nil:
				if asked, err = secrets.Get("", "Mailbox password for "+m.Address, false); err != nil {
					return nil, close, err
				}
				secret = asked
			default:
				secret = asked
			}
		}
		a, err := mailboxAccount(m, secret, cert)
		if err != nil {
			return nil, close, err
		}
		accts = append(accts, a)
	}
	return accts, close, nil
}

// accountError is an account that could not be imported.
type accountError struct {
	account string
	err     error
}

// importOnce imports every account once, printing progress.
func importOnce(ctx context.Context, svc *app.Service, cfg mailbox.Config, stderr io.Writer) (app.ImportSummary, []accountError) {
	var total app.ImportSummary
	var errs []accountError
	for _, acct := range cfg.Accounts {
		sum, err := importAccount(ctx, svc, cfg, acct, stderr)
		mailbox.Add(&total, sum)
		if err != nil {
			errs = append(errs, accountError{acct.Name, err})
		}
	}
	return total, errs
}

func importAccount(ctx context.Context, svc *app.Service, cfg mailbox.Config, acct mailbox.Account, stderr io.Writer) (app.ImportSummary, error) {
	cl, err := mailbox.New(acct, cfg.Log)
	if err != nil {
		return app.ImportSummary{}, err
	}
	defer cl.Close()
	opt := cfg.Options(acct)
	opt.Progress = progressPrinter(stderr, acct.Name)
	fmt.Fprintf(stderr, "import: %s: connecting\n", acct.Name)
	return svc.ImportMail(ctx, cl, opt)
}

// progressPrinter prints the running summary at most once a second.
func progressPrinter(w io.Writer, account string) func(app.ImportSummary) {
	var last time.Time
	return func(s app.ImportSummary) {
		if now := time.Now(); now.Sub(last) >= time.Second {
			last = now
			fmt.Fprintf(w, "import: %s: %d messages, %d filed, %d manual, %d quarantined, %d duplicates\n",
				account, s.Messages, s.Filed, s.Manual, s.Quarantined, s.Duplicates)
		}
	}
}

// watchImport imports every account continuously until ctx ends; each
// round's summary is printed. The status is the last round's.
func watchImport(ctx context.Context, svc *app.Service, g *watchguard.Guard, cfg mailbox.Config, stderr io.Writer) int {
	var (
		mu   sync.Mutex
		code = importOK
		wg   sync.WaitGroup
	)
	for _, acct := range cfg.Accounts {
		wg.Add(1)
		go func(acct mailbox.Account) {
			defer wg.Done()
			cl, err := mailbox.New(acct, cfg.Log)
			if err != nil {
				mu.Lock()
				code = max(code, importReport(stderr, app.ImportSummary{}, []accountError{{acct.Name, err}}))
				mu.Unlock()
				return
			}
			defer cl.Close()
			opt := cfg.Options(acct)
			opt.Progress = progressPrinter(stderr, acct.Name)
			err = cl.Watch(ctx, cfg.Interval, func(ctx context.Context) error {
				if err := g.Enter(ctx); err != nil { // re-opens a vault locked while idle
					return err
				}
				defer g.Leave()
				sum, err := svc.ImportMail(ctx, cl, opt)
				var errs []accountError
				if err != nil && ctx.Err() == nil {
					errs = []accountError{{acct.Name, err}}
				}
				c := importReport(stderr, sum, errs)
				mu.Lock()
				code = c
				mu.Unlock()
				return err
			})
			if err != nil && ctx.Err() == nil {
				mu.Lock()
				code = max(code, importReport(stderr, app.ImportSummary{}, []accountError{{acct.Name, err}}))
				mu.Unlock()
			}
		}(acct)
	}
	wg.Wait()
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
		if errors.Is(e.err, app.ErrLocked) || errors.Is(e.err, app.ErrDamaged) || errors.Is(e.err, app.ErrNoSpace) {
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
