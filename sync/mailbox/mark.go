package mailbox

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/emersion/go-imap/v2"

	"github.com/carnetdesk/carnet/app"
)

// This file marks imported messages on the server: the $CarnetImported
// keyword, or a MOVE to the imported folder.

// MarkImported implements app.Mailbox: the $CarnetImported keyword when the
// mailbox's PERMANENTFLAGS allow it (or MarkKeyword), else a MOVE to
// ImportedFolder when the server has MOVE or UIDPLUS (without them go-imap
// would fall back to an EXPUNGE of the whole mailbox). Never a deletion.
// When neither is possible the message is left as is: the vault's record is
// the only mark, and nil is returned.
func (cl *Client) MarkImported(ctx context.Context, ref app.MessageRef) error {
	return cl.MarkImportedSet(ctx, []app.MessageRef{ref})
}

var _ app.MailboxSetMarker = (*Client)(nil)

// MarkImportedSet implements app.MailboxSetMarker: MarkImported for every
// message of refs in one command (UID STORE <set> +FLAGS.SILENT, or one
// UID MOVE <set>).
func (cl *Client) MarkImportedSet(ctx context.Context, refs []app.MessageRef) error {
	if len(refs) == 0 {
		return nil
	}
	cl.mu.Lock()
	defer cl.mu.Unlock()
	var set imap.UIDSet
	for _, ref := range refs {
		if ref.Mailbox != "" && ref.Mailbox != cl.acct.mailbox() {
			return fmt.Errorf("mailbox: mark: message of another mailbox: %w", app.ErrInvalid)
		}
		if ref.UIDValidity != refs[0].UIDValidity {
			return fmt.Errorf("mailbox: mark: messages of several UIDVALIDITY: %w", app.ErrInvalid)
		}
		set.AddNum(imap.UID(ref.UID))
	}
	c, sel, err := cl.session(ctx)
	if err != nil {
		return err
	}
	if sel.UIDValidity != refs[0].UIDValidity {
		return fmt.Errorf("mailbox: mark: UIDVALIDITY changed: %w", app.ErrConflict)
	}
	keyword := cl.acct.Mark != MarkMove && permits(sel.PermanentFlags, app.ImportedKeyword)
	if keyword {
		err := c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{app.ImportedKeyword}}, nil).Close()
		if err != nil {
			cl.drop()
			return fmt.Errorf("mailbox: mark: %v: %w", err, app.ErrOffline)
		}
		return nil
	}
	if cl.acct.Mark == MarkKeyword || cl.acct.ImportedFolder == "" {
		return nil
	}
	caps := c.Caps()
	if !caps.Has(imap.CapMove) && !caps.Has(imap.CapUIDPlus) && !caps.Has(imap.CapIMAP4rev2) {
		cl.log.Warn("mailbox: cannot move imported message: server has neither MOVE nor UIDPLUS")
		return nil
	}
	if err := c.Create(cl.acct.ImportedFolder, nil).Wait(); err != nil {
		var ie *imap.Error
		if !errors.As(err, &ie) || (ie.Code != imap.ResponseCodeAlreadyExists && ie.Type != imap.StatusResponseTypeNo) {
			cl.drop()
			return fmt.Errorf("mailbox: create folder: %v: %w", err, app.ErrOffline)
		}
	}
	if _, err := c.Move(set, cl.acct.ImportedFolder).Wait(); err != nil {
		cl.drop()
		return fmt.Errorf("mailbox: move: %v: %w", err, app.ErrOffline)
	}
	return nil
}

// permits reports whether PERMANENTFLAGS allow setting keyword.
func permits(flags []imap.Flag, keyword string) bool {
	for _, f := range flags {
		if f == imap.FlagWildcard || strings.EqualFold(string(f), keyword) {
			return true
		}
	}
	return false
}
