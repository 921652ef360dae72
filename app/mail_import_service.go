package app

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// This file is the one mail-import use case: Service.ImportMail, which the
// desktop's scheduler (internal/mailsched), `carnet import --once/--watch`
// and the tests call. It opens each mailbox through the MailboxOpener port
// (implemented by sync/mailbox), with credentials it asks for each session
// and wipes when the session ends, and runs the import engine of
// mail_importer.go on it. Every lock of the vault closes the open sessions
// and wipes their credentials (mailLive below): nothing that opens a
// mailbox stays in memory across a lock.

// MailCredentials are what one mailbox session authenticates with. Secret
// is the password (PLAIN, LOGIN) or the access token (OAUTHBEARER), a slice
// the session owns: Wipe zeroes it. Certificate is the client certificate
// (SASL EXTERNAL, mutual TLS), a *tls.Certificate that app does not look
// into (package app stays off the network packages); its key belongs to
// the credential that opened it, which its owner closes at the lock.
type MailCredentials struct {
	Secret      []byte
	Certificate any
}

// Wipe zeroes the secret and forgets the certificate.
func (c *MailCredentials) Wipe() {
	Wipe(c.Secret)
	c.Secret, c.Certificate = nil, nil
}

// MailConnection is an open mailbox session: the Mailbox the import reads,
// a wait for new mail, and the account's read-receipt sender.
type MailConnection interface {
	Mailbox
	// WaitNewMail blocks until new mail is announced (IDLE), interval
	// passes or ctx ends. It fails (wrapping ErrOffline) when the
	// connection fails or is closed.
	WaitNewMail(ctx context.Context, interval time.Duration) error
	// Receipts is the sender of the account's read receipts; nil when the
	// account sends none.
	Receipts() ReceiptSender
}

// MailboxOpener opens the secure mailbox of an account (implemented by
// sync/mailbox). The connection may use cred's slices until it is closed;
// the use case wipes them right after.
type MailboxOpener interface {
	OpenMailbox(ctx context.Context, acct MailAccount, cred MailCredentials) (MailConnection, error)
}

// MailImport is one run of Service.ImportMail.
type MailImport struct {
	// Opener opens the mailboxes (required).
	Opener MailboxOpener
	// Credentials returns the credentials of an account for one session
	// (the vault, a 0600 file, the terminal, the open card). A fresh
	// secret slice each time: the use case wipes it at the session's end
	// or at the lock. Required.
	Credentials func(ctx context.Context, acct MailAccount) (MailCredentials, error)
	// Accounts are the mailboxes imported; the connection's when nil.
	Accounts []MailAccount
	// Demo accepts the test and demo INS domains (demo mode only).
	Demo bool
	// Watch, when positive, keeps importing each account until ctx ends:
	// on new mail (IDLE) or at least every Watch. Zero imports once.
	Watch time.Duration
	// Enter starts a watch round: it re-opens a vault locked while idle
	// and returns the function that ends the round. A round runs only
	// when it succeeds (its error ends the account's watch). When nil, a
	// round needs the vault unlocked.
	Enter func(ctx context.Context) (leave func(), err error)
	// Connecting, when set, is called before each session is opened.
	Connecting func(i int, acct MailAccount)
	// Progress, when set, receives account i's running summary after each
	// message.
	Progress func(i int, acct MailAccount, sum ImportSummary)
	// Round, when set, receives the outcome of every account's round.
	Round func(i int, st MailboxStatus)
}

// ImportMail runs the mail import: once (each account of run in turn; an
// account that fails does not stop the others, the errors are joined, each
// naming its account's position, never its address), or, with run.Watch,
// continuously, one account per goroutine, until ctx ends. Each round
// opens the mailbox with fresh credentials when no session is open, imports
// the new messages (see importMailbox) and drops the raw messages past
// retention. Once, a locked vault imports nothing.
func (s *Service) ImportMail(ctx context.Context, run MailImport) (ImportSummary, error) {
	if run.Opener == nil || run.Credentials == nil {
		return ImportSummary{}, fmt.Errorf("mail import: no mailbox opener: %w", ErrNotConfigured)
	}
	accts := run.Accounts
	if accts == nil {
		accts = s.Connection().Mailboxes
	}
	if run.Watch > 0 {
		return ImportSummary{}, s.watchMailboxes(ctx, run, accts)
	}
	var total ImportSummary
	if len(accts) == 0 || (run.Enter == nil && s.Locked()) {
		return total, nil
	}
	if run.Enter != nil {
		leave, err := run.Enter(ctx)
		if err != nil {
			return total, err
		}
		defer leave()
	}
	var errs []error
	for i, acct := range accts {
		if ctx.Err() != nil {
			return total, ctx.Err()
		}
		sess, err := s.openMailSession(ctx, run, i, acct)
		var sum ImportSummary
		if err == nil {
			sum, err = s.importSession(ctx, run, i, acct, sess)
			s.mailLive.end(sess)
		}
		total.Add(sum)
		run.round(i, MailboxStatus{Account: acct.Address, At: s.clock.Now(), Summary: sum, Err: err})
		if err != nil {
			errs = append(errs, fmt.Errorf("mailbox %d: %w", i+1, err))
		}
	}
	return total, errors.Join(errs...)
}

func (run MailImport) round(i int, st MailboxStatus) {
	if run.Round != nil {
		run.Round(i, st)
	}
}

// watchMailboxes watches every account, each in its goroutine; it returns
// when they all ended, with the errors of those that stopped before ctx.
func (s *Service) watchMailboxes(ctx context.Context, run MailImport, accts []MailAccount) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for i, acct := range accts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.watchMailbox(ctx, run, i, acct); err != nil && ctx.Err() == nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("mailbox %d: %w", i+1, err))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// watchMailbox imports one account at once, then on every new message
// (IDLE) or every run.Watch. A failed connection is dropped and opened
// again (with fresh credentials) after a backoff of 1 s to 5 min. A
// session closed by the vault's lock is not re-opened before the next
// round, once run.Enter re-opened the vault. It returns when ctx ends, or
// with a round's error that wraps no ErrOffline.
func (s *Service) watchMailbox(ctx context.Context, run MailImport, i int, acct MailAccount) error {
	var sess *mailSession
	defer func() { s.mailLive.end(sess) }()
	backoff := time.Second
	for {
		leave := func() {}
		var err error
		if run.Enter != nil {
			leave, err = run.Enter(ctx)
		} else if s.Locked() {
			err = fmt.Errorf("mail import: %w", ErrLocked)
		}
		if err != nil {
			return err
		}
		if sess == nil || sess.ended() {
			sess, err = s.openMailSession(ctx, run, i, acct)
		}
		var sum ImportSummary
		if err == nil {
			sum, err = s.importSession(ctx, run, i, acct, sess)
		}
		leave()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		run.round(i, MailboxStatus{Account: acct.Address, At: s.clock.Now(), Summary: sum, Err: err})
		if err != nil && !errors.Is(err, ErrOffline) {
			return err
		}
		if err == nil {
			backoff = time.Second
			err = s.waitMail(ctx, sess, run.Watch)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			s.mailLive.end(sess)
			s.log.Warn("mail import: watch: reconnecting", "mailbox", i+1, "in", backoff, "err", err)
			if !sleepCtx(ctx, backoff) {
				return ctx.Err()
			}
			backoff = min(backoff*2, 5*time.Minute)
		}
	}
}

// waitMail waits for new mail on sess, or, when the lock closed it, for
// interval without any connection (nothing is kept to open one).
func (s *Service) waitMail(ctx context.Context, sess *mailSession, interval time.Duration) error {
	if !sess.ended() {
		err := sess.conn.WaitNewMail(ctx, interval)
		if !sess.lockedOut() {
			return err
		}
	}
	sleepCtx(ctx, interval)
	return nil
}

// sleepCtx waits d; false when ctx ended first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// openMailSession asks for acct's credentials and opens its mailbox; the
// session is closed, and its credentials wiped, at the next lock if not
// before.
func (s *Service) openMailSession(ctx context.Context, run MailImport, i int, acct MailAccount) (*mailSession, error) {
	if s.Locked() {
		return nil, fmt.Errorf("mail import: %w", ErrLocked)
	}
	cred, err := run.Credentials(ctx, acct)
	if err != nil {
		cred.Wipe()
		return nil, err
	}
	if run.Connecting != nil {
		run.Connecting(i, acct)
	}
	conn, err := run.Opener.OpenMailbox(ctx, acct, cred)
	if err != nil {
		cred.Wipe()
		return nil, err
	}
	sess := &mailSession{conn: conn, cred: cred}
	if !s.mailLive.add(s, sess) { // locked meanwhile
		sess.close(true)
		return nil, fmt.Errorf("mail import: %w", ErrLocked)
	}
	return sess, nil
}

// importSession imports the new messages of sess's mailbox.
func (s *Service) importSession(ctx context.Context, run MailImport, i int, acct MailAccount, sess *mailSession) (ImportSummary, error) {
	opt := ImportOptions{Account: acct.Address, Mailbox: acct.ImportedFolder(), Demo: run.Demo}
	if acct.ReadReceipts && acct.SMTPHost != "" {
		opt.ReadReceipts, opt.Receipts = true, sess.conn.Receipts()
	}
	if run.Progress != nil {
		opt.Progress = func(sum ImportSummary) { run.Progress(i, acct, sum) }
	}
	return s.importMailbox(ctx, sess.conn, opt)
}

// importMailbox imports the new messages of a mailbox into the vault (see
// importMail), then drops the raw messages past retention (see PruneMail).
// Practitioner and Structure default to the signed-in practitioner's
// (LocalOperator without a card session), Clock and Log to the service's.
func (s *Service) importMailbox(ctx context.Context, mb Mailbox, opt ImportOptions) (ImportSummary, error) {
	if opt.Clock == nil {
		opt.Clock = s.clock
	}
	if opt.Log == nil {
		opt.Log = s.log
	}
	if opt.Practitioner == "" {
		if p, ok := s.Practitioner(); ok {
			opt.Practitioner, opt.Structure = p.RPPS, p.Structure.ID
		} else {
			opt.Practitioner = LocalOperator() // no card: the session's user
		}
	}
	mailMu.Lock()
	sum, err := ImportMailbox(ctx, s.store, mb, opt)
	mailMu.Unlock()
	if err == nil {
		if _, perr := s.PruneMail(ctx); perr != nil {
			s.log.Warn("mail retention failed", "err", perr)
		}
	}
	return sum, err
}

// mailSession is an open mailbox and the credentials it was opened with.
type mailSession struct {
	conn MailConnection
	cred MailCredentials

	once   sync.Once
	mu     sync.Mutex
	done   bool // closed
	locked bool // closed by a lock
}

// close closes the connection, then wipes the credentials (once).
func (m *mailSession) close(byLock bool) {
	m.once.Do(func() {
		m.mu.Lock()
		m.done, m.locked = true, byLock
		m.mu.Unlock()
		_ = m.conn.Close()
		m.cred.Wipe()
	})
}

func (m *mailSession) ended() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.done
}

func (m *mailSession) lockedOut() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.locked
}

// mailLive holds the open mail sessions of a Service; every lock closes
// them and wipes their credentials.
type mailLive struct {
	mu       sync.Mutex
	hooked   bool
	sessions map[*mailSession]bool
}

// add registers sess; false when the vault is locked (sess is not kept).
func (l *mailLive) add(s *Service, sess *mailSession) bool {
	l.mu.Lock()
	if !l.hooked {
		l.hooked = true
		s.OnLock(func(LockReason) { l.closeAll() })
	}
	if s.Locked() {
		l.mu.Unlock()
		return false
	}
	if l.sessions == nil {
		l.sessions = map[*mailSession]bool{}
	}
	l.sessions[sess] = true
	l.mu.Unlock()
	return true
}

// end closes sess (nil: nothing) and forgets it.
func (l *mailLive) end(sess *mailSession) {
	if sess == nil {
		return
	}
	l.mu.Lock()
	delete(l.sessions, sess)
	l.mu.Unlock()
	sess.close(false)
}

// closeAll closes every session (the vault locked).
func (l *mailLive) closeAll() {
	l.mu.Lock()
	all := l.sessions
	l.sessions = nil
	l.mu.Unlock()
	for sess := range all {
		sess.close(true)
	}
}
