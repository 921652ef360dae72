package mailbox

import (
	"context"
	"fmt"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/carnetdesk/carnet/app"
)

// This file waits for new mail: IDLE when the server has it, else polling.

// WaitNewMail implements app.MailConnection: it blocks until new mail is
// announced (IDLE, when the server has it; restarted by go-imap every 28
// minutes, and here at least every interval), interval passes (polling
// without IDLE) or ctx ends. Close ends it at once.
func (cl *Client) WaitNewMail(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		interval = 5 * time.Minute
	}
	return cl.wait(ctx, interval)
}

// Receipts implements app.MailConnection: the sender of the account's
// read receipts (set by Opener), nil when none.
func (cl *Client) Receipts() app.ReceiptSender { return cl.receipts }

// wait blocks until new mail is announced (IDLE) or interval passes.
func (cl *Client) wait(ctx context.Context, interval time.Duration) error {
	cl.mu.Lock()
	c, _, err := cl.session(ctx)
	if err != nil {
		cl.mu.Unlock()
		return err
	}
	select { // forget announcements that the handler already served
	case <-cl.wake:
	default:
	}
	if !c.Caps().Has(imap.CapIdle) && !c.Caps().Has(imap.CapIMAP4rev2) {
		cl.mu.Unlock()
		select {
		case <-ctx.Done():
		case <-time.After(interval):
		case <-cl.closed:
			return fmt.Errorf("mailbox: wait: session closed: %w", app.ErrOffline)
		}
		return nil
	}
	idle, err := c.Idle()
	if err != nil {
		cl.drop()
		cl.mu.Unlock()
		return fmt.Errorf("mailbox: idle: %v: %w", err, app.ErrOffline)
	}
	defer cl.mu.Unlock()
	select {
	case <-ctx.Done():
	case <-cl.wake:
	case <-time.After(interval):
	case <-c.Closed():
	case <-cl.closed:
		// Close waits for the lock: the connection goes now, without a
		// DONE nor a LOGOUT (the server ends the IDLE with the socket).
		_ = c.Close()
		cl.c, cl.selected, cl.sel = nil, "", nil
		return fmt.Errorf("mailbox: idle: session closed: %w", app.ErrOffline)
	}
	if err := idle.Close(); err != nil {
		cl.drop()
		return fmt.Errorf("mailbox: idle: %v: %w", err, app.ErrOffline)
	}
	if err := idle.Wait(); err != nil {
		cl.drop()
		return fmt.Errorf("mailbox: idle: %v: %w", err, app.ErrOffline)
	}
	return nil
}
