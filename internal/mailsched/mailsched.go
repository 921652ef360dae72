// Package mailsched is the desktop application's mail-import scheduling:
// the secure mailboxes of the connection imported in the sync cycle (and
// on Ctrl+R) through the one mail-import use case, app.Service.ImportMail,
// one import at a time, with the progress and the last outcome of each
// mailbox for the status bar and the settings screen. Syncer joins it to
// the engine's cycle. The mailboxes are opened through an
// app.MailboxOpener (sync/mailbox's, wired by main).
package mailsched

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/sync/engine"
)

// Mail imports the secure mailboxes of the connection: each mailbox whose
// password (or token) is sealed in the vault, or that authenticates with
// the practitioner's certificate while a card session is open. Nothing is
// kept between imports: each session is closed and its password wiped at
// its end, or at the vault's lock if that comes first (the use case's
// rule).
type Mail struct {
	Svc    *app.Service
	Opener app.MailboxOpener
	Cert   func() *tls.Certificate // the open credential's certificate (EXTERNAL); nil when none
	Demo   bool                    // accept the test INS domains
	Log    *slog.Logger

	// one import at a time (background cycle, Ctrl+R): a token in a
	// channel, so that waiting for it ends with ctx (the cancel button).
	runOnce sync.Once
	run     chan struct{}

	mu       sync.Mutex
	running  bool
	progress app.SyncProgress
	last     map[string]app.MailboxStatus // by lower-case address
}

// Busy takes the import's token as a running import would (tests of the
// wait); release gives it back.
func (d *Mail) Busy() (release func()) {
	d.runOnce.Do(func() { d.run = make(chan struct{}, 1) })
	d.run <- struct{}{}
	return func() { <-d.run }
}

// Once imports every mailbox of the connection once. A mailbox that
// cannot be imported (no password sealed yet, no card session for
// EXTERNAL, server unreachable) does not stop the others; the errors are
// joined, each naming its mailbox's position (never its address).
func (d *Mail) Once(ctx context.Context) (app.ImportSummary, error) {
	accounts := d.Svc.Connection().Mailboxes
	if len(accounts) == 0 || d.Svc.Locked() {
		return app.ImportSummary{}, nil
	}
	d.runOnce.Do(func() { d.run = make(chan struct{}, 1) })
	select {
	case d.run <- struct{}{}:
		defer func() { <-d.run }()
	case <-ctx.Done():
		return app.ImportSummary{}, ctx.Err()
	}
	log := d.Log
	if log == nil {
		log = slog.Default()
	}
	n := len(accounts)
	d.setProgress(true, app.SyncProgress{Phase: app.PhaseMail, ItemsN: n, Online: true})
	defer d.setProgress(false, app.SyncProgress{})
	var before int // messages of the accounts done
	return d.Svc.ImportMail(ctx, app.MailImport{
		Opener: d.Opener, Credentials: d.credentials, Accounts: accounts, Demo: d.Demo,
		Progress: func(i int, _ app.MailAccount, s app.ImportSummary) {
			d.setProgress(true, app.SyncProgress{Phase: app.PhaseMail, Items: i, ItemsN: n,
				Resources: before + s.Messages, Percent: 100 * float64(i) / float64(n), Online: true})
		},
		Round: func(i int, st app.MailboxStatus) {
			before += st.Summary.Messages
			d.record(st)
			if st.Err != nil && !errors.Is(st.Err, app.ErrNotConfigured) && ctx.Err() == nil {
				log.Warn("mail import failed", "mailbox", i+1, "err", st.Err)
			}
		},
	})
}

// credentials are a mailbox's: the password sealed in the vault (a fresh
// copy, wiped by the use case), or the card's certificate while its
// practitioner is signed in.
func (d *Mail) credentials(ctx context.Context, m app.MailAccount) (app.MailCredentials, error) {
	if m.NeedsPassword() {
		s, err := d.Svc.MailPassword(ctx, m.Address)
		if errors.Is(err, app.ErrNotFound) {
			return app.MailCredentials{}, fmt.Errorf("mail import: no password sealed for this mailbox: %w", app.ErrNotConfigured)
		}
		return app.MailCredentials{Secret: s}, err
	}
	// The card is used only while its practitioner is signed in: after a
	// re-authentication lock the session is gone but the credential may
	// still be open, and must not be used behind the next user.
	var cert *tls.Certificate
	if _, ok := d.Svc.Practitioner(); ok && d.Cert != nil {
		cert = d.Cert()
	}
	if cert == nil {
		return app.MailCredentials{}, fmt.Errorf("mail import: the mailbox authenticates with the card: sign in first: %w", app.ErrNotConfigured)
	}
	return app.MailCredentials{Certificate: cert}, nil
}

// setProgress records the import's state for Status.
func (d *Mail) setProgress(running bool, p app.SyncProgress) {
	d.mu.Lock()
	d.running, d.progress = running, p
	d.mu.Unlock()
}

// record keeps the outcome of a mailbox's import.
func (d *Mail) record(st app.MailboxStatus) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.last == nil {
		d.last = map[string]app.MailboxStatus{}
	}
	st.Summary.Notes = nil // the status bar and settings need counts only
	d.last[strings.ToLower(st.Account)] = st
}

// Mailboxes returns the last outcome of each mailbox of the connection.
func (d *Mail) Mailboxes() []app.MailboxStatus {
	accounts := d.Svc.Connection().Mailboxes
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

// Status returns whether an import runs, and its progress.
func (d *Mail) Status() (bool, app.SyncProgress) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.running, d.progress
}

// Syncer is the desktop application's sync cycle: the engine (push, pull,
// purge) then the mail import. It is the app.Syncer the service and the
// status bar see.
type Syncer struct {
	*engine.Engine
	Mail *Mail
}

// Once runs the engine's cycle, then imports the mailboxes (even when the
// central service could not be reached: the mailboxes are elsewhere).
func (s *Syncer) Once(ctx context.Context) (app.SyncSummary, error) {
	sum, err := s.Engine.Once(ctx)
	if ctx.Err() != nil {
		return sum, err
	}
	mail, merr := s.Mail.Once(ctx)
	sum.Mail = mail
	if merr != nil && !OnlyNotConfigured(merr) {
		err = errors.Join(err, merr)
	}
	return sum, err
}

// ImportMailboxes imports the mailboxes alone (app.MailSyncer: Ctrl+R
// while nobody is signed in).
func (s *Syncer) ImportMailboxes(ctx context.Context) (app.ImportSummary, error) {
	return s.Mail.Once(ctx)
}

// Status is the engine's, with the mail phase while an import runs.
func (s *Syncer) Status() app.SyncStatus {
	st := s.Engine.Status()
	st.Mailboxes = s.Mail.Mailboxes()
	if running, p := s.Mail.Status(); running {
		st.Syncing, st.Progress = true, p
		st.Progress.Online = st.Online || p.Online
	}
	return st
}

// OnlyNotConfigured reports whether every error joined in err is a
// mailbox not configured yet (not a failure of the cycle: the settings
// screen shows it).
func OnlyNotConfigured(err error) bool {
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
