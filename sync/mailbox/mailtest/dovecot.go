// Package mailtest is the test harness of the MSSanté import: a real
// Dovecot 2.3 started on loopback with TLS (reference mssante-imap.md §4),
// and builders of the messages a sender of the secure messaging space
// produces (CDA, IHE XDM archive, MIME); with Options.SubmissionRelay the
// same Dovecot also runs its SMTP submission service, relaying to a Sink
// (an SMTP server of the test). It is used by the tests of
// sync/mailbox, the kill -9 test and the import benchmark of the carnet
// command. It does not import package testing (TB is the subset it needs),
// and never package sync/mailbox (whose own tests use it).
package mailtest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// TB is the part of testing.TB the harness uses.
type TB interface {
	Helper()
	Skip(args ...any)
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Cleanup(func())
}

// Password is the password of every mailbox user of the harness.
const Password = "s3cret"

// Users is how many mailbox users (u0@… to u199@…) the server knows.
const Users = 200

// Server is a Dovecot instance started by Launch: its own config under a
// fresh temp dir (not t.TempDir: its 0700 parent would stop Dovecot's
// processes when running as root), processes running as the "dovecot"
// package user when root (userdb must not return uid 0), a fresh base_dir
// per run, TLS with a test CA generated here, and no auth penalty so that
// wrong-password tests do not slow the others.
type Server struct {
	Dir        string         // the instance's directory
	Conf       string         // dovecot.conf
	IMAPS      int            // implicit TLS port on 127.0.0.1
	IMAP       int            // STARTTLS port on 127.0.0.1
	Roots      *x509.CertPool // the test CA that signed the server certificate
	OtherRoots *x509.CertPool // a CA that did not sign it
	CAFile     string         // the test CA in PEM (for a config's ca_file)
	RunAs      string         // the account Dovecot's processes run as
	// ClientCA issues the client certificates the server accepts for SASL
	// EXTERNAL (Options.External; nil otherwise); ClientCAFile is its PEM.
	ClientCA     *ClientCA
	ClientCAFile string
	// Submission and Submissions are the SMTP submission ports (STARTTLS
	// and implicit TLS) on 127.0.0.1 when Options.SubmissionRelay is set,
	// 0 otherwise.
	Submission  int
	Submissions int
	cmd         *exec.Cmd
	users       atomic.Int64
	drops       atomic.Int64 // Maildir files dropped (unique names)
	mem         *memory      // the in-memory fallback (memory.go); nil for Dovecot
}

// Available reports why Dovecot cannot be used here, nil when it can.
func Available() error {
	for _, b := range []string{"dovecot", "doveadm"} {
		if _, err := exec.LookPath(b); err != nil {
			return fmt.Errorf("%s not installed (apt-get install dovecot-imapd)", b)
		}
	}
	return nil
}

// Require skips the test when Dovecot is absent, or fails it when the
// environment says CARNET_REQUIRE_DOVECOT=1 (make test sets it).
func Require(t TB) {
	t.Helper()
	if err := Available(); err != nil {
		if os.Getenv("CARNET_REQUIRE_DOVECOT") == "1" {
			t.Fatalf("CARNET_REQUIRE_DOVECOT=1 but %v", err)
		}
		t.Skip(err.Error() + ": skipping the IMAP integration test")
	}
}

// StartDovecot starts a Dovecot with the full Debian capability list for
// one test (stopped at its end). When Dovecot is absent it fails the test
// under CARNET_REQUIRE_DOVECOT=1 (CI), else it starts go-imap's in-memory
// server instead (memory.go; Server.Memory reports it).
func StartDovecot(t TB) *Server {
	t.Helper()
	if err := Available(); err != nil && os.Getenv("CARNET_REQUIRE_DOVECOT") != "1" {
		s, merr := LaunchMemory()
		if merr != nil {
			t.Fatal(merr)
		}
		t.Cleanup(s.Stop)
		return s
	}
	Require(t)
	s, err := Launch("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// Options selects a Dovecot variant. The zero value is the default server
// every test relies on: PLAIN and LOGIN against the users file, TLS
// without client certificates, the full Debian capability list.
type Options struct {
	// Caps, when not empty, replaces the capability list (e.g.
	// "IMAP4rev1 AUTH=PLAIN" to emulate a poorer server).
	Caps string
	// External adds a TLS client certificate CA (reference §4.7): the
	// server asks for a client certificate, verifies it against a CA of
	// its own (ClientCert issues from it; no CRL is required) and offers
	// SASL EXTERNAL, the username being the certificate's CN (the mailbox
	// address). PLAIN and LOGIN still work without a certificate.
	External bool
	// RequireClientCert (with External) makes Dovecot refuse any
	// authentication, whatever the mechanism, without a valid client
	// certificate (auth_ssl_require_client_cert).
	RequireClientCert bool
	// OAuth2IntrospectionURL, when not empty, adds OAUTHBEARER and XOAUTH2
	// (reference §4.6): Dovecot's oauth2 passdb validates each token with
	// a GET of this URL carrying "Authorization: Bearer <token>"
	// (introspection_mode = auth). Serve an Introspector there (httptest
	// on loopback).
	OAuth2IntrospectionURL string
	// SubmissionRelay, when not empty ("127.0.0.1:port", a Sink's Addr),
	// adds Dovecot's submission service (package dovecot-submissiond):
	// SMTP submission with STARTTLS (Server.Submission) and implicit TLS
	// (Server.Submissions), the same TLS certificate, mechanisms and
	// passdbs as IMAP, relaying every accepted message to this SMTP
	// server without TLS nor authentication.
	SubmissionRelay string
}

// Launch starts a Dovecot. caps, when not empty, replaces the capability
// list (e.g. "IMAP4rev1 AUTH=PLAIN" to emulate a poorer server). The
// caller stops it with Stop.
func Launch(caps string) (*Server, error) { return LaunchOptions(Options{Caps: caps}) }

// StartDovecotOptions is StartDovecot for a variant (see Options).
func StartDovecotOptions(t TB, o Options) *Server {
	t.Helper()
	Require(t)
	s, err := LaunchOptions(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// LaunchOptions starts a Dovecot variant. The caller stops it with Stop.
func LaunchOptions(o Options) (*Server, error) {
	if err := Available(); err != nil {
		return nil, err
	}
	if o.RequireClientCert && !o.External {
		return nil, errors.New("mailtest: RequireClientCert needs External")
	}
	if o.SubmissionRelay != "" {
		if err := SubmissionAvailable(); err != nil {
			return nil, err
		}
	}
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
	s := &Server{Dir: dir, Conf: filepath.Join(dir, "dovecot.conf"), RunAs: runAs, CAFile: filepath.Join(dir, "ca.pem")}
	fail := func(err error) (*Server, error) {
		os.RemoveAll(dir)
		return nil, err
	}
	if s.IMAPS, err = freePort(); err != nil {
		return fail(err)
	}
	if s.IMAP, err = freePort(); err != nil {
		return fail(err)
	}
	protocols, submission := "imap", ""
	if o.SubmissionRelay != "" {
		if submission, err = s.submissionConf(o.SubmissionRelay); err != nil {
			return fail(err)
		}
		protocols += " submission"
	}
	certPEM, keyPEM, caPEM, roots, err := TestCA("Carnet test CA")
	if err != nil {
		return fail(err)
	}
	_, _, _, other, err := TestCA("Not IGC-Santé")
	if err != nil {
		return fail(err)
	}
	s.Roots, s.OtherRoots = roots, other
	var users strings.Builder
	for i := 0; i < Users; i++ {
		fmt.Fprintf(&users, "u%d@clinique.mssante.fr:{PLAIN}%s\n", i, Password)
	}
	files := map[string][]byte{"cert.pem": certPEM, "key.pem": keyPEM, "users": []byte(users.String()), "ca.pem": caPEM}
	capLine := ""
	if o.Caps != "" {
		capLine = "imap_capability = " + o.Caps
	}
	mechs := "plain login"
	// Mechanism-specific passdbs come first; the passwd-file passdb keeps
	// no "mechanisms =" line, or doveadm's user lookups (static userdb)
	// fail with "All password databases were skipped" (reference §4.6).
	var extra, passdbs strings.Builder
	if o.External || o.OAuth2IntrospectionURL != "" {
		// Why an authentication failed, in dovecot.log (Server.Log).
		extra.WriteString("auth_verbose = yes\n")
	}
	if o.External {
		ca, err := NewClientCA("Carnet test IGC-Santé-like CA")
		if err != nil {
			return fail(err)
		}
		s.ClientCA = ca
		s.ClientCAFile = filepath.Join(dir, "clientca.pem")
		files["clientca.pem"] = ca.PEM
		mechs += " external"
		fmt.Fprintf(&extra, `ssl_ca = <%[1]s/clientca.pem
ssl_verify_client_cert = yes
# default "yes": a CA without a CRL makes every client certificate invalid
ssl_require_crl = no
auth_ssl_username_from_cert = yes
ssl_cert_username_field = commonName
`, dir)
		if o.RequireClientCert {
			extra.WriteString("auth_ssl_require_client_cert = yes\n")
		}
		passdbs.WriteString(`passdb {
  driver = static
  args = nopassword=y
  mechanisms = external
}
`)
	}
	if o.OAuth2IntrospectionURL != "" {
		mechs += " oauthbearer xoauth2"
		files["dovecot-oauth2.conf.ext"] = []byte(fmt.Sprintf(`introspection_mode = auth
introspection_url = %s
username_attribute = email
active_attribute = active
active_value = true
force_introspection = yes
`, o.OAuth2IntrospectionURL))
		fmt.Fprintf(&passdbs, `passdb {
  driver = oauth2
  mechanisms = oauthbearer xoauth2
  args = %s/dovecot-oauth2.conf.ext
  # a refused token is final: without it the token is then tried as the
  # password of the passwd-file passdb
  result_failure = return-fail
}
`, dir)
	}
	conf := fmt.Sprintf(`base_dir = %[1]s/run
state_dir = %[1]s/state
log_path = %[1]s/dovecot.log
protocols = %[9]s
listen = 127.0.0.1
default_login_user = %[2]s
default_internal_user = %[2]s
default_internal_group = %[2]s
first_valid_uid = 1
ssl = required
ssl_cert = <%[1]s/cert.pem
ssl_key = <%[1]s/key.pem
auth_mechanisms = %[6]s
auth_failure_delay = 0
%[5]s
%[7]s%[8]spassdb {
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
%[10]s`, dir, runAs, s.IMAPS, s.IMAP, capLine, mechs, extra.String(), passdbs.String(), protocols, submission)
	files["dovecot.conf"] = []byte(conf)
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return fail(err)
		}
	}
	if os.Geteuid() == 0 {
		if err := os.Chmod(dir, 0o755); err != nil {
			return fail(err)
		}
		if out, err := exec.Command("chown", "-R", runAs+":", dir).CombinedOutput(); err != nil {
			return fail(fmt.Errorf("chown: %v %s", err, out))
		}
	}
	s.cmd = exec.Command("dovecot", "-F", "-c", s.Conf)
	s.cmd.Stdout, s.cmd.Stderr = os.Stderr, os.Stderr
	// If the test binary dies (timeout panic, kill), the master goes too.
	s.cmd.SysProcAttr = dieWithParent()
	if err := s.cmd.Start(); err != nil {
		return fail(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	addrs := []string{s.Addr()}
	if a := s.SubmissionAddr(); a != "" {
		addrs = append(addrs, a)
	}
	for {
		c, err := net.DialTimeout("tcp", addrs[0], 200*time.Millisecond)
		if err == nil {
			c.Close()
			if addrs = addrs[1:]; len(addrs) == 0 {
				return s, nil
			}
			continue
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "dovecot.log"))
			s.Stop()
			return nil, fmt.Errorf("dovecot did not start: %v\n%s", err, log)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Addr is the implicit-TLS address.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.IMAPS)) }

// Stop ends the master process we started (it reaps its children) and
// removes the directory.
func (s *Server) Stop() {
	if s.mem != nil {
		s.mem.stop()
	}
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { s.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = s.cmd.Process.Kill()
			<-done
		}
		s.cmd = nil
	}
	os.RemoveAll(s.Dir)
}

// NewUser returns a mailbox user no other caller of this server got.
func (s *Server) NewUser() string {
	n := s.users.Add(1)
	if n >= Users {
		panic("mailtest: out of mailbox users")
	}
	name := fmt.Sprintf("u%d@clinique.mssante.fr", n)
	if s.mem != nil {
		if _, err := s.mem.user(name); err != nil {
			panic("mailtest: " + err.Error())
		}
	}
	return name
}

// Deliver saves a message into a user's folder with doveadm save.
func (s *Server) Deliver(user, folder string, raw []byte) error {
	if s.mem != nil {
		return s.mem.deliver(user, folder, raw)
	}
	cmd := exec.Command("doveadm", "-c", s.Conf, "save", "-u", user, "-m", folder)
	cmd.Stdin = bytes.NewReader(raw)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("doveadm save: %v %s", err, out)
	}
	return nil
}

// DeliverMaildir drops messages into a user's INBOX as Maildir files (the
// fast path for thousands of messages: no process per message). Dovecot
// gives them UIDs in order at its next look at the folder.
func (s *Server) DeliverMaildir(who string, raws [][]byte) error {
	if s.mem != nil {
		for _, raw := range raws {
			if err := s.mem.deliver(who, "INBOX", raw); err != nil {
				return err
			}
		}
		return nil
	}
	md := filepath.Join(s.Dir, "home", who, "Maildir")
	for _, d := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(md, d), 0o700); err != nil {
			return err
		}
	}
	uid, gid := -1, -1
	if os.Geteuid() == 0 {
		u, err := user.Lookup(s.RunAs)
		if err != nil {
			return err
		}
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
		for _, p := range []string{filepath.Join(s.Dir, "home"), filepath.Join(s.Dir, "home", who), md,
			filepath.Join(md, "cur"), filepath.Join(md, "new"), filepath.Join(md, "tmp")} {
			if err := os.Chown(p, uid, gid); err != nil {
				return err
			}
		}
	}
	base := time.Now().Unix()
	for _, raw := range raws {
		name := fmt.Sprintf("%d.M%06dP%d.carnet,S=%d", base, s.drops.Add(1), os.Getpid(), len(raw))
		tmp := filepath.Join(md, "tmp", name)
		if err := os.WriteFile(tmp, raw, 0o600); err != nil {
			return err
		}
		if uid >= 0 {
			if err := os.Chown(tmp, uid, gid); err != nil {
				return err
			}
		}
		if err := os.Rename(tmp, filepath.Join(md, "new", name)); err != nil {
			return err
		}
	}
	return nil
}

// Doveadm runs a doveadm command against this server.
func (s *Server) Doveadm(args ...string) (string, error) {
	if s.mem != nil {
		return "", errMemory
	}
	out, err := exec.Command("doveadm", append([]string{"-c", s.Conf}, args...)...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("doveadm %v: %v %s", args, err, out)
	}
	return string(out), nil
}

// Flags returns the flags of every message of a user's folder, by UID,
// read with doveadm (outside any client under test).
func (s *Server) Flags(user, folder string) (map[uint32]string, error) {
	if s.mem != nil {
		return s.memFlags(user, folder)
	}
	out, err := s.Doveadm("fetch", "-u", user, "uid flags", "mailbox", folder)
	if err != nil {
		return nil, err
	}
	res := map[uint32]string{}
	var uid uint32
	for _, line := range strings.Split(out, "\n") {
		k, v, _ := strings.Cut(line, ":")
		switch strings.TrimSpace(k) {
		case "uid":
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32)
			if err != nil {
				return nil, errors.New("doveadm fetch: bad uid line")
			}
			uid = uint32(n)
			res[uid] = ""
		case "flags":
			res[uid] = strings.TrimSpace(v)
		}
	}
	return res, nil
}

// TestCA makes a CA and a server certificate for localhost and 127.0.0.1
// signed by it; it returns the server certificate and key and the CA in
// PEM, and a pool holding the CA.
func TestCA(name string) (certPEM, keyPEM, caPEM []byte, roots *x509.CertPool, err error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(48 * time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(48 * time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	roots = x509.NewCertPool()
	roots.AddCert(ca)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), roots, nil
}
