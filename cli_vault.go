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
	"syscall"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/vault"
	"github.com/carnetdesk/carnet/crypto"
	"github.com/carnetdesk/carnet/internal/secret"
)

// vaultFlags are the flags every `carnet vault` subcommand takes.
type vaultFlags struct {
	fs            *flag.FlagSet
	dataDir       string
	passFile      string
	newPassFile   string
	noKeyring     bool
	testKDF       bool
	recoveryKey   string
	key           string
	keyPassFile   string
	wantsNew      bool
	wantsRecovery bool
	acceptOlder   bool
}

func newVaultFlags(name string, stderr io.Writer) *vaultFlags {
	f := &vaultFlags{fs: flag.NewFlagSet("carnet vault "+name, flag.ContinueOnError)}
	f.fs.SetOutput(stderr)
	f.fs.StringVar(&f.dataDir, "data", "", "data directory (default: the user data directory)")
	f.fs.StringVar(&f.passFile, "passphrase-file", "", "read the passphrase from this file (mode 0600) instead of the terminal")
	f.fs.BoolVar(&f.noKeyring, "no-keyring", false, "keep the device secret in a 0600 file beside the vault, not in the OS keyring")
	f.fs.BoolVar(&f.acceptOlder, "accept-older", false, "open a vault file older than the last one used on this computer (a restored backup), after the warning")
	return f
}

func (f *vaultFlags) options(log *slog.Logger) vault.Options {
	opt := vault.Options{Logger: log}
	if f.noKeyring {
		opt.Keyring = noKeyring()
	}
	if f.testKDF {
		p := crypto.LightParams()
		opt.KDF = &p
	}
	return opt
}

// runVault runs `carnet vault SUBCOMMAND`.
func runVault(args []string, _ io.Reader, stdout, stderr io.Writer, log *slog.Logger) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	name := args[0]
	f := newVaultFlags(name, stderr)
	switch name {
	case "init":
		f.fs.StringVar(&f.recoveryKey, "recovery-key", "", "the clinic's recovery OpenPGP public key (armored file)")
		f.fs.BoolVar(&f.testKDF, "insecure-test-kdf", false, "TESTS ONLY: weak key derivation parameters, upgraded at the next normal unlock")
	case "passwd":
		f.fs.StringVar(&f.newPassFile, "new-passphrase-file", "", "read the new passphrase from this file (mode 0600)")
	case "recover":
		f.fs.StringVar(&f.key, "key", "", "the clinic's recovery private key (armored file, mode 0600)")
		f.fs.StringVar(&f.keyPassFile, "key-passphrase-file", "", "read the recovery key's passphrase from this file (mode 0600)")
		f.fs.StringVar(&f.newPassFile, "new-passphrase-file", "", "read the new passphrase from this file (mode 0600)")
	case "check", "compact":
	default:
		fmt.Fprintf(stderr, "carnet vault: unknown subcommand %q\n", name)
		usage(stderr)
		return 2
	}
	if err := f.fs.Parse(args[1:]); err != nil {
		return flagsExit(err)
	}
	if f.fs.NArg() > 0 {
		fmt.Fprintf(stderr, "carnet vault %s: unexpected argument (secrets are never given on the command line)\n", name)
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	store, err := openVault(f.dataDir, f.options(log))
	if err != nil {
		fmt.Fprintf(stderr, "carnet vault %s: %v\n", name, err)
		return 1
	}
	defer store.Close()
	svc := app.NewService(app.Deps{Store: store, Log: log})
	secrets := secret.Source{Stderr: stderr}

	cmd := map[string]func(context.Context, *app.Service, *vaultFlags, secret.Source, io.Writer) error{
		"init":    vaultInit,
		"check":   vaultCheck,
		"passwd":  vaultPasswd,
		"compact": vaultCompact,
		"recover": vaultRecover,
	}[name]
	if err := cmd(ctx, svc, f, secrets, stdout); err != nil {
		fmt.Fprintf(stderr, "carnet vault %s: %v\n", name, err)
		return 1
	}
	svc.Lock(app.LockShutdown)
	return 0
}

func vaultInit(ctx context.Context, svc *app.Service, f *vaultFlags, s secret.Source, out io.Writer) error {
	if svc.HasVault() {
		return fmt.Errorf("a vault already exists here: %w", app.ErrVaultExists)
	}
	var opt app.CreateOptions
	if f.recoveryKey != "" {
		pub, err := os.ReadFile(f.recoveryKey)
		if err != nil {
			return fmt.Errorf("recovery key: %w", err)
		}
		fp, err := crypto.RecoveryFingerprint(pub)
		if err != nil {
			return fmt.Errorf("recovery key: %w", err)
		}
		fmt.Fprintf(out, "recovery key fingerprint: %s\n", fp)
		opt.RecoveryKey = pub
	}
	pass, err := s.Get(f.passFile, "New vault passphrase", true)
	if err != nil {
		return err
	}
	if err := svc.Create(ctx, pass, opt); err != nil {
		return err
	}
	fmt.Fprintln(out, "vault created")
	if opt.RecoveryKey == nil {
		fmt.Fprintln(out, "warning: no recovery key: a lost passphrase loses unsynced work")
	}
	return nil
}

// unlock opens the vault with the passphrase from the file or the terminal.
func unlock(ctx context.Context, svc *app.Service, f *vaultFlags, s secret.Source, out io.Writer) error {
	if !svc.HasVault() {
		return fmt.Errorf("no vault here (carnet vault init creates one): %w", app.ErrNoVault)
	}
	pass, err := s.Get(f.passFile, "Vault passphrase", false)
	if err != nil {
		return err
	}
	open := svc.Unlock
	if f.acceptOlder {
		open = svc.UnlockOlder
	}
	rep, err := open(ctx, pass)
	if errors.Is(err, app.ErrOlderVault) {
		return fmt.Errorf("%w (a restored backup or a copy put back: give --accept-older to open it anyway; patients purged since stay unreadable)", err)
	}
	if err != nil {
		return err
	}
	for _, w := range rep.Warnings {
		fmt.Fprintf(out, "warning: %s\n", w)
	}
	return nil
}

func vaultCheck(ctx context.Context, svc *app.Service, f *vaultFlags, s secret.Source, out io.Writer) error {
	if err := unlock(ctx, svc, f, s, out); err != nil {
		return err
	}
	rep, err := svc.Store().Check(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "records %d, patients %d, documents %d, outbox %d, audit events %d\n",
		rep.Records, rep.Patients, rep.Documents, rep.Outbox, rep.Audit)
	if !rep.OK() {
		for _, p := range rep.Problems {
			fmt.Fprintln(out, "problem:", p)
		}
		return fmt.Errorf("%d problem(s) found: %w", len(rep.Problems), app.ErrDamaged)
	}
	fmt.Fprintln(out, "vault OK")
	return nil
}

func vaultPasswd(ctx context.Context, svc *app.Service, f *vaultFlags, s secret.Source, out io.Writer) error {
	if !svc.HasVault() {
		return fmt.Errorf("no vault here: %w", app.ErrNoVault)
	}
	old, err := s.Get(f.passFile, "Current passphrase", false)
	if err != nil {
		return err
	}
	if _, err := svc.Unlock(ctx, append([]byte{}, old...)); err != nil {
		app.Wipe(old)
		return err
	}
	next, err := s.Get(f.newPassFile, "New passphrase", true)
	if err != nil {
		app.Wipe(old)
		return err
	}
	if err := svc.ChangePassphrase(ctx, old, next); err != nil {
		return err
	}
	fmt.Fprintln(out, "passphrase changed")
	return nil
}

func vaultCompact(ctx context.Context, svc *app.Service, f *vaultFlags, s secret.Source, out io.Writer) error {
	if err := unlock(ctx, svc, f, s, out); err != nil {
		return err
	}
	rep, err := svc.Store().Compact(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "compacted: %d → %d bytes\n", rep.Before, rep.After)
	return nil
}

func vaultRecover(ctx context.Context, svc *app.Service, f *vaultFlags, s secret.Source, out io.Writer) error {
	if !svc.HasVault() {
		return fmt.Errorf("no vault here: %w", app.ErrNoVault)
	}
	if f.key == "" {
		return fmt.Errorf("--key FILE is required (the clinic's recovery private key): %w", app.ErrInvalid)
	}
	priv, err := secret.ReadPrivateFile(f.key)
	if err != nil {
		return fmt.Errorf("recovery key: %w", err)
	}
	keyPass, err := s.Get(f.keyPassFile, "Recovery key passphrase", false)
	if err != nil {
		app.Wipe(priv)
		return err
	}
	next, err := s.Get(f.newPassFile, "New vault passphrase", true)
	if err != nil {
		return err
	}
	if err := svc.Recover(ctx, priv, keyPass, next); err != nil {
		return err
	}
	fmt.Fprintln(out, "passphrase reset with the recovery key")
	return nil
}

// noKeyring is the device-secret store of --no-keyring: a 0600 file beside
// the vault.
func noKeyring() crypto.Keyring { return crypto.NoKeyring{} }
