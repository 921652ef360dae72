package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/sync/engine"
	"github.com/carnetdesk/carnet/sync/mailbox"
)

// deskMail imports the secure mailboxes of the connection in the desktop
// application's sync cycle: each mailbox whose password (or token) is
// sealed in the vault, or that authenticates with the practitioner's
// certificate while a card session is open. The progress of the import is
// shown as the "mail" phase of the sync.
type deskMail struct {
	svc  *app.Service
	cert func() *tls.Certificate // the open credential's certificate (EXTERNAL); nil when none
	demo bool                    // accept the test INS domains
	log  *slog.Logger

	// one import at a time (background cycle, Ctrl+R): a token in a
	// channel, so that waiting for it ends with ctx (the cancel button).
	runOnce sync.Once
	run     chan struct{}

	mu       sync.Mutex
	running  bool
	progress app.SyncProgress
	last     map[string]app.MailboxStatus // by lower-case address
}

// Once imports every mailbox of the connection once. A mailbox that
// cannot be imported (no password sealed yet, no card session for
// EXTERNAL, server unreachable) does not stop the others; the errors are
// joined, each naming its mailbox's position (never its address).
func (d *deskMail) Once(ctx context.Context) (app.ImportSummary, error) {
	var total app.ImportSummary
	accounts := d.svc.Connection().Mailboxes
	if len(accounts) == 0 || d.svc.Locked() {
		return total, nil
	}
	d.runOnce.Do(func() { d.run = make(chan struct{}, 1) })
	select {
	case d.run <- struct{}{}:
		defer func() { <-d.run }()
	case <-ctx.Done():
		return total, ctx.Err()
	}
	d.setProgress(true, app.SyncProgress{Phase: app.PhaseMail, ItemsN: len(accounts), Online: true})
	defer d.setProgress(false, app.SyncProgress{})
	var errs []error
	for i, m := range accounts {
		if ctx.Err() != nil {
			return total, ctx.Err()
		}
		sum, err := d.account(ctx, m, func(s app.ImportSummary) {
			d.setProgress(true, app.SyncProgress{Phase: app.PhaseMail, Items: i, ItemsN: len(accounts),
				Resources: total.Messages + s.Messages, Percent: 100 * float64(i) / float64(len(accounts)), Online: true})
		})
		mailbox.Add(&total, sum)
		d.record(app.MailboxStatus{Account: m.Address, At: time.Now(), Summary: sum, Err: err})
		if err != nil {
			errs = append(errs, fmt.Errorf("mailbox %d: %w", i+1, err))
			if !errors.Is(err, app.ErrNotConfigured) && ctx.Err() == nil {
				d.log.Warn("mail import failed", "mailbox", i+1, "err", err)
			}
		}
	}
	return total, errors.Join(errs...)
}

// account imports one mailbox.
func (d *deskMail) account(ctx context.Context, m app.MailAccount, progress func(app.ImportSummary)) (app.ImportSummary, error) {
	var (
		secret []byte
		cert   *tls.Certificate
	)
	if m.NeedsPassword() {
		s, err := d.svc.MailPassword(ctx, m.Address)
		if errors.Is(err, app.ErrNotFound) {
			return app.ImportSummary{}, fmt.Errorf("mail import: no password sealed for this mailbox: %w", app.ErrNotConfigured)
		}
		if err != nil {
			return app.ImportSummary{}, err
		}
		secret = s
		defer app.Wipe(secret)
	} else {
		// The card is used only while its practitioner is signed in: after
		// a re-authentication lock the session is gone but the credential
		// may still be open, and must not be used behind the next user.
		if _, ok := d.svc.Practitioner(); ok {
			cert = d.cert()
		}
		if cert == nil {
			return app.ImportSummary{}, fmt.Errorf("mail import: the mailbox authenticates with the card: sign in first: %w", app.ErrNotConfigured)
		}
	}
	acct, err := mailboxAccount(m, secret, cert)
	if err != nil {
		return app.ImportSummary{}, err
	}
	acct.Demo = d.demo
	cl, err := mailbox.New(acct, d.log)
	if err != nil {
		return app.ImportSummary{}, err
	}
	defer cl.Close()
	opt := mailbox.Config{Demo: d.demo, Log: d.log}.Options(acct)
	opt.Progress = progress // read receipts: acct.ReadReceipts (mailboxAccount)
	return d.svc.ImportMail(ctx, cl, opt)
}

// setProgress records the import's state for Status.
func (d *deskMail) setProgress(running bool, p app.SyncProgress) {
	d.mu.Lock()
	d.running, d.progress = running, p
	d.mu.Unlock()
}

// record keeps the outcome of a mailbox's import.
func (d *deskMail) record(st app.MailboxStatus) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.last == nil {
		d.last = map[string]app.MailboxStatus{}
	}
	st.Summary.Notes = nil // the status bar and settings need counts only
	d.last[strings.ToLower(st.Account)] = st
}

// mailboxes returns the last outcome of each mailbox of the connection.
func (d *deskMail) mailboxes() []app.MailboxStatus {
	accounts := d.svc.Connection().Mailboxes
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []app.MailboxStatus
	for _, m := range accounts {
		if st, ok := d.last[strings.ToLower(m.Address)]; ok {
			out = append(out, st)
		}
	}
	return out
}

// status returns whether an import runs, and its progress.
func (d *deskMail) status() (bool, app.SyncProgress) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.running, d.progress
}

// deskSyncer is the desktop application's sync cycle: the engine (push,
// pull, purge) then the mail import. It is the app.Syncer the service and
// the status bar see.
type deskSyncer struct {
	*engine.Engine
	mail *deskMail
}

// Once runs the engine's cycle, then imports the mailboxes (even when the
// central service could not be reached: the mailboxes are elsewhere).
func (s *deskSyncer) Once(ctx context.Context) (app.SyncSummary, error) {
	sum, err := s.Engine.Once(ctx)
	if ctx.Err() != nil {
		return sum, err
	}
	mail, merr := s.mail.Once(ctx)
	sum.Mail = mail
	if merr != nil && !onlyNotConfigured(merr) {
		err = errors.Join(err, merr)
	}
	return sum, err
}

// ImportMailboxes imports the mailboxes alone (app.MailSyncer: Ctrl+R
// while nobody is signed in).
func (s *deskSyncer) ImportMailboxes(ctx context.Context) (app.ImportSummary, error) {
	return s.mail.Once(ctx)
}

// Status is the engine's, with the mail phase while an import runs.
func (s *deskSyncer) Status() app.SyncStatus {
	st := s.Engine.Status()
	st.Mailboxes = s.mail.mailboxes()
	if running, p := s.mail.status(); running {
		st.Syncing, st.Progress = true, p
		st.Progress.Online = st.Online || p.Online
	}
	return st
}

// onlyNotConfigured reports whether every error joined in err is a
// mailbox not configured yet (not a failure of the cycle: the settings
// screen shows it).
func onlyNotConfigured(err error) bool {
	var j interface{ Unwrap() []error }
	if errors.As(err, &j) {
		for _, e := range j.Unwrap() {
			if !errors.Is(e, app.ErrNotConfigured) {
				return false
			}
		}
		return true
	}
	return errors.Is(err, app.ErrNotConfigured)
}
