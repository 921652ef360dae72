package vault

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/crypto"
)

// Rollback, leftovers and the throttle across processes: findings of the
// hostile review (issue 15), each failing on the code before the fix.

// TestRollbackOlderCopy: an older copy of the file put back (a backup, a
// disk image, an attacker undoing a purge or the audit log) is refused
// with app.ErrOlderVault; it opens only by the user's choice, with a
// warning, and the choice is not remembered for the next older copy.
func TestRollbackOlderCopy(t *testing.T) {
	for _, mode := range []string{"keyring", "file"} {
		t.Run(mode, func(t *testing.T) {
			opt := testOptions()
			if mode == "file" {
				opt.Keyring = crypto.NoKeyring{}
			}
			v, path := newTestVault(t, opt)
			mustOK(t, v.Write(ctx, patientBatch(synthPatient(4), 1, 1000)))
			mustOK(t, v.Close())
			older, err := os.ReadFile(path)
			mustOK(t, err)
			v = reopen(t, nil, path, opt, testPass)
			mustOK(t, v.Write(ctx, patientBatch(synthPatient(5), 1, 1000)))
			mustOK(t, v.Close())
			newer, err := os.ReadFile(path)
			mustOK(t, err)

			mustOK(t, os.WriteFile(path, older, 0o600))
			v, err = Open(path, opt)
			mustOK(t, err)
			_, err = v.Unlock(ctx, append([]byte(nil), testPass...))
			mustKind(t, err, app.ErrOlderVault)
			if !v.Locked() {
				t.Fatal("an older copy was left unlocked")
			}
			// The choice lasts one attempt: a mistyped passphrase uses it up.
			v.AcceptOlderOnce()
			_, err = v.Unlock(ctx, []byte("mistyped passphrase here"))
			mustKind(t, err, app.ErrWrongPassphrase)
			_, err = v.Unlock(ctx, append([]byte(nil), testPass...))
			mustKind(t, err, app.ErrOlderVault)
			v.AcceptOlderOnce()
			rep, err := v.Unlock(ctx, append([]byte(nil), testPass...))
			mustOK(t, err)
			if !hasWarning(rep.Warnings, app.WarnOlderVault) {
				t.Fatalf("warnings %v", rep.Warnings)
			}
			mustOK(t, v.Close())
			// The newer file is now older than the accepted copy's new
			// counter? No: the accepted copy took the mirror's value + 1, so
			// the newer file is older than it now, and is refused in turn.
			mustOK(t, os.WriteFile(path, newer, 0o600))
			v, err = Open(path, opt)
			mustOK(t, err)
			_, err = v.Unlock(ctx, append([]byte(nil), testPass...))
			mustKind(t, err, app.ErrOlderVault)
			mustOK(t, v.Close())
		})
	}
}

// TestRollbackCounterBound: the counter cannot be raised in an older copy
// without the key (it is inside the header MAC).
func TestRollbackCounterBound(t *testing.T) {
	opt := testOptions()
	v, path := newTestVault(t, opt)
	mustOK(t, v.Close())
	rawUpdate(t, path, func(tx *bbolt.Tx) error {
		return putWithSum(tx.Bucket([]byte(bHeader)), hCounter, encodeCounter(1<<40))
	})
	v, err := Open(path, opt)
	mustOK(t, err)
	defer v.Close()
	_, err = v.Unlock(ctx, append([]byte(nil), testPass...))
	mustKind(t, err, app.ErrDamaged)
}

// TestRollbackCompactionLeftover: a compaction killed at the rename leaves
// a complete second vault (path.compact-*) beside the file; the next open
// removes it (and a half-built creation, a staged secret) and the unlock
// reports it.
func TestRollbackCompactionLeftover(t *testing.T) {
	opt := testOptions()
	v, path := newTestVault(t, opt)
	mustOK(t, v.Write(ctx, patientBatch(synthPatient(6), 2, 2000)))
	mustOK(t, v.Close())
	raw, err := os.ReadFile(path)
	mustOK(t, err)
	left := []string{path + ".compact-123456", path + ".creating-98765", path + ".device.0011223344556677.tmp"}
	for _, l := range left {
		mustOK(t, os.WriteFile(l, raw, 0o600))
	}
	keep := path + ".notes" // not ours: kept
	mustOK(t, os.WriteFile(keep, []byte("x"), 0o600))
	v, err = Open(path, opt)
	mustOK(t, err)
	defer v.Close()
	for _, l := range left {
		if _, err := os.Stat(l); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%s still there: %v", filepath.Base(l), err)
		}
	}
	if _, err := os.Stat(keep); err != nil {
		t.Fatal("a file that is not a leftover was removed")
	}
	rep, err := v.Unlock(ctx, append([]byte(nil), testPass...))
	mustOK(t, err)
	if !hasWarning(rep.Warnings, app.WarnLeftovers) {
		t.Fatalf("warnings %v", rep.Warnings)
	}
}

// fixedClock is an app.Clock stopped at one instant, so that the throttle
// test does not depend on how long the processes take to start.
type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

const throttleEnv = "CARNET_VAULT_THROTTLE_CHILD"

// TestThrottleAcrossProcesses: six wrong passphrases in six processes in
// a row: the first app.FreeAttempts are refused as wrong, the next ones
// wait (app.ErrTooManyAttempts) without even trying the passphrase —
// including the right one. The throttle lives in the file, per vault.
func TestThrottleAcrossProcesses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "carnet.vault")
	opt := crashOptions()
	v, err := Open(path, opt)
	mustOK(t, err)
	mustOK(t, v.Create(ctx, append([]byte(nil), testPass...), app.CreateOptions{}))
	mustOK(t, v.Close())
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	child := func(pass string) string {
		cmd := exec.Command(os.Args[0], "-test.run=^TestThrottleChild$")
		cmd.Env = append(os.Environ(), throttleEnv+"="+path, "CARNET_VAULT_THROTTLE_NOW="+now.Format(time.RFC3339), "CARNET_VAULT_THROTTLE_PASS="+pass)
		out, _ := cmd.CombinedOutput()
		for _, l := range strings.Split(string(out), "\n") {
			if r, ok := strings.CutPrefix(l, "RESULT="); ok {
				return r
			}
		}
		t.Fatalf("child: %s", out)
		return ""
	}
	for i := 1; i <= 6; i++ {
		got := child("wrong passphrase number " + strconv.Itoa(i))
		want := app.ErrWrongPassphrase.Error()
		if i > app.FreeAttempts {
			want = app.ErrTooManyAttempts.Error()
		}
		if got != want {
			t.Fatalf("process %d: %q, want %q", i, got, want)
		}
	}
	if got := child(string(testPass)); got != app.ErrTooManyAttempts.Error() {
		t.Fatalf("right passphrase during the delay: %q", got)
	}
	// After the delay (the fixed clock moved past it), the right
	// passphrase opens and clears the count.
	now = now.Add(app.FirstDelay + time.Second)
	if got := child(string(testPass)); got != "ok" {
		t.Fatalf("after the delay: %q", got)
	}
	if got := child("wrong again"); got != app.ErrWrongPassphrase.Error() {
		t.Fatalf("count not cleared by the success: %q", got)
	}
}

// TestThrottleChild runs in a child process (TestThrottleAcrossProcesses).
func TestThrottleChild(t *testing.T) {
	path := os.Getenv(throttleEnv)
	if path == "" {
		t.Skip("child process only")
	}
	now, err := time.Parse(time.RFC3339, os.Getenv("CARNET_VAULT_THROTTLE_NOW"))
	mustOK(t, err)
	opt := crashOptions()
	opt.Clock = fixedClock{now}
	v, err := Open(path, opt)
	mustOK(t, err)
	defer v.Close()
	_, err = v.Unlock(ctx, []byte(os.Getenv("CARNET_VAULT_THROTTLE_PASS")))
	res := "ok"
	if err != nil {
		res = app.KindOf(err).Error()
	}
	os.Stdout.WriteString("RESULT=" + res + "\n")
}

// TestRollbackPurgedPatient: a purged patient does not come back from an
// older copy of the file (a backup taken before the purge) opened with
// today's passphrase and device: the purge moved the remaining data keys
// to a new wrapping secret and deleted the old one. The other patients
// stay readable in the current file.
func TestRollbackPurgedPatient(t *testing.T) {
	for _, mode := range []string{"keyring", "file"} {
		t.Run(mode, func(t *testing.T) {
			opt := testOptions()
			if mode == "file" {
				opt.Keyring = crypto.NoKeyring{}
			}
			v, path := newTestVault(t, opt)
			gone, kept := synthPatient(20), synthPatient(21)
			bg, bk := patientBatch(gone, 2, 1500), patientBatch(kept, 2, 1500)
			mustOK(t, v.Write(ctx, bg))
			mustOK(t, v.Write(ctx, bk))
			mustOK(t, v.Close())
			older, err := os.ReadFile(path)
			mustOK(t, err)
			// Sanity: the older copy opens and shows the patient today.
			v = reopen(t, nil, path, opt, testPass)
			if _, err := v.Document(ctx, gone.ID, bg.Documents[0].ID); err != nil {
				t.Fatal(err)
			}
			mustOK(t, v.Purge(ctx, gone.ID))
			mustOK(t, v.Close())
			v = reopen(t, nil, path, opt, testPass)
			got, err := v.Document(ctx, kept.ID, bk.Documents[1].ID)
			mustOK(t, err)
			if !bytes.Equal(got, bk.Documents[1].Bytes) {
				t.Fatal("kept patient's document changed")
			}
			checkOK(t, v)
			mustOK(t, v.Close())

			mustOK(t, os.WriteFile(path, older, 0o600))
			v, err = Open(path, opt)
			mustOK(t, err)
			defer v.Close()
			_, err = v.Unlock(ctx, append([]byte(nil), testPass...))
			mustKind(t, err, app.ErrOlderVault)
			v.AcceptOlderOnce() // the user insists
			_, err = v.Unlock(ctx, append([]byte(nil), testPass...))
			if err == nil {
				if _, err := v.Document(ctx, gone.ID, bg.Documents[0].ID); err == nil {
					t.Fatal("the purged patient's document opens from the older copy")
				}
				t.Fatal("the older copy unlocked although its wrapping secret is gone")
			}
			mustKind(t, err, app.ErrDeviceSecret)
			if !v.Locked() {
				t.Fatal("left unlocked")
			}
		})
	}
}

// TestRollbackStaleWrapSecretDropped: a purge that died between its commit
// and the deletion of the old wrapping secret left that secret (which
// opens older copies) beside the vault; the next unlock deletes it, and
// keeps the current one.
func TestRollbackStaleWrapSecretDropped(t *testing.T) {
	opt := testOptions()
	opt.Keyring = crypto.NoKeyring{}
	v, path := newTestVault(t, opt)
	p := synthPatient(22)
	mustOK(t, v.Write(ctx, patientBatch(p, 1, 500)))
	mustOK(t, v.Purge(ctx, p.ID)) // epoch 1 → 2
	mustOK(t, v.Close())
	cur := path + ".wrap.2"
	if _, err := os.Stat(cur); err != nil {
		t.Fatalf("current wrapping secret: %v", err)
	}
	stale := []string{path + ".wrap.1", path + ".wrap.3"}
	for _, s := range stale {
		mustOK(t, crypto.WriteSecretFile(s, bytes.Repeat([]byte{5}, crypto.DeviceSecretSize)))
	}
	v = reopen(t, nil, path, opt, testPass)
	for _, s := range stale {
		if _, err := os.Stat(s); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left: %v", filepath.Base(s), err)
		}
	}
	if _, err := os.Stat(cur); err != nil {
		t.Fatalf("current wrapping secret removed: %v", err)
	}
	checkOK(t, v)
}
