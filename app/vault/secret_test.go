package vault

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"go.etcd.io/bbolt"

	"github.com/carnetdesk/carnet/app"
)

func TestMailSecret(t *testing.T) {
	opt := testOptions()
	v, path := newTestVault(t, opt)
	const acct = "Canary.Account@clinique.mssante.fr"
	secret := []byte("canary-password-7f3a91")

	_, err := v.MailSecret(ctx, acct)
	mustKind(t, err, app.ErrNotFound) // no bucket yet
	mustOK(t, v.SaveMailSecret(ctx, acct, secret))
	got, err := v.MailSecret(ctx, strings.ToLower(acct)) // BAL addresses compare without case
	mustOK(t, err)
	if !bytes.Equal(got, secret) {
		t.Fatalf("secret %q", got)
	}
	_, err = v.MailSecret(ctx, "other@clinique.mssante.fr")
	mustKind(t, err, app.ErrNotFound)
	rep := checkOK(t, v)
	if rep.Records == 0 {
		t.Fatal("check counted nothing")
	}

	for _, tc := range []struct {
		name    string
		account string
		secret  []byte
	}{
		{"no account", "  ", secret},
		{"too long", acct, bytes.Repeat([]byte{'x'}, maxMailSecret+1)},
	} {
		mustKind(t, v.SaveMailSecret(ctx, tc.account, tc.secret), app.ErrInvalid)
	}

	// Locked: nothing comes out.
	v.Lock()
	_, err = v.MailSecret(ctx, acct)
	mustKind(t, err, app.ErrLocked)
	mustKind(t, v.SaveMailSecret(ctx, acct, secret), app.ErrLocked)

	// Neither the secret nor the account is in the file in clear.
	mustOK(t, v.Close())
	raw, err := os.ReadFile(path)
	mustOK(t, err)
	if n := countIn(raw, string(secret), "canary.account", "Canary.Account"); n != 0 {
		t.Fatalf("%d clear hits in the vault file", n)
	}

	// A value moved under another account's key does not open.
	v = reopen(t, nil, path, opt, testPass)
	mustOK(t, v.SaveMailSecret(ctx, "second@clinique.mssante.fr", []byte("second-secret")))
	mustOK(t, v.Close())
	rawUpdate(t, path, func(tx *bbolt.Tx) error {
		b := tx.Bucket([]byte(bMailSecret))
		var keys, vals [][]byte
		_ = b.ForEach(func(k, v []byte) error {
			keys, vals = append(keys, append([]byte(nil), k...)), append(vals, append([]byte(nil), v...))
			return nil
		})
		if len(keys) != 2 {
			t.Fatalf("%d records", len(keys))
		}
		if err := b.Put(keys[0], vals[1]); err != nil {
			return err
		}
		return b.Put(keys[1], vals[0])
	})
	v = reopen(t, nil, path, opt, testPass)
	defer v.Close()
	_, err = v.MailSecret(ctx, acct)
	mustKind(t, err, app.ErrDamaged)
	rep, err = v.Check(ctx)
	mustOK(t, err)
	if rep.OK() {
		t.Fatal("check missed swapped secrets")
	}

	// Forgetting: an empty secret deletes.
	mustOK(t, v.SaveMailSecret(ctx, "second@clinique.mssante.fr", nil))
	_, err = v.MailSecret(ctx, "second@clinique.mssante.fr")
	mustKind(t, err, app.ErrNotFound)
}
