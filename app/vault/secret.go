package vault

import (
	"context"
	"fmt"
	"strings"

	"go.etcd.io/bbolt"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/crypto"
)

// Mailbox secrets (app.Store.MailSecret): the password or access token of
// each secure mailbox the desktop application imports, so that the import
// runs in the background without asking for it at every cycle. One bucket,
// created on the first save:
//
//	msec    one sealed mailSecret per account (the BAL address)
//
// The key is the blind HMAC of the account, the value is sealed with the
// mail subkey of the VMK (like the other mail records) with associated data
// bucket ‖ key ‖ kind ‖ record version. A secret leaves the vault only
// through MailSecret, for the mailbox adapter.
const (
	bMailSecret   = "msec"
	domMailSecret = "msec"
	// kindMailSecret is a mailSecret (JSON), in the mail kinds' range.
	kindMailSecret byte = 0x44
)

// maxMailSecret bounds a stored secret (an OAuth access token is a few
// kilobytes at most).
const maxMailSecret = 16 << 10

// mailSecret is the sealed record of one account's secret.
type mailSecret struct {
	Account string
	Secret  []byte
}

// secretAccount normalises an account name: BAL addresses compare without
// case.
func secretAccount(account string) string { return strings.ToLower(strings.TrimSpace(account)) }

// MailSecret returns the secret stored for account; ErrNotFound when none.
func (v *Vault) MailSecret(ctx context.Context, account string) ([]byte, error) {
	var out []byte
	err := v.readMail("read mailbox secret", func(tx *bbolt.Tx, bl *crypto.Blinder, a *crypto.AEAD) error {
		b := tx.Bucket([]byte(bMailSecret))
		if b == nil {
			return app.ErrNotFound
		}
		key := bl.Blind(domMailSecret, secretAccount(account))
		val := b.Get(key)
		if val == nil {
			return app.ErrNotFound
		}
		var s mailSecret
		if err := openJSON(a, bMailSecret, key, kindMailSecret, val, &s); err != nil {
			return err
		}
		out = s.Secret
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// SaveMailSecret stores the secret of account; an empty secret forgets it.
func (v *Vault) SaveMailSecret(ctx context.Context, account string, secret []byte) error {
	acct := secretAccount(account)
	switch {
	case acct == "":
		return fmt.Errorf("vault: save mailbox secret: no account: %w", app.ErrInvalid)
	case len(secret) > maxMailSecret:
		return fmt.Errorf("vault: save mailbox secret: %d bytes, over %d: %w", len(secret), maxMailSecret, app.ErrInvalid)
	}
	return v.write("save mailbox secret", func(tx *bbolt.Tx, k *keys) error {
		a, done, err := mailAEAD(k)
		if err != nil {
			return err
		}
		defer done()
		key := k.blinder().Blind(domMailSecret, acct)
		if len(secret) == 0 {
			if b := tx.Bucket([]byte(bMailSecret)); b != nil {
				return b.Delete(key)
			}
			return nil
		}
		b, err := tx.CreateBucketIfNotExists([]byte(bMailSecret))
		if err != nil {
			return err
		}
		val, err := sealJSON(a, bMailSecret, key, kindMailSecret, mailSecret{Account: acct, Secret: secret})
		if err != nil {
			return err
		}
		return b.Put(key, val)
	})
}

// mailSecrets checks the secrets bucket: every value opens under its own
// key and is filed under its account's key.
func (c *checker) mailSecrets() {
	b := c.tx.Bucket([]byte(bMailSecret))
	if b == nil {
		return
	}
	a, done, err := mailAEAD(c.k)
	if err != nil {
		c.problem("msec: key: %v", err)
		return
	}
	defer done()
	_ = b.ForEach(func(key, val []byte) error {
		var s mailSecret
		if err := openJSON(a, bMailSecret, key, kindMailSecret, val, &s); err != nil {
			c.problem("%v", err)
			return nil
		}
		c.rep.Records++
		if string(c.bl.Blind(domMailSecret, s.Account)) != string(key) {
			c.problem("msec: record %x… is filed under another account's key", key[:min(4, len(key))])
		}
		return nil
	})
}
