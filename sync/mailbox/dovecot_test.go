//go:build linux

package mailbox

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// dovecot is a Dovecot 2.3 instance started by the tests (reference §4):
// its own config under a fresh temp dir (not t.TempDir: its 0700 parent
// would stop Dovecot's processes when running as root), processes running
// as the "dovecot" package user when root (userdb must not return uid 0),
// a fresh base_dir per run, TLS with a test CA generated here, and no auth
// penalty so that wrong-password tests do not slow the others.
type dovecot struct {
	dir       string
	conf      string
	imaps     int // implicit TLS port
	imap      int // STARTTLS port
	roots     *x509.CertPool
	otherRoot *x509.CertPool // a CA that did not sign the server
	cmd       *exec.Cmd
}

const testPassword = "s3cret"

var (
	dovecotOnce  sync.Map // capability variant → *dovecotOnceEntry
	userCounter  atomic.Int64
	dovecotProcs []*dovecot
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
		d.stop()
	}
	dovecotMu.Unlock()
	os.Exit(code)
}

// startDovecot returns the shared instance of a capability variant ("" for
// the full Debian capability list; a list such as "IMAP4rev1 AUTH=PLAIN"
// to emulate a poorer server), starting it on first use. It skips the test
// when the dovecot binary is absent.
func startDovecot(t *testing.T, caps string) *dovecot {
	t.Helper()
	if _, err := exec.LookPath("dovecot"); err != nil {
		t.Skip("dovecot not installed (apt-get install dovecot-imapd): skipping the IMAP integration test")
	}
	if testing.Short() {
		t.Skip("-short: skipping the Dovecot integration test")
	}
	e, _ := dovecotOnce.LoadOrStore(caps, &dovecotOnceEntry{})
	entry := e.(*dovecotOnceEntry)
	entry.once.Do(func() { entry.d, entry.err = launch(caps) })
	if entry.err != nil {
		t.Fatal(entry.err)
	}
	return entry.d
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func launch(caps string) (*dovecot, error) {
	runAs := "dovecot"
	if os.Geteuid() != 0 {
		u, err := user.Current()
		if err != nil {
			return nil, err
		}
		runAs = u.Username
	}
	dir, err := os.MkdirTemp("", "carnet-dovecot-")
	if err != nil {
		return nil, err
	}
	d := &dovecot{dir: dir, conf: filepath.Join(dir, "dovecot.conf")}
	if d.imaps, err = freePort(); err != nil {
		return nil, err
	}
	if d.imap, err = freePort(); err != nil {
		return nil, err
	}
	certPEM, keyPEM, roots, err := testCA("Carnet test CA")
	if err != nil {
		return nil, err
	}
	_, _, other, err := testCA("Not IGC-Santé")
	if err != nil {
		return nil, err
	}
	d.roots, d.otherRoot = roots, other
	var users strings.Builder
	for i := 0; i < 200; i++ {
		fmt.Fprintf(&users, "u%d@clinique.mssante.fr:{PLAIN}%s\n", i, testPassword)
	}
	capLine := ""
	if caps != "" {
		capLine = "imap_capability = " + caps
	}
	conf := fmt.Sprintf(`base_dir = %[1]s/run
state_dir = %[1]s/state
log_path = %[1]s/dovecot.log
protocols = imap
listen = 127.0.0.1
default_login_user = %[2]s
default_internal_user = %[2]s
default_internal_group = %[2]s
first_valid_uid = 1
ssl = required
ssl_cert = <%[1]s/cert.pem
ssl_key = <%[1]s/key.pem
auth_mechanisms = plain login
auth_failure_delay = 0
%[5]s
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%%u %[1]s/users
}
userdb {
  driver = static
  args = uid=%[2]s gid=%[2]s home=%[1]s/home/%%u
}
mail_location = maildir:~/Maildir
namespace inbox {
  inbox = yes
  separator = /
}
service imap-login {
  chroot =
  inet_listener imap {
    address = 127.0.0.1
    port = %[4]d
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = %[3]d
    ssl = yes
  }
}
service anvil {
  chroot =
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
`, dir, runAs, d.imaps, d.imap, capLine)
	for name, b := range map[string][]byte{"dovecot.conf": []byte(conf), "cert.pem": certPEM, "key.pem": keyPEM, "users": []byte(users.String())} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return nil, err
		}
	}
	if os.Geteuid() == 0 {
		if err := os.Chmod(dir, 0o755); err != nil {
			return nil, err
		}
		if out, err := exec.Command("chown", "-R", runAs+":", dir).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("chown: %v %s", err, out)
		}
	}
	d.cmd = exec.Command("dovecot", "-F", "-c", d.conf)
	d.cmd.Stdout, d.cmd.Stderr = os.Stderr, os.Stderr
	// If the test binary dies (timeout panic, kill), the master goes too.
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := d.cmd.Start(); err != nil {
		return nil, err
	}
	dovecotMu.Lock()
	dovecotProcs = append(dovecotProcs, d)
	dovecotMu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(d.imaps)), 200*time.Millisecond)
		if err == nil {
			c.Close()
			return d, nil
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "dovecot.log"))
			return nil, fmt.Errorf("dovecot did not start: %v\n%s", err, log)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// stop ends the master process we started (it reaps its children) and
// removes the temp dir.
func (d *dovecot) stop() {
	if d.cmd != nil && d.cmd.Process != nil {
		_ = d.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { d.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = d.cmd.Process.Kill()
		}
	}
	os.RemoveAll(d.dir)
}

// newUser returns a fresh mailbox user for one test.
func (d *dovecot) newUser() string {
	return fmt.Sprintf("u%d@clinique.mssante.fr", userCounter.Add(1))
}

// deliver saves a message into a user's folder with doveadm save.
func (d *dovecot) deliver(t *testing.T, user, folder string, raw []byte) {
	t.Helper()
	cmd := exec.Command("doveadm", "-c", d.conf, "save", "-u", user, "-m", folder)
	cmd.Stdin = bytes.NewReader(raw)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("doveadm save: %v %s", err, out)
	}
}

// doveadm runs a doveadm command and returns its output.
func (d *dovecot) doveadm(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("doveadm", append([]string{"-c", d.conf}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("doveadm %v: %v %s", args, err, out)
	}
	return string(out)
}

// account returns an account of user on this server.
func (d *dovecot) account(user string, sec Security) Account {
	port := d.imaps
	if sec == StartTLS {
		port = d.imap
	}
	return Account{Name: user, Host: "localhost", Port: port, Security: sec, RootCAs: d.roots,
		Username: user, Password: []byte(testPassword), Demo: true, DialTimeout: 5 * time.Second}
}

// testCA makes a CA and a server certificate for localhost and 127.0.0.1
// signed by it; it returns the server certificate and key in PEM and a
// pool holding the CA.
func testCA(name string) (certPEM, keyPEM []byte, roots *x509.CertPool, err error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(48 * time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, nil, nil, err
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(48 * time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, nil, err
	}
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, nil, err
	}
	roots = x509.NewCertPool()
	roots.AddCert(ca)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), roots, nil
}
