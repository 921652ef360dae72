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
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/vault"
	"github.com/carnetdesk/carnet/crypto"
	"github.com/carnetdesk/carnet/sync/mailbox"
)

// MailboxConfig is one [[mailbox]] table of config.toml: an MSSanté secure
// mailbox (BAL) that `carnet import` reads. No secret lives here: the
// password (or access token) comes from a 0600 file (--password-file) or
// the terminal, the client certificate from the [credential] table.
//
//	[[mailbox]]
//	host     = "imap.operateur.mssante.fr"
//	port     = 993                       # 993 (implicit) or 143 (starttls) when omitted
//	security = "implicit"                # implicit | starttls (no plaintext)
//	ca_file  = "/etc/carnet/igc-sante.pem"  # authorities trusted for the server (PEM); system roots when omitted
//	username = "dr.martin@clinique.mssante.fr"  # the BAL address
//	auth     = "plain"                   # plain | login | external | oauthbearer; chosen from the server when omitted
//	mailbox  = "INBOX"                   # the folder imported
//	mark     = "keyword"                 # keyword ($CarnetImported) | move (to folder)
//	folder   = "Carnet/Importés"         # MOVE target (mark = "move")
type MailboxConfig struct {
	Host     string `toml:"host"`
	Port     int    `toml:"port"`
	Security string `toml:"security"`
	CAFile   string `toml:"ca_file"`
	Username string `toml:"username"`
	Auth     string `toml:"auth"`
	Mailbox  string `toml:"mailbox"`
	Mark     string `toml:"mark"`
	Folder   string `toml:"folder"`
}

// validateMailboxes checks the [[mailbox]] tables (loadConfig calls it).
func validateMailboxes(ms []MailboxConfig) error {
	seen := map[string]bool{}
	for i, m := range ms {
		where := fmt.Sprintf("mailbox %d", i+1)
		switch {
		case m.Host == "":
			return fmt.Errorf("%s: host is required", where)
		case m.Username == "":
			return fmt.Errorf("%s: username (the BAL address) is required", where)
		case m.Port < 0 || m.Port > 65535:
			return fmt.Errorf("%s: port %d out of range", where, m.Port)
		}
		switch m.Security {
		case "implicit", "starttls":
		case "":
			return fmt.Errorf("%s: security is required (implicit or starttls)", where)
		default:
			return fmt.Errorf("%s: security %q: want implicit or starttls (plaintext is refused)", where, m.Security)
		}
		switch strings.ToLower(m.Auth) {
		case "", "plain", "login", "external", "oauthbearer":
		default:
			return fmt.Errorf("%s: auth %q: want plain, login, external or oauthbearer", where, m.Auth)
		}
		switch m.Mark {
		case "", "keyword":
		case "move":
			if m.Folder == "" {
				return fmt.Errorf("%s: mark = \"move\" needs a folder", where)
			}
		default:
			return fmt.Errorf("%s: mark %q: want keyword or move", where, m.Mark)
		}
		key := strings.ToLower(m.Username) + "\x00" + m.folder()
		if seen[key] {
			return fmt.Errorf("%s: the same mailbox is listed twice", where)
		}
		seen[key] = true
	}
	return nil
}

func (m MailboxConfig) folder() string {
	if m.Mailbox == "" {
		return "INBOX"
	}
	return m.Mailbox
}

// needsPassword reports whether the account needs a password (or token).
func (m MailboxConfig) needsPassword() bool { return !strings.EqualFold(m.Auth, "external") }

// account builds the mailbox account. secret is the password (plain,
// login, automatic) or the access token (oauthbearer); cert the client
// certificate for external.
func (m MailboxConfig) account(secret []byte, cert *tls.Certificate) (mailbox.Account, error) {
	a := mailbox.Account{
		Name: m.Username, Host: m.Host, Port: m.Port, Username: m.Username,
		Mailbox: m.folder(), Mark: mailbox.MarkMode(m.Mark), ImportedFolder: m.Folder,
	}
	switch m.Security {
	case "implicit":
		a.Security = mailbox.ImplicitTLS
	case "starttls":
		a.Security = mailbox.StartTLS
	}
	if m.CAFile != "" {
		pem, err := os.ReadFile(m.CAFile)
		if err != nil {
			return a, fmt.Errorf("mailbox %s: trusted authorities: %w", m.Username, err)
		}
		a.RootCAs = x509.NewCertPool()
		if !a.RootCAs.AppendCertsFromPEM(pem) {
			return a, fmt.Errorf("mailbox %s: %s holds no PEM certificate: %w", m.Username, m.CAFile, app.ErrInvalid)
		}
	}
	switch strings.ToLower(m.Auth) {
	case "plain":
		a.Auth, a.Password = mailbox.AuthPlain, secret
	case "login":
		a.Auth, a.Password = mailbox.AuthLogin, secret
	case "oauthbearer":
		tok := string(secret)
		a.Auth, a.Token = mailbox.AuthOAuthBearer, func(context.Context) (string, error) { return tok, nil }
	case "external":
		a.Auth = mailbox.AuthExternal
	default:
		a.Password = secret
	}
	if cert != nil {
		a.ClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil }
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
	fs.StringVar(&f.configPath, "config", defaultConfigPath(), "configuration file ([[mailbox]] tables)")
	fs.StringVar(&f.dataDir, "data", "", "data directory (default: the user data directory)")
	fs.StringVar(&f.passFile, "passphrase-file", "", "read the vault passphrase from this file (mode 0600) instead of the terminal")
	fs.StringVar(&f.pwFile, "password-file", "", "read the mailbox password (or OAuth access token) from this file (mode 0600) instead of the terminal")
	fs.StringVar(&f.pinFile, "pin-file", "", "read the credential PIN (auth = \"external\") from this file (mode 0600)")
	fs.BoolVar(&f.noKeyring, "no-keyring", false, "the device secret is in a 0600 file beside the vault")
	fs.BoolVar(&f.testKDF, "insecure-test-kdf", false, "TESTS ONLY: keep weak key derivation parameters at unlock")
	if err := fs.Parse(args); err != nil {
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

	cfg, err := loadConfig(f.configPath)
	if err != nil {
		fmt.Fprintln(stderr, "carnet import:", err)
		return importFailed
	}
	if len(cfg.Mailboxes) == 0 {
		fmt.Fprintf(stderr, "carnet import: no [[mailbox]] in %s\n", f.configPath)
		return importFailed
	}
	secrets := secretSource{stderr: stderr}
	accts, closeCred, err := importAccounts(cfg, f, secrets)
	defer closeCred()
	if err != nil {
		fmt.Fprintln(stderr, "carnet import:", err)
		return importFailed
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
	mcfg := mailbox.Config{Accounts: accts, Interval: f.watch, Log: log}
	if f.watch > 0 {
		return watchImport(ctx, svc, mcfg, stderr)
	}
	sum, errs := importOnce(ctx, svc, mcfg, stderr)
	return importReport(stderr, sum, errs)
}

// importAccounts builds the accounts, reading the secrets they need once.
// close closes the credential opened for EXTERNAL, if any.
func importAccounts(cfg Config, f importFlags, secrets secretSource) (accts []mailbox.Account, close func(), err error) {
	var (
		secret []byte
		cert   *tls.Certificate
	)
	close = func() {}
	for _, m := range cfg.Mailboxes {
		if m.needsPassword() && secret == nil {
			s, err := secrets.get(f.pwFile, "Mailbox password for "+m.Username, false)
			if err != nil {
				return nil, close, err
			}
			secret = s
		}
		if !m.needsPassword() && cert == nil {
			pin, err := secrets.get(f.pinFile, "Credential PIN", false)
			if err != nil {
				return nil, close, err
			}
			cred, err := openCredential(cfg, pin)
			app.Wipe(pin)
			if err != nil {
				return nil, close, err
			}
			close = func() { cred.Close() }
			c := cred.Certificate()
			cert = &c
		}
	}
	for _, m := range cfg.Mailboxes {
		a, err := m.account(secret, cert)
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
func watchImport(ctx context.Context, svc *app.Service, cfg mailbox.Config, stderr io.Writer) int {
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
