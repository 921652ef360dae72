package mailbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/carnetdesk/carnet/app"
)

// Config is what `carnet import` needs besides the vault: the accounts and
// the import options shared by all of them.
type Config struct {
	Accounts     []Account
	Demo         bool
	Practitioner string // written in the audit events
	Structure    string
	Interval     time.Duration // polling interval of Watch (and IDLE refresh); 5 min when 0
	Log          *slog.Logger
	// ReadReceipts sends read receipts (RFC 8098, ANS format) through each
	// account's Submission server, for the messages that ask for one and
	// whose Disposition-Notification-To equals their Return-Path. Off by
	// default; an account without a submission server sends none (and
	// the import notes it).
	ReadReceipts bool
}

// Import runs one import of every account of cfg into store (the
// `carnet import --once` entry): connect, fetch the new messages, file or
// queue them, mark them, disconnect. It returns the summed summary and the
// errors of the accounts that failed (the others are still imported).
func Import(ctx context.Context, store app.MailStore, cfg Config) (app.ImportSummary, error) {
	var total app.ImportSummary
	var errs []error
	for _, acct := range cfg.Accounts {
		sum, err := importAccount(ctx, store, cfg, acct)
		add(&total, sum)
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
	return app.ImportMail(ctx, store, cl, importOptions(cfg, acct))
}

func importOptions(cfg Config, acct Account) app.ImportOptions {
	opt := app.ImportOptions{
		Account: acct.Name, Mailbox: acct.mailbox(), Demo: cfg.Demo || acct.Demo,
		Practitioner: cfg.Practitioner, Structure: cfg.Structure, Log: cfg.Log,
		ReadReceipts: cfg.ReadReceipts || acct.ReadReceipts,
	}
	if opt.ReadReceipts && acct.Submission != nil {
		rs, err := NewReceiptSender(acct, cfg.Log)
		if err != nil {
			// A submission server that cannot be used: every receipt
			// fails with the reason, which the import notes.
			opt.Receipts = failedSender{err}
		} else {
			opt.Receipts = rs
		}
	}
	return opt
}

// failedSender is the receipt sender of an account whose submission
// server cannot be used: it fails with the reason.
type failedSender struct{ err error }

// SendReceipt implements app.ReceiptSender.
func (f failedSender) SendReceipt(context.Context, app.Receipt) error { return f.err }

// Watch imports one account continuously (the `carnet import --watch`
// entry): at start, then on every new message (IDLE) or every
// cfg.Interval, reconnecting with backoff. each, when not nil, receives the
// summary of every round. It returns when ctx ends.
func Watch(ctx context.Context, store app.MailStore, cfg Config, acct Account, each func(app.ImportSummary)) error {
	cl, err := New(acct, cfg.Log)
	if err != nil {
		return err
	}
	defer cl.Close()
	opt := importOptions(cfg, acct)
	return cl.Watch(ctx, cfg.Interval, func(ctx context.Context) error {
		sum, err := app.ImportMail(ctx, store, cl, opt)
		if each != nil {
			each(sum)
		}
		return err
	})
}

func add(t *app.ImportSummary, s app.ImportSummary) {
	t.Messages += s.Messages
	t.Duplicates += s.Duplicates
	t.Filed += s.Filed
	t.Known += s.Known
	t.Manual += s.Manual
	t.Quarantined += s.Quarantined
	t.MarkFailures += s.MarkFailures
	t.Receipts += s.Receipts
	t.Notes = append(t.Notes, s.Notes...)
}

// Options returns the import options of acct under cfg (account name,
// folder, demo mode, practitioner, and the read-receipt sender of the
// account's submission server when cfg.ReadReceipts is set).
func (cfg Config) Options(acct Account) app.ImportOptions { return importOptions(cfg, acct) }

// Add adds s to t (the summary of several accounts or rounds).
func Add(t *app.ImportSummary, s app.ImportSummary) { add(t, s) }
