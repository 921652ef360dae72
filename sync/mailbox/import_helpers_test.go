package mailbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/carnetdesk/carnet/app"
)

// Config is what the adapter's tests import with: the accounts and the
// options shared by all of them. (The application imports through the
// use case app.Service.ImportMail; these tests drive the import engine,
// app.ImportMailbox, on a MailStore fake and a real Dovecot.)
type Config struct {
	Accounts     []Account
	Demo         bool
	Interval     time.Duration // Watch's polling interval (and IDLE refresh)
	Log          *slog.Logger
	ReadReceipts bool // send read receipts for every account
}

// Import imports every account of cfg once into store.
func Import(ctx context.Context, store app.MailStore, cfg Config) (app.ImportSummary, error) {
	var total app.ImportSummary
	var errs []error
	for _, acct := range cfg.Accounts {
		sum, err := importAccount(ctx, store, cfg, acct)
		total.Add(sum)
		if err != nil {
			errs = append(errs, fmt.Errorf("mailbox: account %d: %w", len(errs)+1, err))
		}
	}
	return total, errors.Join(errs...)
}

func importAccount(ctx context.Context, store app.MailStore, cfg Config, acct Account) (app.ImportSummary, error) {
	cl, err := New(acct, cfg.Log)
	if err != nil {
		return app.ImportSummary{}, err
	}
	defer cl.Close()
	return app.ImportMailbox(ctx, store, cl, importOptions(cfg, acct))
}

func importOptions(cfg Config, acct Account) app.ImportOptions {
	opt := app.ImportOptions{
		Account: acct.Name, Mailbox: acct.mailbox(), Demo: cfg.Demo || acct.Demo, Log: cfg.Log,
		ReadReceipts: cfg.ReadReceipts || acct.ReadReceipts,
	}
	if opt.ReadReceipts && acct.Submission != nil {
		if rs, err := NewReceiptSender(acct, cfg.Log); err != nil {
			opt.Receipts = failedSender{err}
		} else {
			opt.Receipts = rs
		}
	}
	return opt
}

// Watch imports one account at once and then on every new message (IDLE)
// or cfg.Interval, until ctx ends; each receives every round's summary.
func Watch(ctx context.Context, store app.MailStore, cfg Config, acct Account, each func(app.ImportSummary)) error {
	cl, err := New(acct, cfg.Log)
	if err != nil {
		return err
	}
	defer cl.Close()
	opt := importOptions(cfg, acct)
	for {
		sum, err := app.ImportMailbox(ctx, store, cl, opt)
		each(sum)
		if err != nil && !errors.Is(err, app.ErrOffline) {
			return err
		}
		if err := cl.WaitNewMail(ctx, cfg.Interval); err != nil && ctx.Err() == nil {
			time.Sleep(time.Second)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}
