package mailbox

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/carnetdesk/carnet/app"
)

// This file is the session: one connection per account, connected lazily,
// re-established after a failure, with the account's mailbox selected.

var _ app.Mailbox = (*Client)(nil)

// Client is one account's IMAP session; it implements app.Mailbox. It
// connects lazily, reconnects after a failure, and is safe for concurrent
// use (calls are serialised).
type Client struct {
	acct Account
	log  *slog.Logger

	mu       sync.Mutex
	c        *imapclient.Client
	selected string // mailbox selected on c
	sel      *imap.SelectData
	wake     chan struct{} // new mail announced while idling
	closed   chan struct{} // closed by Close: ends an IDLE at once
	shut     sync.Once
	receipts app.ReceiptSender // the account's read-receipt sender (Opener); nil when none
}

// New returns a client for acct; it connects on first use. log may be nil.
func New(acct Account, log *slog.Logger) (*Client, error) {
	if acct.Security != ImplicitTLS && acct.Security != StartTLS {
		return nil, ErrPlaintext
	}
	if log == nil {
		log = slog.Default()
	}
	return &Client{acct: acct, log: log, wake: make(chan struct{}, 1), closed: make(chan struct{})}, nil
}

// Close logs out and closes the connection; a wait for new mail (IDLE)
// ends at once. A closed client does not connect again.
func (cl *Client) Close() error {
	cl.shut.Do(func() { close(cl.closed) })
	cl.mu.Lock()
	defer cl.mu.Unlock()
	cl.drop()
	return nil
}

// drop closes the current connection, if any.
func (cl *Client) drop() {
	if cl.c != nil {
		_ = cl.c.Logout().Wait()
		_ = cl.c.Close()
		cl.c, cl.selected, cl.sel = nil, "", nil
	}
}

// session returns a connected, authenticated client with the account's
// mailbox selected (CONDSTORE enabled when offered).
func (cl *Client) session(ctx context.Context) (*imapclient.Client, *imap.SelectData, error) {
	if cl.c != nil {
		select {
		case <-cl.c.Closed():
			cl.c, cl.selected, cl.sel = nil, "", nil
		default:
		}
	}
	if cl.c == nil {
		select {
		case <-cl.closed:
			return nil, nil, fmt.Errorf("mailbox: session closed: %w", app.ErrOffline)
		default:
		}
		handler := &imapclient.UnilateralDataHandler{
			// Runs on the client's reader goroutine: never block.
			Mailbox: func(d *imapclient.UnilateralDataMailbox) {
				if d.NumMessages != nil {
					select {
					case cl.wake <- struct{}{}:
					default:
					}
				}
			},
		}
		c, err := cl.acct.dial(ctx, handler)
		if err != nil {
			return nil, nil, err
		}
		cl.c = c
	}
	name := cl.acct.mailbox()
	if cl.selected != name || cl.sel == nil {
		sel, err := cl.c.Select(name, &imap.SelectOptions{CondStore: cl.c.Caps().Has(imap.CapCondStore)}).Wait()
		if err != nil {
			cl.drop()
			return nil, nil, fmt.Errorf("mailbox: select: %v: %w", err, app.ErrOffline)
		}
		cl.selected, cl.sel = name, sel
	}
	return cl.c, cl.sel, nil
}

// locked runs fn with the session's lock held, on a session whose
// UIDVALIDITY is still st's (reconnecting after a failure of MarkImported).
// A failure of fn drops the connection.
func (cl *Client) locked(ctx context.Context, st app.MailboxState, fn func(c *imapclient.Client) error) error {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	c, sel, err := cl.session(ctx)
	if err != nil {
		return err
	}
	if sel.UIDValidity != st.UIDValidity {
		return fmt.Errorf("mailbox: UIDVALIDITY changed during fetch: %w", app.ErrConflict)
	}
	if err := fn(c); err != nil {
		cl.drop()
		return err
	}
	return nil
}
