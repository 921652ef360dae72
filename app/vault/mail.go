package vault

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"go.etcd.io/bbolt"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/crypto"
)

// Secure messaging (app/mail.go) in the vault: four buckets, created on
// the first mail write (a vault made before them simply has none yet):
//
//	inbox   one app.InboxItem per item id (manual queue and quarantine)
//	mraw    one sealed raw message per message key: a 4-byte length ‖
//	        the JSON of its key and server reference ‖ the message bytes
//	mrec    one app.MailRecord per message key (deduplication)
//	mstate  one app.MailboxState per (account, mailbox) (sync point)
//
// Keys are opaque HMACs (the blind subkey) of a domain and the record's
// identifiers, like every other key of the vault: a Message-ID, an account
// name or a folder never appears in clear. Values are sealed with the
// vault-level subkey carnet/mail/v1 of the VMK (not a patient's key: an
// unmatched message belongs to no patient yet), with associated data
// bucket ‖ key ‖ kind ‖ record version, so a value moved under another key,
// bucket or kind does not open.
//
// Retention (PruneMail): the deduplication record and the sync point are
// kept for ever (small, no content); a raw message is dropped once its
// message is settled for longer than the retention period
// (app.Settings.RetentionDays): every report filed automatically, a
// duplicate, or every inbox item of the message attached or rejected by a
// person. Pending and quarantined messages keep their raw copy: a person
// still needs it. The inbox item of a settled report has its content
// dropped at decision time (app.Service.AttachInboxItem): the document is
// then in the patient's record, or rejected.
//
// Caveat: mail records are sealed under the vault-level mail key, so Purge
// (crypto-shredding of one patient's key) does not shred the raw messages
// and inbox items that concern the purged patient; they leave the vault by
// retention (raw messages) or when a person rejects the item.

// Bucket names of the mail records.
const (
	bInbox     = "inbox"
	bMailRaw   = "mraw"
	bMailRec   = "mrec"
	bMailState = "mstate"
)

// mailBuckets are created on demand by writeMail; Check tolerates their
// absence.
var mailBuckets = []string{bInbox, bMailRaw, bMailRec, bMailState}

// Record kinds of the mail records (a range of their own, apart from the
// kinds of records.go).
const (
	kindInbox     byte = 0x40 // app.InboxItem (JSON)
	kindMailRaw   byte = 0x41 // raw message (see the file comment)
	kindMailRec   byte = 0x42 // app.MailRecord (JSON)
	kindMailState byte = 0x43 // app.MailboxState (JSON)
)

// Blind domains of the mail records.
const (
	domInbox     = "inbox"
	domMailRaw   = "mraw"
	domMailRec   = "mrec"
	domMailState = "mstate"
)

// infoMail is the HKDF purpose of the mail subkey of the VMK.
const infoMail = "carnet/mail/v1"

// mailAEAD derives the mail subkey and its AEAD; the caller calls done to
// wipe the key when the AEAD is no longer needed.
func mailAEAD(k *keys) (a *crypto.AEAD, done func(), err error) {
	key := k.vmk.Derive(infoMail)
	a, err = crypto.NewAEAD(key)
	if err != nil {
		key.Wipe()
		return nil, nil, err
	}
	return a, key.Wipe, nil
}

// rawMeta is what a sealed raw message carries besides its bytes.
type rawMeta struct {
	Key string
	Ref app.MessageRef
}

// encodeRaw returns the head of a raw message's plaintext (the length and
// JSON of its rawMeta); the message bytes follow it.
func encodeRaw(r app.RawMessage) ([]byte, error) {
	meta, err := json.Marshal(rawMeta{Key: r.Key, Ref: r.Ref})
	if err != nil {
		return nil, err
	}
	out := make([]byte, 4, 4+len(meta))
	binary.BigEndian.PutUint32(out, uint32(len(meta)))
	return append(out, meta...), nil
}

func decodeRaw(plain []byte) (app.RawMessage, bool) {
	if len(plain) < 4 {
		return app.RawMessage{}, false
	}
	n := binary.BigEndian.Uint32(plain)
	if uint64(n) > uint64(len(plain)-4) {
		return app.RawMessage{}, false
	}
	var m rawMeta
	if err := json.Unmarshal(plain[4:4+n], &m); err != nil {
		return app.RawMessage{}, false
	}
	return app.RawMessage{Key: m.Key, Ref: m.Ref, Bytes: append([]byte(nil), plain[4+n:]...)}, true
}

// hasMail reports whether a batch carries mail records.
func hasMail(b *app.Batch) bool {
	return len(b.Inbox)+len(b.MailRaw)+len(b.MailRecords)+len(b.MailStates) > 0
}

// writeMail applies the mail fields of a batch inside Write's transaction;
// release drops each raw message's bytes from b once sealed
// (WriteReleasing).
func writeMail(tx *bbolt.Tx, k *keys, b *app.Batch, release bool) error {
	if !hasMail(b) {
		return nil
	}
	for _, it := range b.Inbox {
		if it.ID == "" {
			return fmt.Errorf("inbox item without id: %w", app.ErrInvalid)
		}
	}
	for _, r := range b.MailRaw {
		if r.Key == "" {
			return fmt.Errorf("raw message without key: %w", app.ErrInvalid)
		}
	}
	for _, r := range b.MailRecords {
		if r.Key == "" {
			return fmt.Errorf("mail record without key: %w", app.ErrInvalid)
		}
	}
	for _, st := range b.MailStates {
		if st.Account == "" || st.Mailbox == "" {
			return fmt.Errorf("mailbox state without account or mailbox: %w", app.ErrInvalid)
		}
	}
	bk := map[string]*bbolt.Bucket{}
	for _, n := range mailBuckets {
		var err error
		if bk[n], err = tx.CreateBucketIfNotExists([]byte(n)); err != nil {
			return err
		}
	}
	a, done, err := mailAEAD(k)
	if err != nil {
		return err
	}
	defer done()
	bl := k.blinder()
	put := func(bucket string, key []byte, kind byte, v any) error {
		val, err := sealJSON(a, bucket, key, kind, v)
		if err != nil {
			return err
		}
		return bk[bucket].Put(key, val)
	}
	for _, it := range b.Inbox {
		if err := put(bInbox, bl.Blind(domInbox, string(it.ID)), kindInbox, it); err != nil {
			return err
		}
	}
	for i, r := range b.MailRaw {
		key := bl.Blind(domMailRaw, r.Key)
		if r.Bytes == nil {
			if err := deleteBig(bk[bMailRaw], key); err != nil {
				return err
			}
			continue
		}
		head, err := encodeRaw(r)
		if err != nil {
			return err
		}
		// Sealed as head ‖ bytes without copying the message once more.
		val := a.SealParts(nil, recordAAD(bMailRaw, key, kindMailRaw), head, r.Bytes)
		clear(head)
		if err := putBig(bk[bMailRaw], key, val); err != nil { // bigval.go
			return err
		}
		if release {
			b.MailRaw[i].Bytes = nil
		}
	}
	for _, r := range b.MailRecords {
		if err := put(bMailRec, bl.Blind(domMailRec, r.Key), kindMailRec, r); err != nil {
			return err
		}
	}
	for _, st := range b.MailStates {
		if err := put(bMailState, bl.Blind(domMailState, st.Account, st.Mailbox), kindMailState, st); err != nil {
			return err
		}
	}
	return nil
}

// readMail runs fn in a read transaction with the mail AEAD.
func (v *Vault) readMail(op string, fn func(tx *bbolt.Tx, bl *crypto.Blinder, a *crypto.AEAD) error) error {
	return v.read(op, func(tx *bbolt.Tx, k *keys) error {
		a, done, err := mailAEAD(k)
		if err != nil {
			return err
		}
		defer done()
		return fn(tx, k.blinder(), a)
	})
}

// MailState returns a mailbox's sync point; the zero state (with Account
// and Mailbox set) when none was stored.
func (v *Vault) MailState(ctx context.Context, account, mailbox string) (app.MailboxState, error) {
	st := app.MailboxState{Account: account, Mailbox: mailbox}
	err := v.readMail("read mail state", func(tx *bbolt.Tx, bl *crypto.Blinder, a *crypto.AEAD) error {
		b := tx.Bucket([]byte(bMailState))
		if b == nil {
			return nil
		}
		key := bl.Blind(domMailState, account, mailbox)
		if val := b.Get(key); val != nil {
			return openJSON(a, bMailState, key, kindMailState, val, &st)
		}
		return nil
	})
	if err != nil {
		return app.MailboxState{}, err
	}
	return st, nil
}

// MailRecord returns the deduplication record of a message, and whether
// one exists.
func (v *Vault) MailRecord(ctx context.Context, key string) (app.MailRecord, bool, error) {
	var r app.MailRecord
	found := false
	err := v.readMail("read mail record", func(tx *bbolt.Tx, bl *crypto.Blinder, a *crypto.AEAD) error {
		b := tx.Bucket([]byte(bMailRec))
		if b == nil {
			return nil
		}
		k := bl.Blind(domMailRec, key)
		val := b.Get(k)
		if val == nil {
			return nil
		}
		found = true
		return openJSON(a, bMailRec, k, kindMailRec, val, &r)
	})
	if err != nil {
		return app.MailRecord{}, false, err
	}
	return r, found, nil
}

// Inbox returns the manual queue and the quarantine, oldest first (by
// CreatedAt, then id).
func (v *Vault) Inbox(ctx context.Context) ([]app.InboxItem, error) {
	var items []app.InboxItem
	err := v.readMail("read inbox", func(tx *bbolt.Tx, bl *crypto.Blinder, a *crypto.AEAD) error {
		var err error
		items, err = readInbox(tx, a)
		return err
	})
	if err != nil {
		return nil, err
	}
	return items, nil
}

func readInbox(tx *bbolt.Tx, a *crypto.AEAD) ([]app.InboxItem, error) {
	b := tx.Bucket([]byte(bInbox))
	if b == nil {
		return nil, nil
	}
	return listSealed(b, a, bInbox, kindInbox, func(it app.InboxItem) (time.Time, string) { return it.CreatedAt, string(it.ID) })
}

// RawMessage returns a sealed raw message (app.ErrNotFound when absent or
// dropped by retention).
func (v *Vault) RawMessage(ctx context.Context, key string) (app.RawMessage, error) {
	var r app.RawMessage
	err := v.readMail("read raw message", func(tx *bbolt.Tx, bl *crypto.Blinder, a *crypto.AEAD) error {
		b := tx.Bucket([]byte(bMailRaw))
		k := bl.Blind(domMailRaw, key)
		var val []byte
		if b != nil {
			val = getBig(b, k)
		}
		if val == nil {
			return fmt.Errorf("raw message: %w", app.ErrNotFound)
		}
		plain, err := open(a, bMailRaw, k, kindMailRaw, val)
		if err != nil {
			return err
		}
		var ok bool
		r, ok = decodeRaw(plain)
		clear(plain)
		if !ok {
			return damaged(bMailRaw, k)
		}
		return nil
	})
	if err != nil {
		return app.RawMessage{}, err
	}
	return r, nil
}

// PruneMail implements app.MailPruner: it drops the raw messages of the
// messages settled before before (see the retention rule above) and
// returns how many it dropped. Records, sync points and inbox items stay.
func (v *Vault) PruneMail(ctx context.Context, before time.Time) (int, error) {
	n := 0
	err := v.write("prune mail", func(tx *bbolt.Tx, k *keys) error {
		raws, recs := tx.Bucket([]byte(bMailRaw)), tx.Bucket([]byte(bMailRec))
		if raws == nil || recs == nil {
			return nil
		}
		a, done, err := mailAEAD(k)
		if err != nil {
			return err
		}
		defer done()
		items, err := readInbox(tx, a)
		if err != nil {
			return err
		}
		// settledAt: per message key, the latest decision, or zero when an
		// item is still pending or quarantined.
		settledAt := map[string]time.Time{}
		open := map[string]bool{}
		for _, it := range items {
			switch it.State {
			case app.InboxAttached, app.InboxRejected:
				if it.DecidedAt.After(settledAt[it.MessageKey]) {
					settledAt[it.MessageKey] = it.DecidedAt
				}
			default:
				open[it.MessageKey] = true
			}
		}
		bl := k.blinder()
		var drop [][]byte
		err = recs.ForEach(func(key, val []byte) error {
			var r app.MailRecord
			if err := openJSON(a, bMailRec, key, kindMailRec, val, &r); err != nil {
				return err
			}
			when := r.At
			switch r.Outcome {
			case app.OutcomeFiled, app.OutcomeDuplicate:
			case app.OutcomeManual:
				if open[r.Key] || settledAt[r.Key].IsZero() {
					return nil
				}
				when = settledAt[r.Key]
			default: // quarantined: a person still needs it
				return nil
			}
			if !when.Before(before) {
				return nil
			}
			if rk := bl.Blind(domMailRaw, r.Key); getBig(raws, rk) != nil {
				drop = append(drop, rk)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, rk := range drop {
			if err := deleteBig(raws, rk); err != nil {
				return err
			}
		}
		n = len(drop)
		return ctx.Err()
	})
	return n, err
}

// mail checks the mail buckets: every value opens under its own key, kind
// and bucket, is filed under the key its identifiers give, and every inbox
// item and raw message belongs to a handled message.
func (c *checker) mail() {
	a, done, err := mailAEAD(c.k)
	if err != nil {
		c.problem("mail: key: %v", err)
		return
	}
	defer done()
	records := map[string]bool{}
	if b := c.tx.Bucket([]byte(bMailRec)); b != nil {
		_ = b.ForEach(func(key, val []byte) error {
			var r app.MailRecord
			if err := openJSON(a, bMailRec, key, kindMailRec, val, &r); err != nil {
				c.problem("%v", err)
				return nil
			}
			c.rep.Records++
			if string(c.bl.Blind(domMailRec, r.Key)) != string(key) {
				c.problem("mrec: record %x… is filed under another message's key", key[:min(4, len(key))])
			}
			records[r.Key] = true
			return nil
		})
	}
	orphans := 0
	if b := c.tx.Bucket([]byte(bInbox)); b != nil {
		_ = b.ForEach(func(key, val []byte) error {
			var it app.InboxItem
			if err := openJSON(a, bInbox, key, kindInbox, val, &it); err != nil {
				c.problem("%v", err)
				return nil
			}
			c.rep.Records++
			if string(c.bl.Blind(domInbox, string(it.ID))) != string(key) {
				c.problem("inbox: item %x… is filed under another item's key", key[:min(4, len(key))])
			}
			if !records[it.MessageKey] {
				orphans++
			}
			return nil
		})
	}
	if orphans > 0 {
		c.problem("inbox: %d items belong to no handled message", orphans)
	}
	orphans = 0
	if b := c.tx.Bucket([]byte(bMailRaw)); b != nil {
		_ = forEachBig(b, func(key, val []byte) error {
			plain, err := open(a, bMailRaw, key, kindMailRaw, val)
			if err != nil {
				c.problem("%v", err)
				return nil
			}
			r, ok := decodeRaw(plain)
			clear(plain)
			if !ok {
				c.problem("%v", damaged(bMailRaw, key))
				return nil
			}
			c.rep.Records++
			if string(c.bl.Blind(domMailRaw, r.Key)) != string(key) {
				c.problem("mraw: message %x… is filed under another message's key", key[:min(4, len(key))])
			}
			if !records[r.Key] {
				orphans++
			}
			return nil
		})
	}
	if orphans > 0 {
		c.problem("mraw: %d raw messages belong to no handled message", orphans)
	}
	if b := c.tx.Bucket([]byte(bMailState)); b != nil {
		_ = b.ForEach(func(key, val []byte) error {
			var st app.MailboxState
			if err := openJSON(a, bMailState, key, kindMailState, val, &st); err != nil {
				c.problem("%v", err)
				return nil
			}
			c.rep.Records++
			if string(c.bl.Blind(domMailState, st.Account, st.Mailbox)) != string(key) {
				c.problem("mstate: state %x… is filed under another mailbox's key", key[:min(4, len(key))])
			}
			return nil
		})
	}
}
