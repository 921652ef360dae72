//go:build linux

package mailbox

import (
	"os"
	"sync"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/sync/mailbox/mailtest"
)

// dovecot is a shared Dovecot instance of the package's tests (the
// harness is package mailtest).
type dovecot struct {
	*mailtest.Server
}

var (
	dovecotOnce  sync.Map // capability variant → *dovecotOnceEntry
	dovecotProcs []*mailtest.Server
	dovecotMu    sync.Mutex
)

type dovecotOnceEntry struct {
	once sync.Once
	d    *dovecot
	err  error
}

// TestMain stops the Dovecot instances the tests started.
func TestMain(m *testing.M) {
	code := m.Run()
	dovecotMu.Lock()
	for _, d := range dovecotProcs {
		d.Stop()
	}
	dovecotMu.Unlock()
	os.Exit(code)
}

// startDovecot returns the shared instance of a capability variant ("" for
// the full Debian capability list; a list such as "IMAP4rev1 AUTH=PLAIN"
// to emulate a poorer server), starting it on first use. It skips the test
// when the dovecot binary is absent (fails with CARNET_REQUIRE_DOVECOT=1).
//
// Without Dovecot (and without CARNET_REQUIRE_DOVECOT=1), the default
// variant runs on go-imap's in-memory server instead (mailtest.LaunchMemory);
// a test that needs doveadm then skips.
func startDovecot(t *testing.T, caps string) *dovecot {
	t.Helper()
	if caps == "" && mailtest.Available() != nil && os.Getenv("CARNET_REQUIRE_DOVECOT") != "1" {
		caps = "memory"
	} else {
		mailtest.Require(t)
	}
	if testing.Short() {
		t.Skip("-short: skipping the Dovecot integration test")
	}
	e, _ := dovecotOnce.LoadOrStore(caps, &dovecotOnceEntry{})
	entry := e.(*dovecotOnceEntry)
	entry.once.Do(func() {
		launch := mailtest.Launch
		if caps == "memory" {
			launch = func(string) (*mailtest.Server, error) { return mailtest.LaunchMemory() }
		}
		s, err := launch(caps)
		if err != nil {
			entry.err = err
			return
		}
		dovecotMu.Lock()
		dovecotProcs = append(dovecotProcs, s)
		dovecotMu.Unlock()
		entry.d = &dovecot{Server: s}
	})
	if entry.err != nil {
		t.Fatal(entry.err)
	}
	return entry.d
}

// newUser returns a fresh mailbox user for one test.
func (d *dovecot) newUser() string { return d.NewUser() }

// deliver saves a message into a user's folder with doveadm save.
func (d *dovecot) deliver(t *testing.T, user, folder string, raw []byte) {
	t.Helper()
	if err := d.Deliver(user, folder, raw); err != nil {
		t.Fatal(err)
	}
}

// doveadm runs a doveadm command and returns its output.
func (d *dovecot) doveadm(t *testing.T, args ...string) string {
	t.Helper()
	if d.Memory() {
		t.Skip("needs doveadm: Dovecot is absent (in-memory server)")
	}
	out, err := d.Doveadm(args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// account returns an account of user on this server.
func (d *dovecot) account(user string, sec Security) Account {
	port := d.IMAPS
	if sec == StartTLS {
		port = d.IMAP
	}
	return Account{Name: user, Host: "localhost", Port: port, Security: sec, RootCAs: d.Roots,
		Username: user, Password: []byte(mailtest.Password), Demo: true, DialTimeout: 5 * time.Second}
}
