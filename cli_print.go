package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/cda"
	"github.com/carnetdesk/carnet/app/meds"
	"github.com/carnetdesk/carnet/app/vault"
	"github.com/carnetdesk/carnet/crypto"
	"github.com/carnetdesk/carnet/internal/secret"
)

// printFailed is the exit status of a failed `carnet print`.
const printFailed = 1

// runPrint is `carnet print --operating-list DATE --out FILE`: the evening
// before, one PDF with a page per patient of the day's operating list (the
// decision table for the surgery date, allergies, devices, problems, the documents consulted), from the vault
// alone, with the decisions saved on each patient's table (a line nobody
// decided is marked "NON DÉCIDÉ" beside its proposal). The PDF is built in memory and written only to FILE (created
// 0600, never replaced: the user chooses where health data goes), or to
// stdout with "-".
func runPrint(args []string, stdout, stderr io.Writer, log *slog.Logger) int {
	fs := flag.NewFlagSet("carnet print", flag.ContinueOnError)
	fs.SetOutput(stderr)
	day := fs.String("operating-list", "", "the day of the operating list (AAAA-MM-JJ)")
	out := fs.String("out", "", "where to write the PDF (a new file), or - for stdout")
	dataDir := fs.String("data", "", "data directory (default: the user data directory)")
	passFile := fs.String("passphrase-file", "", "read the vault passphrase from this file (mode 0600) instead of the terminal")
	noKeyring := fs.Bool("no-keyring", false, "the device secret is in a 0600 file beside the vault")
	testKDF := fs.Bool("insecure-test-kdf", false, "TESTS ONLY: keep weak key derivation parameters at unlock")
	if err := fs.Parse(args); err != nil {
		return printFailed
	}
	if fs.NArg() > 0 || *day == "" || *out == "" {
		fmt.Fprintln(stderr, "carnet print: usage: carnet print --operating-list AAAA-MM-JJ --out FILE")
		return printFailed
	}
	date, err := time.ParseInLocation("2006-01-02", *day, time.Local)
	if err != nil {
		fmt.Fprintln(stderr, "carnet print: --operating-list: a date AAAA-MM-JJ is expected")
		return printFailed
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	opt := vault.Options{Logger: log}
	if *noKeyring {
		opt.Keyring = crypto.NoKeyring{}
	}
	if *testKDF {
		p := crypto.LightParams()
		opt.KDF = &p
	}
	store, err := openVault(*dataDir, opt)
	if err != nil {
		fmt.Fprintln(stderr, "carnet print:", err)
		return printFailed
	}
	defer store.Close()
	svc := app.NewService(app.Deps{Store: store, Log: log,
		Reader: cda.Reader{Options: cda.Options{Production: true}}, Sheets: cda.SheetRenderer{}})
	defer svc.Lock(app.LockShutdown)
	if err := unlock(ctx, svc, &vaultFlags{passFile: *passFile}, secret.Source{Stderr: stderr}, stderr); err != nil {
		fmt.Fprintln(stderr, "carnet print:", err)
		return printFailed
	}
	pdf, n, err := operatingListPDF(ctx, svc, date, time.Now())
	if err != nil {
		fmt.Fprintln(stderr, "carnet print:", err)
		return printFailed
	}
	if err := writeNew(*out, pdf, stdout); err != nil {
		fmt.Fprintln(stderr, "carnet print:", err)
		return printFailed
	}
	fmt.Fprintf(stderr, "carnet print: %d patient(s), %d bytes\n", n, len(pdf))
	return 0
}

// operatingListPDF renders the sheets of the patients scheduled on day
// (meds.OperatingList: the saved decisions, undecided lines marked) as one
// PDF, and returns it with the number of sheets.
func operatingListPDF(ctx context.Context, svc *app.Service, day, now time.Time) ([]byte, int, error) {
	sheets, err := meds.OperatingList(ctx, svc, day, now, "carnet print")
	if err != nil {
		return nil, 0, fmt.Errorf("operating list: %w", err)
	}
	pdf, err := svc.PreopPDF(ctx, sheets)
	return pdf, len(sheets), err
}

// writeNew writes b to a new file (0600; an existing file is never
// replaced), or to stdout for "-". A failed write removes the partial file.
func writeNew(path string, b []byte, stdout io.Writer) error {
	if path == "-" {
		_, err := stdout.Write(b)
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("write the PDF: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("write the PDF: %w", err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return fmt.Errorf("write the PDF: %w", err)
	}
	return nil
}
